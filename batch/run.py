"""Batch runs: many candidates of one case, solved in parallel, written so that a run resumes.

The case is loaded once and its coefficients are computed once per distinct set of
the values they depend on (thresholds, caps, steps, ``group_by``, scenarios); a
candidate that only changes goal priorities or a metric's alignment or
responsiveness reuses them with two small arrays replaced. Every worker receives the
case, the candidates' specs and the coefficients once (a process pool's initializer,
or one broadcast to a Dask cluster), so a candidate costs a solve and nothing more.

Workers only solve; the parent writes every file, each atomically, and a
candidate's ``result.json`` last: its presence means the candidate is done, which
is what ``--resume`` relies on.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compplan import __version__
from compplan.batch.frontier import frontier_chart, non_dominated
from compplan.batch.spec import BatchSpec, candidate_specs
from compplan.errors import CompplanError, InfeasibleError, SolverLimitError, UsageError
from compplan.models import fmt
from compplan.models.case import CASE_FILE, CURRENT_PLAN_FILE, Case
from compplan.models.money import annual_note, money_per
from compplan.models.output import write_atomic, write_json, write_plan
from compplan.models.plan import Plan
from compplan.models.schema import CaseSpec
from compplan.optimizer.coefficients import Coefficients, compute_coefficients, goal_alignment
from compplan.optimizer.evaluate import Evaluation, evaluate_plan, expected_revenue
from compplan.optimizer.model import TailMethod
from compplan.optimizer.pipeline import optimise_case
from compplan.optimizer.verdicts import FEASIBLE, is_binding
from compplan.render.plan import plan_json
from compplan.render.safe import csv_text

SCHEMA = "compplan.batch/1"
RESULT_SCHEMA = "compplan.batch-result/1"
MANIFEST = "batch.json"
RESULT = "result.json"
CANDIDATES = "candidates"
#: Every file a batch writes; a temporary ``.<name>.*`` left by a kill is removed on resume.
OUTPUTS = (MANIFEST, RESULT, "plan.json", "plan.csv", "plan.md", "rep_rates.csv",
           "infeasibility.json", "results.csv", "results.parquet", "frontier.csv",
           "frontier.png", "frontier.svg", "summary.md")


@dataclass(frozen=True)
class BatchOptions:
    """How each candidate is solved.

    Attributes
    ----------
    time_limit : float or None
        Seconds of solver time per candidate.
    prices : bool
        Price the guardrails of each feasible candidate (an extra LP solve).
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    """

    time_limit: float | None = None
    prices: bool = True
    tail_method: TailMethod = "auto"


@dataclass(frozen=True)
class Shared:
    """What every worker holds, shipped once: the case, the candidates, the coefficients."""

    case: Case
    specs: tuple[CaseSpec, ...]
    keys: tuple[str, ...]
    coefficients: dict[str, Coefficients]
    revenue: dict[str, float | None]
    options: BatchOptions


@dataclass(frozen=True)
class Solved:
    """A worker's answer for one candidate: its record and, when feasible, its plan."""

    index: int
    record: dict[str, Any]
    plan: Plan | None = None
    document: dict[str, Any] | None = None
    infeasibility: dict[str, Any] | None = None


def coefficient_key(spec: CaseSpec) -> str:
    """The values a case's coefficients depend on, as text: equal keys share coefficients.

    Goal priorities, alignments and responsiveness are left out: they only change
    ``goal_alignment`` and ``responsiveness``, which :func:`with_priorities` replaces.
    """
    curves = [(m.threshold, m.cap, m.step) for m in spec.metrics.values()]
    return json.dumps({"curves": curves, "group_by": spec.fairness.group_by,
                       "scenarios": spec.scenarios.model_dump()}, sort_keys=True)


def with_priorities(coeffs: Coefficients, case: Case) -> Coefficients:
    """The coefficients with the case's goal alignment and responsiveness per metric."""
    return replace(coeffs, goal_alignment=goal_alignment(case),
                   responsiveness=np.array([case.metric(m).responsiveness
                                            for m in case.metric_ids]))


