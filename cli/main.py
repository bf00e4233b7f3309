"""The ``compplan`` command line: a thin layer over models/ and optimizer/.

Exit codes (MODEL.md section 6): 0 a plan was written; 2 bad input or usage;
3 no plan satisfies the constraints; 4 a solver limit was reached before any plan.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from compplan import __version__
from compplan.cli import batch, documents, reports, views
from compplan.cli.common import (
    ExitError,
    Reporter,
    cannot_write,
    fail,
    import_in_background,
    load,
    out_console,
)
from compplan.errors import CompplanError, InfeasibleError
from compplan.models.case import Case
from compplan.models.output import (
    prepare_folder,
    remove_if_empty,
    run_record,
    write_json,
    write_plan,
)
from compplan.models.scenarios import build_scenarios

if TYPE_CHECKING:
    from compplan.optimizer.pipeline import Outcome
    from compplan.optimizer.prices import GuardrailPrice

_SOLVER_MODULE = "compplan.optimizer.pipeline"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="compplan")
def main() -> None:
    """Design sales compensation plans that pay for the strategy."""


@main.command()
@click.argument("case", required=False, type=click.Path(file_okay=False))
@click.option("--out", "out_dir", default="plan", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for plan.json, plan.csv, plan.md and rep_rates.csv.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
              help="Seconds the solver may take in all.")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True),
              help="Expected-cost cap per period, replacing [budget] expected_cap.")
@click.option("--max-metrics", type=click.IntRange(1, 3),
              help="At most this many metrics, replacing [design] max_metrics.")
@click.option("--tail-method", type=click.Choice(["auto", "full", "cuts"]), default="auto",
              show_default=True, help="How tail guardrails enter the model.")
@click.option("--reproducible", is_flag=True,
              help="Leave wall times out of plan.json (solver.seconds is null; run.json "
                   "keeps them), so the same case gives a byte-identical plan.json.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on the terminal.")
def optimise(case: str | None, out_dir: str, time_limit: float | None, budget: float | None,
             max_metrics: int | None, tail_method: str, reproducible: bool,
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
    # Before the solve, which may be long: a folder that cannot be written fails now.
    try:
        created = prepare_folder(out)
    except OSError as exc:
        cannot_write(out, exc)
    started = time.time()
    try:
        solver_import.join()
        from compplan.optimizer.pipeline import optimise_case

        with Reporter(quiet) as reporter:
            outcome = optimise_case(loaded, time_limit=time_limit,
                                    tail_method=tail_method,
                                    progress=reporter.step, chunk_progress=reporter.chunks)
    except KeyboardInterrupt:
        remove_if_empty(created)
        raise ExitError("interrupted: no plan was written", 130) from None
    except InfeasibleError as exc:
        report = {"case": loaded.name, **exc.report}
        try:
            write_json(out / "infeasibility.json", report)
        except OSError as os_exc:
            cannot_write(out, os_exc, f"\n({exc})")
        raise ExitError(f"{exc}\n(details in {out / 'infeasibility.json'})", 3) from None
    except CompplanError as exc:
        remove_if_empty(created)
        fail(exc)
    run = run_record(outcome.document, started, reproducible=reproducible)
    try:
        written = write_plan(out, loaded, outcome.plan, outcome.document)
        write_json(out / "run.json", run)
    except OSError as exc:
        cannot_write(out, exc)
    if not quiet:
        _summary(loaded, outcome)
        out_console.print(f"wrote {', '.join(str(p) for p in written)}")


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
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
              help="Seconds the solver may take in all.")
@click.option("-q", "--quiet", is_flag=True, help="Only the figure, no progress or table.")
def min_budget(case: str | None, out_dir: str | None, time_limit: float | None,
               quiet: bool) -> None:
    """The smallest expected-cost cap that admits a plan meeting every other guardrail.

    Solves for the cheapest plan that meets the design rules and every guardrail but
    [budget] expected_cap (and, among equally cheap plans, the best aligned).

    Example:

        compplan min-budget cases/enterprise_first --out plans/cheapest
    """
    solver_import = import_in_background(_SOLVER_MODULE)
    loaded = load(case)
    out = Path(out_dir) if out_dir is not None else None
    created: list[Path] = []
    if out is not None:
        try:
            created = prepare_folder(out)
        except OSError as exc:
            cannot_write(out, exc)
    solver_import.join()
    from compplan.optimizer.pipeline import cheapest_plan

    try:
        with Reporter(quiet) as reporter:
            outcome = cheapest_plan(loaded, time_limit=time_limit, progress=reporter.step,
                                    chunk_progress=reporter.chunks)
    except CompplanError as exc:
        remove_if_empty(created)
        fail(exc)
    cap = loaded.spec.budget.expected_cap
    cur = loaded.spec.case.currency
    figure = outcome.evaluation.expected_cost
    verdict = ("" if cap is None else
               f" (the case's cap {cap:,.0f} {'admits' if figure <= cap else 'is below'} it)")
    out_console.print(f"minimum expected-cost cap: {figure:,.0f} {cur} per period{verdict}")
    if not quiet:
        _summary(loaded, outcome, "cheapest plan")
    if out is not None:
        try:
            written = write_plan(out, loaded, outcome.plan, outcome.document)
        except OSError as exc:
            cannot_write(out, exc)
        if not quiet:
            out_console.print(f"wrote {', '.join(str(p) for p in written)}")


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
        cost = "" if price is None else _price_text(price)
        out_console.print(f"  {g.setting}: {g.value:,.4g} (limit {g.limit:,.4g}, {state}{cost})")
    result = outcome.result
    out_console.print(f"solver: HiGHS, {result.rounds} solve(s), {result.rows} rows, "
                      f"{result.seconds:.2f}s"
                      + (f", cuts {result.cuts}" if any(result.cuts.values()) else ""))


def _price_text(price: GuardrailPrice) -> str:
    """What loosening a guardrail buys (re-solved) and where its marginal price holds."""
    if price.shadow_price <= 0 and price.per_percent <= 0:
        return ""
    text = f"; loosening it 1 % adds {price.per_percent:.4g} alignment (re-solved)"
    if price.valid_from is None or price.valid_to is None:
        return text
    return (f"{text}; marginal {price.shadow_price:.4g} per unit for limits "
            f"{price.valid_from:,.4g} to {price.valid_to:,.4g}")


for _command in (*views.COMMANDS, *documents.COMMANDS, *reports.COMMANDS, *batch.COMMANDS):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
