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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compplan.errors import CaseError, InfeasibleError, SolverLimitError, UsageError
from compplan.models.case import CURRENT_PLAN, CURRENT_PLAN_NAME, Case
from compplan.optimizer.verdicts import FEASIBLE

if TYPE_CHECKING:
    from types import ModuleType

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
    "AuditReport",
    "Case",
    "Comparison",
    "EvaluationReport",
    "OrgResult",
    "OrgRun",
    "PulseCheck",
    "Report",
    "Result",
    "Status",
    "Validation",
    "Workbook",
    "audit",
    "audit_org",
    "audit_report",
    "batch",
    "compare",
    "evaluate",
    "evaluate_org",
    "evaluation_report",
    "explain",
    "export",
    "load_case",
    "load_org",
    "min_budget",
    "min_budget_org",
    "optimise",
    "optimise_org",
    "pulse",
    "report",
    "sweep",
    "sweep_org",
    "validate",
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
    def response(self) -> Any:
        """With ``[response]``: the plan's figures under response and static, else None.

        A :class:`~compplan.optimizer.response.ResponseFigures`: ``multipliers``,
        ``evaluation``, ``static``, ``outcomes``, ``net_value``; ``to_frame()`` gives
        them side by side.
        """
        return None if self.outcome is None else self.outcome.response

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
        from compplan.models.transaction import output_folder

        folder = _folder_arg(folder, "folder", "an output folder (str or Path)")
        if self.plan is None and self.status is not Status.INFEASIBLE:
            # As the command line (exit 4): the folder is left alone, an earlier plan kept.
            return []
        inputs = [self.case.path] if self.case.path is not None else []
        # One transaction (as the command line): the old set of files or the new one.
        with output_folder(folder, force=force, inputs=inputs) as staged:
            names = self.write_into(staged)
        return [Path(folder) / name for name in names]

    def write_into(self, staged: Path) -> list[str]:
        """Write the result's files into an open staging folder (the one place they are made).

        :meth:`write` and ``compplan optimise``/``min-budget`` both call it inside their
        transaction. Returns the names written (``infeasibility.json`` alone when
        infeasible; nothing after a limit without a plan).
        """
        from compplan.models.output import run_record, write_json, write_plan

        if self.status is Status.INFEASIBLE or self.plan is None:
            if self.status is not Status.INFEASIBLE:
                return []
            write_json(staged / "infeasibility.json",
                       {"case": self.case.name, **(self.diagnosis or {})})
            return ["infeasibility.json"]
        names = [p.name for p in write_plan(staged, self.case, self.plan, self.document)]
        if self.run_file:
            seconds = None if self.outcome is None else self.outcome.result.seconds
            write_json(staged / "run.json", run_record(self.started, seconds))
            names.append("run.json")
        return names

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


@dataclass
class OrgResult:
    """What :func:`optimise_org` and :func:`min_budget_org` found (an organisation's Result).

    As for a case, no plans and a time limit are statuses, not exceptions:
    :meth:`raise_for_status` turns them into the error the command line reports.

    Attributes
    ----------
    org : Org
        The organisation that was solved.
    status : Status
        How the solve ended.
    outcome : OrgOutcome or None
        The designed plans (``document``, ``roles``); None without plans.
    diagnosis : dict or None
        When infeasible: the conflicting rules and the smallest fixes
        (``infeasibility.json``).
    message : str
        One line saying how it ended.
    started : float
        When the solve started (seconds since the epoch), for ``run.json``.
    """

    org: Org
    status: Status
    outcome: OrgOutcome | None = None
    diagnosis: dict[str, Any] | None = None
    message: str = ""
    started: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether plans were found."""
        return self.status.has_plan

    @property
    def document(self) -> dict[str, Any]:
        """The ``org_plan.json`` document (MODEL.md section 7); empty without plans."""
        return {} if self.outcome is None else self.outcome.document

    @property
    def roles(self) -> list[Any]:
        """Each role's designed plan and figures; empty without plans."""
        return [] if self.outcome is None else self.outcome.roles

    def raise_for_status(self) -> OrgResult:
        """Raise when no plans were found; return the result otherwise.

        Raises
        ------
        InfeasibleError
            No plans satisfy the rules (exit code 3).
        SolverLimitError
            A limit was reached before any plans were found (exit code 4).
        """
        if self.status is Status.INFEASIBLE:
            raise InfeasibleError(self.message, self.diagnosis or {})
        if self.status is Status.NO_SOLUTION:
            raise SolverLimitError(self.message)
        return self

    def write(self, folder: str | Path, *, force: bool = False) -> list[Path]:
        """Write what ``compplan optimise ORG_DIR`` writes, as one transaction.

        With plans: ``org_plan.json`` and each role's plan files; when infeasible:
        ``infeasibility.json``; after a limit without plans: nothing.
        """
        from compplan.models.transaction import output_folder

        path = _folder_arg(folder, "folder", "an output folder (str or Path)")
        if self.outcome is None and self.status is not Status.INFEASIBLE:
            return []
        # The files of write_into (one place), but the run record.
        with output_folder(path, force=force, inputs=[self.org.path]) as staged:
            names = self.write_into(staged, run_file=False)
        return [path / name for name in names]

    def write_into(self, staged: Path, *, run_file: bool = True) -> list[str]:
        """Write what ``compplan optimise ORG_DIR`` writes into an open staging folder.

        ``org_plan.json``, each role's plan files (under the role's id) and, with
        ``run_file``, ``run.json``; when infeasible ``infeasibility.json``; nothing after
        a limit without plans. Returns the names written, relative to ``staged``.
        """
        from compplan.models.output import run_record, write_json, write_plan

        if self.outcome is None:
            if self.status is not Status.INFEASIBLE:
                return []
            write_json(staged / "infeasibility.json", self.diagnosis or {})
            return ["infeasibility.json"]
        names = ["org_plan.json"]
        for role in self.outcome.roles:
            names += [str(p.relative_to(staged)) for p in
                      write_plan(staged / role.role.id, role.role.case, role.plan,
                                 role.document)]
        write_json(staged / "org_plan.json", self.outcome.document)
        if run_file:
            write_json(staged / "run.json", run_record(self.started,
                                                       self.outcome.result.seconds))
            names.append("run.json")
        return names

    def __repr__(self) -> str:
        if self.outcome is None:
            short = self.message if len(self.message) <= 80 else self.message[:79] + "\u2026"
            return f"<OrgResult {self.status.value}: {short}>"
        objective = self.document["objective"]
        return (f"<OrgResult {self.status.value}: alignment {objective['alignment']:.4f}, "
                f"expected cost {objective['expected_cost']:,.0f} {self.org.currency}>")


def _org_solved(org: Org, run: Callable[[], OrgOutcome]) -> OrgResult:
    """An organisation's solve as a result: infeasible and limits are statuses."""
    started = time.time()
    try:
        found = run()
    except InfeasibleError as exc:
        return OrgResult(org, Status.INFEASIBLE, diagnosis=exc.report, message=str(exc),
                         started=started)
    except SolverLimitError as exc:
        return OrgResult(org, Status.NO_SOLUTION, message=str(exc), started=started)
    status = Status(found.document.get("status", "optimal"))
    return OrgResult(org, status, found, message=f"{status.value} plans", started=started)


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


