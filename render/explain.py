"""The plan document for reps: why the plan exists, what it pays for and what it pays.

Figures are formatted here, once, and the two templates (Markdown and HTML, under
``templates/``) only lay them out, so both documents show the same numbers. Every
value reaches a document through the template engine's escaping: HTML escaping for
the HTML, :func:`md_escape` for the Markdown, so a label such as ``<script>`` in a
case file is shown as written and never runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined

from compplan.errors import CaseError
from compplan.models import fmt
from compplan.models.case import CURRENT_PLAN, CURRENT_PLAN_NAME, Case
from compplan.models.money import annual_note
from compplan.models.output import write_atomic
from compplan.models.plan import Gate, Plan, PlanMetric, curve_metric, curve_words, read_plan_json
from compplan.models.schema import PlanMetricSpec
from compplan.models.text import one_line
from compplan.optimizer.audit import audit_plan, join_words
from compplan.optimizer.coefficients import Coefficients, compute_coefficients
from compplan.render.text import md_escape, pct

if TYPE_CHECKING:
    from compplan.optimizer.audit import Audit, MetricAudit

#: Attainments of the payout-curve table, besides each metric's threshold and cap.
CURVE_POINTS = (0.0, 0.8, 1.0, 1.2, 1.5)
#: Attainments (the same on every metric) of the worked earnings.
EARNINGS_POINTS = (0.5, 0.8, 1.0, 1.2, 1.5)
#: Worked earnings without a case are per this much target incentive.
PER_TARGET = 100.0
#: Weight and accelerator changes below these do not show at the precision printed.
WEIGHT_CHANGE = 5e-4
MULTIPLE_CHANGE = 5e-3
MARKDOWN = "plan_explained.md"
HTML = "plan_explained.html"

def goal_name(goal: str) -> str:
    """A goal id in words: ``enterprise_growth`` reads ``enterprise growth``."""
    return goal.replace("_", " ")


def attainment_label(value: float) -> str:
    """Attainment with no needless decimals: ``50%``, ``62.5%``."""
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


# ------------------------------------------------------------------------ plan.json alone

@dataclass(frozen=True)
class PlanFile:
    """A plan read from ``plan.json`` without its case."""

    plan: Plan
    case: str | None
    currency: str | None


def read_plan_file(path: str | Path) -> PlanFile:
    """Read a ``plan.json`` on its own: the curves come from the file, not from a case.

    Parameters
    ----------
    path : str or Path
        A ``plan.json`` written by ``compplan optimise``.

    Returns
    -------
    PlanFile
        The plan with the case name and currency it names.

    Raises
    ------
    CaseError
        The file is missing, not a JSON plan, or a metric lacks its threshold or cap.
    """
    file = Path(path)
    if not file.is_file():
        raise CaseError(str(file), "is not a file (give a plan.json written by "
                                   "compplan optimise)")
    if file.suffix == ".toml":
        raise CaseError(file.name, "is a TOML plan, which has no thresholds or caps: give "
                                   "--case to explain it with the case's curves")
    doc, spec = read_plan_json(file)
    metrics = tuple(_plan_metric(file, i, item) for i, item in enumerate(spec.metrics))
    return PlanFile(Plan(metrics), _text(doc.get("case")), _text(doc.get("currency")))


def _text(value: Any) -> str | None:
    # One line: a name from a hand-edited plan.json must not start a heading of its own.
    return one_line(value) if isinstance(value, str) else None


def _plan_metric(file: Path, i: int, item: PlanMetricSpec) -> PlanMetric:
    if item.curve is not None:  # a curve says all it pays, with or without a case
        return curve_metric(item, item.label or item.id)
    assert item.weight is not None  # the canonical form (checked by the schema)
    if item.threshold is None or item.cap is None:
        key = "threshold" if item.threshold is None else "cap"
        raise CaseError(file.name, f"has no {key}: give --case to explain the plan with the "
                                   "case's curves", field=f"metrics #{i + 1} ({item.id})")
    slope = 1.0 / (1.0 - item.threshold)
    rate = (item.accelerator_rate if item.accelerator_rate is not None
            else (item.accelerator_multiple or 0.0) * item.weight * slope)
    gate = None if item.gate is None else Gate(item.gate.metric, item.gate.at)
    return PlanMetric(id=item.id, label=item.label or item.id, weight=item.weight,
                      threshold=item.threshold, cap=item.cap,
                      base_rate=item.weight * slope, accelerator_rate=rate,
                      accelerator_multiple=rate / (item.weight * slope), gate=gate)


# ------------------------------------------------------------------------ figures

def max_multiple(plan: Plan) -> float:
    """The most any rep can earn, as a multiple of target incentive (every metric capped)."""
    return sum(m.max_payout for m in plan.metrics)


def speed(m: PlanMetric) -> str:
    """How pay above 100 % compares with pay below, in words (no "accelerator of 1.00x")."""
    ratio = m.accelerator_multiple
    if abs(ratio - 1.0) < MULTIPLE_CHANGE:
        return "the same as below 100%"
    if ratio > 1.0:
        return f"{ratio:.2f} times as much as below 100%"
    return f"{ratio:.2f} times what it pays below 100% (less)"


def rewards(m: PlanMetric, labels: dict[str, str] | None = None) -> str:
    """What one metric pays, in a sentence; a curve point by point, a gate in words."""
    gate = ("" if m.gate is None
            else f" It {m.gate.words((labels or {}).get(m.gate.metric))}.")
    if m.curve is not None:
        text = curve_words(m.curve)
        return f"Pays by its curve: {text}.{gate}"
    return _linear_rewards(m) + gate


def _linear_rewards(m: PlanMetric) -> str:
    start = (f"Nothing below {attainment_label(m.threshold)} of quota. From "
             f"{attainment_label(m.threshold)} to 100%" if m.threshold > 0
             else "From the first point of attainment to 100%")
    return (f"{start}, each point of attainment pays {m.base_rate:.2f}% of your target "
            f"incentive; above 100%, each point pays {m.accelerator_rate:.2f}% "
            f"({speed(m)}), up to {attainment_label(m.cap)}, where pay stops rising.")


def curve_table(plan: Plan) -> list[dict[str, Any]]:
    """Payout as a share of target per metric and in total, at the points of interest.

    The points are 0 %, 80 %, 100 %, 120 %, 150 % and every metric's threshold and cap,
    each once, in order; ``note`` says which metric starts paying or stops rising there.
    """
    notes: dict[float, list[str]] = {round(x, 9): [] for x in CURVE_POINTS}
    notes[1.0].append("target")
    for m in plan.metrics:
        notes.setdefault(round(m.threshold, 9), []).append(f"{m.label} starts paying")
        notes.setdefault(round(m.cap, 9), []).append(f"{m.label} stops rising")
        for a, _ in m.curve or ():  # a tier or a step of a written curve
            notes.setdefault(round(a, 9), [])
    rows = []
    for x in sorted(notes):
        values = [float(m.payout_everywhere(x)) for m in plan.metrics]
        rows.append({"attainment": attainment_label(x), "note": "; ".join(notes[x]),
                     "values": [pct(v) for v in values], "total": pct(sum(values))})
    return rows


def earnings_table(plan: Plan, target: float, decimals: int) -> list[dict[str, Any]]:
    """Pay per metric and in total at 50/80/100/120/150 % attainment on every metric."""
    rows = []
    for x in EARNINGS_POINTS:
        values = [float(m.payout_everywhere(x)) * target for m in plan.metrics]
        rows.append({"attainment": attainment_label(x),
                     "values": [f"{v:,.{decimals}f}" for v in values],
                     "total": f"{sum(values):,.{decimals}f}"})
    return rows


def _earnings(plan: Plan, case: Case | None, target: float | None = None) -> dict[str, Any]:
    """Worked earnings: for the rep's own target incentive, else a typical rep's."""
    if case is None:
        return {"basis": f"per {PER_TARGET:g} of target incentive",
                "rows": earnings_table(plan, PER_TARGET, 2),
                "examples": examples(plan, PER_TARGET, "")}
    currency = case.spec.case.currency
    if target is not None:
        basis = (f"in {currency}{annual_note(case)} for your target incentive "
                 f"({fmt.money(target, currency)})")
    else:
        target = float(np.median(case.target_incentive))
        basis = (f"in {currency}{annual_note(case)} for a typical rep, whose target incentive is "
                 f"{fmt.money(target, currency)} (half of the reps have more, half less)")
    return {"basis": basis, "rows": earnings_table(plan, target, 0),
            "examples": examples(plan, target, currency)}


def examples(plan: Plan, target: float, currency: str) -> list[str]:
    """Worked examples in money: at target, a mixed year, a weak year, the most possible."""
    def pay(attainments: dict[str, float]) -> float:
        # A gate's metric outside the plan is taken at the gated metric's attainment (the
        # reading of the payout table: the same attainment on every metric).
        return target * sum(
            float(m.payout(attainments[m.id]))
            * (m.gate is None or attainments.get(m.gate.metric, attainments[m.id]) >= m.gate.at)
            for m in plan.metrics)

    def money(value: float) -> str:
        return fmt.money(value, currency) if currency else f"{value:,.2f}"

    at_target = pay({m.id: 1.0 for m in plan.metrics})
    # A plan as written need not pay its target at 100 % (a curve, a gate that shuts).
    lines = [f"At 100% of quota on every metric you earn {money(target)}: your target "
             "incentive." if abs(at_target - target) <= 1e-9 * max(1.0, target) else
             f"At 100% of quota on every metric you earn {money(at_target)}."]
    first, rest = plan.metrics[0], plan.metrics[1:]
    if rest:
        mixed = {first.id: 1.2, **{m.id: 0.9 for m in rest}}
        lines.append(f"At 120% on {first.label} and 90% on "
                     f"{join_words([m.label for m in rest])}, you earn {money(pay(mixed))}.")
    else:
        lines.append(f"At 120% you earn {money(pay({first.id: 1.2}))}.")
    weak = {m.id: 0.8 for m in plan.metrics}
    lines.append(f"At 80% on every metric you earn {money(pay(weak))}.")
    top = max_multiple(plan)
    lines.append(f"The most anyone can earn, at or above every cap, is {money(target * top)} "
                 f"({top:.2f} times the target incentive).")
    return lines


#: The payout picture: size in SVG units, margins, and colours (Okabe-Ito).
SVG_WIDTH, SVG_HEIGHT = 640, 300
_MARGIN = {"left": 52, "right": 16, "top": 16, "bottom": 40}
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")


def curve_picture(plan: Plan) -> dict[str, Any]:
    """The payout curves as numbers for an inline SVG: the total and one line per metric.

    Pay as a share of target incentive against attainment (the same on every metric),
    from 0 to a quarter past the highest cap. The template draws it; only numbers and
    escaped labels reach the SVG.
    """
    top_x = max(m.cap for m in plan.metrics) + 0.25
    xs = sorted({0.0, 1.0, top_x, *(m.threshold for m in plan.metrics),
                 *(m.cap for m in plan.metrics)})
    total = [sum(float(m.payout(x)) for m in plan.metrics) for x in xs]
    top_y = max(1.0, max(total)) * 1.08
    width = SVG_WIDTH - _MARGIN["left"] - _MARGIN["right"]
    height = SVG_HEIGHT - _MARGIN["top"] - _MARGIN["bottom"]

    def px(x: float) -> float:
        return round(_MARGIN["left"] + width * x / top_x, 1)

    def py(y: float) -> float:
        return round(_MARGIN["top"] + height * (1 - y / top_y), 1)

    def points(values: list[float]) -> str:
        return " ".join(f"{px(x)},{py(y)}" for x, y in zip(xs, values, strict=True))

    lines = [{"label": m.label, "colour": _COLOURS[i % len(_COLOURS)], "total": False,
              "points": points([float(m.payout(x)) for x in xs])}
             for i, m in enumerate(plan.metrics)]
    lines.append({"label": "total", "colour": "currentColor", "total": True,
                  "points": points(total)})
    step_y = 0.5 if top_y <= 3.0 else 1.0
    y_ticks = [{"y": py(k * step_y), "label": pct(k * step_y, 0)}
               for k in range(int(top_y / step_y) + 1)]
    x_ticks = [{"x": px(k * 0.5), "label": attainment_label(k * 0.5)}
               for k in range(int(top_x / 0.5) + 1)]
    return {"width": SVG_WIDTH, "height": SVG_HEIGHT, "lines": lines, "x_ticks": x_ticks,
            "y_ticks": y_ticks, "left": _MARGIN["left"], "right": SVG_WIDTH - _MARGIN["right"],
            "bottom": SVG_HEIGHT - _MARGIN["bottom"], "top": _MARGIN["top"],
            "target": {"x": px(1.0), "y": py(1.0)}}


# ------------------------------------------------------------------------ why and what changed

def _served_goals(m: MetricAudit, audit: Audit) -> list[str]:
    """Goals the metric serves (``A > 0``), the most strongly served first."""
    weight = {g.id: g.priority for g in audit.goals}
    served = [g for g, a in m.alignment.items() if a > 0.0]
    return [goal_name(g) for g in sorted(served, key=lambda g: -weight[g] * m.alignment[g])]


def metric_reason(m: MetricAudit, audit: Audit) -> str:
    """Whom a metric serves or works against, in words."""
    served = _served_goals(m, audit)
    parts = [f"serves {join_words(served)}"] if served else []
    if m.against:
        parts.append(f"works against {join_words([goal_name(g) for g in m.against])}")
    if m.goal_alignment < 0.0:
        parts.append("on balance harms the company's strategy")
    elif m.weak and not m.against:
        parts.append("does little for the company's goals")
    return join_words(parts) or "serves none of the goals"


def _why(audit: Audit | None) -> dict[str, Any] | None:
    if audit is None:
        return None
    return {
        "goals": [{"name": goal_name(g.id), "priority": pct(g.priority, 0)}
                  for g in audit.goals],
        "metrics": [{"label": m.label, "weight": pct(m.weight), "reason": metric_reason(m, audit)}
                    for m in audit.metrics],
        "unpaid": [goal_name(g.id) for g in audit.not_paid_for],
    }


def _drop_reason(m: MetricAudit) -> str:
    against = [goal_name(g) for g in m.against]
    if against and m.goal_alignment < 0.0:
        return (f"it works against {join_words(against)} and on balance harms the "
                "company's strategy")
    if against:
        return f"it works against {join_words(against)}"
    if m.weak:
        return "it does little for the company's goals"
    return ("it serves the company's goals, but within the budget the metrics kept and "
            "added do more for them")


def _change(old: PlanMetric, new: PlanMetric, before: MetricAudit, after: MetricAudit,
            audit: Audit) -> str | None:
    parts = []
    if abs(new.weight - old.weight) > WEIGHT_CHANGE:
        parts.append(f"weight {pct(old.weight)} to {pct(new.weight)} of target incentive")
    if abs(new.accelerator_multiple - old.accelerator_multiple) > MULTIPLE_CHANGE:
        parts.append(f"above 100% it now pays {speed(new)}, was {speed(old)}")
    if not parts:
        return None
    return (f"{new.label} changed ({join_words(parts)}): of what you earn for doing better, "
            f"it now pays {pct(after.incentive_share)} (was {pct(before.incentive_share)}); "
            f"it {metric_reason(after, audit)}.")


def changes(plan: Plan, current: Plan, audit: Audit, current_audit: Audit) -> dict[str, Any]:
    """What changed from the current plan, metric by metric, with the alignment reason.

    Parameters
    ----------
    plan, current : Plan
        The plan explained and the plan in force today.
    audit, current_audit : Audit
        Their audits under the case.

    Returns
    -------
    dict
        ``items`` (one sentence per metric dropped, added or changed), ``same`` (True
        when nothing changed) and ``headline`` (the share of the marginal incentive
        that works against the strategy, before and after).
    """
    before = {m.id: m for m in current.metrics}
    after = {m.id: m for m in plan.metrics}
    items = [f"{m.label} dropped: {_drop_reason(m)}."
             for m in current_audit.metrics if m.id not in after]
    items += [f"{m.label} added: it {metric_reason(m, audit)}."
              for m in audit.metrics if m.id not in before]
    for m in plan.metrics:
        if m.id in before:
            text = _change(before[m.id], m, current_audit.metric(m.id), audit.metric(m.id),
                           audit)
            items += [text] if text else []
    headline = (f"Of what you earn for doing better, {pct(audit.against_strategy_share)} "
                f"comes from results that work against the company's goals in this plan "
                f"({pct(current_audit.against_strategy_share)} in today's plan).")
    return {"items": items, "same": not items, "headline": headline}


# ------------------------------------------------------------------------ the document

@dataclass(frozen=True)
class Current:
    """The plan in force today with its audit, to say what changed."""

    plan: Plan
    audit: Audit


def explanation(plan: Plan, *, source: str, case: Case | None = None,
                audit: Audit | None = None, current: Current | None = None,
                case_name: str | None = None) -> dict[str, Any]:
    """Everything the plan document shows, formatted, for the templates.

    Parameters
    ----------
    plan : Plan
        The plan to explain.
    source : str
        Where the plan comes from (a path, or ``current``), named in the document.
    case : Case, optional
        Its case: goals, the median target incentive and the currency.
    audit : Audit, optional
        The plan's audit under ``case``: which goals each metric serves.
    current : Current, optional
        The case's current plan and its audit, to say what changed.
    case_name : str, optional
        The case's name when there is no ``case`` (as ``plan.json`` gives it).

    Returns
    -------
    dict
        The template context: strings and lists of strings only.
    """
    name = case.name if case is not None else case_name
    return {
        "title": f"Your incentive plan: {name}" if name else "Your incentive plan",
        # Kept for the report; the document for reps names no file.
        "source": source,
        "rep": None,
        "summary": _summary(plan, audit),
        "why": _why(audit),
        "columns": [m.label for m in plan.metrics],
        "metrics": [_metric_row(m, _labels(plan, case)) for m in plan.metrics],
        "curve": curve_table(plan),
        "picture": curve_picture(plan),
        "earnings": _earnings(plan, case),
        "changes": (changes(plan, current.plan, audit, current.audit)
                    if current is not None and audit is not None else None),
        "changes_note": _changes_note(case),
    }


def _labels(plan: Plan, case: Case | None) -> dict[str, str]:
    """Metric labels by id, to name a gate's metric (the case's, else the plan's)."""
    labels = {m.id: m.label for m in plan.metrics}
    if case is not None:
        labels.update({k: case.metric(k).label or k for k in case.metric_ids})
    return labels


