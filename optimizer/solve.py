"""Solve the plan model with HiGHS: best alignment, then the cheapest plan among the best.

Solving is kept apart from writing the solution back: :func:`solve` returns a
:class:`SolveResult` holding the plan's vectors; :mod:`compplan.models.plan` turns
them into a plan.
"""

from __future__ import annotations

import io
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.metadata import version
from typing import Any

import highspy
import numpy as np
import pyomo.core as pyo
from pyomo.common.tee import capture_output
from pyomo.contrib.solver.common.results import Results, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import (
    PlanModel,
    Rounding,
    TailMethod,
    create_model,
    guardrail_limits,
)

#: Relative MIP gap at which optimality is proven (the spec asks for 1e-6 on alignment).
MIP_REL_GAP = 1e-9
MIP_ABS_GAP = 1e-12
#: Plans within this relative distance of the best alignment count as ties (MODEL.md 4).
TIE_TOLERANCE = 1e-7
#: A tail guardrail broken by less than this (in share of target) counts as met.
CUT_TOLERANCE = 1e-9
MAX_CUT_ROUNDS = 200
_HIGHS_LOG = logging.getLogger("highspy")
_HIGHS_OPTIONS = {
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
    "dual_feasibility_tolerance": 1e-9,
    "random_seed": 0,
    # One thread: on models this small HiGHS's parallel parts buy nothing, while its idle
    # workers spin, nearly doubling the CPU time and slowing a batch's other processes.
    "threads": 1,
    # The models are tiny (tens of rows): presolve restarts and sub-MIP heuristics
    # cost ten times the search itself after cuts are added (docs/benchmarks.md).
    "presolve": "off",
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    # The feasibility-jump heuristic runs before every MIP solve and was four fifths of
    # HiGHS's time on these models (3.3 ms of a 4 ms re-solve of the default case, by
    # perf); the search proves the same optimum without it (docs/benchmarks.md).
    "mip_heuristic_run_feasibility_jump": False,
}


