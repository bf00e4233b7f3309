"""Commands that explain a plan: audit (incentive conflicts) and explain (for reps)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from compplan import api
from compplan.api import (
    CURRENT_PLAN,
    DEFINITIONS,
    THRESHOLDS_NOTE,
    Audit,
    alignment_text,
    summary_lines,
)
from compplan.cli.common import (
    ExitError,
    fail,
    force_option,
    load,
    load_source,
    out_console,
    output_set,
)
from compplan.errors import CompplanError


@click.command()
@click.argument("case", type=click.Path(file_okay=False))
@click.argument("plan", required=False, default=CURRENT_PLAN)
@click.option("--out", "out_dir", default="out/audit", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for audit.json and audit.md.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def audit(case: str, plan: str, out_dir: str, force: bool, quiet: bool) -> None:
    """Audit a plan for incentive conflicts: which metrics serve the strategy, which do not.

    PLAN is 'current' (the case's current_plan.toml, the default), a plan.json
    written by compplan optimise, or a TOML file of [[metrics]] tables.

    Example:

        compplan audit cases/enterprise_first current --out audit/today

    For a folder holding org.toml: the conflict map of the roles' plans, goal by goal
    and role by role (PLAN is 'current' or an org_plan.json), in audit_org.json/.md:

        compplan audit cases/gtm_org current --out audit/gtm
    """
    source = load_source(case)
    try:
        found = api.audit_report(source, plan)
    except CompplanError as exc:
        fail(exc)
    out = Path(out_dir)
    with output_set(out_dir, force=force, inputs=found.inputs) as folder:
        written = [out / p.name for p in found.write_into(folder)]
    if not quiet:
        if found.org:
            from compplan.cli.org import show_audit

            show_audit(found.audit)
        else:
            _show_audit(found.audit)
            for line in found.response_lines:
                out_console.print(f"  {line}")
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
    for note in result.written:
        out_console.print(f"  as written: {note}")
    for rule in result.rules_broken:
        out_console.print(f"  breaks a design rule: {rule}")
    out_console.print(f"{DEFINITIONS}\n{THRESHOLDS_NOTE}", style="dim")


@click.command()
@click.argument("plan")
@click.option("--case", "case_dir", type=click.Path(file_okay=False),
              help="The plan's case: goals, median target incentive, current plan.")
@click.option("--out", "out_dir", default="out/explain", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for plan_explained.md and plan_explained.html.")
@click.option("--per-rep", is_flag=True,
              help="Also one HTML page per rep of --case, with her own target incentive, "
                   "quotas and rates, and an index.html, in OUT/reps.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="Nothing on the terminal.")
def explain(plan: str, case_dir: str | None, out_dir: str, per_rep: bool, force: bool,
            quiet: bool) -> None:
    """Write the plan document for reps, in Markdown and self-contained HTML.

    PLAN is a plan.json written by compplan optimise; with --case it may also be
    'current' or a TOML file of [[metrics]] tables. With --case the document says
    which goals the plan serves, works examples for a typical rep's target incentive
    and says what changed from the case's current_plan.toml, and why; with --per-rep
    each rep gets her own page.

    Example:

    \b
        compplan explain plans/fy27/plan.json --case cases/enterprise_first
        compplan explain plans/fy27/plan.json --case cases/enterprise_first --per-rep
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    if per_rep and case_dir is None:
        raise ExitError("--per-rep needs --case (the reps, their target incentives and "
                        "quotas come from the case)", 2)
    if case_dir is None and plan == CURRENT_PLAN:
        raise ExitError("'current' needs --case (the case folder holding current_plan.toml)", 2)
    loaded = load(case_dir) if case_dir is not None else None
    try:
        document = api.explain(plan, loaded, per_rep=per_rep)
    except CompplanError as exc:
        fail(exc)
    out = Path(out_dir)
    with output_set(out_dir, force=force, inputs=_inputs(case_dir, plan)) as folder:
        files = document.write(folder)
    written, pages = files[:2], files[2:]
    if not quiet:
        out_console.print(f"wrote {', '.join(str(out / p.name) for p in written)}"
                          + (f", {out / pages[0].relative_to(folder)} and "
                             f"{len(pages) - 1:,} rep pages in {out / pages[0].parent.name}"
                             if pages else ""))


def _inputs(case: str | Path | None, plan: str) -> list[str | Path]:
    """What a run reads: its output folder may not be or hold one of them."""
    return [p for p in (case, None if plan == CURRENT_PLAN else plan) if p is not None]


COMMANDS: list[click.Command] = [audit, explain]
