"""Re-solve, don't rebuild: the candidates of a batch kept in HiGHS and re-solved warm.

Candidates of a sweep or batch that differ only in a guardrail's limit (the expected
cost cap, the CVaR cap, the parity tolerance, the payout multiple, the lower-tail
floor) are the same model with other right-hand sides. Inside :func:`session`,
:func:`compplan.optimizer.solve.solve` builds each distinct model once (per set of
coefficients, guardrails, tail method and objective), loads it into HiGHS once, and
for each candidate moves the limits' row bounds and re-solves the same HiGHS instance:
the cut loop and the tie-break second solve run exactly as in a cold solve, and the
tail cuts found for one candidate stay in the model for the next (a cut is a valid
inequality of the tail guardrail at any limit; its bound moves with the limit).

Everything else about a case (its metrics, weight limits, accelerator bounds, the
upper tail's ratio, which guardrails are on, the goals) is part of the model's key: a
change there builds another model. A model whose loaded bounds do not equal the
limits computed here (a check made once per model) is never re-solved warm.

Two more savings, both exact by the monotonicity of the feasible set in each limit
(loosening a limit never removes a plan): a set of limits at least as tight as one
already proven infeasible is infeasible, and a feasibility question at limits at
least as loose as a feasible plan's is answered by that plan.

The prices' re-solves use :class:`WarmResolver` on their own warm model per key: the
metrics' choice fixed (an LP with duals) or free (the MIP), limits moved by bounds. A
single optimise prices on such a model too, built for its own prices
(:func:`compplan.optimizer.prices.shadow_prices`).
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

import highspy
import numpy as np
import pyomo.core as pyo
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs
from pyomo.repn.standard_repn import generate_standard_repn

from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.evaluate import Evaluation, _with_checks, evaluate
from compplan.optimizer.model import (
    GUARDRAILS,
    PlanModel,
    TailMethod,
    create_model,
    guardrail_limits,
    tail_guards,
)
from compplan.optimizer.solve import (
    _HIGHS_OPTIONS,
    CUT_TOLERANCE,
    MIP_ABS_GAP,
    MIP_REL_GAP,
    TIE_TOLERANCE,
    CutLoop,
    SolveResult,
    Status,
    _clean,
    _restore,
    _secondary_objective,
    highs_output,
    interrupts_deferred,
)
from compplan.optimizer.tails import TailGuard

#: Limits moved by row bounds (the rest of a case is part of a model's key).
WARM_LIMITS = ("payout_multiple", "budget_expected", "budget_cvar", "fairness_parity",
               "fairness_bottom")
#: Models kept per process (each a Pyomo model and a HiGHS instance).
MAX_MODELS = 48
#: Feasibility answers kept per model key.
MAX_ANSWERS = 4096
#: Optima of looser candidates tried per question, the latest first (the nearest in a
#: batch solved loosest first): a sweep whose every cap binds has no donor, and must not
#: try all of them at each candidate.
MAX_DONORS = 32

_ACTIVE: ContextVar[WarmCache | None] = ContextVar("compplan_warm_cache", default=None)


@contextmanager
def session(cache: WarmCache) -> Iterator[WarmCache]:
    """Solve warm with ``cache`` inside the block (``solve`` and the prices use it)."""
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


def active() -> WarmCache | None:
    """The cache of the enclosing :func:`session`, or None (cold solves)."""
    return _ACTIVE.get()


def _loosening(name: str) -> float:
    return -1.0 if name == "fairness_bottom" else 1.0


def structure_key(case: Case) -> str:
    """The case as text with the warm limits reduced to on/off: equal keys, one model."""
    data = case.spec.model_dump(mode="json")
    for section, key in (("design", "max_payout_multiple"), ("budget", "expected_cap"),
                         ("budget", "cvar_cap"), ("fairness", "parity_tolerance"),
                         ("fairness", "bottom_floor")):
        data[section][key] = data[section][key] is not None
    data.pop("case", None)  # name, currency: no part of the model
    return json.dumps(data, sort_keys=True, default=str)


def warm_limits(case: Case, include: frozenset[str]) -> dict[str, float]:
    """The case's warm limits among ``include``, as set (guardrails switched off left out)."""
    return {n: float(v) for n, v in guardrail_limits(case).items()
            if n in WARM_LIMITS and n in include and v is not None}


class _WarmResults:
    """What the cut loop's callers read of a solve (``Results`` of Pyomo's interface)."""

    def __init__(self, incumbent: float | None, bound: float | None,
                 duals: Callable[[], dict[Any, float]]) -> None:
        self.incumbent_objective = incumbent
        self.objective_bound = bound
        self.solution_loader = self
        self._duals = duals

    def get_duals(self) -> dict[Any, float]:
        """Each row's dual value, by Pyomo constraint."""
        return self._duals()


