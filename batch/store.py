"""A batch in its output folder, so that a run resumes: the manifest and each candidate's files.

Workers only solve; the parent writes every file, each atomically, and a
candidate's ``result.json`` last: its presence means the candidate is done, which
is what ``--resume`` relies on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compplan import __version__
from compplan.batch.executors import (
    CLOSE_SECONDS,
    connect_dask,
    deferred_interrupt,
    run_dask,
    run_processes,
    run_serial,
    within,
)
from compplan.batch.results import BatchReport, current_plan_point, results_table, write_results
from compplan.batch.run import BatchOptions, Shared, Solved, coefficient_key, solve_order
from compplan.batch.spec import BatchSpec, candidate_specs
from compplan.errors import UsageError
from compplan.models.case import CASE_FILE, CURRENT_PLAN_FILE, Case
from compplan.models.output import write_json, write_plan
from compplan.models.schema import CaseSpec
from compplan.models.text import shown
from compplan.optimizer.coefficients import Coefficients, compute_coefficients
from compplan.optimizer.evaluate import expected_revenue

SCHEMA = "compplan.batch/1"
RESULT_SCHEMA = "compplan.batch-result/1"
#: Says which damaged records are solved again (printed on stderr without a handler).
_LOG = logging.getLogger("compplan.batch")
MANIFEST = "batch.json"
RESULT = "result.json"
CANDIDATES = "candidates"
#: Every file a batch writes; a temporary ``.<name>.*`` left by a kill is removed on resume.
OUTPUTS = (MANIFEST, RESULT, "plan.json", "plan.csv", "plan.md", "rep_rates.csv",
           "infeasibility.json", "results.csv", "results.parquet", "frontier.csv",
           "frontier.png", "frontier.svg", "summary.md")


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

    def coefficients(self, key: str, spec: CaseSpec, scheduler: Any = None) -> Coefficients:
        """The coefficients for ``key``, computed once.

        With ``scheduler``, a Monte Carlo case's draws are made on that Dask cluster
        (the same coefficients, bit for bit).
        """
        if key not in self._coefficients:
            case = replace(self.case, spec=spec)
            if scheduler is not None and spec.scenarios.mode == "montecarlo":
                from compplan.batch.cluster import cluster_coefficients

                self._coefficients[key] = cluster_coefficients(case, scheduler)
            else:
                self._coefficients[key] = compute_coefficients(case)
        return self._coefficients[key]

    def shared(self, options: BatchOptions, scheduler: Any = None) -> Shared:
        """What the workers need for the pending candidates (drawn on ``scheduler``)."""
        keys = tuple(coefficient_key(s) for s in self.specs)
        coefficients, revenue = {}, {}
        for i in self.pending:
            key = keys[i]
            if key not in coefficients:
                case = replace(self.case, spec=self.specs[i])
                coefficients[key] = self.coefficients(key, self.specs[i], scheduler)
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
        shared = self.shared(options or BatchOptions(), scheduler)
        indices = solve_order(shared, list(self.pending))
        stop = threading.Event()
        with deferred_interrupt(stop):
            if scheduler is not None:
                stream = run_dask(shared, indices, scheduler, stop)
            elif workers > 1 and len(indices) > 1:
                stream = run_processes(shared, indices, min(workers, len(indices)), stop)
            else:
                stream = run_serial(shared, indices, stop)
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
    if case.period_quotas is not None:  # a case from transactions: what its source gave
        digest.update(b"ledger\0" + "\0".join(case.periods).encode() + b"\0")
        digest.update(case.attainment.tobytes())
        digest.update(case.period_quotas.tobytes())
    return digest.hexdigest()


def check_batch_of(folder: str | Path, case: Case) -> None:
    """Refuse a batch folder whose candidates are not plans of ``case`` (issue 24).

    ``report CASE PLAN --batch FOLDER`` drew another case's (or an organisation's)
    candidates as "the plans of this report". The batch's ``batch.json`` names its case
    and the hash of its files (:func:`case_fingerprint`).

    Raises
    ------
    UsageError
        The folder holds an organisation's batch, a batch of another case, or of this
        case before its files changed.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return  # read_batch says what is missing
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} cannot be read ({exc}); give the output folder of "
                         "compplan batch") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path} is not a compplan batch manifest")
    if doc.get("schema") == "compplan.org_batch/1":
        raise UsageError(f"{folder} holds a batch of the organisation "
                         f"{shown(str(doc.get('org')))}, not of the case {shown(case.name)}: "
                         "give a batch of this case")
    if doc.get("case_hash") == case_fingerprint(case):
        return
    same = str(doc.get("case")) == str(case.path.resolve())
    if same:
        raise UsageError(f"the case {case.path} has changed since the batch in {folder} "
                         "was run: its candidates are not plans of the case as it is now; "
                         "run the batch again")
    raise UsageError(f"{folder} holds a batch of another case ({shown(str(doc.get('case_name')))}"
                     f" in {doc.get('case')}), not of {case.path}: its candidates are not "
                     "plans of this case; give a batch of this case")


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
                _LOG.warning(f"warning: {batch.folder(i) / RESULT} could not be read "
                             f"({problem}): solving candidate {spec.candidates[i].id} again")
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


def run_batch(spec: BatchSpec, case: Case, out: Path, *, workers: int = 1,
              scheduler: Any = None, resume: bool = False,
              options: BatchOptions | None = None,
              on_result: Callable[[dict[str, Any]], None] | None = None,
              chart: bool = True,
              on_start: Callable[[int, int], None] | None = None) -> BatchReport:
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
    on_start : callable, optional
        Called as ``on_start(total, done)`` once the batch is open, before solving.

    Returns
    -------
    BatchReport
        The results table (one row per candidate) and the files written.
    """
    if scheduler is not None:
        # Connected before the folder is opened: an address that does not answer leaves
        # no batch.json behind (it blocked the next run).
        stop = threading.Event()
        with deferred_interrupt(stop):
            client = connect_dask(scheduler, stop)
        try:
            return _run_opened(spec, case, out, client, resume=resume, options=options,
                               on_result=on_result, chart=chart, on_start=on_start)
        finally:
            if client is not scheduler:
                with contextlib.suppress(Exception):
                    within(lambda: client.close(timeout=CLOSE_SECONDS), CLOSE_SECONDS,
                           threading.Event(), "")
    return _run_opened(spec, case, out, None, workers=workers, resume=resume,
                       options=options, on_result=on_result, chart=chart, on_start=on_start)


def _run_opened(spec: BatchSpec, case: Case, out: Path, scheduler: Any, *, workers: int = 1,
                resume: bool, options: BatchOptions | None,
                on_result: Callable[[dict[str, Any]], None] | None, chart: bool,
                on_start: Callable[[int, int], None] | None) -> BatchReport:
    batch = open_batch(spec, case, out, resume=resume)
    if on_start is not None:
        on_start(batch.total, batch.total - len(batch.pending))
    batch.solve(workers=workers, scheduler=scheduler, options=options, on_result=on_result)
    return batch.finish(chart=chart)
