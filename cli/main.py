"""The ``compplan`` command line: a thin layer over the Python API (:mod:`compplan.api`).

Exit codes (MODEL.md section 6): 0 a plan was written; 2 bad input or usage;
3 no plan satisfies the constraints; 4 a solver limit was reached before any plan.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from compplan.cli.common import (
    ExitError,
    Reporter,
    cannot_write,
    fail,
    import_in_background,
    load,
    out_console,
)
from compplan.cli.lazy import LazyGroup
from compplan.errors import CompplanError

if TYPE_CHECKING:
    from compplan.api import Result

_SOLVER_MODULE = "compplan.optimizer.pipeline"


# Commands of the other modules of compplan.cli are found by LazyGroup and imported
# only when they run; heavy modules (pandas, Pyomo) are imported inside the commands.
@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="compplan", prog_name="compplan")
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
    from compplan import api
    from compplan.models.output import prepare_folder, remove_if_empty

    loaded = load(case, budget, max_metrics)
    out = Path(out_dir)
    # Before the solve, which may be long: a folder that cannot be written fails now.
    try:
        created = prepare_folder(out)
    except OSError as exc:
        cannot_write(out, exc)
    try:
        solver_import.join()
        with Reporter(quiet) as reporter:
            result = api.optimise(loaded, time_limit=time_limit,
                                  tail_method=tail_method,
                                  progress=reporter.step, chunk_progress=reporter.chunks)
    except KeyboardInterrupt:
        remove_if_empty(created)
        raise ExitError("interrupted: no plan was written", 130) from None
    except CompplanError as exc:
        remove_if_empty(created)
        fail(exc)
    if result.status is api.Status.INFEASIBLE:
        try:
            result.write(out)
        except OSError as os_exc:
            cannot_write(out, os_exc, f"\n({result.message})")
        raise ExitError(f"{result.message}\n(details in {out / 'infeasibility.json'})", 3)
    _raise_for_status(result, created)
    try:
        written = result.write(out, reproducible=reproducible)
    except OSError as exc:
        cannot_write(out, exc)
    if not quiet:
        _summary(result)
        out_console.print(f"wrote {', '.join(str(p) for p in written if p.name != 'run.json')}")


def _raise_for_status(result: Result, created: list[Path]) -> None:
    """Exit with the code of a result without a plan, removing the folders made for it."""
    from compplan.models.output import remove_if_empty

    try:
        result.raise_for_status()
    except CompplanError as exc:
        remove_if_empty(created)
        fail(exc)


main.add_command(optimise, name="optimize")


@main.command()
@click.argument("case", required=False, type=click.Path(file_okay=False))
def validate(case: str | None) -> None:
    """Check a case folder without solving; exit 2 naming the first problem found.

    Example:

        compplan validate cases/enterprise_first
    """
    from compplan.models.scenarios import build_scenarios

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
    from compplan import api
    from compplan.models.output import prepare_folder, remove_if_empty

    loaded = load(case)
    out = Path(out_dir) if out_dir is not None else None
    created: list[Path] = []
    if out is not None:
        try:
            created = prepare_folder(out)
        except OSError as exc:
            cannot_write(out, exc)
    solver_import.join()
    try:
        with Reporter(quiet) as reporter:
            result = api.min_budget(loaded, time_limit=time_limit, progress=reporter.step,
                                    chunk_progress=reporter.chunks)
    except CompplanError as exc:
        remove_if_empty(created)
        fail(exc)
    _raise_for_status(result, created)
    assert result.evaluation is not None  # a result with a plan has its figures
    cap = loaded.spec.budget.expected_cap
    cur = loaded.spec.case.currency
    figure = result.evaluation.expected_cost
    verdict = ("" if cap is None else
               f" (the case's cap {cap:,.0f} {'admits' if figure <= cap else 'is below'} it)")
    out_console.print(f"minimum expected-cost cap: {figure:,.0f} {cur} per period{verdict}")
    if not quiet:
        _summary(result, "cheapest plan")
    if out is not None:
        try:
            written = result.write(out)
        except OSError as exc:
            cannot_write(out, exc)
        if not quiet:
            out_console.print(f"wrote {', '.join(str(p) for p in written)}")


def _summary(result: Result, kind: str = "plan") -> None:
    from rich.table import Table

    from compplan.optimizer.verdicts import is_binding

    outcome = result.outcome
    assert outcome is not None  # a result with a plan has its outcome
    case = result.case
    ev = outcome.evaluation
    cur = case.spec.case.currency
    table = Table(title=f"{case.name}: {outcome.status} {kind}", title_justify="left")
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
        state = "binding" if is_binding(g) else "slack"
        price = prices.get(g.name)
        cost = (f"; loosening it 1 % would add {price.per_percent:.4g} alignment"
                if price is not None and price.shadow_price > 0 else "")
        out_console.print(f"  {g.setting}: {g.value:,.4g} (limit {g.limit:,.4g}, {state}{cost})")
    solved = outcome.result
    out_console.print(f"solver: HiGHS, {solved.rounds} solve(s), {solved.rows} rows, "
                      f"{solved.seconds:.2f}s"
                      + (f", cuts {solved.cuts}" if any(solved.cuts.values()) else ""))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
