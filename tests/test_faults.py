"""Faults and determinism: kill -9 never leaves a half-written plan; runs repeat exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CASES = Path(__file__).parent.parent / "cases"
CONFORMANCE = Path(__file__).parent / "data" / "conformance"
COMPPLAN = [sys.executable, "-m", "compplan"]


def optimise(case: Path, out: Path) -> dict[str, object]:
    subprocess.run([*COMPPLAN, "optimise", str(case), "--out", str(out), "-q"], check=True,
                   capture_output=True)
    return json.loads((out / "plan.json").read_text())


@pytest.mark.parametrize("case", [CONFORMANCE / "c2_fairness", CASES / "cloud_transition"],
                         ids=["historical", "montecarlo"])
def test_the_same_case_gives_the_same_plan(case: Path, tmp_path: Path) -> None:
    one = optimise(case, tmp_path / "one")
    two = optimise(case, tmp_path / "two")
    assert one == two
    # Byte-identical by default (MODEL.md section 6): no timings, dates or paths.
    for name in ("plan.json", "plan.csv", "plan.md"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_kill_9_never_leaves_a_half_written_plan(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Kill at increasing delays: before, during and after the files are written.
    for delay in (0.8, 1.6, 2.4, 3.2):
        proc = subprocess.Popen([*COMPPLAN, "optimise", str(CASES / "enterprise_first"),
                                 "--out", str(out), "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for name in ("plan.json", "plan.csv", "plan.md", "rep_rates.csv"):
            path = out / name
            if path.exists() and name == "plan.json":
                # Present means complete: written to a temporary name, then renamed.
                assert json.loads(path.read_text())["schema"] == "compplan.plan/1"
    # A later run completes and leaves only finished files.
    optimise(CASES / "enterprise_first", out)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "plan.csv", "plan.json", "plan.md", "rep_rates.csv", "run.json"]


def test_outputs_are_readable_like_any_new_file(tmp_path: Path) -> None:
    from compplan.models.output import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644


def test_reproducible_is_still_accepted_and_the_default(tmp_path: Path) -> None:
    notes = []
    for name, extra in (("one", ["--reproducible"]), ("two", [])):
        done = subprocess.run([*COMPPLAN, "optimise", str(CONFORMANCE / "c3_risk"), "--out",
                               str(tmp_path / name), *extra, "-q"], check=True,
                              capture_output=True, text=True)
        notes.append(done.stderr)
    # Issue 19: the flag does nothing, and says so (deprecated), even with -q.
    assert notes == ["note: --reproducible is deprecated and does nothing: plan.json is "
                     "always byte-identical for the same case (wall times are in run.json); "
                     "drop the flag, it will be removed\n", ""]
    one = (tmp_path / "one" / "plan.json").read_bytes()
    assert one == (tmp_path / "two" / "plan.json").read_bytes()
    assert "seconds" not in json.loads(one)["solver"]
    run = json.loads((tmp_path / "one" / "run.json").read_text())
    assert run["solver_seconds"] >= 0 and run["seconds"] >= run["solver_seconds"]


def test_ctrl_c_stops_cleanly_without_debris(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([*COMPPLAN, "optimise", str(CASES / "cloud_transition"), "--out",
                             str(out), "-q"], stderr=subprocess.PIPE, text=True)
    # Wait until the run is past start-up (the staging folder is made after the case is
    # read), then interrupt it as a terminal's Ctrl-C would.
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.compplan-new-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if out.exists():  # the files landed: the interrupt came as the process was ending
        pytest.skip("the run finished (its files landed) before the interrupt arrived")
    assert proc.returncode == 130
    assert err.endswith("Error: interrupted: no plan was written\n")
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # nor a staging folder


def test_an_ignored_ctrl_c_stays_ignored_during_a_solve() -> None:
    # A background job of a shell script runs with SIGINT ignored; a Ctrl-C meant for the
    # script must not stop its solve. A held Ctrl-C is raised only where one would stop
    # the command anyway (Python's own handler installed).
    from compplan.optimizer.solve import interrupts_deferred

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        try:
            with interrupts_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
        except KeyboardInterrupt:
            pytest.fail("an ignored Ctrl-C stopped the solve")
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, previous)