def solve_candidate(shared: Shared, index: int) -> Solved:
    """Solve one candidate (runs in a worker).

    Parameters
    ----------
    shared : Shared
        The case, the candidates' specs and the coefficients.
    index : int
        The candidate's position in the batch.

    Returns
    -------
    Solved
        Its record (``result.json`` without id, name and parameters) and its plan.
    """
    # One solve at a time per process, for Dask workers with several threads: Pyomo
    # captures the solver's output through the process's own stdout, so concurrent
    # solves in threads trip over each other (and hang).
    with _SOLVE_LOCK:
        return _solve_candidate(shared, index)


_SOLVE_LOCK = threading.Lock()


def _solve_candidate(shared: Shared, index: int) -> Solved:
    started = time.perf_counter()
    case = replace(shared.case, spec=shared.specs[index])
    key = shared.keys[index]
    coeffs = with_priorities(shared.coefficients[key], case)
    options = shared.options
    record: dict[str, Any] = {"status": "optimal", "alignment": None, "expected_cost": None,
                              "cvar": None, "max_parity_gap": None, "metrics": [],
                              "reason": None}
    solved = Solved(index, record)
    try:
        outcome = optimise_case(case, coefficients=coeffs, revenue=shared.revenue[key],
                                time_limit=options.time_limit, tail_method=options.tail_method,
                                prices=options.prices, diagnosis="short")
    except InfeasibleError as exc:
        record.update(status="infeasible", reason="; ".join(exc.report["explanation"]),
                      conflict=[c["setting"] for c in exc.report["conflict"]])
        solved = Solved(index, record, infeasibility=exc.report)
    except SolverLimitError as exc:
        record.update(status="no_solution", reason=str(exc))
    except CompplanError as exc:
        record.update(status="error", reason=str(exc))
    except Exception as exc:  # a bug must not stop the other candidates of a long run
        record.update(status="error", reason=f"internal error: {type(exc).__name__}: {exc}")
    else:
        record.update(_figures(outcome.evaluation, outcome.plan))
        record["status"] = outcome.status
        record["binding"] = _binding(outcome.evaluation)
        record["guardrail_prices"] = {p.setting: p.per_percent for p in outcome.prices}
        solved = Solved(index, record, outcome.plan, plan_json(case, outcome))
    record["seconds"] = round(time.perf_counter() - started, 4)
    return solved


def _figures(ev: Evaluation, plan: Plan) -> dict[str, Any]:
    """The figures a results row shows; CVaR at the case's level, else the default 0.9."""
    return {"alignment": ev.alignment, "expected_cost": ev.expected_cost,
            "cvar": ev.total_cvar, "cvar_level": ev.total_cvar_level,
            "max_parity_gap": ev.max_parity_gap,
            "metrics": [{"id": m.id, "label": m.label, "weight": m.weight,
                         "base_rate": m.base_rate, "accelerator_rate": m.accelerator_rate,
                         "accelerator_multiple": m.accelerator_multiple}
                        for m in plan.metrics]}


def _binding(ev: Evaluation) -> list[str]:
    return [g.setting for g in ev.guardrails if is_binding(g)]


# --- executors -------------------------------------------------------------------------

_WORKER: Shared | None = None


def _init_worker(shared: Shared, batch_pid: int) -> None:
    """A pool worker: keep the shared data, ignore Ctrl-C, and end with the batch."""
    global _WORKER
    _WORKER = shared
    # Ctrl-C reaches the whole process group: the batch process stops the run, and
    # workers must not print a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One BLAS thread: the pool's processes already use every core.
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1)
    # Results go back through the pool's own pipes: a worker holding the batch's
    # stdout or stderr (a pipe to `tee`, to a parent's `communicate`) would keep its
    # reader waiting after the batch has gone.
    _detach_std_streams()
    # Linux: die with the fork server, our parent, however it dies.
    _die_with_parent()
    # A batch process killed with -9 cannot stop its workers: they notice and leave.
    threading.Thread(target=_watch, args=(batch_pid, os.getppid()), daemon=True).start()


