"""Commands that look at plans: evaluate (with what-ifs) and compare.

Both reduce a plan's :class:`~compplan.optimizer.evaluate.Evaluation` to one list of
figures (:func:`figures`), so the terminal table, ``compare.csv``, ``compare.md`` and
the what-if differences show the same numbers under the same names.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from compplan.cli.common import (
    ExitError,
    Reporter,
    cannot_write,
    fail,
    force_option,
    load,
    load_plans,
    out_console,
    output_file,
    output_set,
)
from compplan.errors import CompplanError
from compplan.models import fmt
from compplan.models.case import Case
from compplan.models.money import money_per, periods_per_year
from compplan.models.output import write_atomic, write_json
from compplan.models.plan import Plan
from compplan.models.whatif import Modifier, apply_modifiers, parse_set, parse_shift
from compplan.optimizer.coefficients import Coefficients, compute_coefficients
from compplan.optimizer.evaluate import (
    Evaluation,
    evaluate_plan,
    expected_revenue,
    plan_payouts,
)
from compplan.optimizer.understand import STEP_LABEL, TOWARD_LABEL, Readings, readings
from compplan.render.safe import csv_text

EVALUATION_SCHEMA = "compplan.evaluation/1"
WHATIF = "what-if"
Kind = Literal["money", "share", "points", "number", "multiple", "rate", "count", "text"]
_MISSING = "n/a"
_VALUE_WIDTH = 36


@dataclass(frozen=True)
class Figure:
    """One figure of an evaluation, as shown and compared.

    Attributes
    ----------
    key : str
        Stable name, the row of ``compare.csv`` (``total_p90``, ``weight.smb_bookings``).
    section : str
        The group it is shown under.
    label : str
        In words.
    kind : str
        How it is formatted and differenced: ``money``, ``share`` (of target, 1.0 =
        100 %), ``points`` (a difference of shares), ``number``, ``multiple``, ``rate``,
        ``count`` or ``text``.
    value : float, str or None
        None where the figure does not apply (the multiple of a metric not in the plan).
    ok : bool or None
        For a guardrail's slack: whether it is met.
    """

    key: str
    section: str
    label: str
    kind: Kind
    value: float | str | None
    ok: bool | None = None


# ----------------------------------------------------------------------- the figures

def figures(case: Case, plan: Plan, ev: Evaluation,
            metric_ids: Sequence[str] | None = None,
            readings: Readings | None = None) -> list[Figure]:
    """Every figure of an evaluation, in display order.

    Parameters
    ----------
    case : Case
        The case the plan was evaluated under.
    plan : Plan
        The plan.
    ev : Evaluation
        Its evaluation.
    metric_ids : sequence of str, optional
        Metrics to show weights and rates for (default: the plan's); pass the union
        of several plans' metrics so that their rows line up.
    readings : Readings, optional
        The alignment's readings (optimizer.understand), shown under the alignment.

    Returns
    -------
    list of Figure
        Plan, alignment, total payout, reps, segments, guardrails, design rules.
    """
    ids = list(metric_ids) if metric_ids is not None else [m.id for m in plan.metrics]
    cur = case.spec.case.currency
    return [*_plan_figures(case, plan, ids), *_alignment_figures(case, ev, ids),
            *_reading_figures(readings, cur),
            *_total_figures(ev, f"{cur} {money_per(case)}"), *_rep_figures(ev),
            *_segment_figures(ev),
            *_guardrail_figures(ev, cur), *_rule_figures(ev)]


def _plan_figures(case: Case, plan: Plan, ids: Sequence[str]) -> list[Figure]:
    chosen = {m.id: m for m in plan.metrics}
    rows = []
    for k in ids:
        m, label = chosen.get(k), case.metric(k).label or k
        rows += [Figure(f"weight.{k}", "plan", f"weight: {label}", "share",
                        m.weight if m else 0.0),
                 Figure(f"accelerator_rate.{k}", "plan", f"accelerator rate: {label}", "rate",
                        m.accelerator_rate if m else 0.0),
                 Figure(f"accelerator_multiple.{k}", "plan", f"accelerator multiple: {label}",
                        "multiple", m.accelerator_multiple if m else None)]
    return rows


def _alignment_figures(case: Case, ev: Evaluation, ids: Sequence[str]) -> list[Figure]:
    section = "alignment"
    rows = [Figure("alignment", section, "expected alignment", "number", ev.alignment)]
    for g, part in ev.alignment_by_goal.items():
        rows += [Figure(f"alignment.goal.{g}", section, f"from goal {g}", "number", part),
                 Figure(f"alignment_share.goal.{g}", section, f"share from goal {g}", "share",
                        ev.alignment_share_by_goal.get(g))]
    for k in ids:
        rows.append(Figure(f"alignment.metric.{k}", section,
                           f"from metric {case.metric(k).label or k}", "number",
                           ev.alignment_by_metric.get(k, 0.0)))
    return rows


def _reading_figures(readings: Readings | None, cur: str) -> list[Figure]:
    """The alignment's readings, in the words of every output (optimizer.understand)."""
    if readings is None:
        return []
    section = "alignment"
    rows = [Figure("alignment.toward_strategy", section, TOWARD_LABEL, "share",
                   readings.toward_strategy)]
    rows += [Figure(f"alignment.step.{g}", section, f"{STEP_LABEL.format(goal=g)} ({cur})",
                    "money", v) for g, v in readings.per_goal.items()]
    return rows


def _total_figures(ev: Evaluation, unit: str) -> list[Figure]:
    section = f"total payout ({unit})"
    level = ev.total_cvar_level
    source = ("the case's level" if ev.total_cvar_level_source == "case"
              else "default level: the case sets none")
    rows = [Figure("expected_payout", section, "expected total payout", "money",
                   ev.expected_cost),
            Figure("total_p10", section, "P10", "money", ev.total_p10),
            Figure("total_p50", section, "P50", "money", ev.total_p50),
            Figure("total_p90", section, "P90", "money", ev.total_p90),
            Figure("total_cvar", section, f"CVaR {level:g}, mean of the worst "
                   f"{1 - level:.0%} ({source})", "money", ev.total_cvar)]
    if ev.revenue_metric is not None:
        rows += [Figure("expected_revenue", section,
                        f"expected revenue ({ev.revenue_metric} x quota)", "money",
                        ev.expected_revenue),
                 Figure("cost_of_sales", section, "cost of sales (payout / revenue)", "share",
                        ev.cost_of_sales)]
    rows.append(Figure("max_payout_multiple", section, "most any rep can earn (x target)",
                       "multiple", ev.max_payout_multiple))
    return rows


def _rep_figures(ev: Evaluation) -> list[Figure]:
    section = "reps: expected payout / own target"
    rows = [Figure(f"rep_share.{q}", section, q.upper(), "share", v)
            for q, v in ev.rep_share_percentiles.items()]
    rows += [
        Figure("share_reps_at_or_above_target", section, "share of reps at or above target",
               "share", ev.share_reps_at_or_above_target),
        Figure("top_tail_mean", section, f"mean of the top {ev.top_share:.0%}", "share",
               ev.top_tail_mean),
        Figure("bottom_tail_mean", section, f"mean of the bottom {ev.bottom_share:.0%}",
               "share", ev.bottom_tail_mean)]
    return rows


def _segment_figures(ev: Evaluation) -> list[Figure]:
    if ev.segment_column is None:
        return []
    section = f"segments by {ev.segment_column}: expected payout / target"
    rows = []
    for s in ev.segments:
        rows += [Figure(f"segment.{s.group}.share_of_target", section, s.group, "share",
                        s.share_of_target),
                 Figure(f"segment.{s.group}.gap", section, f"{s.group}: gap to all reps",
                        "points", s.gap)]
    rows.append(Figure("max_segment_gap", section, "largest gap (absolute)", "points",
                       ev.max_segment_gap))
    return rows


_UNIT_KIND: dict[str, Kind] = {"currency": "money", "share of target": "share",
                               "x target": "multiple", "x mean": "multiple"}


def _guardrail_figures(ev: Evaluation, cur: str) -> list[Figure]:
    section = "guardrails"
    rows = []
    for g in ev.guardrails:
        kind = _UNIT_KIND.get(g.unit, "number")
        limit = _format(kind, g.limit)
        rows += [Figure(f"guardrail.{g.name}", section, f"{g.setting} (limit {limit})", kind,
                        g.value),
                 Figure(f"guardrail.{g.name}.slack", section, f"{g.setting}: slack", kind,
                        g.slack, ok=g.ok)]
    return rows


def _rule_figures(ev: Evaluation) -> list[Figure]:
    section = "design rules"
    broken = ev.broken_rules
    return [Figure("design_rules.checked", section, "rules checked", "count",
                   float(len(ev.design_rules))),
            Figure("design_rules.broken", section, "rules broken", "count", float(len(broken))),
            # Short names here; the messages are printed under the table and in the JSON.
            Figure("design_rules.which", section, "broken", "text",
                   "; ".join(f"{r.name} {r.metric or ''}".strip() for r in broken) or "none")]


# ------------------------------------------------------------------------ formatting

def _format(kind: Kind, value: float | str | None, ok: bool | None = None) -> str:
    if value is None:
        return _MISSING
    if isinstance(value, str):
        return value
    formats: dict[str, Callable[[float], str]] = {
        "money": lambda v: fmt.money(v, digits=0), "share": fmt.share, "points": fmt.points,
        "number": fmt.alignment, "multiple": fmt.multiple, "rate": lambda v: f"{v:.3f}",
        "count": lambda v: f"{v:.0f}", "text": str}
    text = formats[kind](value)
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]  # -0.00x: noise below the shown precision
    if ok is not None:
        text += " met" if ok else " BROKEN"
    return text


