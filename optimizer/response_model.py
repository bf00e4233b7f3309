"""Optimisation under response, exact on the grid (MODEL.md section 10).

``lambda_m`` depends on metric ``m``'s own ``(w_m, u_m)`` only, so on the grid each
metric has finitely many options ``o`` (``off`` included: ``w = u = 0``). A binary
``y[m, o]`` picks one per metric; ``w``, ``u`` and ``z`` are linear in ``y``, and every
payout figure under response (expected payout, scenario totals for CVaR, group payouts
for parity, the reps' mean for the upper tail, a tail cut's rep set) has one coefficient
per option, computed with numpy from sorted attainment (:class:`Pooled`). The model
does not grow with reps: the tails over reps are cutting planes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.core as pyo

from compplan.models.case import Case
from compplan.models.scenarios import build_scenarios
from compplan.optimizer.coefficients import Coefficients, curves
from compplan.optimizer.model import (
    FULL_TAIL_LIMIT,
    GUARDRAILS,
    PlanModel,
    Rounding,
    TailMethod,
    define_objective,
    define_payout_multiple,
    define_variables,
)
from compplan.optimizer.response import (
    Baseline,
    Pooled,
    ResponseSettings,
    baseline,
    multipliers,
    response_settings,
)
from compplan.optimizer.solve import (
    SolveResult,
    Stage,
    Status,
    relaxation_scale,
    solve_stages,
)
from compplan.optimizer.tails import TailGuard

#: The grid under response when ``--round`` gives no step (MODEL.md section 10).
DEFAULT_STEP = 0.05
#: A grid point on a bound of constraint 3 or 4 counts as inside it (relative).
GRID_TOLERANCE = 1e-9


def response_grid(rounding: Rounding | None) -> Rounding:
    """The grid: ``--round``'s steps, 0.05 for a step it does not give."""
    given = rounding or Rounding()
    return Rounding(given.weights or DEFAULT_STEP, given.rates or DEFAULT_STEP)


@dataclass(frozen=True)
class Options:
    """Every metric's grid options, as columns ``j`` of the model.

    Attributes
    ----------
    metric : numpy.ndarray
        (J,): the metric index of each option.
    w, u : numpy.ndarray
        (J,): its weight and accelerator rate (0 and 0 for ``off``).
    off : numpy.ndarray
        (J,): True for a metric's ``off`` option.
    """

    metric: np.ndarray
    w: np.ndarray
    u: np.ndarray
    off: np.ndarray

    @property
    def size(self) -> int:
        """Number of options ``J``."""
        return int(self.metric.shape[0])

    def of(self, j: int) -> np.ndarray:
        """The option columns of metric ``j``."""
        return np.flatnonzero(self.metric == j)


def _inside(value: float, low: float, high: float) -> bool:
    return (value >= low - GRID_TOLERANCE * max(abs(low), 1e-300)
            and value <= high + GRID_TOLERANCE * max(abs(high), 1e-300))


def grid_options(case: Case, grid: Rounding) -> Options:
    """Each metric's options on the grid within constraints 3 and 4, and ``off``."""
    assert grid.weights is not None and grid.rates is not None
    design = case.spec.design
    metric, ws, us, off = [], [], [], []
    for j, k in enumerate(case.metric_ids):
        spec = case.metric(k)
        if not spec.required:
            metric.append(j)
            ws.append(0.0)
            us.append(0.0)
            off.append(True)
        if spec.forbidden:
            continue
        low, high = case.weight_bounds(k)
        slope = 1.0 / (1.0 - spec.threshold)
        for n in range(1, round(1.0 / grid.weights) + 1):
            w = round(n * grid.weights, 12)
            if not _inside(w, low, high) or w <= 0:
                continue
            lo, hi = design.accelerator_min * slope * w, design.accelerator_max * slope * w
            first = max(0, int(np.floor(lo / grid.rates)) - 1)
            last = int(np.ceil(hi / grid.rates)) + 1
            for step in range(first, last + 1):
                u = round(step * grid.rates, 12)
                if _inside(u, lo, hi):
                    metric.append(j)
                    ws.append(w)
                    us.append(u)
                    off.append(False)
    return Options(np.array(metric, dtype=int), np.array(ws), np.array(us),
                   np.array(off, dtype=bool))


