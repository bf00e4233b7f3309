"""The price of a guardrail: what loosening its limit buys, checked by re-solving.

Two figures per guardrail the case sets:

- ``per_percent``: the alignment a 1 % loosening of the limit buys, measured by
  re-solving the full model (choice of metrics included) at the loosened limit. It is
  never extrapolated from a dual value, which holds only until another limit binds.
- ``shadow_price``: the marginal price (alignment per unit of the limit), the dual
  value of the guardrail's rows in the LP of the selected metrics (``z`` fixed); tail
  guardrails written as cuts sum the duals of their cut rows. It is reported with
  ``valid_from`` and ``valid_to``, the range of the limit over which the optimal
  alignment moves at exactly that price.

The range is found by re-solves. Optimal alignment as a function of a limit is
piecewise linear (concave while the metrics stay the same): from a re-solve at a
point off the price's line, the tangent there (its own dual value) meets the line at
the next kink; a re-solve there confirms it (or, with several kinks, becomes the next
point). Where no tangent is available (no plan at that limit) the search bisects.
Each side is searched within ``0`` and twice the limit, probing at 1 %, 10 % and
100 % of the limit, then at most ``MAX_STEPS`` re-solves (bisection stops at
``RESOLUTION`` of the limit), so pricing costs a bounded number of small solves; an
end left unconfirmed is the last point where the price was seen to hold. A guardrail
that does not bind holds its price, 0, down to the plan's own value without a solve.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pyomo.environ as pyo

from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import PlanModel, TailMethod, create_model, guardrail_limits
from compplan.optimizer.solve import CutLoop, Status

_UNITS = {
    "payout_multiple": ("[design] max_payout_multiple", "per 1.0x of target incentive"),
    "budget_expected": ("[budget] expected_cap", "per currency unit"),
    "budget_cvar": ("[budget] cvar_cap", "per currency unit"),
    "fairness_parity": ("[fairness] parity_tolerance", "per 1.0 of tolerance (share of target)"),
    "fairness_top": ("[fairness] top_ratio", "per 1.0 of ratio"),
    "fairness_bottom": ("[fairness] bottom_floor", "per 1.0 of floor (share of target)"),
}
#: Where each guardrail's limit lives in the case's spec.
_KEYS = {
    "payout_multiple": ("design", "max_payout_multiple"),
    "budget_expected": ("budget", "expected_cap"),
    "budget_cvar": ("budget", "cvar_cap"),
    "fairness_parity": ("fairness", "parity_tolerance"),
    "fairness_top": ("fairness", "top_ratio"),
    "fairness_bottom": ("fairness", "bottom_floor"),
}
#: Re-solves per side of the range search after its probes (at 1 %, 10 % and 100 % of
#: the limit), and the share of the limit to which an end found by bisection is resolved.
MAX_STEPS = 12
RESOLUTION = 1e-3
# A re-solve is on the price's line when it is within these tolerances of it: the
# solves are proven optimal to 1e-9 (relative), far finer.
_ABS_TOL = 1e-7
_REL_TOL = 1e-6
# Re-solved gains below this (relative to the alignment) are rounding, reported as 0.
_NOISE = 1e-12


@dataclass(frozen=True)
class GuardrailPrice:
    """What one guardrail costs the plan.

    Attributes
    ----------
    guardrail, setting : str
        The guardrail and its key in ``case.toml``.
    limit : float
        Its value in the case.
    shadow_price : float
        Marginal price: alignment gained per unit of loosening (raising a cap or
        tolerance, lowering the floor); zero when the guardrail does not bind.
    unit : str
        The unit of ``shadow_price``.
    per_percent : float
        Alignment gained by loosening the limit by 1 % of its value, from a re-solve.
    valid_from, valid_to : float
        The range of the limit (``valid_from <= limit <= valid_to``) over which the
        optimal alignment changes at exactly ``shadow_price`` per unit.
    """

    guardrail: str
    setting: str
    limit: float
    shadow_price: float
    unit: str
    per_percent: float
    valid_from: float
    valid_to: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def with_limit(case: Case, guardrail: str, limit: float) -> Case:
    """The case with one guardrail's limit set to ``limit``."""
    section, key = _KEYS[guardrail]
    part = getattr(case.spec, section).model_copy(update={key: limit})
    return replace(case, spec=case.spec.model_copy(update={section: part}))


def loosening(guardrail: str) -> float:
    """+1 when loosening a guardrail raises its limit, -1 when it lowers it (the floor)."""
    return -1.0 if guardrail == "fairness_bottom" else 1.0


def _rows(plan: PlanModel, name: str) -> list[Any]:
    """The constraint rows of a guardrail on the model."""
    m = plan.model
    names = {
        "payout_multiple": ["payout_multiple"],
        "budget_expected": ["budget_expected"],
        "fairness_parity": ["fairness_parity_upper", "fairness_parity_lower"],
    }.get(name, [f"{name}_limit", f"{name}_cuts"])
    rows = []
    for attr in names:
        component = getattr(m, attr, None)
        if component is not None:
            rows.extend(component.values())
    return rows


