"""The organisation page: one self-contained HTML page for several roles' plans (MODEL.md s. 7).

The budget across roles, the organisation's total payout over the scenarios, every
organisation rule, the conflict map as a goal x role matrix coloured by direction
(serves, against, both, none) and each role's plan. Same style and the same
guarantees as the plan report (:mod:`compplan.render.report`): CSS and SVG inline, no
script, a Content-Security-Policy that loads nothing, every case text escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from compplan import __version__
from compplan.models import fmt
from compplan.models.money import money_per
from compplan.models.org import Org
from compplan.optimizer.org_evaluate import OrgEvaluation
from compplan.render.report import (
    CURRENT_COLOUR,
    LIMIT_COLOUR,
    PALETTE,
    _chart,
    _money_axis,
    _short,
    _tile,
    chart_ids,
    metric_rows,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

TEMPLATE = "org_report.html.j2"
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
#: Words and marks for the conflict map's cells (colour is never the only cue).
DIRECTIONS = {"serves": "serves", "against": "against", "both": "both", "none": "none"}


@dataclass(frozen=True)
class OrgReportInput:
    """What the organisation page shows.

    Attributes
    ----------
    org : Org
        The organisation.
    main : OrgEvaluation
        The plans the page is about.
    source : str
        Where they come from, as given on the command line.
    today : OrgEvaluation or None
        Today's plans, when every role has one and they are not ``main``.
    """

    org: Org
    main: OrgEvaluation
    source: str
    today: OrgEvaluation | None = None


def _columns(data: OrgReportInput) -> list[OrgEvaluation]:
    return [data.main, *([data.today] if data.today is not None else [])]


def budget_chart(data: OrgReportInput) -> dict[str, Any]:
    """Expected payout of each set of plans, stacked by role, with the organisation cap."""
    columns = _columns(data)
    cap = data.org.spec.budget.expected_cap

    def draw(ax: Axes) -> None:
        names = [_short(c.name) for c in columns]
        left = np.zeros(len(columns))
        for i, role in enumerate(data.main.roles):
            values = np.array([c.roles[i].evaluation.expected_cost for c in columns])
            ax.barh(names, values, left=left, color=PALETTE[i % len(PALETTE)],
                    label=_short(role.label), edgecolor="white", linewidth=0.8)
            left += values
        if cap is not None:
            ax.axvline(cap, color=LIMIT_COLOUR, linewidth=1.6, linestyle="--",
                       label="organisation cap")
        ax.invert_yaxis()
        ax.set_xlabel(f"expected payout ({data.org.currency} {money_per(data.org.roles[0].case)})")
        _money_axis(ax, "x")
        ax.grid(axis="y", visible=False)

    return _chart("chart-org-budget", "The budget across roles", draw,
                  (6.0, 1.6 + 0.55 * len(columns)))


def total_chart(data: OrgReportInput) -> dict[str, Any]:
    """The organisation's total payout per scenario (the same period in every role)."""
    columns = _columns(data)
    budget = data.org.spec.budget

    def draw(ax: Axes) -> None:
        for j, col in enumerate(columns):
            colour = CURRENT_COLOUR if j else PALETTE[0]
            x = np.arange(1, len(col.totals) + 1)
            ax.plot(x, col.totals, color=colour, linestyle="--" if j else "-", linewidth=1.6,
                    marker="o" if len(x) <= 24 else None, markersize=3,
                    label=f"{_short(col.name)}: total per scenario")
        if budget.expected_cap is not None:
            ax.axhline(budget.expected_cap, color=LIMIT_COLOUR, linewidth=1.2, linestyle="--",
                       label="expected cap")
        if budget.cvar_cap is not None:
            ax.axhline(budget.cvar_cap, color=LIMIT_COLOUR, linewidth=1.2, linestyle=":",
                       label="CVaR cap")
        labels = columns[0].labels
        if len(labels) <= 12:
            ax.set_xticks(np.arange(1, len(labels) + 1), [_short(v, 8) for v in labels],
                          rotation=45 if len(labels) > 6 else 0)
        ax.set_xlabel("scenario")
        ax.set_ylabel(f"total payout ({data.org.currency})")
        _money_axis(ax, "y")

    return _chart("chart-org-total", "The organisation's total payout by scenario", draw,
                  (6.0, 3.4))


def conflict_matrix(result: OrgEvaluation) -> dict[str, Any]:
    """The conflict map as rows of cells: direction, text, and each side's share."""
    rows = []
    for goal in result.audit.goals:
        cells = []
        for cell in goal.cells:
            parts = []
            if cell.serves > 0:
                parts.append(f"+{cell.serves:.3%} ({fmt.share(cell.serves_share, 0)})")
            if cell.against > 0:
                parts.append(f"\u2212{cell.against:.3%} ({fmt.share(cell.against_share, 0)})")
            cells.append({"direction": cell.direction, "word": DIRECTIONS[cell.direction],
                          "text": " / ".join(parts)})
        rows.append({"goal": goal.goal, "priority": f"{goal.priority:g}", "cells": cells,
                     "net": f"{goal.net:+.3%}"})
    return {"roles": result.audit.roles, "rows": rows, "conflicts": result.audit.conflicts,
            "unserved": result.audit.unserved}


