"""The one figures view-model of an evaluation, and its tables.

A plan's :class:`~compplan.optimizer.evaluate.Evaluation` is reduced to one list of
figures (:func:`figures`), so that the terminal table, ``compare.csv``, ``compare.md``
and the what-if differences show the same numbers under the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from rich.table import Table

from compplan.models import fmt
from compplan.models.case import Case
from compplan.models.money import money_per
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.evaluate import Evaluation
from compplan.optimizer.understand import STEP_LABEL, TOWARD_LABEL, Readings, readings

Kind = Literal["money", "share", "points", "gap", "number", "multiple", "rate", "count",
               "text"]
MISSING = "n/a"
VALUE_WIDTH = 36


@dataclass(frozen=True)
class Figure:
    """One figure of an evaluation, as shown and compared.

    Attributes
    ----------
    key : str
        Stable name, the row of ``compare.csv`` (``total_p90``, ``weight.smb_bookings``).
    section : str
        The group it is shown under.
    label : str
        In words.
    kind : str
        How it is formatted and differenced: ``money``, ``share`` (of target, 1.0 =
        100 %), ``points`` (a difference of shares), ``number``, ``multiple``, ``rate``,
        ``count`` or ``text``.
    value : float, str or None
        None where the figure does not apply (the multiple of a metric not in the plan).
    ok : bool or None
        For a guardrail's slack: whether it is met.
    """

    key: str
    section: str
    label: str
    kind: Kind
    value: float | str | None
    ok: bool | None = None


# ----------------------------------------------------------------------- the figures

def figures(case: Case, plan: Plan, ev: Evaluation,
            metric_ids: Sequence[str] | None = None,
            readings: Readings | None = None) -> list[Figure]:
    """Every figure of an evaluation, in display order.

    Parameters
    ----------
    case : Case
        The case the plan was evaluated under.
    plan : Plan
        The plan.
    ev : Evaluation
        Its evaluation.
    metric_ids : sequence of str, optional
        Metrics to show weights and rates for (default: the plan's); pass the union
        of several plans' metrics so that their rows line up.
    readings : Readings, optional
        The alignment's readings (optimizer.understand), shown under the alignment.

    Returns
    -------
    list of Figure
        Plan, alignment, total payout, reps, segments, guardrails, design rules.
    """
    ids = list(metric_ids) if metric_ids is not None else [m.id for m in plan.metrics]
    cur = case.spec.case.currency
    return [*_plan_figures(case, plan, ids), *_alignment_figures(case, ev, ids),
            *_reading_figures(readings, cur),
            *_total_figures(ev, f"{cur} {money_per(case)}"), *_rep_figures(ev),
            *_segment_figures(ev),
            *_guardrail_figures(ev, cur), *_rule_figures(ev)]


def _plan_figures(case: Case, plan: Plan, ids: Sequence[str]) -> list[Figure]:
    chosen = {m.id: m for m in plan.metrics}
    rows = []
    for k in ids:
        m, label = chosen.get(k), case.metric(k).label or k
        rows += [Figure(f"weight.{k}", "plan", f"weight: {label}", "share",
                        m.weight if m else 0.0),
                 Figure(f"accelerator_rate.{k}", "plan", f"accelerator rate: {label}", "rate",
                        m.accelerator_rate if m else 0.0),
                 Figure(f"accelerator_multiple.{k}", "plan", f"accelerator multiple: {label}",
                        "multiple", m.accelerator_multiple if m else None)]
    return rows


def _alignment_figures(case: Case, ev: Evaluation, ids: Sequence[str]) -> list[Figure]:
    section = "alignment"
    rows = [Figure("alignment", section, "expected alignment", "number", ev.alignment)]
    for g, part in ev.alignment_by_goal.items():
        rows += [Figure(f"alignment.goal.{g}", section, f"from goal {g}", "number", part),
                 Figure(f"alignment_share.goal.{g}", section, f"share from goal {g}", "share",
                        ev.alignment_share_by_goal.get(g))]
    for k in ids:
        rows.append(Figure(f"alignment.metric.{k}", section,
                           f"from metric {case.metric(k).label or k}", "number",
                           ev.alignment_by_metric.get(k, 0.0)))
    return rows


def _reading_figures(readings: Readings | None, cur: str) -> list[Figure]:
    """The alignment's readings, in the words of every output (optimizer.understand)."""
    if readings is None:
        return []
    section = "alignment"
    rows = [Figure("alignment.toward_strategy", section, TOWARD_LABEL, "share",
                   readings.toward_strategy)]
    rows += [Figure(f"alignment.step.{g}", section, f"{STEP_LABEL.format(goal=g)} ({cur})",
                    "money", v) for g, v in readings.per_goal.items()]
    return rows


def _total_figures(ev: Evaluation, unit: str) -> list[Figure]:
    section = f"total payout ({unit})"
    level = ev.total_cvar_level
    source = ("the case's level" if ev.total_cvar_level_source == "case"
              else "default level: the case sets none")
    rows = [Figure("expected_payout", section, "expected total payout", "money",
                   ev.expected_cost),
            Figure("total_p10", section, "P10", "money", ev.total_p10),
            Figure("total_p50", section, "P50", "money", ev.total_p50),
            Figure("total_p90", section, "P90", "money", ev.total_p90),
            Figure("total_cvar", section, f"CVaR {level:g}, mean of the worst "
                   f"{1 - level:.0%} ({source})", "money", ev.total_cvar)]
    if ev.revenue_metric is not None:
        rows += [Figure("expected_revenue", section,
                        f"expected revenue ({ev.revenue_metric} x quota)", "money",
                        ev.expected_revenue),
                 Figure("cost_of_sales", section, "cost of sales (payout / revenue)", "share",
                        ev.cost_of_sales)]
    rows.append(Figure("max_payout_multiple", section, "most any rep can earn (x target)",
                       "multiple", ev.max_payout_multiple))
    return rows


def _rep_figures(ev: Evaluation) -> list[Figure]:
    section = "reps: expected payout / own target"
    rows = [Figure(f"rep_share.{q}", section, q.upper(), "share", v)
            for q, v in ev.rep_share_percentiles.items()]
    rows += [
        Figure("share_reps_at_or_above_target", section, "share of reps at or above target",
               "share", ev.share_reps_at_or_above_target),
        Figure("top_tail_mean", section, f"mean of the top {ev.top_share:.0%}", "share",
               ev.top_tail_mean),
        Figure("bottom_tail_mean", section, f"mean of the bottom {ev.bottom_share:.0%}",
               "share", ev.bottom_tail_mean)]
    return rows


def _segment_figures(ev: Evaluation) -> list[Figure]:
    if ev.segment_column is None:
        return []
    section = f"segments by {ev.segment_column}: expected payout / target"
    rows = []
    for s in ev.segments:
        rows += [Figure(f"segment.{s.group}.share_of_target", section, s.group, "share",
                        s.share_of_target),
                 Figure(f"segment.{s.group}.gap", section, f"{s.group}: gap to all reps",
                        "points", s.gap)]
    rows.append(Figure("max_segment_gap", section, "largest gap (absolute)", "points",
                       ev.max_segment_gap))
    return rows


#: How a guardrail's unit (models/guardrails.py) is shown: parity's gap in points.
UNIT_KIND: dict[str, Kind] = {"currency": "money", "share of target": "share",
                               "points of target": "gap", "x target": "multiple",
                               "x mean": "multiple"}


def _guardrail_figures(ev: Evaluation, cur: str) -> list[Figure]:
    section = "guardrails"
    rows = []
    for g in ev.guardrails:
        kind = UNIT_KIND.get(g.unit, "number")
        limit = format_value(kind, g.limit)
        rows += [Figure(f"guardrail.{g.name}", section, f"{g.setting} (limit {limit})", kind,
                        g.value),
                 Figure(f"guardrail.{g.name}.slack", section, f"{g.setting}: slack", kind,
                        g.slack, ok=g.ok)]
    return rows


def _rule_figures(ev: Evaluation) -> list[Figure]:
    section = "design rules"
    broken = ev.broken_rules
    return [Figure("design_rules.checked", section, "rules checked", "count",
                   float(len(ev.design_rules))),
            Figure("design_rules.broken", section, "rules broken", "count", float(len(broken))),
            # Short names here; the messages are printed under the table and in the JSON.
            Figure("design_rules.which", section, "broken", "text",
                   "; ".join(f"{r.name} {r.metric or ''}".strip() for r in broken) or "none")]


# ------------------------------------------------------------------------ formatting

def format_value(kind: Kind, value: float | str | None, ok: bool | None = None) -> str:
    """A figure as shown: ``19,614,072``, ``46.5%``, ``+6.5 pp``; ``met``/``BROKEN`` with ``ok``."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    formats: dict[str, Callable[[float], str]] = {
        "money": lambda v: fmt.money(v, digits=0), "share": fmt.share, "points": fmt.points,
        "gap": lambda v: fmt.points(v, sign=False),
        "number": fmt.alignment, "multiple": fmt.multiple, "rate": lambda v: f"{v:.3f}",
        "count": lambda v: f"{v:.0f}", "text": str}
    text = formats[kind](value)
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]  # -0.00x: noise below the shown precision
    if ok is not None:
        text += " met" if ok else " BROKEN"
    return text


def difference(a: Figure, b: Figure) -> float | None:
    """``b - a`` for numbers; None for text or a figure missing on either side."""
    if a.kind == "text" or not isinstance(a.value, float | int) \
            or not isinstance(b.value, float | int):
        return None
    return float(b.value) - float(a.value)


def format_difference(kind: Kind, diff: float | None) -> str:
    """A difference as shown (``+1.2 pp``); ``0`` for one that rounds away."""
    if diff is None:
        return ""
    text = {"money": f"{diff:+,.0f}", "share": f"{diff * 100:+.1f} pp",
            "points": f"{diff * 100:+.1f} pp", "gap": f"{diff * 100:+.1f} pp",
            "number": f"{diff:+.4f}",
            "multiple": f"{diff:+.2f}x", "rate": f"{diff:+.3f}",
            "count": f"{diff:+.0f}", "text": ""}[kind]
    # A difference that rounds away (solver noise) shows as 0, not -0.00x.
    return "0" if not any(c in "123456789" for c in text) else text


@dataclass(frozen=True)
class Column:
    """One plan in a side-by-side view: its name, plan and figures."""

    name: str
    plan: Plan
    evaluation: Evaluation
    figures: list[Figure]


def columns_of(case: Case, named: Sequence[tuple[str, Plan, Evaluation]],
               coeffs: Coefficients | None = None) -> list[Column]:
    """One column per named plan, with the same rows (the union of their metrics).

    With the case's coefficients each column also gets the alignment's readings.
    """
    # The union of the plans' metrics, in case order, so every plan has the same rows.
    used = {m.id for _, plan, _ in named for m in plan.metrics}
    ids = [k for k in case.metric_ids if k in used]
    return [Column(name, plan, ev, figures(
        case, plan, ev, ids,
        readings(case, coeffs, plan, ev.alignment) if coeffs is not None else None))
        for name, plan, ev in named]


def side_by_side(columns: Sequence[Column]) -> pd.DataFrame:
    """Figures of several plans in columns, with each one's difference from the first.

    Parameters
    ----------
    columns : sequence of Column
        The plans, the first being the base of the differences.

    Returns
    -------
    pandas.DataFrame
        ``section``, ``key``, ``label``, ``kind``, a column of values per plan, and a
        column ``NAME - FIRST`` per further plan (empty for text).
    """
    base = columns[0]
    data: dict[str, list[Any]] = {
        "section": [f.section for f in base.figures], "key": [f.key for f in base.figures],
        "label": [f.label for f in base.figures], "kind": [f.kind for f in base.figures]}
    for col in columns:
        data[col.name] = [f.value for f in col.figures]
    for col in columns[1:]:
        data[f"{col.name} - {base.name}"] = [
            difference(a, b) for a, b in zip(base.figures, col.figures, strict=True)]
    return pd.DataFrame(data)


def cells(columns: Sequence[Column], i: int) -> list[str]:
    """Row ``i`` as shown: label, one value per plan, differences from the first."""
    base = columns[0].figures[i]
    values = [format_value(c.figures[i].kind, c.figures[i].value, c.figures[i].ok) for c in columns]
    diffs = [format_difference(base.kind, difference(base, c.figures[i]))
             for c in columns[1:]]
    return [base.label, *values, *diffs]


def headers(columns: Sequence[Column]) -> list[str]:
    """The header of a side-by-side table."""
    return ["figure", *(c.name for c in columns),
            *(f"{c.name} - {columns[0].name}" for c in columns[1:])]


def rich_table(title: str, columns: Sequence[Column]) -> Table:
    """The side-by-side figures for the terminal, in sections."""
    table = Table(title=title, title_justify="left")
    for i, head in enumerate(headers(columns)):
        # Values are short; a long text cell (broken rules) wraps rather than widen the table.
        table.add_column(head, justify="left" if i == 0 else "right",
                         max_width=None if i == 0 else VALUE_WIDTH, overflow="fold")
    section = None
    for i, fig in enumerate(columns[0].figures):
        if fig.section != section:
            section = fig.section
            table.add_row(section, *[""] * (len(headers(columns)) - 1), style="bold")
        row = cells(columns, i)
        table.add_row("  " + row[0], *row[1:])
    return table


def markdown_table(title: str, columns: Sequence[Column]) -> str:
    """The side-by-side figures as a Markdown document (``compare.md``)."""
    heads = headers(columns)
    lines = [f"# {title}", "", "| " + " | ".join(heads) + " |",
             "|---|" + "---:|" * (len(heads) - 1)]
    section = None
    for i, fig in enumerate(columns[0].figures):
        if fig.section != section:
            section = fig.section
            lines.append(f"| **{section}** |" + " |" * (len(heads) - 1))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(columns, i)) + " |")
    return "\n".join(lines) + "\n"