def explanation_with_case(case: Case, plan: Plan, ref: str,
                          coefficients: Coefficients | None = None) -> dict[str, Any]:
    """The document's context with all its case adds: why, and what changed from today.

    Parameters
    ----------
    case : Case
        The plan's case: goals, the median target incentive, the current plan.
    plan : Plan
        The plan to explain.
    ref : str
        Where the plan comes from (a path, or ``current``), named in the document.
    coefficients : Coefficients, optional
        The case's coefficients when already computed.

    Returns
    -------
    dict
        As :func:`explanation`, with the plan's audit and the current plan's.
    """
    coeffs = coefficients if coefficients is not None else compute_coefficients(case)
    source = CURRENT_PLAN_NAME if ref == CURRENT_PLAN else ref
    current = None
    if case.current_plan is not None:
        today = Plan.from_spec(case, case.current_plan)
        current = Current(today, audit_plan(case, today, CURRENT_PLAN_NAME, coeffs))
    return explanation(plan, source=source, case=case,
                       audit=audit_plan(case, plan, source, coeffs), current=current)


def _summary(plan: Plan, audit: Audit | None) -> list[str]:
    faster = [m.label for m in plan.metrics if m.accelerator_multiple > 1.0 + MULTIPLE_CHANGE]
    above = (f"above 100% {join_words(faster)} {'pays' if len(faster) == 1 else 'pay'} "
             "faster than below" + (
                 "" if len(faster) == len(plan.metrics) else
                 "; the other keeps the same pace" if len(plan.metrics) - len(faster) == 1
                 else "; the others keep the same pace")
             if faster else "above 100% each point keeps paying at the same pace")
    lines = [f"You are paid on {len(plan.metrics)} "
             f"{'metric' if len(plan.metrics) == 1 else 'metrics'}: "
             + join_words([f"{m.label} ({pct(m.weight)})" for m in plan.metrics]) + ".",
             _at_target(plan),
             (f"Each metric pays nothing below its threshold; {above}; pay stops rising at "
              "the metric's cap." if not any(m.written for m in plan.metrics) else
              "Some metrics pay by their own curves or only past a gate, as each metric's "
              "row below says."),
             f"The most you can earn is {max_multiple(plan):.2f} times your target incentive."]
    paid = [goal_name(g.id) for g in audit.goals if g.paid_for] if audit is not None else []
    if paid:
        lines.append(f"It rewards results that move the company's goals: {join_words(paid)}.")
    return lines