def marginal_prices(case: Case, coeffs: Coefficients, z: np.ndarray,
                    tail_method: TailMethod = "auto") -> tuple[float, dict[str, float]] | None:
    """Alignment of the LP of the selected metrics and each guardrail's dual price there.

    Parameters
    ----------
    case : Case
        The case (its limits are those priced).
    coeffs : Coefficients
        Its coefficients.
    z : numpy.ndarray
        The selection of metrics (1 chosen, 0 not).
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.

    Returns
    -------
    tuple or None
        ``(alignment, {guardrail: price per unit of its limit})``; None if the LP
        could not be solved.
    """
    plan = create_model(case, coeffs, tail_method=tail_method)
    for k, chosen in zip(coeffs.metric_ids, z, strict=True):
        # A continuous domain makes the model a pure LP for HiGHS, which then has duals.
        plan.model.z[k].domain = pyo.UnitInterval
        plan.model.z[k].fix(1 if chosen > 0.5 else 0)
    loop = CutLoop(plan, None, None)
    status, _, _ = loop.run()
    if status is not Status.OPTIMAL or loop.last is None:
        return None
    w, u, _ = loop.values()
    return float(coeffs.objective_w @ w + coeffs.objective_u @ u), _dual_prices(case, coeffs, loop)


def _dual_prices(case: Case, coeffs: Coefficients, loop: CutLoop) -> dict[str, float]:
    """Each guardrail's dual price per unit of its limit at the loop's last LP solve."""
    assert loop.last is not None
    duals = loop.last.solution_loader.get_duals()
    w, u, _ = loop.values()
    shares = coeffs.rep_w @ w + coeffs.rep_u @ u
    prices = {}
    for name, limit in guardrail_limits(case).items():
        if limit is None:
            continue
        total = sum(abs(duals.get(row, 0.0)) for row in _rows(loop.plan, name))
        if name in ("budget_expected", "budget_cvar"):
            total /= coeffs.ti_total  # the rows are in shares of total target incentive
        elif name == "fairness_top":
            total *= float(shares.mean())  # the limit enters as ratio x mean payout
        prices[name] = total
    return prices


def best_alignment(case: Case, coeffs: Coefficients,
                   tail_method: TailMethod = "auto") -> tuple[float, np.ndarray] | None:
    """The optimal alignment of a case and its choice of metrics (no tie-break solve).

    Returns
    -------
    tuple or None
        ``(alignment, z)``; None when no plan fits (or the solver did not prove one).
    """
    return _run(CutLoop(create_model(case, coeffs, tail_method=tail_method), None, None),
                coeffs)


def _run(loop: CutLoop, coeffs: Coefficients) -> tuple[float, np.ndarray] | None:
    loop.rounds = 0  # a loop re-solved at many limits: count each solve's rounds afresh
    status, _, _ = loop.run()
    if status is not Status.OPTIMAL:
        return None
    w, u, z = loop.values()
    return float(coeffs.objective_w @ w + coeffs.objective_u @ u), z


class _Resolver:
    """Re-solves of a case at moved limits.

    The MIP and the LP of fixed metrics are each built once, with every limit given a
    fixed relaxation variable (the model's ``elastic`` slack): moving a limit is
    fixing that variable, so HiGHS re-solves the same model and the tail cuts found
    at one limit serve at every other. ``top_ratio`` scales the mean payout, which
    no slack can express, so its re-solves rebuild the model.
    """

    def __init__(self, case: Case, coeffs: Coefficients, tail_method: TailMethod) -> None:
        self.case, self.coeffs, self.tail_method = case, coeffs, tail_method
        self.movable = [n for n, v in guardrail_limits(case).items()
                        if v is not None and n != "fairness_top"]
        self.mip = CutLoop(create_model(case, coeffs, tail_method=tail_method,
                                        elastic=self.movable), None, None)
        self.lp = CutLoop(create_model(case, coeffs, tail_method=tail_method,
                                       elastic=self.movable), None, None)
        for loop in (self.mip, self.lp):
            for name in self.movable:
                var = loop.plan.slack(name)
                var.domain = pyo.Reals
                var.fix(0.0)
        for k in coeffs.metric_ids:
            # A continuous domain makes the model a pure LP for HiGHS, which then has duals.
            self.lp.plan.model.z[k].domain = pyo.UnitInterval

    def _move(self, loop: CutLoop, name: str, t: float) -> None:
        scale = self.coeffs.ti_total if name in ("budget_expected", "budget_cvar") else 1.0
        loop.plan.slack(name).fix(t / scale)

    def solve(self, name: str, t: float) -> tuple[float, np.ndarray] | None:
        """Optimal alignment and metrics with the guardrail loosened by ``t``."""
        if name not in self.movable:
            moved = with_limit(self.case, name, _limit(self.case, name) + loosening(name) * t)
            return best_alignment(moved, self.coeffs, self.tail_method)
        self._move(self.mip, name, t)
        try:
            return _run(self.mip, self.coeffs)
        finally:
            self._move(self.mip, name, 0.0)

    def slope(self, name: str, t: float, z: np.ndarray) -> float | None:
        """The guardrail's marginal price with it loosened by ``t`` and metrics ``z``."""
        if name not in self.movable:
            moved = with_limit(self.case, name, _limit(self.case, name) + loosening(name) * t)
            priced = marginal_prices(moved, self.coeffs, z, self.tail_method)
            return None if priced is None else priced[1][name]
        model = self.lp.plan.model
        for k, chosen in zip(self.coeffs.metric_ids, z, strict=True):
            model.z[k].fix(1 if chosen > 0.5 else 0)
        self._move(self.lp, name, t)
        try:
            if _run(self.lp, self.coeffs) is None or self.lp.last is None:
                return None
            return _dual_prices(self.case, self.coeffs, self.lp)[name]
        finally:
            self._move(self.lp, name, 0.0)


