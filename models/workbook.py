"""The plan as a workbook for finance: plan, rep rates, evaluation, segments, scenarios.

Sheets are written with openpyxl in write-only mode (a case of 100,000 reps has
hundreds of thousands of rep-rate rows). Numbers are written as numbers, exactly as
computed, with number formats for currency and percentages; every text cell and
header goes through :func:`compplan.models.safe.neutralise`, so no case text can
become a formula. Each sheet's header row is frozen.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from compplan import __version__
from compplan.models.case import Case
from compplan.models.output import rep_rates, write_atomic
from compplan.models.report import Outcome, scenario_labels
from compplan.models.safe import neutralise
from compplan.optimizer.understand import OF_BEST_LABEL, PER_STEP, TOWARD_LABEL, Readings

#: Number formats: money in whole units, rates to four decimals, shares as percentages.
MONEY = "#,##0"
RATE = "#,##0.0000"
SHARE = "0.0%"
POINTS = "+0.0%;-0.0%;0.0%"
MULTIPLE = '0.00"x"'
NUMBER = "0.0000"
QUANTITY = "#,##0.00"
#: Data rows per sheet: Excel's limit less the header.
MAX_ROWS = 1_048_575
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="E5E7EB")
#: A row of the Evaluation sheet and the number format of its figures.
Row = tuple[tuple[Any, ...], str | None]
_UNIT_FORMAT = {"currency": MONEY, "share of target": SHARE, "x target": MULTIPLE,
                "x mean": MULTIPLE}


@dataclass(frozen=True)
class Column:
    """A column of a sheet: its header, its number format and a width in characters."""

    header: str
    format: str | None = None
    width: float | None = None


def _text(value: str) -> str:
    # openpyxl refuses control characters that XML cannot hold; drop them, then neutralise.
    return str(neutralise(ILLEGAL_CHARACTERS_RE.sub("", value)))


def _value(value: Any) -> Any:
    """A cell value: text neutralised, numpy numbers as Python's, NaN and infinity empty."""
    if value is None:
        return None
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return _text(str(value))


def _sheet(book: Workbook, title: str, columns: Sequence[Column],
           rows: Iterable[Sequence[Any]], formats: Iterable[str | None] | None = None) -> int:
    """Add a sheet: a frozen, bold header row, then ``rows`` with the columns' formats.

    ``formats`` gives, per row, a format for its numbers overriding the columns' (the
    Evaluation sheet mixes money and shares in one column).

    Returns
    -------
    int
        The number of data rows written (at most :data:`MAX_ROWS`).
    """
    ws: WriteOnlyWorksheet = book.create_sheet(title)
    ws.freeze_panes = "A2"
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width or max(
            10.0, min(len(col.header) + 2.0, 40.0))
    ws.append([_header(ws, c.header) for c in columns])
    row_formats = iter(formats) if formats is not None else None
    count = 0
    for row in rows:
        if count == MAX_ROWS:
            break
        override = next(row_formats) if row_formats is not None else None
        ws.append([_cell(ws, v, override or c.format) for v, c in zip(row, columns, strict=True)])
        count += 1
    return count


def _header(ws: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=_text(text))
    cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
    return cell


def _cell(ws: WriteOnlyWorksheet, value: Any, number_format: str | None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=_value(value))
    if number_format is not None and isinstance(cell.value, int | float) \
            and not isinstance(cell.value, bool):
        cell.number_format = number_format
    return cell


# ----------------------------------------------------------------------------- sheets

def _plan_sheet(book: Workbook, result: Outcome) -> None:
    """Per metric: weight, curve breakpoints (threshold, 100 %, cap) and rates."""
    columns = [Column("metric", width=22), Column("label", width=28),
               Column("weight", SHARE), Column("pays from (threshold)", SHARE),
               Column("pay at threshold", SHARE), Column("pay at 100%", SHARE),
               Column("stops rising at (cap)", SHARE), Column("pay at cap", SHARE),
               Column("base rate", NUMBER), Column("accelerator rate", NUMBER),
               Column("accelerator multiple", MULTIPLE), Column("alignment", NUMBER)]
    ev = result.evaluation
    rows = [(m.id, m.label, m.weight, m.threshold, float(m.payout(m.threshold)),
             float(m.payout(1.0)), m.cap, float(m.payout(m.cap)), m.base_rate,
             m.accelerator_rate, m.accelerator_multiple, ev.alignment_by_metric.get(m.id, 0.0))
            for m in result.plan.metrics]
    _sheet(book, "Plan", columns, rows)


