"""The conflict map of an organisation's plans: goal by goal, who is paid for and against it.

For role ``p`` and its metric ``m``, the **marginal incentive** is the organisation-
weighted ``s_p rho_m U_m`` (MODEL.md sections 4 and 7): what one typical step of
improvement pays, as a share of the organisation's target incentive. A goal ``g`` is
served by role ``p`` with ``sum over A[p,m,g] > 0 of incentive x A[p,m,g]`` and worked
against with ``sum over A[p,m,g] < 0 of incentive x |A[p,m,g]|``; each role's share of
a side is its part of that side's total over all roles. A goal of priority > 0 that no
paid metric serves is *unserved*.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from compplan.models.org import Org
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.evaluate import plan_payouts
from compplan.optimizer.org_pipeline import conflicts

SCHEMA = "compplan.org_audit/1"


@dataclass(frozen=True)
class Cell:
    """One role's incentive on one goal: for it, against it, and its shares of each side."""

    role: str
    serves: float
    against: float
    serves_share: float | None
    against_share: float | None

    @property
    def direction(self) -> str:
        """``serves``, ``against``, ``both`` or ``none``."""
        if self.serves > 0 and self.against > 0:
            return "both"
        if self.serves > 0:
            return "serves"
        return "against" if self.against > 0 else "none"


@dataclass(frozen=True)
class GoalRow:
    """One goal of the conflict map."""

    goal: str
    priority: float
    cells: list[Cell]
    net: float
    served_by: list[str]
    worked_against_by: list[str]


@dataclass(frozen=True)
class OrgAudit:
    """The conflict map of a set of role plans (``audit_org.json``)."""

    org: str
    plans: str
    roles: list[str]
    goals: list[GoalRow]
    conflicts: list[dict[str, str]]
    unserved: list[str] = field(default_factory=list)
    missing_plans: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = {"schema": SCHEMA, **asdict(self)}
        for row, goal in zip(data["goals"], self.goals, strict=True):
            for cell, source in zip(row["cells"], goal.cells, strict=True):
                cell["direction"] = source.direction
        return data


def audit_org(org: Org, coeffs: list[Coefficients], plans: dict[str, Plan],
              name: str) -> OrgAudit:
    """The conflict map of role plans, goal by goal.

    Parameters
    ----------
    org : Org
        The organisation.
    coeffs : list of Coefficients
        Each role's coefficients (goals are the organisation's).
    plans : dict of str to Plan
        Each role's plan; a role left out pays nothing (listed in ``missing_plans``).
    name : str
        What the plans are, for the reader ("today's plans").

    Returns
    -------
    OrgAudit
        For every goal, each role's marginal incentive for and against it.
    """
    shares = org.shares
    incentive: dict[str, dict[str, float]] = {}
    for role, c, s in zip(org.roles, coeffs, shares, strict=True):
        plan = plans.get(role.id)
        if plan is None:
            continue
        # U_m of the plan as it pays: a written plan's curves and gates included.
        per_metric = s * c.responsiveness * plan_payouts(role.case, c, plan).marginal
        incentive[role.id] = {k: float(v) for k, v in zip(c.metric_ids, per_metric,
                                                          strict=True) if v > 0}
    rows = []
    for goal, priority in org.spec.goals.items():
        cells = []
        for role in org.roles:
            pay = incentive.get(role.id, {})
            a = {k: role.case.metric(k).alignment.get(goal, 0.0) for k in pay}
            cells.append((role.id, sum(pay[k] * a[k] for k in pay if a[k] > 0),
                          sum(pay[k] * -a[k] for k in pay if a[k] < 0)))
        total_for = sum(c[1] for c in cells)
        total_against = sum(c[2] for c in cells)
        made = [Cell(r, f, g, f / total_for if total_for > 0 else None,
                     g / total_against if total_against > 0 else None) for r, f, g in cells]
        rows.append(GoalRow(goal, priority, made, total_for - total_against,
                            [c.role for c in made if c.serves > 0],
                            [c.role for c in made if c.against > 0]))
    paid = {rid: set(pay) for rid, pay in incentive.items()}
    return OrgAudit(org.name, name, [r.id for r in org.roles], rows, conflicts(org, paid),
                    [r.goal for r in rows if r.priority > 0 and not r.served_by],
                    [r.id for r in org.roles if r.id not in plans])


def audit_markdown(result: OrgAudit) -> str:
    """The conflict map as a goal x role table, for a person."""
    lines = [f"# Conflict map of {result.org}: {result.plans}", "",
             "Each cell: the role's marginal incentive for the goal (+) and against it (-), "
             "as a share of the organisation's target incentive per typical step, with the "
             "role's share of each side.", "",
             "| goal | priority | " + " | ".join(result.roles) + " | net |",
             "|---|---:|" + "---|" * len(result.roles) + "---:|"]
    for row in result.goals:
        cells = [_cell_text(c) for c in row.cells]
        lines.append(f"| {row.goal} | {row.priority:g} | " + " | ".join(cells)
                     + f" | {row.net:+.3%} |")
    lines.append("")
    if result.conflicts:
        lines += ["## Conflicts", ""]
        lines += [f"- **{c['goal']}**: {c['serves']} is paid to serve it, {c['against']} to "
                  "work against it" for c in result.conflicts]
        lines.append("")
    if result.unserved:
        lines.append("Goals nobody is paid to serve: " + ", ".join(result.unserved) + ".")
    if result.missing_plans:
        lines.append("Roles without a plan here: " + ", ".join(result.missing_plans) + ".")
    return "\n".join(lines) + "\n"


def _cell_text(cell: Cell) -> str:
    parts = []
    if cell.serves > 0:
        parts.append(f"+{cell.serves:.3%} ({cell.serves_share:.0%})")
    if cell.against > 0:
        parts.append(f"-{cell.against:.3%} ({cell.against_share:.0%})")
    return " / ".join(parts) or "."