_NO_SOLUTION = {highspy.HighsModelStatus.kTimeLimit: TerminationCondition.maxTimeLimit,
                highspy.HighsModelStatus.kIterationLimit: TerminationCondition.iterationLimit,
                highspy.HighsModelStatus.kSolutionLimit: TerminationCondition.iterationLimit}


class WarmLoop(CutLoop):
    """The cut loop on a HiGHS instance kept between solves; rows and bounds moved in place.

    The model is loaded by Pyomo's persistent HiGHS interface (the same rows, in the
    same order, as a cold solve's); solves run HiGHS directly, without Pyomo's change
    detection, and the solution is loaded into the model's variables as Pyomo would.
    """

    def __init__(self, plan: PlanModel, *, fixed_as_params: bool = True) -> None:
        super().__init__(plan, None, None)
        self.solver = Highs(treat_fixed_vars_as_params=fixed_as_params)
        with highs_output():
            self.solver.set_instance(plan.model)
        self.highs = self.solver._solver_model  # the highspy.Highs the model was loaded into
        for key, option in {**_HIGHS_OPTIONS, "mip_rel_gap": MIP_REL_GAP,
                            "mip_abs_gap": MIP_ABS_GAP}.items():
            self.highs.setOptionValue(key, option)
        self.highs.setOptionValue("output_flag", False)
        self.loaded = self._columns()
        self.pushed: dict[str, int] = {g.name: 0 for g in plan.cut_guards}
        self.base_rows = plan.model.nconstraints()
        self.columns = plan.model.nvariables()
        self.objectives: dict[str, tuple[Any, np.ndarray, float]] = {}
        self.last_cols: np.ndarray | None = None
        self._entries: dict[Any, tuple[np.ndarray, np.ndarray]] = {}

    def activity(self, con: Any, cols: np.ndarray) -> float:
        """A row's activity at HiGHS columns ``cols`` (its coefficients read once)."""
        if con not in self._entries:
            _, index, value = self.highs.getRowEntries(self.row(con))
            self._entries[con] = (np.asarray(index), np.asarray(value))
        index, value = self._entries[con]
        return float(value @ cols[index])

    def rows(self, extra: int = 0) -> int:
        """The model's constraints: as built, its cuts, and ``extra`` (the tie row)."""
        return self.base_rows + sum(self.pushed.values()) + extra

    def objective(self, name: str, expr: Any, maximise: bool) -> None:
        """Make ``expr`` HiGHS's objective (its costs computed once, as Pyomo computes them)."""
        if name not in self.objectives:
            repn = generate_standard_repn(expr, quadratic=False, compute_values=False)
            index = self.solver._pyomo_var_to_solver_var_map
            costs = np.zeros(self.highs.getNumCol())
            for coef, var in zip(repn.linear_coefs, repn.linear_vars, strict=True):
                costs[index[id(var)]] = pyo.value(coef)
            sense = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
            self.objectives[name] = (sense, costs, float(pyo.value(repn.constant)))
        sense, costs, offset = self.objectives[name]
        self.highs.changeObjectiveSense(sense)
        self.highs.changeColsCost(len(costs), np.arange(len(costs), dtype=np.int32), costs)
        self.highs.changeObjectiveOffset(offset)

    def _columns(self) -> list[tuple[Any, int]]:
        index = self.solver._pyomo_var_to_solver_var_map
        return [(v, index[id(v)]) for v, *_ in self.solver._vars.values()
                if id(v) in index]

    def row(self, con: Any) -> int:
        """The HiGHS row of a Pyomo constraint."""
        return int(self.solver._pyomo_con_to_solver_con_map[con])

    def add(self, cons: list[Any], *, quiet: bool = False) -> None:
        """Pass new constraints to HiGHS (its warnings kept as log lines, as a cold solve's).

        ``quiet``: rows whose coefficients HiGHS has seen already (the objective's), whose
        warnings were kept then: no capture of the process's output (a thread per call).
        """
        if not cons:
            return
        if quiet:
            self.solver.add_constraints(cons)
            return
        self.highs.setOptionValue("output_flag", True)
        try:
            with highs_output():
                self.solver.add_constraints(cons)
        finally:
            self.highs.setOptionValue("output_flag", False)

    def _add_cuts(self, w: np.ndarray, u: np.ndarray, seen: set[tuple[str, bytes]]) -> int:
        added = super()._add_cuts(w, u, seen)
        if added:
            self.push_cuts()
        return added

    def push_cuts(self) -> None:
        """Pass the cuts added to the model since the last push."""
        new = []
        for guard in self.plan.cut_guards:
            cuts = list(getattr(self.plan.model, f"{guard.name}_cuts").values())
            new += cuts[self.pushed.get(guard.name, 0):]
            self.pushed[guard.name] = len(cuts)
        self.add(new)

    def _solve_once(self) -> tuple[Status, float | None, str]:
        remaining = math.inf
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                return Status.NO_SOLUTION, None, "time limit reached"
        h = self.highs
        h.setOptionValue("time_limit", remaining)
        started = time.perf_counter()
        with interrupts_deferred():
            h.run()
        self.seconds += time.perf_counter() - started
        self.rounds += 1
        status = h.getModelStatus()
        info = h.getInfo()
        feasible = info.primal_solution_status == 2
        incumbent = float(info.objective_function_value) if feasible else None
        if info.mip_node_count == -1:  # an LP
            bound = incumbent if status == highspy.HighsModelStatus.kOptimal else None
        else:
            bound = float(info.mip_dual_bound)
        solution = h.getSolution() if feasible else None
        self.last_cols = np.array(solution.col_value) \
            if solution is not None and solution.value_valid else None
        self.last = _WarmResults(incumbent, bound, lambda: self._duals(solution))
        gap = None if incumbent is None or bound is None else \
            float(abs(bound - incumbent) / max(abs(incumbent), 1e-10))
        if status == highspy.HighsModelStatus.kOptimal:
            self._load(solution)
            return Status.OPTIMAL, gap, ""
        if status == highspy.HighsModelStatus.kInfeasible:
            return Status.INFEASIBLE, None, TerminationCondition.provenInfeasible.name
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            return Status.INFEASIBLE, None, TerminationCondition.infeasibleOrUnbounded.name
        condition = _NO_SOLUTION.get(status)
        name = (condition or TerminationCondition.unknown).name
        if status == highspy.HighsModelStatus.kUnbounded:
            name = TerminationCondition.unbounded.name
        if feasible:
            self._load(solution)
            return Status.TIME_LIMIT, gap, name
        if condition is not None:
            return Status.NO_SOLUTION, None, name
        return Status.ERROR, None, name

    def _load(self, solution: Any) -> None:
        if solution is None or not solution.value_valid:
            return
        values = solution.col_value
        for var, index in self.loaded:
            if not var.fixed:
                var.set_value(values[index], skip_validation=True)

    def _duals(self, solution: Any) -> dict[Any, float]:
        if solution is None or not solution.dual_valid:
            return {}
        duals = solution.row_dual
        return {con: duals[i] for con, i in self.solver._pyomo_con_to_solver_con_map.items()}