def _detach_std_streams() -> None:
    """Point standard input, output and error at /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _die_with_parent() -> None:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` where available (Linux); else the watch does it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG


def _gone(pid: int) -> bool:
    """The process has ended: no such process, or a zombie its parent has not reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # pid (comm) STATE ...: comm may hold spaces and parentheses.
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _watch(batch_pid: int, parent: int) -> None:
    while True:
        time.sleep(0.5)
        # A batch killed while its parent waits on a pipe stays a zombie until the
        # parent reads to the end: os.kill alone would take it for alive.
        if _gone(batch_pid):
            os._exit(1)
        if os.getppid() != parent:  # the fork server left with the batch process
            os._exit(1)


def _solve_in_worker(index: int) -> Solved:
    assert _WORKER is not None  # set by _init_worker
    return solve_candidate(_WORKER, index)


#: Seconds between looks at the Ctrl-C flag while waiting for workers.
_POLL = 0.1
#: How long to try reaching a Dask scheduler.
CONNECT_TIMEOUT = "10s"


def _serial(shared: Shared, indices: list[int],
            stop: threading.Event) -> Generator[Solved, None, None]:
    for i in indices:
        if stop.is_set():
            return
        yield solve_candidate(shared, i)


def _processes(shared: Shared, indices: list[int], workers: int,
               stop: threading.Event) -> Generator[Solved, None, None]:
    import multiprocessing

    # Not fork: HiGHS hangs in a child forked from a process that has solved before.
    # A fork server imports compplan once and forks clean workers from it.
    context: Any
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        _start_forkserver_detached()
    else:
        context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_init_worker, initargs=(shared, os.getpid()))
    pending: set[Future[Solved]] = set()
    try:
        pending = {pool.submit(_solve_in_worker, i) for i in indices}
        while pending and not stop.is_set():
            done, pending = wait(pending, timeout=_POLL, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: f.result().index):
                yield future.result()
    finally:
        for future in pending:
            future.cancel()
        if pending:
            # The executor has no public way to stop a running task: stop its workers.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _start_forkserver_detached() -> None:
    """Start the fork server (and resource tracker) without the batch's std streams.

    They would otherwise inherit standard output and error, and a reader of a pipe
    from the batch (``compplan batch ... | tee log``) would wait for them after the
    batch itself had been killed.
    """
    from multiprocessing import forkserver

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        forkserver.ensure_running()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _dask(shared: Shared, indices: list[int], scheduler: Any,
          stop: threading.Event) -> Generator[Solved, None, None]:
    from distributed import Client, as_completed

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    futures = []
    try:
        # One copy of the case and coefficients per worker, not one per task.
        data = client.scatter(shared, broadcast=True, hash=False)
        futures = [client.submit(solve_candidate, data, i, pure=False) for i in indices]
        ready = as_completed(futures, loop=client.loop)
        while not ready.is_empty() and not stop.is_set():
            batch = ready.next_batch(block=False)
            if not batch:
                time.sleep(_POLL / 5)
            for future in batch:
                yield future.result()
    finally:
        if futures:
            client.cancel(futures)
        client.close()