class ResponseData:
    """The case's attainment, and per-option payout figures for any ``lambda``.

    The sums over reps come from sorted attainment with cumulative sums (:class:`Pooled`),
    built one metric at a time and dropped once its options are priced: memory stays at
    the data plus one metric's sorted copies.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients (``U`` per unit of ``w`` and ``u``, total target incentive).
    include : set of str
        The guardrails the model needs figures for.
    """

    def __init__(self, case: Case, coeffs: Coefficients, include: set[str]) -> None:
        self.case, self.coeffs = case, coeffs
        scen = build_scenarios(case)
        self.x = np.asarray(scen.block(0, scen.n_reps), dtype=np.float64)
        n = self.x.shape[0]
        self.mask = scen.present(0, n)
        self.count = (np.full(n, float(self.x.shape[2])) if self.mask is None
                      else self.mask.sum(axis=1).astype(float))
        self.theta = np.array([case.metric(k).threshold for k in case.metric_ids])
        self.kappa = np.array([case.metric(k).cap for k in case.metric_ids])
        budget, fair = case.spec.budget, case.spec.fairness
        self.with_scen = "budget_cvar" in include and budget.cvar_cap is not None
        self.with_group = ("fairness_parity" in include and fair.parity_tolerance is not None
                           and bool(coeffs.groups))
        self.with_mean = "fairness_top" in include and fair.top_ratio is not None

    def _on(self, reps: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``O[r, s]`` as floats for some reps."""
        x = self.x[reps]
        if self.mask is None:
            return np.ones((x.shape[0], x.shape[2]))
        return np.asarray(self.mask[reps], dtype=float)

    def option_sets(self, options: Options,
                    lams: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        """Per-option figures under each setting's multipliers ``lams`` (each (J,)).

        Returns
        -------
        list of dict
            Per setting: ``cost`` (J,), and with their guardrails ``scen`` (S, J),
            ``group`` (H, J) and ``mean`` (J,), in shares as the coefficients.
        """
        case, coeffs = self.case, self.coeffs
        n, n_metrics, s = self.x.shape
        on = self._on()
        ti = case.target_incentive
        weight = ti[:, None] * on / coeffs.ti_total
        codes: np.ndarray = np.zeros(0, dtype=int)
        group_ti: np.ndarray = np.zeros(0)
        if self.with_group:
            _, codes = np.unique(case.reps[case.spec.fairness.group_by].to_numpy(dtype=str),
                                 return_inverse=True)
            group_ti = np.bincount(codes, weights=ti * self.count / s)
        out: list[dict[str, Any]] = [
            {"cost": np.zeros(options.size),
             "scen": np.zeros((s, options.size)) if self.with_scen else None,
             "group": np.zeros((len(group_ti), options.size)) if self.with_group else None,
             "mean": np.zeros(options.size) if self.with_mean else None} for _ in lams]
        for m in range(n_metrics):
            cols = options.of(m)
            if cols.size == 0:
                continue
            # One sort per metric serves every weighting (scenarios and groups are subsets).
            flat = self.x[:, m, :].ravel()
            order = np.argsort(flat)
            values = flat[order]
            rep = order // s

            def pool(weights: np.ndarray, keep: np.ndarray | None = None,
                     order: np.ndarray = order, values: np.ndarray = values) -> Pooled:
                a = weights.ravel()[order]
                return Pooled(values if keep is None else values[keep],
                              a if keep is None else a[keep], is_sorted=True)

            def put(pool: Pooled, key: str, row: int | None = None, cols: np.ndarray = cols,
                    m: int = m) -> None:
                for figures, lam in zip(out, lams, strict=True):
                    phi, psi = pool.sums(lam[cols], float(self.theta[m]), float(self.kappa[m]))
                    priced = options.w[cols] * phi + options.u[cols] * psi
                    if row is None:
                        figures[key][cols] = priced
                    else:
                        figures[key][row, cols] = priced

            if self.with_scen:  # the expected payout is then the scenarios' mean
                period = order % s
                for t in range(s):
                    put(pool(weight, period == t), "scen", t)
                for figures in out:
                    figures["cost"][cols] = figures["scen"][:, cols].mean(axis=0)
            else:
                put(pool(weight / s), "cost")
            for h in range(len(group_ti)):
                put(pool(ti[:, None] * on / (s * group_ti[h]), codes[rep] == h), "group", h)
            if self.with_mean:
                put(pool(on / (n * self.count[:, None])), "mean")
        return out

    def per_option(self, pooled: Sequence[Pooled], options: Options,
                   lam: np.ndarray) -> np.ndarray:
        """(J,): ``w_o Phi_m(lambda_o) + u_o Psi_m(lambda_o)`` from one pooled set per metric."""
        out = np.zeros(options.size)
        for m, pool in enumerate(pooled):
            cols = options.of(m)
            if cols.size == 0:
                continue
            phi, psi = pool.sums(lam[cols], float(self.theta[m]), float(self.kappa[m]))
            out[cols] = options.w[cols] * phi + options.u[cols] * psi
        return out

    def shares(self, w: np.ndarray, u: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """(N,): each rep's expected payout as a share of target, ``e_r``, on ``lambda x``."""
        paid = np.zeros((self.x.shape[0], self.x.shape[2]))
        for m in np.flatnonzero(w > 0):  # one metric at a time: no (N, M, S) temporaries
            phi, psi = curves(self.x[:, m:m + 1, :] * lam[m], self.theta[m:m + 1],
                              self.kappa[m:m + 1])
            paid += w[m] * phi[:, 0, :] + u[m] * psi[:, 0, :]
        if self.mask is not None:
            paid = paid * self.mask
        return np.asarray(paid.sum(axis=1) / self.count)

    def cut_row(self, p: np.ndarray, options: Options, lam: np.ndarray) -> np.ndarray:
        """(J,): ``sum_r p_r e_r`` per option, over the reps the vertex ``p`` weighs."""
        reps = np.flatnonzero(p)
        weight = p[reps, None] * self._on(reps) / self.count[reps, None]
        pooled = [Pooled(self.x[reps, m, :], weight) for m in range(self.x.shape[1])]
        return self.per_option(pooled, options, lam)


@dataclass(frozen=True)
class OptionSet:
    """Per-option figures under one elasticity setting.

    Attributes
    ----------
    settings : ResponseSettings
        The elasticities.
    lam : numpy.ndarray
        (J,): each option's multiplier for its metric.
    cost : numpy.ndarray
        (J,): expected payout, share of total target incentive.
    scen : numpy.ndarray or None
        (S, J): total payout per scenario (with a CVaR cap).
    group : numpy.ndarray or None
        (H, J): a group's payout over its target on the plan (with parity).
    mean : numpy.ndarray or None
        (J,): the reps' mean ``e_r`` (with an upper-tail limit).
    """

    settings: ResponseSettings
    lam: np.ndarray
    cost: np.ndarray
    scen: np.ndarray | None = None
    group: np.ndarray | None = None
    mean: np.ndarray | None = None


def option_multipliers(data: ResponseData, options: Options, base: Baseline,
                       settings: ResponseSettings) -> np.ndarray:
    """(J,): each option's multiplier for its own metric under ``settings``."""
    coeffs = data.coeffs
    m = options.metric
    marginal = coeffs.align_w[m] * options.w + coeffs.align_u[m] * options.u
    return multipliers(ResponseSettings(settings.elasticity[m], settings.max_change,
                                        settings.value[m]),
                       Baseline(base.name, base.plan, base.marginal[m], base.reference[m],
                                base.static_cost), marginal)


def option_sets(data: ResponseData, options: Options, base: Baseline,
                settings: Sequence[ResponseSettings]) -> list[OptionSet]:
    """Multipliers and per-option payout figures of each elasticity setting."""
    lams = [option_multipliers(data, options, base, s) for s in settings]
    return [OptionSet(s, lam, f["cost"], f["scen"], f["group"], f["mean"])
            for s, lam, f in zip(settings, lams, data.option_sets(options, lams), strict=True)]


@dataclass(frozen=True)
class OptionTail(TailGuard):
    """A tail guardrail over the option columns ``y`` (``w`` stands for ``y`` here).

    Either a ``matrix`` (K, J) of values per option (CVaR over scenarios) or, for the
    tails over reps, ``measure(y)`` giving the K values at a plan and ``row(p)`` a
    cut's coefficients per option.
    """

    matrix: np.ndarray | None = None
    rhs_y: np.ndarray | None = None
    measure: Callable[[np.ndarray], np.ndarray] | None = None
    row: Callable[[np.ndarray], np.ndarray] | None = None
    count: int = 0

    @property
    def size(self) -> int:
        """Number of values ``K``."""
        return self.count

    def values(self, w: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The ``K`` values at the plan whose option columns are ``w``."""
        if self.matrix is not None:
            return np.asarray(self.matrix @ w)
        assert self.measure is not None
        return self.measure(w)

    def bound(self, w: np.ndarray, u: np.ndarray) -> float:
        """The right-hand side at the plan."""
        return self.rhs + (0.0 if self.rhs_y is None else float(self.rhs_y @ w))

    def cut_row(self, weights: np.ndarray) -> np.ndarray:
        """(J,): the cut ``sum_k p_k v_k`` per option."""
        if self.matrix is not None:
            return np.asarray(weights @ self.matrix)
        assert self.row is not None
        return self.row(weights)


@dataclass
class ResponsePlanModel(PlanModel):
    """The plan model over grid options (``y``), linked to ``z``, ``w`` and ``u``."""

    options: Options = field(default_factory=lambda: Options(*(np.zeros(0),) * 3,
                                                             np.zeros(0, dtype=bool)))

    def y_values(self) -> np.ndarray:
        """``y`` at the current solution."""
        y = self.model.y
        return np.array([pyo.value(y[j]) for j in range(self.options.size)])

    def guard_point(self, guard: TailGuard, w: np.ndarray,
                    u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A guardrail over options is measured at ``y``."""
        y = self.y_values()
        return y, y

    def linear_y(self, coef: np.ndarray) -> pyo.Expression:
        """``coef @ y`` (zero terms left out)."""
        y = self.model.y
        return pyo.quicksum(float(c) * y[j] for j, c in enumerate(coef) if c)

    def add_cut(self, guard: TailGuard, weights: np.ndarray) -> None:
        """The cut ``sum_k p_k v_k(y) <= rhs`` (or ``>=``) at vertex ``p``."""
        assert isinstance(guard, OptionTail)
        lhs = self.linear_y(guard.cut_row(weights))
        rhs = self._rhs(guard)
        cuts = getattr(self.model, f"{guard.name}_cuts")
        cuts.add(lhs <= rhs if guard.upper else lhs >= rhs)

    def _rhs(self, guard: TailGuard) -> pyo.Expression:
        relax = self.slack(guard.name)
        rhs = guard.rhs + relax if guard.upper else guard.rhs - relax
        if isinstance(guard, OptionTail) and guard.rhs_y is not None:
            return rhs + self.linear_y(guard.rhs_y)
        return rhs


def _suffix(i: int) -> str:
    return "" if i == 0 else f"_e{i}"


def create_response_model(case: Case, coeffs: Coefficients, data: ResponseData,
                          options: Options, sets: Sequence[OptionSet], *,
                          guardrails: Iterable[str] | None = None,
                          tail_method: TailMethod = "auto",
                          elastic: Iterable[str] = (),
                          block: pyo.Block | None = None) -> ResponsePlanModel:
    """The grid model under response, for one or more elasticity settings (robust design).

    Parameters
    ----------
    case, coeffs : Case, Coefficients
        The case and its coefficients.
    data : ResponseData
        Sorted attainment (for cuts over reps).
    options : Options
        The grid options.
    sets : sequence of OptionSet
        Per-option figures, one per elasticity setting; constraints 6 to 10 hold under
        each. ``expected_cost`` is the first's; ``cost_max`` the largest.
    guardrails, tail_method, elastic
        As :func:`compplan.optimizer.model.create_model`.
    block : pyomo.environ.Block, optional
        Build into this block (one role of an organisation, MODEL.md sections 7 and 10)
        instead of a new model: its ``w``, ``u`` and ``z`` are the role's, for the
        organisation's rules to be written over.

    Returns
    -------
    ResponsePlanModel
        Maximising expected alignment (section 4's, on the scenarios before response).
    """
    include = set(GUARDRAILS if guardrails is None else guardrails)
    home = pyo.ConcreteModel(name=case.name) if block is None else block
    plan = ResponsePlanModel(home, metric_ids=coeffs.metric_ids,
                             elastic=frozenset(elastic), options=options)
    define_variables(plan, case)
    define_options(plan, case)
    define_payout_multiple(plan, case, include)
    m = plan.model
    costs = [plan.linear_y(s.cost) for s in sets]
    m.expected_cost = pyo.Expression(expr=costs[0])
    m.cost_max = pyo.Var(domain=pyo.Reals)
    m.cost_max_def = pyo.ConstraintList()
    for cost in costs:
        m.cost_max_def.add(m.cost_max >= cost)
    for i, s in enumerate(sets):
        define_response_budget(plan, case, coeffs, costs[i], include, _suffix(i))
        define_response_parity(plan, case, coeffs, s, include, _suffix(i))
        for guard in response_tails(case, coeffs, data, options, s, include, _suffix(i)):
            define_option_tail(plan, guard, tail_method)
    define_objective(plan, coeffs)
    return plan


def define_options(plan: ResponsePlanModel, case: Case) -> None:
    """``y[j]`` binary, one option per metric; ``w``, ``u``, ``z`` follow from ``y``."""
    m = plan.model
    opts = plan.options
    m.options = pyo.RangeSet(0, opts.size - 1)
    m.y = pyo.Var(m.options, domain=pyo.Binary)
    cols = {k: opts.of(j) for j, k in enumerate(plan.metric_ids)}
    m.options_one = pyo.Constraint(m.metrics, rule=lambda m, k: pyo.quicksum(
        m.y[j] for j in cols[k]) == 1)
    m.options_weight = pyo.Constraint(m.metrics, rule=lambda m, k: m.w[k] == pyo.quicksum(
        float(opts.w[j]) * m.y[j] for j in cols[k] if opts.w[j]))
    m.options_rate = pyo.Constraint(m.metrics, rule=lambda m, k: m.u[k] == pyo.quicksum(
        float(opts.u[j]) * m.y[j] for j in cols[k] if opts.u[j]))
    m.options_selected = pyo.Constraint(m.metrics, rule=lambda m, k: m.z[k] == 1 - pyo.quicksum(
        m.y[j] for j in cols[k] if opts.off[j]))
    design = case.spec.design
    m.design_weight_sum = pyo.Constraint(expr=pyo.quicksum(m.w[k] for k in m.metrics) == 1.0)
    m.design_max_metrics = pyo.Constraint(
        expr=pyo.quicksum(m.z[k] for k in m.metrics) <= design.max_metrics)


def define_response_budget(plan: ResponsePlanModel, case: Case, coeffs: Coefficients,
                           cost: pyo.Expression, include: set[str], suffix: str) -> None:
    """Constraint 6 under response."""
    cap = case.spec.budget.expected_cap
    if cap is None or "budget_expected" not in include:
        return
    name = f"budget_expected{suffix}"
    setattr(plan.model, name, pyo.Constraint(
        expr=cost <= cap / coeffs.ti_total + plan.slack(name)))


def define_response_parity(plan: ResponsePlanModel, case: Case, coeffs: Coefficients,
                           s: OptionSet, include: set[str], suffix: str) -> None:
    """Constraint 8 under response: each group's payout share within ``delta`` of everyone's."""
    tolerance = case.spec.fairness.parity_tolerance
    if tolerance is None or "fairness_parity" not in include or s.group is None:
        return
    m = plan.model
    name = f"fairness_parity{suffix}"
    pay = s.cost / coeffs.on_plan
    relax = plan.slack(name)
    upper, lower = pyo.ConstraintList(), pyo.ConstraintList()
    setattr(m, f"{name}_upper", upper)
    setattr(m, f"{name}_lower", lower)
    for row in s.group:
        gap = plan.linear_y(row - pay)
        upper.add(gap <= tolerance + relax)
        lower.add(gap >= -tolerance - relax)


def response_tails(case: Case, coeffs: Coefficients, data: ResponseData, options: Options,
                   s: OptionSet, include: set[str], suffix: str) -> list[OptionTail]:
    """Constraints 7, 9 and 10 under response, over option columns."""
    budget, fair = case.spec.budget, case.spec.fairness
    guards = []
    empty = np.zeros((0, 0))
    if "budget_cvar" in include and budget.cvar_cap is not None and s.scen is not None:
        assert budget.cvar_level is not None
        # Arrays of its own: a cut loop shares computed values between guards with the
        # same arrays at the same point (the tails over reps), never with the CVaR's.
        own = np.zeros((0, 0))
        guards.append(OptionTail(f"budget_cvar{suffix}", own, own, 1.0 - budget.cvar_level,
                                 True, budget.cvar_cap / coeffs.ti_total, matrix=s.scen,
                                 count=s.scen.shape[0]))

    def measure(y: np.ndarray) -> np.ndarray:
        pick = y > 0.5
        w, u, lam = (np.zeros(len(case.metric_ids)) for _ in range(3))
        lam[:] = 1.0
        w[options.metric[pick]] = options.w[pick]
        u[options.metric[pick]] = options.u[pick]
        lam[options.metric[pick]] = s.lam[pick]
        return data.shares(w, u, lam)

    def row(p: np.ndarray) -> np.ndarray:
        return data.cut_row(p, options, s.lam)

    n_reps = data.x.shape[0]
    if "fairness_top" in include and fair.top_share is not None and fair.top_ratio is not None:
        assert s.mean is not None
        guards.append(OptionTail(f"fairness_top{suffix}", empty, empty, fair.top_share, True,
                                 0.0, rhs_y=fair.top_ratio * s.mean, measure=measure, row=row,
                                 count=n_reps))
    if ("fairness_bottom" in include and fair.bottom_share is not None
            and fair.bottom_floor is not None):
        guards.append(OptionTail(f"fairness_bottom{suffix}", empty, empty, fair.bottom_share,
                                 False, fair.bottom_floor, measure=measure, row=row,
                                 count=n_reps))
    return guards


def define_option_tail(plan: ResponsePlanModel, guard: OptionTail, method: TailMethod) -> None:
    """A tail guardrail: in full (scenarios, when few) or as an initially empty cut list.

    The tails over reps are always cutting planes: their values per option are not
    stored.
    """
    m = plan.model
    full = guard.matrix is not None and (
        method == "full" or (method == "auto" and guard.size <= FULL_TAIL_LIMIT))
    if not full:
        setattr(m, f"{guard.name}_cuts", pyo.ConstraintList())
        plan.cut_guards.append(guard)
        return
    assert guard.matrix is not None
    plan.full_guards.append(guard)
    index = pyo.RangeSet(0, guard.size - 1)
    eta = pyo.Var(domain=pyo.Reals)
    excess = pyo.Var(index, domain=pyo.NonNegativeReals)
    sign = 1.0 if guard.upper else -1.0
    values = [plan.linear_y(guard.matrix[k]) for k in range(guard.size)]
    setattr(m, f"{guard.name}_index", index)
    setattr(m, f"{guard.name}_eta", eta)
    setattr(m, f"{guard.name}_excess", excess)
    setattr(m, f"{guard.name}_excess_def", pyo.Constraint(
        index, rule=lambda _, k: excess[k] >= sign * (values[k] - eta)))
    tail = eta + sign * pyo.quicksum(excess[k] for k in index) / (guard.share * guard.size)
    rhs = plan._rhs(guard)
    setattr(m, f"{guard.name}_limit",
            pyo.Constraint(expr=tail <= rhs if guard.upper else tail >= rhs))


@dataclass
class ResponseProblem:
    """Everything a response solve of a case needs, computed once and shared by solves."""

    case: Case
    coeffs: Coefficients
    grid: Rounding
    options: Options
    data: ResponseData
    base: Baseline
    sets: list[OptionSet]

    @classmethod
    def of(cls, case: Case, coeffs: Coefficients, *, rounding: Rounding | None = None,
           elasticities: Sequence[float] | None = None,
           guardrails: Iterable[str] | None = None,
           scenarios: bool = False) -> ResponseProblem:
        """Options, sorted attainment, baseline and per-option figures of a case.

        ``scenarios``: per-option totals per scenario (``OptionSet.scen``) even without
        the case's own CVaR cap (an organisation's CVaR over all roles, O2).
        """
        include = set(GUARDRAILS if guardrails is None else guardrails)
        grid = response_grid(rounding)
        options = grid_options(case, grid)
        data = ResponseData(case, coeffs, include)
        data.with_scen = data.with_scen or scenarios
        base = baseline(case, coeffs)
        settings = ([response_settings(case)] if not elasticities
                    else [response_settings(case, e) for e in elasticities])
        sets = option_sets(data, options, base, settings)
        return cls(case, coeffs, grid, options, data, base, sets)


#: The last problem built by :func:`solve_response`: the diagnosis of an infeasible case
#: solves the same case many times (one slot; it holds the case until the next one).
_LAST: list[tuple[Case, Coefficients, Rounding, tuple[float, ...], ResponseProblem]] = []


def case_problem(case: Case, coeffs: Coefficients, rounding: Rounding | None,
                 elasticities: Sequence[float] | None) -> ResponseProblem:
    """The case's problem (every guardrail's figures), reused for the same case and grid."""
    grid, key = response_grid(rounding), tuple(elasticities or ())
    for seen, seen_coeffs, seen_grid, seen_key, problem in _LAST:
        if seen is case and seen_coeffs is coeffs and seen_grid == grid and seen_key == key:
            return problem
    problem = ResponseProblem.of(case, coeffs, rounding=grid, elasticities=elasticities)
    _LAST[:] = [(case, coeffs, grid, key, problem)]
    return problem


def forget_problems() -> None:
    """Drop the problem kept by :func:`case_problem`."""
    _LAST.clear()


def solve_response(case: Case, coeffs: Coefficients, *, time_limit: float | None = None,
                   guardrails: Iterable[str] | None = None, tail_method: TailMethod = "auto",
                   objective: str = "alignment", elastic: Iterable[str] = (),
                   progress: Callable[[str], None] | None = None,
                   rounding: Rounding | None = None,
                   elasticities: Sequence[float] | None = None,
                   problem: ResponseProblem | None = None) -> SolveResult:
    """The best grid plan under response, proven, then section 4's tie-break under response.

    Parameters are those of :func:`compplan.optimizer.solve.solve`, and

    rounding : Rounding, optional
        The grid (default 0.05 for weights and rates).
    elasticities : sequence of float, optional
        Robust design: constraints 6 to 10 under response for each elasticity (each
        replacing every metric's); ties: the least of the largest expected payout.
    problem : ResponseProblem, optional
        The case's per-option figures, when already computed.

    Returns
    -------
    SolveResult
        With ``w`` and ``u`` exactly on the grid.
    """
    if objective not in ("alignment", "cost", "feasibility", "elastic"):
        raise ValueError(f"unknown objective '{objective}'")
    prob = problem if problem is not None else case_problem(case, coeffs, rounding, elasticities)
    plan = create_response_model(case, coeffs, prob.data, prob.options, prob.sets,
                                 guardrails=guardrails, tail_method=tail_method,
                                 elastic=elastic if objective == "elastic" else ())
    m = plan.model
    tie = m.cost_max if len(prob.sets) > 1 else m.expected_cost
    if objective == "alignment":
        stages = [Stage("alignment", m.alignment, True), Stage("expected_cost", tie, False)]
    elif objective == "cost":
        # No tolerance above the least cost: min-budget's figure is the least itself
        # (issue 19), so a cap at it admits the plan.
        stages = [Stage("expected_cost", tie, False, tolerance=0.0),
                  Stage("alignment", m.alignment, True)]
    elif objective == "elastic":
        relax = pyo.quicksum(plan.slack(g) / relaxation_scale(case, coeffs, g)
                             for g in sorted(plan.elastic))
        stages = [Stage("relaxation", relax, False)]
    else:
        stages = [Stage("alignment", m.alignment, True)]
    result, _ = solve_stages(plan, stages, time_limit=time_limit, progress=progress)
    if result.has_plan and result.w is not None and result.u is not None:
        w, u = prob.grid.snap(result.w, result.u)
        result.w, result.u = w, u
        result.slacks = {g: plan.slack_value(g) for g in plan.elastic}
    if result.status is Status.INFEASIBLE:
        result.message = result.message or "no grid plan satisfies the constraints under response"
    return result
