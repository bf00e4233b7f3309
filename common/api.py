"""The public Python API: what the command line does, for notebooks and scripts.

Every function here is re-exported from :mod:`compplan` (``compplan.optimise`` ...).
The command line is a thin layer over these functions: it parses, calls one of them,
renders the answer and maps errors to exit codes.

Heavy modules (Pyomo, HiGHS, matplotlib) are imported inside the functions that
need them, so that importing the API stays cheap.
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compplan.errors import CaseError, InfeasibleError, SolverLimitError, UsageError
from compplan.models.case import CURRENT_PLAN, CURRENT_PLAN_NAME, Case
from compplan.optimizer.verdicts import FEASIBLE

if TYPE_CHECKING:
    from compplan.batch.results import BatchReport
    from compplan.batch.spec import BatchSpec
    from compplan.models.org import Org
    from compplan.models.plan import Plan
    from compplan.optimizer.audit import Audit
    from compplan.optimizer.coefficients import Progress
    from compplan.optimizer.evaluate import Evaluation
    from compplan.optimizer.model import Rounding, TailMethod
    from compplan.optimizer.org_audit import OrgAudit
    from compplan.optimizer.org_evaluate import OrgEvaluation
    from compplan.optimizer.org_pipeline import OrgOutcome
    from compplan.optimizer.org_sweep import OrgSweep
    from compplan.optimizer.pipeline import Outcome
    from compplan.optimizer.prices import GuardrailPrice

#: The case used when none is named: bundled with compplan.
DEFAULT_CASE = "enterprise_first"

__all__ = [
    "Case",
    "Result",
    "Status",
    "audit",
    "audit_org",
    "batch",
    "evaluate",
    "evaluate_org",
    "explain",
    "load_case",
    "load_org",
    "min_budget",
    "min_budget_org",
    "optimise",
    "optimise_org",
    "sweep",
    "sweep_org",
]


class Status(StrEnum):
    """How an optimisation ended: only ``OPTIMAL`` and ``TIME_LIMIT`` carry a plan."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"      # a plan was found, optimality not proven
    INFEASIBLE = "infeasible"      # proven: no plan satisfies the constraints
    NO_SOLUTION = "no_solution"    # a limit was reached before any plan was found

    @property
    def has_plan(self) -> bool:
        """Whether a plan was found."""
        return self.value in FEASIBLE


