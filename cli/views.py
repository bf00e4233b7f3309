"""Commands that look at plans: evaluate (with what-ifs) and compare.

Both show the figures view-model of :mod:`compplan.render.figures`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from compplan.api import (
    UNIT_KIND,
    Case,
    Coefficients,
    Column,
    Evaluation,
    Modifier,
    Plan,
    format_value,
    rich_table,
    write_atomic,
)
from compplan.cli.common import (
    Reporter,
    cannot_write,
    elasticities,
    fail,
    force_option,
    load_source,
    out_console,
    output_file,
    output_set,
)
from compplan.errors import CompplanError


def _print_table(table: Table) -> None:
    """Print a table; off a terminal at its natural width, so no cell wraps in a log."""
    if out_console.is_terminal:
        out_console.print(table)
        return
    unbounded = out_console.options.update_width(10_000)
    width = max(out_console.width, out_console.measure(table, options=unbounded).maximum)
    # out_console caps any width at its own: render on a console of the table's width.
    text = io.StringIO()
    Console(file=text, width=width, highlight=False, markup=False,
            color_system=None).print(table)
    out_console.out("\n".join(line.rstrip() for line in text.getvalue().splitlines()))


def _metric_table(case: Case, title: str, plan: Plan, ev: Evaluation) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("metric", "weight", "base rate", "accel. rate", "accel. x", "alignment"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m in plan.metrics:
        table.add_row(m.label, f"{m.weight:.1%}", f"{m.base_rate:.3f}",
                      f"{m.accelerator_rate:.3f}", f"{m.accelerator_multiple:.2f}",
                      f"{ev.alignment_by_metric.get(m.id, 0.0):.4f}")
    return table


def _print_checks(ev: Evaluation, name: str) -> None:
    broken = [g for g in ev.guardrails if not g.ok]
    rules = ev.broken_rules
    if not broken and not rules:
        rules_met = f"all {len(ev.design_rules)} design rules"
        out_console.print(f"{name}: meets all {len(ev.guardrails)} guardrails and {rules_met}"
                          if ev.guardrails else
                          f"{name}: meets {rules_met} (the case sets no guardrails)")
        return
    for g in broken:
        kind = UNIT_KIND.get(g.unit, "number")
        out_console.print(f"{name} breaks {g.setting}: {format_value(kind, g.value)} against a "
                          f"limit of {format_value(kind, g.limit)}")
    for r in rules:
        out_console.print(f"{name} breaks a design rule: {r.message}")


# ----------------------------------------------------------------------------- shared

class _OrderedModifiers(click.Command):
    """A command that records the order of ``--set`` and ``--shift`` on the command line.

    click gathers each repeated option into its own tuple; what-if modifiers apply
    in the order given, across both options, so that order is read from the parser.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as usual, keeping the order of modifier options in ``ctx.meta``."""
        try:
            _, _, order = self.make_parser(ctx).parse_args(args=list(args))
        except click.ClickException:
            order = []  # the real parse below reports the error
        ctx.meta["compplan.modifier_order"] = [p.name for p in order
                                               if p.name in ("sets", "shifts")]
        return super().parse_args(ctx, args)


def _modifiers(sets: Sequence[str], shifts: Sequence[str]) -> list[tuple[str, str]]:
    """The what-if's modifiers in the order given: ``("set", text)`` and ``("shift", text)``."""
    order = click.get_current_context().meta.get("compplan.modifier_order", [])
    if sorted(order) != sorted(["sets"] * len(sets) + ["shifts"] * len(shifts)):
        order = ["sets"] * len(sets) + ["shifts"] * len(shifts)
    pending = {"sets": iter(sets), "shifts": iter(shifts)}
    return [(option[:-1], next(pending[option])) for option in order]


# --------------------------------------------------------------------------- evaluate

@click.command("evaluate", cls=_OrderedModifiers)
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plan")
@click.option("--set", "sets", multiple=True, metavar="KIND.ID=VALUE",
              help="What-if: weight.ID=0.3 sets a weight, weight.ID=+0.1 / -0.1 adds or "
                   "subtracts (the others rescale to sum to 1); accelerator.ID=2 sets the "
                   "accelerator multiple, rate.ID=1.5 the accelerator rate. Repeatable.")
@click.option("--shift", "shifts", multiple=True, metavar="AMOUNT:FROM->TO",
              help="What-if: move AMOUNT of target incentive from one metric to another "
                   "('0.4:smb_bookings->multi_product_deals', quoted for the shell's >). "
                   "Repeatable; modifiers apply in the order given.")
