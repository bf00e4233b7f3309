"""evaluate, compare, report, export and sweep on an organisation folder (MODEL.md s. 7).

The commands of :mod:`compplan.cli.views`, :mod:`compplan.cli.reports` and
:mod:`compplan.cli.batch` detect ``org.toml`` in their folder argument and hand over
to the functions here; the Python API is :mod:`compplan.api` (``evaluate_org``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from compplan.cli.common import Reporter, fail, out_console, output_set
from compplan.cli.org import load, org_money_per
from compplan.errors import CompplanError
from compplan.models.org import Org
from compplan.models.output import write_json
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.org_evaluate import (
    CURRENT,
    OrgEvaluation,
    evaluate_org,
    load_org_plans,
    plan_label,
)


def _coefficients(org: Org, quiet: bool) -> list[Coefficients]:
    from compplan.optimizer.org import org_coefficients

    try:
        with Reporter(quiet) as reporter:
            reporter.step("computing payouts under the roles' scenarios")
            return org_coefficients(org)
    except CompplanError as exc:
        fail(exc)
    raise AssertionError("unreachable")  # fail() exits


def org_evaluations(org: Org, refs: list[str], quiet: bool) -> list[OrgEvaluation]:
    """Each set of plans evaluated (exit 2 naming a bad reference); names kept distinct."""
    coeffs = _coefficients(org, quiet)
    found: list[OrgEvaluation] = []
    for ref in refs:
        try:
            plans = load_org_plans(org, ref)
            name = plan_label(ref)
            taken = {e.name for e in found}
            if name in taken:
                name = f"{name}_{len(found) + 1}"
            found.append(evaluate_org(org, coeffs, plans, name, ref))
        except CompplanError as exc:
            fail(exc)
    return found


def evaluate_org_folder(org_dir: str, plan: str, out_dir: str, *, force: bool,
                        quiet: bool) -> None:
    """``compplan evaluate ORG_DIR PLAN``: every role and the total, every rule checked."""
    org = load(org_dir)
    (result,) = org_evaluations(org, [plan], quiet)
    out = Path(out_dir)
    written = [out / "evaluation.json"]
    inputs = [org.path, *([] if plan == CURRENT else [plan])]
    with output_set(out_dir, force=force, inputs=inputs) as folder:
        write_json(folder / written[0].name, result.to_dict())
    if not quiet:
        show_evaluation(org, result)
        out_console.print(f"wrote {written[0]}")


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
                      f"{result.expected_cost:,.0f} {org.currency} {org_money_per(org)}; "
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
    from compplan.optimizer.org_evaluate import _cell

    table = Table(title=title, title_justify="left")
    for i, col in enumerate(rows[0]):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
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
