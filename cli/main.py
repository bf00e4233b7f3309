"""The ``compplan`` command line: a thin layer over the Python API (:mod:`compplan.api`).

Exit codes (MODEL.md section 6): 0 a plan was written; 2 bad input or usage;
3 no plan satisfies the constraints; 4 a solver limit was reached before any plan.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from compplan.cli.common import (
    POSITIVE,
    ExitError,
    Reporter,
    captured_warnings,
    check_scheduler,
    elasticities,
    err_console,
    fail,
    force_option,
    import_in_background,
    load_source,
    out_console,
    output_set,
)
from compplan.cli.lazy import LazyGroup
from compplan.cli.runtime import tune_runtime
from compplan.errors import CompplanError

if TYPE_CHECKING:
    from compplan.api import GuardrailPrice, Result, Rounding

_SOLVER_MODULE = "compplan.optimizer.pipeline"


def is_org_folder(path: str | None) -> bool:
    """A folder holding ``org.toml`` is an organisation (MODEL.md section 7).

    The same test as :func:`compplan.models.org.is_org_folder`, without importing
    pydantic and numpy before a command needs them.
    """
    return path is not None and os.path.lexists(Path(path) / "org.toml")


# Commands of the other modules of compplan.cli are found by LazyGroup and imported
# only when they run; heavy modules (pandas, Pyomo) are imported inside the commands.
@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="compplan", prog_name="compplan")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Design sales compensation plans that pay for the strategy."""
    ctx.with_resource(captured_warnings())