@dataclass
class _Limits:
    """The rows each warm limit bounds, and how a limit becomes their bound."""

    loop: WarmLoop
    coeffs: Coefficients
    current: dict[str, float] = field(default_factory=dict)

    def rows(self, name: str) -> list[tuple[Any, str]]:
        """``(constraint, side)`` of each row guardrail ``name`` bounds."""
        m = self.loop.plan.model
        if name == "payout_multiple":
            return [(m.payout_multiple, "upper")]
        if name == "budget_expected":
            return [(m.budget_expected, "upper")]
        if name == "fairness_parity":
            if not hasattr(m, "fairness_parity_upper"):
                return []
            return ([(c, "upper") for c in m.fairness_parity_upper.values()]
                    + [(c, "lower") for c in m.fairness_parity_lower.values()])
        side = "lower" if name == "fairness_bottom" else "upper"
        if hasattr(m, f"{name}_limit"):
            return [(getattr(m, f"{name}_limit"), side)]
        return [(c, side) for c in getattr(m, f"{name}_cuts").values()]

    def bound(self, name: str, limit: float, side: str) -> float:
        """A row's bound at ``limit``, computed as the model builder computes it."""
        if name in ("budget_expected", "budget_cvar"):
            value = limit / self.coeffs.ti_total + 0.0
        else:
            value = limit + 0.0
        if name == "fairness_parity" and side == "lower":
            return -limit - 0.0
        return value

    def check(self, limits: dict[str, float]) -> bool:
        """True when HiGHS holds exactly the bounds computed here (else never warm)."""
        lp = self.loop.highs.getLp()
        for name, limit in limits.items():
            for con, side in self.rows(name):
                i = self.loop.row(con)
                held = lp.row_upper_[i] if side == "upper" else lp.row_lower_[i]
                if held != self.bound(name, limit, side):
                    return False
        self.current = dict(limits)
        return True

    def move(self, limits: dict[str, float], *, force: bool = False) -> None:
        """Set the rows of every limit that differs from what HiGHS holds."""
        h = self.loop.highs
        for name, limit in limits.items():
            if not force and self.current.get(name) == limit:
                continue
            for con, side in self.rows(name):
                i = self.loop.row(con)
                _, lower, upper, _ = h.getRow(i)  # one row's bounds, not a copy of the LP
                if side == "upper":
                    h.changeRowBounds(i, lower, self.bound(name, limit, side))
                else:
                    h.changeRowBounds(i, self.bound(name, limit, side), upper)
            self.current[name] = limit


