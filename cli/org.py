"""Commands on an organisation folder (one holding ``org.toml``, MODEL.md section 7).

``optimise``, ``validate`` and ``min-budget`` detect ``org.toml`` in their folder
argument and hand over to the functions here; the Python API is
:func:`compplan.optimizer.org_pipeline.optimise_org`.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from compplan.cli.common import (
    ExitError,
    Reporter,
    err_console,
    fail,
    out_console,
    output_set,
)
from compplan.errors import CompplanError, UsageError
from compplan.models import fmt
from compplan.models.money import money_per
from compplan.models.org import Org, load_org
from compplan.models.output import run_record, write_json, write_plan


def load(org_dir: str, budget: float | None = None) -> Org:
    """Load an organisation folder, with the organisation cap replaced by ``budget``."""
    try:
        org = load_org(org_dir)
    except CompplanError as exc:
        fail(exc)
    if budget is not None:
        spec_budget = org.spec.budget.model_copy(update={"expected_cap": budget})
        org = _replace_spec(org, org.spec.model_copy(update={"budget": spec_budget}))
    for warning in org.warnings:
        err_console.print(f"warning: {warning}")
    return org


def _replace_spec(org: Org, spec: Any) -> Org:
    from dataclasses import replace

    return replace(org, spec=spec)


def org_money_per(org: Org) -> str:
    """``per year`` or ``per period``: every role's money has the same unit of time."""
    return money_per(org.roles[0].case)


def refuse(option: str, value: object) -> None:
    """Exit 2 for a single-case option given with an organisation folder."""
    if value is not None:
        fail(UsageError(f"{option} applies to a case folder, not to an organisation "
                        "(set it in each role's case.toml)"))


def _write(out: Path, outcome: Any, started: float) -> list[Path]:
    """org_plan.json, run.json and every role's plan files, into the staging folder ``out``."""
    written = [out / "org_plan.json"]
    for role in outcome.roles:
        written += write_plan(out / role.role.id, role.role.case, role.plan, role.document)
    write_json(written[0], outcome.document)
    write_json(out / "run.json", run_record(started, outcome.result.seconds))
    return written


def optimise_org_folder(org_dir: str, out_dir: str, *, time_limit: float | None,
                        budget: float | None, tail_method: str, quiet: bool,
                        force: bool = False) -> None:
    """``compplan optimise ORG_DIR``: design every role's plan and write org_plan.json."""
    from compplan import api

    org = load(org_dir, budget)
    out = Path(out_dir)
    started = time.time()
    notes: list[str] = []
    # One transaction: org_plan.json and every role's files land together or not at all.
    with output_set(out_dir, force=force, inputs=[org.path], notes=notes) as folder:
        try:
            with Reporter(quiet) as reporter:
                result = api.optimise_org(org, time_limit=time_limit,
                                          tail_method=tail_method,
                                          progress=reporter.step)
            if result.status is api.Status.NO_SOLUTION:
                result.raise_for_status()  # nothing is committed: no empty folder is left
        except KeyboardInterrupt:
            raise ExitError("interrupted: no plan was written", 130) from None
        except CompplanError as exc:
            fail(exc)
        if result.status is api.Status.INFEASIBLE:
            notes.append(result.message)
            write_json(folder / "infeasibility.json", result.diagnosis or {})
        else:
            assert result.outcome is not None  # a status with plans
            outcome = result.outcome
            _write(folder, outcome, started)
    if result.status is api.Status.INFEASIBLE:
        raise ExitError(f"{result.message}\n(details in {out / 'infeasibility.json'})", 3)
    if not quiet:
        summary(org, outcome.document)
        out_console.print(f"wrote {out / 'org_plan.json'} and the plan files of "
                          f"{len(org.roles)} roles under "
                          f"{', '.join(str(out / r.id) for r in org.roles)}")


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


def min_budget_org_folder(org_dir: str, out_dir: str | None, *, time_limit: float | None,
                          quiet: bool, force: bool = False) -> None:
    """``compplan min-budget ORG_DIR``: the smallest organisation cap and its split."""
    from compplan import api

    org = load(org_dir)
    started = time.time()
    with (output_set(out_dir, force=force, inputs=[org.path]) if out_dir is not None
          else contextlib.nullcontext()) as folder:
        try:
            with Reporter(quiet) as reporter:
                result = api.min_budget_org(org, time_limit=time_limit,
                                            progress=reporter.step)
            if folder is None or result.status is api.Status.NO_SOLUTION:
                result.raise_for_status()
        except CompplanError as exc:
            fail(exc)
        if folder is not None and result.status is api.Status.INFEASIBLE:
            # As optimise: the explanation replaces an earlier run's plans (MODEL.md s. 6).
            write_json(folder / "infeasibility.json", result.diagnosis or {})
        elif folder is not None:
            assert result.outcome is not None  # a status with plans
            _write(folder, result.outcome, started)
    if result.status is api.Status.INFEASIBLE:
        details = Path(str(out_dir)) / "infeasibility.json"
        raise ExitError(f"{result.message}\n(details in {details})", 3)
    outcome = result.outcome
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
        if out_dir is not None:
            out_console.print(f"wrote {Path(out_dir) / 'org_plan.json'} and the roles' plans")


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