@main.command()
@click.argument("case", required=False, type=click.Path(file_okay=False))
@click.option("--out", "out_dir", default="out/plan", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for plan.json, plan.csv, plan.md and rep_rates.csv.")
@click.option("--time-limit", type=POSITIVE,
              help="Seconds the solver may take in all.")
@click.option("--budget", type=POSITIVE,
              help="Expected-cost cap, replacing [budget] expected_cap (per period; per year "
                   "with [case] periods_per_year).")
@click.option("--max-metrics", type=click.IntRange(1, 3),
              help="At most this many metrics, replacing [design] max_metrics.")
@click.option("--tail-method", type=click.Choice(["auto", "full", "cuts"]), default="auto",
              show_default=True, help="How tail guardrails enter the model.")
@click.option("--round", "round_parts", metavar="weights=STEP,rates=STEP", multiple=True,
              help="A plan to publish: weights on a grid of STEP (0.05 = 5 %) and accelerator "
                   "rates on a grid of STEP, the best rounded plan (proven); the summary and "
                   "plan.json say what rounding costs against the unrounded optimum. Given "
                   "twice, the parts are merged (a part given twice is refused).")
@click.option("--elasticity", "elasticity", metavar="E1,E2,...",
              help="A case with [response]: the best grid plan that meets every guardrail "
                   "under each elasticity of the list (each replacing every metric's), with "
                   "its figures under each.")
@click.option("--scheduler", metavar="ADDRESS",
              help="A Monte Carlo case: draw the scenarios on this Dask cluster (its "
                   "scheduler's tcp://HOST:PORT), in tasks of whole blocks of reps, with "
                   "bounded memory on every worker; the same plan as without it.")
@click.option("--reproducible", is_flag=True, hidden=True,
              help="Deprecated, does nothing: plan.json is always byte-identical for the "
                   "same case (wall times are in run.json).")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on the terminal.")
def optimise(case: str | None, out_dir: str, time_limit: float | None, budget: float | None,
             max_metrics: int | None, tail_method: str, round_parts: tuple[str, ...],
             elasticity: str | None, scheduler: str | None, reproducible: bool, force: bool,
             quiet: bool) -> None:
    """Design the plan of best expected alignment for CASE and write it to --out.

    CASE is a case folder (case.toml, reps.csv, attainment.csv); without it the
    bundled default case is used. A folder holding org.toml is an organisation: every
    role's plan is designed at once and DIR/org_plan.json is written beside
    DIR/<role>/plan.json (--budget then replaces the organisation's cap).

    A case with [response] (docs/response.md) is designed under response, exactly on the
    grid (--round's steps, 0.05 by default); --elasticity E1,E2,... designs the plan that
    meets every guardrail under each elasticity of the list.

    A Monte Carlo case's scenarios are drawn on a Dask cluster with --scheduler
    (docs/montecarlo.md).

    Example (the second with weights to 5 % and accelerator rates to 0.05; the third under
    response, holding at elasticities 0.2 to 0.4; the last drawing cloud_transition's
    scenarios on a Dask cluster started with `dask scheduler` and `dask worker`):

        compplan optimise cases/enterprise_first --out plans/fy27 --budget 20000000
        compplan optimise cases/enterprise_first --out plans/fy27r --round weights=0.05,rates=0.05
        compplan optimise cases/subscription_response --out plans/robust --elasticity 0.2,0.3,0.4

        compplan optimise cases/gtm_org --out plans/gtm

        compplan optimise cases/cloud_transition --out plans/cloud --scheduler tcp://127.0.0.1:8786
    """
    if reproducible:
        # Said even with -q: a script relying on the flag should learn it is a no-op.
        err_console.print(REPRODUCIBLE_DEPRECATED)
    # --round weights=0.05 --round rates=0.05 is one rounding (the last once won alone).
    round_to = ",".join(round_parts) if round_parts else None
    # Before numpy loads: freed memory kept for reuse, idle BLAS threads asleep.
    tune_runtime()
    # Pyomo loads when the solve needs it, not in a thread beside the reading: there it
    # held the interpreter lock the reader kept asking for, and the command ran 0.2 s
    # slower on an organisation of 5 x 20,000 reps, no faster on one case (issue 23).
    if is_org_folder(case):
        # Options of a single case, named as the user typed them.
        from compplan.cli.org import refuse

        refuse("--max-metrics", max_metrics)
        refuse("--round", round_to, "an organisation's plans are not rounded to a grid; "
                                    "there is no such setting in org.toml or case.toml")
        refuse("--elasticity", elasticity)
        refuse("--scheduler", scheduler, ORG_DRAWS)
    if scheduler is not None:
        check_scheduler(scheduler)
    from compplan import api

    loaded = load_source(case, budget, max_metrics)
    rounding = _rounding(round_to)
    band = elasticities(elasticity)
    out = Path(out_dir)
    # Checked before the solve, which may be long: a folder that cannot be written
    # fails now. Every file then lands at once; an earlier run's files (a plan.json
    # beside a new infeasibility.json) go with the old set.
    notes: list[str] = []  # said with a write failure, so the explanation is not lost
    try:
        with output_set(out_dir, force=force, inputs=[loaded.path], notes=notes) as folder:
            try:
                with Reporter(quiet) as reporter:
                    result = api.optimise(loaded, time_limit=time_limit,
                                          tail_method=tail_method,
                                          rounding=rounding, progress=reporter.step,
                                          chunk_progress=reporter.chunks,
                                          elasticity=band, scheduler=scheduler)
            except CompplanError as exc:
                fail(exc)
            if result.status is api.Status.NO_SOLUTION:
                # Raised inside the block: nothing is committed, no empty folder is left.
                _raise_for_status(result)
            if result.status is api.Status.INFEASIBLE:
                notes.append(str(result.message))
            written = [out / name for name in result.write_into(folder)]
    except KeyboardInterrupt:
        # Anywhere before the commit, the staged files were dropped with the interrupt.
        raise ExitError("interrupted: no plan was written", 130) from None
    if result.status is api.Status.INFEASIBLE:
        raise ExitError(f"{result.message}\n(details in {out / 'infeasibility.json'})", 3)
    _raise_for_status(result)
    if quiet:
        return
    if isinstance(result, api.OrgResult):
        from compplan.cli.org import summary

        summary(result.org, result.document)
        roles = result.org.roles
        out_console.print(f"wrote {out / 'org_plan.json'} and the plan files of "
                          f"{len(roles)} roles under "
                          f"{', '.join(str(out / r.id) for r in roles)}")
        return
    _summary(result)
    out_console.print(f"wrote {', '.join(str(p) for p in written if p.name != 'run.json')}")


#: Why --scheduler is refused for an organisation folder.
ORG_DRAWS = ("an organisation's roles are drawn in this process; run a Monte Carlo role's "
             "case with --scheduler on its own")

#: What --reproducible says: it is deprecated and changes nothing (issue 19).
REPRODUCIBLE_DEPRECATED = ("note: --reproducible is deprecated and does nothing: plan.json is "
                           "always byte-identical for the same case (wall times are in "
                           "run.json); drop the flag, it will be removed")


def _raise_for_status(result: Result) -> None:
    """Exit with the code of a result without a plan."""
    try:
        result.raise_for_status()
    except CompplanError as exc:
        fail(exc)


def _rounding(text: str | None) -> Rounding | None:
    if text is None:
        return None
    from compplan.api import parse_rounding

    try:
        rounding = parse_rounding(text)
    except CompplanError as exc:
        fail(exc)
    return rounding


main.add_command(optimise, name="optimize")


@main.command()
@click.argument("case", required=False, type=click.Path(file_okay=False))
def validate(case: str | None) -> None:
    """Check a case folder without solving; exit 2 naming the first problem found.

    A folder holding org.toml is checked as an organisation, every role with it.

    Example:

        compplan validate cases/enterprise_first

        compplan validate cases/gtm_org
    """
    from compplan import api

    try:
        found = api.validate(case)
    except CompplanError as exc:
        fail(exc)
    for warning in found.warnings:
        err_console.print(f"warning: {warning}")
    out_console.print(found.summary)
    for line in found.details:  # a case from transactions (MODEL.md section 11)
        out_console.print(line, highlight=False, markup=False, soft_wrap=True)


@main.command("min-budget")
@click.argument("case", required=False, type=click.Path(file_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, writable=True),
              help="Also write the cheapest plan (plan.json, plan.csv, plan.md) here.")
@click.option("--time-limit", type=POSITIVE,
              help="Seconds the solver may take in all.")
@click.option("--scheduler", metavar="ADDRESS",
              help="A Monte Carlo case: draw the scenarios on this Dask cluster (its "
                   "scheduler's tcp://HOST:PORT), as optimise does.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="Only the figure, no progress or table.")
def min_budget(case: str | None, out_dir: str | None, time_limit: float | None,
               scheduler: str | None, force: bool, quiet: bool) -> None:
    """The smallest expected-cost cap that admits a plan meeting every other guardrail.

    Solves for the cheapest plan that meets the design rules and every guardrail but
    [budget] expected_cap (and, among equally cheap plans, the best aligned). For a
    folder holding org.toml: the smallest organisation cap, and how it splits by role.

    Example:

        compplan min-budget cases/enterprise_first --out plans/cheapest

        compplan min-budget cases/gtm_org
    """
    if is_org_folder(case):
        from compplan.cli.org import refuse

        refuse("--scheduler", scheduler, ORG_DRAWS)
    if scheduler is not None:
        check_scheduler(scheduler)
    solver_import = import_in_background(_SOLVER_MODULE)
    from compplan import api
    from compplan.api import fmt, money_per

    loaded = load_source(case)
    out = Path(out_dir) if out_dir is not None else None
    # Checked before the solve; the files land at once at the end of the block.
    with (output_set(out_dir, force=force, inputs=[loaded.path]) if out is not None
          else contextlib.nullcontext()) as folder:
        solver_import.join()
        try:
            with Reporter(quiet) as reporter:
                result = api.min_budget(loaded, time_limit=time_limit, progress=reporter.step,
                                        chunk_progress=reporter.chunks, scheduler=scheduler)
        except CompplanError as exc:
            fail(exc)
        if result.status is not api.Status.INFEASIBLE or out is None:
            _raise_for_status(result)
        if folder is not None and out is not None:
            # Infeasible: infeasibility.json alone, replacing an earlier plan (section 6).
            written = [out / name for name in result.write_into(folder)]
    if result.status is api.Status.INFEASIBLE and out is not None:
        raise ExitError(f"{result.message}\n(details in {out / 'infeasibility.json'})", 3)
    if isinstance(result, api.OrgResult):
        from compplan.cli.org import min_budget_summary

        min_budget_summary(result, out, quiet)
        return
    assert result.evaluation is not None  # a result with a plan has its figures
    cap = loaded.spec.budget.expected_cap
    cur = loaded.spec.case.currency
    figure = result.evaluation.expected_cost
    verdict = ("" if cap is None else
               f" (the case's cap {cap:,.0f} {'admits' if figure <= cap else 'is below'} it)")
    out_console.print(f"minimum expected-cost cap: {fmt.money(fmt.least_cap(figure), cur)} "
                      f"{money_per(loaded)}{verdict}")
    if not quiet:
        _summary(result, "cheapest plan")
    if out is not None and not quiet:
        out_console.print(f"wrote {', '.join(str(p) for p in written)}")


def _summary(result: Result, kind: str = "plan") -> None:
    from rich.table import Table

    from compplan.api import fmt, is_binding, money_per

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
                      f"{fmt.money(ev.expected_cost, cur)} {money_per(case)} "
                      f"(P90 {fmt.money(ev.total_p90)}"
                      + (f", CVaR {fmt.money(ev.cvar)}" if ev.cvar is not None else "") + ")")
    from compplan.api import readings, sentences

    # A rounded plan is measured against the unrounded optimum: it is not "that plan".
    best = None if outcome.rounding is None else outcome.rounding["unrounded"]["alignment"]
    words = sentences(readings(case, outcome.coefficients, outcome.plan, ev.alignment, best),
                      designed=kind == "plan" and best is None)
    out_console.print("  alignment: " + "; ".join(words))
    prices = {p.guardrail: p for p in outcome.prices}
    for g in ev.guardrails:
        state = "binding" if is_binding(g) else "slack"
        price = prices.get(g.name)
        cost = "" if price is None else _price_text(price)
        out_console.print(f"  {g.setting}: {fmt.check(g.name, g.value, g.unit)} "
                          f"(limit {fmt.check(g.name, g.limit, g.unit)}, {state}{cost})")
    if outcome.response is not None:  # MODEL.md section 10
        from compplan.api import response_lines

        for figures in (outcome.response, *outcome.response_band):
            for line in response_lines(case, figures):
                out_console.print(f"  {line}")
    rounding = outcome.rounding
    if rounding is not None:
        grids = ", ".join(f"{k} to {rounding[k]:g}" for k in ("weights", "rates")
                          if rounding[k] is not None)
        out_console.print(
            f"rounded ({grids}): "
            f"alignment {ev.alignment:.6f} against {rounding['unrounded']['alignment']:.6f} "
            f"unrounded ({-rounding['alignment_lost']:+.6f}); expected payout "
            f"{rounding['expected_cost_change']:+,.0f} {cur} {money_per(case)} against "
            f"{rounding['unrounded']['expected_cost']:,.0f} unrounded")
    out_console.print(solver_line(outcome.result))


def solver_line(result: Any) -> str:
    """``solver: HiGHS, 2 solves, 52 rows, 0.04 s, 3 tail cuts (budget_cvar 3)``."""
    from compplan.api import fmt

    cuts = {name: n for name, n in result.cuts.items() if n}
    return (f"solver: HiGHS, {fmt.plural(result.rounds, 'solve')}, "
            f"{fmt.plural(result.rows, 'row')}, {fmt.seconds(result.seconds)}"
            + (f", {fmt.plural(sum(cuts.values()), 'tail cut')} ("
               + ", ".join(f"{name} {n}" for name, n in cuts.items()) + ")" if cuts else ""))


def _price_text(price: GuardrailPrice) -> str:
    """What loosening a guardrail buys (re-solved) and where its marginal price holds."""
    from compplan.api import fmt

    if price.shadow_price <= 0 and price.per_percent <= 0:
        return ""
    return (f"; loosening it 1 % adds {price.per_percent:.4g} alignment (re-solved); "
            f"marginal {price.shadow_price:.4g} per unit for limits "
            + (fmt.limits(price.valid_from, price.valid_to, price.valid_from_open,
                          price.valid_to_open)
               if price.valid_from is not None and price.valid_to is not None else "not computed"))



if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
