"""Monte Carlo on a Dask cluster: the same figures as in one process, a worker killed mid-run.

The cluster is real: a ``dask scheduler`` and two ``dask worker`` processes (no nanny,
so a killed worker stays dead) started by the test from this interpreter.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import assert_error, assert_exit, invoke

import compplan
from compplan.batch.cluster import DaskRunner, cluster_coefficients
from compplan.errors import CompplanError, UsageError
from compplan.optimizer import coefficients as coefficients_module
from compplan.optimizer.coefficients import compute_coefficients

CASES = Path(__file__).parent.parent / "cases"
FIGURES = ("scen_w", "scen_u", "rep_w", "rep_u", "group_w", "group_u", "align_w", "align_u",
           "step")


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen[bytes]]


def _start_cluster(folder: Path) -> tuple[subprocess.Popen[bytes], list[subprocess.Popen[bytes]],
                                          str]:
    file = folder / "scheduler.json"
    log = (folder / "dask.log").open("wb")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
        stdout=log, stderr=log, cwd=folder)
    deadline = time.monotonic() + 60
    while not file.exists() or not file.read_text().strip():
        assert time.monotonic() < deadline, (folder / "dask.log").read_text()
        time.sleep(0.1)
    address = json.loads(file.read_text())["address"]
    workers = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--no-nanny",
         "--nthreads", "1", "--no-dashboard", "--name", f"w{i}", "--local-directory",
         str(folder / f"w{i}")], stdout=log, stderr=log, cwd=folder) for i in range(2)]
    return scheduler, workers, address


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout="20s", set_as_default=False) as client:
        client.wait_for_workers(count, timeout=60)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A scheduler and two single-threaded workers, stopped (killed) after the test."""
    scheduler, workers, address = _start_cluster(tmp_path)
    try:
        _wait_for_workers(address, 2)
        yield Cluster(address, workers)
    finally:
        for process in (*workers, scheduler):
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def _monte_carlo_case(folder: Path, count: int) -> Path:
    """cloud_transition (1,500 reps, 6 metrics) with ``count`` scenarios."""
    case = folder / "cloud"
    shutil.copytree(CASES / "cloud_transition", case)
    toml = case / "case.toml"
    text = toml.read_text()
    assert "count = 200" in text
    toml.write_text(text.replace("count = 200", f"count = {count}"))
    return case