def _difference(a: Figure, b: Figure) -> float | None:
    """``b - a`` for numbers; None for text or a figure missing on either side."""
    if a.kind == "text" or not isinstance(a.value, float | int) \
            or not isinstance(b.value, float | int):
        return None
    return float(b.value) - float(a.value)


def _format_difference(kind: Kind, diff: float | None) -> str:
    if diff is None:
        return ""
    text = {"money": f"{diff:+,.0f}", "share": f"{diff * 100:+.1f} pp",
            "points": f"{diff * 100:+.1f} pp", "number": f"{diff:+.4f}",
            "multiple": f"{diff:+.2f}x", "rate": f"{diff:+.3f}",
            "count": f"{diff:+.0f}", "text": ""}[kind]
    # A difference that rounds away (solver noise) shows as 0, not -0.00x.
    return "0" if not any(c in "123456789" for c in text) else text


@dataclass(frozen=True)
class Column:
    """One plan in a side-by-side view: its name, plan and figures."""

    name: str
    plan: Plan
    evaluation: Evaluation
    figures: list[Figure]


def _columns(case: Case, named: Sequence[tuple[str, Plan, Evaluation]],
             coeffs: Coefficients | None = None) -> list[Column]:
    # The union of the plans' metrics, in case order, so every plan has the same rows.
    used = {m.id for _, plan, _ in named for m in plan.metrics}
    ids = [k for k in case.metric_ids if k in used]
    return [Column(name, plan, ev, figures(
        case, plan, ev, ids,
        readings(case, coeffs, plan, ev.alignment) if coeffs is not None else None))
        for name, plan, ev in named]


