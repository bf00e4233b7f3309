"""The plan as a live workbook for finance: change a weight and watch the cost move.

The plan's parameters (weight, threshold, cap and accelerator rate of each metric) sit
in named cells of the Plan sheet (``w_<metric>``, ``theta_<metric>``, ``cap_<metric>``,
``u_<metric>``, and the base rate ``base_<metric>`` computed from them). Formulas
recompute from them: the Calculator (a rep's payout from her attainment), each rep's
rates, the total payout of every scenario and the expected cost beside today's plan
(Current vs designed). The Evaluation sheet keeps compplan's own figures, as computed.

Sheets are written with openpyxl in write-only mode (a case of 100,000 reps has
hundreds of thousands of rep-rate rows). Numbers are written as numbers, exactly as
computed, with number formats for currency and percentages; every text cell and
header goes through :func:`compplan.render.safe.neutralise`, so no case text can
become a formula: formulas are built only from the workbook's own names and cell
references. Each sheet's header row is frozen and repeated on every printed page;
sheets print landscape, one page wide.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from compplan import __version__
from compplan.models.case import Case
from compplan.models.money import annual_note, money_per
from compplan.models.output import rep_rates, write_atomic
from compplan.models.plan import how_it_pays, on_case_curve
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.evaluate import CHECK_TOLERANCE
from compplan.optimizer.understand import OF_BEST_LABEL, STEP_LABEL, TOWARD_LABEL, Readings
from compplan.render.report import Outcome, scenario_labels
from compplan.render.safe import neutralise

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
#: The number format of a guardrail's figures by its unit (models/guardrails.py).
UNIT_FORMAT = {"currency": MONEY, "share of target": SHARE, "points of target": SHARE,
               "x target": MULTIPLE, "x mean": MULTIPLE}
_UNIT_FORMAT = UNIT_FORMAT


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
    if isinstance(value, Formula):
        return str(value)
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
    _print_setup(ws)
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


def _print_setup(ws: WriteOnlyWorksheet) -> None:
    """Landscape, one page wide (as many pages down as needed), the header on each page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


class Formula(str):
    """A formula the workbook builds from its own names and references (never case text)."""


class Input(float):
    """A number finance may change (a plan parameter, an attainment): shaded."""


_INPUT_FILL = PatternFill("solid", fgColor="FFF4CC")


def _header(ws: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=_text(text))
    cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
    return cell


def _cell(ws: WriteOnlyWorksheet, value: Any, number_format: str | None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=_value(value))
    number = isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
    if number_format is not None and (isinstance(value, Formula) or number):
        cell.number_format = number_format
    if isinstance(value, Input):
        cell.fill = _INPUT_FILL
    return cell


# ----------------------------------------------------------------------------- sheets

@dataclass(frozen=True)
class Names:
    """The defined names of one metric's parameters on the Plan sheet."""

    weight: str
    threshold: str
    cap: str
    base_rate: str
    accelerator_rate: str


def metric_names(ids: Sequence[str]) -> dict[str, Names]:
    """Defined names per metric id: letters, digits and ``_`` only, distinct."""
    names: dict[str, Names] = {}
    taken: set[str] = set()
    for i, metric in enumerate(ids):
        stem = re.sub(r"[^A-Za-z0-9_]", "_", metric)[:60] or "m"
        if stem.lower() in taken:
            stem = f"{stem}_{i + 1}"
        taken.add(stem.lower())
        names[metric] = Names(*(f"{p}_{stem}" for p in ("w", "theta", "cap", "base", "u")))
    return names


def _name(book: Workbook, name: str, sheet: str, column: str, row: int) -> None:
    book.defined_names[name] = DefinedName(name, attr_text=f"'{sheet}'!${column}${row}")


#: The Plan sheet's flag of an accelerator multiple below 1 (issue 19, item 4).
SLOWER = ("accelerator multiple below 1: a point above 100% pays less than a point "
          "below")


