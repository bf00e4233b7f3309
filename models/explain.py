"""The plan document for reps: why the plan exists, what it pays for and what it pays.

Figures are formatted here, once, and the two templates (Markdown and HTML, under
``templates/``) only lay them out, so both documents show the same numbers. Every
value reaches a document through the template engine's escaping: HTML escaping for
the HTML, :func:`md_escape` for the Markdown, so a label such as ``<script>`` in a
case file is shown as written and never runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined

from compplan.errors import CaseError
from compplan.models.case import Case, validate_model
from compplan.models.output import write_atomic
from compplan.models.plan import Plan, PlanMetric
from compplan.models.schema import PlanMetricSpec, PlanSpec
from compplan.models.text import one_line

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

# CommonMark: backslash-escape what could start markup; "_" only at a word boundary
# (intraword underscores, as in metric ids, never emphasise) and "&" only before an
# entity name, so that ordinary text stays readable in the raw file.
_MD_SPECIAL = re.compile(r"[\\`*{}\[\]<>|#!~]|(?<!\w)_|_(?!\w)|&(?=#?\w+;)")
_MD_LEADING = re.compile(r"^([-+=])")


def md_escape(value: Any) -> str:
    """Text shown literally in Markdown, on one line (table cells cannot span lines)."""
    text = " ".join(str(value).split())
    return _MD_LEADING.sub(r"\\\1", _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text))


def join_words(words: list[str] | tuple[str, ...]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def goal_name(goal: str) -> str:
    """A goal id in words: ``enterprise_growth`` reads ``enterprise growth``."""
    return goal.replace("_", " ")


def pct(value: float, digits: int = 1) -> str:
    """A share as a percentage: ``0.465`` reads ``46.5%``."""
    return f"{value:.{digits}%}"


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
    try:
        doc = json.loads(file.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CaseError(file.name, f"is not a JSON plan: {exc}") from None
    except OSError as exc:
        raise CaseError(file.name, f"cannot be read: {exc.strerror or exc}") from None
    except RecursionError:
        raise CaseError(file.name, "is not a JSON plan: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), list):
        raise CaseError(file.name, "is not a plan: it has no 'metrics' list "
                                   "(write one with compplan optimise)")
    spec: PlanSpec = validate_model(file, PlanSpec, {"metrics": doc["metrics"]})
    metrics = tuple(_plan_metric(file, i, item) for i, item in enumerate(spec.metrics))
    return PlanFile(Plan(metrics), _text(doc.get("case")), _text(doc.get("currency")))


def _text(value: Any) -> str | None:
    # One line: a name from a hand-edited plan.json must not start a heading of its own.
    return one_line(value) if isinstance(value, str) else None


def _plan_metric(file: Path, i: int, item: PlanMetricSpec) -> PlanMetric:
    if item.threshold is None or item.cap is None:
        key = "threshold" if item.threshold is None else "cap"
        raise CaseError(file.name, f"has no {key}: give --case to explain the plan with the "
                                   "case's curves", field=f"metrics #{i + 1} ({item.id})")
    slope = 1.0 / (1.0 - item.threshold)
    try:
        rate = item.rate(item.threshold)
    except ValueError as exc:
        raise CaseError(file.name, str(exc), field=f"metrics #{i + 1} ({item.id})") from None
    return PlanMetric(id=item.id, label=item.label or item.id, weight=item.weight,
                      threshold=item.threshold, cap=item.cap,
                      base_rate=item.weight * slope, accelerator_rate=rate,
                      accelerator_multiple=rate / (item.weight * slope))


# ------------------------------------------------------------------------ figures

def max_multiple(plan: Plan) -> float:
    """The most any rep can earn, as a multiple of target incentive (every metric capped)."""
    return sum(m.weight + m.accelerator_rate * (m.cap - 1.0) for m in plan.metrics)


def rewards(m: PlanMetric) -> str:
    """What one metric pays, in a sentence."""
    start = (f"Nothing below {attainment_label(m.threshold)} of quota. From "
             f"{attainment_label(m.threshold)} to 100%" if m.threshold > 0
             else "From the first point of attainment to 100%")
    return (f"{start}, each point of attainment pays {m.base_rate:.2f}% of your target "
            f"incentive; above 100%, each point pays {m.accelerator_rate:.2f}% (an "
            f"accelerator of {m.accelerator_multiple:.2f}x), up to "
            f"{attainment_label(m.cap)}, where pay stops rising.")


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
    rows = []
    for x in sorted(notes):
        values = [float(m.payout(x)) for m in plan.metrics]
        rows.append({"attainment": attainment_label(x), "note": "; ".join(notes[x]),
                     "values": [pct(v) for v in values], "total": pct(sum(values))})
    return rows


def earnings_table(plan: Plan, target: float, decimals: int) -> list[dict[str, Any]]:
    """Pay per metric and in total at 50/80/100/120/150 % attainment on every metric."""
    rows = []
    for x in EARNINGS_POINTS:
        values = [float(m.payout(x)) * target for m in plan.metrics]
        rows.append({"attainment": attainment_label(x),
                     "values": [f"{v:,.{decimals}f}" for v in values],
                     "total": f"{sum(values):,.{decimals}f}"})
    return rows


def _earnings(plan: Plan, case: Case | None) -> dict[str, Any]:
    if case is None:
        return {"basis": f"per {PER_TARGET:g} of target incentive",
                "rows": earnings_table(plan, PER_TARGET, 2)}
    median = float(np.median(case.target_incentive))
    currency = case.spec.case.currency
    return {"basis": f"in {currency} for a rep with the case's median target incentive "
                     f"({median:,.0f} {currency})",
            "rows": earnings_table(plan, median, 0)}


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
        parts.append("undermines the strategy overall")
    elif m.weak and not m.against:
        parts.append("does little for the strategy")
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
        return (f"it works against {join_words(against)} and undermines the strategy "
                f"overall (alignment {m.goal_alignment:.3f})")
    if against:
        return f"it works against {join_words(against)}"
    if m.weak:
        return f"it does little for the strategy (alignment {m.goal_alignment:.3f})"
    return ("it serves the strategy, but the budget and guardrails buy more alignment "
            "from the metrics kept and added")


def _change(old: PlanMetric, new: PlanMetric, before: MetricAudit, after: MetricAudit,
            audit: Audit) -> str | None:
    parts = []
    if abs(new.weight - old.weight) > WEIGHT_CHANGE:
        parts.append(f"weight {pct(old.weight)} to {pct(new.weight)} of target incentive")
    if abs(new.accelerator_multiple - old.accelerator_multiple) > MULTIPLE_CHANGE:
        parts.append(f"accelerator {old.accelerator_multiple:.2f}x to "
                     f"{new.accelerator_multiple:.2f}x")
    if not parts:
        return None
    return (f"{new.label} changed ({join_words(parts)}): its share of the extra pay for "
            f"doing better goes from {pct(before.incentive_share)} to "
            f"{pct(after.incentive_share)}; it {metric_reason(after, audit)}.")


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
    items += [f"{m.label} added: it {metric_reason(m, audit)} (alignment "
              f"{m.goal_alignment:.3f})." for m in audit.metrics if m.id not in before]
    for m in plan.metrics:
        if m.id in before:
            text = _change(before[m.id], m, current_audit.metric(m.id), audit.metric(m.id),
                           audit)
            items += [text] if text else []
    headline = (f"Share of the extra pay for doing better that goes to results working "
                f"against the strategy: {pct(current_audit.against_strategy_share)} in the "
                f"current plan, {pct(audit.against_strategy_share)} in this one.")
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
        "source": source,
        "summary": _summary(plan, audit),
        "why": _why(audit),
        "columns": [m.label for m in plan.metrics],
        "metrics": [_metric_row(m) for m in plan.metrics],
        "curve": curve_table(plan),
        "earnings": _earnings(plan, case),
        "changes": (changes(plan, current.plan, audit, current.audit)
                    if current is not None and audit is not None else None),
        "changes_note": _changes_note(case),
    }


def _summary(plan: Plan, audit: Audit | None) -> list[str]:
    multiples = sorted({round(m.accelerator_multiple, 2) for m in plan.metrics})
    accel = (f"an accelerator of {multiples[0]:.2f}x" if len(multiples) == 1
             else f"accelerators from {multiples[0]:.2f}x to {multiples[-1]:.2f}x")
    lines = [f"You are paid on {len(plan.metrics)} "
             f"{'metric' if len(plan.metrics) == 1 else 'metrics'}: "
             + join_words([f"{m.label} ({pct(m.weight)})" for m in plan.metrics]) + ".",
             "At 100% of quota on every metric you earn exactly your target incentive.",
             f"Each metric pays nothing below its threshold and pays faster above 100% "
             f"({accel}), up to its cap.",
             f"The most you can earn is {max_multiple(plan):.2f}x your target incentive."]
    paid = [goal_name(g.id) for g in audit.goals if g.paid_for] if audit is not None else []
    if paid:
        lines.append(f"It rewards results that move the company's goals: {join_words(paid)}.")
    return lines


def _metric_row(m: PlanMetric) -> dict[str, str]:
    return {"label": m.label, "weight": pct(m.weight),
            "threshold": attainment_label(m.threshold), "cap": attainment_label(m.cap),
            "base_rate": f"{m.base_rate:.2f}%", "accelerator_rate": f"{m.accelerator_rate:.2f}%",
            "multiple": f"{m.accelerator_multiple:.2f}x", "rewards": rewards(m)}


def _changes_note(case: Case | None) -> str:
    if case is None:
        return ("The current plan is not known: run compplan explain with --case, on a case "
                "folder holding current_plan.toml, to see what changed.")
    if case.current_plan is None:
        return "The case has no current_plan.toml, so there is nothing to compare with."
    return "This is the plan in force today: nothing changed."


def _environment(html: bool) -> Environment:
    # Markdown has no autoescape: finalize runs md_escape on every value printed.
    return Environment(loader=PackageLoader("compplan.models", "templates"),
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