def side_by_side(columns: Sequence[Column]) -> pd.DataFrame:
    """Figures of several plans in columns, with each one's difference from the first.

    Parameters
    ----------
    columns : sequence of Column
        The plans, the first being the base of the differences.

    Returns
    -------
    pandas.DataFrame
        ``section``, ``key``, ``label``, ``kind``, a column of values per plan, and a
        column ``NAME - FIRST`` per further plan (empty for text).
    """
    base = columns[0]
    data: dict[str, list[Any]] = {
        "section": [f.section for f in base.figures], "key": [f.key for f in base.figures],
        "label": [f.label for f in base.figures], "kind": [f.kind for f in base.figures]}
    for col in columns:
        data[col.name] = [f.value for f in col.figures]
    for col in columns[1:]:
        data[f"{col.name} - {base.name}"] = [
            _difference(a, b) for a, b in zip(base.figures, col.figures, strict=True)]
    return pd.DataFrame(data)


def _cells(columns: Sequence[Column], i: int) -> list[str]:
    base = columns[0].figures[i]
    values = [_format(c.figures[i].kind, c.figures[i].value, c.figures[i].ok) for c in columns]
    diffs = [_format_difference(base.kind, _difference(base, c.figures[i]))
             for c in columns[1:]]
    return [base.label, *values, *diffs]


def _headers(columns: Sequence[Column]) -> list[str]:
    return ["figure", *(c.name for c in columns),
            *(f"{c.name} - {columns[0].name}" for c in columns[1:])]


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