def _limit(case: Case, name: str) -> float:
    return float(guardrail_limits(case)[name] or 0.0)


@dataclass
class _Line:
    """The price's line ``alignment(t) = start + price * t``, ``t`` the loosening."""

    solver: _Resolver
    guardrail: str
    start: float
    price: float

    def solve(self, t: float) -> tuple[float, np.ndarray] | None:
        return self.solver.solve(self.guardrail, t)

    def holds(self, t: float, found: tuple[float, np.ndarray] | None) -> bool:
        if found is None:
            return False
        expected = self.start + self.price * t
        return abs(found[0] - expected) <= _ABS_TOL * max(1.0, abs(self.start)) \
            + _REL_TOL * abs(self.price * t)

    def edge(self, probes: list[float], first: tuple[float, np.ndarray] | None = None) -> float:
        """How far along ``probes`` (signed loosenings, growing) the price holds."""
        known, end, found = 0.0, None, None
        for i, t in enumerate(probes):
            found = first if i == 0 and first is not None else self.solve(t)
            if not self.holds(t, found):
                end = t
                break
            known = t
        if end is None:
            return known
        resolution = RESOLUTION * abs(probes[-1])
        for _ in range(MAX_STEPS):
            if abs(end - known) <= resolution:
                break
            nxt, on_tangent = None, False
            if found is not None:
                # The tangent at ``end`` meets the price's line at the kink, if it is the only one.
                tangent = self.solver.slope(self.guardrail, end, found[1])
                if tangent is not None and abs(self.price - tangent) > 1e-12:
                    nxt = (found[0] - tangent * end - self.start) / (self.price - tangent)
                    on_tangent = True
            if nxt is None or not min(known, end) < nxt < max(known, end):
                nxt, on_tangent = 0.5 * (known + end), False
            result = self.solve(nxt)
            if self.holds(nxt, result):
                known = nxt
                if on_tangent:
                    return known  # on both lines: the kink itself
            else:
                end, found = nxt, result
        return known


def shadow_prices(case: Case, coeffs: Coefficients, z: np.ndarray,
                  tail_method: TailMethod = "auto",
                  values: dict[str, float] | None = None) -> list[GuardrailPrice]:
    """The price of every guardrail of the case at the plan's choice of metrics.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    z : numpy.ndarray
        The selection of metrics (1 chosen, 0 not) of the optimal plan.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    values : dict, optional
        Each guardrail's value at the plan. A guardrail that does not bind then costs
        nothing down to its value without a re-solve; otherwise that side is searched.

    Returns
    -------
    list of GuardrailPrice
        One per guardrail the case sets; empty if the LP could not be solved.
    """
    priced = marginal_prices(case, coeffs, z, tail_method)
    if priced is None:
        return []
    start, marginal = priced
    resolver = _Resolver(case, coeffs, tail_method)
    prices = []
    for name, setting_value in guardrail_limits(case).items():
        if setting_value is None:
            continue
        limit = float(setting_value)
        line = _Line(resolver, name, start, marginal[name])
        reach = abs(limit) if limit != 0 else 1.0  # searched within 0 and twice the limit
        one = line.solve(0.01 * abs(limit)) if limit != 0 else (start, z)
        gain = 0.0 if one is None else one[0] - start
        per_percent = gain if abs(gain) > _NOISE * max(1.0, abs(start)) else 0.0
        unused = None if values is None or name not in values \
            else loosening(name) * (values[name] - limit)
        slack = marginal[name] == 0 and unused is not None and unused < -1e-9 * reach
        steps = [0.01, 1.0] if slack else [0.01, 0.1, 1.0]
        loose = line.edge([f * reach for f in steps], one if limit != 0 else None)
        # Where the guardrail does not bind, the plan itself meets every limit down to
        # its own value: no re-solve needed on that side.
        tight = unused if slack and unused is not None else line.edge([-f * reach for f in steps])
        ends = sorted((limit + loosening(name) * loose, limit + loosening(name) * tight))
        setting, unit = _UNITS[name]
        prices.append(GuardrailPrice(name, setting, limit, marginal[name], unit,
                                     per_percent, ends[0], ends[1]))
    return prices
