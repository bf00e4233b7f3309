"""Commands that make reports people look at: report (HTML with charts) and export (XLSX)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import pandas as pd

from compplan.cli.common import (
    Reporter,
    cannot_write,
    fail,
    load,
    load_plans,
    out_console,
    output_file,
    plan_name,
)
from compplan.errors import CompplanError
from compplan.models.case import CURRENT_PLAN, Case
from compplan.models.org import is_org_folder
from compplan.models.output import write_atomic
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients, compute_coefficients
from compplan.optimizer.evaluate import expected_revenue
from compplan.optimizer.understand import Readings, best_alignment, readings
from compplan.render.explain import explanation_with_case
from compplan.render.report import Outcome, ReportInput, outcome, read_batch, render_report


def _batch(folder: str | None) -> pd.DataFrame | None:
    if folder is None:
        return None
    try:
        batch = read_batch(folder)
    except CompplanError as exc:
        fail(exc)
    return batch


def _outcomes(case: Case, named: Sequence[tuple[str, Plan]],
              quiet: bool) -> tuple[Coefficients, list[Outcome]]:
    try:
        with Reporter(quiet) as reporter:
            reporter.step("computing payouts under the case's scenarios")
            coeffs = compute_coefficients(case, progress=reporter.chunks)
            revenue = expected_revenue(case)
        results = [outcome(case, coeffs, plan, name, revenue=revenue) for name, plan in named]
    except CompplanError as exc:
        fail(exc)
    return coeffs, results


def _readings(case: Case, coeffs: Coefficients, results: Sequence[Outcome],
              quiet: bool) -> dict[str, Readings]:
    """The alignment's readings of each plan, against the best plan within the guardrails."""
    with Reporter(quiet) as reporter:
        reporter.step("solving for the best plan within the guardrails (the alignment's scale)")
        best = best_alignment(case, coeffs)
    return {o.name: readings(case, coeffs, o.plan, o.evaluation.alignment, best)
            for o in results}


@click.command("report")
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plan")
@click.option("--compare", "compare", multiple=True, metavar="PLAN",
              help="Another plan to show beside PLAN (a plan.json, a TOML plan or `current`). "
                   "Repeatable.")
@click.option("--batch", "batch_dir", type=click.Path(file_okay=False),
              help="Output folder of `compplan batch`: adds the frontier of its candidates.")
