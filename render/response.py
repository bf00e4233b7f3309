"""Figures under response beside the static ones, for the terminal and documents.

MODEL.md section 10: each figure both as the history has it (``static``) and under
response (what the plan will make reps do), side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from compplan.models import fmt
from compplan.models.case import Case
from compplan.models.money import money_per
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.response import ResponseFigures
from compplan.render.figures import Column, columns_of

STATIC = "static"
UNDER_RESPONSE = "under response"


def column_name(name: str, figures: ResponseFigures) -> str:
    """``current under response`` or ``current, elasticity 0.2``."""
    if figures.elasticity is None:
        return f"{name} {UNDER_RESPONSE}"
    return f"{name}, elasticity {figures.elasticity:g}"


def response_columns(case: Case, coeffs: Coefficients | None, name: str, plan: Plan,
                     figures: Sequence[ResponseFigures]) -> list[Column]:
    """The plan's static figures, then under response (one column per figures given).

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients, optional
        Its coefficients (for the alignment's readings).
    name : str
        The plan's name.
    plan : Plan
        The plan.
    figures : sequence of ResponseFigures
        The plan under the case's elasticities, and perhaps under others (a band).

    Returns
    -------
    list of Column
        ``NAME static`` first, so the differences are the response's.
    """
    named = [(f"{name} {STATIC}", plan, figures[0].static)]
    named += [(column_name(name, f), plan, f.evaluation) for f in figures]
    # The plan, its alignment and its design rules do not respond: payout figures only.
    return [replace(c, figures=[f for f in c.figures if not f.section.startswith(_SAME)])
            for c in columns_of(case, named, coeffs)]


_SAME = ("plan", "alignment", "design rules")


def response_lines(case: Case, figures: ResponseFigures, *,
                   segments: bool = True) -> list[str]:
    """The multipliers, outcomes and net value in words.

    Parameters
    ----------
    case : Case
        The case.
    figures : ResponseFigures
        The plan's figures.
    segments : bool
        Also a line per group of reps (``response.segments``), for the case's own
        elasticities.

    Returns
    -------
    list of str
        ``attainment under response: Cloud ARR x1.500 (+50.0 %), ...``; with values,
        each metric's volume and value change and the net value; then per group.
    """
    cur = case.spec.case.currency
    per = money_per(case)
    labels = {k: case.metric(k).label or k for k in case.metric_ids}
    moves = ", ".join(f"{labels[k]} x{lam:.3f} ({(lam - 1.0) * 100:+.1f} %)"
                      for k, lam in figures.multipliers.items())
    where = "" if figures.elasticity is None else f" (elasticity {figures.elasticity:g})"
    lines = [f"attainment under response{where}: {moves}",
             f"expected payout {fmt.money(figures.evaluation.expected_cost, cur)} {per} under "
             f"response against {fmt.money(figures.static.expected_cost, cur)} on the history "
             f"and {fmt.money(figures.baseline_cost, cur)} for the baseline "
             f"({figures.baseline})"]
    for k, out in figures.outcomes.items():
        lines.append(f"{labels[k]}: volume {out['volume_change']:+,.1f} units, worth "
                     f"{fmt.money(out['value_change'], cur)} {per}")
    if figures.net_value is not None:
        lines.append(f"net value {fmt.money(figures.net_value, cur)} {per} (value gained minus "
                     "the change of expected payout from the baseline's)")
    if segments and figures.segments is not None and figures.elasticity is None:
        lines += segment_lines(case, figures.segments)
    return lines


def segment_lines(case: Case, found: dict[str, Any]) -> list[str]:
    """A line per group of reps: payouts, attainment change and net value."""
    cur = case.spec.case.currency
    labels = {k: case.metric(k).label or k for k in case.metric_ids}
    lines = []
    for name, g in found["groups"].items():
        moves = ", ".join(f"{labels[k]} {v * 100:+.1f} pp"
                          for k, v in g["attainment_change"].items() if v != 0.0)
        line = (f"{found['column']} {name}: expected payout "
                f"{fmt.money(g['expected_payout'], cur)} under response against "
                f"{fmt.money(g['static_expected_payout'], cur)} on the history and "
                f"{fmt.money(g['baseline_expected_payout'], cur)} for the baseline; "
                f"attainment {moves or 'unchanged'}")
        if "net_value" in g:
            line += f"; net value {fmt.money(g['net_value'], cur)}"
        lines.append(line)
    return lines


def response_markdown(case: Case, figures: ResponseFigures) -> list[str]:
    """The audit's section under response (``audit.md``): in words, then a table.

    Returns
    -------
    list of str
        Markdown lines: ``## Under response``, the multipliers, outcomes and net value,
        and the payout figures static and under response side by side.
    """
    from compplan.render.text import md_escape

    cur, per = case.spec.case.currency, money_per(case)
    labels = {k: md_escape(case.metric(k).label or k) for k in case.metric_ids}
    static, under = figures.static, figures.evaluation
    lines = ["", "## Under response", "",
             f"What the plan will make reps do, against the baseline "
             f"{md_escape(figures.baseline)} the history was recorded under (money in "
             f"{md_escape(cur)} {per}).", "",
             "| figure | static | under response |", "|---|---:|---:|"]
    lines += [f"| attainment multiplier: {labels[k]} | x1.000 | x{lam:.3f} |"
              for k, lam in figures.multipliers.items()]
    lines += [f"| expected total payout | {fmt.money(static.expected_cost)} | "
              f"{fmt.money(under.expected_cost)} |",
              f"| CVaR {static.total_cvar_level:g} of the total | "
              f"{fmt.money(static.total_cvar)} | {fmt.money(under.total_cvar)} |"]
    lines += [f"| {md_escape(g.setting)} | {g.value:.6g} {'met' if g.ok else 'BROKEN'} | "
              f"{h.value:.6g} {'met' if h.ok else 'BROKEN'} |"
              for g, h in zip(static.guardrails, under.guardrails, strict=True)]
    for k, out in figures.outcomes.items():
        lines.append(f"| volume change: {labels[k]} (units) | 0 | "
                     f"{out['volume_change']:+,.1f} |")
        lines.append(f"| value change: {labels[k]} | {fmt.money(0.0)} | "
                     f"{fmt.money(out['value_change'])} |")
    if figures.net_value is not None:
        lines.append(f"| net value | {fmt.money(figures.baseline_cost - static.expected_cost)} "
                     f"| {fmt.money(figures.net_value)} |")
    lines += ["", f"The baseline's expected total payout on the history: "
                  f"{fmt.money(figures.baseline_cost)}."]
    return lines
