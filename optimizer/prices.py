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
does not bind holds its price, 0, from the plan's own value to any looser limit
without a solve (relaxing a constraint an LP's optimum does not reach changes nothing).
Where the price still holds at the end of the search window, ``valid_from_open`` or
``valid_to_open`` says so: the price holds *at least* that far (issue 19: twice the
limit was shown as where the price stops holding).

Cost: one LP solve for the marginal prices, one MIP re-solve per binding guardrail
and one for all the others at once (if that buys nothing, so does any one of them),
and a few LP solves per binding guardrail for the ranges; all on one persistent
model whose limits move by fixing their relaxation variables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pyomo.core as pyo

from compplan.models.case import Case
from compplan.models.guardrails import BY_NAME
from compplan.models.guardrails import TABLE as GUARDRAIL_TABLE
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import PlanModel, TailMethod, create_model, guardrail_limits
from compplan.optimizer.solve import CutLoop, Status
from compplan.optimizer.tails import TailGuard

#: Each guardrail's setting and the unit of its price (the guardrail table).
_UNITS = {g.name: (g.setting, g.price_unit) for g in GUARDRAIL_TABLE}
#: Where each guardrail's limit lives in the case's spec.
_KEYS = {g.name: (g.section, g.key) for g in GUARDRAIL_TABLE}
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
    valid_from, valid_to : float or None
        The range of the limit (``valid_from <= limit <= valid_to``) over which the
        optimal alignment changes at exactly ``shadow_price`` per unit; None when not
        searched (``ranges=False``).
    valid_from_open, valid_to_open : bool
        The price still held at that end of the search window (``0`` and twice the
        limit): it holds *at least* that far, not only that far. A guardrail that does
        not bind holds its price of 0 however far it is loosened, so its loosening end
        is always open. An end at 0 is the end of the limit's own range, not open.
    """

    guardrail: str
    setting: str
    limit: float
    shadow_price: float
    unit: str
    per_percent: float
    valid_from: float | None
    valid_to: float | None
    valid_from_open: bool = False
    valid_to_open: bool = False

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
    return BY_NAME[guardrail].loosening


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

    One model serves both (the metrics' ``z`` fixed and continuous for the LP, binary
    for the MIP), built once with every limit given a fixed relaxation variable (the
    model's ``elastic`` slack): moving a limit is fixing that variable, so HiGHS
    re-solves the same model and the tail cuts found at one limit serve at every other.
    ``top_ratio`` scales the mean payout, which no slack can express, so its moves
    rebuild the model; the cuts found so far are handed to the new one.
    """

    def __init__(self, case: Case, coeffs: Coefficients, tail_method: TailMethod,
                 z: np.ndarray) -> None:
        self.case, self.coeffs, self.tail_method, self.z = case, coeffs, tail_method, z
        self.elastic = [n for n, v in guardrail_limits(case).items() if v is not None]
        self.cuts: list[tuple[int, str, np.ndarray]] = []  # (owner, guardrail, vertex)
        self.loops: list[CutLoop] = []  # kept alive, so that no two share an id
        self.synced: dict[int, int] = {}  # per model: how many of the cuts it holds
        self.adders: dict[int, Callable[[TailGuard, np.ndarray], None]] = {}
        self.loop = self._loop(case)

    def _loop(self, case: Case) -> CutLoop:
        plan = create_model(case, self.coeffs, tail_method=self.tail_method,
                            elastic=self.elastic)
        for name in self.elastic:
            var = plan.slack(name)
            var.domain = pyo.Reals
            var.fix(0.0)
        loop = CutLoop(plan, None, None)
        add = plan.add_cut

        def shared(guard: TailGuard, weights: np.ndarray) -> None:
            self.cuts.append((id(loop), guard.name, weights))
            add(guard, weights)

        plan.add_cut = shared
        self.loops.append(loop)
        self.synced[id(loop)], self.adders[id(loop)] = 0, add
        return loop

    def _sync(self, loop: CutLoop) -> None:
        """Give ``loop`` the cuts the other models found since it last ran."""
        guards = {g.name: g for g in loop.plan.cut_guards}
        add = self.adders[id(loop)]
        for owner, name, weights in self.cuts[self.synced[id(loop)]:]:
            if owner != id(loop) and name in guards:
                add(guards[name], weights)
        self.synced[id(loop)] = len(self.cuts)

    def _mode(self, loop: CutLoop, relaxed: bool) -> None:
        """The LP of the plan's metrics, or the MIP with the case's own fixings."""
        for k, chosen in zip(self.coeffs.metric_ids, self.z, strict=True):
            var, spec = loop.plan.model.z[k], self.case.metric(k)
            if relaxed:
                # A continuous domain makes the model a pure LP for HiGHS, which then has duals.
                var.domain = pyo.UnitInterval
                var.fix(1 if chosen > 0.5 else 0)
            else:
                var.domain = pyo.Binary
                if spec.required or spec.forbidden:
                    var.fix(1 if spec.required else 0)
                else:
                    var.unfix()

    def _scale(self, name: str) -> float:
        return self.coeffs.ti_total if name in ("budget_expected", "budget_cvar") else 1.0

    def solve(self, name: str | None, t: float, *, relaxed: bool) -> _Found | None:
        """Alignment (and, for the LP, dual prices) with guardrail ``name`` loosened by ``t``."""
        return self.solve_many({} if name is None else {name: t}, relaxed=relaxed)

    def solve_many(self, moves: dict[str, float], *, relaxed: bool,
                   top_slack: float = 0.0) -> _Found | None:
        """Alignment (and, for the LP, dual prices) with each guardrail loosened as given.

        ``top_slack`` relaxes the upper tail's row itself (in shares of target), a
        bound rather than a move of its ratio.
        """
        case, loop = self.case, self.loop
        if "fairness_top" in moves:
            limit = float(guardrail_limits(self.case)["fairness_top"] or 0.0)
            case = with_limit(self.case, "fairness_top", limit + moves["fairness_top"])
            loop = self._loop(case)
        moved = {n: t / self._scale(n) for n, t in moves.items() if n != "fairness_top"}
        if top_slack:
            moved["fairness_top"] = top_slack
        self._mode(loop, relaxed)
        for name, value in moved.items():
            loop.plan.slack(name).fix(value)
        try:
            self._sync(loop)
            return self._run(loop, case, relaxed)
        finally:
            for name in moved:
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
    open: bool = False

    def solve(self, t: float) -> _Found | None:
        return self.solver.solve(self.guardrail, t, relaxed=True)

    def holds(self, t: float, found: _Found | None) -> bool:
        if found is None:
            return False
        expected = self.start + self.price * t
        return abs(found[0] - expected) <= _ABS_TOL * max(1.0, abs(self.start)) \
            + _REL_TOL * abs(self.price * t)

    def edge(self, probes: list[float]) -> float:
        """How far along ``probes`` (signed loosenings, growing) the price holds.

        ``self.open`` says afterwards whether it still held at the last probe.
        """
        known, end, found = 0.0, None, None
        self.open = False
        for t in probes:
            found = self.solve(t)
            if not self.holds(t, found):
                end = t
                break
            known = t
        if end is None:
            self.open = True
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
                  values: dict[str, float] | None = None,
                  ranges: bool = True) -> list[GuardrailPrice]:
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
    ranges : bool
        Search the range of each marginal price (a few LP solves per binding
        guardrail); off, ``valid_from`` and ``valid_to`` are None.

    Returns
    -------
    list of GuardrailPrice
        One per guardrail the case sets; empty if the LP could not be solved.
    """
    resolver: Any = _warm_resolver(case, coeffs, tail_method, z) or \
        _Resolver(case, coeffs, tail_method, z)
    base = resolver.solve(None, 0.0, relaxed=True)
    if base is None:
        return []
    start, marginal = base
    limits = {n: float(v) for n, v in guardrail_limits(case).items() if v is not None}
    unused = {n: loosening(n) * (values[n] - limit) for n, limit in limits.items()
              if values is not None and n in values}
    slack = {n for n, gap in unused.items()
             if marginal[n] == 0 and gap < -1e-9 * max(abs(limits[n]), 1.0)}
    free = _free_percent(resolver, limits, slack, start)
    prices = []
    for name, limit in limits.items():
        if name in free:
            per_percent = 0.0
        else:
            one = resolver.solve(name, 0.01 * abs(limit), relaxed=False) if limit != 0 else base
            gain = 0.0 if one is None else one[0] - start
            per_percent = gain if abs(gain) > _NOISE * max(1.0, abs(start)) else 0.0
        setting, unit = _UNITS[name]
        if not ranges:
            prices.append(GuardrailPrice(name, setting, limit, marginal[name], unit,
                                         per_percent, None, None))
            continue
        reach = abs(limit) if limit != 0 else 1.0  # searched within 0 and twice the limit
        line = _Line(resolver, name, start, marginal[name])
        if name in slack:
            # A limit the LP's optimum does not reach: loosening it leaves that optimum
            # optimal (an LP), however far, and tightening it too, down to the plan's
            # own value.
            loose, tight = reach, unused[name]
            loose_open, tight_open = True, False
        else:
            loose = line.edge([f * reach for f in (0.01, 0.1, 1.0)])
            loose_open = line.open
            tight = line.edge([-f * reach for f in (0.01, 0.1, 1.0)])
            tight_open = line.open
        a, b = limit + loosening(name) * loose, limit + loosening(name) * tight
        # An end at 0 (or below) is the end of a limit's own range: no further to search.
        a_open, b_open = loose_open and a > 0, tight_open and b > 0
        (low, low_open), (high, high_open) = sorted(((a, a_open), (b, b_open)))
        prices.append(GuardrailPrice(name, setting, limit, marginal[name], unit,
                                     per_percent, low, high, low_open, high_open))
    return prices


def _warm_resolver(case: Case, coeffs: Coefficients, tail_method: TailMethod,
                   z: np.ndarray) -> Any:
    """The re-solves on a warm model (limits moved by bounds, not by Pyomo's updates).

    Kept between candidates inside a batch's session, built for this case's prices
    alone outside one. None for a case the warm model cannot take.
    """
    from compplan.optimizer.warm import WarmCache, active, resolver

    cache = active()
    return resolver(cache if cache is not None else WarmCache(), case, coeffs, tail_method, z)


def _free_percent(resolver: _Resolver, limits: dict[str, float], slack: set[str],
                  start: float) -> set[str]:
    """The guardrails whose 1 % loosening buys nothing, found with one MIP solve.

    Loosening every guardrail that does not bind by 1 % at once: if that buys
    nothing, loosening any one of them (a smaller feasible set) buys nothing either.
    The upper tail's ratio scales the mean payout: its row is relaxed by 1 % of the
    ratio times the most the mean payout can be, which loosens at least as much.
    """
    moves = {n: 0.01 * abs(limits[n]) for n in sorted(slack)
             if limits[n] != 0 and n != "fairness_top"}
    top = 0.01 * limits["fairness_top"] * _most_pay(resolver.case) if "fairness_top" in slack \
        else 0.0
    if not moves and not top:
        return set(slack)
    found = resolver.solve_many(moves, relaxed=False, top_slack=top)
    if found is None or found[0] - start > _NOISE * max(1.0, abs(start)):
        return {n for n in slack if limits[n] == 0}
    return set(slack)


def _most_pay(case: Case) -> float:
    """An upper bound on any rep's payout, in shares of target incentive."""
    design = case.spec.design
    steepest = max(1.0 + design.accelerator_max * (case.metric(k).cap - 1.0)
                   / (1.0 - case.metric(k).threshold) for k in case.metric_ids)
    multiple = design.max_payout_multiple
    return steepest if multiple is None else min(steepest, float(multiple))
