"""An organisation's evaluation, comparison, sweep and batch on the terminal (MODEL.md s. 7).

The API functions of the commands (:mod:`compplan.api`) handle organisations; the
functions here only show what they return.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from compplan.api import Org, OrgEvaluation, cell_text, money_per_org
from compplan.cli.common import out_console


def show_evaluation(org: Org, result: OrgEvaluation) -> None:
    """An organisation's evaluation on the terminal: a row per role, the rules, conflicts."""
    table = Table(title=f"{org.name}: evaluation of {result.name}", title_justify="left")
    for col in ("role", "share", "alignment", "expected payout", "guardrails", "metrics"):
        table.add_column(col, justify="left" if col in ("role", "metrics") else "right")
    for role in result.roles:
        metrics = ", ".join(f"{m.id} {m.weight:.0%}" for m in role.plan.metrics)
        table.add_row(role.label, f"{role.share:.1%}", f"{role.evaluation.alignment:.4f}",
                      f"{role.evaluation.expected_cost:,.0f}",
                      "ok" if role.to_dict()["guardrails_ok"] else "BROKEN", metrics)
    out_console.print(table)
    out_console.print(f"organisation alignment {result.alignment:.6f}; expected payout "
                      f"{result.expected_cost:,.0f} {org.currency} {money_per_org(org)}; "
                      f"CVaR {result.cvar_level:.0%} of the total {result.cvar:,.0f}")
    for check in result.checks:
        out_console.print(f"  {check['rule']} {check['setting']}: "
                          f"{'ok' if check['ok'] else 'BROKEN'} ({check['detail']})")
    for role in result.roles:
        for g in role.evaluation.violated:
            out_console.print(f"  {role.id}: {g.setting} BROKEN ({g.value:,.6g} against "
                              f"{g.limit:,.6g})")
        for r in role.evaluation.broken_rules:
            out_console.print(f"  {role.id}: {r.message}")
    conflicts = result.audit.conflicts
    out_console.print("conflicts: " + ("none" if not conflicts else "; ".join(
        f"{c['serves']} serves '{c['goal']}', {c['against']} works against it"
        for c in conflicts)))
    if result.audit.unserved:
        out_console.print(f"goals nobody is paid to serve: {', '.join(result.audit.unserved)}")


def show_rows(title: str, rows: list[dict[str, Any]]) -> None:
    """An organisation's comparison on the terminal: a row per figure."""
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(rows[0]):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(cell_text(v) for v in row.values()))
    out_console.print(table)


def show_sweep(org: Org, result: Any) -> None:
    """The sweep on the terminal: a row per cap, then where each next dollar went."""
    table = Table(title=f"{org.name}: organisation expected-cost cap swept "
                        f"({result.base_source} {result.base:,.0f} x factor)",
                  title_justify="left")
    for col in ("cap", "status", "alignment", "expected payout", "frontier",
                *(f"{r} payout" for r in result.roles)):
        table.add_column(col, justify="left" if col == "status" else "right",
                         no_wrap=True)
    table.add_column("next dollar: role shares; alignment per million", min_width=24)
    for p, on, nxt in zip(result.points, result.frontier(), result.next_dollar(), strict=True):
        where = "" if nxt is None else ", ".join(
            f"{r} {s:.0%}" for r, s in nxt["shares"].items() if abs(s) >= 0.005)
        if nxt is not None:
            where += f"; {nxt['alignment_per_million']:+.4f} per M"
        table.add_row(f"{p.cap:,.0f}", p.status,
                      "" if p.alignment is None else f"{p.alignment:.4f}",
                      "" if p.expected_cost is None else f"{p.expected_cost:,.0f}",
                      "*" if on else "",
                      *("" if r not in p.role_cost else f"{p.role_cost[r]:,.0f}"
                        for r in result.roles), where)
    out_console.print(table)


def show_org_run(run: Any) -> None:
    """An organisation's sweep or batch on the terminal."""
    if run.sweep is not None:
        show_sweep(run.org, run.sweep)
        return
    table = Table(title=f"{run.org.name}: batch {run.document['spec']}", title_justify="left")
    for col in ("id", "name", "status", "alignment", "expected payout", "frontier"):
        table.add_column(col, justify="right" if col in ("alignment", "expected payout")
                         else "left")
    for row in run.rows:
        table.add_row(row["id"], row["name"], row["status"],
                      "" if row["alignment"] is None else f"{row['alignment']:.4f}",
                      "" if row["expected_cost"] is None
                      else f"{row['expected_cost']:,.0f}", "*" if row["frontier"] else "")
    out_console.print(table)