def _plan_sheet(book: Workbook, case: Case, result: Outcome, names: dict[str, Names]) -> None:
    """Per metric: the parameters in named cells; breakpoints and rates by formula.

    A metric of a plan as written with a curve or a gate is not set by these parameters:
    its row holds values (breakpoints and rates are then averages) and says how it pays.
    """
    columns = [Column("metric", width=22), Column("label", width=28),
               Column("weight", SHARE), Column("pays from (threshold)", SHARE),
               Column("pay at threshold", SHARE), Column("pay at 100%", SHARE),
               Column("stops rising at (cap)", SHARE), Column("pay at cap", SHARE),
               Column("base rate", NUMBER), Column("accelerator rate", NUMBER),
               Column("accelerator multiple", MULTIPLE), Column("alignment", NUMBER),
               Column("as written", width=60), Column("check", width=60)]
    ev = result.evaluation
    labels = {k: case.metric(k).label or k for k in case.metric_ids}
    rows: list[tuple[Any, ...]] = []
    for r, m in enumerate(result.plan.metrics, start=2):
        n = names[m.id]
        for name, column in ((n.weight, "C"), (n.threshold, "D"), (n.cap, "G"),
                             (n.base_rate, "I"), (n.accelerator_rate, "J")):
            _name(book, name, "Plan", column, r)
        alignment = ev.alignment_by_metric.get(m.id, 0.0)
        if m.written:
            rows.append((m.id, m.label, m.weight, m.threshold, float(m.payout(m.threshold)),
                         float(m.payout(1.0)), m.cap, float(m.payout(m.cap)), m.base_rate,
                         m.accelerator_rate, m.accelerator_multiple, alignment,
                         how_it_pays(m, labels),
                         SLOWER if 0 < m.accelerator_multiple < 1.0 - 1e-9 else ""))
            continue
        rows.append((m.id, m.label, Input(m.weight), Input(m.threshold), 0.0,
                     Formula(f"=C{r}"), Input(m.cap), Formula(f"=C{r}+J{r}*(G{r}-1)"),
                     Formula(f"=C{r}/(1-D{r})"), Input(m.accelerator_rate),
                     Formula(f"=IF(C{r}>0,J{r}*(1-D{r})/C{r},0)"), alignment,
                     "" if on_case_curve(case, m) else "its own threshold or cap",
                     # Live: flags a multiple below 1 typed in after export too.
                     Formula(f'=IF(AND(C{r}>0,K{r}<1-1E-9),"{SLOWER}","")')))
    _sheet(book, "Plan", columns, rows)


def curve_formula(curve: Sequence[tuple[float, float]], attainment: str) -> str:
    """A curve's pay at the attainment in a cell (MODEL.md section 9), as a formula body.

    Nothing below the first point, linear between points, flat after the last; two
    points at one attainment are a step (the later holds there).
    """
    x = attainment
    (x0, y0), terms = curve[0], []
    terms.append(f"IF({x}>={x0!r},{y0!r},0)")
    for (a, ya), (b, yb) in pairwise(curve):
        if b > a:
            terms.append(f"{(yb - ya) / (b - a)!r}*MIN(MAX({x}-{a!r},0),{b - a!r})")
        elif yb != ya:
            terms.append(f"IF({x}>={a!r},{yb - ya!r},0)")
    return "+".join(terms)


def payout_formula(n: Names, attainment: str) -> Formula:
    """A rep's payout on one metric, as a share of target, at the attainment in a cell."""
    x = attainment
    return Formula(f"={n.weight}*MIN(MAX({x}-{n.threshold},0),1-{n.threshold})"
                   f"/(1-{n.threshold})+{n.accelerator_rate}*MIN(MAX({x}-1,0),{n.cap}-1)")


