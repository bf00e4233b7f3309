"""The price of a guardrail: what loosening its limit buys, checked by re-solving.

Two figures per guardrail the case sets:

- ``per_percent``: the alignment a 1 % loosening of the limit buys, measured by
  re-solving the full model (choice of metrics included) at the loosened limit. It is
  never extrapolated from a dual value, which holds only until another limit binds.
- ``shadow_price``: the marginal price (alignment per unit of the limit), the dual
  value of the guardrail's rows in the LP of the selected metrics (``z`` fixed); tail
  guardrails written as cuts sum the duals of their cut rows. It is reported with
  ``valid_from`` and ``valid_to``, the range of the limit over which that LP's optimal
  alignment moves at exactly that price (past it another limit binds).

The range is found by re-solving that LP. Its optimal alignment is a concave,
piecewise linear function of a limit: from a solve at a point off the price's line,
the tangent there (its own dual value) meets the line at the next kink; a solve there
confirms it (or, with several kinks, becomes the next point). Where there is no
tangent (no plan at that limit) the search bisects. Each side is searched within
``0`` and twice the limit, probing at 1 %, 10 % and 100 % of the limit, then at most
``MAX_STEPS`` solves (bisection stops at ``RESOLUTION`` of the limit); an end left
unconfirmed is the last point where the price was seen to hold. A guardrail that
does not bind holds its price, 0, from the plan's own value to twice the limit
without a solve (relaxing a constraint an LP's optimum does not reach changes nothing).

Cost: one MIP re-solve per guardrail and a few LP solves, all on two persistent
models whose limits move by fixing their relaxation variables, sharing tail cuts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pyomo.environ as pyo

from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import PlanModel, TailMethod, create_model, guardrail_limits
from compplan.optimizer.solve import CutLoop, Status
from compplan.optimizer.tails import TailGuard

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


#: A solve at a moved limit: alignment, and each guardrail's dual price (LP only).
_Found = tuple[float, dict[str, float]]


class _Resolver:
    """Re-solves of a case at moved limits: the full MIP, and the LP of fixed metrics.

    Each model is built once, with every limit given a fixed relaxation variable (the
    model's ``elastic`` slack): moving a limit is fixing that variable, so HiGHS
    re-solves the same model. ``top_ratio`` scales the mean payout, which no slack can
    express, so its solves rebuild the model. Tail cuts are valid whatever the limits
    and the metrics, so every cut found by one model is handed to the others: after
    the first solve, a re-solve rarely needs a new one.
    """

    def __init__(self, case: Case, coeffs: Coefficients, tail_method: TailMethod,
                 z: np.ndarray) -> None:
        self.case, self.coeffs, self.tail_method, self.z = case, coeffs, tail_method, z
        self.movable = [n for n, v in guardrail_limits(case).items()
                        if v is not None and n != "fairness_top"]
        self.cuts: list[tuple[int, str, np.ndarray]] = []  # (owner, guardrail, vertex)
        self.loops: list[CutLoop] = []  # kept alive, so that no two share an id
        self.synced: dict[int, int] = {}  # per model: how many of the cuts it holds
        self.adders: dict[int, Callable[[TailGuard, np.ndarray], None]] = {}
        self.lp = self._loop(case, relaxed=True)
        self.mip = self._loop(case, relaxed=False)

    def _loop(self, case: Case, *, relaxed: bool) -> CutLoop:
        plan = create_model(case, self.coeffs, tail_method=self.tail_method,
                            elastic=self.movable)
        for name in self.movable:
            var = plan.slack(name)
            var.domain = pyo.Reals
            var.fix(0.0)
        if relaxed:
            for k, chosen in zip(self.coeffs.metric_ids, self.z, strict=True):
                # A continuous domain makes the model a pure LP for HiGHS, which then has duals.
                plan.model.z[k].domain = pyo.UnitInterval
                plan.model.z[k].fix(1 if chosen > 0.5 else 0)
        loop = CutLoop(plan, None, None)
        add = plan.add_cut

        def shared(guard: TailGuard, weights: np.ndarray) -> None:
            self.cuts.append((id(loop), guard.name, weights))
            add(guard, weights)

        plan.add_cut = shared
        self.loops.append(loop)
        self.synced[id(loop)], self.adders[id(loop)] = 0, add
        self._sync(loop)
        return loop

    def _sync(self, loop: CutLoop) -> None:
        """Give ``loop`` the cuts the other models found since it last ran."""
        guards = {g.name: g for g in loop.plan.cut_guards}
        add = self.adders[id(loop)]
        for owner, name, weights in self.cuts[self.synced[id(loop)]:]:
            if owner != id(loop) and name in guards:
                add(guards[name], weights)
        self.synced[id(loop)] = len(self.cuts)

    def _scale(self, name: str) -> float:
        return self.coeffs.ti_total if name in ("budget_expected", "budget_cvar") else 1.0

    def solve(self, name: str | None, t: float, *, relaxed: bool) -> _Found | None:
        """Alignment (and, for the LP, dual prices) with guardrail ``name`` loosened by ``t``."""
        if name is not None and name not in self.movable:
            limit = float(guardrail_limits(self.case)[name] or 0.0)
            moved = with_limit(self.case, name, limit + loosening(name) * t)
            loop = self._loop(moved, relaxed=relaxed)
            return self._run(loop, moved, relaxed)
        loop = self.lp if relaxed else self.mip
        if name is not None:
            loop.plan.slack(name).fix(t / self._scale(name))
        try:
            self._sync(loop)
            return self._run(loop, self.case, relaxed)
        finally:
            if name is not None:
                loop.plan.slack(name).fix(0.0)

    def _run(self, loop: CutLoop, case: Case, relaxed: bool) -> _Found | None:
        loop.rounds = 0  # a loop re-solved at many limits: count each solve's rounds afresh
        status, _, _ = loop.run()
        self.synced[id(loop)] = len(self.cuts)
        if status is not Status.OPTIMAL or loop.last is None:
            return None
        w, u, _ = loop.values()
        alignment = float(self.coeffs.objective_w @ w + self.coeffs.objective_u @ u)
        return alignment, _dual_prices(case, self.coeffs, loop) if relaxed else {}


@dataclass
class _Line:
    """The price's line ``alignment(t) = start + price * t``, ``t`` the loosening.

    Checked on the LP of the selected metrics: the marginal price is that LP's.
    """

    solver: _Resolver
    guardrail: str
    start: float
    price: float

    def solve(self, t: float) -> _Found | None:
        return self.solver.solve(self.guardrail, t, relaxed=True)

    def holds(self, t: float, found: _Found | None) -> bool:
        if found is None:
            return False
        expected = self.start + self.price * t
        return abs(found[0] - expected) <= _ABS_TOL * max(1.0, abs(self.start)) \
            + _REL_TOL * abs(self.price * t)

    def edge(self, probes: list[float]) -> float:
        """How far along ``probes`` (signed loosenings, growing) the price holds."""
        known, end, found = 0.0, None, None
        for t in probes:
            found = self.solve(t)
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
            nxt, on_tangent = 0.5 * (known + end), False
            if found is not None:
                # The tangent at ``end`` meets the price's line at the kink, if it is the only one.
                tangent = found[1][self.guardrail]
                if abs(self.price - tangent) > 1e-12:
                    cross = (found[0] - tangent * end - self.start) / (self.price - tangent)
                    if min(known, end) < cross < max(known, end):
                        nxt, on_tangent = cross, True
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
        nothing from its value to twice its limit without a solve; without ``values``
        every range is searched.

    Returns
    -------
    list of GuardrailPrice
        One per guardrail the case sets; empty if the LP could not be solved.
    """
    resolver = _Resolver(case, coeffs, tail_method, z)
    base = resolver.solve(None, 0.0, relaxed=True)
    if base is None:
        return []
    start, marginal = base
    prices = []
    for name, setting_value in guardrail_limits(case).items():
        if setting_value is None:
            continue
        limit = float(setting_value)
        one = resolver.solve(name, 0.01 * abs(limit), relaxed=False) if limit != 0 else base
        gain = 0.0 if one is None else one[0] - start
        per_percent = gain if abs(gain) > _NOISE * max(1.0, abs(start)) else 0.0
        reach = abs(limit) if limit != 0 else 1.0  # searched within 0 and twice the limit
        unused = None if values is None or name not in values \
            else loosening(name) * (values[name] - limit)
        slack = marginal[name] == 0 and unused is not None and unused < -1e-9 * reach
        line = _Line(resolver, name, start, marginal[name])
        if slack and unused is not None:
            # A limit the LP's optimum does not reach: loosening it leaves that optimum
            # optimal (an LP), and tightening it too, down to the plan's own value.
            loose, tight = reach, unused
        else:
            loose = line.edge([f * reach for f in (0.01, 0.1, 1.0)])
            tight = line.edge([-f * reach for f in (0.01, 0.1, 1.0)])
        ends = sorted((limit + loosening(name) * loose, limit + loosening(name) * tight))
        setting, unit = _UNITS[name]
        prices.append(GuardrailPrice(name, setting, limit, marginal[name], unit,
                                     per_percent, ends[0], ends[1]))
    return prices
