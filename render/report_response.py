"""The response in the plan report: every payout figure static and under response.

A section of ``compplan report`` for a case with ``[response]`` (MODEL.md section 10):
the plan's multipliers, payout figures and guardrails as the history has them and under
response side by side (and under each elasticity of ``--elasticity``), the outcomes and
net value where metrics have a ``value``, and, with a band, a chart of expected payout
and net value against the elasticity (its figures also as the table above).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from compplan.models.case import Case
from compplan.models.money import money_per
from compplan.optimizer.response import ResponseFigures
from compplan.render.report import (
    LIMIT_COLOUR,
    PALETTE,
    _chart,
    _guardrail_rows,
    _money_axis,
    _row,
    compact_money,
    money,
    pct,
    points,
)
from compplan.render.response import STATIC, UNDER_RESPONSE, response_lines

if TYPE_CHECKING:
    from matplotlib.axes import Axes

CHART_ID = "chart-response-band"


def _label(figures: ResponseFigures) -> str:
    return UNDER_RESPONSE if figures.elasticity is None else f"elasticity {figures.elasticity:g}"


def response_rows(case: Case, figures: Sequence[ResponseFigures]) -> list[dict[str, Any]]:
    """Rows of the table: label, limit and a cell for static, then one per figures.

    Parameters
    ----------
    case : Case
        The case.
    figures : sequence of ResponseFigures
        The plan under the case's elasticities, then under each of a band.

    Returns
    -------
    list of dict
        As :func:`compplan.render.report.key_figures`'s rows.
    """
    cur = case.spec.case.currency
    labels = {k: case.metric(k).label or k for k in case.metric_ids}
    evs = [figures[0].static, *(f.evaluation for f in figures)]
    rows = [_row(f"attainment multiplier: {labels[k]}", "",
                 ["x1.000"] + [f"x{f.multipliers[k]:.3f}" for f in figures])
            for k in case.metric_ids]
    rows += [
        _row(f"expected total payout ({cur} {money_per(case)})", "",
             [money(e.expected_cost) for e in evs]),
        _row("P10 / P50 / P90 of the total", "",
             [f"{compact_money(e.total_p10)} / {compact_money(e.total_p50)} / "
              f"{compact_money(e.total_p90)}" for e in evs]),
        _row(f"CVaR {evs[0].total_cvar_level:g} of the total", "",
             [money(e.total_cvar) for e in evs]),
        _row("reps at or above target", "", [pct(e.share_reps_at_or_above_target) for e in evs]),
        _row(f"mean of the top {evs[0].top_share:.0%} (x target)", "",
             [pct(e.top_tail_mean) for e in evs]),
        _row(f"mean of the bottom {evs[0].bottom_share:.0%} (x target)", "",
             [pct(e.bottom_tail_mean) for e in evs]),
        _row("largest segment gap", "", [points(e.max_segment_gap).lstrip("+") for e in evs]),
    ]
    rows += _guardrail_rows(evs)
    for k in figures[0].outcomes:
        rows.append(_row(f"volume change: {labels[k]} (units {money_per(case)})", "",
                         ["0"] + [f"{f.outcomes[k]['volume_change']:+,.1f}" for f in figures]))
        rows.append(_row(f"value change: {labels[k]} ({cur} {money_per(case)})", "",
                         [money(0.0)] + [money(f.outcomes[k]["value_change"]) for f in figures]))
    if figures[0].net_value is not None:
        static_net = -(figures[0].static.expected_cost - figures[0].baseline_cost)
        rows.append(_row(f"net value ({cur} {money_per(case)})", "",
                         [money(static_net)] + [money(f.net_value) for f in figures]))
    return rows


def segment_rows(case: Case, figures: ResponseFigures) -> list[dict[str, Any]]:
    """Per group of reps (``response.segments``): the table's rows.

    Payouts static, under response and the baseline's; each metric's attainment change;
    with values, the value change and net value.
    """
    found = figures.segments
    if found is None:
        return []
    labels = {k: case.metric(k).label or k for k in case.metric_ids}
    rows = []
    for name, g in found["groups"].items():
        moves = ", ".join(f"{labels[k]} {v * 100:+.1f} pp"
                          for k, v in g["attainment_change"].items() if v != 0.0) or "none"
        value = (sum(o["value_change"] for o in g["outcomes"].values())
                 if "outcomes" in g else None)
        rows.append({"group": name, "reps": f"{g['reps']:,}",
                     "static": money(g["static_expected_payout"]),
                     "under": money(g["expected_payout"]),
                     "baseline": money(g["baseline_expected_payout"]),
                     "attainment": moves, "value": money(value),
                     "net": money(g.get("net_value"))})
    return rows


def band_chart(case: Case, band: Sequence[ResponseFigures]) -> dict[str, Any]:
    """Expected payout (and net value, with values) against the elasticity."""
    return _chart(CHART_ID, f"Expected payout {money_per(case)} against the elasticity",
                  lambda ax: _draw_band(ax, case, band), size=(6.4, 3.6))


def _draw_band(ax: Axes, case: Case, band: Sequence[ResponseFigures]) -> None:
    xs = [float(f.elasticity or 0.0) for f in band]
    ax.plot(xs, [f.evaluation.expected_cost for f in band], marker="o", color=PALETTE[0],
            linewidth=1.8, label="expected payout")
    if band[0].net_value is not None:
        ax.plot(xs, [f.net_value for f in band], marker="s", color=PALETTE[2], linewidth=1.8,
                label="net value")
    ax.axhline(band[0].baseline_cost, color="#6b7280", linewidth=1.2, linestyle="--",
               label=f"baseline on the history: {compact_money(band[0].baseline_cost)}")
    cap = case.spec.budget.expected_cap
    if cap is not None:
        ax.axhline(cap, color=LIMIT_COLOUR, linewidth=1.4,
                   label=f"expected cap: {compact_money(cap)}")
    ax.set_xlabel("elasticity (every metric)")
    ax.set_ylabel(f"{case.spec.case.currency} {money_per(case)}")
    _money_axis(ax, "y")


def response_context(case: Case, figures: Sequence[ResponseFigures]) -> dict[str, Any]:
    """The report's response section.

    Parameters
    ----------
    case : Case
        A case with ``[response]``.
    figures : sequence of ResponseFigures
        The plan under the case's elasticities first, then under each elasticity of a
        band (``--elasticity``), if any.

    Returns
    -------
    dict
        ``baseline``, ``lines`` (in words), ``columns``, ``rows`` and ``chart`` (None
        without a band).
    """
    band = list(figures[1:])
    return {"baseline": figures[0].baseline,
            "lines": response_lines(case, figures[0], segments=False),
            "columns": [STATIC, *(_label(f) for f in figures)],
            "rows": response_rows(case, figures),
            "chart": band_chart(case, band) if band else None,
            "has_net": figures[0].net_value is not None,
            "segment_column": (figures[0].segments or {}).get("column"),
            "segments": segment_rows(case, figures[0]),
            "has_cap": case.spec.budget.expected_cap is not None}
