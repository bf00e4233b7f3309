"""``compplan pulse``: actual results against the plan, and the smallest re-tune (MODEL.md 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from compplan.api import guardrail_lines, headline, retune_rows
from compplan.cli.common import (
    POSITIVE,
    ExitError,
    Reporter,
    err_console,
    fail,
    force_option,
    import_in_background,
    out_console,
    output_set,
)
from compplan.errors import CompplanError


@click.command("pulse")
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plan")
@click.option("--actuals", "actuals_file", type=click.Path(),
              help="Attainment of the elapsed periods, in the form of attainment.csv "
                   "(CSV or Parquet); for an organisation a folder of <role id>.csv.")
@click.option("--from", "year_start", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="For a case from transactions ([source]): the plan year's first day; "
                   "the periods before it are the history, those from it on the actuals.")
@click.option("--year-periods", type=click.IntRange(min=1),
              help="Periods in the plan year (default: [case] periods_per_year, else the "
                   "periods of the case's history).")
@click.option("--out", "out_dir", default="out/pulse", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for pulse.json and pulse.md.")
@click.option("--allow-new-metrics", is_flag=True,
              help="Let the re-tune add or drop metrics (the design rules still hold).")
@click.option("--time-limit", type=POSITIVE,
              help="Seconds the re-tune's solver may take in all.")
@click.option("--tail-method", type=click.Choice(["auto", "full", "cuts"]), default="auto",
              show_default=True, help="How tail guardrails enter the model.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on the terminal.")
def pulse_command(case: str, plan: str, actuals_file: str | None, year_start: Any,
                  year_periods: int | None,
                  out_dir: str, allow_new_metrics: bool, time_limit: float | None,
                  tail_method: str, force: bool, quiet: bool) -> None:
    """Compare what PLAN paid so far with what it was designed to pay, and re-tune it.

    PLAN is a plan.json written by optimise, a TOML file of [[metrics]] tables, or
    'current'. Writes pulse.json and pulse.md to --out; exits 3 (with
    infeasibility.json) when no re-tune with the plan's metrics saves the year.

    CASE may be an organisation folder (holding org.toml): PLAN is then the
    org_plan.json of `compplan optimise ORG_DIR` (or its folder, or 'current') and
    --actuals a folder holding one file per role, <role id>.csv or .parquet. Writes
    org_pulse.json, org_pulse.md and <role>/pulse.json, pulse.md per role; the re-tune
    changes every role's plan jointly, within the organisation's remaining cap.

    For a case from transactions, --from DATE (the plan year's first day) replaces
    --actuals: the periods of the case's source before DATE are its history, those from
    DATE on the year so far.

    Example (the bundled case, its plan designed by optimise, six months of actuals):

    \b
        compplan optimise cases/enterprise_first --out plans/fy27
        compplan pulse cases/enterprise_first plans/fy27/plan.json \\
            --actuals cases/enterprise_first/actuals.csv --out pulse
        compplan optimise cases/gtm_org --out plans/org
        compplan pulse cases/gtm_org plans/org/org_plan.json \\
            --actuals cases/gtm_org/actuals --out pulse-org
    """  # noqa: D301 (\b keeps click from re-wrapping the example)
    from compplan import api

    solver_import = import_in_background("compplan.optimizer.pulse")
    out = Path(out_dir)
    # One transaction: pulse.json, pulse.md (and infeasibility.json) land together.
    notes: list[str] = []  # said with a write failure (a full disk): the diagnosis is kept
    with output_set(out_dir, force=force,
                    inputs=[p for p in (case, actuals_file, plan) if p is not None],
                    notes=notes) as folder:
        try:
            with Reporter(quiet) as reporter:
                solver_import.join()
                result = api.pulse(case, plan, actuals_file,
                                   year_start=None if year_start is None else year_start.date(),
                                   year_periods=year_periods,
                                   allow_new_metrics=allow_new_metrics,
                                   tail_method=tail_method,
                                   time_limit=time_limit, progress=reporter.step,
                                   chunk_progress=reporter.chunks)
        except KeyboardInterrupt:
            raise ExitError("interrupted: nothing was written", 130) from None
        except CompplanError as exc:
            fail(exc)
        for warning in result.warnings:
            err_console.print(f"warning: {warning}")
        if result.infeasibility is not None:
            notes.append(result.message)
        written = [out / p.relative_to(folder) for p in result.write_into(folder)]
    doc = result.document
    if not quiet:
        if result.org:
            org_summary(doc)
            out_console.print(f"wrote {written[0]}, {written[1]} and each role's pulse.json, "
                              f"pulse.md in {out}/<role>")
        else:
            summary(doc)
            out_console.print(f"wrote {', '.join(str(p) for p in written)}")
    if result.infeasibility is not None:
        raise ExitError(f"{result.message}\n(details in {out / 'infeasibility.json'})", 3)


def summary(doc: dict[str, Any]) -> None:
    """What a finance lead reads in a minute: pace, forecast, guardrails, the re-tune, drift."""
    say = out_console.print
    say(f"Pulse check of {doc['case']} (money {doc['money']}, {doc['currency']})")
    for line in headline(doc):
        say(f"  {line}")
    if doc["guardrails"]:
        say("Guardrails, now and projected:")
    for line in guardrail_lines(doc):
        say(f"  {line}")
    rt = doc["retune"]
    if rt is None:
        say(f"Re-tune: none. {doc.get('retune_note', '')}")
    elif rt["unchanged"]:
        say("Re-tune: none needed, the plan in force fits the rest of the year.")
    else:
        say(f"Re-tune (least change {rt['change']:.4f}):")
        rows = retune_rows(doc)
        width = max(len(r[0]) for r in rows)
        say(f"  {'':{width}}  {'in force':>14}  {'re-tune':>14}")
        for what, before, after in rows:
            say(f"  {what:{width}}  {before:>14}  {after:>14}")
    flagged = [m for m in doc["drift"]["metrics"]
               if m.get("calibration") and not m["calibration"]["ok"]]
    shifts = [f"{m['id']} {m['shift']:+.2f}" for m in doc["drift"]["metrics"]
              if m["shift"] is not None]
    if shifts:
        say("Drift (mean shift in spreads of the history): " + ", ".join(shifts))
    for m in flagged:
        say(f"  {m['id']} out of calibration: {'; '.join(m['calibration']['notes'])}")
    seg = doc["drift"]["segments"]
    if seg:
        say(f"By {seg['column']}, paid / expected to date: " + ", ".join(
            f"{g['segment']} {g['ratio']:.0%}" for g in seg["groups"] if g["ratio"] is not None))


def org_summary(doc: dict[str, Any]) -> None:
    """The organisation's pulse on the terminal: totals, each role, the joint re-tune."""
    from compplan.api import org_headline, org_retune_rows, org_role_rows

    say = out_console.print
    say(f"Pulse check of {doc['org']} (money {doc['money']}, {doc['currency']})")
    for line in org_headline(doc):
        say(f"  {line}")
    header = ["role", "paid to date", "expected", "forecast", "remaining cap", "re-tune change"]
    rows = [header, *org_role_rows(doc)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        say("  " + row[0].ljust(widths[0]) + "".join(
            f"  {cell:>{w}}" for cell, w in zip(row[1:], widths[1:], strict=True)))
    rt = doc["retune"]
    if rt is None:
        say(f"Re-tune: none. {doc.get('retune_note', '')}")
    elif rt["unchanged"]:
        say("Re-tune: none needed, the plans in force fit the rest of the year.")
    else:
        say(f"Joint re-tune (least total change {rt['change']:.4f}):")
        rows = org_retune_rows(doc)
        width = max(len(r[0]) for r in rows)
        say(f"  {'':{width}}  {'in force':>14}  {'re-tune':>14}")
        for what, before, after in rows:
            say(f"  {what:{width}}  {before:>14}  {after:>14}")


COMMANDS = [pulse_command]