def _calculator_sheet(book: Workbook, case: Case, result: Outcome,
                      names: dict[str, Names]) -> None:
    """A rep's payout from her attainment on every metric: type attainment, read pay."""
    cur = case.spec.case.currency
    metrics = result.plan.metrics
    ti_row = len(metrics) + 3
    row_of = {m.id: r for r, m in enumerate(metrics, start=2)}
    columns = [Column("metric", width=22), Column("label", width=28),
               Column("attainment (type here)", SHARE, 22), Column("pays from", SHARE),
               Column("stops rising at", SHARE), Column("payout (share of target)", SHARE, 24),
               Column(f"payout ({cur})", MONEY, 18),
               Column("gate: attainment of its metric", SHARE, 28)]
    rows: list[tuple[Any, ...]] = []
    for r, m in enumerate(metrics, start=2):
        n = names[m.id]
        if m.curve is not None:
            pay = curve_formula(m.curve, f"C{r}")
        else:
            pay = payout_formula(n, f"C{r}").removeprefix("=")
        gate_cell: Any = None
        if m.gate is not None:
            # The gate's metric: its attainment row when it is in the plan, else typed here.
            gate_cell = (Formula(f"=C{row_of[m.gate.metric]}") if m.gate.metric in row_of
                         else Input(1.0))
            pay = f"IF(H{r}>={m.gate.at!r},{pay},0)"
        rows.append((m.id, m.label, Input(1.0), Formula(f"={n.threshold}"),
                     Formula(f"={n.cap}"), Formula(f"={pay}"), Formula(f"=F{r}*$C${ti_row}"),
                     gate_cell))
    last = len(metrics) + 1
    rows += [(None,) * 8,
             ("target incentive", f"the rep's own ({cur}; the median rep's shown)",
              Input(float(np.median(case.target_incentive))), None, None, None, None, None),
             ("total", "what the rep earns", None, None, None,
              Formula(f"=SUM(F2:F{last})"), Formula(f"=SUM(G2:G{last})"), None)]
    formats = [None] * len(metrics) + [None, MONEY, None]
    _sheet(book, "Calculator", columns, rows, formats)
    _name(book, "target_incentive", "Calculator", "C", ti_row)


def _rates_sheet(book: Workbook, case: Case, result: Outcome,
                 names: dict[str, Names]) -> int | None:
    """Each rep's rates in currency per unit, by formula from her target and the plan."""
    rates = rep_rates(case, result.plan)
    if rates is None:
        return None
    cur = case.spec.case.currency
    by_period = "period" in rates.columns  # a case from transactions: each period's quota
    columns = [Column("rep_id", width=16), Column("metric", width=22),
               *([Column("period", width=12)] if by_period else []),
               Column("quota", QUANTITY, 14), Column(f"base rate per unit ({cur})", RATE, 22),
               Column(f"accelerator rate per unit ({cur})", RATE, 28),
               Column(f"target incentive ({cur})", MONEY, 20)]
    ti = pd.Series(np.asarray(case.target_incentive, dtype=float), index=case.reps.index)
    targets = ti.reindex(rates["rep_id"]).to_numpy()
    q_col, t_col = ("D", "G") if by_period else ("C", "F")

    def rows() -> Iterable[tuple[Any, ...]]:
        for r, values in enumerate(rates.itertuples(index=False, name=None), start=2):
            rep, metric, *period, quota, base, accel = values
            n = names[metric]
            live = quota is not None and math.isfinite(quota) and quota > 0
            yield (rep, metric, *period, quota,
                   Formula(f"={t_col}{r}*{n.base_rate}/{q_col}{r}") if live else base,
                   Formula(f"={t_col}{r}*{n.accelerator_rate}/{q_col}{r}") if live else accel,
                   targets[r - 2])

    _sheet(book, "Rep rates", columns, rows())
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
        rows += [(("alignment", f"{STEP_LABEL.format(goal=g)} ({cur})", v, None, None, None),
                  MONEY)
                 for g, v in readings.per_goal.items()]
    total = f"total payout ({cur} {money_per(case)})"
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
               Column(f"expected payout ({cur}{annual_note(case)})", MONEY, 20),
               Column("share of target", SHARE, 16), Column("gap to all reps", POINTS, 16)]
    rows = [(s.group, s.reps, s.target_incentive, s.expected_payout, s.share_of_target, s.gap)
            for s in ev.segments]
    _sheet(book, "Segments", columns, rows)


