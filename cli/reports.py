"""Commands that make reports people look at: report (HTML with charts) and export (XLSX)."""

from __future__ import annotations

import sys

import click

from compplan.api import CURRENT_PLAN
from compplan.cli.common import (
    Reporter,
    cannot_write,
    elasticities,
    fail,
    load_source,
    out_console,
    output_file,
)
from compplan.errors import CompplanError


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
@click.option("--elasticity", "elasticity", metavar="E1,E2,...",
              help="A case with [response]: the plan also under each elasticity of the "
                   "list (each replacing every metric's), with a chart of expected payout "
                   "and net value against the elasticity.")
@click.option("--out", "out_file", default="out/report.html", show_default=True,
              help="The HTML file to write ('-': standard output).")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def report(case: str, plan: str, compare: tuple[str, ...], batch_dir: str | None,
           actuals_file: str | None, year_periods: int | None, elasticity: str | None,
           out_file: str, quiet: bool) -> None:
    """Write the plan report: one self-contained HTML page with charts.

    The plan at a glance, its payout curves (today's plan drawn over them when the
    case has one), the total payout over the scenarios with the budget and CVaR
    lines, rep earnings, segment parity, alignment by goal, the frontier of a batch,
    and the plan document of `compplan explain`. With --actuals, the year so far:
    the cumulative payout by period against the expected path and its P10-P90 band,
    the guardrails now and projected, the re-tune beside the plan in force, and the
    drift (as `compplan pulse`). For a case with [response]: every payout figure static
    and under response side by side, and with --elasticity under each elasticity of
    the list, charted. The page loads nothing and runs no script: it works offline,
    on a laptop or a phone.

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
        compplan report cases/subscription_response current --elasticity 0,0.2,0.4 \\
            --out response_report.html
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    from compplan import api

    band = elasticities(elasticity)
    inputs = [p for p in (plan, *compare) if p != CURRENT_PLAN] + (
        [actuals_file] if actuals_file is not None else [])
    out = output_file(out_file, suffixes=(".html", ".htm"), inputs=inputs, stdout=True)
    source = load_source(case)
    try:
        with Reporter(quiet) as reporter:
            page = api.report(source, plan, compare=compare, batch=batch_dir,
                              actuals=actuals_file, year_periods=year_periods,
                              progress=reporter.step, chunk_progress=reporter.chunks,
                              elasticity=band)
    except CompplanError as exc:
        fail(exc)
    if out is None:
        sys.stdout.write(page.html)
        return
    try:
        page.write(out)
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
@click.option("--elasticity", "elasticity", metavar="E1,E2,...",
              help="A case with [response]: adds the Response band sheet, the plan's "
                   "figures under each elasticity of the list (each replacing every "
                   "metric's).")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def export(case: str, plan: str, xlsx: str, batch_dir: str | None, actuals_file: str | None,
           year_periods: int | None, elasticity: str | None, quiet: bool) -> None:
    """Export PLAN under CASE as a workbook for finance.

    A live workbook: the plan's weights, thresholds, caps and rates sit in named
    cells of the Plan sheet, and formulas recompute from them a rep's payout
    (Calculator), each rep's rates (Rep rates, when the case has quotas.csv), the
    total payout of each scenario (Scenarios) and the expected cost beside today's
    plan (Current vs designed); Evaluation, Segments, Pulse (with --actuals: the year
    so far, guardrails now and projected, the re-tune, drift), Candidates (with
    --batch) and About hold compplan's figures. A case with [response] adds the
    Response sheet: per metric the multiplier, volume and value change by formula from
    the Plan sheet's weights and rates, the payout figures static and under response,
    the net value by formula; with --elasticity the Response band sheet. Sheets print
    landscape, one page wide, headers repeated; case text never becomes a formula.

    For a folder holding org.toml (PLAN `current` or an org_plan.json): an
    Organisation sheet (a row per role, the total by formula, today's plans beside),
    Org scenarios, Org rules, Conflict map, and a sheet per role with its plan.

    Example:

    \b
        compplan export cases/enterprise_first plans/fy27/plan.json --xlsx plan.xlsx
        compplan export cases/gtm_org plans/gtm/org_plan.json --xlsx org.xlsx
        compplan export cases/enterprise_first plans/fy27/plan.json \\
            --actuals cases/enterprise_first/actuals.csv --xlsx plan.xlsx
        compplan export cases/subscription_response current --elasticity 0,0.3 \\
            --xlsx response.xlsx
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    from compplan import api

    band = elasticities(elasticity)
    inputs = ([] if plan == CURRENT_PLAN else [plan]) + (
        [actuals_file] if actuals_file is not None else [])
    out = output_file(xlsx, suffixes=(".xlsx",), inputs=inputs, stdout=True)
    source = load_source(case)
    try:
        with Reporter(quiet) as reporter:
            book = api.export(source, plan, batch=batch_dir, actuals=actuals_file,
                              year_periods=year_periods, progress=reporter.step,
                              chunk_progress=reporter.chunks, elasticity=band)
    except CompplanError as exc:
        fail(exc)
    if out is None:
        sys.stdout.buffer.write(book.to_bytes())
        return
    try:
        book.write(out)
    except OSError as exc:
        cannot_write(out, exc)
    if not quiet:
        out_console.print(f"wrote {out}")


COMMANDS: list[click.Command] = [report, export]