def _at_target(plan: Plan) -> str:
    total = sum(float(m.payout_everywhere(1.0)) for m in plan.metrics)
    if abs(total - 1.0) <= 1e-9:
        return "At 100% of quota on every metric you earn exactly your target incentive."
    return f"At 100% of quota on every metric you earn {pct(total)} of your target incentive."


def _metric_row(m: PlanMetric, labels: dict[str, str]) -> dict[str, str]:
    return {"label": m.label, "weight": pct(m.weight),
            "threshold": attainment_label(m.threshold), "cap": attainment_label(m.cap),
            "base_rate": f"{fmt.number(m.base_rate, 3)}%",
            "accelerator_rate": f"{fmt.number(m.accelerator_rate, 3)}%",
            "multiple": f"{m.accelerator_multiple:.2f}x", "speed": speed(m),
            "rewards": rewards(m, labels)}


def _changes_note(case: Case | None) -> str:
    if case is None or case.current_plan is None:
        return ("The plan in force today was not given with this one, so no change is "
                "listed here.")
    return "This is the plan in force today: nothing changed."


# ------------------------------------------------------------------------ one page per rep

REPS_FOLDER = "reps"
INDEX = "index.html"
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")


def rep_files(ids: list[str]) -> list[str]:
    """A file name per rep id: letters, digits, ``.``, ``_`` and ``-`` only, distinct."""
    names, taken = [], set()
    for i, rep in enumerate(ids):
        stem = _UNSAFE_FILE.sub("_", rep).strip("._")[:80] or "rep"
        if stem.lower() in taken or stem.lower() == "index":
            stem = f"{stem}_{i + 1}"
        taken.add(stem.lower())
        names.append(f"{stem}.html")
    return names