@dataclass
class _Model:
    """One warm model: its cut loop, its limits' rows, its tail guards."""

    coeffs: Coefficients
    include: frozenset[str]
    loop: WarmLoop
    limits: _Limits
    objective: str
    optima: list[_Optimum] = field(default_factory=list)
    points: np.ndarray | None = None

    def remember(self, point: np.ndarray, result: SolveResult, best: _Solution) -> None:
        """Keep a proven optimum for tighter candidates.

        ``best`` is the alignment solve's plan; the plan its tie-break chose is the one in
        the model's variables and in HiGHS now.
        """
        cols = self.loop.last_cols
        if cols is None:
            return
        if len(self.optima) >= MAX_ANSWERS:
            self.optima, self.points = [], None
        w, u, _ = self.loop.values()
        self.optima.append(_Optimum(point, result, best, _Solution(cols, w, u)))
        row = point[np.newaxis, :]
        self.points = row if self.points is None else np.vstack([self.points, row])

    def donor(self, point: np.ndarray, names: list[str], *,
              chosen: bool = True) -> _Optimum | None:
        """An optimum at limits at least as loose as ``point`` that answers ``point``.

        The limits of ``point`` are those HiGHS holds (moved already). Exact: when the
        donor's best plan meets them, the best alignment here is the donor's (this set of
        plans lies within the donor's and holds that plan); when its chosen plan meets
        them too, that plan is also the cheapest among the best-aligned here (the
        tie-break's set here lies within the donor's and holds it). ``chosen`` False:
        only the best alignment is asked for (a price's re-solve).
        """
        if self.points is None or self.points.shape[1] != point.shape[0]:
            return None
        looser = np.flatnonzero(np.all(self.points >= point, axis=1))
        for i in looser[::-1][:MAX_DONORS]:
            found = self.optima[int(i)]
            changed = [names[k] for k in np.flatnonzero(found.point > point)]
            if self._meets(found.best, changed) and \
                    (not chosen or self._meets(found.chosen, changed)):
                return found
        return None

    def _meets(self, plan: _Solution, changed: list[str]) -> bool:
        return _meets(self.loop, self.limits, plan, changed)


def _meets(loop: WarmLoop, limits: _Limits, plan: _Solution, changed: list[str]) -> bool:
    """The plan meets the limits ``changed`` as HiGHS holds them now (strictly).

    Every other row is the one the plan was found with; the tail guardrails are checked
    as the cut loop checks a solution (no cut would be added).
    """
    for name in changed:
        for con, side in limits.rows(name):
            bound = limits.bound(name, limits.current[name], side)
            value = loop.activity(con, plan.cols)
            if not (value <= bound if side == "upper" else value >= bound):
                return False
        for guard in loop.plan.cut_guards:
            if guard.name != name:
                continue
            side = "upper" if guard.upper else "lower"
            guard = replace(guard, rhs=limits.bound(name, limits.current[name], side))
            gw, gu = loop.plan.guard_point(guard, plan.w, plan.u)
            violation, _ = guard.check(gw, gu, guard.values(gw, gu))
            if violation - loop.plan.slack_value(guard.name) > CUT_TOLERANCE:
                return False
    return True


@dataclass
class _Solution:
    """A solution of a warm model: HiGHS's columns, and w and u as the model holds them."""

    cols: np.ndarray
    w: np.ndarray
    u: np.ndarray


@dataclass
class _Optimum:
    """A proven optimum of a warm model at limits ``point``.

    ``best`` is the alignment solve's plan, ``chosen`` the plan its tie-break chose (the
    result's).
    """

    point: np.ndarray
    result: SolveResult
    best: _Solution
    chosen: _Solution


