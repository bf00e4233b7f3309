"""Commands that make reports people look at: report (HTML with charts) and export (XLSX)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from compplan.cli.common import (
    ExitError,
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

if TYPE_CHECKING:
    from compplan.models.actuals import Actuals


def _batch(folder: str | None, case: Case) -> pd.DataFrame | None:
    if folder is None:
        return None
    from compplan.batch.store import check_batch_of

    try:
        check_batch_of(folder, case)  # another case's candidates are not this case's plans
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


def _actuals(file: str, case: Case, plan: Plan) -> Actuals:
    """The actuals of the plan year, checked against the case and the plan's metrics."""
    from compplan.models.actuals import read_actuals

    try:
        return read_actuals(file, case, [m.id for m in plan.metrics])
    except CompplanError as exc:
        fail(exc)


def _pulse(case: Case, plan: Plan, actuals: Actuals, coeffs: Coefficients,
           year_periods: int | None, quiet: bool) -> dict[str, Any]:
    """The pulse check of the plan (pulse.json); a plan beyond repair is shown, not an error."""
    from compplan.optimizer.pulse import pulse_check

    try:
        with Reporter(quiet) as reporter:
            checked = pulse_check(case, plan, actuals, year_periods=year_periods,
                                  coefficients=coeffs, progress=reporter.step)
    except CompplanError as exc:
        fail(exc)
    return checked.document


@click.command("report")
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plan")
@click.option("--compare", "compare", multiple=True, metavar="PLAN",
              help="Another plan to show beside PLAN (a plan.json, a TOML plan or `current`). "
                   "Repeatable.")
@click.option("--batch", "batch_dir", type=click.Path(file_okay=False),
              help="Output folder of `compplan batch`: adds the frontier of its candidates.")
@click.option("--actuals", "actuals_file", type=click.Path(dir_okay=False),
              help="Attainment of the elapsed periods of the plan year (the form of "
                   "attainment.csv): adds the pulse check of PLAN (see `compplan pulse`).")
@click.option("--year-periods", type=click.IntRange(min=1),
              help="With --actuals: periods in the plan year (default: [case] "
                   "periods_per_year, else the periods of the case's history).")