@dataclass(frozen=True, repr=False)
class Result:
    """What :func:`optimise` and :func:`min_budget` found.

    An infeasible case and a time limit are statuses, not exceptions: call
    :meth:`raise_for_status` to turn them into :class:`~compplan.errors.CompplanError`.

    Attributes
    ----------
    case : Case
        The case that was solved.
    status : Status
        How the solve ended.
    plan : Plan or None
        The plan (``None`` without one).
    evaluation : Evaluation or None
        The plan's figures under the case's scenarios.
    prices : list of GuardrailPrice
        What loosening each binding guardrail by 1 % would add to alignment.
    diagnosis : dict or None
        When infeasible: the conflicting rules and the smallest fix
        (``infeasibility.json``).
    message : str
        One line saying how it ended.
    outcome : Outcome or None
        The solver's full outcome (coefficients, solve figures), for experts.
    started : float
        When the solve started (seconds since the epoch).
    run_file : bool
        Whether :meth:`write` adds ``run.json`` (``compplan optimise`` does,
        ``compplan min-budget --out`` does not).
    """

    case: Case
    status: Status
    plan: Plan | None = None
    evaluation: Evaluation | None = None
    prices: list[GuardrailPrice] = field(default_factory=list)
    diagnosis: dict[str, Any] | None = None
    message: str = ""
    outcome: Outcome | None = None
    started: float = 0.0
    run_file: bool = True

    @property
    def ok(self) -> bool:
        """Whether a plan was found."""
        return self.status.has_plan

    def raise_for_status(self) -> Result:
        """Raise when no plan was found; return the result otherwise.

        Raises
        ------
        InfeasibleError
            No plan satisfies the constraints (exit code 3 on the command line).
        SolverLimitError
            A limit was reached before any plan was found (exit code 4).
        """
        if self.status is Status.INFEASIBLE:
            raise InfeasibleError(self.message, self.diagnosis or {})
        if self.status is Status.NO_SOLUTION:
            raise SolverLimitError(self.message)
        return self

    @property
    def document(self) -> dict[str, Any]:
        """The ``plan.json`` document (MODEL.md section 6); empty without a plan."""
        if self.outcome is None:
            return {}
        from compplan.render.plan import plan_json

        return plan_json(self.case, self.outcome)

    def write(self, folder: str | Path, *, force: bool = False) -> list[Path]:
        """Write exactly the files ``compplan optimise`` writes, as one transaction.

        With a plan: ``plan.json``, ``plan.csv``, ``plan.md``, ``rep_rates.csv`` (with
        quotas) and ``run.json``; when infeasible: ``infeasibility.json``; after a
        limit without a plan: nothing, and the folder is left as it was.

        Parameters
        ----------
        folder : str or Path
            The output folder, created if need be; compplan's earlier files in it are
            replaced whole (the old set or the new one, never a mix).
        force : bool
            Write into a folder holding files compplan did not write (they are kept).

        Returns
        -------
        list of Path
            The files written.
        """
        from compplan.models.output import run_record, write_json, write_plan
        from compplan.models.transaction import output_folder

        folder = _folder_arg(folder, "folder", "an output folder (str or Path)")
        if self.plan is None and self.status is not Status.INFEASIBLE:
            # As the command line (exit 4): the folder is left alone, an earlier plan kept.
            return []
        inputs = [self.case.path] if self.case.path is not None else []
        # One transaction (as the command line): the old set of files or the new one.
        with output_folder(folder, force=force, inputs=inputs) as staged:
            if self.status is Status.INFEASIBLE or self.plan is None:
                write_json(staged / "infeasibility.json",
                           {"case": self.case.name, **(self.diagnosis or {})})
                names = ["infeasibility.json"]
            else:
                names = [p.name for p in write_plan(staged, self.case, self.plan,
                                                    self.document)]
                if self.run_file:
                    seconds = None if self.outcome is None else self.outcome.result.seconds
                    write_json(staged / "run.json", run_record(self.started, seconds))
                    names.append("run.json")
        return [Path(folder) / name for name in names]

    def __repr__(self) -> str:
        if self.evaluation is None or self.plan is None:
            short = self.message if len(self.message) <= 80 else self.message[:79] + "\u2026"
            return f"<Result {self.status.value}: {short}>"
        weights = ", ".join(f"{m.id} {m.weight:.1%}" for m in self.plan.metrics)
        return (f"<Result {self.status.value}: alignment {self.evaluation.alignment:.4f}, "
                f"expected cost {self.evaluation.expected_cost:,.0f} "
                f"{self.case.spec.case.currency}; {weights}>")

    def _repr_html_(self) -> str:
        from compplan.models.money import money_per

        head = f"<p><b>{html.escape(self.case.name)}</b>: {html.escape(self.status.value)}"
        if self.evaluation is None or self.plan is None:
            return head + f" &mdash; {html.escape(self.message)}</p>"
        ev = self.evaluation
        cur = html.escape(self.case.spec.case.currency)
        head += (f", alignment {ev.alignment:.4f}, expected cost "
                 f"{ev.expected_cost:,.0f} {cur} {money_per(self.case)}</p>")
        return head + self.plan.to_frame().to_html(index=False, float_format="{:.4g}".format)


