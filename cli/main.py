"""The ``compplan`` command line: a thin layer over models/ and optimizer/.

Exit codes (MODEL.md section 6): 0 a plan was written; 2 bad input or usage;
3 no plan satisfies the constraints; 4 a solver limit was reached before any plan.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from compplan import __version__
from compplan.cli import batch, documents, reports, views
from compplan.cli.common import (
    POSITIVE,
    ExitError,
    Reporter,
    captured_warnings,
    fail,
    force_option,
    import_in_background,
    load,
    out_console,
    output_set,
)
from compplan.errors import CompplanError, InfeasibleError
from compplan.models.case import Case
from compplan.models.output import run_record, write_json, write_plan
from compplan.models.scenarios import build_scenarios

if TYPE_CHECKING:
    from compplan.optimizer.pipeline import Outcome

_SOLVER_MODULE = "compplan.optimizer.pipeline"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="compplan")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Design sales compensation plans that pay for the strategy."""
    ctx.with_resource(captured_warnings())


@main.command()
@click.argument("case", required=False, type=click.Path(file_okay=False))
@click.option("--out", "out_dir", default="plan", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for plan.json, plan.csv, plan.md and rep_rates.csv.")
@click.option("--time-limit", type=POSITIVE,
              help="Seconds the solver may take in all.")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True),
              help="Expected-cost cap per period, replacing [budget] expected_cap.")
@click.option("--max-metrics", type=click.IntRange(1, 3),
              help="At most this many metrics, replacing [design] max_metrics.")
@click.option("--tail-method", type=click.Choice(["auto", "full", "cuts"]), default="auto",
              show_default=True, help="How tail guardrails enter the model.")
@click.option("--reproducible", is_flag=True,
              help="Kept for old scripts: plan.json is now always byte-identical for the "
                   "same case (wall times are in run.json).")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on the terminal.")
def optimise(case: str | None, out_dir: str, time_limit: float | None, budget: float | None,
             max_metrics: int | None, tail_method: str, reproducible: bool, force: bool,
             quiet: bool) -> None:
    """Design the plan of best expected alignment for CASE and write it to --out.

    CASE is a case folder (case.toml, reps.csv, attainment.csv); without it the
    bundled default case is used.

    Example:

        compplan optimise cases/enterprise_first --out plans/fy27 --budget 12000000
    """
    # Pyomo takes a second to import: let it load while the case is read.
    solver_import = import_in_background(_SOLVER_MODULE)
    loaded = load(case, budget, max_metrics)
    out = Path(out_dir)
    started = time.time()
    infeasible: InfeasibleError | None = None
    # Checked and staged before the solve, which may be long: a folder that cannot be
    # written fails now. Every file lands at once when the block ends; an earlier
    # run's files (a plan.json beside a new infeasibility.json) go with the old set.
    notes: list[str] = []
    with output_set(out_dir, force=force, inputs=[loaded.path], notes=notes) as folder:
        try:
            solver_import.join()
            from compplan.optimizer.pipeline import optimise_case

            with Reporter(quiet) as reporter:
                outcome = optimise_case(loaded, time_limit=time_limit,
                                        tail_method=tail_method,
                                        progress=reporter.step, chunk_progress=reporter.chunks)
        except KeyboardInterrupt:
            raise ExitError("interrupted: no plan was written", 130) from None
        except InfeasibleError as exc:
            infeasible = exc
            notes.append(str(exc))  # not lost if the file cannot be written
            write_json(folder / "infeasibility.json", {"case": loaded.name, **exc.report})
        except CompplanError as exc:
            fail(exc)
        if infeasible is None:
            written = write_plan(folder, loaded, outcome.plan, outcome.document)
            write_json(folder / "run.json", run_record(started, outcome.result.seconds))
    if infeasible is not None:
        raise ExitError(f"{infeasible}\n(details in {out / 'infeasibility.json'})", 3)
    if not quiet:
        _summary(loaded, outcome)
        out_console.print(f"wrote {', '.join(str(out / p.name) for p in written)}")


main.add_command(optimise, name="optimize")


@main.command()
@click.argument("case", required=False, type=click.Path(file_okay=False))
def validate(case: str | None) -> None:
    """Check a case folder without solving; exit 2 naming the first problem found.

    Example:

        compplan validate cases/enterprise_first
    """
    loaded = load(case)
    try:
        scenarios = build_scenarios(loaded)
    except CompplanError as exc:
        fail(exc)
    extras = [name for name, present in (("quotas.csv", loaded.quotas is not None),
                                         ("current_plan.toml", loaded.current_plan is not None))
              if present]
    out_console.print(
        f"{loaded.path}: valid. '{loaded.name}': {len(loaded.reps)} reps, "
        f"{len(loaded.metric_ids)} candidate metrics, {len(loaded.periods)} periods, "
        f"{scenarios.count} {scenarios.mode} scenarios"
        + (f"; with {', '.join(extras)}" if extras else ""))