class _Answers:
    """Feasibility answers at points of limits: infeasible points, feasible plans."""

    def __init__(self) -> None:
        self.infeasible: np.ndarray | None = None
        self.feasible: np.ndarray | None = None
        self.plans: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def lookup(self, point: np.ndarray, *, plans: bool) -> tuple[bool, Any] | None:
        """``(False, None)`` when provably infeasible, ``(True, plan)`` when a plan fits.

        A point at least as tight as an infeasible one (every limit) is infeasible; with
        ``plans``, a point at least as loose as a feasible plan's admits that plan.
        """
        if self.infeasible is not None and np.any(np.all(point <= self.infeasible, axis=1)):
            return False, None
        if plans and self.feasible is not None:
            hits = np.flatnonzero(np.all(point >= self.feasible, axis=1))
            if hits.size:
                return True, self.plans[int(hits[0])]
        return None

    def record(self, point: np.ndarray, plan: Any) -> None:
        """Remember the answer at ``point`` (``plan`` None: infeasible)."""
        row = point[np.newaxis, :]
        if plan is None:
            self.infeasible = row if self.infeasible is None or \
                len(self.infeasible) >= MAX_ANSWERS else np.vstack([self.infeasible, row])
            return
        if self.feasible is None or len(self.feasible) >= MAX_ANSWERS:
            self.feasible, self.plans = row, [plan]
        else:
            self.feasible = np.vstack([self.feasible, row])
            self.plans.append(plan)


class WarmCache:
    """Warm models and feasibility answers of one process, for one batch at a time."""

    def __init__(self) -> None:
        self.models: OrderedDict[tuple[Any, ...], _Model | None] = OrderedDict()
        self.answers: dict[tuple[Any, ...], _Answers] = {}
        self.resolvers: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.kept: dict[int, Coefficients] = {}  # coefficients keyed by id stay alive
        self.keys: dict[int, tuple[Any, str]] = {}  # spec id: (spec, structure key)
        self.evaluations: dict[tuple[Any, ...], Evaluation] = {}

    def clear(self) -> None:
        """Drop every model (at the end of a batch)."""
        self.models.clear()
        self.answers.clear()
        self.resolvers.clear()
        self.kept.clear()
        self.keys.clear()
        self.evaluations.clear()

    def structure(self, case: Case) -> str:
        """:func:`structure_key`, computed once per case spec object."""
        found = self.keys.get(id(case.spec))
        if found is None or found[0] is not case.spec:
            found = (case.spec, structure_key(case))
            self.keys[id(case.spec)] = found
            if len(self.keys) > MAX_ANSWERS:
                self.keys.clear()
                self.keys[id(case.spec)] = found
        return found[1]

    def _keep(self, coeffs: Coefficients) -> int:
        self.kept[id(coeffs)] = coeffs
        return id(coeffs)

    def model(self, case: Case, coeffs: Coefficients, include: frozenset[str],
              tail_method: TailMethod, objective: str) -> _Model | None:
        """The warm model for this key, built and loaded on first use (None: solve cold)."""
        key = (self._keep(coeffs), self.structure(case), include, tail_method, objective)
        if key in self.models:
            self.models.move_to_end(key)
            return self.models[key]
        plan = create_model(case, coeffs, guardrails=include, tail_method=tail_method)
        m = plan.model
        if objective != "alignment":
            m.objective.deactivate()
            m.cost_objective = pyo.Objective(
                expr=_secondary_objective(plan, case, coeffs, objective), sense=pyo.minimize)
        loop = WarmLoop(plan)
        limits = _Limits(loop, coeffs)
        built: _Model | None = _Model(coeffs, include, loop, limits, objective)
        if not limits.check(warm_limits(case, include)):
            built = None
        self.models[key] = built
        while len(self.models) > MAX_MODELS:
            self.models.popitem(last=False)
        return built

    def answers_for(self, case: Case, coeffs: Coefficients, include: frozenset[str],
                    tail_method: TailMethod) -> tuple[_Answers, np.ndarray]:
        """The feasibility answers of this model key, and the case's point of limits."""
        key = (self._keep(coeffs), self.structure(case), include, tail_method)
        limits = warm_limits(case, include)
        point = np.array([_loosening(n) * limits[n] for n in sorted(limits)])
        return self.answers.setdefault(key, _Answers()), point


def evaluation(case: Case, coeffs: Coefficients, w: np.ndarray, u: np.ndarray, *,
               revenue: float | None = None) -> Evaluation:
    """:func:`compplan.optimizer.evaluate.evaluate`, its figures kept per plan in a session.

    Candidates of one structure share every figure of a plan but the guardrail checks
    (the limits are all that differs): the figures are computed once per plan, the
    checks for each case.
    """
    cache = active()
    if cache is None:
        return evaluate(case, coeffs, w, u, revenue=revenue)
    key = (cache._keep(coeffs), cache.structure(case), w.tobytes(), u.tobytes(), revenue)
    found = cache.evaluations.get(key)
    if found is None:
        found = evaluate(case, coeffs, w, u, revenue=revenue)
        if len(cache.evaluations) >= MAX_ANSWERS:
            cache.evaluations.clear()
        cache.evaluations[key] = found
        return found
    return _with_checks(case, found)