def load_case(path: str | Path | None = None, *, budget: float | None = None,
              max_metrics: int | None = None) -> Case:
    """Load and validate a case folder.

    Parameters
    ----------
    path : str or Path, optional
        A case folder (``case.toml``, ``reps.csv``, ``attainment.csv``); the bundled
        default case without one.
    budget : float, optional
        Expected-cost cap per period, replacing ``[budget] expected_cap``.
    max_metrics : int, optional
        At most this many metrics, replacing ``[design] max_metrics``.

    Returns
    -------
    Case
        The loaded case; ``case.spec.warnings()`` lists what was accepted with a warning.

    Raises
    ------
    CaseError
        The case is malformed: the message names the file, line and field.
    """
    from compplan.models.case import load_case as _load

    if path is not None:
        path = _folder_arg(path, "case", "a Case, a case folder (str or Path) or None")
        if os.path.lexists(path / "org.toml"):
            raise UsageError(f"{path} is an organisation folder (it holds org.toml), not a "
                             "case folder; give one role's case folder (an organisation is "
                             f"designed by `compplan optimise {path} --out DIR`)")
    if path is None:
        with as_file(files("compplan.cases") / DEFAULT_CASE) as bundled:
            case = _load(bundled)
    else:
        case = _load(path)
    if budget is not None or max_metrics is not None:
        case = case.with_overrides(budget=budget, max_metrics=max_metrics)
    return case


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _folder_arg(value: Any, name: str, allowed: str) -> Path:
    """``value`` as a Path when it is a str or an os.PathLike, else a UsageError."""
    if isinstance(value, str | os.PathLike) and not isinstance(value, bytes):
        path = Path(value)
        if not str(value):
            raise UsageError(f"{name} is an empty path; give {allowed}")
        return path
    raise UsageError(f"{name} must be {allowed}, got {type(value).__name__} {_shown(value)}")


def _as_case(case: Case | str | Path | None) -> Case:
    from compplan.models.case import Case

    return case if isinstance(case, Case) else load_case(case)