@pytest.fixture
def small_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task per block of 64 reps: 24 tasks a pass, so a lost worker leaves work behind.

    The bounds of chunks and tasks are set by the caller's process and sent with
    each task: workers need not know these figures.
    """
    monkeypatch.setattr(coefficients_module, "CHUNK_ELEMENTS", 1 << 10)
    monkeypatch.setattr(coefficients_module, "TASK_ELEMENTS", 1 << 10)


def _same(local: Any, far: Any) -> None:
    for name in FIGURES:
        assert np.array_equal(getattr(local, name), getattr(far, name)), name


def test_a_worker_killed_mid_run_costs_only_time(cluster: Cluster, tmp_path: Path,
                                                 small_tasks: None) -> None:
    case = compplan.load_case(_monte_carlo_case(tmp_path, 3_000))
    local = compute_coefficients(case)
    seen: list[tuple[str, int, int]] = []

    def progress(phase: str, done: int, total: int) -> None:
        seen.append((phase, done, total))
        if len(seen) == 1:  # the first task back: the other worker still holds several
            victim = cluster.workers[0]
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)

    far = cluster_coefficients(case, cluster.address, progress)
    assert cluster.workers[0].poll() == -signal.SIGKILL
    assert [p for p in seen if p[0] == "coefficients"][-1] == ("coefficients", 24, 24)
    assert seen[0] == ("scenario spread", 1, 24)
    _same(local, far)


def test_one_process_a_local_cluster_and_a_real_one_agree(cluster: Cluster, tmp_path: Path,
                                                         small_tasks: None) -> None:
    from distributed import LocalCluster

    case = compplan.load_case(_monte_carlo_case(tmp_path, 300))
    local = compute_coefficients(case)
    _same(local, cluster_coefficients(case, cluster.address))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as inproc:
        _same(local, cluster_coefficients(case, inproc))


def test_optimise_and_min_budget_on_the_cluster_write_the_same_files(
        cluster: Cluster, tmp_path: Path) -> None:
    case = _monte_carlo_case(tmp_path, 300)
    here, there = tmp_path / "here", tmp_path / "there"
    assert_exit(invoke("optimise", str(case), "--out", str(here), "-q"), 0)
    assert_exit(invoke("optimise", str(case), "--out", str(there), "-q",
                       "--scheduler", cluster.address), 0)
    for name in ("plan.json", "plan.csv", "plan.md", "rep_rates.csv"):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    alone = invoke("min-budget", str(case), "-q")
    far = invoke("min-budget", str(case), "-q", "--scheduler", cluster.address)
    assert_exit(far, 0)
    assert far.stdout == alone.stdout
    assert far.stdout.startswith("minimum expected-cost cap: ")


def test_a_historical_case_is_refused_on_a_cluster(cluster: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "unused"
    result = invoke("optimise", str(CASES / "enterprise_first"), "--out", str(out), "-q",
                    "--scheduler", cluster.address)
    assert_error(result, 2, "--scheduler draws Monte Carlo scenarios on a Dask cluster; the "
                            "case 'Enterprise-first FY27' has [scenarios] mode = 'historical' (its "
                            "history is the data itself): run without --scheduler")
    assert not out.exists()


def test_an_organisation_is_refused_before_any_connection() -> None:
    result = invoke("optimise", str(CASES / "gtm_org"), "--scheduler", "tcp://127.0.0.1:9")
    assert_error(result, 2, "--scheduler applies to a case folder, not to an organisation "
                            "(an organisation's roles are drawn in this process; run a Monte "
                            "Carlo role's case with --scheduler on its own)")
    result = invoke("min-budget", str(CASES / "gtm_org"), "--scheduler", "tcp://127.0.0.1:9")
    assert_exit(result, 2)
    assert "--scheduler applies to a case folder, not to an organisation" in result.stderr


def test_an_unreachable_scheduler_fails_before_the_case_is_read(tmp_path: Path) -> None:
    result = invoke("optimise", str(tmp_path / "no-such-case"), "--scheduler",
                    "tcp://127.0.0.1:9")
    assert_exit(result, 2)
    assert result.stderr.startswith("Error: cannot reach the Dask scheduler at "
                                    "tcp://127.0.0.1:9: "), result.stderr
    result = invoke("min-budget", "--scheduler", "https://dask.example.com")
    assert_exit(result, 2)
    assert "this is a web address (the Dask dashboard?)" in result.stderr


def test_a_case_with_response_is_designed_in_this_process() -> None:
    with pytest.raises(UsageError, match=r"has \[response\]: its plan is designed over the "
                                         r"draws held in this process"):
        compplan.optimise(CASES / "subscription_response", scheduler="tcp://127.0.0.1:9")


def test_a_scheduler_of_the_wrong_type_is_named() -> None:
    case = compplan.load_case(CASES / "cloud_transition")
    with pytest.raises(UsageError, match=r"^scheduler must be a Dask scheduler's address "
                                         r"\(tcp://HOST:PORT\), a cluster or a client, got "
                                         r"int 8786$"):
        compplan.optimise(case, scheduler=8786)


class _Failed:
    """A future whose task raised ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def result(self, timeout: float | None = None) -> Any:
        raise self.error

    def done(self) -> bool:
        return True


class _Client:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def submit(self, *args: Any, **kwargs: Any) -> _Failed:
        return _Failed(self.error)

    def nthreads(self) -> dict[str, int]:
        return {"tcp://w:2": 1}


def _part() -> Any:
    from compplan.models.scenarios import build_scenarios

    return build_scenarios(compplan.load_case(CASES / "cloud_transition")).part(64, 192)


def test_a_failing_worker_is_a_message_naming_the_reps() -> None:
    import threading

    runner = DaskRunner(_Client(MemoryError("cannot allocate 1.2 GiB")), "tcp://h:1",
                        threading.Event())
    with pytest.raises(CompplanError) as caught:
        list(runner.map(len, [(_part(),)], "coefficients"))
    assert str(caught.value) == ("a worker of the Dask cluster at tcp://h:1 failed on the "
                                 "coefficients of reps 65 to 192: MemoryError: cannot "
                                 "allocate 1.2 GiB")