def role_rows(data: OrgReportInput) -> list[dict[str, Any]]:
    """A row per role: share of target incentive, alignment, expected payout and its share."""
    columns = _columns(data)
    rows = []
    for i, role in enumerate(data.main.roles):
        cells = []
        for col in columns:
            r = col.roles[i]
            cost = r.evaluation.expected_cost
            cells += [f"{r.evaluation.alignment:.4f}", fmt.money(cost),
                      fmt.share(cost / col.expected_cost if col.expected_cost else None)]
        rows.append({"label": role.label, "id": role.id, "share": fmt.share(role.share),
                     "cells": cells,
                     "ok": role.to_dict()["guardrails_ok"]})
    return rows


def check_rows(data: OrgReportInput) -> list[dict[str, Any]]:
    """Every organisation rule on the plans (and on today's)."""
    columns = _columns(data)
    rows = []
    for i, check in enumerate(data.main.checks):
        rows.append({"rule": check["rule"], "setting": check["setting"],
                     "cells": [{"text": ("ok" if c.checks[i]["ok"] else "broken")
                                + (f": {fmt.money(c.checks[i]['value'])}"
                                   if c.checks[i]["value"] is not None else ""),
                                "state": "ok" if c.checks[i]["ok"] else "broken"}
                               for c in columns],
                     "limit": fmt.money(check["limit"]) if check["limit"] is not None else "",
                     "detail": check["detail"]})
    return rows


def role_plans(data: OrgReportInput) -> list[dict[str, Any]]:
    """Each role's plan: its metrics, its guardrails and the design rules it breaks."""
    found = []
    for role in data.main.roles:
        ev = role.evaluation
        found.append({
            "id": role.id, "label": role.label,
            "metrics": metric_rows(cast(Any, role)),
            "guardrails": [{"setting": g.setting, "value": _number(g.value),
                            "limit": _number(g.limit), "ok": g.ok} for g in ev.guardrails],
            "broken": [r.message for r in ev.broken_rules]})
    return found


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def tiles(data: OrgReportInput) -> list[dict[str, Any]]:
    """The organisation at a glance."""
    main, today, cur = data.main, data.today, data.org.currency
    budget = data.org.spec.budget
    per = money_per(data.org.roles[0].case)
    found = [_tile("Organisation alignment", f"{main.alignment:.4f}",
                   "TI-share-weighted role alignment"
                   + (f"; today {today.alignment:.4f}" if today is not None else ""))]
    cap = next((c for c in main.checks if c["rule"] == "O1"), None)
    found.append(_tile("Expected payout", fmt.compact_money(main.expected_cost, cur),
                       (f"cap {fmt.compact_money(budget.expected_cap)}" if cap else per)
                       + (f"; today {fmt.compact_money(today.expected_cost)}"
                          if today is not None else ""),
                       cap["ok"] if cap else None))
    cvar = next((c for c in main.checks if c["rule"] == "O2"), None)
    found.append(_tile(f"CVaR {main.cvar_level:.0%} of the total",
                       fmt.compact_money(main.cvar, cur),
                       f"cap {fmt.compact_money(budget.cvar_cap)}" if cvar
                       else "mean of the worst scenarios", cvar["ok"] if cvar else None))
    found.append(_tile("Conflicts", str(len(main.audit.conflicts)),
                       "a role paid against a goal another serves"
                       + (f"; today {len(today.audit.conflicts)}" if today is not None else ""),
                       not main.audit.conflicts))
    coherence = [c for c in main.checks if c["rule"] in ("O3", "O4", "O5")]
    if coherence:
        broken = sum(not c["ok"] for c in coherence)
        found.append(_tile("Coherence rules", f"{len(coherence) - broken} of {len(coherence)}",
                           "met" if not broken else f"{broken} broken", not broken))
    return found


def org_report_context(data: OrgReportInput) -> dict[str, Any]:
    """Everything the organisation page shows, formatted, charts drawn."""
    org, main = data.org, data.main
    charts = {"budget": budget_chart(data), "total": total_chart(data)}
    first = org.roles[0].case
    kind = ("historical periods" if first.spec.scenarios.mode == "historical"
            else "Monte Carlo scenarios")
    return {
        "title": f"{org.name}: organisation report", "source": data.source,
        "version": __version__, "style": _report_style(),
        "today": data.today.name if data.today is not None else None,
        "scope": (f"{len(org.roles)} roles, {sum(len(r.case.reps) for r in org.roles):,} reps, "
                  f"{len(main.totals):,} {kind} (scenario s is the same period in every "
                  f"role); money in {org.currency} {money_per(first)}"),
        "tiles": tiles(data), "columns": [c.name for c in _columns(data)],
        "roles": role_rows(data), "checks": check_rows(data),
        "matrices": [{"name": c.name, **conflict_matrix(c)} for c in _columns(data)],
        "plans": role_plans(data),
        "goals": [{"goal": g, "priority": f"{p:g}"} for g, p in org.spec.goals.items()],
        "charts": charts, "chart_ids": chart_ids(charts),
    }


def _report_style() -> Markup:
    """The plan report's own CSS, so both pages look alike."""
    text = (files("compplan.render") / "templates" / "report.html.j2").read_text()
    found = _STYLE.search(text)
    return Markup(found.group(1) if found is not None else "")


def render_org_report(data: OrgReportInput) -> str:
    """The organisation page as one self-contained HTML page.

    Parameters
    ----------
    data : OrgReportInput
        The organisation, its plans and today's.

    Returns
    -------
    str
        The page: inline CSS and SVG, no script, nothing to fetch.
    """
    env = Environment(loader=PackageLoader("compplan.render", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    return env.get_template(TEMPLATE).render(org_report_context(data))
