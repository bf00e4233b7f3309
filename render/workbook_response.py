"""The Response sheets of the workbook: multipliers and figures under response.

For a case with ``[response]`` (MODEL.md section 10). The Response sheet holds, per
candidate metric, the elasticity, what the plan pays for a step of progress (live from
the Plan sheet's named weights and rates for a plan on the case's curves: ``U_m`` is
linear in them), the baseline's, the multiplier by formula, and with a ``value`` the
volume and value change by formula; then the payout figures static and under response
(compplan's: payouts under response are not linear in the plan) and the net value by
formula. With ``--elasticity``, the Response band sheet: the figures under each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from openpyxl import Workbook

from compplan.models.case import Case
from compplan.models.money import money_per, periods_per_year
from compplan.models.plan import Plan
from compplan.optimizer.response import ResponseContext, ResponseFigures, response_settings
from compplan.optimizer.response import marginal as pay_for_progress
from compplan.render.workbook import (
    MONEY,
    NUMBER,
    QUANTITY,
    Column,
    Formula,
    Input,
    _sheet,
    metric_names,
)

SHEET = "Response"
BAND_SHEET = "Response band"


def response_sheet(book: Workbook, ctx: ResponseContext, plan: Plan,
                   figures: ResponseFigures) -> None:
    """Add the Response sheet (see the module's docstring).

    Parameters
    ----------
    book : openpyxl.Workbook
        The workbook, its Plan sheet already written (its named cells).
    ctx : ResponseContext
        The case's shared response figures.
    plan : Plan
        The plan of the workbook.
    figures : ResponseFigures
        The plan under the case's elasticities.
    """
    case, coeffs = ctx.case, ctx.coeffs
    cur, per = case.spec.case.currency, money_per(case)
    settings = response_settings(case)
    names = metric_names(case.metric_ids)
    live = plan.is_canonical(case)
    in_plan = {m.id for m in plan.metrics}
    static_u = pay_for_progress(case, coeffs, plan, ctx.scenarios)
    years = periods_per_year(case) or 1
    count = len(case.metric_ids)
    c_row = count + 3
    columns = [Column("metric", width=22), Column("label", width=28),
               Column("elasticity", NUMBER, 12),
               Column("pay for progress per unit of weight", NUMBER, 20),
               Column("pay for progress per unit of accelerator rate", NUMBER, 20),
               Column("pay for progress, the plan", NUMBER, 18),
               Column("pay for progress, the baseline", NUMBER, 18),
               Column("reference", NUMBER, 12),
               Column("attainment multiplier", NUMBER, 14),
               Column("attainment multiplier, compplan", NUMBER, 14),
               Column("volume a period (units)", QUANTITY, 16),
               Column("periods counted", None, 10),
               Column(f"value of a unit ({cur})", NUMBER, 14),
               Column(f"volume change (units {per})", QUANTITY, 18),
               Column(f"value change ({cur} {per})", MONEY, 18)]
    rows: list[tuple[Any, ...]] = []
    for j, k in enumerate(case.metric_ids):
        r = j + 2
        n = names[k]
        if not live:
            u: Any = float(static_u[j])
        elif k in in_plan:
            u = Formula(f"={float(coeffs.align_w[j])!r}*{n.weight}"
                        f"+{float(coeffs.align_u[j])!r}*{n.accelerator_rate}")
        else:
            u = 0.0
        valued = not np.isnan(settings.value[j]) and not np.isnan(ctx.volume[j])
        rows.append((k, case.metric(k).label or k, Input(float(settings.elasticity[j])),
                     float(coeffs.align_w[j]), float(coeffs.align_u[j]), u,
                     float(ctx.base.marginal[j]), float(ctx.base.reference[j]),
                     Formula(f"=MIN(MAX(1+C{r}*(F{r}-G{r})/H{r},1-$C${c_row}),"
                             f"1+$C${c_row})"),
                     figures.multipliers[k],
                     None if np.isnan(ctx.volume[j]) else float(ctx.volume[j]), years,
                     Input(float(settings.value[j])) if valued else None,
                     Formula(f"=(I{r}-1)*K{r}*L{r}") if valued else None,
                     Formula(f"=N{r}*M{r}") if valued else None))
    blank = (None,) * len(columns)
    under, static = figures.evaluation, figures.static

    def line(label: str, note: str, value: Any) -> tuple[Any, ...]:
        return (label, note, value, *(None,) * (len(columns) - 3))

    rows += [blank,
             line("max change", "no metric's attainment moves by more than this share",
                  Input(settings.max_change)),
             line(f"expected total payout, static ({cur} {per})", "compplan, on the history",
                  static.expected_cost),
             line(f"expected total payout under response ({cur} {per})",
                  "compplan, at the multipliers of compplan", under.expected_cost),
             line(f"CVaR {static.total_cvar_level:g} of the total, static ({cur} {per})",
                  "compplan, on the history", static.total_cvar),
             line(f"CVaR {under.total_cvar_level:g} of the total under response ({cur} {per})",
                  "compplan, at the multipliers of compplan", under.total_cvar),
             line(f"the baseline's expected total payout ({cur} {per})",
                  f"{figures.baseline}, on the history", figures.baseline_cost)]
    formats: list[str | None] = [None] * (count + 1) + [NUMBER] + [MONEY] * 5
    if figures.net_value is not None:
        cost, base = count + 5, count + 8
        rows.append(line(f"net value ({cur} {per}), live",
                         "value changes above minus the change of expected payout from the "
                         "baseline's", Formula(f"=SUM(O2:O{count + 1})-(C{cost}-C{base})")))
        formats.append(MONEY)
    _sheet(book, SHEET, columns, rows, formats)


def band_sheet(book: Workbook, case: Case, band: Sequence[ResponseFigures]) -> None:
    """Add the Response band sheet: the plan's figures under each elasticity (compplan's)."""
    cur, per = case.spec.case.currency, money_per(case)
    labels = [case.metric(k).label or k for k in case.metric_ids]
    columns = [Column("elasticity", NUMBER, 12),
               Column(f"expected total payout ({cur} {per})", MONEY, 20),
               Column(f"CVaR of the total ({cur} {per})", MONEY, 20),
               Column(f"net value ({cur} {per})", MONEY, 18),
               Column("guardrails broken", None, 40),
               *(Column(f"multiplier: {label}", NUMBER, 16) for label in labels)]
    rows = [(float(f.elasticity or 0.0), f.evaluation.expected_cost, f.evaluation.total_cvar,
             f.net_value, ", ".join(g.setting for g in f.evaluation.violated) or "none",
             *(f.multipliers[k] for k in case.metric_ids)) for f in band]
    _sheet(book, BAND_SHEET, columns, rows)


def response_sheets(ctx: ResponseContext, plan: Plan, figures: Sequence[ResponseFigures]
                    ) -> list[Any]:
    """The sheets to add (``build_workbook``'s ``add_sheets``): Response, and the band."""
    sheets: list[Any] = [lambda book: response_sheet(book, ctx, plan, figures[0])]
    if len(figures) > 1:
        sheets.append(lambda book: band_sheet(book, ctx.case, figures[1:]))
    return sheets