def _rich_table(title: str, columns: Sequence[Column]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, head in enumerate(_headers(columns)):
        # Values are short; a long text cell (broken rules) wraps rather than widen the table.
        table.add_column(head, justify="left" if i == 0 else "right",
                         max_width=None if i == 0 else _VALUE_WIDTH, overflow="fold")
    section = None
    for i, fig in enumerate(columns[0].figures):
        if fig.section != section:
            section = fig.section
            table.add_row(section, *[""] * (len(_headers(columns)) - 1), style="bold")
        cells = _cells(columns, i)
        table.add_row("  " + cells[0], *cells[1:])
    return table


def _markdown(title: str, columns: Sequence[Column]) -> str:
    heads = _headers(columns)
    lines = [f"# {title}", "", "| " + " | ".join(heads) + " |",
             "|---|" + "---:|" * (len(heads) - 1)]
    section = None
    for i, fig in enumerate(columns[0].figures):
        if fig.section != section:
            section = fig.section
            lines.append(f"| **{section}** |" + " |" * (len(heads) - 1))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(columns, i)) + " |")
    return "\n".join(lines) + "\n"


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
        kind = _UNIT_KIND.get(g.unit, "number")
        out_console.print(f"{name} breaks {g.setting}: {_format(kind, g.value)} against a "
                          f"limit of {_format(kind, g.limit)}")
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


def _modifiers(sets: Sequence[str], shifts: Sequence[str]) -> list[Modifier]:
    order = click.get_current_context().meta.get("compplan.modifier_order", [])
    if sorted(order) != sorted(["sets"] * len(sets) + ["shifts"] * len(shifts)):
        order = ["sets"] * len(sets) + ["shifts"] * len(shifts)
    pending = {"sets": iter(sets), "shifts": iter(shifts)}
    parsed = []
    for option in order:
        text = next(pending[option])
        try:
            parsed.append(parse_set(text) if option == "sets" else parse_shift(text))
        except CompplanError as exc:
            fail(exc)
    return parsed


def _coefficients(case: Case, quiet: bool) -> tuple[Coefficients, float | None]:
    try:
        with Reporter(quiet) as reporter:
            reporter.step("computing payouts under the case's scenarios")
            coeffs = compute_coefficients(case, progress=reporter.chunks)
            revenue = expected_revenue(case)
    except CompplanError as exc:
        fail(exc)
    return coeffs, revenue


def _evaluate(case: Case, coeffs: Coefficients, plan: Plan, revenue: float | None) -> Evaluation:
    try:
        return evaluate_plan(case, coeffs, plan, revenue=revenue)
    except CompplanError as exc:
        fail(exc)