@contextmanager
def _deferred_interrupt(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C sets ``stop`` instead of raising wherever the main thread happens to be.

    A KeyboardInterrupt raised inside the executor's own locking leaves its locks
    held and the shutdown hangs; a flag is looked at between candidates instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- the batch on disk -----------------------------------------------------------------


@dataclass
class Batch:
    """A batch being run in its output folder.

    Attributes
    ----------
    spec : BatchSpec
        The candidates.
    case : Case
        The base case.
    specs : list of CaseSpec
        Each candidate's case.
    out : Path
        The output folder.
    pending : list of int
        Candidates not yet done (no ``result.json``), in order.
    """

    spec: BatchSpec
    case: Case
    specs: list[CaseSpec]
    out: Path
    pending: list[int]
    #: Candidates whose ``result.json`` could not be read on resume, with the reason:
    #: solved again.
    recomputed: list[tuple[int, str]] = field(default_factory=list)
    _coefficients: dict[str, Coefficients] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Number of candidates."""
        return len(self.spec.candidates)

    def folder(self, index: int) -> Path:
        """A candidate's folder: ``candidates/<id>``."""
        return self.out / CANDIDATES / self.spec.candidates[index].id

    def coefficients(self, key: str, spec: CaseSpec) -> Coefficients:
        """The coefficients for ``key``, computed once."""
        if key not in self._coefficients:
            self._coefficients[key] = compute_coefficients(replace(self.case, spec=spec))
        return self._coefficients[key]

    def shared(self, options: BatchOptions) -> Shared:
        """What the workers need for the pending candidates."""
        keys = tuple(coefficient_key(s) for s in self.specs)
        coefficients, revenue = {}, {}
        for i in self.pending:
            key = keys[i]
            if key not in coefficients:
                case = replace(self.case, spec=self.specs[i])
                coefficients[key] = self.coefficients(key, self.specs[i])
                revenue[key] = expected_revenue(case)
        return Shared(self.case, tuple(self.specs), keys, coefficients, revenue, options)

    def solve(self, *, workers: int = 1, scheduler: Any = None,
              options: BatchOptions | None = None,
              on_result: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Solve the pending candidates, writing each one's files as it finishes.

        Parameters
        ----------
        workers : int
            Local processes; 1 solves in this process.
        scheduler : str or distributed.LocalCluster, optional
            A Dask scheduler's address (or a cluster object): solve there instead.
        options : BatchOptions, optional
            How each candidate is solved.
        on_result : callable, optional
            Called with each candidate's record once its files are written.

        Raises
        ------
        KeyboardInterrupt
            After Ctrl-C: the running candidates are abandoned, the finished ones kept.
        """
        if not self.pending:
            return
        shared = self.shared(options or BatchOptions())
        indices = list(self.pending)
        stop = threading.Event()
        with _deferred_interrupt(stop):
            if scheduler is not None:
                stream = _dask(shared, indices, scheduler, stop)
            elif workers > 1 and len(indices) > 1:
                stream = _processes(shared, indices, min(workers, len(indices)), stop)
            else:
                stream = _serial(shared, indices, stop)
            try:
                for solved in stream:
                    record = self._write(solved)
                    self.pending.remove(solved.index)
                    if on_result is not None:
                        on_result(record)
                    if stop.is_set():
                        break
            finally:
                stream.close()
        if stop.is_set():
            # Raised here, with the workers stopped and every finished candidate written.
            raise KeyboardInterrupt

    def _write(self, solved: Solved) -> dict[str, Any]:
        """A candidate's files, ``result.json`` last."""
        candidate = self.spec.candidates[solved.index]
        folder = self.folder(solved.index)
        case = replace(self.case, spec=self.specs[solved.index])
        if solved.plan is not None and solved.document is not None:
            # No rep_rates.csv per candidate: one row per rep and metric, it would be
            # most of the batch's size on disk and time writing.
            write_plan(folder, replace(case, quotas=None), solved.plan, solved.document)
        if solved.infeasibility is not None:
            write_json(folder / "infeasibility.json",
                       {"case": case.name, "candidate": candidate.id, **solved.infeasibility})
        record = {"schema": RESULT_SCHEMA, **candidate.to_dict(), **solved.record}
        write_json(folder / RESULT, record)
        return record

    def records(self) -> list[dict[str, Any]]:
        """Every finished candidate's ``result.json``, in candidate order."""
        found = []
        for i in range(self.total):
            path = self.folder(i) / RESULT
            if path.is_file():
                found.append(json.loads(path.read_text(encoding="utf-8")))
        return found

    def finish(self, *, chart: bool = True) -> BatchReport:
        """Write the results table, the frontier, its chart and the summary.

        Parameters
        ----------
        chart : bool
            Draw ``frontier.png`` and ``frontier.svg`` (about half a second).

        Returns
        -------
        BatchReport
            The table and the paths written.
        """
        records = self.records()
        table = results_table(self, records)
        current = current_plan_point(self)
        written = write_results(self, table, current, chart=chart)
        return BatchReport(table, current, written)


@dataclass(frozen=True)
class BatchReport:
    """A finished batch: one row per candidate, the current plan's point, the files."""

    table: pd.DataFrame
    current: dict[str, Any] | None
    written: list[Path]

    def frontier(self, kind: str = "cost") -> pd.DataFrame:
        """The distinct points of a frontier (:func:`frontier_points`)."""
        return frontier_points(self.table, kind)


def frontier_points(table: pd.DataFrame, kind: str = "cost") -> pd.DataFrame:
    """The distinct points of a frontier, cheapest first.

    Candidates with the same plan (same metrics, weights and rates, and the same
    figures) are one point, shown by the first of them; ``same_plan`` lists the others
    (a budget cap that no longer binds gives the same plan as every higher one).

    Parameters
    ----------
    table : pandas.DataFrame
        The results table (:func:`results_table`).
    kind : {"cost", "cvar"}
        Alignment against expected cost, or against CVaR.

    Returns
    -------
    pandas.DataFrame
        The frontier's rows with a ``same_plan`` column (a list of ids).
    """
    column = "expected_cost" if kind == "cost" else "cvar"
    rows = table[table[f"frontier_{kind}"]].sort_values([column, "alignment", "id"],
                                                        kind="stable") if len(table) else table
    records = rows.to_dict("records")
    kept: list[int] = []
    same: list[list[str]] = []
    for pos, record in enumerate(records):
        first = next((i for i, k in enumerate(kept) if _same_plan(records[k], record)), None)
        if first is None:
            kept.append(pos)
            same.append([])
        else:
            same[first].append(str(record["id"]))
    points = rows.iloc[kept].copy()
    points["same_plan"] = pd.Series(same, index=points.index, dtype=object)
    return points


def _same_plan(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    if a["metrics"] != b["metrics"]:
        return False
    return all(abs(float(a[k]) - float(b[k])) <= 1e-7 * max(1.0, abs(float(a[k])))
               for k in ("alignment", "expected_cost", "cvar"))


def same_plan_text(ids: list[str]) -> str:
    """``c0011`` / ``c0011, c0014`` / ``c0011, c0014 … c0025 (15)``: the other candidates."""
    if len(ids) <= 3:
        return ", ".join(ids)
    return f"{ids[0]}, {ids[1]} … {ids[-1]} ({len(ids)})"


def case_fingerprint(case: Case) -> str:
    """A hash of the case's files: resuming over a changed case is refused."""
    digest = hashlib.sha256()
    folder = case.path
    names = [CASE_FILE, CURRENT_PLAN_FILE] + [f"{stem}.{ext}" for stem in
                                              ("reps", "attainment", "quotas")
                                              for ext in ("csv", "parquet")]
    for name in names:
        path = folder / name
        if not path.is_file():
            continue
        digest.update(name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def manifest(spec: BatchSpec, case: Case) -> dict[str, Any]:
    """The ``batch.json`` document: the case, the spec's hash, the candidates."""
    return {"schema": SCHEMA, "case": str(case.path.resolve()), "case_name": case.name,
            "case_hash": case_fingerprint(case), "spec": spec.source,
            "spec_hash": spec.digest(), "compplan": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "parameters": list(spec.keys),
            "candidates": [c.to_dict() for c in spec.candidates]}


def open_batch(spec: BatchSpec, case: Case, out: Path, *, resume: bool = False) -> Batch:
    """Check every candidate's case, then start a batch in ``out`` or resume the one there.

    Parameters
    ----------
    spec : BatchSpec
        The expanded spec.
    case : Case
        The loaded base case.
    out : Path
        The output folder.
    resume : bool
        Continue the batch in ``out``: its candidates with a ``result.json`` are kept.

    Returns
    -------
    Batch
        With the candidates still to solve.

    Raises
    ------
    CaseError
        A candidate makes an invalid case.
    UsageError
        ``out`` holds a batch and ``resume`` is off, or it holds another spec's batch.
    """
    specs = candidate_specs(spec, case)
    doc = manifest(spec, case)
    existing = out / MANIFEST
    if existing.is_file():
        if not resume:
            raise UsageError(f"{out} already holds a batch ({MANIFEST}); continue it with "
                             "--resume, or give another --out")
        _check_same(existing, doc)
        _remove_temporaries(out)
    else:
        write_json(existing, doc)
    batch = Batch(spec, case, specs, out, [])
    for i in range(batch.total):
        problem = _unreadable(batch.folder(i) / RESULT)
        if problem is not None:
            batch.pending.append(i)
            if problem:  # a damaged record: solved again, and said so
                (batch.folder(i) / RESULT).unlink()
                batch.recomputed.append((i, problem))
    return batch


def _unreadable(path: Path) -> str | None:
    """None for a sound ``result.json``; "" when absent; else what is wrong with it."""
    if not path.exists():
        return ""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    if not isinstance(record, dict) or record.get("schema") != RESULT_SCHEMA:
        return "not a candidate result"
    return None


def _check_same(path: Path, doc: dict[str, Any]) -> None:
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} cannot be read ({exc}); give another --out") from None
    if before.get("schema") != SCHEMA:
        raise UsageError(f"{path} is not a compplan batch manifest; give another --out")
    if before.get("spec_hash") != doc["spec_hash"]:
        raise UsageError(f"{path} was written for another spec (its candidates differ: "
                         f"hash {str(before.get('spec_hash'))[:12]}, this spec "
                         f"{doc['spec_hash'][:12]}); resume with the same spec, or give "
                         "another --out")
    if before.get("case_hash") != doc["case_hash"]:
        raise UsageError(f"the case {doc['case']} has changed since the batch in "
                         f"{path.parent} started; its results would not be comparable, so "
                         "give another --out")


def _remove_temporaries(out: Path) -> None:
    """Files a killed run was writing (``.<name>.XXXX``): never complete, never read."""
    folders = [out, *(p for p in (out / CANDIDATES).glob("*") if p.is_dir())]
    for folder in folders:
        for name in OUTPUTS:
            for stale in folder.glob(f".{name}.*"):
                stale.unlink(missing_ok=True)


# --- results ---------------------------------------------------------------------------


def _dotted(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return json.dumps(node, sort_keys=True) if isinstance(node, dict | list) else node


def results_table(batch: Batch, records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per finished candidate, in candidate order.

    ``param.<key>`` holds the key's value in the candidate's case (the base case's
    where the candidate does not set it); ``weight.<metric>`` and ``rate.<metric>``
    the weight and accelerator rate of every candidate metric (0 when not in the plan,
    empty without a plan); ``metrics`` the plan as ``id:weight/rate; ...``.
    """
    ids = batch.case.metric_ids
    index = {c.id: i for i, c in enumerate(batch.spec.candidates)}
    rows = []
    for record in records:
        dumped = batch.specs[index[record["id"]]].model_dump()
        row: dict[str, Any] = {"id": record["id"], "name": record["name"]}
        row.update({f"param.{k}": _dotted(dumped, k) for k in batch.spec.keys})
        row["status"] = record["status"]
        for key in ("alignment", "expected_cost", "cvar", "max_parity_gap"):
            value = record.get(key)
            row[key] = np.nan if value is None else float(value)
        metrics = {m["id"]: m for m in record.get("metrics") or []}
        feasible = record["status"] in FEASIBLE
        row["metrics"] = "; ".join(f"{k}:{m['weight']:.4f}/{m['accelerator_rate']:.4f}"
                                   for k, m in metrics.items()) if feasible else ""
        for k in ids:
            row[f"weight.{k}"] = metrics[k]["weight"] if k in metrics else \
                (0.0 if feasible else np.nan)
        for k in ids:
            row[f"rate.{k}"] = metrics[k]["accelerator_rate"] if k in metrics else \
                (0.0 if feasible else np.nan)
        row["binding"] = "; ".join(record.get("binding") or [])
        row["reason"] = record.get("reason") or ""
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["frontier_cost"] = non_dominated(table["alignment"].to_numpy(),
                                           table["expected_cost"].to_numpy())
    table["frontier_cvar"] = non_dominated(table["alignment"].to_numpy(),
                                           table["cvar"].to_numpy())
    return table


def current_plan_point(batch: Batch) -> dict[str, Any] | None:
    """The case's current plan evaluated under the base case (None without one)."""
    case = batch.case
    if case.current_plan is None:
        return None
    coeffs = batch.coefficients(coefficient_key(case.spec), case.spec)
    plan = Plan.from_spec(case, case.current_plan)
    ev = evaluate_plan(case, with_priorities(coeffs, case), plan)
    return {"alignment": ev.alignment, "expected_cost": ev.expected_cost, "cvar": ev.total_cvar,
            # Today's plan often sits above the frontier because it breaks guardrails.
            "broken": [g.setting for g in ev.violated]}


def write_results(batch: Batch, table: pd.DataFrame, current: dict[str, Any] | None, *,
                  chart: bool = True) -> list[Path]:
    """``results.parquet``, ``results.csv``, ``frontier.csv``, the chart and ``summary.md``."""
    out = batch.out
    written = [out / "results.parquet", out / "results.csv", out / "frontier.csv"]
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_atomic(written[0], buffer.getvalue())
    write_atomic(written[1], csv_text(table))
    write_atomic(written[2], csv_text(frontier_rows(table)))
    if chart and not table.empty and table["alignment"].notna().any():
        png, svg = frontier_chart(table, title=_chart_title(batch, table),
                                  currency=batch.case.spec.case.currency, current=current,
                                  per=money_per(batch.case))
        written += [out / "frontier.png", out / "frontier.svg"]
        write_atomic(written[-2], png)
        write_atomic(written[-1], svg)
    else:  # an earlier run's chart would no longer match the results beside it
        for stale in ("frontier.png", "frontier.svg"):
            (out / stale).unlink(missing_ok=True)
    written.append(out / "summary.md")
    write_atomic(written[-1], summary_markdown(batch, table, current))
    return written


def frontier_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Candidates on either frontier, cheapest first, with the columns worth reading."""
    if table.empty:
        return table
    columns = ["id", "name", "alignment", "expected_cost", "cvar", "max_parity_gap",
               "metrics", "binding", "frontier_cost", "frontier_cvar"]
    on = table[table["frontier_cost"] | table["frontier_cvar"]]
    return on.sort_values(["expected_cost", "alignment"], kind="stable")[columns]


def _counts(table: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in table["status"].value_counts().items()} \
        if not table.empty else {}


def _chart_title(batch: Batch, table: pd.DataFrame) -> str:
    counts = _counts(table)
    feasible = sum(counts.get(s, 0) for s in FEASIBLE)
    return (f"{batch.case.name}: {len(table)} candidates, {feasible} with a plan, "
            f"{int(table['frontier_cost'].sum())} on the cost frontier")


def summary_markdown(batch: Batch, table: pd.DataFrame,
                     current: dict[str, Any] | None) -> str:
    """The batch in words: counts, both frontiers, the candidates without a plan."""
    cur = batch.case.spec.case.currency
    counts = _counts(table)
    lines = [f"# Batch: {batch.case.name}", "",
             f"Spec `{batch.spec.source}`, case `{os.path.normpath(batch.case.path)}`: "
             f"{batch.total} candidates over {', '.join(f'`{k}`' for k in batch.spec.keys)}. "
             + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + ".", ""]
    if len(table) < batch.total:
        lines += [f"**Unfinished**: {batch.total - len(table)} candidates have no result yet "
                  "(run again with `--resume`).", ""]
    if current is not None:
        lines += [f"The current plan (`current_plan.toml`) under the base case: alignment "
                  f"{current['alignment']:.4f}, expected cost {current['expected_cost']:,.0f} "
                  f"{cur}{annual_note(batch.case)}, CVaR {current['cvar']:,.0f} {cur}"
                  + (f"; it {fmt.breaks(current['broken'])}" if current.get("broken") else "")
                  + ".", ""]
    for kind, title in (("cost", "expected total payout"), ("cvar", "CVaR of the total payout")):
        lines += [f"## Frontier: alignment against {title}", "",
                  "| id | name | alignment | expected cost | CVaR | metrics | binding | "
                  "same plan |", "|---|---|---:|---:|---:|---|---|---|"]
        for _, row in frontier_points(table, kind).iterrows():
            lines.append(f"| {row['id']} | {_cell(row['name'])} | {row['alignment']:.4f} | "
                         f"{row['expected_cost']:,.0f} | {row['cvar']:,.0f} | "
                         f"{_cell(row['metrics'])} | {_cell(row['binding'])} | "
                         f"{same_plan_text(row['same_plan'])} |")
        lines.append("")
    failed = table[~table["status"].isin(list(FEASIBLE))] if not table.empty else table
    if len(failed):
        lines += ["## Candidates without a plan", "", "| id | name | status | reason |",
                  "|---|---|---|---|"]
        lines += [f"| {r['id']} | {_cell(r['name'])} | {r['status']} | {_cell(r['reason'])} |"
                  for _, r in failed.iterrows()]
        lines.append("")
    lines += ["## Files", "",
              "- `results.csv`, `results.parquet`: one row per candidate; `frontier.csv`: "
              "the frontier; `frontier.png`, `frontier.svg`: the chart.",
              "- `candidates/<id>/result.json` (and `plan.json` with a plan, "
              "`infeasibility.json` without).",
              "- Two candidates side by side: `compplan compare CASE "
              "candidates/<id>/plan.json candidates/<id>/plan.json`.", ""]
    return "\n".join(lines)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|")


def run_batch(spec: BatchSpec, case: Case, out: Path, *, workers: int = 1,
              scheduler: Any = None, resume: bool = False,
              options: BatchOptions | None = None,
              on_result: Callable[[dict[str, Any]], None] | None = None,
              chart: bool = True) -> BatchReport:
    """Run a whole batch: check, solve every candidate not yet done, write the results.

    Parameters
    ----------
    spec : BatchSpec
        The expanded spec (:func:`compplan.batch.spec.read_batch_spec`).
    case : Case
        The loaded base case.
    out : Path
        The output folder.
    workers : int
        Local processes (1: in this process).
    scheduler : str or distributed.LocalCluster, optional
        Solve on a Dask cluster instead.
    resume : bool
        Continue the batch already in ``out``.
    options : BatchOptions, optional
        How each candidate is solved.
    on_result : callable, optional
        Called with each candidate's record as it finishes.
    chart : bool
        Draw the frontier chart.

    Returns
    -------
    BatchReport
        The results table (one row per candidate) and the files written.
    """
    batch = open_batch(spec, case, out, resume=resume)
    batch.solve(workers=workers, scheduler=scheduler, options=options, on_result=on_result)
    return batch.finish(chart=chart)


def default_workers() -> int:
    """Local processes by default: one per core."""
    return max(1, os.cpu_count() or 1)