def _rates_sheet(book: Workbook, case: Case, result: Outcome) -> int | None:
    rates = rep_rates(case, result.plan)
    if rates is None:
        return None
    cur = case.spec.case.currency
    columns = [Column("rep_id", width=16), Column("metric", width=22),
               Column("quota", QUANTITY, 14), Column(f"base rate per unit ({cur})", RATE, 22),
               Column(f"accelerator rate per unit ({cur})", RATE, 28)]
    _sheet(book, "Rep rates", columns, rates.itertuples(index=False, name=None))
    return len(rates)


def evaluation_rows(case: Case, result: Outcome,
                    readings: Readings | None = None) -> list[Row]:
    """The Evaluation sheet's rows (section, figure, value, limit, slack, met), with formats.

    Parameters
    ----------
    case : Case
        The case.
    result : Outcome
        The plan and its evaluation.
    readings : Readings, optional
        The alignment's readings (optimizer.understand), in the words of every output.

    Returns
    -------
    list of (tuple, str or None)
        Each row's cells and the number format of its value, limit and slack.
    """
    ev, cur = result.evaluation, case.spec.case.currency
    rows: list[Row] = [
        (("alignment", "expected alignment", ev.alignment, None, None, None), NUMBER)]
    for g, part in ev.alignment_by_goal.items():
        rows.append((("alignment", f"from goal {g}", part, None, None, None), NUMBER))
        rows.append((("alignment", f"share from goal {g}", ev.alignment_share_by_goal.get(g),
                      None, None, None), SHARE))
    for m in result.plan.metrics:
        rows.append((("alignment", f"from metric {m.label}", ev.alignment_by_metric.get(m.id),
                      None, None, None), NUMBER))
    if readings is not None:
        rows += [(("alignment", OF_BEST_LABEL, readings.of_best, None, None, None), SHARE),
                 (("alignment", TOWARD_LABEL, readings.toward_strategy, None, None, None), SHARE)]
        rows += [(("alignment", f"{PER_STEP} toward {g} ({cur})", v, None, None, None), MONEY)
                 for g, v in readings.per_goal.items()]
    total = f"total payout per period ({cur})"
    rows += [((total, "expected total payout", ev.expected_cost, None, None, None), MONEY),
             ((total, "P10", ev.total_p10, None, None, None), MONEY),
             ((total, "P50", ev.total_p50, None, None, None), MONEY),
             ((total, "P90", ev.total_p90, None, None, None), MONEY),
             ((total, f"CVaR {ev.total_cvar_level:g}, mean of the worst "
                      f"{1 - ev.total_cvar_level:.0%}", ev.total_cvar, None, None, None), MONEY)]
    if ev.cost_of_sales is not None or ev.expected_revenue is not None:
        rows += [((total, "expected revenue", ev.expected_revenue, None, None, None), MONEY),
                 ((total, "cost of sales (payout / revenue)", ev.cost_of_sales, None, None,
                   None), SHARE)]
    rows.append(((total, "most any rep can earn (x target)", ev.max_payout_multiple, None,
                  None, None), MULTIPLE))
    return rows + _rep_rows(result) + _check_rows(result)


def _rep_rows(result: Outcome) -> list[Row]:
    ev = result.evaluation
    section = "reps: expected payout / own target"
    rows: list[Row] = [((section, "mean", ev.mean_payout_share, None, None, None), SHARE)]
    rows += [((section, q.upper(), v, None, None, None), SHARE)
             for q, v in ev.rep_share_percentiles.items()]
    rows += [((section, "share of reps at or above target", ev.share_reps_at_or_above_target,
               None, None, None), SHARE),
             ((section, f"mean of the top {ev.top_share:.0%}", ev.top_tail_mean, None, None,
               None), SHARE),
             ((section, f"mean of the bottom {ev.bottom_share:.0%}", ev.bottom_tail_mean, None,
               None, None), SHARE)]
    if ev.max_segment_gap is not None:
        rows.append(((f"segments by {ev.segment_column}", "largest gap (absolute)",
                      ev.max_segment_gap, None, None, None), POINTS))
    return rows


def _check_rows(result: Outcome) -> list[Row]:
    ev = result.evaluation
    rows: list[Row] = [
        (("guardrails", g.setting, g.value, g.limit, g.slack, "yes" if g.ok else "NO"),
         _UNIT_FORMAT.get(g.unit, NUMBER)) for g in ev.guardrails]
    rows += [(("design rules", r.message, r.value, r.limit, r.slack, "yes" if r.ok else "NO"),
              None) for r in ev.design_rules]
    return rows