def optimise(case: Case | Org | str | Path | None = None, *,
             time_limit: float | None = None,
             tail_method: TailMethod = "auto",
             progress: Callable[[str], None] | None = None,
             chunk_progress: Progress | None = None,
             rounding: Rounding | None = None,
             elasticity: float | Sequence[float] | None = None,
             scheduler: Any = None) -> Result | OrgResult:
    """Design the plan of best expected alignment for a case (or an organisation).

    Parameters
    ----------
    case : Case, Org, str or Path, optional
        A loaded case or a case folder; the bundled default case without one. An
        organisation (an :class:`Org` or a folder holding ``org.toml``) is designed as
        :func:`optimise_org` does, and the answer is an :class:`OrgResult`.
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
        With ``[response]``: the grid (0.05 for a step not given).
    elasticity : float or sequence of float, optional
        A case with ``[response]``: robust design (MODEL.md section 10), the best grid
        plan meeting every guardrail under each elasticity (each replacing every
        metric's); ``result.outcome.response_band`` holds its figures under each.
    scheduler : str, distributed.LocalCluster or distributed.Client, optional
        A Monte Carlo case: draw the scenarios and reduce them to the model's
        coefficients on this Dask cluster (its scheduler's ``tcp://`` address), in
        tasks of whole blocks of reps; the same plan, bit for bit, as in this process.

    Returns
    -------
    Result or OrgResult
        The status, and with a plan its evaluation and guardrail prices; when
        infeasible, the diagnosis. With ``[response]``, ``result.response`` holds the
        figures under response and static. For an organisation, an :class:`OrgResult`.

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

    if is_organisation(case):
        assert case is not None
        _case_only("rounding", rounding, "an organisation's plans are not rounded to a grid")
        _case_only("elasticity", elasticity)
        _case_only("scheduler", scheduler, _ORG_DRAWS)
        return optimise_org(case, time_limit=time_limit, tail_method=tail_method,
                            progress=progress)
    seconds, tails, grids = _time_limit(time_limit), _tail_method(tail_method), \
        _rounding(rounding)
    loaded = _as_case(case)
    started = time.time()
    if elasticity is not None:
        _no_cluster(loaded, scheduler)
        return _solved(loaded, lambda: _robust(loaded, _elasticities(loaded, elasticity),
                                               seconds, tails, progress, grids), started)
    coefficients = _cluster_coefficients(loaded, scheduler, progress, chunk_progress)
    return _solved(loaded, lambda: optimise_case(
        loaded, time_limit=seconds, tail_method=tails, progress=progress,
        chunk_progress=chunk_progress, rounding=grids, coefficients=coefficients), started)


_ORG_DRAWS = ("an organisation's roles are drawn in this process; run each Monte Carlo "
              "role's case with --scheduler on its own")


def _no_cluster(case: Case, scheduler: Any) -> None:
    """UsageError for ``scheduler`` with a case designed over draws held in this process."""
    if scheduler is not None and case.spec.response is not None:
        raise UsageError(f"scheduler: the case {case.name!r} has [response]: its plan is "
                         "designed over the draws held in this process (MODEL.md section "
                         "10's grid); run without --scheduler")


def _cluster_coefficients(case: Case, scheduler: Any, progress: Callable[[str], None] | None,
                          chunk_progress: Progress | None) -> Any:
    """The case's coefficients computed on ``scheduler``'s cluster, or None without one."""
    if scheduler is None:
        return None
    _no_cluster(case, scheduler)
    if not isinstance(scheduler, str) and not hasattr(scheduler, "scheduler_address") \
            and not hasattr(scheduler, "submit"):
        raise UsageError(f"scheduler must be a Dask scheduler's address (tcp://HOST:PORT), "
                         f"a cluster or a client, got {type(scheduler).__name__} "
                         f"{_shown(scheduler)}")
    from compplan.batch.cluster import cluster_coefficients

    if progress is not None:
        progress(f"computing coefficients on the Dask cluster at {_address(scheduler)}")
    return cluster_coefficients(case, scheduler, chunk_progress)


def _address(scheduler: Any) -> str:
    return scheduler if isinstance(scheduler, str) else str(
        getattr(scheduler, "scheduler_address", None) or type(scheduler).__name__)


def _case_only(name: str, value: object,
               instead: str = "set it in each role's case.toml") -> None:
    """UsageError for a single-case argument given with an organisation."""
    if value is not None:
        raise UsageError(f"{name} applies to a case, not to an organisation ({instead})")


def _elasticities(case: Case, value: Any) -> list[float]:
    """``elasticity`` as given to the API: a number >= 0 or a list of them."""
    values = list(value) if isinstance(value, list | tuple) else [value]
    if not values or any(isinstance(v, bool) or not isinstance(v, int | float)
                         or not math.isfinite(v) or v < 0 for v in values):
        raise UsageError(f"elasticity must be a number >= 0 or a list of them, got "
                         f"{_shown(value)}")
    if case.spec.response is None:
        raise UsageError(f"elasticity: the case {case.name!r} has no [response] table "
                         "(the baseline plan reps worked under)")
    return [float(v) for v in values]


def _robust(case: Case, elasticities: list[float], seconds: float | None, tails: Any,
            progress: Callable[[str], None] | None, grids: Rounding | None) -> Outcome:
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.response_pipeline import optimise_response

    return optimise_response(case, compute_coefficients(case), time_limit=seconds,
                             tail_method=tails, progress=progress, rounding=grids,
                             elasticities=elasticities)


def min_budget(case: Case | Org | str | Path | None = None, *,
               time_limit: float | None = None,
               progress: Callable[[str], None] | None = None,
               chunk_progress: Progress | None = None,
               scheduler: Any = None) -> Result | OrgResult:
    """The cheapest plan meeting every guardrail but the expected-cost cap.

    Its expected cost (``result.evaluation.expected_cost``) is the smallest
    ``[budget] expected_cap`` that admits a plan.

    Parameters
    ----------
    case : Case, Org, str or Path, optional
        A loaded case or a case folder; the bundled default case without one. An
        organisation (an :class:`Org` or a folder holding ``org.toml``): the cheapest
        plans as :func:`min_budget_org` finds them, an :class:`OrgResult`.
    time_limit : float, optional
        Seconds the solver may take in all.
    progress, chunk_progress : callable, optional
        As for :func:`optimise`.
    scheduler : str, distributed.LocalCluster or distributed.Client, optional
        As for :func:`optimise`: a Monte Carlo case's draws made on a Dask cluster.

    Returns
    -------
    Result
        The cheapest plan (the best aligned among equally cheap ones), or the
        status saying why there is none.
    """
    from compplan.optimizer.pipeline import cheapest_plan

    if is_organisation(case):
        assert case is not None
        _case_only("scheduler", scheduler, _ORG_DRAWS)
        return min_budget_org(case, time_limit=time_limit, progress=progress)
    seconds = _time_limit(time_limit)
    loaded = _as_case(case)
    started = time.time()
    coefficients = _cluster_coefficients(loaded, scheduler, progress, chunk_progress)
    return _solved(loaded, lambda: cheapest_plan(
        loaded, time_limit=seconds, progress=progress, chunk_progress=chunk_progress,
        coefficients=coefficients), started, run_file=False)


def evaluate(case: Case | str | Path | None, plan: Plan | str | Path = "current", *,
             elasticity: float | None = None) -> Evaluation:
    """A plan's figures under the case's scenarios, without solving.

    Parameters
    ----------
    case : Case, str or Path, optional
        A loaded case or a case folder; the bundled default case with ``None``.
    plan : Plan, str or Path
        A plan, ``"current"`` (the case's ``current_plan.toml``), a ``plan.json`` or a
        TOML file of ``[[metrics]]`` tables.
    elasticity : float, optional
        A case with ``[response]``: replaces every metric's elasticity (MODEL.md
        section 10).

    Returns
    -------
    Evaluation
        Alignment, payout quantiles, CVaR, segments, every guardrail and design rule;
        ``to_frame()`` gives the guardrails as a table. With ``[response]`` every payout
        figure is under response, and ``response`` holds the multipliers, the static
        figures, outcomes and net value (``response.to_frame()``: side by side).
    """
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.evaluate import evaluate_plan, expected_revenue

    loaded = _as_case(case)
    chosen = _as_plan(loaded, plan)
    if elasticity is not None and (isinstance(elasticity, bool)
                                   or not isinstance(elasticity, int | float)
                                   or not math.isfinite(elasticity) or elasticity < 0):
        raise UsageError(f"elasticity must be a finite number >= 0 (or None), got "
                         f"{_shown(elasticity)}")
    coeffs = compute_coefficients(loaded)
    revenue = expected_revenue(loaded)
    # What the plan as written pays (MODEL.md section 9), as `compplan evaluate`: its
    # canonical vectors do not describe a curve, a gate or its own threshold or cap.
    static = evaluate_plan(loaded, coeffs, chosen, revenue=revenue)
    if loaded.spec.response is None:
        if elasticity is not None:
            raise UsageError(f"elasticity: the case {loaded.name!r} has no [response] table "
                             "(the baseline plan reps worked under)")
        return static
    from dataclasses import replace

    from compplan.optimizer.response import ResponseContext, evaluate_response

    figures = evaluate_response(ResponseContext.of(loaded, coeffs, revenue=revenue), chosen,
                                elasticity=None if elasticity is None else float(elasticity),
                                static=static)
    return replace(figures.evaluation, response=figures)


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
    """The plan document for reps (``compplan explain``): Markdown and HTML.

    With ``per_rep`` (:func:`explain`), ``write`` also writes one page per rep of the
    case and an index, in ``reps/``.
    """

    context: dict[str, Any]
    per_rep: tuple[Plan, Case] | None = None

    @property
    def markdown(self) -> str:
        """The document in Markdown."""
        from compplan.render.explain import render_markdown

        return render_markdown(self.context)

    def _repr_html_(self) -> str:
        from compplan.render.explain import render_html

        return render_html(self.context)

    def write(self, folder: str | Path) -> list[Path]:
        """Write ``plan_explained.md`` and ``plan_explained.html`` into ``folder``.

        With the pages per rep: then ``reps/index.html`` and one page per rep.
        """
        from compplan.render.explain import write_explanation, write_rep_pages

        written = write_explanation(Path(folder), self.context)
        if self.per_rep is not None:
            written += write_rep_pages(Path(folder), self.context, *self.per_rep)
        return written


def explain(plan: Plan | str | Path, case: Case | str | Path | None = None, *,
            per_rep: bool = False) -> Document:
    """The plan document for reps: what the plan pays for, and why.

    Parameters
    ----------
    plan : Plan, str or Path
        A ``plan.json``; with ``case`` also a Plan, ``"current"`` or a TOML plan.
    case : Case, str or Path, optional
        The plan's case: goals, median target incentive, what changed from today.
    per_rep : bool
        Also one page per rep of ``case`` (her target incentive, quotas and rates per
        period), written by ``write`` into ``reps/`` (``compplan explain --per-rep``).

    Returns
    -------
    Document
        ``markdown``, an HTML view in notebooks, and ``write(folder)``.
    """
    from compplan.render.explain import explanation, explanation_with_case, read_plan_file

    if per_rep and case is None:
        raise UsageError("--per-rep needs --case (the reps, their target incentives and "
                         "quotas come from the case)")
    if case is None:
        if str(plan) == CURRENT_PLAN or not isinstance(plan, str | Path):
            raise UsageError("a plan other than a plan.json file needs its case")
        source = read_plan_file(plan)
        return Document(explanation(source.plan, source=str(plan), case_name=source.case))
    loaded = _as_case(case)
    chosen = _as_plan(loaded, plan)
    return Document(explanation_with_case(loaded, chosen, str(plan)),
                    (chosen, loaded) if per_rep else None)


def sweep(case: Case | Org | str | Path | None, start: float, stop: float, count: int,
          out: str | Path, **options: Any) -> BatchReport | OrgRun:
    """Sweep the expected-cost cap: a batch with one candidate per cap.

    Parameters
    ----------
    case : Case, Org, str or Path, optional
        A loaded case or a case folder; the bundled default case with ``None``. For an
        organisation (an :class:`Org` or a folder holding ``org.toml``) its cap is swept,
        one joint solve per cap, into ``out`` (``sweep.json``, ``results.csv`` and the
        charts); the answer is an :class:`OrgRun` (options: ``time_limit``, ``resume``,
        ``force``, ``progress``).
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
    BatchReport or OrgRun
        ``to_frame()``: one row per candidate; ``frontier()``: the frontier. For an
        organisation, an :class:`OrgRun`.
    """
    from compplan.batch.spec import MAX_CANDIDATES, budget_sweep

    _sweep_range(start, stop, count, MAX_CANDIDATES)
    out = _folder_arg(out, "out", "an output folder (str or Path)")
    if is_organisation(case):
        assert case is not None
        return _sweep_org_run(_as_org(case), start, stop, count, Path(out), options)
    loaded = _as_case(case)
    if loaded.path is None:
        raise UsageError("a sweep needs a case folder (a sweep is a batch: it records the "
                         "case's files and resumes from them); this case was built from "
                         "DataFrames: write its tables to a folder and load that")
    return batch(budget_sweep(loaded, start, stop, count), out, case=loaded, **options)


def _sweep_range(start: Any, stop: Any, count: Any, most: int) -> None:
    """The factors and the count of a sweep (of a case or an organisation), or UsageError."""
    for name, factor in (("start", start), ("stop", stop)):
        if isinstance(factor, bool) or not isinstance(factor, int | float) \
                or not math.isfinite(factor) or factor <= 0:
            raise UsageError(f"{name} must be a finite factor of the expected-cost cap > 0, "
                             f"got {_shown(factor)}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= most:
        raise UsageError(f"count must be a whole number of caps from 1 to {most:,} "
                         f"(a batch holds at most {most:,} candidates), got "
                         f"{_shown(count)}")


def batch(spec: BatchSpec | str | Path, out: str | Path, *, case: Case | None = None,
          workers: int = 1, scheduler: Any = None, resume: bool = False,
          time_limit: float | None = None, prices: bool = True,
          on_result: Callable[[dict[str, Any]], None] | None = None,
          on_start: Callable[[int, int], None] | None = None,
          chart: bool = True, force: bool = False,
          progress: Callable[[str], None] | None = None) -> BatchReport | OrgRun:
    """Solve every candidate of a batch spec and chart the alignment-cost frontier.

    A spec whose ``case`` is an organisation folder (holding ``org.toml``) is solved
    one joint solve per candidate, in this process, into ``out`` (``batch.json`` and
    ``results.csv``); the answer is then an :class:`OrgRun`.

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
    force : bool
        An organisation's batch: write into a folder holding other files.
    progress : callable, optional
        An organisation's batch: called with a line of text at each step.

    Returns
    -------
    BatchReport or OrgRun
        ``to_frame()``: one row per candidate; ``frontier()``: the frontier. For an
        organisation, an :class:`OrgRun`.
    """
    from compplan.batch.run import BatchOptions
    from compplan.batch.spec import BatchSpec, read_batch_spec
    from compplan.batch.store import run_batch
    from compplan.models.case import Case

    out = _folder_arg(out, "out", "an output folder (str or Path)")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers must be a whole number >= 1, got {_shown(workers)}")
    expanded = spec if isinstance(spec, BatchSpec) else read_batch_spec(
        _folder_arg(spec, "spec", "a BatchSpec or a batch spec TOML file (str or Path)"))
    if case is None and is_organisation(expanded.case_path):
        return _batch_org_run(_as_org(expanded.case_path), expanded, Path(out),
                              {"workers": workers, "scheduler": scheduler, "resume": resume,
                               "time_limit": time_limit, "force": force,
                               "progress": progress})
    if case is not None and not isinstance(case, Case):
        raise UsageError(f"case must be a loaded Case (compplan.load_case) or None, got "
                         f"{type(case).__name__} {_shown(case)}")
    time_limit = _time_limit(time_limit)
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
    from compplan.models.org import is_org_folder, with_budget
    from compplan.models.org import load_org as _load

    folder = _folder_arg(path, "org", _ORG_ALLOWED)
    if not is_org_folder(folder) and (folder / "case.toml").is_file():
        raise UsageError(f"{folder} is a case folder (it holds case.toml), not an "
                         "organisation folder (one holding org.toml); a single case is "
                         "designed by compplan.optimise")
    org = _load(folder)
    return with_budget(org, budget) if budget is not None else org


_ORG_ALLOWED = "an Org (compplan.load_org) or an organisation folder (str or Path)"


def _as_org(org: Org | str | Path) -> Org:
    from compplan.models.case import Case
    from compplan.models.org import Org

    if isinstance(org, Org):
        return org
    if isinstance(org, Case):
        raise UsageError(f"org must be {_ORG_ALLOWED}, got the case {_shown(org.name)}; a "
                         "single case is designed by compplan.optimise")
    return load_org(org)


def _org_plans_arg(plans: Any) -> str | Path:
    """``plans`` of evaluate_org and audit_org: "current" or an org_plan.json path."""
    return _folder_arg(plans, "plans", "'current' (each role's current_plan.toml) or an "
                                       "org_plan.json (str or Path)")


def optimise_org(org: Org | str | Path, *, time_limit: float | None = None,
                 tail_method: TailMethod = "auto",
                 progress: Callable[[str], None] | None = None) -> OrgResult:
    """Design every role's plan at once, under one strategy and one budget.

    Parameters
    ----------
    org : Org, str or Path
        A loaded organisation or its folder.
    time_limit : float, optional
        Seconds for the solver.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    progress : callable, optional
        Called with a line of text at each step.

    Returns
    -------
    OrgResult
        ``status``; ``document`` (the ``org_plan.json`` document), ``roles`` (each
        role's ``plan`` and ``evaluation``); ``write(folder)`` writes what ``compplan
        optimise ORG_DIR`` writes. No plans meeting every rule, or a time limit before
        any, is a status (``diagnosis`` names the conflicting rules), as for
        :func:`optimise`: ``raise_for_status()`` raises ``InfeasibleError`` (exit code
        3) or ``SolverLimitError`` (4).

    Examples
    --------
    >>> import compplan
    >>> out = compplan.optimise_org("cases/gtm_org")
    >>> [role["id"] for role in out.document["roles"]]
    ['sdr', 'ae', 'csm']
    """
    from compplan.optimizer.org_pipeline import optimise_org as _optimise

    limit, method = _time_limit(time_limit), _tail_method(tail_method)
    loaded = _as_org(org)
    return _org_solved(loaded, lambda: _optimise(loaded, time_limit=limit,
                                                 tail_method=method, progress=progress))


def min_budget_org(org: Org | str | Path, *, time_limit: float | None = None,
                   progress: Callable[[str], None] | None = None) -> OrgResult:
    """The cheapest plans meeting every rule but the organisation's expected-cost cap.

    Parameters
    ----------
    org : Org, str or Path
        A loaded organisation or its folder; its expected-cost cap is ignored.
    time_limit : float, optional
        Seconds for the solver.
    progress : callable, optional
        Called with a line of text at each step.

    Returns
    -------
    OrgResult
        ``document["objective"]["expected_cost"]`` is the smallest cap that admits
        plans; ``document["roles"][i]["expected_cost"]`` how it splits by role. When
        the other rules admit no plans at any budget, the status ``infeasible``.
    """
    from compplan.optimizer.org_pipeline import cheapest_org_plans

    limit = _time_limit(time_limit)
    loaded = _as_org(org)
    return _org_solved(loaded, lambda: cheapest_org_plans(loaded, time_limit=limit,
                                                          progress=progress))


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

    plans = _org_plans_arg(plans)
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
    from compplan.batch.spec import MAX_CANDIDATES
    from compplan.optimizer.org_sweep import sweep_org as _sweep

    _sweep_range(start, stop, count, MAX_CANDIDATES)  # as the command line's --budget
    limit = _time_limit(time_limit)
    return _sweep(_as_org(org), float(start), float(stop), count, time_limit=limit)


# ----------------------------------------------------------------- one door: every command
#
# Each command of the command line is one function here, returning a result with its
# document and ``write()``; organisations are handled inside the same functions (issue 19).


@dataclass
class PulseCheck:
    """What :func:`pulse` found: ``pulse.json`` (or ``org_pulse.json``) and how it ended.

    Attributes
    ----------
    document : dict
        ``pulse.json`` (MODEL.md section 8); for an organisation ``org_pulse.json``, each
        role's ``pulse.json`` under ``roles``.
    infeasibility : dict or None
        Why no re-tune saves the year (``infeasibility.json``), else None.
    org : bool
        The check is an organisation's.
    warnings : list of str
        What the case or organisation was accepted with (as the command line prints).
    """

    document: dict[str, Any]
    infeasibility: dict[str, Any] | None = None
    org: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        """``optimal`` with a re-tune (or none needed), ``infeasible`` when none saves the year."""
        return Status.INFEASIBLE if self.infeasibility is not None else Status.OPTIMAL

    @property
    def message(self) -> str:
        """How it ended, in one line."""
        if self.infeasibility is None:
            return "the pulse check is done"
        what = "joint re-tune with the roles'" if self.org else "re-tune with the plan's"
        return (f"no {what} metrics saves the year: "
                + "; ".join(self.infeasibility["explanation"]))

    def raise_for_status(self) -> PulseCheck:
        """Raise :class:`~compplan.errors.InfeasibleError` when no re-tune saves the year."""
        if self.infeasibility is not None:
            raise InfeasibleError(self.message, self.infeasibility)
        return self

    def write_into(self, folder: Path) -> list[Path]:
        """Write the files into an open folder (staged by the caller); their paths there."""
        from compplan.models.output import write_json
        from compplan.render.pulse import write_org_pulse, write_pulse

        written = (write_org_pulse if self.org else write_pulse)(folder, self.document)
        if self.infeasibility is not None:
            write_json(folder / "infeasibility.json", self.infeasibility)
            written.append(folder / "infeasibility.json")
        return written

    def write(self, folder: str | Path, *, force: bool = False,
              inputs: list[Any] | None = None) -> list[Path]:
        """Write the files ``compplan pulse`` writes, as one transaction.

        ``pulse.json`` and ``pulse.md`` (an organisation: ``org_pulse.json``,
        ``org_pulse.md`` and ``<role>/pulse.*``), and ``infeasibility.json`` when no
        re-tune saves the year. ``inputs`` are files the folder must not be.
        """
        from compplan.models.transaction import output_folder

        path = _folder_arg(folder, "folder", "an output folder (str or Path)")
        with output_folder(path, force=force, inputs=inputs or []) as staged:
            written = self.write_into(staged)
        return [path / p.relative_to(staged) for p in written]


def _org_plans(org: Org, plan: str | os.PathLike[str]) -> dict[str, Plan]:
    """Every role's plan in force: 'current', or the roles' plans beside an org_plan.json."""
    from compplan.models.plan import load_plan

    if str(plan) == "current":
        missing = [r.id for r in org.roles if r.case.current_plan is None]
        if missing:
            raise UsageError(f"'current': the role(s) {', '.join(missing)} have no "
                             "current_plan.toml; give the org_plan.json of compplan optimise")
        return {r.id: load_plan(r.case, "current") for r in org.roles}
    from compplan.optimizer.org_evaluate import load_org_plans

    # Its roles must be the organisation's; a role's faulty plan.json is named with its role.
    return dict(load_org_plans(org, plan))


@contextmanager
def _refused_paths() -> Iterator[None]:
    """A path the OS refuses (a name too long, ...) as an input error, as for a plan."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise
        raise CaseError(_cut(str(exc.filename)), f"cannot be used: {exc.strerror or exc}") \
            from None


def is_organisation(source: Any) -> bool:
    """Whether ``source`` is an organisation: an Org, or a folder holding ``org.toml``."""
    from compplan.models.org import Org, is_org_folder

    return isinstance(source, Org) or (isinstance(source, str | os.PathLike)
                                       and not isinstance(source, bytes)
                                       and is_org_folder(source))


def pulse(case: Case | Org | str | Path, plan: Plan | str | Path,
          actuals: str | Path | None = None, *, year_start: date | str | None = None,
          year_periods: int | None = None, allow_new_metrics: bool = False,
          tail_method: TailMethod = "auto", time_limit: float | None = None,
          progress: Callable[[str], None] | None = None,
          chunk_progress: Progress | None = None) -> PulseCheck:
    """The pulse check: what the plan paid so far, the year's forecast, the least re-tune.

    Parameters
    ----------
    case : Case, Org, str or Path
        A case (or its folder), or an organisation (or a folder holding ``org.toml``).
    plan : Plan, str or Path
        The plan in force: a ``plan.json``, a TOML plan or ``"current"``; for an
        organisation its ``org_plan.json`` (or folder) or ``"current"``.
    actuals : str or Path, optional
        Attainment of the elapsed periods (CSV or Parquet, the form of
        ``attainment.csv``); for an organisation a folder of ``<role id>.csv``.
        Give it or ``year_start``, not both.
    year_start : date or str, optional
        For a case from transactions (``[source]``, MODEL.md section 11), instead of
        ``actuals``: the plan year's first day (a date or ``"YYYY-MM-DD"``); the source's
        periods before it are the history, those from it on the year so far
        (``compplan pulse --from``).
    year_periods : int, optional
        ``N``, the periods of the plan year (MODEL.md section 8).
    allow_new_metrics : bool
        Let the re-tune add or drop metrics (a case only).
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    time_limit : float, optional
        Seconds for the re-tune's solver calls.
    progress, chunk_progress : callable, optional
        As for :func:`optimise`.

    Returns
    -------
    PulseCheck
        ``document`` (``pulse.json``), ``infeasibility`` when no re-tune saves the
        year, and ``write(folder)``.
    """
    seconds = _time_limit(time_limit)
    method = _tail_method(tail_method)
    if (actuals is None) == (year_start is None):
        raise UsageError("give --actuals FILE, or --from DATE for a case from transactions "
                         "([source] in case.toml)")
    start = None if year_start is None else _year_start(year_start)
    if is_organisation(case):
        from compplan.models.org_actuals import read_org_actuals
        from compplan.optimizer.org_pulse import org_pulse_check

        if start is not None:
            raise UsageError("--from applies to a case from transactions; give an "
                             "organisation's actuals with --actuals")
        assert actuals is not None
        if allow_new_metrics:
            raise UsageError("--allow-new-metrics applies to a case folder; an organisation's "
                             "joint re-tune keeps every role's metrics")
        org = _as_org(case)
        if not isinstance(plan, str | os.PathLike):
            raise UsageError("plan of an organisation must be 'current' or its org_plan.json "
                             f"(str or Path), got {type(plan).__name__}")
        plans = _org_plans(org, plan)
        with _refused_paths():
            read = read_org_actuals(actuals, org, {rid: [m.id for m in p.metrics]
                                                   for rid, p in plans.items()})
        found = org_pulse_check(org, plans, read, year_periods=year_periods,
                                tail_method=method, time_limit=seconds, progress=progress)
        doc = found.document
        why = ({"org": doc["org"], "status": "infeasible", "explanation": [doc["retune_note"]]}
               if found.beyond_repair else None)
        return PulseCheck(doc, why, org=True, warnings=list(org.warnings))
    from compplan.models.actuals import read_actuals
    from compplan.models.plausibility import plausibility_warnings
    from compplan.optimizer.pulse import needed_metrics, pulse_check

    loaded = _as_case(case)
    warnings = [*loaded.spec.warnings(), *plausibility_warnings(loaded)]
    in_force = _as_plan(loaded, plan)
    if start is not None:  # the history and the year so far from the case's [source]
        loaded, read = _from_source(loaded, start)
    else:
        assert actuals is not None
        # The plan's metrics and those its gates name (a plan as written, MODEL.md s. 9).
        with _refused_paths():
            read = read_actuals(actuals, loaded, needed_metrics(in_force))
    outcome = pulse_check(loaded, in_force, read, year_periods=year_periods,
                          allow_new_metrics=allow_new_metrics, tail_method=method,
                          time_limit=seconds, progress=progress, chunk_progress=chunk_progress)
    why = (None if outcome.infeasibility is None
           else {"case": loaded.name, **outcome.infeasibility})
    return PulseCheck(outcome.document, why, warnings=[str(w) for w in warnings])


def _year_start(value: Any) -> date:
    """``year_start`` as a date: a date, or text ``YYYY-MM-DD``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise UsageError(f"year_start must be a date or 'YYYY-MM-DD', got {_shown(value)}")


def _from_source(loaded: Case, start: date) -> tuple[Case, Any]:
    """The history before ``start`` and the actuals from it on, from the case's source."""
    if loaded.ledger is None:
        raise UsageError("--from reads the actuals from the case's [source] (MODEL.md "
                         "section 11), but this case has attainment.csv; give --actuals FILE")
    from compplan.models.ledger import split_at

    return split_at(loaded, start)


@dataclass
class Report:
    """The plan report (``compplan report``): one self-contained HTML page."""

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def write(self, path: str | Path) -> Path:
        """Write the page to ``path`` (replaced whole, never half-written)."""
        from compplan.models.output import write_atomic

        target = Path(_folder_arg(path, "path", "an output file (str or Path)"))
        write_atomic(target, self.html)
        return target


@dataclass
class Workbook:
    """The live workbook for finance (``compplan export``)."""

    book: Any

    def to_bytes(self) -> bytes:
        """The ``.xlsx`` file's bytes."""
        from compplan.render.workbook import workbook_bytes

        return workbook_bytes(self.book)

    def write(self, path: str | Path) -> Path:
        """Write the workbook to ``path`` (replaced whole, never half-written)."""
        from compplan.render.workbook import write_workbook

        target = Path(_folder_arg(path, "path", "an output file (str or Path)"))
        write_workbook(target, self.book)
        return target


def _org_today(org: Org, plan: str) -> list[str]:
    """``current`` beside PLAN when every role has a current plan and PLAN is not it."""
    if plan == CURRENT_PLAN or any(r.case.current_plan is None for r in org.roles):
        return [plan]
    return [plan, CURRENT_PLAN]


def _org_evaluations(org: Org, refs: list[str],
                     progress: Callable[[str], None] | None) -> list[OrgEvaluation]:
    """Each set of plans evaluated; names kept distinct."""
    from compplan.optimizer.org import org_coefficients
    from compplan.optimizer.org_evaluate import evaluate_org as _evaluate
    from compplan.optimizer.org_evaluate import load_org_plans, plan_label

    (progress or (lambda _: None))("computing payouts under the roles' scenarios")
    coeffs = org_coefficients(org)
    found: list[OrgEvaluation] = []
    for ref in refs:
        plans = load_org_plans(org, ref)
        name = plan_label(ref)
        if name in {e.name for e in found}:
            name = f"{name}_{len(found) + 1}"
        found.append(_evaluate(org, coeffs, plans, name, ref))
    return found


def _org_only(compare: Any, batch: Any, actuals: Any, command: str) -> None:
    """Options of a case's report or workbook refused for an organisation."""
    if compare:
        raise UsageError("--compare applies to a case folder; for an organisation, today's "
                         "plans are shown beside PLAN, and `compplan compare ORG_DIR PLAN...` "
                         "sets any plans side by side")
    if actuals is not None and command == "report":
        raise UsageError("--actuals applies to a case's report; for an organisation run "
                         "compplan pulse ORG_DIR PLAN --actuals DIR")
    if batch is not None:
        raise UsageError("--batch applies to a case folder; for an organisation, `compplan "
                         "sweep ORG_DIR --budget FROM:TO:COUNT` draws its frontier")


def _case_views(case: Case, plan: str, others: tuple[str, ...], actuals: str | Path | None,
                year_periods: int | None, progress: Callable[[str], None] | None,
                chunk_progress: Progress | None) -> dict[str, Any]:
    """What a case's report and workbook show: outcomes, readings, today's plan, the pulse."""
    from compplan.models.plan import Plan, load_plan
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.evaluate import expected_revenue
    from compplan.optimizer.understand import best_alignment, readings
    from compplan.render.report import outcome

    say = progress or (lambda _: None)
    refs = [plan, *others]
    named: list[tuple[str, Plan]] = []
    for ref in refs:
        named.append((_plan_name(ref, {n for n, _ in named}), load_plan(case, ref)))
    # Today's plan is drawn over the payout curves even when not compared.
    today = ([(CURRENT_PLAN, Plan.from_spec(case, case.current_plan))]
             if case.current_plan is not None and CURRENT_PLAN not in refs else [])
    read = None
    if actuals is not None:
        from compplan.models.actuals import read_actuals

        with _refused_paths():
            read = read_actuals(actuals, case, [m.id for m in named[0][1].metrics])
    say("computing payouts under the case's scenarios")
    coeffs = compute_coefficients(case, progress=chunk_progress)
    revenue = expected_revenue(case)
    results = [outcome(case, coeffs, p, name, revenue=revenue) for name, p in [*named, *today]]
    pulse_doc = None
    if read is not None:
        from compplan.optimizer.pulse import pulse_check

        # A plan beyond repair is shown, not an error.
        pulse_doc = pulse_check(case, named[0][1], read, year_periods=year_periods,
                                coefficients=coeffs, progress=progress).document
    say("solving for the best plan within the guardrails (the alignment's scale)")
    best = best_alignment(case, coeffs)
    return {"coeffs": coeffs, "subjects": results[:len(named)],
            "reference": results[-1] if today else None, "pulse": pulse_doc,
            "readings": {o.name: readings(case, coeffs, o.plan, o.evaluation.alignment, best)
                         for o in results}}


def _plan_name(ref: str, taken: set[str]) -> str:
    """``current``, or the file's stem (its folder's name for a ``plan.json``), distinct."""
    path = Path(ref)
    folder = path.absolute().parent.name
    name = (CURRENT_PLAN if ref == CURRENT_PLAN else
            folder if path.stem == "plan" and folder else path.stem)
    if name in taken and ref != CURRENT_PLAN:
        name = f"{path.parent.name}/{path.stem}"
    base, n = name, 2
    while name in taken:
        name, n = f"{base} #{n}", n + 1
    return name


def _read_batch(folder: str | Path | None, case: Case) -> Any:
    from compplan.batch.store import check_batch_of
    from compplan.render.report import read_batch

    if folder is None:
        return None
    check_batch_of(folder, case)  # another case's candidates are not this case's plans
    return read_batch(folder)


def report(case: Case | Org | str | Path, plan: str | Path, *, compare: tuple[str, ...] = (),
           batch: str | Path | None = None, actuals: str | Path | None = None,
           year_periods: int | None = None, progress: Callable[[str], None] | None = None,
           chunk_progress: Progress | None = None,
           elasticity: float | Sequence[float] | None = None) -> Report:
    """The plan report (``compplan report``): one self-contained HTML page with charts.

    Parameters
    ----------
    case : Case, Org, str or Path
        A case (or its folder), or an organisation (or a folder holding ``org.toml``).
    plan : str or Path
        A ``plan.json``, a TOML plan or ``"current"``; for an organisation its
        ``org_plan.json`` or ``"current"``.
    compare : tuple of str
        Other plans beside ``plan`` (a case only).
    batch : str or Path, optional
        An output folder of :func:`batch`: adds its frontier (a case only).
    actuals : str or Path, optional
        Attainment of the elapsed periods: adds the pulse check (a case only).
    year_periods : int, optional
        With ``actuals``: ``N``, the periods of the plan year.
    progress, chunk_progress : callable, optional
        As for :func:`optimise`.
    elasticity : float or sequence of float, optional
        A case with ``[response]`` (MODEL.md section 10): the plan also under each
        elasticity (each replacing every metric's), with a chart of expected payout and
        net value against it. A case with ``[response]`` always gets the section of its
        figures static and under response.

    Returns
    -------
    Report
        ``html`` and ``write(path)``.
    """
    if is_organisation(case):
        from compplan.render.org_report import OrgReportInput, render_org_report

        _org_only(compare, batch, actuals, "report")
        if elasticity is not None:
            raise UsageError("--elasticity applies to a case folder with [response]; an "
                             "organisation's roles with [response] are evaluated under their own "
                             "elasticities (a band over roles is not built)")
        org = _as_org(case)
        found = _org_evaluations(org, _org_today(org, str(plan)), progress)
        return Report(render_org_report(OrgReportInput(org, found[0], str(plan),
                                                       found[1] if len(found) > 1 else None)))
    from compplan.render.explain import explanation_with_case
    from compplan.render.report import ReportInput, render_report

    loaded = _as_case(case)
    band = None if elasticity is None else _elasticities(loaded, elasticity)
    table = _read_batch(batch, loaded)
    views = _case_views(loaded, str(plan), tuple(str(p) for p in compare), actuals,
                        year_periods, progress, chunk_progress)
    subjects = views["subjects"]
    response = None
    if loaded.spec.response is not None:
        from compplan.render.report_response import response_context

        response = response_context(loaded, _response_figures(
            loaded, views["coeffs"], subjects[0].plan, subjects[0].evaluation, band or []))
    section = None
    if views["pulse"] is not None:
        from compplan.render.report_pulse import pulse_context

        section = pulse_context(views["pulse"], str(actuals))
    return Report(render_report(ReportInput(
        loaded, subjects, str(plan), reference=views["reference"],
        document=explanation_with_case(loaded, subjects[0].plan, str(plan), views["coeffs"]),
        batch=table, batch_source=None if batch is None else str(batch),
        readings=views["readings"], pulse=section,
        pulse_source=None if actuals is None else str(actuals), response=response)))


def _response_figures(case: Case, coeffs: Any, plan: Plan, static: Evaluation | None,
                      band: Sequence[float], ctx: Any = None) -> list[Any]:
    """MODEL.md section 10: the plan under the case's elasticities, then under each of band."""
    from compplan.optimizer.response import ResponseContext, evaluate_response

    ctx = ctx if ctx is not None else ResponseContext.of(case, coeffs)
    return ([evaluate_response(ctx, plan, static=static)]
            + [evaluate_response(ctx, plan, elasticity=e, static=static) for e in band])


def export(case: Case | Org | str | Path, plan: str | Path, *, batch: str | Path | None = None,
           actuals: str | Path | None = None, year_periods: int | None = None,
           progress: Callable[[str], None] | None = None,
           chunk_progress: Progress | None = None,
           elasticity: float | Sequence[float] | None = None) -> Workbook:
    """The live workbook for finance (``compplan export``).

    Parameters are those of :func:`report` (no ``compare``); ``actuals`` adds the Pulse
    sheet. An organisation gets its Organisation sheet and a sheet per role. A case with
    ``[response]`` gets the Response sheet (multipliers, outcomes and net value live from
    the Plan sheet's parameters), and with ``elasticity`` the Response band sheet.

    Returns
    -------
    Workbook
        ``book`` (openpyxl), ``to_bytes()`` and ``write(path)``.
    """
    if is_organisation(case):
        from compplan.render.org_workbook import build_org_workbook

        _org_only((), batch, actuals, "export")
        if elasticity is not None:
            raise UsageError("--elasticity applies to a case folder with [response]; an "
                             "organisation's roles with [response] are evaluated under their own "
                             "elasticities (a band over roles is not built)")
        org = _as_org(case)
        found = _org_evaluations(org, _org_today(org, str(plan)), progress)
        return Workbook(build_org_workbook(org, found[0], source=str(plan),
                                           today=found[1] if len(found) > 1 else None))
    # openpyxl takes a tenth of a second to import: only the command that writes needs it.
    from compplan.render.workbook import build_workbook

    loaded = _as_case(case)
    band = None if elasticity is None else _elasticities(loaded, elasticity)
    table = _read_batch(batch, loaded)
    views = _case_views(loaded, str(plan), (), actuals, year_periods, progress,
                        chunk_progress)
    result = views["subjects"][0]
    sheets: list[Any] = []
    if loaded.spec.response is not None:
        from compplan.optimizer.response import ResponseContext
        from compplan.render.workbook_response import response_sheets

        ctx = ResponseContext.of(loaded, views["coeffs"])
        sheets += response_sheets(ctx, result.plan, _response_figures(
            loaded, views["coeffs"], result.plan, result.evaluation, band or [], ctx))
    if views["pulse"] is not None:
        from compplan.render.workbook_pulse import pulse_sheet

        doc = views["pulse"]
        sheets.append(lambda book: pulse_sheet(book, doc))
    return Workbook(build_workbook(
        loaded, result, source=str(plan), batch=table,
        batch_source=None if batch is None else str(batch),
        readings=views["readings"][result.name], coeffs=views["coeffs"],
        current=views["reference"], add_sheets=sheets))


@dataclass
class Validation:
    """What :func:`validate` found: a valid case or organisation, said in one line.

    Attributes
    ----------
    source : Case or Org
        What was loaded.
    summary : str
        The line ``compplan validate`` prints.
    warnings : list of str
        What was accepted with a warning (data allowed but probably wrong).
    org : bool
        It is an organisation.
    details : list of str
        The lines ``compplan validate`` prints after the summary: for a case from
        transactions (MODEL.md section 11), per metric and period the transactions
        matched, quota coverage, and the transactions of unknown reps, off the plan or
        outside every period.
    """

    source: Any
    summary: str
    warnings: list[str] = field(default_factory=list)
    org: bool = False
    details: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<Validation: {self.summary}>"


def validate(path: str | Path | None = None) -> Validation:
    """Check a case folder, or an organisation folder and every role, without solving.

    Parameters
    ----------
    path : str or Path, optional
        A case folder, a folder holding ``org.toml``, or None for the bundled case.

    Returns
    -------
    Validation
        ``summary`` (what ``compplan validate`` prints) and ``warnings``.

    Raises
    ------
    CaseError
        The first problem found, naming the file, line or row and field (exit code 2).
    """
    from compplan.models.scenarios import build_scenarios

    if path is not None and is_organisation(path):
        org = load_org(path)
        parts = []
        for role in org.roles:
            scenarios = build_scenarios(role.case)
            parts.append(f"{role.id}: {len(role.case.reps)} reps, "
                         f"{len(role.case.metric_ids)} candidate metrics, {scenarios.count} "
                         f"{scenarios.mode} scenarios")
        return Validation(org, f"{org.path}: valid organisation '{org.name}', "
                               f"{len(org.roles)} roles (" + "; ".join(parts) + ")",
                          [str(w) for w in org.warnings], org=True)
    from compplan.models.plausibility import plausibility_warnings

    loaded = load_case(path)
    warnings = [str(w) for w in [*loaded.spec.warnings(), *plausibility_warnings(loaded)]]
    scenarios = build_scenarios(loaded)
    if loaded.spec.response is not None:  # the baseline must pay for progress (s. 10)
        from compplan.optimizer.coefficients import compute_coefficients
        from compplan.optimizer.response import baseline

        baseline(loaded, compute_coefficients(loaded, scenarios), scenarios)
    extras = [name for name, present in (("quotas.csv", loaded.quotas is not None),
                                         ("current_plan.toml", loaded.current_plan is not None))
              if present]
    details: list[str] = []
    if loaded.ledger is not None:  # a case from transactions (MODEL.md section 11)
        from compplan.models.ledger import report_lines

        details = list(report_lines(loaded.ledger.report, len(loaded.reps)))
    return Validation(loaded, (
        f"{loaded.path}: valid. '{loaded.name}': {len(loaded.reps)} reps, "
        f"{len(loaded.metric_ids)} candidate metrics, {len(loaded.periods)} periods, "
        f"{scenarios.count} {scenarios.mode} scenarios"
        + (f"; with {', '.join(extras)}" if extras else "") + _data_notes(loaded)), warnings,
        details=details)


def _data_notes(case: Case) -> str:
    """What validate adds for joiners and leavers and for annual money (MODEL.md s. 5)."""
    notes = []
    if case.present is not None:
        absent = int((~case.present).sum())
        partial = int((~case.present).any(axis=1).sum())
        notes.append(f"{partial} reps joined or left ({absent} rep-periods off the plan)")
    per_year = case.spec.case.periods_per_year
    if per_year:
        notes.append(f"money per year ({per_year} periods a year)")
    return "".join(f"; {n}" for n in notes)


@dataclass
class Comparison:
    """Plans side by side (``compplan compare``): ``compare.csv`` and ``compare.md``.

    Attributes
    ----------
    title : str
        ``<case>: <plan> vs <plan>``.
    csv, markdown : str
        The two files' text.
    columns : list
        A case's: one column of figures per plan (``compplan.render.figures.Column``).
    rows : list of dict
        An organisation's: one row per figure, a column per set of plans.
    org : bool
        The comparison is an organisation's.
    inputs : list of Path
        What it read: an output folder may not be or hold one of them.
    """

    title: str
    csv: str
    markdown: str
    columns: list[Any] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    org: bool = False
    inputs: list[Any] = field(default_factory=list)

    def write_into(self, folder: Path) -> list[Path]:
        """Write the files into an open (staged) folder; their paths there."""
        from compplan.models.output import write_atomic

        written = [folder / "compare.csv", folder / "compare.md"]
        write_atomic(written[0], self.csv)
        write_atomic(written[1], self.markdown)
        return written

    def write(self, folder: str | Path, *, force: bool = False) -> list[Path]:
        """Write ``compare.csv`` and ``compare.md`` into ``folder``, as one transaction."""
        return _write_set(self, folder, force)


def _write_set(result: Any, folder: str | Path, force: bool) -> list[Path]:
    """``result.write_into`` as one transaction into ``folder``, never over its inputs."""
    from compplan.models.transaction import output_folder

    path = _folder_arg(folder, "folder", "an output folder (str or Path)")
    with output_folder(path, force=force, inputs=result.inputs) as staged:
        names = [p.name for p in result.write_into(staged)]
    return [path / name for name in names]

def compare(case: Case | Org | str | Path, plans: list[str] | tuple[str, ...], *,
            progress: Callable[[str], None] | None = None,
            chunk_progress: Progress | None = None,
            elasticity: float | Sequence[float] | None = None) -> Comparison:
    """Two or more plans side by side, with each one's difference from the first.

    Parameters
    ----------
    case : Case, Org, str or Path
        A case (or its folder), or an organisation (or a folder holding ``org.toml``).
    plans : list of str
        ``"current"``, ``plan.json`` or TOML plans; for an organisation ``"current"`` or
        ``org_plan.json`` files.
    progress, chunk_progress : callable, optional
        As for :func:`optimise`.
    elasticity : float or sequence of float, optional
        A case with ``[response]`` (MODEL.md section 10): each plan also under each
        elasticity (each replacing every metric's). With ``[response]`` the columns are
        each plan under response, then static, then under each elasticity.

    Returns
    -------
    Comparison
        The figures, ``compare.csv`` and ``compare.md``, and ``write(folder)``.
    """
    from compplan.models.text import markdown_safe
    from compplan.render.safe import csv_text

    refs = [str(p) for p in plans]
    if is_organisation(case):
        import pandas as pd

        from compplan.optimizer.org_evaluate import compare_markdown, compare_rows

        if len(refs) < 2:
            raise UsageError("compare needs at least two plans (give `current` and an "
                             "org_plan.json, or two org_plan.json files)")
        if elasticity is not None:
            raise UsageError("--elasticity applies to a case folder with [response]; an "
                             "organisation's roles with [response] are evaluated under their own "
                             "elasticities (a band over roles is not built)")
        org = _as_org(case)
        found = _org_evaluations(org, refs, progress)
        rows = compare_rows(found)
        title = f"{org.name}: {' vs '.join(e.name for e in found)}"
        return Comparison(title, csv_text(pd.DataFrame(rows)),
                          markdown_safe(compare_markdown(title, rows)),
                          rows=rows, org=True,
                          inputs=[org.path, *(p for p in refs if p != CURRENT_PLAN)])
    from compplan.models.plan import load_plan
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.evaluate import evaluate_plan, expected_revenue
    from compplan.render.figures import columns_of, markdown_table, side_by_side

    if len(refs) < 2:
        raise UsageError("compare needs at least two plans (give `current` and a plan file, "
                         "or two plan files)")
    loaded = _as_case(case)
    named: list[tuple[str, Plan]] = []
    for ref in refs:
        named.append((_plan_name(ref, {n for n, _ in named}), load_plan(loaded, ref)))
    (progress or (lambda _: None))("computing payouts under the case's scenarios")
    coeffs = compute_coefficients(loaded, progress=chunk_progress)
    revenue = expected_revenue(loaded)
    band = None if elasticity is None else _elasticities(loaded, elasticity)
    evaluated = [(n, p, evaluate_plan(loaded, coeffs, p, revenue=revenue)) for n, p in named]
    if loaded.spec.response is not None:
        evaluated = _under_response(loaded, coeffs, evaluated, revenue, band or [])
    columns = columns_of(loaded, evaluated, coeffs)
    title = f"{loaded.name}: {' vs '.join(c.name for c in columns)}"
    return Comparison(title, csv_text(side_by_side(columns)),
                      markdown_safe(markdown_table(title, columns)),
                      columns=columns,
                      inputs=[p for p in (loaded.path, *refs) if p and p != CURRENT_PLAN])


def _under_response(case: Case, coeffs: Any, evaluated: list[tuple[str, Plan, Evaluation]],
                    revenue: float | None, band: list[float]
                    ) -> list[tuple[str, Plan, Evaluation]]:
    """MODEL.md section 10: each plan under response, then static, then under each of band."""
    from compplan.optimizer.response import ResponseContext, evaluate_response
    from compplan.render.response import STATIC, column_name

    ctx = ResponseContext.of(case, coeffs, revenue=revenue)
    responses = [[evaluate_response(ctx, plan, static=ev)]
                 + [evaluate_response(ctx, plan, elasticity=e, static=ev) for e in band]
                 for _, plan, ev in evaluated]
    return ([(column_name(n, figs[0]), p, figs[0].evaluation)
             for (n, p, _), figs in zip(evaluated, responses, strict=True)]
            + [(f"{n} {STATIC}", p, ev) for n, p, ev in evaluated]
            + [(column_name(n, f), p, f.evaluation)
               for (n, p, _), figs in zip(evaluated, responses, strict=True) for f in figs[1:]])


@dataclass
class AuditReport:
    """An audit as ``compplan audit`` writes it, for a case or an organisation.

    ``audit.json`` / ``audit.md`` for a case, ``audit_org.json`` / ``audit_org.md`` (the
    conflict map) for an organisation.

    Attributes
    ----------
    audit : Audit or OrgAudit
        The audit itself.
    org : bool
        It is an organisation's.
    inputs : list of Path
        What it read: an output folder may not be or hold one of them.
    """

    audit: Any
    org: bool = False
    inputs: list[Any] = field(default_factory=list)
    #: A case with ``[response]``: the plan's figures static and under response
    #: (:class:`~compplan.optimizer.response.ResponseFigures`), and their lines for
    #: the terminal and ``audit.md``.
    response: Any = None
    response_lines: list[str] = field(default_factory=list)
    response_markdown: list[str] = field(default_factory=list)

    @property
    def document(self) -> dict[str, Any]:
        """``audit.json`` (or ``audit_org.json``); with ``[response]`` its ``response``."""
        doc = dict(self.audit.to_dict())
        if self.response is not None:
            doc["response"] = self.response.to_dict()
        return doc

    @property
    def markdown(self) -> str:
        """``audit.md`` (or ``audit_org.md``)."""
        from compplan.models.text import markdown_safe

        if self.org:
            from compplan.optimizer.org_audit import audit_markdown as org_markdown

            return markdown_safe(org_markdown(self.audit))
        from compplan.render.audit import audit_markdown

        extra = "".join(line + "\n" for line in self.response_markdown)
        return markdown_safe(audit_markdown(self.audit) + extra)

    def write_into(self, folder: Path) -> list[Path]:
        """Write the two files into an open (staged) folder; their paths there."""
        from compplan.models.output import write_atomic, write_json

        stem = "audit_org" if self.org else "audit"
        written = [folder / f"{stem}.json", folder / f"{stem}.md"]
        write_json(written[0], self.document)
        write_atomic(written[1], self.markdown)
        return written

    def write(self, folder: str | Path, *, force: bool = False) -> list[Path]:
        """Write the files ``compplan audit`` writes into ``folder``, as one transaction."""
        return _write_set(self, folder, force)


def audit_report(case: Case | Org | str | Path, plan: Plan | str | Path = "current"
                 ) -> AuditReport:
    """The audit of a case's plan or of an organisation's plans, as ``compplan audit``.

    Parameters
    ----------
    case : Case, Org, str or Path
        A case (or its folder), or an organisation (or a folder holding ``org.toml``).
    plan : Plan, str or Path
        As for :func:`audit`; for an organisation ``"current"`` (the roles that have a
        current plan) or an ``org_plan.json``.

    Returns
    -------
    AuditReport
        ``audit``, ``document``, ``markdown`` and ``write(folder)``.
    """
    if is_organisation(case):
        from compplan.models.plan import load_plan
        from compplan.optimizer.org import org_coefficients
        from compplan.optimizer.org_audit import audit_org as _audit_org

        org = _as_org(case)
        plans: dict[str, Plan] = {}
        if str(plan) == "current":
            name = "today's plans"
            for role in org.roles:
                if role.case.current_plan is not None:
                    plans[role.id] = load_plan(role.case, "current")
        else:
            from compplan.optimizer.org_evaluate import load_org_plans

            name = str(plan)
            # The org's roles, each plan named with its role.
            plans = load_org_plans(org, _org_plans_arg(plan))
        return AuditReport(_audit_org(org, org_coefficients(org), plans, name), org=True,
                           inputs=[org.path])
    loaded = _as_case(case)
    refs = [] if not isinstance(plan, str | os.PathLike) or str(plan) == CURRENT_PLAN \
        else [plan]
    found = AuditReport(audit(loaded, plan), inputs=[p for p in (loaded.path, *refs) if p])
    if loaded.spec.response is not None:  # MODEL.md section 10: the figures under response
        from compplan.optimizer.coefficients import compute_coefficients
        from compplan.render.response import response_lines, response_markdown

        figures = _response_figures(loaded, compute_coefficients(loaded),
                                    _as_plan(loaded, plan), None, [])[0]
        found.response = figures
        found.response_lines = response_lines(loaded, figures)
        found.response_markdown = response_markdown(loaded, figures)
    return found


#: ``evaluation.json``'s schema (``compplan evaluate``).
EVALUATION_SCHEMA = "compplan.evaluation/1"
#: The name of a what-if's column.
WHATIF = "what-if"


@dataclass
class EvaluationReport:
    """A plan's evaluation as ``compplan evaluate`` writes it, for a case or an organisation.

    ``evaluation.json`` and, for a case, ``rep_payouts.csv`` (MODEL.md sections 6, 7, 10).

    Attributes
    ----------
    document : dict
        ``evaluation.json``.
    org : bool
        It is an organisation's (``evaluation`` is then an ``OrgEvaluation``).
    inputs : list of Path
        What it read: an output folder may not be or hold one of them.
    case : Case or None
        A case's: the case.
    columns : list
        A case's: the plan's column of figures, then the what-if's
        (``compplan.render.figures.Column``).
    responses : list of list or None
        A case with ``[response]``: per column, its figures under response, then under
        each elasticity of the band.
    modifiers : list of Modifier
        The what-if's modifiers, in the order applied.
    evaluation : OrgEvaluation or None
        An organisation's: every role's plan and the total.
    """

    document: dict[str, Any]
    org: bool = False
    inputs: list[Any] = field(default_factory=list)
    case: Case | None = None
    columns: list[Any] = field(default_factory=list)
    responses: list[list[Any]] | None = None
    modifiers: list[Any] = field(default_factory=list)
    evaluation: Any = None
    coefficients: Any = None

    @property
    def plan(self) -> Plan | None:
        """A case's evaluated plan, modified by the what-if when there is one."""
        return self.columns[-1].plan if self.columns else None

    @property
    def plan_toml(self) -> str:
        """The (modified) plan in the form of ``current_plan.toml`` (``--write-plan``)."""
        if self.case is None or self.plan is None:
            raise UsageError("--write-plan applies to a case folder, not to an organisation: "
                             "give a role's folder for a what-if")
        return self.plan.to_toml(self.case)

    @property
    def payouts(self) -> Any:
        """A case's ``rep_payouts.csv`` as a DataFrame (None for an organisation)."""
        if self.case is None:
            return None
        plans = [("", self.columns[0].plan)]
        if len(self.columns) > 1:
            plans.append(("whatif_", self.columns[1].plan))
        return _rep_payouts(self.case, self.coefficients, plans, self.responses)

    def write_into(self, folder: Path) -> list[Path]:
        """Write the files into an open (staged) folder; their paths there."""
        from compplan.models.output import write_atomic, write_json
        from compplan.render.safe import csv_text

        written = [folder / "evaluation.json"]
        write_json(written[0], self.document)
        if self.case is not None:
            written.append(folder / "rep_payouts.csv")
            write_atomic(written[1], csv_text(self.payouts))
        return written

    def write(self, folder: str | Path, *, force: bool = False) -> list[Path]:
        """Write the files ``compplan evaluate`` writes into ``folder``, as one transaction."""
        return _write_set(self, folder, force)


def _rep_payouts(case: Case, coeffs: Any, plans: Sequence[tuple[str, Plan]],
                 responses: Sequence[Sequence[Any]] | None = None) -> Any:
    """``rep_payouts.csv``: each rep's expected payout under each plan (and response)."""
    import numpy as np
    import pandas as pd

    from compplan.optimizer.evaluate import plan_payouts

    reps = case.reps
    grouping = [c for c in reps.columns if c != "target_incentive"]
    table = pd.DataFrame({"rep_id": reps.index, **{c: reps[c].to_numpy() for c in grouping},
                          "target_incentive": case.target_incentive})
    if coeffs.present is not None:  # joiners and leavers: expected payout is while on the plan
        table["share_of_periods_on_plan"] = coeffs.present
    for prefix, plan in plans:
        share = plan_payouts(case, coeffs, plan).shares
        table[f"{prefix}expected_payout"] = case.target_incentive * share
        table[f"{prefix}share_of_target"] = share
    for (prefix, plan), figs in zip(plans, responses or [], strict=False):
        # MODEL.md section 10: each rep's expected payout once reps respond.
        from compplan.optimizer.response import marginal, response_payouts

        lam = np.array([figs[0].multipliers[k] for k in case.metric_ids])
        share = response_payouts(case, coeffs, plan, lam, marginal(case, coeffs, plan)).shares
        table[f"{prefix}expected_payout_under_response"] = case.target_incentive * share
        table[f"{prefix}share_of_target_under_response"] = share
    return table


def _modifier(item: Any) -> Any:
    """A what-if modifier: a Modifier, or ``("set", "weight.a=0.3")`` / ``("shift", ...)``."""
    from compplan.models.whatif import Modifier, parse_set, parse_shift

    if isinstance(item, Modifier):
        return item
    if isinstance(item, tuple) and len(item) == 2 and item[0] in ("set", "shift") \
            and isinstance(item[1], str):
        return parse_set(item[1]) if item[0] == "set" else parse_shift(item[1])
    raise UsageError("whatif must hold ('set', 'KIND.ID=VALUE') or ('shift', "
                     f"'AMOUNT:FROM->TO') pairs, got {_shown(item)}")


def evaluation_report(case: Case | Org | str | Path, plan: Plan | str | Path = "current", *,
                      whatif: Sequence[Any] = (),
                      elasticity: float | Sequence[float] | str | None = None,
                      progress: Callable[[str], None] | None = None,
                      chunk_progress: Progress | None = None) -> EvaluationReport:
    """A plan's evaluation as ``compplan evaluate`` writes it, for a case or an organisation.

    Parameters
    ----------
    case : Case, Org, str or Path
        A case (or its folder), or an organisation (or a folder holding ``org.toml``).
    plan : Plan, str or Path
        As for :func:`evaluate`; for an organisation ``"current"`` or an
        ``org_plan.json``.
    whatif : sequence
        A case's what-if, applied in order: ``("set", "weight.ID=0.3")`` and
        ``("shift", "0.4:FROM->TO")`` pairs (as ``--set`` and ``--shift``), or parsed
        modifiers.
    elasticity : float, sequence of float or str, optional
        A case with ``[response]``: the figures also under each elasticity (each
        replacing every metric's), the band of ``evaluation.json``; a string is read as
        ``--elasticity`` (``"0.2,0.3,0.4"``).
    progress, chunk_progress : callable, optional
        As for :func:`optimise`.

    Returns
    -------
    EvaluationReport
        ``document`` (``evaluation.json``), ``columns``, ``plan_toml`` and
        ``write(folder)``.
    """
    from compplan.models.money import periods_per_year
    from compplan.models.whatif import apply_modifiers
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.evaluate import evaluate_plan, expected_revenue
    from compplan.render.figures import columns_of, difference

    if is_organisation(case):
        for item in list(whatif)[:1]:
            kind = item[0] if isinstance(item, tuple) else str(item.text).split()[0][2:]
            raise UsageError(f"--{kind} applies to a case folder, not to an organisation: "
                             "give a role's folder for a what-if")
        if elasticity is not None:
            raise UsageError("--elasticity applies to a case folder with [response]; an "
                             "organisation's roles with [response] are evaluated under their own "
                             "elasticities (a band over roles is not built)")
        org = _as_org(case)
        ref = str(_org_plans_arg(plan))
        (found,) = _org_evaluations(org, [ref], progress)
        return EvaluationReport(found.to_dict(), org=True, evaluation=found,
                                inputs=[org.path, *([] if ref == CURRENT_PLAN else [ref])])
    modifiers = [_modifier(m) for m in whatif]
    loaded = _as_case(case)
    if isinstance(plan, str | os.PathLike) and not isinstance(plan, bytes):
        ref = str(plan)
        name = _plan_name(ref, set())
    else:
        ref, name = "", "plan"
    base = _as_plan(loaded, plan)
    changed = apply_modifiers(loaded, base, modifiers) if modifiers else None
    band: list[float] = []
    if elasticity is not None:
        if loaded.spec.response is None:
            raise UsageError(f"--elasticity: {_case_file(loaded)} has no [response] table "
                             "(the baseline plan reps worked under); add one to see figures "
                             "under response")
        if isinstance(elasticity, str):  # as --elasticity: "0.2,0.3"
            from compplan.optimizer.response import parse_elasticities

            band = parse_elasticities(elasticity)
        else:
            band = _elasticities(loaded, elasticity)
    (progress or (lambda _: None))("computing payouts under the case's scenarios")
    coeffs = compute_coefficients(loaded, progress=chunk_progress)
    revenue = expected_revenue(loaded)
    named = [(name, base, evaluate_plan(loaded, coeffs, base, revenue=revenue))]
    if changed is not None:
        named.append((WHATIF, changed, evaluate_plan(loaded, coeffs, changed, revenue=revenue)))
    responses = None
    if loaded.spec.response is not None:  # MODEL.md section 10: under response
        from compplan.optimizer.response import ResponseContext, evaluate_response

        ctx = ResponseContext.of(loaded, coeffs, revenue=revenue)
        responses = [[evaluate_response(ctx, p, static=ev)]
                     + [evaluate_response(ctx, p, elasticity=e, static=ev) for e in band]
                     for _, p, ev in named]
        named = [(n, p, figs[0].evaluation) for (n, p, _), figs in zip(named, responses,
                                                                        strict=True)]
    columns = columns_of(loaded, named, coeffs)
    first = columns[0]
    per_year = periods_per_year(loaded)
    doc: dict[str, Any] = {
        "schema": EVALUATION_SCHEMA, "case": loaded.name,
        "currency": loaded.spec.case.currency,
        **({"periods_per_year": per_year} if per_year else {}),
        "plan": {"name": first.name, "source": ref, "metrics": first.plan.to_records()},
        "evaluation": first.evaluation.to_dict()}
    if len(columns) > 1:
        second = columns[1]
        doc["whatif"] = {
            "modifiers": [m.text for m in modifiers], "metrics": second.plan.to_records(),
            "evaluation": second.evaluation.to_dict(),
            "differences": {a.key: d for a, b in zip(first.figures, second.figures,
                                                     strict=True)
                            if (d := difference(a, b)) is not None}}
    for i, figs in enumerate(responses or []):  # MODEL.md section 10
        block = figs[0].to_dict()
        if len(figs) > 1:
            block["band"] = [f.to_dict() for f in figs[1:]]
        (doc if i == 0 else doc["whatif"])["response"] = block
    inputs = [p for p in (loaded.path, *([] if ref in ("", CURRENT_PLAN) else [ref])) if p]
    return EvaluationReport(doc, inputs=inputs, case=loaded, columns=columns,
                            responses=responses, modifiers=modifiers, coefficients=coeffs)


def _case_file(case: Case) -> str:
    """``<folder>/case.toml`` as messages name it."""
    return str(case.path / "case.toml") if case.path is not None else "the case"


@dataclass
class OrgRun:
    """An organisation's sweep or batch as ``compplan sweep``/``batch`` writes it.

    Attributes
    ----------
    org : Org
        The organisation.
    kind : str
        ``"sweep"`` (``sweep.json``, ``results.csv`` and the charts) or ``"batch"``
        (``batch.json`` and ``results.csv``).
    document : dict
        ``sweep.json`` or ``batch.json``.
    rows : list of dict
        ``results.csv``: one row per cap or candidate.
    sweep : OrgSweep or None
        A sweep's points, frontier and next dollar.
    left : int
        Caps or candidates not solved (after Ctrl-C); ``resume=True`` continues them.
    written : list of Path
        The files written.
    """

    org: Org
    kind: str
    document: dict[str, Any]
    rows: list[dict[str, Any]]
    sweep: Any = None
    left: int = 0
    written: list[Path] = field(default_factory=list)

    def write_into(self, folder: Path) -> list[Path]:
        """Write the files into an open (staged) folder; their paths there."""
        import json

        import pandas as pd

        from compplan.models.output import write_atomic
        from compplan.render.safe import csv_text

        written = [folder / f"{self.kind}.json", folder / "results.csv"]
        text = (json.dumps(self.document, indent=2, allow_nan=False) if self.kind == "sweep"
                else json.dumps(self.document, indent=2))
        write_atomic(written[0], text + "\n")
        write_atomic(written[1], csv_text(pd.DataFrame(self.rows)))
        if self.sweep is not None:
            from compplan.render.org_charts import sweep_charts

            per = money_per_org(self.org)
            for name, (png, svg) in sweep_charts(self.sweep, per).items():
                written += [folder / f"{name}.png", folder / f"{name}.svg"]
                write_atomic(written[-2], png)
                write_atomic(written[-1], svg)
        return written


def money_per_org(org: Org) -> str:
    """``per year`` or ``per period``: every role's money has the same unit of time."""
    from compplan.models.money import money_per

    return money_per(org.roles[0].case)


def _org_run_options(options: dict[str, Any], what: str) -> tuple[Any, bool, bool, Any]:
    """time_limit, resume, force and progress of an organisation's sweep or batch."""
    for option, name in (("--workers", "workers"), ("--scheduler", "scheduler")):
        if options.get(name) not in (None, 1) or (name == "scheduler" and options.get(name)):
            raise UsageError(f"{option} applies to a case folder; an organisation's {what} "
                             "solves them one after the other")
    known = {"workers", "scheduler", "resume", "time_limit", "force", "progress", "prices",
             "on_result", "on_start", "chart"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(f"{what} takes no option {unknown[0]!r}")
    return (_time_limit(options.get("time_limit")), bool(options.get("resume")),
            bool(options.get("force")), options.get("progress"))


def _org_earlier(out: Path, name: str, same: Callable[[dict[str, Any]], bool],
                 key: Callable[[dict[str, Any]], Any], kind: str, other: str,
                 shown_key: str) -> dict[Any, dict[str, Any]]:
    """The entries of an earlier organisation sweep or batch in ``out``, for resume."""
    import json

    from compplan.models.text import shown

    path = out / name
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = {key(e): e for e in doc["points" if kind == "sweep" else "candidates"]}
        alike = same(doc)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(f"{path} cannot be read as an organisation {kind}; run again "
                         "without --resume (into a new folder, or with --force)") from None
    if not alike:
        raise UsageError(f"{out} holds a {kind} of another {other} "
                         f"({shown(str(doc.get(shown_key)))}); --resume continues the "
                         + ("same sweep: give its folder, or run without --resume"
                            if kind == "sweep" else
                            "batch of the same spec: give its folder, or run without --resume"))
    return entries


def _sweep_org_run(org: Org, start: float, stop: float, count: int, out: Path,
                   options: dict[str, Any]) -> OrgRun:
    """``compplan sweep ORG_DIR``: one joint solve per cap, written into ``out``."""
    from compplan.models.transaction import output_folder
    from compplan.optimizer.org_sweep import NOT_SOLVED
    from compplan.optimizer.org_sweep import sweep_org as _sweep

    limit, resume, force, progress = _org_run_options(options, "sweep")
    text = f"--budget {start:.15g}:{stop:.15g}:{count}"
    earlier = _org_earlier(
        out, "sweep.json", lambda d: d.get("org") == org.name and d.get("sweep") == text,
        lambda p: round(float(p["cap"]), 2), "sweep", "organisation or range",
        "sweep") if resume else None
    found = _sweep(org, float(start), float(stop), count, time_limit=limit,
                   progress=progress, earlier=earlier)
    run = OrgRun(org, "sweep", {**found.to_dict(), "sweep": text}, found.to_rows(), found,
                 left=sum(p.status == NOT_SOLVED for p in found.points))
    with output_folder(out, force=force, inputs=[org.path]) as staged:
        run.written = [out / p.name for p in run.write_into(staged)]
    return run


def _batch_org_run(org: Org, spec: BatchSpec, out: Path, options: dict[str, Any]) -> OrgRun:
    """``compplan batch SPEC`` whose case is an organisation: one joint solve each."""
    from compplan.models.transaction import output_folder
    from compplan.optimizer.org_sweep import NOT_SOLVED, batch_org

    limit, resume, force, progress = _org_run_options(options, "batch")
    earlier = _org_earlier(
        out, "batch.json", lambda d: d.get("schema") == "compplan.org_batch/1"
        and d.get("org") == org.name and d.get("spec") == spec.source,
        lambda r: str(r["id"]), "batch", "spec or organisation", "spec") if resume else None
    rows = batch_org(org, [(c.id, c.name, c.params, c.where) for c in spec.candidates],
                     spec.source, time_limit=limit, progress=progress, earlier=earlier)
    doc = {"schema": "compplan.org_batch/1", "org": org.name, "currency": org.currency,
           "spec": spec.source, "candidates": rows}
    run = OrgRun(org, "batch", doc, rows,
                 left=sum(row["status"] == NOT_SOLVED for row in rows))
    with output_folder(out, force=force, inputs=[org.path]) as staged:
        run.written = [out / p.name for p in run.write_into(staged)]
    return run



# ------------------------------------------------------------- for the command line
#
# The command line imports only this module (issue 19): what its terminal output needs
# from the lower layers is re-exported here, loaded on first use so that importing the
# API stays cheap (the formatting helpers, the types its annotations name, and the
# parsers of its option values).

_FOR_THE_COMMAND_LINE: dict[str, tuple[str, str | None]] = {
    "fmt": ("compplan.models.fmt", None),
    **{name: ("compplan.models.money", name) for name in ("money_per", "annual_note")},
    **{name: ("compplan.models.output", name) for name in ("prepare_folder", "write_atomic")},
    "shown": ("compplan.models.text", "shown"),
    **{name: ("compplan.models.transaction", name)
       for name in ("shorten", "OutputError", "check_output_file", "output_folder")},
    "plausibility_warnings": ("compplan.models.plausibility", "plausibility_warnings"),
    "load_plan": ("compplan.models.plan", "load_plan"),
    **{name: ("compplan.batch.spec", name) for name in ("MAX_CANDIDATES", "read_batch_spec")},
    **{name: ("compplan.batch.executors", name)
       for name in ("scheduler_problem", "default_workers")},
    "MANIFEST": ("compplan.batch.store", "MANIFEST"),
    "parse_rounding": ("compplan.optimizer.model", "parse_rounding"),
    "parse_elasticities": ("compplan.optimizer.response", "parse_elasticities"),
    "is_binding": ("compplan.optimizer.verdicts", "is_binding"),
    **{name: ("compplan.optimizer.understand", name) for name in ("readings", "sentences")},
    **{name: ("compplan.render.response", name)
       for name in ("response_lines", "response_columns")},
    **{name: ("compplan.render.audit", name)
       for name in ("DEFINITIONS", "THRESHOLDS_NOTE", "alignment_text", "summary_lines")},
    **{name: ("compplan.render.pulse", name)
       for name in ("guardrail_lines", "headline", "retune_rows", "org_headline",
                    "org_retune_rows", "org_role_rows")},
    **{name: ("compplan.render.figures", name)
       for name in ("UNIT_KIND", "Column", "format_value", "rich_table")},
    "cell_text": ("compplan.optimizer.org_evaluate", "_cell"),
    # Types the command line's annotations name (imported for type checking above).
    "Case": ("compplan.models.case", "Case"),
    "Plan": ("compplan.models.plan", "Plan"),
    "Org": ("compplan.models.org", "Org"),
    "Modifier": ("compplan.models.whatif", "Modifier"),
    "Evaluation": ("compplan.optimizer.evaluate", "Evaluation"),
    "OrgEvaluation": ("compplan.optimizer.org_evaluate", "OrgEvaluation"),
    "Coefficients": ("compplan.optimizer.coefficients", "Coefficients"),
    "Audit": ("compplan.optimizer.audit", "Audit"),
    "BatchReport": ("compplan.batch.results", "BatchReport"),
    "BatchSpec": ("compplan.batch.spec", "BatchSpec"),
    "Rounding": ("compplan.optimizer.model", "Rounding"),
    "GuardrailPrice": ("compplan.optimizer.prices", "GuardrailPrice"),
}


def __getattr__(name: str) -> Any:
    """Load a name re-exported for the command line on first use (PEP 562)."""
    if name not in _FOR_THE_COMMAND_LINE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    module, attribute = _FOR_THE_COMMAND_LINE[name]
    found: ModuleType | Any = import_module(module)
    if attribute is not None:
        found = getattr(found, attribute)
    globals()[name] = found
    return found