def _as_plan(case: Case, plan: Plan | str | Path) -> Plan:
    from compplan.models.plan import Plan, load_plan

    if isinstance(plan, Plan):
        return plan
    path = _folder_arg(plan, "plan", "a Plan, 'current', a plan.json or a plan TOML file "
                                     "(str or Path)")
    try:
        return load_plan(case, str(path))
    except OSError as exc:  # a path the OS refuses (a name too long, ...): as the CLI says
        if exc.filename is None:
            raise
        raise CaseError(_cut(str(exc.filename)), f"cannot be used: {exc.strerror or exc}") \
            from None


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _time_limit(value: Any) -> float | None:
    """``time_limit`` as given to the API: None or a finite number of seconds > 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value <= 0:
        raise UsageError(f"time_limit must be a finite number of seconds > 0 (or None), got "
                         f"{_shown(value)}")
    return float(value)


def _tail_method(value: Any) -> Any:
    if value not in ("auto", "full", "cuts"):
        raise UsageError(f"tail_method must be 'auto', 'full' or 'cuts', got {_shown(value)}")
    return value


def _rounding(value: Any) -> Rounding | None:
    """None, a Rounding, or its text as for ``--round`` (``"weights=0.05,rates=0.05"``)."""
    if value is None:
        return None
    from compplan.optimizer.model import Rounding, parse_rounding

    if isinstance(value, Rounding):
        return value
    if isinstance(value, str):
        return parse_rounding(value)
    raise UsageError("rounding must be a Rounding or its text (\"weights=0.05,rates=0.05\"), "
                     f"got {type(value).__name__} {_shown(value)}")


def _solved(case: Case, run: Callable[[], Outcome], started: float, *,
            run_file: bool = True) -> Result:
    try:
        outcome = run()
    except InfeasibleError as exc:
        return Result(case, Status.INFEASIBLE, diagnosis=exc.report, message=str(exc),
                      started=started, run_file=run_file)
    except SolverLimitError as exc:
        return Result(case, Status.NO_SOLUTION, message=str(exc), started=started,
                      run_file=run_file)
    status = Status(outcome.status)
    return Result(case, status, outcome.plan, outcome.evaluation, list(outcome.prices),
                  message=f"{status.value} plan", outcome=outcome, started=started,
                  run_file=run_file)


def optimise(case: Case | str | Path | None = None, *, time_limit: float | None = None,
             tail_method: TailMethod = "auto",
             progress: Callable[[str], None] | None = None,
             chunk_progress: Progress | None = None,
             rounding: Rounding | None = None) -> Result:
    """Design the plan of best expected alignment for a case.

    Parameters
    ----------
    case : Case, str or Path, optional
        A loaded case or a case folder; the bundled default case without one.
    time_limit : float, optional
        Seconds the solver may take in all.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails enter the model.
    progress : callable, optional
        Called with a line of text at each step.
    chunk_progress : callable, optional
        Called as ``chunk_progress(phase, done, total)`` during passes over the reps.
    rounding : Rounding or str, optional
        Weights and accelerator rates on grids (``"weights=0.05,rates=0.05"`` as for
        ``--round``, or ``parse_rounding("weights=0.05")``):
        the best rounded plan, with what rounding costs in ``result.outcome.rounding``.

    Returns
    -------
    Result
        The status, and with a plan its evaluation and guardrail prices; when
        infeasible, the diagnosis.

    Raises
    ------
    CaseError
        The case is malformed.

    Examples
    --------
    >>> import compplan
    >>> result = compplan.optimise("cases/enterprise_first")  # doctest: +SKIP
    >>> result.raise_for_status().write("plans/fy27")         # doctest: +SKIP
    """
    from compplan.optimizer.pipeline import optimise_case

    seconds, tails, grids = _time_limit(time_limit), _tail_method(tail_method), \
        _rounding(rounding)
    loaded = _as_case(case)
    started = time.time()
    return _solved(loaded, lambda: optimise_case(
        loaded, time_limit=seconds, tail_method=tails, progress=progress,
        chunk_progress=chunk_progress, rounding=grids), started)


def min_budget(case: Case | str | Path | None = None, *, time_limit: float | None = None,
               progress: Callable[[str], None] | None = None,
               chunk_progress: Progress | None = None) -> Result:
    """The cheapest plan meeting every guardrail but the expected-cost cap.

    Its expected cost (``result.evaluation.expected_cost``) is the smallest
    ``[budget] expected_cap`` that admits a plan.

    Parameters
    ----------
    case : Case, str or Path, optional
        A loaded case or a case folder; the bundled default case without one.
    time_limit : float, optional
        Seconds the solver may take in all.
    progress, chunk_progress : callable, optional
        As for :func:`optimise`.

    Returns
    -------
    Result
        The cheapest plan (the best aligned among equally cheap ones), or the
        status saying why there is none.
    """
    from compplan.optimizer.pipeline import cheapest_plan

    seconds = _time_limit(time_limit)
    loaded = _as_case(case)
    started = time.time()
    return _solved(loaded, lambda: cheapest_plan(
        loaded, time_limit=seconds, progress=progress, chunk_progress=chunk_progress),
        started, run_file=False)


def evaluate(case: Case | str | Path | None, plan: Plan | str | Path = "current") -> Evaluation:
    """A plan's figures under the case's scenarios, without solving.

    Parameters
    ----------
    case : Case, str or Path, optional
        A loaded case or a case folder; the bundled default case with ``None``.
    plan : Plan, str or Path
        A plan, ``"current"`` (the case's ``current_plan.toml``), a ``plan.json`` or a
        TOML file of ``[[metrics]]`` tables.

    Returns
    -------
    Evaluation
        Alignment, payout quantiles, CVaR, segments, every guardrail and design rule;
        ``to_frame()`` gives the guardrails as a table.
    """
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.evaluate import evaluate as _evaluate
    from compplan.optimizer.evaluate import expected_revenue

    loaded = _as_case(case)
    chosen = _as_plan(loaded, plan)
    w, u = chosen.vectors(loaded)
    return _evaluate(loaded, compute_coefficients(loaded), w, u,
                     revenue=expected_revenue(loaded))


def audit(case: Case | str | Path | None, plan: Plan | str | Path = "current") -> Audit:
    """Audit a plan for incentive conflicts: which metrics serve the strategy.

    Parameters
    ----------
    case : Case, str or Path, optional
        A loaded case or a case folder; the bundled default case with ``None``.
    plan : Plan, str or Path
        As for :func:`evaluate`.

    Returns
    -------
    Audit
        Per metric: alignment with the goals, marginal incentive, share, verdict;
        ``to_dict()`` is ``audit.json``.
    """
    from compplan.optimizer.audit import audit_plan

    loaded = _as_case(case)
    name = CURRENT_PLAN_NAME if str(plan) == CURRENT_PLAN else str(plan)
    return audit_plan(loaded, _as_plan(loaded, plan), name)


@dataclass(frozen=True)
class Document:
    """The plan document for reps (``compplan explain``): Markdown and HTML."""

    context: dict[str, Any]

    @property
    def markdown(self) -> str:
        """The document in Markdown."""
        from compplan.render.explain import render_markdown

        return render_markdown(self.context)

    def _repr_html_(self) -> str:
        from compplan.render.explain import render_html

        return render_html(self.context)

    def write(self, folder: str | Path) -> list[Path]:
        """Write ``plan_explained.md`` and ``plan_explained.html`` into ``folder``."""
        from compplan.render.explain import write_explanation

        return write_explanation(Path(folder), self.context)


def explain(plan: Plan | str | Path, case: Case | str | Path | None = None) -> Document:
    """The plan document for reps: what the plan pays for, and why.

    Parameters
    ----------
    plan : Plan, str or Path
        A ``plan.json``; with ``case`` also a Plan, ``"current"`` or a TOML plan.
    case : Case, str or Path, optional
        The plan's case: goals, median target incentive, what changed from today.

    Returns
    -------
    Document
        ``markdown``, an HTML view in notebooks, and ``write(folder)``.
    """
    from compplan.render.explain import explanation, explanation_with_case, read_plan_file

    if case is None:
        if str(plan) == CURRENT_PLAN or not isinstance(plan, str | Path):
            raise UsageError("a plan other than a plan.json file needs its case")
        source = read_plan_file(plan)
        return Document(explanation(source.plan, source=str(plan), case_name=source.case))
    loaded = _as_case(case)
    return Document(explanation_with_case(loaded, _as_plan(loaded, plan), str(plan)))


def sweep(case: Case | str | Path | None, start: float, stop: float, count: int,
          out: str | Path, **options: Any) -> BatchReport:
    """Sweep the expected-cost cap: a batch with one candidate per cap.

    Parameters
    ----------
    case : Case, str or Path, optional
        A loaded case or a case folder; the bundled default case with ``None``.
    start, stop : float
        The first and last factor of the case's ``[budget] expected_cap`` (of the
        total target incentive when it sets none).
    count : int
        How many caps, evenly spaced.
    out : str or Path
        The output folder (as ``compplan sweep --out``).
    **options
        As for :func:`batch`.

    Returns
    -------
    BatchReport
        ``to_frame()``: one row per candidate; ``frontier()``: the frontier.
    """
    from compplan.batch.spec import MAX_CANDIDATES, budget_sweep

    for name, factor in (("start", start), ("stop", stop)):
        if isinstance(factor, bool) or not isinstance(factor, int | float) \
                or not math.isfinite(factor) or factor <= 0:
            raise UsageError(f"{name} must be a finite factor of the expected-cost cap > 0, "
                             f"got {_shown(factor)}")
    if isinstance(count, bool) or not isinstance(count, int) \
            or not 1 <= count <= MAX_CANDIDATES:
        raise UsageError(f"count must be a whole number of caps from 1 to {MAX_CANDIDATES:,} "
                         f"(a batch holds at most {MAX_CANDIDATES:,} candidates), got "
                         f"{_shown(count)}")
    out = _folder_arg(out, "out", "an output folder (str or Path)")
    loaded = _as_case(case)
    if loaded.path is None:
        raise UsageError("a sweep needs a case folder (a sweep is a batch: it records the "
                         "case's files and resumes from them); this case was built from "
                         "DataFrames: write its tables to a folder and load that")
    return batch(budget_sweep(loaded, start, stop, count), out, case=loaded, **options)


def batch(spec: BatchSpec | str | Path, out: str | Path, *, case: Case | None = None,
          workers: int = 1, scheduler: Any = None, resume: bool = False,
          time_limit: float | None = None, prices: bool = True,
          on_result: Callable[[dict[str, Any]], None] | None = None,
          on_start: Callable[[int, int], None] | None = None,
          chart: bool = True) -> BatchReport:
    """Solve every candidate of a batch spec and chart the alignment-cost frontier.

    Parameters
    ----------
    spec : BatchSpec, str or Path
        An expanded spec or a batch spec TOML file.
    out : str or Path
        The output folder (``batch.json``, ``candidates/``, results, frontier).
    case : Case, optional
        The base case, when already loaded; the spec's ``case`` otherwise.
    workers : int
        Local processes (1: in this process). With more, call from under
        ``if __name__ == "__main__":``.
    scheduler : str or distributed.LocalCluster, optional
        Solve on a Dask cluster instead.
    resume : bool
        Continue the batch already in ``out``.
    time_limit : float, optional
        Seconds per candidate.
    prices : bool
        Price each candidate's guardrails.
    on_result : callable, optional
        Called with each candidate's record as it finishes.
    on_start : callable, optional
        Called as ``on_start(total, done)`` once the batch is open, before solving.
    chart : bool
        Draw the frontier chart.

    Returns
    -------
    BatchReport
        ``to_frame()``: one row per candidate; ``frontier()``: the frontier.
    """
    from compplan.batch.run import BatchOptions
    from compplan.batch.spec import BatchSpec, read_batch_spec
    from compplan.batch.store import run_batch
    from compplan.models.case import Case

    out = _folder_arg(out, "out", "an output folder (str or Path)")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers must be a whole number >= 1, got {_shown(workers)}")
    if case is not None and not isinstance(case, Case):
        raise UsageError(f"case must be a loaded Case (compplan.load_case) or None, got "
                         f"{type(case).__name__} {_shown(case)}")
    time_limit = _time_limit(time_limit)
    expanded = spec if isinstance(spec, BatchSpec) else read_batch_spec(
        _folder_arg(spec, "spec", "a BatchSpec or a batch spec TOML file (str or Path)"))
    loaded = case if case is not None else load_case(expanded.case_path)
    if loaded.path is None:  # Case.from_frames: a batch records, and resumes from, a folder
        raise UsageError("a batch needs a case folder (it records the case's files and "
                         "resumes from them); this case was built from DataFrames: write "
                         "its tables to a folder and load that")
    options = BatchOptions(time_limit=time_limit, prices=prices)
    return run_batch(expanded, loaded, Path(out), workers=workers, scheduler=scheduler,
                     resume=resume, options=options, on_result=on_result, chart=chart,
                     on_start=on_start)



# ----------------------------------------------------------------------------- organisations

def load_org(path: str | Path, *, budget: float | None = None) -> Org:
    """Load and validate an organisation folder (``org.toml`` and a case folder per role).

    Parameters
    ----------
    path : str or Path
        The folder holding ``org.toml`` (MODEL.md section 7).
    budget : float, optional
        The organisation's expected-cost cap, replacing ``[budget] expected_cap``.

    Returns
    -------
    Org
        The organisation: ``roles`` (each with its ``case``), ``spec``, ``shares``.

    Raises
    ------
    CaseError
        ``org.toml`` or a role's case is malformed: the message names the file, line
        and field.

    Examples
    --------
    >>> import compplan
    >>> org = compplan.load_org("cases/gtm_org")
    >>> [role.id for role in org.roles]
    ['sdr', 'ae', 'csm']
    """
    from compplan.models.org import load_org as _load
    from compplan.optimizer.org_sweep import with_cap

    org = _load(path)
    return with_cap(org, budget) if budget is not None else org


def _as_org(org: Org | str | Path) -> Org:
    from compplan.models.org import Org

    return org if isinstance(org, Org) else load_org(org)


def optimise_org(org: Org | str | Path, *, time_limit: float | None = None,
                 tail_method: TailMethod = "auto") -> OrgOutcome:
    """Design every role's plan at once, under one strategy and one budget.

    Parameters
    ----------
    org : Org, str or Path
        A loaded organisation or its folder.
    time_limit : float, optional
        Seconds for the solver.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.

    Returns
    -------
    OrgOutcome
        ``document`` (the ``org_plan.json`` document), ``roles`` (each role's ``plan``
        and ``evaluation``); ``write(folder)`` writes what ``compplan optimise ORG_DIR``
        writes.

    Raises
    ------
    InfeasibleError
        No plans meet every rule: ``report`` names the conflicting rules (exit code 3).
    SolverLimitError
        The time limit was reached before any plans were found (exit code 4).

    Examples
    --------
    >>> import compplan
    >>> out = compplan.optimise_org("cases/gtm_org")
    >>> [role["id"] for role in out.document["roles"]]
    ['sdr', 'ae', 'csm']
    """
    from compplan.optimizer.org_pipeline import optimise_org as _optimise

    return _optimise(_as_org(org), time_limit=time_limit, tail_method=tail_method)


def min_budget_org(org: Org | str | Path, *, time_limit: float | None = None) -> OrgOutcome:
    """The cheapest plans meeting every rule but the organisation's expected-cost cap.

    Parameters
    ----------
    org : Org, str or Path
        A loaded organisation or its folder; its expected-cost cap is ignored.
    time_limit : float, optional
        Seconds for the solver.

    Returns
    -------
    OrgOutcome
        ``document["objective"]["expected_cost"]`` is the smallest cap that admits
        plans; ``document["roles"][i]["expected_cost"]`` how it splits by role.

    Raises
    ------
    InfeasibleError
        The other rules admit no plans at any budget.
    """
    from compplan.optimizer.org_pipeline import cheapest_org_plans

    return cheapest_org_plans(_as_org(org), time_limit=time_limit)


def evaluate_org(org: Org | str | Path, plans: str | Path = CURRENT_PLAN) -> OrgEvaluation:
    """Every role's plan and the organisation's total under the scenarios.

    Parameters
    ----------
    org : Org, str or Path
        A loaded organisation or its folder.
    plans : str or Path
        ``"current"`` (each role's ``current_plan.toml``) or an ``org_plan.json``
        written by :func:`optimise_org` (its role folders beside it).

    Returns
    -------
    OrgEvaluation
        ``alignment``, ``expected_cost``, ``cvar``, ``totals`` per scenario, ``roles``
        (each with its ``evaluation``), ``checks`` (O1 to O5) and ``audit`` (the
        conflict map); ``to_dict()`` is ``evaluation.json``.

    Raises
    ------
    UsageError
        ``plans`` is neither; a role has no current plan.
    CaseError
        A role's plan does not fit its case.
    """
    from compplan.optimizer.org import org_coefficients
    from compplan.optimizer.org_evaluate import evaluate_org as _evaluate
    from compplan.optimizer.org_evaluate import load_org_plans, plan_label

    loaded = _as_org(org)
    return _evaluate(loaded, org_coefficients(loaded), load_org_plans(loaded, plans),
                     plan_label(plans), str(plans))


def audit_org(org: Org | str | Path, plans: str | Path = CURRENT_PLAN) -> OrgAudit:
    """The conflict map of an organisation's plans, goal by goal and role by role.

    Parameters
    ----------
    org : Org, str or Path
        A loaded organisation or its folder.
    plans : str or Path
        ``"current"`` or an ``org_plan.json``, as for :func:`evaluate_org`.

    Returns
    -------
    OrgAudit
        ``goals`` (each role's marginal incentive for and against each goal),
        ``conflicts`` and ``unserved`` goals; ``to_dict()`` is ``audit_org.json``.
    """
    return evaluate_org(org, plans).audit


def sweep_org(org: Org | str | Path, start: float, stop: float, count: int, *,
              time_limit: float | None = None) -> OrgSweep:
    """The organisation's alignment-cost frontier over its expected-cost cap.

    Parameters
    ----------
    org : Org, str or Path
        A loaded organisation or its folder.
    start, stop : float
        The first and last factor of ``[budget] expected_cap`` of org.toml (of the
        total target incentive of all roles when it sets none).
    count : int
        How many caps, evenly spaced.
    time_limit : float, optional
        Seconds per solve.

    Returns
    -------
    OrgSweep
        ``points`` (one per cap), ``frontier()``, ``next_dollar()`` (how each extra
        expected payout splits across roles) and ``to_rows()`` (``results.csv``).
    """
    from compplan.optimizer.org_sweep import sweep_org as _sweep

    return _sweep(_as_org(org), start, stop, count, time_limit=time_limit)