@click.option("--out", "out_dir", default="out/evaluation", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for evaluation.json and rep_payouts.csv.")
@click.option("--write-plan", type=click.Path(),
              help="Write the (modified) plan to this TOML file, in the form of "
                   "current_plan.toml ('-': standard output).")
@click.option("--elasticity", "elasticity", metavar="E1,E2,...",
              help="A case with [response]: the figures also under each elasticity of the "
                   "list (each replacing every metric's), a band for elasticities nobody "
                   "knows yet.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No summary on the terminal.")
def evaluate_command(case: str, plan: str, sets: tuple[str, ...], shifts: tuple[str, ...],
                     out_dir: str, write_plan: str | None, elasticity: str | None,
                     force: bool, quiet: bool) -> None:
    """Evaluate PLAN under the scenarios of CASE; with --set/--shift, a what-if beside it.

    PLAN is a plan.json written by `compplan optimise`, a TOML file of [[metrics]]
    tables (as current_plan.toml), or `current` for the case's current plan. Shows
    alignment by goal, the total payout (expected, P10/P50/P90, CVaR), cost of sales,
    the spread of rep payouts, segments, and every guardrail and design rule with its
    slack or what it breaks.

    For a folder holding org.toml, PLAN is `current` (each role's current_plan.toml)
    or an org_plan.json written by `compplan optimise ORG_DIR`: every role's plan and
    the organisation's total (CVaR over the scenarios, each the same period in every
    role), every organisation cap and coherence rule checked, and the conflict map,
    in evaluation.json.

    Example (the current plan, then a what-if moving SMB bookings' 40 % of target incentive):

    \b
        compplan evaluate cases/enterprise_first current
        compplan evaluate cases/gtm_org current --out evaluation/gtm
        compplan evaluate cases/enterprise_first current --shift '0.4:smb_bookings->new_logos'
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    from compplan import api

    whatif = _modifiers(sets, shifts)
    plan_file = None
    if write_plan is not None:  # checked before the work: never over an input
        plan_file = output_file(write_plan, suffixes=(".toml",), stdout=True,
                                inputs=[] if plan == "current" else [plan])
        quiet = quiet or plan_file is None  # standard output holds the plan alone
    source = load_source(case)
    try:
        with Reporter(quiet) as reporter:
            found = api.evaluation_report(source, plan, whatif=whatif, elasticity=elasticity,
                                          progress=reporter.step,
                                          chunk_progress=reporter.chunks)
        toml = found.plan_toml if write_plan is not None else ""
    except CompplanError as exc:
        fail(exc)
    out = Path(out_dir)
    with output_set(out_dir, force=force, inputs=found.inputs) as folder:
        written = [out / p.name for p in found.write_into(folder)]
    if plan_file is not None:
        written.append(_write_plan_file(plan_file, toml))
    elif write_plan is not None:
        out_console.out(toml, end="")
    if quiet:
        return
    if found.org:
        from compplan.cli.org_views import show_evaluation

        show_evaluation(source, found.evaluation)
        out_console.print(f"wrote {written[0]}")
        return
    loaded = found.case
    assert loaded is not None  # a case's report
    _print_evaluation(loaded, found.columns, found.modifiers)
    for col, figs in zip(found.columns, found.responses or [], strict=False):
        _print_response(loaded, found.coefficients, col.name, col.plan, figs)
    out_console.print(f"wrote {', '.join(str(p) for p in written)}")


def _print_response(case: Case, coeffs: Coefficients, name: str, plan: Plan,
                    figures: Sequence[Any]) -> None:
    from compplan.api import response_columns, response_lines

    columns = response_columns(case, coeffs, name, plan, figures)
    _print_table(rich_table(f"{case.name}: {name}, static and under response", columns))
    for figs in figures:
        for line in response_lines(case, figs):
            out_console.print(f"  {line}")


def _write_plan_file(path: Path, text: str) -> Path:
    try:
        write_atomic(path, text)
    except OSError as exc:
        cannot_write(path, exc)
    return path


def _print_evaluation(case: Case, columns: Sequence[Column],
                      modifiers: Sequence[Modifier]) -> None:
    from compplan.api import WHATIF

    base = columns[0]
    out_console.print(_metric_table(case, f"{case.name}: plan {base.name}", base.plan,
                                    base.evaluation))
    for note in base.plan.written_notes(case):
        out_console.print(f"  {note}")
    title = f"{case.name}: evaluation of {base.name}"
    if len(columns) > 1:
        out_console.print(_metric_table(
            case, f"{WHATIF}: {', '.join(m.text for m in modifiers)}", columns[1].plan,
            columns[1].evaluation))
        title = f"{case.name}: {base.name} and the {WHATIF}"
    _print_table(rich_table(title, columns))
    for col in columns:
        _print_checks(col.evaluation, col.name)


# ---------------------------------------------------------------------------- compare

@click.command("compare")
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plans", nargs=-1, required=True)
@click.option("--out", "out_dir", default="out/comparison", show_default=True,
              type=click.Path(file_okay=False), help="Folder for compare.csv and compare.md.")
@click.option("--elasticity", "elasticity", metavar="E1,E2,...",
              help="A case with [response]: each plan also under each elasticity of the "
                   "list (each replacing every metric's).")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No table on the terminal.")
def compare_command(case: str, plans: tuple[str, ...], out_dir: str, elasticity: str | None,
                    force: bool, quiet: bool) -> None:
    """Compare two or more PLANS side by side under CASE, with differences from the first.

    Each PLAN is a plan.json, a TOML plan file, or `current`; its column is named
    after the file (its stem) or `current`. Every figure of `compplan evaluate`,
    one column per plan, then each plan's difference from the first.

    For a folder holding org.toml, each PLAN is `current` or an org_plan.json:
    the organisation's figures, its rules, and each role's, side by side.

    Example:

    \b
        compplan compare cases/enterprise_first current plans/fy27/plan.json --out cmp
        compplan compare cases/gtm_org current plans/gtm/org_plan.json --out cmp/gtm
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    from compplan import api

    source = load_source(case)
    band = elasticities(elasticity)
    try:
        with Reporter(quiet) as reporter:
            found = api.compare(source, plans, progress=reporter.step,
                                chunk_progress=reporter.chunks, elasticity=band)
    except CompplanError as exc:
        fail(exc)
    out = Path(out_dir)
    with output_set(out_dir, force=force, inputs=found.inputs) as folder:
        files = [out / p.name for p in found.write_into(folder)]
    if quiet:
        return
    if found.org:
        from compplan.cli.org_views import show_rows

        show_rows(found.title, found.rows)
    else:
        _print_table(rich_table(found.title, found.columns))
        for col in found.columns:
            _print_checks(col.evaluation, col.name)
    out_console.print(f"wrote {', '.join(str(p) for p in files)}")


COMMANDS: list[click.Command] = [evaluate_command, compare_command]