def solve_warm(cache: WarmCache, case: Case, coeffs: Coefficients, *,
               time_limit: float | None, guardrails: Any, tail_method: TailMethod,
               objective: str, progress: Callable[[str], None] | None) -> SolveResult | None:
    """:func:`compplan.optimizer.solve.solve` on a warm model; None when it must be cold."""
    include = frozenset(GUARDRAILS if guardrails is None else guardrails)
    if include - set(GUARDRAILS):
        return None  # the cold path names the unknown guardrail
    answers, point = cache.answers_for(case, coeffs, include, tail_method)
    known = answers.lookup(point, plans=objective == "feasibility")
    if known is not None:
        if not known[0]:
            return SolveResult(Status.INFEASIBLE, message="provenInfeasible")
        w, u, z = known[1]
        return SolveResult(Status.OPTIMAL, w=w, u=u, z=z, mip_gap=0.0)
    warm = cache.model(case, coeffs, include, tail_method, objective)
    if warm is None:
        return None
    loop, plan = warm.loop, warm.loop.plan
    plan.cut_guards = [g for g in tail_guards(case, coeffs, include)
                       if g.name in loop.pushed]
    limits = warm_limits(case, include)
    warm.limits.move(limits)
    if objective == "alignment":
        found = warm.donor(point, sorted(limits))
        if found is not None:
            answers.record(point, (found.result.w, found.result.u, found.result.z))
            return _reused(found.result)
    loop.deadline = None if time_limit is None else time.monotonic() + time_limit
    loop.progress = progress
    loop.seconds, loop.rounds = 0.0, 0
    loop.cuts = {g.name: 0 for g in plan.cut_guards}
    status, gap, message = loop.run()
    best = None
    if status is Status.OPTIMAL and loop.last_cols is not None:
        w, u, _ = loop.values()
        best = _Solution(loop.last_cols, w, u)
    rows = None
    if status is Status.OPTIMAL and objective in ("alignment", "cost"):
        status, message, rows = _tie_break_warm(loop, coeffs, cheapest=objective == "alignment")
    result = SolveResult(status, mip_gap=gap, seconds=loop.seconds, rounds=loop.rounds,
                         cuts=dict(loop.cuts), rows=rows or loop.rows(),
                         columns=loop.columns, message=message)
    if result.has_plan:
        result.w, result.u, result.z = _clean(*loop.values())
        if status is Status.OPTIMAL:
            answers.record(point, (result.w, result.u, result.z))
            if objective == "alignment" and not message and best is not None:
                warm.remember(point, result, best)
    elif status is Status.INFEASIBLE:
        answers.record(point, None)
    return result


def _reused(result: SolveResult) -> SolveResult:
    """A donor's result for another candidate: no solver call of its own (0 rounds)."""
    assert result.w is not None and result.u is not None and result.z is not None
    return replace(result, w=result.w.copy(), u=result.u.copy(), z=result.z.copy(),
                   seconds=0.0, rounds=0, cuts=dict(result.cuts))


def looseness(case: Case) -> tuple[float, ...]:
    """The case's warm limits as one key, larger when looser (a limit not set: loosest).

    Solving a batch's candidates in decreasing order of this key (Python's tuple order)
    solves each candidate after every candidate at least as loose on every limit: their
    optima can answer it (:meth:`_Model.donor`), and their infeasibility proves its own.
    """
    limits = guardrail_limits(case)
    return tuple(math.inf if limits[n] is None else _loosening(n) * float(limits[n])
                 for n in WARM_LIMITS)


def _tie_break_warm(loop: WarmLoop, coeffs: Coefficients, *,
                    cheapest: bool) -> tuple[Status, str, int]:
    """The tie-break of :func:`compplan.optimizer.solve._tie_break`, then the model restored.

    The same row (``tie_alignment`` or ``tie_cost``) and objective as a cold solve's; the
    objectives are switched in HiGHS directly, the row added and removed afterwards.
    """
    m = loop.plan.model
    w, u, _ = loop.values()
    if cheapest:
        best = float(coeffs.objective_w @ w + coeffs.objective_u @ u)
        m.tie_alignment = pyo.Constraint(
            expr=m.alignment >= best - TIE_TOLERANCE * max(1.0, abs(best)))
        tie = m.tie_alignment
        first = ("alignment", m.alignment, True)
        second = ("expected_cost", m.expected_cost, False)
    else:
        least = float(coeffs.cost_w @ w + coeffs.cost_u @ u)
        m.tie_cost = pyo.Constraint(
            expr=m.expected_cost <= least + TIE_TOLERANCE * max(1.0, abs(least)))
        tie = m.tie_cost
        first = ("expected_cost", m.expected_cost, False)
        second = ("alignment", m.alignment, True)
    loop.add([tie], quiet=True)
    loop.objective(*second)
    saved = loop.values()
    try:
        status, _, message = loop.run()
        rows = loop.rows(1)
    finally:
        loop.solver.remove_constraints([tie])
        m.del_component(tie)
        loop.objective(*first)
    if status is Status.OPTIMAL:
        return Status.OPTIMAL, "", rows
    _restore(loop, saved)
    return Status.OPTIMAL, f"tie-break solve ended {status.value}: {message}", rows