@click.option("--out", "out_file", default="report.html", show_default=True,
              help="The HTML file to write ('-': standard output).")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def report(case: str, plan: str, compare: tuple[str, ...], batch_dir: str | None,
           out_file: str, quiet: bool) -> None:
    """Write the plan report: one self-contained HTML page with charts.

    The plan at a glance, its payout curves (today's plan drawn over them when the
    case has one), the total payout over the scenarios with the budget and CVaR
    lines, rep earnings, segment parity, alignment by goal, the frontier of a batch,
    and the plan document of `compplan explain`. The page loads nothing and runs no
    script: it works offline, on a laptop or a phone.

    PLAN is a plan.json written by `compplan optimise`, a TOML file of [[metrics]]
    tables, or `current`.

    For a folder holding org.toml (PLAN `current` or an org_plan.json): the
    organisation page, with the budget across roles, the organisation's total over
    the scenarios, its rules, the conflict map as a goal x role matrix coloured by
    direction, and each role's plan; today's plans beside the designed ones.

    Example:

    \b
        compplan report cases/enterprise_first plans/fy27/plan.json --out report.html
        compplan report cases/gtm_org plans/gtm/org_plan.json --out org_report.html
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    if is_org_folder(case):
        from compplan.cli.org_views import report_org_folder

        report_org_folder(case, plan, out_file, compare=compare, batch_dir=batch_dir,
                          quiet=quiet)
        return
    inputs = [p for p in (plan, *compare) if p != CURRENT_PLAN]
    out = output_file(out_file, suffixes=(".html", ".htm"), inputs=inputs, stdout=True)
    loaded = load(case)
    named = load_plans(loaded, [plan, *compare])
    batch = _batch(batch_dir)
    # Today's plan is drawn over the payout curves even when not compared.
    today = ([(CURRENT_PLAN, Plan.from_spec(loaded, loaded.current_plan))]
             if loaded.current_plan is not None and CURRENT_PLAN not in (plan, *compare) else [])
    coeffs, results = _outcomes(loaded, [*named, *today], quiet)
    subjects, reference = results[:len(named)], (results[-1] if today else None)
    try:
        html = render_report(ReportInput(
            loaded, subjects, plan, reference=reference,
            document=explanation_with_case(loaded, subjects[0].plan, plan, coeffs),
            batch=batch, batch_source=batch_dir,
            readings=_readings(loaded, coeffs, results, quiet)))
    except CompplanError as exc:
        fail(exc)
    if out is None:
        sys.stdout.write(html)
        return
    try:
        write_atomic(out, html)
    except OSError as exc:
        cannot_write(out, exc)
    if not quiet:
        out_console.print(f"wrote {out}")


@click.command("export")
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plan")
@click.option("--xlsx", "xlsx", required=True,
              help="The workbook to write (.xlsx; '-': standard output).")
@click.option("--batch", "batch_dir", type=click.Path(file_okay=False),
              help="Output folder of `compplan batch`: adds a Candidates sheet.")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def export(case: str, plan: str, xlsx: str, batch_dir: str | None, quiet: bool) -> None:
    """Export PLAN under CASE as a workbook for finance.

    A live workbook: the plan's weights, thresholds, caps and rates sit in named
    cells of the Plan sheet, and formulas recompute from them a rep's payout
    (Calculator), each rep's rates (Rep rates, when the case has quotas.csv), the
    total payout of each scenario (Scenarios) and the expected cost beside today's
    plan (Current vs designed); Evaluation, Segments, Candidates (with --batch) and
    About hold compplan's figures. Sheets print landscape, one page wide, headers
    repeated; case text never becomes a formula.

    For a folder holding org.toml (PLAN `current` or an org_plan.json): an
    Organisation sheet (a row per role, the total by formula, today's plans beside),
    Org scenarios, Org rules, Conflict map, and a sheet per role with its plan.

    Example:

    \b
        compplan export cases/enterprise_first plans/fy27/plan.json --xlsx plan.xlsx
        compplan export cases/gtm_org plans/gtm/org_plan.json --xlsx org.xlsx
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    if is_org_folder(case):
        from compplan.cli.org_views import export_org_folder

        export_org_folder(case, plan, xlsx, batch_dir=batch_dir, quiet=quiet)
        return
    # openpyxl takes a tenth of a second to import: only the command that writes needs it.
    from compplan.render.workbook import build_workbook, workbook_bytes, write_workbook

    out = output_file(xlsx, suffixes=(".xlsx",), inputs=[] if plan == CURRENT_PLAN else [plan],
                      stdout=True)
    loaded = load(case)
    (_, chosen), = load_plans(loaded, [plan])
    batch = _batch(batch_dir)
    today = ([(CURRENT_PLAN, Plan.from_spec(loaded, loaded.current_plan))]
             if loaded.current_plan is not None and plan != CURRENT_PLAN else [])
    coeffs, results = _outcomes(loaded, [(plan_name(plan, set()), chosen), *today], quiet)
    result = results[0]
    book = build_workbook(loaded, result, source=plan, batch=batch, batch_source=batch_dir,
                          readings=_readings(loaded, coeffs, [result], quiet)[result.name],
                          coeffs=coeffs, current=results[1] if today else None)
    if out is None:
        sys.stdout.buffer.write(workbook_bytes(book))
        return
    try:
        write_workbook(out, book)
    except OSError as exc:
        cannot_write(out, exc)
    if not quiet:
        out_console.print(f"wrote {out}")


COMMANDS: list[click.Command] = [report, export]