#: The name of one period of attainment by ``[case] periods_per_year``.
PERIOD_NAMES = {1: "year", 2: "half-year", 4: "quarter", 12: "month", 13: "four weeks",
                26: "fortnight", 52: "week"}


def period_name(case: Case) -> str:
    """What one period of ``attainment.csv`` is called: ``month`` for 12 a year, else ``period``."""
    n = case.spec.case.periods_per_year
    return PERIOD_NAMES.get(n, "period") if n is not None else "period"


def rep_context(base: dict[str, Any], plan: Plan, case: Case, i: int) -> dict[str, Any]:
    """The document of rep ``i`` of the case: her own target incentive, quotas and rates.

    Pay is worked out per period of attainment (a month when the year has 12): quotas,
    pay at 100 % and the rates per unit are per period, with the target incentive's
    own unit of time said (per year with ``[case] periods_per_year``). Rates keep
    three significant digits: a fraction of a cent per unit is not rounded away.
    """
    rep = str(case.reps.index[i])
    target = float(case.target_incentive[i])
    currency = case.spec.case.currency
    period = period_name(case)
    n = case.spec.case.periods_per_year
    per_period = target / n if n else target  # what 100 % pays in one period
    quotas = []
    for m in plan.metrics:
        quota = (float(case.quotas[i, case.metric_ids.index(m.id)])
                 if case.quotas is not None else float("nan"))
        known = np.isfinite(quota) and quota > 0
        quotas.append({
            "label": m.label, "quota": f"{quota:,.0f}" if known else "—",
            "pays_at_target": fmt.money(per_period * float(m.payout(1.0)), currency),
            "below": fmt.rate(per_period * m.base_rate / quota, currency) if known else "—",
            "above": (fmt.rate(per_period * m.accelerator_rate / quota, currency) if known
                      else "—")})
    target_text = fmt.money(target, currency) + (" per year" if n else f" per {period}")
    pay = (f"Pay is worked out each {period}, on that {period}'s results against that "
           f"{period}'s quota: a {period} at 100% of quota on every metric pays "
           f"{fmt.money(per_period, currency)}"
           + (f" (your target incentive divided by {n})." if n and n > 1 else "."))
    return {**base, "title": f"{base['title']}: {rep}",
            "rep": {"id": rep, "target": target_text, "quotas": quotas,
                    "has_quotas": case.quotas is not None, "period": period, "pay": pay},
            "earnings": _earnings(plan, case, target)}


