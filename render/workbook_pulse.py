"""The Pulse sheet of ``compplan export --xlsx --actuals``: the pulse check for finance.

One sheet of blocks, each with its own bold header row: the figures (paid to date,
expected, forecast with its P10-P90 band, the remaining cap), the guardrails now and
projected, the re-tune beside the plan in force, the cumulative payout by period
against the expected path, and the drift by metric and by segment. Every figure is a
number with its format (money in the pulse's unit, shares as percentages); case text is
neutralised as everywhere in the workbook.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from compplan.render.report_pulse import pulse_path
from compplan.render.workbook import (
    MONEY,
    MULTIPLE,
    NUMBER,
    QUANTITY,
    SHARE,
    _cell,
    _header,
    _print_setup,
)

TITLE = "Pulse"
_WIDTHS = [34.0, 16.0, 16.0, 16.0, 16.0, 16.0, 16.0, 16.0, 16.0, 16.0, 16.0, 16.0, 16.0, 40.0]
#: Number format of a guardrail's figures by its unit (pulse.json's ``unit``).
_UNIT = {"currency": MONEY, "share of target": SHARE, "points of target": SHARE,
         "x target": MULTIPLE, "x mean": MULTIPLE}


def pulse_sheet(book: Workbook, doc: dict[str, Any]) -> None:
    """Add the Pulse sheet for the pulse document ``doc`` (``pulse.json``)."""
    ws: WriteOnlyWorksheet = book.create_sheet(TITLE)
    _print_setup(ws)
    for i, width in enumerate(_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    blocks = [_figures(doc), _guardrails(doc), _retune(doc), _path(doc), _drift(doc),
              _segments(doc)]
    first = True
    for block in blocks:
        if block is None:
            continue
        headers, rows = block
        if not first:
            ws.append([])
        first = False
        ws.append([_header(ws, h) for h in headers])
        for row in rows:
            ws.append([_cell(ws, value, form) for value, form in row])


Block = tuple[Sequence[str], list[list[tuple[Any, str | None]]]]


def _figures(doc: dict[str, Any]) -> Block:
    cur, money = doc["currency"], doc["money"]
    unit = f"{cur} {money}"
    # Amounts paid (or expected) over the elapsed periods, and the year's total: money,
    # not a rate per year or per period (issue 19, item 4).
    paid, year = f"{cur}, paid over the elapsed periods", f"{cur}, the whole year"
    band = doc["forecast_band"]
    expected = doc["expected_to_date"]
    rows: list[list[tuple[Any, str | None]]] = [
        [("periods elapsed (k)", None), (doc["periods_elapsed"], "0"), ("", None)],
        [("periods in the plan year (N)", None), (doc["periods_in_year"], "0"), ("", None)],
        [("paid to date (A)", None), (doc["paid_to_date"], MONEY), (paid, None)],
        [("expected to date", None), (expected, MONEY), (paid, None)],
        [("paid / expected to date", None),
         (doc["paid_to_date"] / expected if expected else None, SHARE), ("", None)],
        [("scenarios paying no more than the average elapsed period", None),
         (doc["paid_percentile"] / 100.0, SHARE), ("", None)],
        [("forecast of the year, plan unchanged", None), (doc["forecast_year_total"], MONEY),
         (year, None)],
        [("forecast P10", None), (band["p10"], MONEY), (year, None)],
        [("forecast P90", None), (band["p90"], MONEY), (year, None)],
        [("budget of the year", None), (doc.get("year_budget"), MONEY),
         (year if doc.get("year_budget") is not None else "no [budget] expected_cap", None)],
        [("expected payout allowed per remaining period (B_rem)", None),
         (doc["remaining_cap_per_period"], MONEY),
         (f"{unit}" + (" (a yearly rate)" if money == "per year" else ""), None)],
    ]
    return ["figure", "value", "unit"], rows


def _guardrails(doc: dict[str, Any]) -> Block | None:
    if not doc["guardrails"]:
        return None
    rows = []
    for g in doc["guardrails"]:
        form = _UNIT.get(g["unit"], NUMBER)
        rows.append([(g["setting"], None), (g["now"], form), (g["limit_now"], form),
                     (g["projected"], form), (g["limit"], form),
                     ("" if g["now"] is None else "yes" if g["ok_now"] else "NO", None),
                     ("yes" if g["ok_projected"] else "NO", None),
                     (g.get("year"), form), (g.get("year_retune"), form),
                     (g.get("verdict", ""), None)])
    return ["guardrail", "now", "limit now", "projected", "limit", "met now",
            "met projected", "the year, plan unchanged", "the year, re-tuned",
            "the year"], rows


def _retune(doc: dict[str, Any]) -> Block:
    rt = doc["retune"]
    if rt is None:
        return ["re-tune", "note"], [[("none", None), (doc.get("retune_note") or "", None)]]
    rows: list[list[tuple[Any, str | None]]] = []
    for m in rt["metrics"]:
        rows.append([(f"{m['label']} weight", None), (m["weight_before"], SHARE),
                     (m["weight"], SHARE), (_diff(m["weight"], m["weight_before"]), SHARE)])
        rows.append([(f"{m['label']} accelerator rate", None),
                     (m["accelerator_rate_before"], NUMBER), (m["accelerator_rate"], NUMBER),
                     (_diff(m["accelerator_rate"], m["accelerator_rate_before"]), NUMBER)])
    rows += [
        [("expected alignment", None), (rt["alignment_before"], NUMBER),
         (rt["alignment"], NUMBER), (_diff(rt["alignment"], rt["alignment_before"]), NUMBER)],
        [(f"expected payout {doc['money']} ({doc['currency']})", None),
         (rt["expected_cost_before"], MONEY), (rt["expected_cost"], MONEY),
         (_diff(rt["expected_cost"], rt["expected_cost_before"]), MONEY)],
        [("least change (sum of absolute changes)", None), (None, None),
         (rt["change"], NUMBER), ("unchanged" if rt["unchanged"] else "", None)],
    ]
    return ["re-tune", "plan in force", "re-tune", "change"], rows


def _diff(after: float, before: float) -> float:
    """``after - before``, zero when it is rounding (a kept weight shows no change)."""
    change = after - before
    return 0.0 if abs(change) <= 1e-12 * max(1.0, abs(before)) else change


def _path(doc: dict[str, Any]) -> Block:
    path = pulse_path(doc)
    k, labels = doc["periods_elapsed"], doc["periods"]
    retune = "retune" in path
    rows = []
    for j in range(1, doc["periods_in_year"] + 1):
        actual = j <= k
        row: list[tuple[Any, str | None]] = [
            (f"{j} ({labels[j - 1]})" if actual else str(j), None),
            (path["paid"][j] if actual else None, MONEY),
            (None if actual else path["forecast"][j], MONEY),
            (None if actual else path["forecast_p10"][j], MONEY),
            (None if actual else path["forecast_p90"][j], MONEY)]
        if retune:
            row.append((None if actual else path["retune"][j], MONEY))
        row += [(path["expected"][j], MONEY), (path["p10"][j], MONEY), (path["p90"][j], MONEY)]
        rows.append(row)
    headers = ["period (cumulative payout)", "paid to date", "forecast", "forecast P10",
               "forecast P90", *(["forecast, re-tune"] if retune else []), "expected path",
               "expected P10", "expected P90"]
    return headers, rows


def _drift(doc: dict[str, Any]) -> Block:
    rows = []
    for m in doc["drift"]["metrics"]:
        share, hist = m["share_past"], m["history_share_past"]
        cal = m.get("calibration")
        note = "" if cal is None else ("ok" if cal["ok"] else "; ".join(cal["notes"]))
        rows.append([(m["id"], None), ("yes" if m["in_plan"] else "", None),
                     (m["mean"], QUANTITY), (m["history_mean"], QUANTITY), (m["shift"], QUANTITY),
                     *((v, SHARE) for p in ("threshold", "target", "cap")
                       for v in (share[p], hist[p])),
                     (m["reps_pinned_at_cap"], "0"), (m["reps_below_threshold"], "0"),
                     (note, None)])
    return ["drift: metric", "in plan", "mean", "history mean", "shift (spreads)",
            "past threshold", "history", "past target", "history", "past cap", "history",
            "pinned at cap", "below threshold", "calibration"], rows


def _segments(doc: dict[str, Any]) -> Block | None:
    seg = doc["drift"]["segments"]
    if not seg:
        return None
    ids = [m["id"] for m in doc["plan"]]
    rows = [[(g["segment"], None), (g["reps"], "0"), (g["paid_to_date"], MONEY),
             (g["expected_to_date"], MONEY), (g["ratio"], SHARE),
             *((g["shift"][k], QUANTITY) for k in ids)] for g in seg["groups"]]
    return [f"drift by {seg['column']}", "reps", "paid to date", "expected to date",
            "paid / expected", *(f"{k} shift" for k in ids)], rows