# ----------------------------------------------------------------------------- prices


class WarmResolver:
    """The prices' re-solves (:class:`compplan.optimizer.prices._Resolver`) on a warm model.

    One model per key, every warm limit moved by its rows' bounds; the metrics'
    selection fixed by column bounds (continuous: an LP with duals) or free (the MIP,
    with the case's own fixings). Fixed variables are columns of HiGHS here, so fixing
    and freeing them moves bounds and changes no row.
    """

    def __init__(self, case: Case, coeffs: Coefficients, loop: WarmLoop, limits: _Limits,
                 include: frozenset[str]) -> None:
        self.case, self.coeffs, self.loop, self.limits = case, coeffs, loop, limits
        self.include = include
        self.z = np.zeros(len(coeffs.metric_ids))
        self.base: dict[str, float] = {}
        m = loop.plan.model
        self.zcols = [loop.solver._pyomo_var_to_solver_var_map[id(m.z[k])]
                      for k in coeffs.metric_ids]
        #: The alignment model of the same key, whose optima answer re-solves (or None).
        self.aligned: _Model | None = None
        #: The cache holding this resolver (for the models of other upper-tail ratios).
        self.cache: WarmCache | None = None
        #: This model's own MIP optima: limits (as points), plan, best alignment.
        self.found: list[tuple[_Solution, float]] = []
        self.points: np.ndarray | None = None

    def reset(self, case: Case, z: np.ndarray, tail_method: TailMethod) -> None:
        """Re-solves for another candidate of the same key at its plan's selection."""
        self.case, self.z, self.tail_method = case, z, tail_method
        self.base = _resolver_limits(case, self.include)
        self.cold: Any = None
        self.loop.plan.cut_guards = [g for g in tail_guards(case, self.coeffs, self.include)
                                     if g.name in self.loop.pushed]

    def _mode(self, relaxed: bool) -> None:
        h = self.loop.highs
        for k, col, chosen in zip(self.coeffs.metric_ids, self.zcols, self.z, strict=True):
            spec = self.case.metric(k)
            if relaxed:
                value = 1.0 if chosen > 0.5 else 0.0
                h.changeColIntegrality(col, highspy.HighsVarType.kContinuous)
                h.changeColBounds(col, value, value)
            else:
                h.changeColIntegrality(col, highspy.HighsVarType.kInteger)
                if spec.required or spec.forbidden:
                    value = 1.0 if spec.required else 0.0
                    h.changeColBounds(col, value, value)
                else:
                    h.changeColBounds(col, 0.0, 1.0)

    def solve(self, name: str | None, t: float, *, relaxed: bool) -> Any:
        """As :meth:`compplan.optimizer.prices._Resolver.solve`."""
        return self.solve_many({} if name is None else {name: t}, relaxed=relaxed)

    def solve_many(self, moves: dict[str, float], *, relaxed: bool,
                   top_slack: float = 0.0) -> Any:
        """As :meth:`compplan.optimizer.prices._Resolver.solve_many`, moving bounds."""
        from compplan.optimizer.prices import _dual_prices, _Resolver, with_limit

        if "fairness_top" in moves:
            # The upper tail's ratio scales the mean payout: coefficients, not a bound. The
            # case with the ratio moved is another structure, with a warm model of its own
            # (kept for the next candidate, which moves the same ratio).
            limit = float(guardrail_limits(self.case)["fairness_top"] or 0.0)
            moved = with_limit(self.case, "fairness_top", limit + moves["fairness_top"])
            other = None if self.cache is None else \
                resolver(self.cache, moved, self.coeffs, self.tail_method, self.z)
            if other is not None:
                rest = {n: t for n, t in moves.items() if n != "fairness_top"}
                return other.solve_many(rest, relaxed=relaxed, top_slack=top_slack)
            if self.cold is None:
                self.cold = _Resolver(self.case, self.coeffs, self.tail_method, self.z)
            return self.cold.solve_many(moves, relaxed=relaxed, top_slack=top_slack)
        limits = dict(self.base)
        for name, t in moves.items():
            limits[name] = self.base[name] + _loosening(name) * t
        if top_slack:
            limits["fairness_top"] = self.base["fairness_top"] + top_slack
        self._mode(relaxed)
        self.limits.move(limits)
        names = sorted(limits)
        point = np.array([_loosening(n) * limits[n] for n in names])
        if not relaxed:
            known = self._known(limits, point, names)
            if known is not None:
                return known, {}
        case = self.case
        for name, value in limits.items():
            if value != self.base[name] and name != "fairness_top":
                case = with_limit(case, name, value)
        loop = self.loop
        loop.plan.cut_guards = [replace(g, rhs=self._rhs(g, limits)) for g in
                                loop.plan.cut_guards]
        loop.rounds = 0
        try:
            status, _, _ = loop.run()
        finally:
            loop.plan.cut_guards = [replace(g, rhs=self._rhs(g, self.base))
                                    for g in loop.plan.cut_guards]
        if status is not Status.OPTIMAL or loop.last is None:
            return None
        w, u, _ = loop.values()
        alignment = float(self.coeffs.objective_w @ w + self.coeffs.objective_u @ u)
        if not relaxed and loop.last_cols is not None and len(self.found) < MAX_ANSWERS:
            self.found.append((_Solution(loop.last_cols, w, u), alignment))
            row = point[np.newaxis, :]
            self.points = row if self.points is None else np.vstack([self.points, row])
        return alignment, _dual_prices(case, self.coeffs, loop) if relaxed else {}

    def _known(self, limits: dict[str, float], point: np.ndarray,
               names: list[str]) -> float | None:
        """The best alignment at ``limits`` (held by HiGHS now) without a solve, if known.

        Exact, as :meth:`_Model.donor`: a MIP optimum of this model, or an alignment
        solve's optimum of the alignment model, found at limits at least as loose, whose
        plan meets these: the best alignment here is its own. The alignment model's
        limits are moved here (every solve moves them to its own first).
        """
        if self.points is not None and self.points.shape[1] == point.shape[0]:
            looser = np.flatnonzero(np.all(self.points >= point, axis=1))
            for i in looser[::-1][:MAX_DONORS]:
                plan, alignment = self.found[int(i)]
                changed = [names[k] for k in np.flatnonzero(self.points[int(i)] > point)]
                if _meets(self.loop, self.limits, plan, changed):
                    return alignment
        model = self.aligned
        if model is None or not model.optima or "fairness_top" in limits:
            return None
        model.limits.move(limits)
        found = model.donor(point, names, chosen=False)
        if found is None:
            return None
        return float(self.coeffs.objective_w @ found.best.w
                     + self.coeffs.objective_u @ found.best.u)

    def _rhs(self, guard: TailGuard, limits: dict[str, float]) -> float:
        if guard.name not in limits:
            return guard.rhs
        return self.limits.bound(guard.name, limits[guard.name],
                                 "upper" if guard.upper else "lower")


