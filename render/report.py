"""The plan report: one self-contained HTML page with charts, for people to look at.

The page carries everything inline: CSS in a ``<style>`` element, charts as SVG drawn
by matplotlib (Agg canvas, SVG output, text as text) and the plan document of
``compplan explain``. It has no script, and a Content-Security-Policy that lets it
load nothing at all, so it works offline and a browser shows it the same anywhere.

Every text taken from a case, plan or batch file reaches the page through
escaping: Jinja's HTML autoescape in the page, matplotlib's XML escaping in the
charts (with math text off, so a ``$`` is a dollar), the explain templates' own
escaping for the plan document.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from compplan import __version__
from compplan.errors import CaseError
from compplan.models import fmt
from compplan.models.case import CURRENT_PLAN, Case
from compplan.models.money import annual_note, money_per
from compplan.models.plan import Plan
from compplan.optimizer.audit import join_words
from compplan.optimizer.evaluate import Evaluation, evaluate_plan, plan_payouts
from compplan.optimizer.understand import (
    OF_BEST_LABEL,
    STEP_LABEL,
    TOWARD_LABEL,
    Readings,
    sentences,
)
from compplan.render.explain import attainment_label, goal_name, render_html

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from compplan.optimizer.coefficients import Coefficients

TEMPLATE = "report.html.j2"
#: Files of a batch folder, the first found is read.
BATCH_RESULTS = ("results.parquet", "results.csv")
BATCH_REQUIRED = ("id", "status", "alignment", "expected_cost")
_BATCH_NUMERIC = ("alignment", "expected_cost", "cvar", "max_parity_gap")
#: Colour-blind safe (Okabe-Ito): the plan, then plans compared with it; today's plan in grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
CURRENT_COLOUR = "#6b7280"
LIMIT_COLOUR = "#c62828"
#: Candidates listed under the frontier chart.
FRONTIER_ROWS = 25


# ----------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Outcome:
    """A plan with its evaluation and the distributions behind the evaluation's figures.

    Attributes
    ----------
    name : str
        How the report names the plan (``current``, a file's stem).
    plan : Plan
        The plan.
    evaluation : Evaluation
        Its figures under the case.
    totals : numpy.ndarray
        (S,): total payout per scenario, in currency.
    shares : numpy.ndarray
        (N,): each rep's expected payout as a share of the rep's own target.
    """

    name: str
    plan: Plan
    evaluation: Evaluation
    totals: np.ndarray
    shares: np.ndarray


def outcome(case: Case, coeffs: Coefficients, plan: Plan, name: str, *,
            revenue: float | None = None) -> Outcome:
    """Evaluate ``plan`` and keep the scenario totals and rep shares behind the figures.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    plan : Plan
        The plan.
    name : str
        Its name in the report.
    revenue : float, optional
        The case's expected revenue, as :func:`~compplan.optimizer.evaluate.evaluate`.

    Returns
    -------
    Outcome
        The plan, its evaluation, its total payout per scenario and rep shares.

    Raises
    ------
    CaseError
        As :func:`~compplan.optimizer.evaluate.evaluate`.
    """
    # The same arrays as the evaluation's, so the totals' mean is its expected cost exactly.
    pay = plan_payouts(case, coeffs, plan)
    return Outcome(name, plan, evaluate_plan(case, coeffs, plan, revenue=revenue, payouts=pay),
                   pay.totals, pay.shares)


def scenario_labels(case: Case, count: int) -> list[str]:
    """Names of the scenarios: the periods of a historical case, else ``scenario 1`` ..."""
    if case.spec.scenarios.mode == "historical" and len(case.periods) == count:
        return list(case.periods)
    return [f"scenario {i}" for i in range(1, count + 1)]


def read_batch(folder: str | Path) -> pd.DataFrame:
    """Read the results of ``compplan batch``: ``results.parquet``, else ``results.csv``.

    Parameters
    ----------
    folder : str or Path
        The batch's output folder.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, in file order: ``id`` as text, the figures as floats
        (NaN where missing), ``frontier_cost`` and ``frontier_cvar`` as booleans.

    Raises
    ------
    CaseError
        No results file, a file that cannot be read, or a required column missing.
    """
    path = next((Path(folder) / n for n in BATCH_RESULTS if (Path(folder) / n).is_file()), None)
    if path is None:
        raise CaseError(str(folder), f"holds no {' or '.join(BATCH_RESULTS)} (give the "
                                     "output folder of compplan batch)")
    try:
        frame = (pd.read_parquet(path) if path.suffix == ".parquet"
                 else pd.read_csv(path, dtype={"id": str}, keep_default_na=False,
                                  na_values=[""]))
    except (OSError, ValueError, ImportError) as exc:
        raise CaseError(str(path), f"cannot be read: {exc}") from None
    missing = [c for c in BATCH_REQUIRED if c not in frame.columns]
    if missing:
        raise CaseError(str(path), f"has no column '{missing[0]}' (columns found: "
                                   f"{', '.join(map(str, frame.columns))})")
    return _typed_batch(frame)


def _typed_batch(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["id"] = frame["id"].astype(str)
    numeric = [c for c in frame.columns if c in _BATCH_NUMERIC
               or str(c).startswith(("weight.", "rate."))]
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("frontier_cost", "frontier_cvar"):
        if column in frame.columns:
            frame[column] = frame[column].map(_flag).astype(bool)
    return frame


def _flag(value: Any) -> bool:
    """A frontier mark as written by either file format: a bool, 0/1, or true/false text."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    try:
        return bool(value) and not (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- formatting

# One formatter for every output (models/fmt.py); the report's names for it.
money = fmt.money
compact_money = fmt.compact_money
pct = fmt.share
points = fmt.points


# ----------------------------------------------------------------------------- charts

_RC: dict[Any, Any] = {"svg.fonttype": "none", "svg.hashsalt": "compplan", "text.parse_math": False,
       "font.size": 10.5, "axes.titlesize": 11.5, "axes.titleweight": "bold",
       "axes.titlelocation": "left", "axes.spines.top": False, "axes.spines.right": False,
       "axes.grid": True, "grid.color": "#e5e7eb", "grid.linewidth": 0.7,
       "axes.axisbelow": True, "legend.frameon": False, "legend.fontsize": 9.5,
       "axes.edgecolor": "#9ca3af", "xtick.color": "#374151", "ytick.color": "#374151",
       "axes.labelcolor": "#374151", "figure.facecolor": "white"}
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ROOT = re.compile(r'<svg\b[^>]*?(viewBox="[^"]*")[^>]*>')
_IDS = re.compile(r'(\sid="|="url\(#|href="#)')  # href: xlink:href too


def _figure(width: float, height: float) -> Figure:
    # The Agg canvas: no display, and the object API touches no global pyplot state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _inline_svg(fig: Figure, chart_id: str, title: str) -> Markup:
    """The figure as an ``<svg>`` element for the page, its ids made unique to it."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue(), count=1))
    # Several charts share one document: matplotlib's ids (figure_1, clip paths) would clash.
    svg = _IDS.sub(lambda m: m.group(1) + chart_id + "-", svg)
    svg = svg.replace("<style type=\"text/css\">*{", f"<style type=\"text/css\">#{chart_id} *{{")
    root = (f'<svg id="{chart_id}" class="chart" role="img" aria-label="{escape(title)}" '
            r'\1 xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">')
    return Markup(_ROOT.sub(root, svg, count=1).strip())  # matplotlib escapes its text


def _chart(chart_id: str, title: str, draw: Callable[[Axes], None],
           size: tuple[float, float] = (4.8, 3.4)) -> dict[str, Any]:
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(*size)
        ax = fig.add_subplot()
        draw(ax)
        if ax.get_legend_handles_labels()[0]:
            # Below the chart, not over it: bars and lines stay visible at any width.
            fig.legend(loc="outside lower center", ncols=2, fontsize=9)
        return {"id": chart_id, "title": title, "svg": _inline_svg(fig, chart_id, title)}


def _legend_label(text: str) -> str:
    # matplotlib leaves labels starting with "_" out of legends.
    return "\u200b" + text if text.startswith("_") else text


def _money_axis(ax: Axes, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(lambda v, _: compact_money(v) if v else "0")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(formatter)


def _percent_axis(ax: Axes, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, 0))


@dataclass(frozen=True)
class _Series:
    """One plan as drawn: its outcome, colour and line style."""

    outcome: Outcome
    colour: str
    style: str
    main: bool


def _series(subjects: Sequence[Outcome], reference: Outcome | None) -> list[_Series]:
    drawn = [_Series(o, CURRENT_COLOUR if o.name == CURRENT_PLAN and i else PALETTE[i % 7],
                     "--" if o.name == CURRENT_PLAN and i else "-", i == 0)
             for i, o in enumerate(subjects)]
    if reference is not None:
        drawn.append(_Series(reference, CURRENT_COLOUR, "--", False))
    return drawn


def curve_charts(case: Case, drawn: Sequence[_Series]) -> list[dict[str, Any]]:
    """One payout-curve chart per metric of any plan drawn, then the total curve.

    Curves are drawn as written: tiers as kinks and steps as vertical rises (each
    point of a written curve is sampled, and just before it), flat past the cap. A
    gated metric's chart is its curve with the gate in its caption; the total curve
    (the same attainment on every metric) applies the gates at that attainment.
    """
    used = {m.id for s in drawn for m in s.outcome.plan.metrics}
    ids = [k for k in case.metric_ids if k in used]
    metrics = [m for s in drawn for m in s.outcome.plan.metrics]
    x = _curve_grid(case, ids, metrics)
    labels = {k: case.metric(k).label or k for k in case.metric_ids}
    charts = []
    for i, k in enumerate(ids, start=1):
        label = labels[k]
        gates = sorted({m.gate.words(labels.get(m.gate.metric)) for m in metrics
                        if m.id == k and m.gate is not None})
        chart = _chart(f"chart-curve-{i}", f"Payout curve: {label}",
                       partial(_draw_curve, x=x, metric=k, title=label, drawn=drawn),
                       (4.2, 3.0))
        charts.append({**chart, "caption": f"{label} {join_words(gates)}." if gates else ""})
    charts.append({**_chart("chart-curve-total", "Payout curve: total",
                            partial(_draw_curve, x=x, metric=None, drawn=drawn,
                                    title="Total, the same attainment on every metric"),
                            (4.2, 3.0)), "caption": ""})
    return charts


def _curve_grid(case: Case, ids: Sequence[str], metrics: Sequence[Any]) -> np.ndarray:
    """Attainments to draw at: an even grid, every kink, and both sides of every step."""
    ends = [case.metric(k).cap for k in ids] + [m.cap for m in metrics]
    ends += [m.curve[-1][0] for m in metrics if m.curve is not None]
    top = max(ends) * 1.1 if ends else 2.0
    points = {a for m in metrics for a, _ in (m.curve or ())}
    points |= {m.threshold for m in metrics} | {m.cap for m in metrics}
    near = [a - 1e-9 * max(1.0, a) for a in points if a > 0.0]
    return np.unique(np.concatenate([np.linspace(0.0, top, 400), list(points), near]))


def _draw_curve(ax: Axes, x: np.ndarray, metric: str | None, title: str,
                drawn: Sequence[_Series]) -> None:
    for s in reversed(drawn):  # the plan last, on top
        chosen = [m for m in s.outcome.plan.metrics if metric is None or m.id == metric]
        if not chosen:
            continue
        y = sum(((m.payout(x) if metric is not None else m.payout_everywhere(x))
                 for m in chosen), start=np.zeros_like(x))
        ax.plot(x, y, color=s.colour, linestyle=s.style, linewidth=2.4 if s.main else 1.6)
    ax.axvline(1.0, color="#9ca3af", linewidth=0.8, linestyle=":")
    ax.set_title(title, fontsize=10.5, wrap=True)
    ax.set_xlabel("attainment / quota")
    ax.set_ylabel("pay / target incentive")
    ax.set_xlim(0.0, x[-1])
    ax.set_ylim(bottom=0.0)
    _percent_axis(ax, "x")
    _percent_axis(ax, "y")


def total_chart(case: Case, drawn: Sequence[_Series]) -> dict[str, Any]:
    """The distribution of total payout over scenarios, with the budget and CVaR lines."""
    return _chart("chart-total-payout", f"Total payout {money_per(case)} over the scenarios",
                  lambda ax: _draw_total(ax, case, drawn))


def _draw_total(ax: Axes, case: Case, drawn: Sequence[_Series]) -> None:
    everything = np.concatenate([s.outcome.totals for s in drawn])
    bins = np.histogram_bin_edges(everything, bins=int(np.clip(len(drawn[0].outcome.totals) // 3,
                                                               6, 40)))
    for s in drawn:
        ev = s.outcome.evaluation
        name = _legend_label(s.outcome.name)
        ax.hist(s.outcome.totals, bins=bins.tolist(), color=s.colour, alpha=0.55 if s.main else 1.0,
                histtype="stepfilled" if s.main else "step", linewidth=1.6, label=name)
        ax.axvline(ev.expected_cost, color=s.colour, linewidth=1.8,
                   label=f"expected: {compact_money(ev.expected_cost)}")
        ax.axvline(ev.total_cvar, color=s.colour, linewidth=1.8, linestyle="--",
                   label=f"CVaR {ev.total_cvar_level:g}: {compact_money(ev.total_cvar)}")
    budget = case.spec.budget
    if budget.expected_cap is not None:
        ax.axvline(budget.expected_cap, color=LIMIT_COLOUR, linewidth=1.6,
                   label=f"expected cap: {compact_money(budget.expected_cap)}")
    if budget.cvar_cap is not None:
        ax.axvline(budget.cvar_cap, color=LIMIT_COLOUR, linewidth=1.6, linestyle="--",
                   label=f"CVaR cap: {compact_money(budget.cvar_cap)}")
    ax.set_xlabel(f"total payout ({case.spec.case.currency} {money_per(case)})")
    ax.set_ylabel("scenarios")
    _money_axis(ax)


def rep_chart(case: Case, drawn: Sequence[_Series]) -> dict[str, Any]:
    """The distribution of reps' expected pay as a share of their own target."""
    return _chart("chart-rep-earnings", "Rep earnings: expected pay / own target",
                  lambda ax: _draw_reps(ax, case, drawn))


def _draw_reps(ax: Axes, case: Case, drawn: Sequence[_Series]) -> None:
    everything = np.concatenate([s.outcome.shares for s in drawn])
    bins = np.histogram_bin_edges(everything, bins=int(np.clip(len(everything) // 20, 8, 40)))
    for s in drawn:
        ax.hist(s.outcome.shares, bins=bins.tolist(), color=s.colour, alpha=0.55 if s.main else 1.0,
                histtype="stepfilled" if s.main else "step", linewidth=1.6,
                label=_legend_label(s.outcome.name))
    ax.axvline(1.0, color="#111827", linewidth=1.2, label="target")
    floor = case.spec.fairness.bottom_floor
    if floor is not None:
        share = drawn[0].outcome.evaluation.bottom_share
        ax.axvline(floor, color=LIMIT_COLOUR, linewidth=1.6, linestyle="--",
                   label=f"floor for the bottom {share:.0%}: {floor:.0%}")
    ax.set_xlabel("expected pay / own target incentive")
    ax.set_ylabel("reps")
    _percent_axis(ax, "x")


def segment_chart(case: Case, drawn: Sequence[_Series]) -> dict[str, Any] | None:
    """Each segment's gap to all reps in expected pay as a share of target, with the tolerance."""
    ev = drawn[0].outcome.evaluation
    if not ev.segments:
        return None
    height = 1.9 + 0.3 * len(ev.segments) * len(drawn)
    return _chart("chart-segments", f"Segment parity by {ev.segment_column}",
                  lambda ax: _draw_segments(ax, case, drawn), (4.8, min(height, 12.0)))


def _draw_segments(ax: Axes, case: Case, drawn: Sequence[_Series]) -> None:
    main = drawn[0].outcome.evaluation
    groups = [s.group for s in main.segments]
    y = np.arange(len(groups))
    height = 0.8 / len(drawn)
    for i, s in enumerate(drawn):
        figures = {g.group: g for g in s.outcome.evaluation.segments}
        gaps = [figures[g].gap if g in figures else 0.0 for g in groups]
        bars = ax.barh(y - 0.4 + height * (i + 0.5), gaps, height, color=s.colour,
                       label=_legend_label(s.outcome.name))
        # The segment's own share of target at the end of its bar.
        ax.bar_label(bars, [f"{figures[g].share_of_target:.1%}" if g in figures else ""
                            for g in groups], padding=3, fontsize=8.5)
    ax.axvline(0.0, color="#111827", linewidth=1.0)
    fair = case.spec.fairness
    tolerance = (fair.parity_tolerance if fair.parity_tolerance is not None
                 and fair.group_by == main.segment_column else None)
    if tolerance is not None:
        ax.axvspan(-tolerance, tolerance, color="#10b981", alpha=0.12,
                   label=f"parity tolerance \u00b1{tolerance * 100:.0f} pp")
    reach = max([abs(g.gap) for s in drawn for g in s.outcome.evaluation.segments]
                + [tolerance or 0.0, 0.01]) * 1.35
    ax.set_xlim(-reach, reach)
    ax.set_yticks(y, [_short(g) for g in groups])
    ax.invert_yaxis()
    overall = main.segments[0].share_of_target - main.segments[0].gap
    ax.set_xlabel(f"gap to all reps ({overall:.1%} of target), pp")
    ax.xaxis.set_major_formatter(_points_formatter())


def _points_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v * 100:+.0f}" if abs(v) > 1e-12 else "0")


def alignment_chart(case: Case, drawn: Sequence[_Series]) -> dict[str, Any]:
    """Alignment by goal: the part of each goal in the plan's expected alignment."""
    goals = list(case.spec.goals)
    height = 1.9 + 0.3 * len(goals) * len(drawn)
    return _chart("chart-alignment", "Alignment by goal",
                  lambda ax: _draw_alignment(ax, case, drawn), (4.8, min(height, 12.0)))


def _draw_alignment(ax: Axes, case: Case, drawn: Sequence[_Series]) -> None:
    goals = case.spec.goals
    total = sum(goals.values())
    names = [f"{_short(goal_name(g))} ({p / total:.0%})" for g, p in goals.items()]
    y = np.arange(len(names))
    height = 0.8 / len(drawn)
    for i, s in enumerate(drawn):
        parts = s.outcome.evaluation.alignment_by_goal
        ax.barh(y - 0.4 + height * (i + 0.5), [parts.get(g, 0.0) for g in goals], height,
                color=s.colour, label=_legend_label(
                    f"{s.outcome.name}: {s.outcome.evaluation.alignment:.4f} in all"))
    ax.axvline(0.0, color="#111827", linewidth=0.8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("part of the expected alignment")


def frontier_charts(case: Case, batch: pd.DataFrame,
                    drawn: Sequence[_Series]) -> list[dict[str, Any]]:
    """Alignment against expected cost (and against CVaR) over a batch's candidates."""
    charts = [_chart("chart-frontier", "Frontier: alignment against expected cost",
                     lambda ax: _draw_frontier(ax, case, batch, drawn, "expected_cost"))]
    if "cvar" in batch.columns and batch["cvar"].notna().any():
        charts.append(_chart("chart-frontier-cvar", "Frontier: alignment against CVaR",
                             lambda ax: _draw_frontier(ax, case, batch, drawn, "cvar")))
    return charts


def _draw_frontier(ax: Axes, case: Case, batch: pd.DataFrame, drawn: Sequence[_Series],
                   column: str) -> None:
    points = batch[np.isfinite(batch[column]) & np.isfinite(batch["alignment"])]
    ax.scatter(points[column], points["alignment"], s=14, color="#9ca3af",
               label=f"candidates ({len(points)})")
    flag = "frontier_cost" if column == "expected_cost" else "frontier_cvar"
    if flag in points.columns and points[flag].any():
        front = points[points[flag]].sort_values(column)
        ax.plot(front[column], front["alignment"], color="#111827", linewidth=1.6,
                marker="o", markersize=4, label=f"frontier ({len(front)})")
    for s in drawn:
        ev = s.outcome.evaluation
        x = ev.expected_cost if column == "expected_cost" else ev.total_cvar
        # A plan above the frontier breaks what the candidates keep: say so beside it.
        broken = fmt.breaks([g.setting for g in ev.violated])
        note = f" ({broken})" if broken else ""
        ax.scatter([x], [ev.alignment], s=120 if s.main else 70, marker="*" if s.main else "D",
                   color=s.colour, edgecolors="#111827", linewidths=0.6, zorder=5,
                   label=_legend_label(s.outcome.name) + note)
    budget = case.spec.budget
    cap = budget.expected_cap if column == "expected_cost" else budget.cvar_cap
    if cap is not None:
        ax.axvline(cap, color=LIMIT_COLOUR, linewidth=1.4, linestyle="--", label="cap")
    ax.set_xlabel(("expected total payout" if column == "expected_cost" else
                   "CVaR of the total payout") + f" ({case.spec.case.currency}{annual_note(case)})")
    ax.set_ylabel("expected alignment")
    _money_axis(ax)


def _short(text: str, limit: int = 28) -> str:
    """A tick label that leaves room for the chart; the tables give it in full."""
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


# ----------------------------------------------------------------------------- tables

def _tile(label: str, value: str, note: str, ok: bool | None = None) -> dict[str, Any]:
    return {"label": label, "value": value, "note": note,
            "state": "" if ok is None else ("ok" if ok else "broken")}


def tiles(case: Case, main: Outcome, today: Outcome | None,
          readings: dict[str, Readings] | None = None) -> list[dict[str, Any]]:
    """The plan at a glance: the figures people ask first, each with its limit."""
    ev, cur = main.evaluation, case.spec.case.currency
    checks = {g.name: g for g in ev.guardrails}
    # Money shown together gets the digits to tell different figures apart.
    amounts = [ev.expected_cost, ev.total_cvar, ev.total_p10, ev.total_p90,
               *(checks[k].limit for k in ("budget_expected", "budget_cvar") if k in checks)]
    short = dict(zip(amounts, fmt.distinct_money(amounts), strict=True))

    def compact_money(value: float | None, currency: str = "") -> str:
        text = short.get(value, fmt.compact_money(value)) if value is not None else fmt.MISSING
        return text + (f" {currency}" if currency and value is not None else "")

    limit = _limit_note(checks, "budget_expected", lambda v: compact_money(v, cur))
    cvar_limit = _limit_note(checks, "budget_cvar", lambda v: compact_money(v, cur))
    parity = _limit_note(checks, "fairness_parity", lambda v: f"\u00b1{v * 100:.1f} pp")
    broken = len(ev.violated)
    rules = ev.broken_rules
    return [
        _tile("expected alignment", f"{ev.alignment:.4f}",
              "; ".join([*(sentences(readings[main.name])[:2]
                           if readings and main.name in readings else []),
                         f"today's plan: {today.evaluation.alignment:.4f}" if today is not None
                         else "the objective the plan maximises"])),
        _tile(f"expected total payout {money_per(case)}", compact_money(ev.expected_cost, cur),
              limit[0] or f"P10 {compact_money(ev.total_p10)} to P90 "
                          f"{compact_money(ev.total_p90)}", limit[1]),
        _tile(f"CVaR {ev.total_cvar_level:g} (mean of the worst "
              f"{1 - ev.total_cvar_level:.0%})", compact_money(ev.total_cvar, cur),
              cvar_limit[0] or "no CVaR cap in the case", cvar_limit[1]),
        _tile("reps at or above target", pct(ev.share_reps_at_or_above_target, 0),
              f"bottom {ev.bottom_share:.0%} earn {pct(ev.bottom_tail_mean, 0)} of target, "
              f"top {ev.top_share:.0%} {pct(ev.top_tail_mean, 0)}"),
        _tile("largest segment gap", points(ev.max_segment_gap).lstrip("+")
              if ev.max_segment_gap is not None else "\u2014",
              parity[0] or (f"by {ev.segment_column}" if ev.segment_column else
                            "reps.csv has no grouping column"), parity[1]),
        _tile("most any rep can earn", f"{ev.max_payout_multiple:.2f}x target",
              *_limit_note(checks, "payout_multiple", lambda v: f"{v:.2f}x")),
        _tile("guardrails", f"{len(ev.guardrails) - broken} of {len(ev.guardrails)} met",
              f"design rules: {len(ev.design_rules) - len(rules)} of {len(ev.design_rules)} "
              "followed", broken == 0 and not rules),
    ]


def _limit_note(checks: dict[str, Any], name: str,
                fmt: Callable[[float], str]) -> tuple[str, bool | None]:
    g = checks.get(name)
    if g is None:
        return "", None
    return f"limit {fmt(g.limit)}: {'met' if g.ok else 'BROKEN'}", g.ok


def metric_rows(main: Outcome) -> list[dict[str, str]]:
    """The plan's metrics: weight, curve and rates, and the alignment each brings."""
    ev = main.evaluation
    return [{"label": m.label, "id": m.id, "weight": pct(m.weight),
             "threshold": attainment_label(m.threshold), "cap": attainment_label(m.cap),
             "base_rate": f"{m.base_rate:.3f}", "accelerator_rate": f"{m.accelerator_rate:.3f}",
             "multiple": f"{m.accelerator_multiple:.2f}x",
             "alignment": f"{ev.alignment_by_metric.get(m.id, 0.0):.4f}"}
            for m in main.plan.metrics]


def _reading_rows(case: Case, columns: Sequence[Outcome],
                  readings: dict[str, Readings] | None) -> list[dict[str, Any]]:
    """The alignment's readings (optimizer.understand), in the words every output uses."""
    if not readings or any(o.name not in readings for o in columns):
        return []
    rs = [readings[o.name] for o in columns]
    cur = case.spec.case.currency
    rows = [_row(OF_BEST_LABEL, "", [pct(r.of_best) for r in rs]),
            _row(TOWARD_LABEL, "", [pct(r.toward_strategy) for r in rs])]
    for g in rs[0].per_goal:
        rows.append(_row(f"{STEP_LABEL.format(goal=goal_name(g))} ({cur})", "",
                         [money(r.per_goal.get(g)) for r in rs]))
    return rows


def key_figures(case: Case, columns: Sequence[Outcome],
                readings: dict[str, Readings] | None = None) -> list[dict[str, Any]]:
    """Figures of every plan side by side: rows of label, limit and one cell per plan."""
    cur = case.spec.case.currency
    used = {m.id for o in columns for m in o.plan.metrics}
    rows = []
    for k in (k for k in case.metric_ids if k in used):
        rows.append(_row(f"weight: {case.metric(k).label or k}", "", [
            pct(next((m.weight for m in o.plan.metrics if m.id == k), 0.0)) for o in columns]))
    evs = [o.evaluation for o in columns]
    rows += [
        _row("expected alignment", "", [f"{e.alignment:.4f}" for e in evs]),
        *_reading_rows(case, columns, readings),
        _row(f"expected total payout ({cur}{annual_note(case)})", "",
             [money(e.expected_cost) for e in evs]),
        _row("P10 / P50 / P90 of the total", "",
             [f"{compact_money(e.total_p10)} / {compact_money(e.total_p50)} / "
              f"{compact_money(e.total_p90)}" for e in evs]),
        _row(f"CVaR {evs[0].total_cvar_level:g} of the total", "",
             [money(e.total_cvar) for e in evs]),
    ]
    if evs[0].cost_of_sales is not None:
        rows.append(_row("cost of sales (payout / revenue)", "",
                         [pct(e.cost_of_sales) for e in evs]))
    rows += [
        _row("most any rep can earn", "", [f"{e.max_payout_multiple:.2f}x" for e in evs]),
        _row("reps at or above target", "", [pct(e.share_reps_at_or_above_target) for e in evs]),
        _row(f"mean of the top {evs[0].top_share:.0%} (x target)", "",
             [pct(e.top_tail_mean) for e in evs]),
        _row(f"mean of the bottom {evs[0].bottom_share:.0%} (x target)", "",
             [pct(e.bottom_tail_mean) for e in evs]),
        _row("largest segment gap", "", [points(e.max_segment_gap).lstrip("+") for e in evs]),
    ]
    rows += _guardrail_rows(evs)
    rows.append(_row("design rules broken", "", [
        ", ".join(f"{r.name} {r.metric or ''}".strip() for r in e.broken_rules) or "none"
        for e in evs], [not e.broken_rules for e in evs]))
    return rows


def _row(label: str, limit: str, values: list[str],
         ok: list[bool] | None = None) -> dict[str, Any]:
    states = [""] * len(values) if ok is None else ["ok" if v else "broken" for v in ok]
    return {"label": label, "limit": limit,
            "cells": [{"text": v, "state": s} for v, s in zip(values, states, strict=True)]}


_UNIT_FORMAT: dict[str, Callable[[float], str]] = {
    "currency": lambda v: money(v), "share of target": lambda v: pct(v),
    "points of target": lambda v: f"{v * 100:.1f} pp",
    "x target": lambda v: f"{v:.2f}x", "x mean": lambda v: f"{v:.2f}x"}


def _guardrail_rows(evs: Sequence[Evaluation]) -> list[dict[str, Any]]:
    rows = []
    for i, g in enumerate(evs[0].guardrails):
        fmt = _UNIT_FORMAT.get(g.unit, lambda v: f"{v:.4g}")
        checks = [e.guardrails[i] for e in evs]
        rows.append(_row(g.setting, fmt(g.limit),
                         [f"{fmt(c.value)} {'met' if c.ok else 'BROKEN'}" for c in checks],
                         [c.ok for c in checks]))
    return rows


def frontier_table(batch: pd.DataFrame) -> dict[str, Any]:
    """Counts of a batch and its frontier candidates, cheapest first."""
    feasible = batch[np.isfinite(batch["alignment"]) & np.isfinite(batch["expected_cost"])]
    on = (feasible[feasible["frontier_cost"]] if "frontier_cost" in feasible.columns
          else feasible.iloc[0:0])
    listed = on if len(on) else feasible.nlargest(FRONTIER_ROWS, "alignment")
    listed = _distinct_plans(listed.sort_values(["expected_cost", "id"])).head(FRONTIER_ROWS)
    rows = [{"id": str(r["id"]) + (f" +{r['same']}" if r["same"] else ""),
             "name": _text(r.get("name")),
             "alignment": f"{r['alignment']:.4f}", "expected_cost": money(r["expected_cost"]),
             "cvar": money(r.get("cvar")), "metrics": _text(r.get("metrics"))}
            for _, r in listed.iterrows()]
    return {"count": len(batch), "feasible": len(feasible), "frontier": len(on),
            "on_frontier": bool(len(on)), "rows": rows}


def _distinct_plans(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct plan (same metrics and figures), the first of them.

    ``same`` counts the other candidates with that plan (a cap that no longer binds
    gives the same plan as every higher one).
    """
    keys = [c for c in ("metrics", "alignment", "expected_cost", "cvar") if c in rows.columns]
    group = pd.Series([tuple(v if k == "metrics" else round(float(v), 4)
                             for k, v in zip(keys, values, strict=True))
                       for values in rows[keys].itertuples(index=False)], index=rows.index)
    first = ~group.duplicated()
    kept = rows[first].copy()
    kept["same"] = [int((group == g).sum()) - 1 for g in group[first]]
    return kept


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


# ----------------------------------------------------------------------------- the page

_BODY = re.compile(r"<body>(.*)</body>", re.S)
_HEADING = re.compile(r"<(/?)h([1-4])\b")


def plan_document(context: dict[str, Any]) -> Markup:
    """The body of the ``compplan explain`` page, its headings two levels down.

    The explain template escapes every value, so no tag in its output came from a
    case file: moving its heading tags is safe.
    """
    # The report draws the payout curves itself: the document's own picture would repeat them.
    body = _BODY.search(render_html({**context, "picture": None}))
    inner = body.group(1) if body is not None else ""
    return Markup(_HEADING.sub(
        lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}", inner))


@dataclass(frozen=True)
class ReportInput:
    """What the report shows.

    Attributes
    ----------
    case : Case
        The case.
    subjects : sequence of Outcome
        The plan, then plans compared with it (``--compare``).
    source : str
        Where the plan comes from, as given on the command line.
    reference : Outcome or None
        Today's plan when the case has one and it is not among ``subjects``: drawn
        over the payout curves and listed among the key figures.
    document : dict or None
        The context of :func:`compplan.render.explain.explanation` for the plan.
    batch : pandas.DataFrame or None
        Results of ``compplan batch`` (:func:`read_batch`).
    batch_source : str or None
        The batch folder, as given.
    readings : dict of str to Readings, optional
        The alignment's readings of each plan, by name (optimizer.understand).
    pulse : dict or None
        The pulse check's section, as :func:`compplan.render.report_pulse.pulse_context`
        builds it from ``pulse.json`` (MODEL.md section 8).
    pulse_source : str or None
        The actuals file, as given.
    response : dict or None
        A case with ``[response]``: the section of
        :func:`compplan.render.report_response.response_context` (MODEL.md section 10).
    """

    case: Case
    subjects: Sequence[Outcome]
    source: str
    reference: Outcome | None = None
    document: dict[str, Any] | None = None
    batch: pd.DataFrame | None = None
    batch_source: str | None = None
    readings: dict[str, Readings] | None = None
    pulse: dict[str, Any] | None = None
    pulse_source: str | None = None
    response: dict[str, Any] | None = None


def report_context(data: ReportInput) -> dict[str, Any]:
    """Everything the report template shows, formatted, charts drawn."""
    case, main = data.case, data.subjects[0]
    drawn = _series(data.subjects, None)
    overlay = _series(data.subjects, data.reference)
    today = data.reference or next((o for o in data.subjects[1:] if o.name == CURRENT_PLAN), None)
    columns = [*data.subjects, *([data.reference] if data.reference is not None else [])]
    charts = {"curves": curve_charts(case, overlay), "total": total_chart(case, drawn),
              "reps": rep_chart(case, drawn), "segments": segment_chart(case, drawn),
              "alignment": alignment_chart(case, drawn),
              "frontier": (frontier_charts(case, data.batch, drawn)
                           if data.batch is not None else [])}
    return {
        "title": f"{case.name}: plan report", "case": case.name, "source": data.source,
        "version": __version__, "currency": case.spec.case.currency,
        "compared": [o.name for o in data.subjects[1:]],
        "reference": data.reference.name if data.reference is not None else None,
        "scope": _scope(case, main), "tiles": tiles(case, main, today, data.readings),
        "metrics": metric_rows(main),
        "legend": [{"name": s.outcome.name, "colour": s.colour, "dashed": s.style == "--",
                    "main": s.main} for s in overlay],
        "columns": [o.name for o in columns],
        "figures": key_figures(case, columns, data.readings),
        "broken": [{"plan": o.name, "messages": [r.message for r in o.evaluation.broken_rules]}
                   for o in columns if o.evaluation.broken_rules],
        "charts": charts, "chart_ids": chart_ids(charts),
        "frontier": frontier_table(data.batch) if data.batch is not None else None,
        "batch_source": data.batch_source,
        "document": plan_document(data.document) if data.document is not None else None,
        "pulse": _pulse_section(data),
        "response": data.response,
    }


def _pulse_section(data: ReportInput) -> dict[str, Any] | None:
    """The pulse check's section (``--actuals``), or None.

    Built by :func:`compplan.render.report_pulse.pulse_context` (which draws with this
    module's tools) and handed in by the caller: no import cycle.
    """
    return data.pulse


def _scope(case: Case, main: Outcome) -> str:
    mode = case.spec.scenarios.mode
    kind = "historical periods" if mode == "historical" else "Monte Carlo scenarios"
    return (f"{len(main.shares):,} reps, {len(main.totals):,} {kind}; money in "
            f"{case.spec.case.currency} {money_per(case)}")


def chart_ids(charts: dict[str, Any]) -> list[str]:
    """Ids of every chart of the page, in order."""
    found: list[str] = []
    for value in charts.values():
        items = value if isinstance(value, list) else [value]
        found += [c["id"] for c in items if c is not None]
    return found


def render_report(data: ReportInput) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    data : ReportInput
        The case, the plans and what else to show.

    Returns
    -------
    str
        The page: inline CSS and SVG, no script, nothing to fetch.
    """
    env = Environment(loader=PackageLoader("compplan.render", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    return env.get_template(TEMPLATE).render(report_context(data))