@click.option("--out", "out_file", default="report.html", show_default=True,
              help="The HTML file to write ('-': standard output).")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def report(case: str, plan: str, compare: tuple[str, ...], batch_dir: str | None,
           actuals_file: str | None, year_periods: int | None, out_file: str,
           quiet: bool) -> None:
    """Write the plan report: one self-contained HTML page with charts.

    The plan at a glance, its payout curves (today's plan drawn over them when the
    case has one), the total payout over the scenarios with the budget and CVaR
    lines, rep earnings, segment parity, alignment by goal, the frontier of a batch,
    and the plan document of `compplan explain`. With --actuals, the year so far:
    the cumulative payout by period against the expected path and its P10-P90 band,
    the guardrails now and projected, the re-tune beside the plan in force, and the
    drift (as `compplan pulse`). The page loads nothing and runs no script: it works
    offline, on a laptop or a phone.

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
        compplan report cases/enterprise_first plans/fy27/plan.json \\
            --actuals cases/enterprise_first/actuals.csv --out report.html
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    if is_org_folder(case):
        if actuals_file is not None:
            raise ExitError("--actuals applies to a case's report; for an organisation run "
                            "compplan pulse ORG_DIR PLAN --actuals DIR", 2)
        from compplan.cli.org_views import report_org_folder

        report_org_folder(case, plan, out_file, compare=compare, batch_dir=batch_dir,
                          quiet=quiet)
        return
    inputs = [p for p in (plan, *compare) if p != CURRENT_PLAN] + (
        [actuals_file] if actuals_file is not None else [])
    out = output_file(out_file, suffixes=(".html", ".htm"), inputs=inputs, stdout=True)
    loaded = load(case)
    named = load_plans(loaded, [plan, *compare])
    batch = _batch(batch_dir, loaded)
    # Today's plan is drawn over the payout curves even when not compared.
    today = ([(CURRENT_PLAN, Plan.from_spec(loaded, loaded.current_plan))]
             if loaded.current_plan is not None and CURRENT_PLAN not in (plan, *compare) else [])
    actuals = (_actuals(actuals_file, loaded, named[0][1])
               if actuals_file is not None else None)
    coeffs, results = _outcomes(loaded, [*named, *today], quiet)
    subjects, reference = results[:len(named)], (results[-1] if today else None)
    pulse = (_pulse(loaded, named[0][1], actuals, coeffs, year_periods, quiet)
             if actuals is not None else None)
    try:
        html = render_report(ReportInput(
            loaded, subjects, plan, reference=reference,
            document=explanation_with_case(loaded, subjects[0].plan, plan, coeffs),
            batch=batch, batch_source=batch_dir,
            readings=_readings(loaded, coeffs, results, quiet),
            pulse=pulse, pulse_source=actuals_file))
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
@click.option("--actuals", "actuals_file", type=click.Path(dir_okay=False),
              help="Attainment of the elapsed periods of the plan year (the form of "
                   "attainment.csv): adds the Pulse sheet (see `compplan pulse`).")
@click.option("--year-periods", type=click.IntRange(min=1),
              help="With --actuals: periods in the plan year (default: [case] "
                   "periods_per_year, else the periods of the case's history).")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def export(case: str, plan: str, xlsx: str, batch_dir: str | None, actuals_file: str | None,
           year_periods: int | None, quiet: bool) -> None:
    """Export PLAN under CASE as a workbook for finance.

    A live workbook: the plan's weights, thresholds, caps and rates sit in named
    cells of the Plan sheet, and formulas recompute from them a rep's payout
    (Calculator), each rep's rates (Rep rates, when the case has quotas.csv), the
    total payout of each scenario (Scenarios) and the expected cost beside today's
    plan (Current vs designed); Evaluation, Segments, Pulse (with --actuals: the year
    so far, guardrails now and projected, the re-tune, drift), Candidates (with
    --batch) and About hold compplan's figures. Sheets print landscape, one page wide, headers
    repeated; case text never becomes a formula.

    For a folder holding org.toml (PLAN `current` or an org_plan.json): an
    Organisation sheet (a row per role, the total by formula, today's plans beside),
    Org scenarios, Org rules, Conflict map, and a sheet per role with its plan.

    Example:

    \b
        compplan export cases/enterprise_first plans/fy27/plan.json --xlsx plan.xlsx
        compplan export cases/gtm_org plans/gtm/org_plan.json --xlsx org.xlsx
        compplan export cases/enterprise_first plans/fy27/plan.json \\
            --actuals cases/enterprise_first/actuals.csv --xlsx plan.xlsx
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    if is_org_folder(case):
        from compplan.cli.org_views import export_org_folder

        export_org_folder(case, plan, xlsx, batch_dir=batch_dir, quiet=quiet)
        return
    # openpyxl takes a tenth of a second to import: only the command that writes needs it.
    from compplan.render.workbook import build_workbook, workbook_bytes, write_workbook

    inputs = ([] if plan == CURRENT_PLAN else [plan]) + (
        [actuals_file] if actuals_file is not None else [])
    out = output_file(xlsx, suffixes=(".xlsx",), inputs=inputs,
                      stdout=True)
    loaded = load(case)
    (_, chosen), = load_plans(loaded, [plan])
    batch = _batch(batch_dir, loaded)
    actuals = _actuals(actuals_file, loaded, chosen) if actuals_file is not None else None
    today = ([(CURRENT_PLAN, Plan.from_spec(loaded, loaded.current_plan))]
             if loaded.current_plan is not None and plan != CURRENT_PLAN else [])
    coeffs, results = _outcomes(loaded, [(plan_name(plan, set()), chosen), *today], quiet)
    result = results[0]
    pulse = (_pulse(loaded, chosen, actuals, coeffs, year_periods, quiet)
             if actuals is not None else None)
    book = build_workbook(loaded, result, source=plan, batch=batch, batch_source=batch_dir,
                          readings=_readings(loaded, coeffs, [result], quiet)[result.name],
                          coeffs=coeffs, current=results[1] if today else None, pulse=pulse)
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