def _scenarios_sheet(book: Workbook, case: Case, result: Outcome, coeffs: Coefficients | None,
                     names: dict[str, Names]) -> None:
    """Total payout per scenario; with the coefficients, by formula from the plan.

    A scenario's total is linear in the plan: ``sum_m w_m W[s, m] + u_m U[s, m]`` with
    ``W`` and ``U`` the total payout per unit of weight and of accelerator rate (the
    case's thresholds and caps), written beside it.
    """
    cur = case.spec.case.currency
    ti: float | np.ndarray = float(case.target_incentive.sum())
    if case.present is not None and case.spec.scenarios.mode == "historical":
        # Joiners and leavers: the target incentive on the plan in each period.
        ti = case.target_incentive @ case.present
    labels = scenario_labels(case, len(result.totals))
    columns = [Column("scenario", width=16),
               Column(f"total payout ({cur}{annual_note(case)})", MONEY, 20),
               Column("share of total target incentive", SHARE, 30)]
    # Totals are linear in the parameters only for a plan on the case's curves.
    live = coeffs is not None and result.plan.is_canonical(case)
    metrics = result.plan.metrics if live else []
    for m in metrics:
        columns += [Column(f"pay per unit of weight: {m.label} ({cur})", MONEY, 24),
                    Column(f"pay per unit of accelerator rate: {m.label} ({cur})", MONEY, 24)]

    def rows() -> Iterable[tuple[Any, ...]]:
        for r, (label, total) in enumerate(zip(labels, result.totals, strict=True), start=2):
            if not metrics or coeffs is None:
                yield (label, float(total), float(total) / ti)
                continue
            terms, cells = [], []
            for k, m in enumerate(metrics):
                j = coeffs.metric_ids.index(m.id)
                w_col, u_col = get_column_letter(4 + 2 * k), get_column_letter(5 + 2 * k)
                terms.append(f"{names[m.id].weight}*{w_col}{r}"
                             f"+{names[m.id].accelerator_rate}*{u_col}{r}")
                # Coefficients are shares of the total target incentive: in money here.
                cells += [float(coeffs.scen_w[r - 2, j]) * coeffs.ti_total,
                          float(coeffs.scen_u[r - 2, j]) * coeffs.ti_total]
            # With joiners and leavers the target on the plan differs by scenario.
            targets = np.asarray(ti, dtype=float).reshape(-1)
            on_plan = float(targets[0 if targets.size == 1 else r - 2])
            yield (label, Formula("=" + "+".join(terms)), Formula(f"=B{r}/{on_plan!r}"),
                   *cells)

    _sheet(book, "Scenarios", columns, rows())


def _compare_sheet(book: Workbook, case: Case, result: Outcome, current: Outcome,
                   coeffs: Coefficients, names: dict[str, Names]) -> None:
    """Today's plan beside the designed one.

    Their parameters, the expected cost of each by formula (the designed plan's from the
    Plan sheet's names, so it moves with them) and compplan's figures of both.
    """
    cur = case.spec.case.currency
    designed = {m.id: m for m in result.plan.metrics}
    today = {m.id: m for m in current.plan.metrics}
    ids = [k for k in case.metric_ids if k in designed or k in today]
    columns = [Column("metric or figure", width=34), Column("label", width=28),
               Column("current weight", SHARE, 16), Column("current accelerator rate", NUMBER),
               Column("designed weight", SHARE, 16),
               Column("designed accelerator rate", NUMBER),
               Column(f"expected pay per unit of weight ({cur})", MONEY, 24),
               Column(f"expected pay per unit of accelerator rate ({cur})", MONEY, 24)]
    rows: list[tuple[Any, ...]] = []
    for k in ids:
        j = coeffs.metric_ids.index(k)
        t, d = today.get(k), designed.get(k)
        rows.append((k, case.metric(k).label or k, t.weight if t else 0.0,
                     t.accelerator_rate if t else 0.0,
                     Formula(f"={names[k].weight}") if d else 0.0,
                     Formula(f"={names[k].accelerator_rate}") if d else 0.0,
                     float(coeffs.cost_w[j]) * coeffs.ti_total,
                     float(coeffs.cost_u[j]) * coeffs.ti_total))
    last = len(ids) + 1
    span = f"{{}}2:{{}}{last}"
    cost = [Formula(f"=SUMPRODUCT({span.format(w, w)},G2:G{last})"
                    f"+SUMPRODUCT({span.format(u, u)},H2:H{last})")
            for w, u in (("C", "D"), ("E", "F"))]
    ev_t, ev_d = current.evaluation, result.evaluation
    rows += [(None,) * 8,
             ("", "", "current", "", "designed", "", "designed - current", ""),
             (f"expected total payout ({cur}), live", "from the weights and rates above",
              cost[0], None, cost[1], None, Formula(f"=E{last + 3}-C{last + 3}"), None),
             (f"expected total payout ({cur}), compplan", "as computed", ev_t.expected_cost,
              None, ev_d.expected_cost, None, ev_d.expected_cost - ev_t.expected_cost, None),
             (f"CVaR {ev_d.total_cvar_level:g} of the total ({cur}), live",
              "designed: from the Scenarios sheet; current: as computed",
              ev_t.total_cvar, None,
              Formula("=" + cvar_formula("Scenarios!$B$2:$B$" + str(len(result.totals) + 1),
                                         1.0 - ev_d.total_cvar_level, len(result.totals))),
              None, Formula(f"=E{last + 5}-C{last + 5}"), None),
             ("expected alignment", "as computed", ev_t.alignment, None, ev_d.alignment, None,
              ev_d.alignment - ev_t.alignment, None),
             ("guardrails broken, live", broken_note(case, result), len(ev_t.violated), None,
              Formula("=" + broken_formula(case, result, f"E{last + 3}", f"E{last + 5}")),
              None, None, None)]
    formats = [None] * len(ids) + [None, None, MONEY, MONEY, MONEY, NUMBER, "0"]
    _sheet(book, "Current vs designed", columns, rows, formats)


