"""The audit for a person: the terminal summary lines and ``audit.md``."""

from __future__ import annotations

from collections.abc import Callable

from compplan.models.money import annual_note
from compplan.optimizer.audit import WEAK_ALIGNMENT, Audit, MetricAudit
from compplan.render.text import md_escape, pct


def alignment_text(m: MetricAudit) -> str:
    """The metric's non-zero alignments with the goals: ``enterprise_growth +1.00, ...``."""
    return ", ".join(f"{g} {a:+.2f}" for g, a in m.alignment.items() if a != 0.0) or "none"


def summary_lines(audit: Audit, esc: Callable[[str], str] = str) -> list[str]:
    """The audit's findings in plain sentences; ``esc`` escapes text from the case files."""
    lines = [f"{pct(audit.against_strategy_share)} of the plan's marginal incentive goes to "
             "metrics that undermine the strategy (a < 0)"]
    against = [g for g in audit.goals if g.against_share > 0.0]
    lines.append("against each goal: " + "; ".join(
        f"{esc(g.id)} {pct(g.against_share)}" for g in against) if against
        else "no metric of the plan works against any goal")
    unasked = audit.pays_for_unasked
    lines.append("pays for what the strategy does not ask for (a < "
                 f"{WEAK_ALIGNMENT:g}): " + "; ".join(
                     f"{esc(m.label)} (a = {m.goal_alignment:.3f}, {pct(m.incentive_share)} "
                     "of the marginal incentive)" for m in unasked) if unasked
                 else "pays for nothing the strategy does not ask for")
    for goal in audit.not_paid_for:
        best = "; ".join(f"{esc(c.label)} (A = {c.alignment:+.2f}, a = {c.goal_alignment:.3f})"
                         for c in goal.candidates)
        lines.append(f"does not pay for {esc(goal.id)} (priority {pct(goal.priority)}, net "
                     f"incentive {goal.net_incentive:+.4f}); "
                     + (f"candidates that serve it best: {best}" if best
                        else "no candidate metric outside the plan can serve it"))
    if not audit.not_paid_for:
        lines.append("every goal of the strategy is paid for")
    return lines


THRESHOLDS_NOTE = (
    f"verdicts: undermines the strategy when a < 0; works against a goal when a >= 0 but "
    f"A < 0 for that goal; neutral when 0 <= a < {WEAK_ALIGNMENT:g}; serves the strategy "
    f"when a >= {WEAK_ALIGNMENT:g} with no goal against")
DEFINITIONS = (
    "a = the sum over goals of priority x A; U = the expected extra pay, as a share of "
    "target incentive, of one typical step of improvement on the metric (its step, else the "
    "spread of its attainment), given where reps land on the curve; share = U over the "
    "plan's total")


def audit_markdown(audit: Audit) -> str:
    """The audit for a person: the metric table, the shares and the gaps (``audit.md``)."""
    e = md_escape
    goals = [g.id for g in audit.goals]
    lines = [f"# Incentive audit: {e(audit.plan)} of {e(audit.case)}", "",
             f"Expected alignment {audit.alignment:.6f}. One typical step of improvement on "
             f"every metric would pay the average rep {pct(audit.total_marginal_incentive)} "
             "of target incentive in all "
             f"({audit.total_marginal_incentive * audit.mean_target_incentive:,.0f} "
             f"{e(audit.currency)}{annual_note(audit.periods_per_year)}).", "",
             "## Metrics", "",
             "| metric | weight | " + " | ".join(f"A {e(g)}" for g in goals)
             + " | a | step | U | share | verdict |",
             "|---|---:|" + "---:|" * len(goals) + "---:|---:|---:|---:|---|"]
    for m in audit.metrics:
        lines.append(f"| {e(m.label)} | {pct(m.weight)} | "
                     + " | ".join(f"{m.alignment[g]:+.2f}" for g in goals)
                     + f" | {m.goal_alignment:.3f} | {m.step:.3f} | "
                     f"{pct(m.marginal_incentive, 2)} | {pct(m.incentive_share)} | "
                     f"{e(m.verdict)} |")
    lines += ["", f"Where {DEFINITIONS}.", "",
              THRESHOLDS_NOTE[0].upper() + THRESHOLDS_NOTE[1:] + ".", "",
              "## Goals", "",
              "| goal | priority | net incentive (sum of A x U) | share against | paid for |",
              "|---|---:|---:|---:|:-:|"]
    for g in audit.goals:
        lines.append(f"| {e(g.id)} | {pct(g.priority)} | {g.net_incentive:+.4f} | "
                     f"{pct(g.against_share)} | {'yes' if g.paid_for else 'NO'} |")
    lines += ["", "## Findings", ""] + [f"- {line}" for line in summary_lines(audit, e)]
    lines += written_lines(audit, e)
    return "\n".join(lines) + "\n"


def written_lines(audit: Audit, esc: Callable[[str], str] = str) -> list[str]:
    """``audit.md``'s sections on a plan as written: how its metrics pay, rules it breaks."""
    lines = []
    if audit.written:
        lines += ["", "## As written", "", "Metrics not on the case's own curves pay as follows:",
                  ""] + [f"- {esc(note)}" for note in audit.written]
    if audit.rules_broken:
        lines += ["", "## Design rules the plan breaks", "",
                  "Reported, not refused: the plan is audited as it is written.", ""]
        lines += [f"- {esc(rule)}" for rule in audit.rules_broken]
    return lines
