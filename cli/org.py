"""An organisation's designed plans on the terminal (MODEL.md section 7).

``compplan.optimise`` and ``compplan.min_budget`` design an organisation's plans (an
:class:`~compplan.api.OrgResult`); the functions here only show them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from compplan.api import Org, fmt, money_per_org
from compplan.cli.common import (
    fail,
    out_console,
)
from compplan.errors import UsageError


def org_money_per(org: Org) -> str:
    """``per year`` or ``per period``: every role's money has the same unit of time."""
    return money_per_org(org)


def refuse(option: str, value: object,
           instead: str = "set it in each role's case.toml") -> None:
    """Exit 2 for a single-case option given with an organisation folder."""
    if value is not None:
        fail(UsageError(f"{option} applies to a case folder, not to an organisation "
                        f"({instead})"))


def summary(org: Org, doc: dict[str, Any], kind: str = "plans") -> None:
    """The designed plans on the terminal: a row per role, then the conflict maps."""
    cur = org.currency
    table = Table(title=f"{org.name}: {doc['status']} {kind}", title_justify="left")
    for col in ("role", "share", "alignment", "expected payout", "metrics"):
        table.add_column(col, justify="left" if col in ("role", "metrics") else "right")
    for role in doc["roles"]:
        metrics = ", ".join(f"{m['id']} {m['weight']:.0%}" for m in role["plan"]["metrics"])
        table.add_row(role["label"], f"{role['share']:.1%}", f"{role['alignment']:.4f}",
                      f"{role['expected_cost']:,.0f}", metrics)
    out_console.print(table)
    objective = doc["objective"]
    out_console.print(f"organisation alignment {objective['alignment']:.6f}; expected payout "
                      f"{objective['expected_cost']:,.0f} {cur} {org_money_per(org)}")
    prices = {p["guardrail"]: p for p in doc.get("guardrail_prices", [])}
    for g in doc["evaluation"]["guardrails"]:
        price = prices.get(g["name"])
        note = ""
        if price is not None and price["shadow_price"] > 0:
            where = ", ".join(f"{rid} {share:.0%}" for rid, share in
                              price["next_dollar"].items() if share >= 0.005)
            note = (f"; loosening it 1 % would add {price['per_percent']:.4g} alignment"
                    + (f", the money going to {where}" if where else ""))
        out_console.print(f"  {g['setting']}: {g['value']:,.0f} (limit {g['limit']:,.0f}"
                          f"{note})")
    for role in doc["roles"]:
        for price in role["plan"].get("guardrail_prices", []):
            if price["shadow_price"] > 0:
                out_console.print(f"  {role['id']}: {price['setting']} binds; marginal value "
                                  f"of 1 % looser: {price['per_percent']:.4g} alignment "
                                  "(the joint LP's dual, not re-solved)")
    today = doc.get("current") or {}
    if today.get("alignment") is not None:
        out_console.print(f"today's plans: organisation alignment {today['alignment']:.6f}; "
                          f"expected payout {today['expected_cost']:,.0f} {cur} "
                          f"{org_money_per(org)}")
    out_console.print(f"conflicts in the designed plans: {_conflict_text(doc['conflicts'])}")
    if "current_conflicts" in doc:
        out_console.print(f"conflicts in today's plans: "
                          f"{_conflict_text(doc['current_conflicts'])}")


def _conflict_text(found: list[dict[str, str]]) -> str:
    if not found:
        return "none"
    return "; ".join(f"{c['serves']} serves '{c['goal']}', {c['against']} works against it"
                     for c in found)


def min_budget_summary(result: Any, out: Path | None, quiet: bool) -> None:
    """``compplan min-budget ORG_DIR`` on the terminal: the smallest cap and its split."""
    org, outcome = result.org, result.outcome
    assert outcome is not None
    cap = org.spec.budget.expected_cap
    figure = outcome.document["objective"]["expected_cost"]
    verdict = ("" if cap is None else
               f" (the organisation's cap {cap:,.0f} "
               f"{'admits' if figure <= cap else 'is below'} it)")
    split = ", ".join(f"{r['id']} {r['expected_cost']:,.0f}" for r in outcome.document["roles"])
    out_console.print(f"minimum organisation expected-cost cap: "
                      f"{fmt.least_cap(figure):,.0f} {org.currency} "
                      f"{org_money_per(org)}{verdict}; split: {split}")
    if not quiet:
        summary(org, outcome.document, "cheapest plans")
        if out is not None:
            out_console.print(f"wrote {out / 'org_plan.json'} and the roles' plans")


def show_audit(result: Any) -> None:
    """The conflict map on the terminal: a row per goal, a column per role."""
    table = Table(title=f"{result.org}: conflict map of {result.plans}", title_justify="left")
    table.add_column("goal")
    table.add_column("priority", justify="right")
    for rid in result.roles:
        table.add_column(rid, justify="right")
    table.add_column("net", justify="right")
    for row in result.goals:
        cells = []
        for cell in row.cells:
            parts = []
            if cell.serves > 0:
                parts.append(f"+{cell.serves:.3%} ({cell.serves_share:.0%})")
            if cell.against > 0:
                parts.append(f"-{cell.against:.3%} ({cell.against_share:.0%})")
            cells.append(" / ".join(parts) or ".")
        table.add_row(row.goal, f"{row.priority:g}", *cells, f"{row.net:+.3%}")
    out_console.print(table)
    out_console.print("cells: marginal incentive for (+) and against (-) the goal, as a share "
                      "of the organisation's target incentive per step, with the role's share "
                      "of that side")
    out_console.print(f"conflicts: {_conflict_text(result.conflicts)}")
    if result.unserved:
        out_console.print(f"goals nobody is paid to serve: {', '.join(result.unserved)}")
    if result.missing_plans:
        out_console.print(f"roles without a plan: {', '.join(result.missing_plans)}")