def _evaluation_sheet(book: Workbook, case: Case, result: Outcome,
                      readings: Readings | None) -> None:
    rows = evaluation_rows(case, result, readings)
    columns = [Column("section", width=34), Column("figure", width=48), Column("value", None, 16),
               Column("limit", None, 16), Column("slack", None, 16), Column("met", width=6)]
    _sheet(book, "Evaluation", columns, [r for r, _ in rows], [f for _, f in rows])


def _segments_sheet(book: Workbook, case: Case, result: Outcome) -> None:
    ev, cur = result.evaluation, case.spec.case.currency
    columns = [Column(ev.segment_column or "segment", width=22), Column("reps", "#,##0"),
               Column(f"target incentive ({cur})", MONEY, 20),
               Column(f"expected payout ({cur})", MONEY, 20),
               Column("share of target", SHARE, 16), Column("gap to all reps", POINTS, 16)]
    rows = [(s.group, s.reps, s.target_incentive, s.expected_payout, s.share_of_target, s.gap)
            for s in ev.segments]
    _sheet(book, "Segments", columns, rows)


def _scenarios_sheet(book: Workbook, case: Case, result: Outcome) -> None:
    cur = case.spec.case.currency
    ti = float(case.target_incentive.sum())
    labels = scenario_labels(case, len(result.totals))
    columns = [Column("scenario", width=16), Column(f"total payout ({cur})", MONEY, 20),
               Column("share of total target incentive", SHARE, 30)]
    _sheet(book, "Scenarios", columns,
           ((s, float(t), float(t) / ti) for s, t in zip(labels, result.totals, strict=True)))


def _batch_format(column: str) -> str | None:
    if column in ("expected_cost", "cvar"):
        return MONEY
    if column == "alignment":
        return NUMBER
    if column == "max_parity_gap" or column.startswith("weight."):
        return SHARE
    if column.startswith("rate."):
        return NUMBER
    return None


def _candidates_sheet(book: Workbook, batch: pd.DataFrame) -> None:
    columns = [Column(str(c), _batch_format(str(c)), 24 if c in ("name", "reason", "metrics")
                      else None) for c in batch.columns]
    _sheet(book, "Candidates", columns, batch.itertuples(index=False, name=None))


def _about_sheet(book: Workbook, case: Case, source: str, result: Outcome,
                 batch_source: str | None, notes: list[str]) -> None:
    rows = [("case", case.name), ("plan", source), ("currency", case.spec.case.currency),
            ("scenarios", f"{len(result.totals)} ({case.spec.scenarios.mode})"),
            ("reps", len(result.shares)), ("made by", f"compplan {__version__}")]
    if batch_source is not None:
        rows.append(("batch", batch_source))
    rows += [("note", n) for n in notes]
    _sheet(book, "About", [Column("item", width=14), Column("value", width=60)], rows)


# ----------------------------------------------------------------------------- the book

def build_workbook(case: Case, result: Outcome, *, source: str,
                   batch: pd.DataFrame | None = None,
                   batch_source: str | None = None,
                   readings: Readings | None = None) -> Workbook:
    """The workbook of a plan.

    Parameters
    ----------
    case : Case
        The case.
    result : Outcome
        The plan with its evaluation and scenario totals
        (:func:`compplan.models.report.outcome`).
    source : str
        Where the plan comes from, as given on the command line.
    batch : pandas.DataFrame, optional
        Results of ``compplan batch``: adds the Candidates sheet.
    batch_source : str, optional
        The batch folder, as given.
    readings : Readings, optional
        The alignment's readings, shown under the alignment on the Evaluation sheet.

    Returns
    -------
    openpyxl.Workbook
        Sheets Plan, Rep rates (with ``quotas.csv``), Evaluation, Segments (with a
        grouping column), Scenarios, Candidates (with a batch) and About.
    """
    book = Workbook(write_only=True)
    notes = []
    _plan_sheet(book, result)
    count = _rates_sheet(book, case, result)
    if count is not None and count > MAX_ROWS:
        notes.append(f"Rep rates holds the first {MAX_ROWS:,} of {count:,} rows "
                     "(the most a sheet can hold); rep_rates.csv of compplan optimise has all")
    _evaluation_sheet(book, case, result, readings)
    if result.evaluation.segments:
        _segments_sheet(book, case, result)
    _scenarios_sheet(book, case, result)
    if batch is not None:
        _candidates_sheet(book, batch)
    _about_sheet(book, case, source, result, batch_source, notes)
    return book


def write_workbook(path: Path, book: Workbook) -> None:
    """Save ``book`` to ``path`` through a temporary file, so no half-written file is left."""
    buffer = io.BytesIO()
    book.save(buffer)
    write_atomic(path, buffer.getvalue())
