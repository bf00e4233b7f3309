"""The pulse in the plan report: the year so far against the plan, the re-tune, the drift.

A section of ``compplan report CASE PLAN --actuals FILE``, drawn from the pulse document
of :func:`compplan.optimizer.pulse.pulse_check` (``pulse.json``, MODEL.md section 8):
the cumulative payout by period against the expected path with its P10-P90 band and the
forecast, the guardrails now and projected, the re-tune beside the plan in force, and
the drift tables. The chart's figures are also given as a table, for reading and for
screen readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from compplan.models import fmt
from compplan.render.pulse import (
    drift_cells,
    guardrail_cells,
    headline,
    retune_rows,
    segment_cells,
)
from compplan.render.report import LIMIT_COLOUR, PALETTE, _chart, _money_axis

if TYPE_CHECKING:
    from matplotlib.axes import Axes

CHART_ID = "chart-pulse"
ACTUAL_COLOUR = "#D55E00"


def pulse_path(doc: dict[str, Any]) -> dict[str, np.ndarray]:
    """Cumulative payout at the end of each period ``j = 0 .. N`` of the plan year.

    Returns
    -------
    dict of str to numpy.ndarray
        ``expected``, ``p10``, ``p90`` (N + 1,): ``j`` periods like the plan's expected
        (P10, P90) period; ``paid`` (k + 1,): the actual cumulative payout;
        ``forecast``, ``forecast_p10``, ``forecast_p90`` (N + 1,): paid to date, then
        the expected (P10, P90) period for each remaining one (NaN before period k);
        ``retune`` likewise at the re-tune's expected payout when it changes the plan.
    """
    k, n = doc["periods_elapsed"], doc["periods_in_year"]
    j = np.arange(n + 1, dtype=float)
    per = doc["expected_per_period"]
    band = doc["band_per_period"]
    paid = np.concatenate([[0.0], np.cumsum(doc["paid_by_period"])])
    ahead = np.where(j >= k, j - k, np.nan)
    path = {"expected": per * j, "p10": band["p10"] * j, "p90": band["p90"] * j, "paid": paid,
            "forecast": paid[-1] + per * ahead,
            "forecast_p10": paid[-1] + band["p10"] * ahead,
            "forecast_p90": paid[-1] + band["p90"] * ahead}
    rt = doc.get("retune")
    if rt is not None and not rt["unchanged"]:
        # The re-tune's expected payout is in the money unit: one period is 1/N of it per year.
        unit = 1.0 / n if doc["money"] == "per year" else 1.0
        path["retune"] = paid[-1] + rt["expected_cost"] * unit * ahead
    return path


def pulse_chart(doc: dict[str, Any]) -> dict[str, Any]:
    """The cumulative payout by period against the expected path, as an inline SVG."""
    return _chart(CHART_ID, "Cumulative payout: the year so far against the plan",
                  lambda ax: _draw_pulse(ax, doc), (7.2, 3.8))


def _draw_pulse(ax: Axes, doc: dict[str, Any]) -> None:
    path = pulse_path(doc)
    k, n = doc["periods_elapsed"], doc["periods_in_year"]
    j = np.arange(n + 1)
    plan = PALETTE[0]
    ax.fill_between(j, path["p10"], path["p90"], color=plan, alpha=0.15, linewidth=0,
                    label="expected path, P10 to P90")
    ax.plot(j, path["expected"], color=plan, linewidth=1.6, label="expected path")
    ahead = j >= k
    ax.fill_between(j[ahead], path["forecast_p10"][ahead], path["forecast_p90"][ahead],
                    color=ACTUAL_COLOUR, alpha=0.12, linewidth=0, label="forecast, P10 to P90")
    ax.plot(j[ahead], path["forecast"][ahead], color=ACTUAL_COLOUR, linewidth=1.6,
            linestyle="--", label="forecast, plan unchanged")
    if "retune" in path:
        ax.plot(j[ahead], path["retune"][ahead], color=PALETTE[2], linewidth=1.8,
                linestyle=":", label="forecast with the re-tune")
    ax.plot(j[:k + 1], path["paid"], color=ACTUAL_COLOUR, linewidth=2.2, marker="o",
            markersize=4, label="paid to date")
    if doc.get("year_budget") is not None:
        ax.axhline(doc["year_budget"], color=LIMIT_COLOUR, linewidth=1.4,
                   label=f"year's budget: {fmt.compact_money(doc['year_budget'])}")
    ax.axvline(k, color="#9ca3af", linewidth=0.9, linestyle=":")
    ax.set_xlim(0, n)
    ax.set_ylim(bottom=0.0)
    ax.set_xticks(j)
    ax.set_xlabel("periods of the plan year")
    ax.set_ylabel(f"cumulative payout ({doc['currency']})")
    _money_axis(ax, "y")


def path_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
    """The chart as a table: one row per period of the year, money unit of the pulse."""
    path = pulse_path(doc)
    k = doc["periods_elapsed"]
    labels = list(doc["periods"])
    rows = []
    for j in range(1, doc["periods_in_year"] + 1):
        actual = j <= k
        rows.append({
            "period": f"{j} ({labels[j - 1]})" if actual else str(j),
            "paid": _money(path["paid"][j]) if actual else "",
            "forecast": "" if actual else _money(path["forecast"][j]),
            "band": "" if actual else (f"{_money(path['forecast_p10'][j])} to "
                                       f"{_money(path['forecast_p90'][j])}"),
            "retune": _money(path["retune"][j]) if "retune" in path and not actual else "",
            "expected": _money(path["expected"][j]),
            "expected_band": f"{_money(path['p10'][j])} to {_money(path['p90'][j])}",
        })
    return rows


def _money(value: float) -> str:
    return f"{value:,.0f}"


def pulse_context(doc: dict[str, Any], source: str) -> dict[str, Any]:
    """Everything the report's pulse section shows, formatted, its chart drawn.

    Parameters
    ----------
    doc : dict
        The pulse document (``pulse.json``).
    source : str
        The actuals file, as given on the command line.

    Returns
    -------
    dict
        For the ``report_pulse.html.j2`` template.
    """
    rt = doc.get("retune")
    seg = doc["drift"]["segments"]
    return {
        "source": source, "money": doc["money"], "currency": doc["currency"],
        "elapsed": doc["periods_elapsed"], "periods": doc["periods_in_year"],
        "headline": headline(doc), "chart": pulse_chart(doc), "path": path_rows(doc),
        "has_retune_path": rt is not None and not rt["unchanged"],
        "guardrails": guardrail_cells(doc),
        "retune": retune_rows(doc),
        "retune_change": None if rt is None else rt["change"],
        "retune_unchanged": rt is not None and rt["unchanged"],
        "retune_note": doc.get("retune_note") or "",
        "drift": drift_cells(doc),
        "segment_column": seg["column"] if seg else None,
        "segment_metrics": [m["id"] for m in doc["plan"]],
        "segments": segment_cells(doc),
    }
