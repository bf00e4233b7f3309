"""Batch runs end to end: executors agree, kill -9 and Ctrl-C resume, the command line.

Uses the hand case of test_batch.py (alignment = B / TI - 1 and cost = B while the
expected-cost cap B binds, for 2 TI <= B <= 4 TI; no plan below 2 TI).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_exit, invoke
from test_batch import TI, hand_case, write_spec

from compplan.batch import executors as batch_module
from compplan.batch.spec import expand, read_batch_spec
from compplan.batch.store import run_batch
from compplan.models.case import load_case

MakeCase = Callable[..., Path]
COMPPLAN = [sys.executable, "-m", "compplan"]


def grid_spec(folder: Path, count: int) -> Path:
    """``count`` caps from 1.5 TI up: the first one has no plan, the rest bind or not."""
    caps = ", ".join(f"{1500.0 + 50.0 * i}" for i in range(count))
    return write_spec(folder, f'case = "../case0"\n[grid]\n"budget.expected_cap" = [{caps}]\n')


def result_files(out: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in sorted(out.glob("candidates/*/result.json"))}


def leftovers(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob(".*"))


# ------------------------------------------------------------------ executors

def test_same_results_in_the_same_order_whatever_the_executor(make_case: MakeCase,
                                                              tmp_path: Path) -> None:
    from distributed import LocalCluster

    case = load_case(hand_case(make_case))
    caps = [1000.0, 2000.0, 2600.0, 3300.0, 3900.0, 4700.0]
    spec = expand("test", case.path, {"budget.expected_cap": caps,
                                      "design.accelerator_max": [3.0, 2.0]}, [])
    serial = run_batch(spec, case, tmp_path / "serial", chart=False)
    pooled = run_batch(spec, case, tmp_path / "pool", workers=2, chart=False)
    # Two threads: candidates on one worker must not solve at the same time (Pyomo
    # captures the solver's output through the process's stdout).
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        dask = run_batch(spec, case, tmp_path / "dask", scheduler=cluster.scheduler_address,
                         chart=False)
    text = (tmp_path / "serial/results.csv").read_text()
    assert (tmp_path / "pool/results.csv").read_text() == text
    assert (tmp_path / "dask/results.csv").read_text() == text
    assert list(serial.table["id"]) == list(pooled.table["id"]) == list(dask.table["id"])
    # Caps in the outer loop, accelerator_max 3 then 2 (u <= 4: alignment at most 2).
    assert serial.table["alignment"].tolist()[2:8] == pytest.approx(
        [1.0, 1.0, 1.6, 1.6, 2.3, 2.0], rel=2e-7)
    assert serial.table["status"].tolist()[:3] == ["infeasible", "infeasible", "optimal"]


def test_unreachable_scheduler_is_a_clear_error(make_case: MakeCase, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "CONNECT_TIMEOUT", "0.5s")
    spec = grid_spec(tmp_path / "specs", 2)
    hand_case(make_case)
    result = invoke("batch", str(spec), "--out", str(tmp_path / "out"), "-q",
                    "--scheduler", "tcp://127.0.0.1:9")
    assert_exit(result, 2)
    assert result.stderr.startswith("Error: cannot reach the Dask scheduler at "
                                    "tcp://127.0.0.1:9: ")


# ------------------------------------------------------------------ kill -9, Ctrl-C, resume

def _start(spec: Path, out: Path, workers: int) -> subprocess.Popen[bytes]:
    # A session of its own, as a terminal's process group: signals reach every worker.
    return subprocess.Popen([*COMPPLAN, "batch", str(spec), "--out", str(out), "-q",
                             "--workers", str(workers)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_results(proc: subprocess.Popen[bytes], out: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(list(out.glob("candidates/*/result.json"))) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the batch did not start"
        time.sleep(0.005)


def _group_gone(pgid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_kill_9_then_resume_solves_each_candidate_exactly_once(make_case: MakeCase,
                                                               tmp_path: Path) -> None:
    hand_case(make_case)
    spec = grid_spec(tmp_path / "specs", 30)
    out = tmp_path / "out"
    proc = _start(spec, out, workers=2)
    try:
        _wait_for_results(proc, out, 4)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # The workers notice the batch process is gone and leave.
        assert _group_gone(proc.pid, within=5.0)
    finally:
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    before = result_files(out)
    assert 4 <= len(before) < 30
    for text in before.values():
        json.loads(text)  # every result.json is whole
    assert not (out / "results.csv").exists()

    result = invoke("batch", str(spec), "--out", str(out), "--resume", "-q", "--workers", "2")
    assert_exit(result, 0)
    after = result_files(out)
    assert sorted(after) == [f"c{i:04d}" for i in range(1, 31)]
    assert {k: after[k] for k in before} == before  # finished ones were not solved again
    assert leftovers(out) == []
    clean = tmp_path / "clean"
    run_batch(read_batch_spec(spec), load_case(tmp_path / "case0"), clean, chart=False)
    assert (out / "results.csv").read_text() == (clean / "results.csv").read_text()
    assert (out / "frontier.csv").read_text() == (clean / "frontier.csv").read_text()
    # And the figures are the hand-computed ones: caps from 1500 by 50.
    table = pd.read_csv(out / "results.csv")
    caps = 1500.0 + 50.0 * np.arange(30)
    feasible = caps >= 2 * TI
    assert list(table["status"]) == ["optimal" if f else "infeasible" for f in feasible]
    assert table["alignment"][feasible].to_numpy() == pytest.approx(
        np.minimum(caps[feasible] / TI - 1.0, 3.0), rel=2e-7)


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(make_case: MakeCase,
                                                     tmp_path: Path) -> None:
    hand_case(make_case)
    spec = grid_spec(tmp_path / "specs", 30)
    out = tmp_path / "out"
    proc = _start(spec, out, workers=2)
    try:
        _wait_for_results(proc, out, 3)
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C on a terminal: the whole group
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    done = len(result_files(out))
    assert 3 <= done < 30
    assert stderr == (f"Error: interrupted: {done} of 30 candidates finished and kept in "
                      f"{out}; continue with: compplan batch {spec} --out {out} --resume\n")
    assert _group_gone(proc.pid, within=5.0)
    assert leftovers(out) == []


def test_resume_refuses_another_spec_and_a_second_run_needs_resume(make_case: MakeCase,
                                                                   tmp_path: Path) -> None:
    hand_case(make_case)
    spec = grid_spec(tmp_path / "specs", 3)
    out = tmp_path / "out"
    assert_exit(invoke("batch", str(spec), "--out", str(out), "-q", "--workers", "1"), 0)
    again = invoke("batch", str(spec), "--out", str(out), "-q")
    assert_exit(again, 2)
    assert again.stderr == (f"Error: {out} already holds a batch (batch.json); continue it "
                            "with --resume, or give another --out\n")
    # Resuming a finished batch solves nothing and writes the results again.
    (out / "results.csv").unlink()
    assert_exit(invoke("batch", str(spec), "--out", str(out), "--resume", "-q"), 0)
    assert (out / "results.csv").is_file()
    other = grid_spec(tmp_path / "specs", 4)
    refused = invoke("batch", str(other), "--out", str(out), "--resume", "-q")
    assert_exit(refused, 2)
    assert refused.stderr.startswith(f"Error: {out / 'batch.json'} was written for another "
                                     "spec (its candidates differ: hash ")
    assert refused.stderr.endswith("); resume with the same spec, or give another --out\n")


# ------------------------------------------------------------------ the command line

def test_sweep_on_the_hand_case(make_case: MakeCase, tmp_path: Path) -> None:
    case_dir = hand_case(make_case)  # expected_cap 2.5 TI
    out = tmp_path / "sweep"
    result = invoke("sweep", str(case_dir), "--budget", "0.4:2:9", "--out", str(out),
                    "--workers", "1")
    assert_exit(result, 0)
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["spec"] == "sweep --budget 0.4:2:9"
    caps = [c["params"]["budget.expected_cap"] for c in manifest["candidates"]]
    assert caps == pytest.approx([1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 3500.0, 4000.0,
                                  4500.0, 5000.0])
    assert manifest["candidates"][0]["name"] == "0.4 x expected_cap"
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 10
    lines = result.stdout.splitlines()
    assert lines[0] == "Hand: alignment-cost frontier (USD)"
    assert "9 candidates: 2 infeasible, 7 optimal; 7 on the cost frontier (5 distinct plans), " \
        "7 on the CVaR frontier (5 distinct plans); +N: N more candidates with the same plan" \
        in result.stdout
    assert "│ c0007 +2 │    3.0000 │         4,000 │ 4,000 │ a 100.0% │ 1.6 x expected_cap │" \
        in result.stdout
    assert lines[-1] == (f"wrote {out}/: batch.json, candidates/, results.parquet, "
                         "results.csv, frontier.csv, frontier.png, frontier.svg, summary.md")
    summary = (out / "summary.md").read_text()
    assert "| c0006 | 1.4 x expected_cap | 2.5000 | 3,500 | 3,500 | a:1.0000/5.0000 | " \
        "[budget] expected_cap |  |" in summary
    assert "| c0007 | 1.6 x expected_cap | 3.0000 | 4,000 | 4,000 | a:1.0000/6.0000 | " \
        "[budget] expected_cap | c0008, c0009 |" in summary
    # Any two candidates' plans compare as plan files.
    compare = invoke("compare", str(case_dir), str(out / "candidates/c0003/plan.json"),
                     str(out / "candidates/c0007/plan.json"), "--out", str(tmp_path / "cmp"),
                     "-q")
    assert_exit(compare, 0)
    assert "expected alignment" in (tmp_path / "cmp/compare.md").read_text()


@pytest.mark.parametrize(("budget", "message"), [
    ("0.8:1.1", "'0.8:1.1' is not FROM:TO:COUNT (factors of the expected-cost cap and how "
                "many caps, e.g. 0.8:1.1:25)"),
    ("0.8:x:3", "'0.8:x:3' is not FROM:TO:COUNT (factors of the expected-cost cap and how "
                "many caps, e.g. 0.8:1.1:25)"),
    ("0:1.1:3", "'0:1.1:3': FROM and TO must be > 0 and COUNT at least 1"),
    ("0.8:1.1:0", "'0.8:1.1:0': FROM and TO must be > 0 and COUNT at least 1"),
])
def test_sweep_budget_errors(make_case: MakeCase, budget: str, message: str) -> None:
    result = invoke("sweep", str(hand_case(make_case)), "--budget", budget)
    assert_exit(result, 2)
    assert result.stderr.endswith(f"Error: Invalid value for '--budget': {message}\n")


def test_sweep_without_a_cap_sweeps_the_target_incentive(make_case: MakeCase,
                                                         tmp_path: Path) -> None:
    metric = {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}, "step": 0.5}
    case_dir = make_case({"goals": {"g": 1.0}, "metrics.a": metric},
                         [{"rep_id": "R0", "target_incentive": TI}], {"a": [[1.5]]})
    out = tmp_path / "sweep"
    assert_exit(invoke("sweep", str(case_dir), "--budget", "2:3:2", "--out", str(out), "-q",
                       "--workers", "1"), 0)
    assert result_files(out)
    manifest = json.loads((out / "batch.json").read_text())
    assert [c["name"] for c in manifest["candidates"]] == [
        "2 x target incentive", "3 x target incentive"]


def test_batch_spec_errors_on_the_command_line(make_case: MakeCase, tmp_path: Path) -> None:
    hand_case(make_case)
    bad = write_spec(tmp_path / "specs", 'case = "../case0"\n[grid]\n"goals.x" = [1.0]\n',
                     name="bad.toml")
    result = invoke("batch", str(bad), "--out", str(tmp_path / "out"))
    assert_exit(result, 2)
    assert result.stderr == ("Error: bad.toml, [grid], goals.x: not a goal of the case "
                             "(goals: g)\n")
    missing = write_spec(tmp_path / "specs", 'case = "../nowhere"\n[grid]\n"goals.g" = [1]\n',
                         name="missing.toml")
    result = invoke("batch", str(missing))
    assert_exit(result, 2)
    assert result.stderr == (f"Error: missing.toml, case: {tmp_path / 'specs/../nowhere'} is "
                             "not a case folder (the path is relative to the spec file)\n")
    assert_exit(invoke("batch", str(tmp_path / "none.toml")), 2)
