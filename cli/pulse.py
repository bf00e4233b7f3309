"""``compplan pulse``: actual results against the plan, and the smallest re-tune (MODEL.md 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from compplan.cli.common import (
    POSITIVE,
    ExitError,
    Reporter,
    fail,
    force_option,
    import_in_background,
    load,
    load_plans,
    out_console,
    output_set,
)
from compplan.errors import CompplanError, UsageError
from compplan.models.output import write_json
from compplan.render.pulse import guardrail_lines, headline, retune_rows, write_pulse


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
@click.option("--out", "out_dir", default="pulse", show_default=True,
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
    from compplan.models.org import is_org_folder

    if (actuals_file is None) == (year_start is None):
        fail(UsageError("give --actuals FILE, or --from DATE for a case from transactions "
                        "([source] in case.toml)"))
    if is_org_folder(case):
        if year_start is not None:
            fail(UsageError("--from applies to a case from transactions; give an "
                            "organisation's actuals with --actuals"))
        assert actuals_file is not None
        if allow_new_metrics:
            fail(UsageError("--allow-new-metrics applies to a case folder; an organisation's "
                            "joint re-tune keeps every role's metrics"))
        pulse_org(case, plan, actuals_file, year_periods=year_periods, out_dir=out_dir,
                  time_limit=time_limit, tail_method=tail_method, force=force, quiet=quiet)
        return
    solver_import = import_in_background("compplan.optimizer.pulse")
    loaded = load(case)
    (_, plan_in_force), = load_plans(loaded, [plan])
    from compplan.models.actuals import read_actuals

    # The plan's metrics and those its gates name (a plan as written, MODEL.md section 9).
    needed = [m.id for m in plan_in_force.metrics]
    needed += [g.metric for m in plan_in_force.metrics
               if (g := getattr(m, "gate", None)) is not None and g.metric not in needed]
    try:
        if year_start is not None:
            loaded, actuals = _from_source(loaded, year_start.date())
        else:
            assert actuals_file is not None
            actuals = read_actuals(actuals_file, loaded, needed)
    except CompplanError as exc:
        fail(exc)
    out = Path(out_dir)
    solver_import.join()
    from compplan.optimizer.pulse import pulse_check

    # One transaction: pulse.json, pulse.md (and infeasibility.json) land together.
    with output_set(out_dir, force=force,
                    inputs=[p for p in (loaded.path, actuals_file, plan)
                            if p is not None]) as folder:
        try:
            with Reporter(quiet) as reporter:
                outcome = pulse_check(loaded, plan_in_force, actuals, year_periods=year_periods,
                                      allow_new_metrics=allow_new_metrics,
                                      tail_method=tail_method,
                                      time_limit=time_limit, progress=reporter.step,
                                      chunk_progress=reporter.chunks)
        except KeyboardInterrupt:
            raise ExitError("interrupted: nothing was written", 130) from None
        except CompplanError as exc:
            fail(exc)
        doc = outcome.document
        written = [out / p.name for p in write_pulse(folder, doc)]
        if outcome.infeasibility is not None:
            written.append(out / "infeasibility.json")
            write_json(folder / "infeasibility.json",
                       {"case": loaded.name, **outcome.infeasibility})
    if not quiet:
        summary(doc)
        out_console.print(f"wrote {', '.join(str(p) for p in written)}")
    if outcome.infeasibility is not None:
        raise ExitError("no re-tune with the plan's metrics saves the year: "
                        + "; ".join(outcome.infeasibility["explanation"])
                        + f"\n(details in {out / 'infeasibility.json'})", 3)


def _from_source(loaded: Any, start: Any) -> tuple[Any, Any]:
    """The history before ``start`` and the actuals from it on, from the case's source."""
    if loaded.ledger is None:
        raise UsageError("--from reads the actuals from the case's [source] (MODEL.md "
                         "section 11), but this case has attainment.csv; give --actuals FILE")
    from compplan.models.ledger import split_at

    return split_at(loaded, start)


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
            f"{g['segment']} {g['ratio']:.2f}" for g in seg["groups"] if g["ratio"] is not None))


def _org_plans(org: Any, plan: str) -> dict[str, Any]:
    """Every role's plan in force: 'current', or the roles' plans beside an org_plan.json."""
    from compplan.models.plan import load_plan

    if plan == "current":
        missing = [r.id for r in org.roles if r.case.current_plan is None]
        if missing:
            raise UsageError(f"'current': the role(s) {', '.join(missing)} have no "
                             "current_plan.toml; give the org_plan.json of compplan optimise")
        return {r.id: load_plan(r.case, "current") for r in org.roles}
    folder = Path(plan).parent if Path(plan).is_file() else Path(plan)
    if not (folder / "org_plan.json").is_file():
        raise UsageError(f"{plan}: give 'current' or an org_plan.json written by compplan "
                         "optimise ORG_DIR (with its role folders beside it)")
    return {r.id: load_plan(r.case, folder / r.id / "plan.json") for r in org.roles}


def pulse_org(org_dir: str, plan: str, actuals_dir: str, *, year_periods: int | None,
              out_dir: str, time_limit: float | None, tail_method: str, force: bool,
              quiet: bool) -> None:
    """``compplan pulse ORG_DIR PLAN --actuals DIR``: every role, the organisation's totals."""
    from compplan.cli.org import load as load_org_folder
    from compplan.models.org_actuals import read_org_actuals
    from compplan.optimizer.org_pulse import org_pulse_check
    from compplan.render.pulse import write_org_pulse

    org = load_org_folder(org_dir)
    try:
        plans = _org_plans(org, plan)
        actuals = read_org_actuals(actuals_dir, org,
                                   {rid: [m.id for m in p.metrics] for rid, p in plans.items()})
    except CompplanError as exc:
        fail(exc)
    out = Path(out_dir)
    with output_set(out_dir, force=force, inputs=[org.path, actuals_dir, plan]) as folder:
        try:
            with Reporter(quiet) as reporter:
                outcome = org_pulse_check(org, plans, actuals, year_periods=year_periods,
                                          tail_method=tail_method,
                                          time_limit=time_limit, progress=reporter.step)
        except KeyboardInterrupt:
            raise ExitError("interrupted: nothing was written", 130) from None
        except CompplanError as exc:
            fail(exc)
        doc = outcome.document
        written = [out / p.relative_to(folder) for p in write_org_pulse(folder, doc)]
        if outcome.beyond_repair:
            write_json(folder / "infeasibility.json",
                       {"org": doc["org"], "status": "infeasible",
                        "explanation": [doc["retune_note"]]})
    if not quiet:
        org_summary(doc)
        out_console.print(f"wrote {written[0]}, {written[1]} and each role's pulse.json, "
                          f"pulse.md in {out}/<role>")
    if outcome.beyond_repair:
        raise ExitError("no joint re-tune with the roles' metrics saves the year: "
                        + doc["retune_note"]
                        + f"\n(details in {out / 'infeasibility.json'})", 3)


def org_summary(doc: dict[str, Any]) -> None:
    """The organisation's pulse on the terminal: totals, each role, the joint re-tune."""
    from compplan.render.pulse import org_headline, org_retune_rows, org_role_rows

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