def resolver(cache: WarmCache, case: Case, coeffs: Coefficients, tail_method: TailMethod,
             z: np.ndarray) -> WarmResolver | None:
    """The warm prices' resolver for this case (None: price cold)."""
    include = frozenset(GUARDRAILS)
    key = (cache._keep(coeffs), cache.structure(case), tail_method)
    found = cache.resolvers.get(key)
    if key not in cache.resolvers:
        plan = create_model(case, coeffs, tail_method=tail_method)
        loop = WarmLoop(plan, fixed_as_params=False)
        limits = _Limits(loop, coeffs)
        found = None
        if limits.check(_resolver_limits(case, include)):
            found = WarmResolver(case, coeffs, loop, limits, include)
        cache.resolvers[key] = found
        while len(cache.resolvers) > MAX_MODELS:
            cache.resolvers.popitem(last=False)
    else:
        cache.resolvers.move_to_end(key)
    if found is not None:
        found.reset(case, z, tail_method)
        found.aligned = cache.models.get((key[0], key[1], include, tail_method, "alignment"))
        found.cache = cache
    return found


def _resolver_limits(case: Case, include: frozenset[str]) -> dict[str, float]:
    """The warm limits, and the upper tail's row bound (0: no relaxation) when it is on."""
    limits = warm_limits(case, include)
    if guardrail_limits(case)["fairness_top"] is not None \
            and case.spec.fairness.top_share is not None:
        limits["fairness_top"] = 0.0
    return limits