def cvar_formula(cells: str, share: float, count: int) -> str:
    """The mean of the largest ``share`` of ``count`` equally likely values in ``cells``.

    As :func:`compplan.optimizer.tails.tail_mean`: the ``n = floor(share K)`` largest in
    full, the next one for the rest of the tail, ties counted once each. Non-volatile
    (no INDIRECT), so Excel and LibreOffice recalculate it as any formula.
    """
    tail = share * count
    full = min(math.floor(tail + 1e-12), count)
    parts = []
    if full > 0:
        edge = f"LARGE({cells},{full})"
        parts.append(f"SUMPRODUCT(({cells}>={edge})*{cells})"
                     f"-(COUNTIF({cells},\">=\"&{edge})-{full})*{edge}")
    rest = tail - full
    if rest > 1e-12 and full < count:
        parts.append(f"{rest!r}*LARGE({cells},{full + 1})")
    return f"({'+'.join(parts) or '0'})/{tail!r}"


#: Guardrails the Current vs designed sheet recomputes from the edited plan; the others
#: (fairness over reps) need every rep's payouts, which the workbook does not hold.
LIVE_GUARDRAILS = ("payout_multiple", "budget_expected", "budget_cvar")


def broken_formula(case: Case, result: Outcome, cost: str, cvar: str) -> str:
    """How many guardrails the designed plan breaks: live ones by formula, the rest as computed.

    ``cost`` and ``cvar`` are the cells of the live expected total and CVaR; the payout
    multiple is the sum of the Plan sheet's pay at cap.
    """
    last = len(result.plan.metrics) + 1
    values = {"payout_multiple": f"SUM(Plan!$H$2:$H${last})", "budget_expected": cost,
              "budget_cvar": cvar}
    terms = []
    for g in result.evaluation.guardrails:
        if g.name in LIVE_GUARDRAILS:
            limit = g.limit + CHECK_TOLERANCE * max(1.0, abs(g.limit))
            terms.append(f"IF({values[g.name]}>{limit!r},1,0)")
    static = sum(1 for g in result.evaluation.violated if g.name not in LIVE_GUARDRAILS)
    return "+".join([*terms, str(static)])