def write_rep_pages(out: Path, base: dict[str, Any], plan: Plan, case: Case) -> list[Path]:
    """One HTML page per rep, and ``index.html`` linking them, under ``out/reps``.

    Returns
    -------
    list of Path
        The index, then the reps' pages.
    """
    folder = out / REPS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    template = _environment(True).get_template(HTML + ".j2")
    ids = [str(r) for r in case.reps.index]
    files = rep_files(ids)
    written = []
    for i, name in enumerate(files):
        written.append(folder / name)
        write_atomic(written[-1], template.render(rep_context(base, plan, case, i)))
    currency = case.spec.case.currency
    index = _environment(True).get_template("plan_index.html.j2").render(
        title=base["title"], reps=[
            {"id": rep, "file": name, "target": fmt.money(float(t), currency)}
            for rep, name, t in zip(ids, files, case.target_incentive, strict=True)])
    write_atomic(folder / INDEX, index)
    return [folder / INDEX, *written]


def _environment(html: bool) -> Environment:
    # Markdown has no autoescape: finalize runs md_escape on every value printed.
    return Environment(loader=PackageLoader("compplan.render", "templates"),
                       autoescape=html, finalize=None if html else md_escape,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render_markdown(context: dict[str, Any]) -> str:
    """The plan document in Markdown."""
    return _environment(False).get_template(MARKDOWN + ".j2").render(context)


def render_html(context: dict[str, Any]) -> str:
    """The plan document as one self-contained HTML page (inline CSS, no external resource)."""
    return _environment(True).get_template(HTML + ".j2").render(context)


def write_explanation(out: Path, context: dict[str, Any]) -> list[Path]:
    """Write ``plan_explained.md`` and ``plan_explained.html`` into ``out``.

    Returns
    -------
    list of Path
        The files written.
    """
    written = [out / MARKDOWN, out / HTML]
    write_atomic(written[0], render_markdown(context))
    write_atomic(written[1], render_html(context))
    return written
