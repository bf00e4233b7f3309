"""The canonical MIP of MODEL.md section 4, built with Pyomo.

``create_model`` reads like the spec: variables, design rules, payout multiple,
budget, parity, tails over reps, objective. Each ``define_*`` returns early when
its data is absent or its guardrail is left out. Constraint names follow
``<guardrail>_<what>``, e.g. ``design_weight_sum``, ``budget_expected``,
``fairness_parity_upper``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyomo.core as pyo

from compplan.errors import UsageError
from compplan.models import guardrails as guardrail_table
from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.tails import TailGuard

TailMethod = Literal["auto", "full", "cuts"]

#: Guardrails that can be left out of a model (the design rules always stay): the
#: names of the guardrail table (models/guardrails.py).
GUARDRAILS = guardrail_table.NAMES

def guardrail_limits(case: Case) -> dict[str, float | None]:
    """Each guardrail's limit as the case sets it (None when switched off)."""
    return guardrail_table.limits(case)


@dataclass(frozen=True)
class Rounding:
    """Grids a publishable plan lies on: ``w_m = weights * n_m``, ``u_m = rates * k_m``.

    Attributes
    ----------
    weights : float or None
        Step of the weight grid (share of target incentive, e.g. 0.05 for 5 %); 1 must
        be a whole number of steps, so that weights can sum to one.
    rates : float or None
        Step of the accelerator-rate grid (share of target per unit of attainment
        above 100 %, e.g. 0.05).
    """

    weights: float | None = None
    rates: float | None = None

    def snap(self, w: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The solver's values put exactly on the grids (its integers are exact to 1e-9)."""
        return _snap(w, self.weights), _snap(u, self.rates)

    def text(self) -> str:
        """``weights=0.05,rates=0.05``, as given on the command line."""
        return ",".join(f"{k}={v:g}" for k, v in (("weights", self.weights),
                                                   ("rates", self.rates)) if v is not None)


def _snap(values: np.ndarray, step: float | None) -> np.ndarray:
    if step is None:
        return values
    # Twelve decimals: 7 x 0.05 is written 0.35, not 0.35000000000000003.
    return np.round(np.round(values / step) * step, 12)


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


#: The finest --round step: the integer grid variables count at most 1 / FINEST_STEP
#: steps per unit, well within HiGHS's integrality tolerance (1e-6 of a step).
FINEST_STEP = 1e-4


def parse_rounding(text: str) -> Rounding:
    """Read ``--round``: ``weights=0.05,rates=0.05`` (either part may be left out).

    ``accelerators=STEP`` is accepted for ``rates=STEP``: both grid accelerator rates.

    Parameters
    ----------
    text : str
        As given on the command line.

    Returns
    -------
    Rounding
        The grids' steps.

    Raises
    ------
    UsageError
        An unknown part, a part given twice, a step that is not a number in
        [FINEST_STEP, 1], or a weight step that does not divide 1.
    """
    steps: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, _, value = part.partition("=")
        # A long value is cut in messages (as every value compplan echoes).
        part, raw = _cut(part), _cut(value)
        # "accelerators" is the same grid by its longer name: accelerator rates.
        key = {"accelerators": "rates"}.get(key.strip(), key.strip())
        if key not in ("weights", "rates") or not value:
            raise UsageError(f"--round: '{part}' is not weights=STEP or rates=STEP "
                             "(e.g. --round weights=0.05,rates=0.05)")
        try:
            step = float(value)
        except ValueError:
            raise UsageError(f"--round: {key}={raw} is not a number") from None
        if not (0.0 < step <= 1.0):
            raise UsageError(f"--round: {key}={raw} must be a step in (0, 1]")
        if step < FINEST_STEP:
            raise UsageError(f"--round: {key}={raw} is finer than the finest grid allowed, "
                             f"{FINEST_STEP:g} ({round(1 / FINEST_STEP):,} steps per unit of "
                             "target incentive): a finer grid is below the solver's integer "
                             "precision, so its plans are not proven on the grid; leave "
                             f"{key} out for an unrounded plan")
        if key in steps:
            raise UsageError(f"--round: {key} is given twice ({key}={steps[key]:g} and "
                             f"{key}={raw}); give it once")
        steps[key] = step
    if not steps:
        raise UsageError("--round needs weights=STEP, rates=STEP or both "
                         "(e.g. --round weights=0.05,rates=0.05)")
    weights = steps.get("weights")
    if weights is not None and abs(1.0 / weights - round(1.0 / weights)) > 1e-9 / weights:
        raise UsageError(f"--round: weights={weights:g} does not divide 1, so weights on its "
                         "grid cannot sum to 1 (try 0.05, 0.1, 0.125, 0.2 or 0.25)")
    return Rounding(weights, steps.get("rates"))


#: Above this many values a tail guardrail is written as cutting planes under "auto".
FULL_TAIL_LIMIT = 100


@dataclass
class PlanModel:
    """A Pyomo model of the plan with the tail guardrails it enforces by cuts.

    Attributes
    ----------
    model : pyomo.environ.ConcreteModel or pyomo.environ.Block
        Variables ``z``, ``w``, ``u`` indexed by metric id, expressions ``alignment``
        and ``expected_cost`` (share of total target incentive).
    cut_guards : list of TailGuard
        Guardrails enforced by cutting planes; each has a ``ConstraintList`` named
        ``<guard>_cuts`` on the model.
    full_guards : list of TailGuard
        Guardrails written in full (Rockafellar-Uryasev rows).
    metric_ids : tuple of str
        Metric order of the coefficient arrays.
    solver_options : dict
        HiGHS options of this kind of model, over the solver's defaults
        (``compplan.optimizer.solve``).
    start_rounds : bool
        Start each round of tail cuts from the last round's plan (which the new cuts cut
        off: HiGHS repairs it or sets it aside).
    """

    model: pyo.ConcreteModel | pyo.Block
    cut_guards: list[TailGuard] = field(default_factory=list)
    full_guards: list[TailGuard] = field(default_factory=list)
    metric_ids: tuple[str, ...] = ()
    elastic: frozenset[str] = frozenset()
    solver_options: dict[str, Any] = field(default_factory=dict)
    start_rounds: bool = False

    def slack(self, name: str) -> pyo.Var | float:
        """The relaxation variable of an elastic guardrail (``slack_<name>``), else 0."""
        if name not in self.elastic:
            return 0.0
        var = getattr(self.model, f"slack_{name}", None)
        if var is None:
            var = pyo.Var(domain=pyo.NonNegativeReals)
            setattr(self.model, f"slack_{name}", var)
        return var

    def slack_value(self, name: str) -> float:
        """Value of a guardrail's relaxation at the current solution (0 if not elastic)."""
        var = getattr(self.model, f"slack_{name}", None)
        return 0.0 if var is None or var.value is None else float(var.value)

    def values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``w``, ``u`` and ``z`` per metric at the current solution."""
        m = self.model
        ids = self.metric_ids
        return (np.array([pyo.value(m.w[k]) for k in ids]),
                np.array([pyo.value(m.u[k]) for k in ids]),
                np.array([pyo.value(m.z[k]) for k in ids]))

    def guard_point(self, guard: TailGuard, w: np.ndarray,
                    u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The part of ``(w, u)`` (from :meth:`values`) that ``guard`` is written over."""
        return w, u

    def linear(self, coef_w: np.ndarray, coef_u: np.ndarray) -> pyo.Expression:
        """``coef_w @ w + coef_u @ u`` as a Pyomo expression (zero terms left out)."""
        m = self.model
        terms = [float(c) * m.w[k] for c, k in zip(coef_w, self.metric_ids, strict=True) if c]
        terms += [float(c) * m.u[k] for c, k in zip(coef_u, self.metric_ids, strict=True) if c]
        return pyo.quicksum(terms)

    def add_cut(self, guard: TailGuard, weights: np.ndarray) -> None:
        """Add the aggregated row ``sum_k p_k v_k <= rhs`` (or ``>=``) for vertex ``p``."""
        lhs = self.linear(weights @ guard.values_w, weights @ guard.values_u)
        rhs = self._rhs(guard)
        cuts = getattr(self.model, f"{guard.name}_cuts")
        cuts.add(lhs <= rhs if guard.upper else lhs >= rhs)

    def _rhs(self, guard: TailGuard) -> pyo.Expression:
        relax = self.slack(guard.name)
        rhs = guard.rhs + relax if guard.upper else guard.rhs - relax
        if guard.rhs_w is None or guard.rhs_u is None:
            return rhs
        return rhs + self.linear(guard.rhs_w, guard.rhs_u)


def create_model(case: Case, coeffs: Coefficients, *,
                 guardrails: Iterable[str] | None = None,
                 tail_method: TailMethod = "auto",
                 elastic: Iterable[str] = (),
                 block: pyo.Block | None = None,
                 rounding: Rounding | None = None) -> PlanModel:
    """Build the canonical model of a case.

    Parameters
    ----------
    case : Case
        The case (design rules, budget and fairness settings).
    coeffs : Coefficients
        Its coefficients, from :func:`compute_coefficients`.
    guardrails : iterable of str, optional
        The guardrails to include (names from ``GUARDRAILS``); all of the case's by
        default. Used to find which guardrails conflict when no plan exists.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written; ``auto`` uses cuts above ``FULL_TAIL_LIMIT``
        values.
    elastic : iterable of str
        Guardrails whose limit may be relaxed by a variable ``slack_<name> >= 0``
        (in the model's units), to find the least relaxation that admits a plan.
    block : pyomo.environ.Block, optional
        Build into this block (one role of an organisation) instead of a new model.
    rounding : Rounding, optional
        Put weights and accelerator rates on integer grids (a plan to publish).

    Returns
    -------
    PlanModel
        The model, maximising expected alignment.
    """
    include = set(GUARDRAILS if guardrails is None else guardrails)
    unknown = include - set(GUARDRAILS)
    if unknown:
        raise ValueError(f"unknown guardrail '{sorted(unknown)[0]}' (known: {GUARDRAILS})")
    unknown_elastic = set(elastic) - set(GUARDRAILS)
    if unknown_elastic:
        raise ValueError(f"unknown guardrail '{sorted(unknown_elastic)[0]}' (known: {GUARDRAILS})")
    home = pyo.ConcreteModel(name=case.name) if block is None else block
    plan = PlanModel(home, metric_ids=coeffs.metric_ids,
                     elastic=frozenset(elastic))
    define_variables(plan, case)
    define_rounding(plan, case, rounding)
    define_cost(plan, coeffs)
    define_design(plan, case)
    define_payout_multiple(plan, case, include)
    define_budget(plan, case, coeffs, include)
    define_parity(plan, case, coeffs, include)
    for guard in tail_guards(case, coeffs, include):
        define_tail(plan, guard, tail_method)
    define_objective(plan, coeffs)
    return plan


def define_variables(plan: PlanModel, case: Case) -> None:
    """``z_m`` binary, ``w_m`` in [0, 1], ``u_m >= 0``; required and forbidden fix ``z``."""
    m = plan.model
    m.metrics = pyo.Set(initialize=list(plan.metric_ids), ordered=True)
    m.z = pyo.Var(m.metrics, domain=pyo.Binary)
    m.w = pyo.Var(m.metrics, bounds=(0.0, 1.0))
    m.u = pyo.Var(m.metrics, domain=pyo.NonNegativeReals)
    for k in plan.metric_ids:
        spec = case.metric(k)
        if spec.required:
            m.z[k].fix(1)
        elif spec.forbidden:
            m.z[k].fix(0)


def define_rounding(plan: PlanModel, case: Case, rounding: Rounding | None) -> None:
    """Weights and accelerator rates on integer grids: ``w_m = step * n_m``, ``n_m`` integer.

    The grids add two integer variables per metric, never per rep: the model stays
    small, and the MIP proves the best plan among rounded plans.
    """
    if rounding is None:
        return
    m = plan.model
    design = case.spec.design
    if rounding.weights is not None:
        step = rounding.weights
        m.rounding_weight_steps = pyo.Var(m.metrics, domain=pyo.NonNegativeIntegers,
                                          bounds=(0, round(1.0 / step)))
        m.rounding_weight = pyo.Constraint(
            m.metrics, rule=lambda m, k: m.w[k] == step * m.rounding_weight_steps[k])
    if rounding.rates is not None:
        rate = rounding.rates

        def most(k: str) -> int:
            # u <= alpha_max w / (1 - theta) <= alpha_max / (1 - theta).
            top = design.accelerator_max / (1.0 - case.metric(k).threshold)
            return int(np.floor(top / rate + 1e-9))

        m.rounding_rate_steps = pyo.Var(m.metrics, domain=pyo.NonNegativeIntegers,
                                        bounds=lambda m, k: (0, most(k)))
        m.rounding_rate = pyo.Constraint(
            m.metrics, rule=lambda m, k: m.u[k] == rate * m.rounding_rate_steps[k])


def define_design(plan: PlanModel, case: Case) -> None:
    """Constraints 1 to 4: weights sum to one, metric count, weight and accelerator bounds."""
    m = plan.model
    design = case.spec.design
    m.design_weight_sum = pyo.Constraint(expr=pyo.quicksum(m.w[k] for k in m.metrics) == 1.0)
    m.design_max_metrics = pyo.Constraint(
        expr=pyo.quicksum(m.z[k] for k in m.metrics) <= design.max_metrics)

    def low(k: str) -> float:
        return case.weight_bounds(k)[0]

    def high(k: str) -> float:
        return case.weight_bounds(k)[1]

    def slope(k: str) -> float:
        return 1.0 / (1.0 - case.metric(k).threshold)

    m.design_weight_lower = pyo.Constraint(m.metrics, rule=lambda m, k: low(k) * m.z[k] <= m.w[k])
    m.design_weight_upper = pyo.Constraint(m.metrics,
                                           rule=lambda m, k: m.w[k] <= high(k) * m.z[k])
    m.design_accelerator_lower = pyo.Constraint(
        m.metrics, rule=lambda m, k: design.accelerator_min * slope(k) * m.w[k] <= m.u[k])
    m.design_accelerator_upper = pyo.Constraint(
        m.metrics, rule=lambda m, k: m.u[k] <= design.accelerator_max * slope(k) * m.w[k])


def define_payout_multiple(plan: PlanModel, case: Case, include: set[str]) -> None:
    """Constraint 5: the most any rep can earn, as a multiple of target incentive."""
    limit = case.spec.design.max_payout_multiple
    if limit is None or "payout_multiple" not in include:
        return
    m = plan.model
    m.payout_multiple = pyo.Constraint(expr=pyo.quicksum(
        m.w[k] + (case.metric(k).cap - 1.0) * m.u[k] for k in m.metrics)
        <= limit + plan.slack("payout_multiple"))


def define_budget(plan: PlanModel, case: Case, coeffs: Coefficients, include: set[str]) -> None:
    """Constraint 6: expected total payout at most the cap."""
    cap = case.spec.budget.expected_cap
    if cap is None or "budget_expected" not in include:
        return
    plan.model.budget_expected = pyo.Constraint(
        expr=plan.model.expected_cost <= cap / coeffs.ti_total + plan.slack("budget_expected"))


def define_parity(plan: PlanModel, case: Case, coeffs: Coefficients, include: set[str]) -> None:
    """Constraint 8: each group's payout share of target within ``delta`` of everyone's."""
    tolerance = case.spec.fairness.parity_tolerance
    if tolerance is None or "fairness_parity" not in include or not coeffs.groups:
        return
    m = plan.model
    m.groups = pyo.Set(initialize=list(coeffs.groups), ordered=True)
    gap = {h: plan.linear(coeffs.group_w[i] - coeffs.pay_w, coeffs.group_u[i] - coeffs.pay_u)
           for i, h in enumerate(coeffs.groups)}
    relax = plan.slack("fairness_parity")

    def row(expr: object) -> object:
        # A group paid exactly as everyone (identical coefficients) has a constant gap 0:
        # the row is the constant True, which Pyomo refuses; it binds nothing, so skip it.
        return pyo.Constraint.Skip if expr is True else expr

    m.fairness_parity_upper = pyo.Constraint(m.groups,
                                             rule=lambda m, h: row(gap[h] <= tolerance + relax))
    m.fairness_parity_lower = pyo.Constraint(m.groups,
                                             rule=lambda m, h: row(gap[h] >= -tolerance - relax))


def tail_guards(case: Case, coeffs: Coefficients, include: Iterable[str]) -> list[TailGuard]:
    """The case's tail guardrails (constraints 7, 9 and 10) that ``include`` names."""
    include = set(include)
    budget, fair = case.spec.budget, case.spec.fairness
    guards = []
    if "budget_cvar" in include and budget.cvar_cap is not None and budget.cvar_level:
        guards.append(TailGuard("budget_cvar", coeffs.scen_w, coeffs.scen_u,
                                1.0 - budget.cvar_level, True, budget.cvar_cap / coeffs.ti_total))
    if "fairness_top" in include and fair.top_share is not None and fair.top_ratio is not None:
        n_reps = coeffs.rep_w.shape[0]
        guards.append(TailGuard("fairness_top", coeffs.rep_w, coeffs.rep_u, fair.top_share,
                                True, 0.0, fair.top_ratio * coeffs.rep_w.sum(0) / n_reps,
                                fair.top_ratio * coeffs.rep_u.sum(0) / n_reps))
    if ("fairness_bottom" in include and fair.bottom_share is not None
            and fair.bottom_floor is not None):
        guards.append(TailGuard("fairness_bottom", coeffs.rep_w, coeffs.rep_u,
                                fair.bottom_share, False, fair.bottom_floor))
    return guards


def define_tail(plan: PlanModel, guard: TailGuard, method: TailMethod) -> None:
    """A tail guardrail, in full or as an (initially empty) list of cuts."""
    m = plan.model
    if method == "cuts" or (method == "auto" and guard.size > FULL_TAIL_LIMIT):
        setattr(m, f"{guard.name}_cuts", pyo.ConstraintList())
        plan.cut_guards.append(guard)
        return
    plan.full_guards.append(guard)
    index = pyo.RangeSet(0, guard.size - 1)
    eta = pyo.Var(domain=pyo.Reals)
    excess = pyo.Var(index, domain=pyo.NonNegativeReals)
    sign = 1.0 if guard.upper else -1.0
    values = [plan.linear(guard.values_w[k], guard.values_u[k]) for k in range(guard.size)]
    setattr(m, f"{guard.name}_index", index)
    setattr(m, f"{guard.name}_eta", eta)
    setattr(m, f"{guard.name}_excess", excess)
    setattr(m, f"{guard.name}_excess_def", pyo.Constraint(
        index, rule=lambda _, k: excess[k] >= sign * (values[k] - eta)))
    tail = eta + sign * pyo.quicksum(excess[k] for k in index) / (guard.share * guard.size)
    rhs = plan._rhs(guard)
    setattr(m, f"{guard.name}_limit",
            pyo.Constraint(expr=tail <= rhs if guard.upper else tail >= rhs))


def define_objective(plan: PlanModel, coeffs: Coefficients) -> None:
    """Maximise expected alignment; keep expected cost as an expression for the tie-break."""
    m = plan.model
    m.alignment = pyo.Expression(expr=plan.linear(coeffs.objective_w, coeffs.objective_u))
    m.objective = pyo.Objective(expr=m.alignment, sense=pyo.maximize)


def define_cost(plan: PlanModel, coeffs: Coefficients) -> None:
    """Expected total payout as a share of total target incentive."""
    plan.model.expected_cost = pyo.Expression(expr=plan.linear(coeffs.cost_w, coeffs.cost_u))