def broken_note(case: Case, result: Outcome) -> str:
    """What the live count of broken guardrails recomputes and what it takes as computed."""
    settings = {g.name: g.setting for g in result.evaluation.guardrails}
    live = [settings[n] for n in LIVE_GUARDRAILS if n in settings]
    fixed = [g.setting for g in result.evaluation.guardrails if g.name not in LIVE_GUARDRAILS]
    return ("designed: " + (", ".join(live) + " from the sheets" if live else "")
            + ("; " if live and fixed else "") + (", ".join(fixed) + " as computed" if fixed
                                                   else "") + "; current: as computed")


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
    if annual_note(case):
        rows.append(("money", f"{money_per(case)}: target incentive and caps are annual "
                              f"({case.spec.case.periods_per_year} periods a year)"))
    rows += [("note", n) for n in notes]
    rows += [("how to use", "Change the shaded cells: the plan's weights, thresholds, caps "
                            "and accelerator rates on Plan (named w_, theta_, cap_, u_ and the "
                            "metric), a rep's attainment and target incentive on Calculator. "
                            "Calculator, Rep rates, Scenarios and Current vs designed follow. "
                            "Keep the weights summing to 100% (a rep at target then earns her "
                            "target incentive)."),
             ("formulas", "Scenario totals use the case's thresholds and caps (the pay per "
                          "unit columns): a changed threshold or cap moves Calculator and Rep "
                          "rates, not Scenarios. Evaluation holds compplan's figures for the "
                          "plan as exported.")]
    _sheet(book, "About", [Column("item", width=14), Column("value", width=60)], rows)


# ----------------------------------------------------------------------------- the book

def build_workbook(case: Case, result: Outcome, *, source: str,
                   batch: pd.DataFrame | None = None,
                   batch_source: str | None = None,
                   readings: Readings | None = None,
                   coeffs: Coefficients | None = None,
                   current: Outcome | None = None,
                   add_sheets: Sequence[Callable[[Workbook], None]] = ()) -> Workbook:
    """The workbook of a plan.

    Parameters
    ----------
    case : Case
        The case.
    result : Outcome
        The plan with its evaluation and scenario totals
        (:func:`compplan.render.report.outcome`).
    source : str
        Where the plan comes from, as given on the command line.
    batch : pandas.DataFrame, optional
        Results of ``compplan batch``: adds the Candidates sheet.
    batch_source : str, optional
        The batch folder, as given.
    readings : Readings, optional
        The alignment's readings, shown under the alignment on the Evaluation sheet.
    coeffs : Coefficients, optional
        The case's coefficients: the Scenarios sheet's totals become formulas of the
        plan's named parameters.
    current : Outcome, optional
        Today's plan: adds the Current vs designed sheet (with ``coeffs``).
    add_sheets : sequence of callable
        Each adds its sheet(s) to the book before Candidates and About: the Pulse
        sheet of :mod:`compplan.render.workbook_pulse` (which builds on this module, so
        the caller hands it in: no import cycle).

    Returns
    -------
    openpyxl.Workbook
        Sheets Plan, Calculator, Rep rates (with ``quotas.csv``), Evaluation, Segments
        (with a grouping column), Scenarios, Current vs designed (with today's plan),
        Pulse (with a pulse check), Candidates (with a batch) and About.
    """
    book = Workbook(write_only=True)
    notes = []
    names = metric_names(case.metric_ids)
    _plan_sheet(book, case, result, names)
    _calculator_sheet(book, case, result, names)
    count = _rates_sheet(book, case, result, names)
    if count is not None and count > MAX_ROWS:
        notes.append(f"Rep rates holds the first {MAX_ROWS:,} of {count:,} rows "
                     "(the most a sheet can hold); rep_rates.csv of compplan optimise has all")
    _evaluation_sheet(book, case, result, readings)
    if result.evaluation.segments:
        _segments_sheet(book, case, result)
    _scenarios_sheet(book, case, result, coeffs, names)
    if current is not None and coeffs is not None:
        if result.plan.is_canonical(case) and current.plan.is_canonical(case):
            _compare_sheet(book, case, result, current, coeffs, names)
        else:
            notes.append("no Current vs designed sheet: a plan as written (curves, gates, "
                         "its own thresholds or caps) has no live expected-cost formula; "
                         "Evaluation holds compplan's figures")
    for add in add_sheets:
        add(book)
    if batch is not None:
        _candidates_sheet(book, batch)
    _about_sheet(book, case, source, result, batch_source, notes)
    return book


def workbook_bytes(book: Workbook) -> bytes:
    """The ``.xlsx`` file of ``book``, in memory."""
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_workbook(path: Path, book: Workbook) -> None:
    """Save ``book`` to ``path`` through a temporary file, so no half-written file is left."""
    write_atomic(path, workbook_bytes(book))
