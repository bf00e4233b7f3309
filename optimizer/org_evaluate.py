"""An organisation's plans under its scenarios: role by role and in total (MODEL.md s. 7).

Each role's plan is evaluated as a single case (:func:`evaluate_plan`, canonical or as
written; a role with ``[response]`` under response, MODEL.md section 10); the
organisation's total payout in scenario ``s`` is the sum over roles of their payout in
scenario ``s`` (the same period label in every role, checked when the
organisation is loaded). Every organisation rule is checked on the plans: the caps
O1 and O2 and the coherence rules O3 to O5 set in ``org.toml``, and the conflict map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compplan.errors import CaseError, UsageError
from compplan.models.org import Org
from compplan.models.plan import Plan, load_plan
from compplan.models.text import shown
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.evaluate import (
    DEFAULT_CVAR_LEVEL,
    Evaluation,
    evaluate_plan,
    plan_payouts,
)
from compplan.optimizer.org import goal_sides
from compplan.optimizer.org_audit import OrgAudit, audit_org
from compplan.optimizer.response import (
    ResponseContext,
    ResponseFigures,
    evaluate_response,
    marginal,
    response_payouts,
)
from compplan.optimizer.tails import tail_mean

SCHEMA = "compplan.org_evaluation/1"
CURRENT = "current"
#: A rule of the organisation counts as met within this (relative) tolerance.
CHECK_TOLERANCE = 1e-6


def load_org_plans(org: Org, ref: str | Path) -> dict[str, Plan]:
    """Each role's plan: ``current`` (its current_plan.toml) or a designed org_plan.json.

    Parameters
    ----------
    org : Org
        The organisation.
    ref : str or Path
        ``"current"``, an ``org_plan.json`` written by ``compplan optimise ORG_DIR`` or
        the folder holding it (each role's ``plan.json`` beside it, in ``<role id>/``).

    Returns
    -------
    dict of str to Plan
        Per role id, its plan (every role has one).

    Raises
    ------
    UsageError
        ``ref`` is neither; a role has no current plan.
    CaseError
        A role's plan file is missing or does not fit the role's case.
    """
    plans: dict[str, Plan] = {}
    if str(ref) == CURRENT:
        for role in org.roles:
            if role.case.current_plan is None:
                raise UsageError(f"{role.case.path / 'current_plan.toml'}: role '{role.id}' "
                                 "has no current plan; add the file, or give an "
                                 "org_plan.json written by compplan optimise ORG_DIR")
            plans[role.id] = load_plan(role.case, CURRENT)
        return plans
    path = Path(ref)
    folder = path.parent if path.is_file() else path
    if not (folder / "org_plan.json").is_file():
        raise UsageError(f"{ref}: give 'current' or an org_plan.json written by compplan "
                         "optimise ORG_DIR (with its role folders beside it)")
    _check_plan_roles(org, folder / "org_plan.json")
    for role in org.roles:
        try:
            plans[role.id] = load_plan(role.case, folder / role.id / "plan.json")
        except CaseError as exc:
            # "plan.json: ..." alone does not say which role's file is at fault.
            raise CaseError(f"{folder / role.id / 'plan.json'} (role '{role.id}')", exc.detail,
                            row=exc.row, field=exc.field) from None
    return plans


def _check_plan_roles(org: Org, path: Path) -> None:
    """The org_plan.json's roles are the organisation's: none missing, none extra.

    A plan of three roles evaluated against an organisation of two once left the third
    out silently.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        listed = [str(r["id"]) for r in doc["roles"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CaseError(str(path), f"cannot be read as an org_plan.json ({type(exc).__name__}: "
                                   f"{exc}); give one written by compplan optimise ORG_DIR"
                        ) from None
    ids = [r.id for r in org.roles]
    extra = [r for r in listed if r not in ids]
    if extra:
        raise CaseError(str(path), f"holds a plan for role {shown(extra[0])}, which the "
                                   f"organisation {shown(org.name)} does not have (roles: "
                                   f"{', '.join(ids)}); give the org_plan.json of this "
                                   "organisation")
    missing = [r for r in ids if r not in listed]
    if missing:
        raise CaseError(str(path), f"has no plan for role {shown(missing[0])} of the "
                                   f"organisation {shown(org.name)} (its roles: "
                                   f"{', '.join(listed)}); give the org_plan.json of this "
                                   "organisation")


def plan_label(ref: str | Path) -> str:
    """``current``, or the folder an org_plan.json sits in (``plans/gtm`` is ``gtm``)."""
    if str(ref) == CURRENT:
        return CURRENT
    path = Path(ref).absolute()
    return (path.parent if path.suffix == ".json" else path).name or str(ref)


def paid_metrics(plan: Plan) -> set[str]:
    """The metrics a plan pays (weight > 0; a curve as written pays whatever its weight)."""
    return {m.id for m in plan.metrics if m.weight > 0 or m.written}


@dataclass(frozen=True)
class RoleEvaluation:
    """One role's plan under its scenarios."""

    id: str
    label: str
    share: float
    plan: Plan
    evaluation: Evaluation
    totals: np.ndarray
    #: With ``[response]``: the figures under response (``evaluation`` and ``totals`` are
    #: then under response) beside the static ones (MODEL.md section 10).
    response: ResponseFigures | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        ev = self.evaluation
        data = {"id": self.id, "label": self.label, "share": self.share,
                "alignment": ev.alignment, "expected_cost": ev.expected_cost,
                "metrics": self.plan.to_records(),
                "guardrails_ok": all(g.ok for g in ev.guardrails)
                and all(r.ok for r in ev.design_rules),
                "evaluation": ev.to_dict()}
        if self.response is not None:
            data["response"] = self.response.to_dict()
        return data


@dataclass(frozen=True)
class OrgEvaluation:
    """An organisation's plans: each role's figures, the total's, the rules and conflicts.

    Attributes
    ----------
    alignment : float
        ``sum_p s_p alignment_p`` (the roles' target-incentive shares ``s_p``).
    expected_cost : float
        Expected total payout of all roles.
    totals : numpy.ndarray
        Total payout of all roles per scenario, in the order of ``labels``.
    cvar_level, cvar : float
        CVaR of ``totals`` at the organisation's level (0.9 when it sets none).
    checks : list of dict
        Each organisation rule set in ``org.toml``: ``rule``, ``setting``, ``value``,
        ``limit`` (caps; null for coherence rules), ``ok`` and ``detail``.
    audit : OrgAudit
        The conflict map, goal by goal and role by role.
    """

    org: str
    currency: str
    name: str
    source: str
    roles: list[RoleEvaluation]
    alignment: float
    expected_cost: float
    totals: np.ndarray
    labels: list[str]
    cvar_level: float
    cvar: float
    checks: list[dict[str, Any]]
    audit: OrgAudit
    periods_per_year: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every organisation rule and every role's guardrails and design rules hold."""
        return all(c["ok"] for c in self.checks) and all(
            r.to_dict()["guardrails_ok"] for r in self.roles)

    def to_dict(self) -> dict[str, Any]:
        """The ``evaluation.json`` document of an organisation."""
        return {
            "schema": SCHEMA, "org": self.org, "currency": self.currency,
            **({"periods_per_year": self.periods_per_year} if self.periods_per_year else {}),
            "plans": {"name": self.name, "source": self.source},
            "objective": {"alignment": self.alignment, "expected_cost": self.expected_cost},
            "total": {"cvar_level": self.cvar_level, "cvar": self.cvar,
                      "p10": float(np.percentile(self.totals, 10)),
                      "p50": float(np.percentile(self.totals, 50)),
                      "p90": float(np.percentile(self.totals, 90)),
                      "by_scenario": dict(zip(self.labels, map(float, self.totals),
                                              strict=True))},
            "checks": self.checks,
            "ok": self.ok,
            "roles": [r.to_dict() for r in self.roles],
            "conflicts": self.audit.conflicts,
            "unserved_goals": self.audit.unserved,
            "conflict_map": self.audit.to_dict()["goals"],
        }


def evaluate_org(org: Org, coeffs: list[Coefficients], plans: dict[str, Plan],
                 name: str = CURRENT, source: str = CURRENT) -> OrgEvaluation:
    """Evaluate every role's plan and the organisation's total under the scenarios.

    Parameters
    ----------
    org : Org
        The organisation.
    coeffs : list of Coefficients
        Each role's coefficients (:func:`~compplan.optimizer.org.org_coefficients`).
    plans : dict of str to Plan
        Every role's plan (:func:`load_org_plans`).
    name, source : str
        What the plans are called, and where they came from.

    Returns
    -------
    OrgEvaluation
        Role by role and in total, every organisation rule checked, the conflict map.
    """
    roles = []
    for role, c, share in zip(org.roles, coeffs, org.shares, strict=True):
        plan = plans[role.id]
        pay = plan_payouts(role.case, c, plan)
        static = evaluate_plan(role.case, c, plan, payouts=pay)
        if role.case.spec.response is None:
            roles.append(RoleEvaluation(role.id, role.label, float(share), plan, static,
                                        np.asarray(pay.totals, dtype=np.float64)))
            continue
        # MODEL.md section 10: each role's [response] applies to that role.
        ctx = ResponseContext.of(role.case, c)
        figures = evaluate_response(ctx, plan, static=static)
        lam = np.array([figures.multipliers[k] for k in role.case.metric_ids])
        under = response_payouts(role.case, c, plan, lam,
                                 marginal(role.case, c, plan, ctx.scenarios), ctx.scenarios)
        roles.append(RoleEvaluation(role.id, role.label, float(share), plan,
                                    figures.evaluation,
                                    np.asarray(under.totals, dtype=np.float64), figures))
    # Scenario s is the same period in every role (checked by load_org): sum by index.
    totals = np.sum([r.totals for r in roles], axis=0)
    level = org.spec.budget.cvar_level or DEFAULT_CVAR_LEVEL
    first = org.roles[0].case
    labels = (list(first.periods) if first.spec.scenarios.mode == "historical"
              and len(first.periods) == len(totals) else [str(s + 1) for s in range(len(totals))])
    cost = float(sum(r.evaluation.expected_cost for r in roles))
    cvar = float(tail_mean(totals, 1.0 - level, True))
    paid = {r.id: paid_metrics(r.plan) for r in roles}
    audit = audit_org(org, coeffs, plans, name)
    from compplan.models.money import periods_per_year

    return OrgEvaluation(
        org.name, org.currency, name, source, roles,
        float(sum(r.share * r.evaluation.alignment for r in roles)), cost, totals, labels,
        level, cvar, org_checks(org, cost, cvar, paid, audit), audit,
        periods_per_year(first))


def org_checks(org: Org, cost: float, cvar: float, paid: dict[str, set[str]],
               audit: OrgAudit) -> list[dict[str, Any]]:
    """Every organisation rule set in ``org.toml`` (O1 to O5), checked on the plans."""
    checks: list[dict[str, Any]] = []
    budget = org.spec.budget
    if budget.expected_cap is not None:
        checks.append(_cap("O1", "org_budget_expected", "org.toml [budget] expected_cap", cost,
                           budget.expected_cap, "expected cap"))
    if budget.cvar_cap is not None:
        checks.append(_cap("O2", "org_budget_cvar", "org.toml [budget] cvar_cap", cvar,
                           budget.cvar_cap, "CVaR cap"))
    for i, h in enumerate(org.handoffs):
        up, down = ".".join(h.upstream), ".".join(h.downstream)
        on = h.upstream[1] in paid[h.upstream[0]]
        ok = not on or h.downstream[1] in paid[h.downstream[0]]
        checks.append(_rule("O3", f"coherence_handoff_{i + 1}",
                            f"org.toml [coherence] handoffs #{i + 1}", ok,
                            f"{up} is paid and {down} is " + ("paid" if ok else "not")
                            if on else f"{up} is not paid"))
    positive = [g for g, p in org.spec.goals.items() if p > 0]
    if org.spec.coherence.no_opposing:
        for goal in positive:
            found = [c for c in audit.conflicts if c["goal"] == goal]
            checks.append(_rule("O4", f"coherence_no_opposing_{goal}",
                                "org.toml [coherence] no_opposing", not found,
                                "; ".join(f"{c['serves']} serves '{goal}', {c['against']} "
                                          "works against it" for c in found)
                                or f"nobody is paid against '{goal}' while another serves it",
                                goal))
    if org.spec.coherence.cover_goals:
        for goal in positive:
            serves, _ = goal_sides(org, goal)
            by = [f"{r}.{m}" for r, m in serves if m in paid[r]]
            checks.append(_rule("O5", f"coherence_cover_{goal}",
                                "org.toml [coherence] cover_goals", bool(by),
                                f"'{goal}' is served by {', '.join(by)}" if by
                                else f"no paid metric serves '{goal}'", goal))
    return checks


def _cap(rule: str, name: str, setting: str, value: float, limit: float,
         label: str) -> dict[str, Any]:
    ok = value <= limit + CHECK_TOLERANCE * max(1.0, abs(limit))
    return {"rule": rule, "name": name, "label": f"{rule} {label} (limit {limit:,.0f})",
            "setting": setting,
            "value": value, "limit": limit,
            "slack": limit - value, "ok": ok,
            "detail": f"{value:,.0f} against a limit of {limit:,.0f}"}


def _rule(rule: str, name: str, setting: str, ok: bool, detail: str,
          goal: str | None = None) -> dict[str, Any]:
    short = ("handoff " + setting.rpartition(" ")[2] if rule == "O3"
             else setting.rpartition(" ")[2])
    return {"rule": rule, "name": name,
            "label": f"{rule} {short}" + (f" '{goal}'" if goal else ""),
            "setting": setting + (f" (goal '{goal}')" if goal else ""),
            "value": None, "limit": None, "slack": None, "ok": ok, "detail": detail}


# ----------------------------------------------------------------------------- compare

def compare_rows(evaluations: list[OrgEvaluation]) -> list[dict[str, Any]]:
    """The figures of several sets of plans side by side, with differences from the first.

    Returns
    -------
    list of dict
        One row per figure: ``figure``, then one value per plan (by its name), then
        ``<name> - <first>`` for numeric figures.
    """
    names = [e.name for e in evaluations]
    rows: list[dict[str, Any]] = []

    def add(figure: str, values: list[Any]) -> None:
        row: dict[str, Any] = {"figure": figure, **dict(zip(names, values, strict=True))}
        for n, v in zip(names[1:], values[1:], strict=True):
            numeric = all(isinstance(x, float | int) and not isinstance(x, bool)
                          for x in (v, values[0]))
            row[f"{n} - {names[0]}"] = v - values[0] if numeric else None
        rows.append(row)

    add("organisation alignment", [e.alignment for e in evaluations])
    add("expected payout", [e.expected_cost for e in evaluations])
    add(f"CVaR {evaluations[0].cvar_level:.0%} of the total",
        [e.cvar for e in evaluations])
    for q in (10, 50, 90):
        add(f"total P{q}", [float(np.percentile(e.totals, q)) for e in evaluations])
    add("conflicts", [len(e.audit.conflicts) for e in evaluations])
    add("goals nobody serves", [", ".join(e.audit.unserved) or "none" for e in evaluations])
    for i, check in enumerate(evaluations[0].checks):
        add(check["label"],
            [e.checks[i]["value"] if check["value"] is not None
             else ("ok" if e.checks[i]["ok"] else "broken") for e in evaluations])
    for j, role in enumerate(evaluations[0].roles):
        add(f"{role.id} alignment", [e.roles[j].evaluation.alignment for e in evaluations])
        add(f"{role.id} expected payout",
            [e.roles[j].evaluation.expected_cost for e in evaluations])
        add(f"{role.id} metrics", [", ".join(f"{m.id} {m.weight:.0%}"
                                             for m in e.roles[j].plan.metrics)
                                   for e in evaluations])
        add(f"{role.id} guardrails", ["ok" if e.roles[j].to_dict()["guardrails_ok"]
                                      else "broken" for e in evaluations])
    return rows


def compare_markdown(title: str, rows: list[dict[str, Any]]) -> str:
    """The comparison as a markdown table."""
    columns = list(rows[0])
    lines = [f"# {title}", "", "| " + " | ".join(columns) + " |",
             "|---|" + "---:|" * (len(columns) - 1)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.6g}"
    return str(value).replace("|", "\\|")