@main.command("min-budget")
@click.argument("case", required=False, type=click.Path(file_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, writable=True),
              help="Also write the cheapest plan (plan.json, plan.csv, plan.md) here.")
@click.option("--time-limit", type=POSITIVE,
              help="Seconds the solver may take in all.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="Only the figure, no progress or table.")
def min_budget(case: str | None, out_dir: str | None, time_limit: float | None,
               force: bool, quiet: bool) -> None:
    """The smallest expected-cost cap that admits a plan meeting every other guardrail.

    Solves for the cheapest plan that meets the design rules and every guardrail but
    [budget] expected_cap (and, among equally cheap plans, the best aligned).

    Example:

        compplan min-budget cases/enterprise_first --out plans/cheapest
    """
    solver_import = import_in_background(_SOLVER_MODULE)
    loaded = load(case)
    out = Path(out_dir) if out_dir is not None else None
    # Checked and staged before the solve; swapped in whole at the end of the block.
    with (output_set(out_dir, force=force, inputs=[loaded.path]) if out is not None
          else contextlib.nullcontext()) as folder:
        solver_import.join()
        from compplan.optimizer.pipeline import cheapest_plan

        try:
            with Reporter(quiet) as reporter:
                outcome = cheapest_plan(loaded, time_limit=time_limit,
                                        progress=reporter.step, chunk_progress=reporter.chunks)
        except CompplanError as exc:
            fail(exc)
        if folder is not None:
            written = write_plan(folder, loaded, outcome.plan, outcome.document)
    cap = loaded.spec.budget.expected_cap
    cur = loaded.spec.case.currency
    figure = outcome.evaluation.expected_cost
    verdict = ("" if cap is None else
               f" (the case's cap {cap:,.0f} {'admits' if figure <= cap else 'is below'} it)")
    out_console.print(f"minimum expected-cost cap: {figure:,.0f} {cur} per period{verdict}")
    if not quiet:
        _summary(loaded, outcome, "cheapest plan")
    if out is not None and not quiet:
        out_console.print(f"wrote {', '.join(str(out / p.name) for p in written)}")


def _summary(case: Case, outcome: Outcome, kind: str = "plan") -> None:
    doc: dict[str, Any] = outcome.document
    ev = outcome.evaluation
    cur = case.spec.case.currency
    table = Table(title=f"{case.name}: {doc['status']} {kind}", title_justify="left")
    for col in ("metric", "weight", "base rate", "accel. rate", "accel. x", "alignment"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m in outcome.plan.metrics:
        table.add_row(m.label, f"{m.weight:.1%}", f"{m.base_rate:.3f}",
                      f"{m.accelerator_rate:.3f}", f"{m.accelerator_multiple:.2f}",
                      f"{ev.alignment_by_metric.get(m.id, 0.0):.4f}")
    out_console.print(table)
    out_console.print(f"expected alignment {ev.alignment:.6f}; expected payout "
                      f"{ev.expected_cost:,.0f} {cur}/period (P90 {ev.total_p90:,.0f}"
                      + (f", CVaR {ev.cvar:,.0f}" if ev.cvar is not None else "") + ")")
    prices = {p.guardrail: p for p in outcome.prices}
    for g in ev.guardrails:
        # The tie-break may leave a binding limit a hair (1e-7 relative) from its value.
        state = "binding" if abs(g.slack) <= 1e-5 * max(1.0, abs(g.limit)) else "slack"
        price = prices.get(g.name)
        cost = (f"; loosening it 1 % would add {price.per_percent:.4g} alignment"
                if price is not None and price.shadow_price > 0 else "")
        out_console.print(f"  {g.setting}: {g.value:,.4g} (limit {g.limit:,.4g}, {state}{cost})")
    result = outcome.result
    out_console.print(f"solver: HiGHS, {result.rounds} solve(s), {result.rows} rows, "
                      f"{result.seconds:.2f}s"
                      + (f", cuts {result.cuts}" if any(result.cuts.values()) else ""))


for _command in (*views.COMMANDS, *documents.COMMANDS, *reports.COMMANDS, *batch.COMMANDS):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