class Status(StrEnum):
    """How a solve ended."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"          # a plan was found, optimality not proven
    INFEASIBLE = "infeasible"          # proven: no plan satisfies the constraints
    NO_SOLUTION = "no_solution"        # a limit was reached before any plan was found
    ERROR = "error"


@dataclass
class SolveResult:
    """The outcome of :func:`solve`.

    Attributes
    ----------
    status : Status
        How the solve ended.
    w, u, z : numpy.ndarray or None
        Weights, accelerator rates and selection per metric (None without a plan).
    mip_gap : float or None
        Relative gap of the alignment solve when it stopped.
    seconds : float
        Wall time of all solver calls.
    rounds : int
        Solver calls made (cutting-plane rounds included).
    cuts : dict of str to int
        Cutting planes added per tail guardrail.
    rows, columns : int
        Size of the final model.
    message : str
        The solver's own word when it failed.
    slacks : dict of str to float
        For an elastic solve, each relaxed guardrail's slack in the model's units.
    """

    status: Status
    w: np.ndarray | None = None
    u: np.ndarray | None = None
    z: np.ndarray | None = None
    mip_gap: float | None = None
    seconds: float = 0.0
    rounds: int = 0
    cuts: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    columns: int = 0
    message: str = ""
    slacks: dict[str, float] = field(default_factory=dict)

    @property
    def has_plan(self) -> bool:
        """True when ``w`` and ``u`` hold a feasible plan."""
        return self.status in (Status.OPTIMAL, Status.TIME_LIMIT)


@cache
def solver_version() -> str:
    """The version of the HiGHS Python package in use."""
    return version("highspy")


class _Highs(Highs):
    """Pyomo's persistent HiGHS, able to start the next run from a known plan.

    ``start`` (column values, in HiGHS's column order) is handed to HiGHS after Pyomo has
    passed the model's changes and just before the run, once; a start whose columns
    no longer match the model is dropped.
    """

    start: list[float] | None = None

    def _solve(self) -> Results:
        start, self.start = self.start, None
        highs = self._solver_model
        if start is not None and len(start) == highs.getNumCol():
            solution = highspy.HighsSolution()
            solution.col_value = start
            solution.value_valid = True
            highs.setSolution(solution)
        return super()._solve()

    def incumbent(self) -> list[float] | None:
        """The last run's column values, or None before any run."""
        if self._solver_model is None or self._solver_model.getNumCol() == 0:
            return None
        values = list(self._solver_model.getSolution().col_value)
        return values or None


class CutLoop:
    """One persistent HiGHS instance for a model, with the cutting-plane loop."""

    def __init__(self, plan: PlanModel, deadline: float | None,
                 progress: Callable[[str], None] | None) -> None:
        self.plan = plan
        self.deadline = deadline
        self.progress = progress
        self.solver = _Highs()
        self.seconds = 0.0
        self.rounds = 0
        self.cuts = {g.name: 0 for g in plan.cut_guards}
        self.last: Results | None = None

    def values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``w``, ``u`` and ``z`` per metric at the current solution."""
        return self.plan.values()

    def start_from_last(self) -> None:
        """Start the next run from the last run's plan.

        Before a tie-break the plan is feasible: HiGHS begins with it as its incumbent and
        only has to prove there is no better one. Before a round of tail cuts the new
        cuts cut it off: HiGHS repairs it into a feasible plan or sets it aside.
        """
        self.solver.start = self.solver.incumbent()

    def run(self) -> tuple[Status, float | None, str]:
        """Solve, adding violated tail cuts until none is left."""
        seen: set[tuple[str, bytes]] = set()
        while True:
            status, gap, message = self._solve_once()
            if status not in (Status.OPTIMAL, Status.TIME_LIMIT):
                return status, gap, message
            w, u, _ = self.values()
            added = self._add_cuts(w, u, seen)
            if not added or status is Status.TIME_LIMIT:
                return status, gap, message
            if self.plan.start_rounds:
                self.start_from_last()
            if self.rounds >= MAX_CUT_ROUNDS:
                return Status.ERROR, gap, f"no convergence after {self.rounds} cut rounds"

    def _add_cuts(self, w: np.ndarray, u: np.ndarray, seen: set[tuple[str, bytes]]) -> int:
        added = 0
        # The upper and lower tails over reps share their values: computed once.
        computed: dict[tuple[int, int, bytes, bytes], np.ndarray] = {}
        for guard in self.plan.cut_guards:
            gw, gu = self.plan.guard_point(guard, w, u)
            point = (id(guard.values_w), id(guard.values_u), gw.tobytes(), gu.tobytes())
            if point not in computed:
                computed[point] = guard.values(gw, gu)
            violation, weights = guard.check(gw, gu, computed[point])
            if violation - self.plan.slack_value(guard.name) <= CUT_TOLERANCE:
                continue
            key = (guard.name, np.round(weights, 12).tobytes())
            if key in seen:  # the solver already holds this row within its tolerance
                continue
            seen.add(key)
            self.plan.add_cut(guard, weights)
            self.cuts[guard.name] += 1
            added += 1
        if added and self.progress:
            self.progress(f"round {self.rounds}: added {added} tail cut(s) "
                          f"({', '.join(f'{k} {v}' for k, v in self.cuts.items())})")
        return added

    def _solve_once(self) -> tuple[Status, float | None, str]:
        remaining = None
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                return Status.NO_SOLUTION, None, "time limit reached"
        started = time.perf_counter()
        with highs_output():
            results = self.solver.solve(
                self.plan.model, rel_gap=MIP_REL_GAP, abs_gap=MIP_ABS_GAP,
                time_limit=remaining, solver_options={**_HIGHS_OPTIONS, **self.plan.solver_options},
                load_solutions=False, raise_exception_on_nonoptimal_result=False)
        self.seconds += time.perf_counter() - started
        self.rounds += 1
        self.last = results
        condition = results.termination_condition
        feasible = results.incumbent_objective is not None
        if condition == TerminationCondition.convergenceCriteriaSatisfied:
            results.solution_loader.load_vars()
            return Status.OPTIMAL, _gap(results), ""
        if condition in (TerminationCondition.provenInfeasible,
                         TerminationCondition.infeasibleOrUnbounded):
            return Status.INFEASIBLE, None, str(condition.name)
        if feasible:
            results.solution_loader.load_vars()
            return Status.TIME_LIMIT, _gap(results), str(condition.name)
        if condition in (TerminationCondition.maxTimeLimit, TerminationCondition.iterationLimit,
                         TerminationCondition.interrupted):
            return Status.NO_SOLUTION, None, str(condition.name)
        return Status.ERROR, None, str(condition.name)


@contextmanager
def highs_output() -> Iterator[None]:
    """Keep what HiGHS prints itself (to the process's stdout) as log warnings.

    HiGHS writes some warnings straight to file descriptor 1 while a model is passed
    to it ("matrix contains 1 |value| ... at/below tolerance"), outside Pyomo's own
    capture: they would land in the middle of the command's output. They go to the
    ``highspy`` logger, which the command line summarises in one note.
    """
    buffer = io.StringIO()
    with interrupts_deferred(), capture_output(buffer, capture_fd=True):
        yield
    for line in buffer.getvalue().splitlines():
        if line.strip():
            _HIGHS_LOG.warning(line.strip())


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C while HiGHS solves; raise it as KeyboardInterrupt once the call returns.

    An interrupt landing inside the solver call (HiGHS's C++ code, Pyomo's capture of
    the file descriptors) would come back as a solver error, a RuntimeError of the
    capture, or end the process with its error output still captured. Solves take a
    tenth of a second, so the command stops right after, cleanly. Only the main thread
    can hold signals; elsewhere (Dask threads) this does nothing.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        # Another thread, or Ctrl-C ignored (a background job of a script) or handled by
        # the embedding program: leave it be, so an ignored interrupt stays ignored.
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _gap(results: object) -> float | None:
    best = getattr(results, "incumbent_objective", None)
    bound = getattr(results, "objective_bound", None)
    if best is None or bound is None:
        return None
    return float(abs(bound - best) / max(abs(best), 1e-10))


def solve(case: Case, coeffs: Coefficients, *, time_limit: float | None = None,
          guardrails: Iterable[str] | None = None, tail_method: TailMethod = "auto",
          objective: str = "alignment", elastic: Iterable[str] = (),
          progress: Callable[[str], None] | None = None,
          rounding: Rounding | None = None) -> SolveResult:
    """Find the plan of best expected alignment, then the cheapest among equally good ones.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    time_limit : float, optional
        Seconds for all solver calls together.
    guardrails : iterable of str, optional
        Guardrails to include (see ``GUARDRAILS``); all by default.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    objective : {"alignment", "cost", "feasibility", "elastic"}
        ``alignment`` is the canonical lexicographic solve; ``cost`` finds the cheapest
        plan meeting the constraints (and, among equally cheap ones, the best aligned);
        ``feasibility`` stops at the first feasible plan;
        ``elastic`` finds the least relaxation of the ``elastic`` guardrails, each slack
        divided by its limit (``relaxation_scale``), that admits a plan.
    elastic : iterable of str
        Guardrails that may be relaxed (with ``objective="elastic"``).
    progress : callable, optional
        Called with a line of text at each cutting-plane round.
    rounding : Rounding, optional
        Weights and accelerator rates on integer grids: the best plan among rounded
        plans, proven, then the tie-break among them; ``w`` and ``u`` exactly on the grids.

    Returns
    -------
    SolveResult
        Status and, when a plan exists, its vectors.
    """
    if objective not in ("alignment", "cost", "feasibility", "elastic"):
        raise ValueError(f"unknown objective '{objective}' "
                         "(alignment, cost, feasibility, elastic)")
    if case.spec.response is not None:  # MODEL.md section 10: on the grid, under response
        from compplan.optimizer.response_model import solve_response

        return solve_response(case, coeffs, time_limit=time_limit, guardrails=guardrails,
                              tail_method=tail_method, objective=objective, elastic=elastic,
                              progress=progress, rounding=rounding)
    if rounding is None and objective != "elastic":
        # Inside a batch's warm session: the same model re-solved with moved limits.
        from compplan.optimizer.warm import active, solve_warm

        cache = active()
        if cache is not None:
            warm = solve_warm(cache, case, coeffs, time_limit=time_limit,
                              guardrails=guardrails, tail_method=tail_method,
                              objective=objective, progress=progress)
            if warm is not None:
                return warm
    deadline = None if time_limit is None else time.monotonic() + time_limit
    plan = create_model(case, coeffs, guardrails=guardrails, tail_method=tail_method,
                        elastic=elastic if objective == "elastic" else (), rounding=rounding)
    m = plan.model
    if objective != "alignment":
        m.objective.deactivate()
        m.cost_objective = pyo.Objective(expr=_secondary_objective(plan, case, coeffs, objective),
                                         sense=pyo.minimize)
    runner = CutLoop(plan, deadline, progress)
    status, gap, message = runner.run()
    if status is Status.OPTIMAL and objective == "alignment":
        status, message = _tie_break(runner, coeffs, cheapest=True)
    elif status is Status.OPTIMAL and objective == "cost":
        status, message = _tie_break(runner, coeffs, cheapest=False)
    result = SolveResult(status, mip_gap=gap, seconds=runner.seconds, rounds=runner.rounds,
                         cuts=runner.cuts, rows=m.nconstraints(), columns=m.nvariables(),
                         message=message)
    if result.has_plan:
        w, u, z = runner.values()
        if rounding is not None:
            w, u = rounding.snap(w, u)
        result.w, result.u, result.z = _clean(w, u, z)
        result.slacks = {g: plan.slack_value(g) for g in plan.elastic}
    return result


def _secondary_objective(plan: PlanModel, case: Case, coeffs: Coefficients,
                         objective: str) -> pyo.Expression | float:
    if objective == "cost":
        return plan.model.expected_cost
    if objective == "elastic":
        return pyo.quicksum(plan.slack(g) / relaxation_scale(case, coeffs, g)
                            for g in sorted(plan.elastic))
    return 0.0


def relaxation_scale(case: Case, coeffs: Coefficients, guardrail: str) -> float:
    """A guardrail's limit in the model's units: relaxations are weighed relative to it.

    A limit of zero (or a tolerance near it) is weighed as 0.01 so that relaxing it
    stays comparable with the others.
    """
    if guardrail == "fairness_top":
        # The upper tail's slack is in shares of target: weigh it against the mean pay.
        return 1.0
    limit = float(guardrail_limits(case)[guardrail] or 0.0)
    if guardrail in ("budget_expected", "budget_cvar"):
        limit /= coeffs.ti_total
    return max(limit, 0.01)


def _tie_break(runner: CutLoop, coeffs: Coefficients, *, cheapest: bool) -> tuple[Status, str]:
    """Second solve among plans within the tie tolerance of the first objective.

    After the alignment solve: the least expected cost among the best-aligned plans
    (MODEL.md section 4). After a cost solve: the best alignment among the cheapest.
    """
    m = runner.plan.model
    w, u, _ = runner.values()
    if cheapest:
        best = float(coeffs.objective_w @ w + coeffs.objective_u @ u)
        m.objective.deactivate()
        m.tie_alignment = pyo.Constraint(
            expr=m.alignment >= best - TIE_TOLERANCE * max(1.0, abs(best)))
        m.tie_objective = pyo.Objective(expr=m.expected_cost, sense=pyo.minimize)
    else:
        least = float(coeffs.cost_w @ w + coeffs.cost_u @ u)
        m.cost_objective.deactivate()
        # No tolerance above the least: the minimum budget is the least cost itself, so
        # a cap at it admits the plan (issue 19: a tie-break toward alignment once
        # returned a plan 0.6 USD dearer than the minimum).
        m.tie_cost = pyo.Constraint(expr=m.expected_cost <= least)
        m.tie_objective = pyo.Objective(expr=m.alignment, sense=pyo.maximize)
    saved = runner.values()
    status, _, message = runner.run()
    if status is Status.OPTIMAL:
        return Status.OPTIMAL, ""
    # The first solve's plan is optimal; keep it if the tie-break did not finish.
    _restore(runner, saved)
    return Status.OPTIMAL, f"tie-break solve ended {status.value}: {message}"


def _restore(runner: CutLoop, saved: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Put a plan found earlier back into the model's variables."""
    restore = getattr(runner.plan, "restore", None)
    if restore is not None:  # a joint model (an organisation's) stacks its roles' blocks
        restore(saved)
        return
    m = runner.plan.model
    for k, wk, uk, zk in zip(runner.plan.metric_ids, *saved, strict=True):
        m.w[k].set_value(wk)
        m.u[k].set_value(uk)
        m.z[k].set_value(zk, skip_validation=True)


@dataclass(frozen=True)
class Stage:
    """One objective of a lexicographic solve.

    Attributes
    ----------
    name : str
        Used in the names of the stage's objective (``stage_<name>``) and of the
        constraint that keeps later stages within its tie tolerance (``tie_<name>``).
    expr : pyomo expression
        What the stage optimises, built on the model's variables.
    maximise : bool
        Maximise (True) or minimise (False).
    tolerance : float
        How far from its optimum the later stages may take it, relative
        (``tolerance * max(1, |v*|)``); 0 for none, as the least cost of min-budget,
        which a cap at it must admit (issue 19).
    """

    name: str
    expr: Any
    maximise: bool
    tolerance: float = TIE_TOLERANCE


def solve_stages(plan: PlanModel, stages: Sequence[Stage], *, time_limit: float | None = None,
                 progress: Callable[[str], None] | None = None
                 ) -> tuple[SolveResult, list[float]]:
    """Optimise ``stages`` in order, each among the ties of the ones before.

    The model's active objectives are switched off; each stage solves with the cut
    loop, then a constraint keeps its value within ``TIE_TOLERANCE * max(1, |v*|)`` of
    its optimum ``v*`` while the next stage is solved (as the canonical tie-break of
    MODEL.md section 4 does for alignment and cost).

    Parameters
    ----------
    plan : PlanModel
        A model from :func:`create_model`, possibly with variables and constraints
        added by the caller.
    stages : sequence of Stage
        The objectives, most important first.
    time_limit : float, optional
        Seconds for all solver calls together.
    progress : callable, optional
        Called with a line of text at each cutting-plane round.

    Returns
    -------
    tuple of SolveResult and list of float
        The result (a plan when the first stage found one) and each finished stage's
        optimum. A later stage that does not finish keeps the plan of the one before,
        with a note in ``message``.
    """
    m = plan.model
    for objective in m.component_objects(pyo.Objective, active=True):
        objective.deactivate()
    deadline = None if time_limit is None else time.monotonic() + time_limit
    runner = CutLoop(plan, deadline, progress)
    best: list[float] = []
    status, gap, message = Status.ERROR, None, "no stage"
    for i, stage in enumerate(stages):
        objective = pyo.Objective(expr=stage.expr,
                                  sense=pyo.maximize if stage.maximise else pyo.minimize)
        setattr(m, f"stage_{stage.name}", objective)
        saved = runner.values() if best else None
        status, stage_gap, message = runner.run()
        if status is not Status.OPTIMAL:
            if saved is not None:  # an earlier stage's plan stands
                _restore(runner, saved)
                status, message = Status.OPTIMAL, (f"tie-break on {stage.name} ended "
                                                   f"{status.value}: {message}")
            break
        gap = stage_gap if gap is None else gap
        value = float(pyo.value(stage.expr))
        best.append(value)
        if i == len(stages) - 1:
            break
        objective.deactivate()
        slack = stage.tolerance * max(1.0, abs(value))
        setattr(m, f"tie_{stage.name}", pyo.Constraint(
            expr=stage.expr >= value - slack if stage.maximise else stage.expr <= value + slack))
    result = SolveResult(status, mip_gap=gap, seconds=runner.seconds, rounds=runner.rounds,
                         cuts=runner.cuts, rows=m.nconstraints(), columns=m.nvariables(),
                         message=message)
    if result.has_plan:
        result.w, result.u, result.z = _clean(*runner.values())
    return result, best


def _clean(w: np.ndarray, u: np.ndarray,
           z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round away solver noise: an unselected metric pays exactly nothing."""
    selected = z > 0.5
    w = np.where(selected, np.clip(w, 0.0, 1.0), 0.0)
    u = np.where(selected, np.maximum(u, 0.0), 0.0)
    return w, u, selected.astype(float)