def test_workers_dying_on_a_task_is_a_message() -> None:
    import threading

    from distributed.scheduler import KilledWorker

    runner = DaskRunner(_Client(KilledWorker("coefficient_task-1", "tcp://w:2", 3)),
                        "tcp://h:1", threading.Event())
    with pytest.raises(CompplanError) as caught:
        list(runner.map(len, [(_part(),)], "scenario spread"))
    assert str(caught.value).startswith("the Dask cluster at tcp://h:1 lost every worker "
                                        "that took the scenario spread of reps 65 to 192 "
                                        "(out of memory? a task draws ")
    assert str(caught.value).endswith(" MiB at a time); give workers more memory")


def test_the_part_a_worker_gets_draws_what_the_whole_draws() -> None:
    from compplan.models.scenarios import build_scenarios

    scen = build_scenarios(compplan.load_case(CASES / "cloud_transition"))
    part = scen.part(128, scen.n_reps)
    assert np.array_equal(part.block(128, 320), scen.block(128, 320))
    assert np.array_equal(part.block(1472, 1500), scen.block(1472, 1500))
    with pytest.raises(ValueError, match="not whole blocks of 64"):
        scen.part(100, 200)
    with pytest.raises(ValueError, match="nothing to draw"):
        build_scenarios(compplan.load_case(CASES / "enterprise_first")).part(0, 64)


def test_a_sweep_on_the_cluster_draws_there_and_gives_the_same_results(
        cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compplan.batch import cluster as cluster_module

    case = _monte_carlo_case(tmp_path, 300)
    drawn: list[object] = []
    real = cluster_module.cluster_coefficients

    def counted(*args: Any, **kwargs: Any) -> Any:
        drawn.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(cluster_module, "cluster_coefficients", counted)
    here, there = tmp_path / "here", tmp_path / "there"
    assert_exit(invoke("sweep", str(case), "--budget", "0.9:1.0:3", "--out", str(here), "-q",
                       "--workers", "1"), 0)
    assert drawn == []
    assert_exit(invoke("sweep", str(case), "--budget", "0.9:1.0:3", "--out", str(there), "-q",
                       "--scheduler", cluster.address), 0)
    assert len(drawn) == 1  # the coefficients, once, on the cluster the sweep uses
    assert (here / "results.csv").read_bytes() == (there / "results.csv").read_bytes()


def _busy(address: str, within: float) -> bool:
    """The cluster's workers are computing a task, looked at for ``within`` seconds."""
    from distributed import Client

    deadline = time.monotonic() + within
    with Client(address, timeout="20s", set_as_default=False) as client:
        while time.monotonic() < deadline:
            if any(client.processing().values()):
                return True
            time.sleep(0.05)
    return False


def test_ctrl_c_on_a_cluster_run_writes_nothing_and_frees_the_cluster(
        cluster: Cluster, tmp_path: Path) -> None:
    case = _monte_carlo_case(tmp_path, 20_000)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "compplan", "optimise", str(case), "--out",
                             str(out), "-q", "--scheduler", cluster.address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _busy(cluster.address, within=60)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.decode() == "Error: interrupted: no plan was written\n"
    assert not out.exists()
    # The run's tasks were cancelled: the workers fall idle at once.
    from distributed import Client

    with Client(cluster.address, timeout="20s", set_as_default=False) as client:
        deadline = time.monotonic() + 20
        while any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(client.processing().values())


def test_a_worker_without_compplan_is_told_to_install_it() -> None:
    import threading

    runner = DaskRunner(_Client(ModuleNotFoundError("No module named 'compplan'")),
                        "tcp://h:1", threading.Event())
    with pytest.raises(CompplanError) as caught:
        list(runner.map(len, [(_part(),)], "scenario spread"))
    assert str(caught.value) == ("a worker of the Dask cluster at tcp://h:1 failed on the "
                                 "scenario spread of reps 65 to 192: ModuleNotFoundError: No "
                                 "module named 'compplan'; install compplan, the same version, "
                                 "on every worker")