def _rep_payouts(case: Case, coeffs: Coefficients, plans: Sequence[tuple[str, Plan]]
                 ) -> pd.DataFrame:
    reps = case.reps
    grouping = [c for c in reps.columns if c != "target_incentive"]
    table = pd.DataFrame({"rep_id": reps.index, **{c: reps[c].to_numpy() for c in grouping},
                          "target_incentive": case.target_incentive})
    if coeffs.present is not None:  # joiners and leavers: expected payout is while on the plan
        table["share_of_periods_on_plan"] = coeffs.present
    for prefix, plan in plans:
        share = plan_payouts(case, coeffs, plan).shares
        table[f"{prefix}expected_payout"] = case.target_incentive * share
        table[f"{prefix}share_of_target"] = share
    return table


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
@click.option("--out", "out_dir", default="evaluation", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for evaluation.json and rep_payouts.csv.")
@click.option("--write-plan", type=click.Path(),
              help="Write the (modified) plan to this TOML file, in the form of "
                   "current_plan.toml ('-': standard output).")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No summary on the terminal.")
def evaluate_command(case: str, plan: str, sets: tuple[str, ...], shifts: tuple[str, ...],
                     out_dir: str, write_plan: str | None, force: bool, quiet: bool) -> None:
    """Evaluate PLAN under the scenarios of CASE; with --set/--shift, a what-if beside it.

    PLAN is a plan.json written by `compplan optimise`, a TOML file of [[metrics]]
    tables (as current_plan.toml), or `current` for the case's current plan. Shows
    alignment by goal, the total payout (expected, P10/P50/P90, CVaR), cost of sales,
    the spread of rep payouts, segments, and every guardrail and design rule with its
    slack or what it breaks.

    Example (the current plan, then a what-if moving SMB bookings' 40 % of target incentive):

    \b
        compplan evaluate cases/enterprise_first current
        compplan evaluate cases/enterprise_first current --shift '0.4:smb_bookings->new_logos'
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    modifiers = _modifiers(sets, shifts)
    plan_file = None
    if write_plan is not None:  # checked before the work: never over an input
        plan_file = output_file(write_plan, suffixes=(".toml",), stdout=True,
                                inputs=[] if plan == "current" else [plan])
        quiet = quiet or plan_file is None  # standard output holds the plan alone
    loaded = load(case)
    (name, base), = load_plans(loaded, [plan])
    try:
        changed = apply_modifiers(loaded, base, modifiers) if modifiers else None
    except CompplanError as exc:
        fail(exc)
    coeffs, revenue = _coefficients(loaded, quiet)
    named = [(name, base, _evaluate(loaded, coeffs, base, revenue))]
    if changed is not None:
        named.append((WHATIF, changed, _evaluate(loaded, coeffs, changed, revenue)))
    columns = _columns(loaded, named, coeffs)
    written = _write_evaluation(loaded, coeffs, out_dir, plan, columns, modifiers, force)
    if plan_file is not None:
        written.append(_write_plan_file(loaded, plan_file, changed or base))
    elif write_plan is not None:
        out_console.out((changed or base).to_toml(loaded), end="")
    if not quiet:
        _print_evaluation(loaded, columns, modifiers)
        out_console.print(f"wrote {', '.join(str(p) for p in written)}")


def _write_evaluation(case: Case, coeffs: Coefficients, out_dir: str, ref: str,
                      columns: Sequence[Column], modifiers: Sequence[Modifier],
                      force: bool) -> list[Path]:
    base = columns[0]
    doc: dict[str, Any] = {
        "schema": EVALUATION_SCHEMA, "case": case.name, "currency": case.spec.case.currency,
        **({"periods_per_year": periods_per_year(case)} if periods_per_year(case) else {}),
        "plan": {"name": base.name, "source": ref, "metrics": base.plan.to_records()},
        "evaluation": base.evaluation.to_dict()}
    plans = [("", base.plan)]
    if len(columns) > 1:
        whatif = columns[1]
        doc["whatif"] = {
            "modifiers": [m.text for m in modifiers], "metrics": whatif.plan.to_records(),
            "evaluation": whatif.evaluation.to_dict(),
            "differences": {a.key: d for a, b in zip(base.figures, whatif.figures, strict=True)
                            if (d := _difference(a, b)) is not None}}
        plans.append(("whatif_", whatif.plan))
    out = Path(out_dir)
    files = [out / "evaluation.json", out / "rep_payouts.csv"]
    inputs = [case.path, *([] if ref == "current" else [ref])]
    with output_set(out_dir, force=force, inputs=inputs) as folder:
        write_json(folder / files[0].name, doc)
        write_atomic(folder / files[1].name, csv_text(_rep_payouts(case, coeffs, plans)))
    return files


def _write_plan_file(case: Case, path: Path, plan: Plan) -> Path:
    try:
        write_atomic(path, plan.to_toml(case))
    except OSError as exc:
        cannot_write(path, exc)
    return path


def _print_evaluation(case: Case, columns: Sequence[Column],
                      modifiers: Sequence[Modifier]) -> None:
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
    _print_table(_rich_table(title, columns))
    for col in columns:
        _print_checks(col.evaluation, col.name)


# ---------------------------------------------------------------------------- compare

@click.command("compare")
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plans", nargs=-1, required=True)
@click.option("--out", "out_dir", default="comparison", show_default=True,
              type=click.Path(file_okay=False), help="Folder for compare.csv and compare.md.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No table on the terminal.")
def compare_command(case: str, plans: tuple[str, ...], out_dir: str, force: bool,
                    quiet: bool) -> None:
    """Compare two or more PLANS side by side under CASE, with differences from the first.

    Each PLAN is a plan.json, a TOML plan file, or `current`; its column is named
    after the file (its stem) or `current`. Every figure of `compplan evaluate`,
    one column per plan, then each plan's difference from the first.

    Example:

    \b
        compplan compare cases/enterprise_first current plans/fy27/plan.json --out cmp
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    if len(plans) < 2:
        raise ExitError("compare needs at least two plans (give `current` and a plan file, "
                        "or two plan files)", 2)
    loaded = load(case)
    named = load_plans(loaded, plans)
    coeffs, revenue = _coefficients(loaded, quiet)
    columns = _columns(loaded, [(n, p, _evaluate(loaded, coeffs, p, revenue))
                                for n, p in named], coeffs)
    out = Path(out_dir)
    title = f"{loaded.name}: {' vs '.join(c.name for c in columns)}"
    files = [out / "compare.csv", out / "compare.md"]
    inputs = [loaded.path, *(p for p in plans if p != "current")]
    with output_set(out_dir, force=force, inputs=inputs) as folder:
        write_atomic(folder / files[0].name, csv_text(side_by_side(columns)))
        write_atomic(folder / files[1].name, _markdown(title, columns))
    if not quiet:
        _print_table(_rich_table(title, columns))
        for col in columns:
            _print_checks(col.evaluation, col.name)
        out_console.print(f"wrote {', '.join(str(p) for p in files)}")


COMMANDS: list[click.Command] = [evaluate_command, compare_command]
