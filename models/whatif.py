"""What-if changes to a plan: move incentive between metrics, change accelerators.

Modifiers apply in the order given, each to the plan the previous one left:

- ``weight.ID=0.3`` sets the weight of ``ID``; ``weight.ID=+0.2`` and ``weight.ID=-0.1``
  add to it and subtract from it. The other metrics' weights are then rescaled in
  proportion so that the weights sum to 1. A metric not yet in the plan joins it; a
  weight of 0 takes a metric out.
- ``accelerator.ID=2.0`` sets the accelerator multiple of ``ID`` (above-target slope
  over below-target slope); ``rate.ID=1.5`` sets its accelerator rate.
- ``0.2:A->B`` (a shift) moves 0.2 of target incentive from ``A`` to ``B``: ``w_A -= 0.2``,
  ``w_B += 0.2``; ``B`` joins the plan if it is not in it.

When a metric's weight changes (set, added, rescaled or shifted) its accelerator
multiple is kept, so its accelerator rate scales with the weight: the shape of the
curve stays and only its height moves. A metric that joins the plan gets the
case's ``[design] accelerator_min`` as its multiple.

A what-if plan need not follow the design rules (weight bounds, metric count of the
case, accelerator bounds): its evaluation reports what it breaks. What cannot be a
plan at all is a usage error naming the modifier: an unknown metric, a malformed
modifier, a weight outside [0, 1], a shift larger than the source's weight, more
than three metrics, or no metric left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from compplan.errors import UsageError
from compplan.models.case import Case
from compplan.models.plan import Plan, PlanMetric, on_case_curve
from compplan.models.schema import MAX_METRICS

Kind = Literal["weight", "accelerator", "rate", "shift"]
_SET_KINDS = ("weight", "accelerator", "rate")
#: A weight at or below this is zero: the metric leaves the plan.
_ZERO = 1e-12
_SET_FORM = ("expected weight.ID=VALUE, accelerator.ID=VALUE or rate.ID=VALUE "
             "(a + or - before a weight's VALUE adds or subtracts it)")
_SHIFT_FORM = "expected AMOUNT:FROM->TO, e.g. 0.2:smb_bookings->multi_product_deals"


@dataclass(frozen=True)
class Modifier:
    """One what-if change, parsed.

    Attributes
    ----------
    text : str
        As given, with its option (``--set weight.a=0.3``), to name it in messages.
    kind : {"weight", "accelerator", "rate", "shift"}
        What it changes.
    metric : str
        The metric changed (for a shift, the one receiving incentive).
    value : float
        The new value, the amount added (``relative``), or the amount shifted.
    relative : bool
        A weight given with a sign: added to the current weight.
    source : str or None
        For a shift, the metric giving incentive.
    """

    text: str
    kind: Kind
    metric: str
    value: float
    relative: bool = False
    source: str | None = None


def parse_set(text: str) -> Modifier:
    """Parse a ``--set`` modifier: ``weight.ID=[+|-]VALUE``, ``accelerator.ID=V``, ``rate.ID=V``.

    Parameters
    ----------
    text : str
        The option's value.

    Returns
    -------
    Modifier
        The parsed modifier.

    Raises
    ------
    UsageError
        The text is not of that form, naming it.
    """
    name = f"--set {text}"
    target, eq, raw = text.partition("=")
    kind, dot, metric = target.strip().partition(".")
    raw, metric = raw.strip(), metric.strip()
    if not eq or not dot or not metric or not raw:
        raise UsageError(f"{name}: {_SET_FORM}")
    if kind not in _SET_KINDS:
        raise UsageError(f"{name}: unknown setting '{kind}' (use weight, accelerator or rate)")
    signed = raw[0] in "+-"
    value = _number(name, raw)
    if kind == "weight":
        return Modifier(name, "weight", metric, value, relative=signed)
    what = "accelerator multiple" if kind == "accelerator" else "accelerator rate"
    if value < 0:
        raise UsageError(f"{name}: the {what} must be >= 0, got {raw}")
    if signed:
        raise UsageError(f"{name}: only a weight can be added to or subtracted from; "
                         f"give the {what} itself")
    return Modifier(name, "accelerator" if kind == "accelerator" else "rate", metric, value)


def parse_shift(text: str) -> Modifier:
    """Parse a ``--shift`` modifier: ``AMOUNT:FROM->TO``.

    Parameters
    ----------
    text : str
        The option's value, e.g. ``0.2:smb_bookings->multi_product_deals``.

    Returns
    -------
    Modifier
        The parsed modifier.

    Raises
    ------
    UsageError
        The text is not of that form, naming it.
    """
    name = f"--shift {text}"
    raw, colon, route = text.partition(":")
    source, arrow, dest = route.partition("->")
    raw, source, dest = raw.strip(), source.strip(), dest.strip()
    if not colon or not arrow or not raw or not source or not dest:
        # "0.2:a->b" unquoted: the shell takes ">b" as a redirection and passes "0.2:a-".
        hint = (" (quote it: a shell reads > as a redirection)"
                if not arrow and route.endswith("-") else "")
        raise UsageError(f"{name}: {_SHIFT_FORM}{hint}")
    amount = _number(name, raw)
    if not 0.0 < amount <= 1.0:
        raise UsageError(f"{name}: the amount must be > 0 and <= 1 (a share of target "
                         f"incentive), got {raw}")
    if source == dest:
        raise UsageError(f"{name}: moves incentive from {source} to itself")
    return Modifier(name, "shift", dest, amount, source=source)


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}: '{raw}' is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{name}: '{raw}' is not a finite number")
    return value


def apply_modifiers(case: Case, plan: Plan, modifiers: Iterable[Modifier]) -> Plan:
    """Apply what-if modifiers to a plan, in order.

    Parameters
    ----------
    case : Case
        The case; modifiers may name any of its candidate metrics.
    plan : Plan
        The plan to start from.
    modifiers : iterable of Modifier
        From :func:`parse_set` and :func:`parse_shift`, in the order given.

    Returns
    -------
    Plan
        The modified plan, in the case's metric order.

    Raises
    ------
    UsageError
        A modifier cannot apply (unknown metric, weight outside [0, 1], a shift larger
        than the source's weight, more than three metrics, no metric left), naming it.
    """
    written = [m for m in plan.metrics if not on_case_curve(case, m)]
    if written:
        # A what-if moves weights along the case's curves: a curve or gate has neither.
        raise UsageError(f"what-if modifiers apply to plans on the case's own curves; "
                         f"'{written[0].id}' is written with "
                         f"{_written_form(case, written[0])}: evaluate the plan without "
                         "--set and --shift")
    # Each metric of the plan as [weight, accelerator multiple]: weights move, shapes stay.
    state = {m.id: [m.weight, m.accelerator_multiple] for m in plan.metrics}
    # A plan as written may already have more metrics (reported, not refused): a what-if
    # may keep them, but not add to them.
    most = max(MAX_METRICS, len(state))
    for mod in modifiers:
        _apply(case, state, mod)
        if len(state) > most:
            raise UsageError(f"{mod.text}: the plan would have {len(state)} metrics "
                             f"({', '.join(_ordered(case, state))}); a plan has at most "
                             f"{most}")
        if not state:
            raise UsageError(f"{mod.text}: the plan would have no metric left")
    return _to_plan(case, state)


def _written_form(case: Case, metric: PlanMetric) -> str:
    if metric.curve is not None:
        return "a curve"
    if metric.gate is not None:
        return "a gate"
    return "its own threshold or cap"


def _apply(case: Case, state: dict[str, list[float]], mod: Modifier) -> None:
    for metric in (mod.source, mod.metric):
        if metric is not None and metric not in case.metric_ids:
            raise UsageError(f"{mod.text}: '{metric}' is not a metric of the case "
                             f"(metrics: {', '.join(case.metric_ids)})")
    if mod.kind == "weight":
        current = state[mod.metric][0] if mod.metric in state else 0.0
        target = current + mod.value if mod.relative else mod.value
        _check_weight(mod, mod.metric, target)
        _set_weight(case, state, mod.metric, target)
        _rescale_others(state, mod.metric, 1.0 - target)
    elif mod.kind == "shift":
        assert mod.source is not None  # parse_shift sets it
        _shift(case, state, mod, mod.source)
    else:
        if mod.metric not in state:
            raise UsageError(f"{mod.text}: {mod.metric} is not in the plan (plan: "
                             f"{', '.join(_ordered(case, state))}); give it a weight first")
        weight = state[mod.metric][0]
        slope = 1.0 / (1.0 - case.metric(mod.metric).threshold)
        state[mod.metric][1] = (mod.value if mod.kind == "accelerator"
                                else mod.value / (weight * slope))
    for metric in [k for k, (w, _) in state.items() if w <= _ZERO]:
        del state[metric]


def _shift(case: Case, state: dict[str, list[float]], mod: Modifier, source: str) -> None:
    if source not in state:
        raise UsageError(f"{mod.text}: {source} is not in the plan (plan: "
                         f"{', '.join(_ordered(case, state))})")
    carried = state[source][0]
    if mod.value > carried + _ZERO:
        raise UsageError(f"{mod.text}: shifts {mod.value:g} but {source} carries only "
                         f"{carried:.6g}")
    received = (state[mod.metric][0] if mod.metric in state else 0.0) + mod.value
    _check_weight(mod, mod.metric, received)
    state[source][0] = max(carried - mod.value, 0.0)
    _set_weight(case, state, mod.metric, received)


def _check_weight(mod: Modifier, metric: str, weight: float) -> None:
    if not -_ZERO <= weight <= 1.0 + _ZERO:
        raise UsageError(f"{mod.text}: the weight of {metric} would be {weight:.6g}, "
                         "outside [0, 1]")


def _set_weight(case: Case, state: dict[str, list[float]], metric: str, weight: float) -> None:
    if metric in state:
        state[metric][0] = weight
    else:
        state[metric] = [weight, case.spec.design.accelerator_min]


def _rescale_others(state: dict[str, list[float]], fixed: str, room: float) -> None:
    """Scale every weight but ``fixed`` in proportion so that they sum to ``room``."""
    others = [k for k in state if k != fixed]
    total = sum(state[k][0] for k in others)
    if total <= 0.0:
        return  # a plan of one metric: nothing to rescale; the evaluation flags the sum
    for k in others:
        state[k][0] *= max(room, 0.0) / total


def _ordered(case: Case, state: dict[str, list[float]]) -> list[str]:
    return [k for k in case.metric_ids if k in state]


def _to_plan(case: Case, state: dict[str, list[float]]) -> Plan:
    w = np.zeros(len(case.metric_ids))
    u = np.zeros(len(case.metric_ids))
    for j, k in enumerate(case.metric_ids):
        if k in state:
            weight, multiple = state[k]
            w[j] = weight
            u[j] = multiple * weight / (1.0 - case.metric(k).threshold)
    return Plan.from_vectors(case, w, u)
