"""Commands that explain a plan: audit (incentive conflicts) and explain (for reps)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from compplan import api
from compplan.cli.common import ExitError, cannot_write, fail, load, out_console
from compplan.errors import CompplanError
from compplan.models.case import CURRENT_PLAN
from compplan.models.output import write_atomic, write_json
from compplan.optimizer.audit import Audit
from compplan.render.audit import (
    DEFINITIONS,
    THRESHOLDS_NOTE,
    alignment_text,
    audit_markdown,
    summary_lines,
)


@click.command()
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plan", required=False, default=CURRENT_PLAN)
@click.option("--out", "out_dir", default="audit", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for audit.json and audit.md.")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def audit(case: str, plan: str, out_dir: str, quiet: bool) -> None:
    """Audit a plan for incentive conflicts: which metrics serve the strategy, which do not.

    PLAN is 'current' (the case's current_plan.toml, the default), a plan.json
    written by compplan optimise, or a TOML file of [[metrics]] tables.

    Example:

        compplan audit cases/enterprise_first current --out audit/today
    """
    loaded = load(case)
    try:
        result = api.audit(loaded, plan)
    except CompplanError as exc:
        fail(exc)
    out = Path(out_dir)
    written = [out / "audit.json", out / "audit.md"]
    try:
        write_json(written[0], result.to_dict())
        write_atomic(written[1], audit_markdown(result))
    except OSError as exc:
        cannot_write(out, exc)
    if not quiet:
        _show_audit(result)
        out_console.print(f"wrote {', '.join(str(p) for p in written)}")


def _show_audit(result: Audit) -> None:
    table = Table(title=f"{result.case}: audit of {result.plan}", title_justify="left",
                  show_lines=True)
    for col in ("metric", "weight", "alignment with goals (A)", "a", "U", "share", "verdict"):
        table.add_column(col, justify="right" if col in ("weight", "a", "U", "share")
                         else "left", no_wrap=col.startswith("alignment"))
    for m in result.metrics:
        table.add_row(m.label, f"{m.weight:.1%}", alignment_text(m).replace(", ", "\n"),
                      f"{m.goal_alignment:.3f}", f"{m.marginal_incentive:.2%}",
                      f"{m.incentive_share:.1%}", m.verdict)
    out_console.print(table)
    out_console.print(f"expected alignment {result.alignment:.6f}; one step on every metric "
                      f"pays {result.total_marginal_incentive:.2%} of target in all")
    for line in summary_lines(result):
        out_console.print(f"  {line}")
    out_console.print(f"{DEFINITIONS}\n{THRESHOLDS_NOTE}", style="dim")


@click.command()
@click.argument("plan")
@click.option("--case", "case_dir", type=click.Path(file_okay=False),
              help="The plan's case: goals, median target incentive, current plan.")
@click.option("--out", "out_dir", default="explain", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for plan_explained.md and plan_explained.html.")
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def explain(plan: str, case_dir: str | None, out_dir: str, quiet: bool) -> None:
    """Write the plan document for reps, in Markdown and self-contained HTML.

    PLAN is a plan.json written by compplan optimise; with --case it may also be
    'current' or a TOML file of [[metrics]] tables. With --case the document says
    which goals the plan serves, uses the case's median target incentive and says
    what changed from the case's current_plan.toml.

    Example:

        compplan explain plans/fy27/plan.json --case cases/enterprise_first
    """
    if case_dir is None and plan == CURRENT_PLAN:
        raise ExitError("'current' needs --case (the case folder holding current_plan.toml)", 2)
    loaded = load(case_dir) if case_dir is not None else None
    try:
        document = api.explain(plan, loaded)
    except CompplanError as exc:
        fail(exc)
    out = Path(out_dir)
    try:
        written = document.write(out)
    except OSError as exc:
        cannot_write(out, exc)
    if not quiet:
        out_console.print(f"wrote {', '.join(str(p) for p in written)}")


COMMANDS: list[click.Command] = [audit, explain]
