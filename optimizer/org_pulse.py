"""The pulse check of an organisation (MODEL.md sections 7 and 8): every role, one budget.

Each role gets its own pulse figures (section 8 applied to the role's case, plan and
actuals). The organisation adds them up: paid to date ``A_org = sum_p A_p``, expected to
date, the forecast, and the remaining organisation cap of section 8 applied to
``B_org``: ``B_org_rem = (N B_org - A_org) / R`` (with money per year,
``(B_org - A_org) N / R``).

The joint re-tune keeps every role's metrics and changes weights and accelerator rates
as little as possible over all roles together: it minimises
``d = sum_p sum_m |w'[p,m] - w[p,m]| + |u'[p,m] - u[p,m]|`` subject to every role's
constraints 1 and 3-10 with the role's own remaining cap, O1 with ``B_org_rem`` in place
of ``B_org``, and O2-O5. Ties as in section 8: the least change, then the best
organisation alignment, then the least expected total payout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyomo.core as pyo

from compplan.errors import CaseError, CompplanError, SolverLimitError, UsageError
from compplan.models.actuals import Actuals
from compplan.models.org import Org
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import TailMethod
from compplan.optimizer.org import active_rules, create_org_model, org_coefficients
from compplan.optimizer.org_pipeline import rule_setting
from compplan.optimizer.pulse import (
    UNCHANGED,
    PulseOutcome,
    Retune,
    Year,
    _retune_doc,
    define_change,
    is_canonical,
    plan_year,
    pulse_check,
    scenario_pay,
    with_cap,
)
from compplan.optimizer.solve import SolveResult, Stage, Status, solve_stages

SCHEMA = "compplan.org_pulse/1"


@dataclass(frozen=True)
class OrgPulseOutcome:
    """An organisation's pulse check.

    Attributes
    ----------
    document : dict
        ``org_pulse.json``: the organisation's figures, the joint re-tune, each role's
        pulse document (``roles``).
    roles : dict of str to PulseOutcome
        Each role's pulse, its ``retune`` the role's part of the joint re-tune.
    beyond_repair : bool
        No joint re-tune with the plans' metrics saves the year (exit 3).
    """

    document: dict[str, Any]
    roles: dict[str, PulseOutcome]
    beyond_repair: bool


def check_periods(org: Org, actuals: Mapping[str, Actuals]) -> dict[str, Actuals]:
    """Every role's actuals cover the same elapsed periods (scenario ``s`` is one period).

    Periods keep the order of the first role's file; another role's file may list the
    same periods in another order (its columns are put in the first role's order).

    Raises
    ------
    CaseError
        Naming the role's actuals file whose periods differ from the first role's.
    """
    first = org.roles[0]
    want = actuals[first.id].periods
    aligned = {first.id: actuals[first.id]}
    for role in org.roles[1:]:
        got = actuals[role.id].periods
        if sorted(got) == sorted(want) and len(set(got)) == len(got):
            order = [got.index(p) for p in want]
            one = actuals[role.id]
            aligned[role.id] = replace(one, periods=want,
                                       attainment=np.ascontiguousarray(one.attainment[:, :, order]),
                                       present=np.ascontiguousarray(one.present[:, order]))
            continue
        if got != want:
            raise CaseError(actuals[role.id].file,
                            f"covers the periods {', '.join(got)} but "
                            f"{actuals[first.id].file} covers {', '.join(want)}; every "
                            "role's actuals cover the same elapsed periods of the plan year")
    return aligned


def org_pulse_check(org: Org, plans: Mapping[str, Plan], actuals: Mapping[str, Actuals], *,
                    year_periods: int | None = None, tail_method: TailMethod = "auto",
                    time_limit: float | None = None,
                    progress: Callable[[str], None] | None = None,
                    coefficients: list[Coefficients] | None = None) -> OrgPulseOutcome:
    """Every role's pulse, the organisation's totals and the joint re-tune.

    Parameters
    ----------
    org : Org
        The organisation.
    plans : mapping of str to Plan
        The plan in force of every role, by role id.
    actuals : mapping of str to Actuals
        Every role's actuals, by role id, all over the same elapsed periods.
    year_periods : int, optional
        ``N`` (see :func:`compplan.optimizer.pulse.plan_year`); the same for every role.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    time_limit : float, optional
        Seconds for the joint re-tune's solver calls.
    progress : callable, optional
        Called with a line of text at each step.
    coefficients : list of Coefficients, optional
        Each role's coefficients when already computed, in role order.

    Returns
    -------
    OrgPulseOutcome
        ``document`` is ``org_pulse.json``.

    Raises
    ------
    CaseError
        A role's actuals cover other periods than the first role's.
    UsageError
        The roles' plan years differ (``N`` or the money's unit of time), or ``k >= N``.
    """
    say = progress or (lambda _: None)
    actuals = check_periods(org, actuals)
    year = _org_year(org, actuals, year_periods)
    if coefficients is None:
        say("computing coefficients")
        coefficients = org_coefficients(org)
    coeffs = coefficients
    outcomes: dict[str, PulseOutcome] = {}
    totals = np.zeros(0)
    for role, c in zip(org.roles, coeffs, strict=True):
        say(f"role {role.id}: paid to date and drift")
        outcomes[role.id] = pulse_check(role.case, plans[role.id], actuals[role.id],
                                        year_periods=year.periods, coefficients=c,
                                        retune_plan=False)
        outcomes[role.id].document.update({"role": role.id, "label": role.label})
        scen = scenario_pay(role.case, c, plans[role.id]).totals
        totals = scen if not totals.size else totals + scen
    docs = [outcomes[r.id].document for r in org.roles]
    paid = float(sum(d["paid_to_date"] for d in docs))
    expected = float(totals.mean())
    per = year.per_period
    cap = org.spec.budget.expected_cap
    year_budget = None if cap is None else (cap if year.annual else year.periods * cap)
    remaining = None if year_budget is None else (year_budget - paid) / (year.remaining * per)
    p10, p90 = (float(np.percentile(totals, q)) for q in (10, 90))
    doc: dict[str, Any] = {
        "schema": SCHEMA, "org": org.name, "currency": org.currency, "money": year.money,
        "periods": list(actuals[org.roles[0].id].periods),
        "periods_elapsed": year.elapsed, "periods_in_year": year.periods,
        "status": "optimal",
        "paid_to_date": paid,
        "expected_to_date": year.elapsed * per * expected,
        "remaining_cap_per_period": remaining,
        "forecast_year_total": paid + year.remaining * per * expected,
        "forecast_band": {"p10": paid + year.remaining * per * p10,
                          "p90": paid + year.remaining * per * p90},
        "year_budget": year_budget,
        "expected_per_period": expected * per,
    }
    if cap is not None and year_budget is not None:
        # The budget now (the pace so far against the cap) and projected (the forecast
        # against the year's budget), as a case's budget_expected row.
        forecast, pace = doc["forecast_year_total"], paid / (year.elapsed * per)
        doc["budget"] = {"setting": "[budget] expected_cap (org.toml)", "now": pace,
                         "limit_now": cap, "projected": forecast, "limit": year_budget,
                         "ok_now": pace <= cap + 1e-9 * max(1.0, cap),
                         "ok_projected": forecast <= year_budget + 1e-9 * max(1.0, year_budget)}
    written = [r.id for r in org.roles if not is_canonical(r.case, plans[r.id])]
    beyond = False
    if written:
        doc["retune"] = None
        doc["retune_note"] = (f"the plan of {', '.join(written)} is not in the canonical form "
                              "with the case's curves (a curve, a gate, or its own threshold "
                              "or cap): the re-tune is defined for the canonical form only")
    else:
        say("re-tuning every role jointly")
        joint = joint_retune(org, coeffs, plans, docs, remaining, tail_method=tail_method,
                             time_limit=time_limit, progress=progress)
        if joint is None:
            beyond = True
            doc["status"] = "infeasible"
            doc["retune"] = None
            doc["retune_note"] = _beyond_note(org, coeffs, plans, docs, year, paid, remaining)
        else:
            doc["retune"] = _joint_doc(org, coeffs, plans, joint, docs)
    for d in docs:
        if doc["retune"] is not None:
            d["retune"] = next(r for r in doc["retune"]["roles"]
                               if r["id"] == d["role"])["retune"]
            d.pop("retune_note", None)
        else:
            d["retune_note"] = "see the organisation's re-tune: " + doc["retune_note"]
    doc["roles"] = docs
    return OrgPulseOutcome(doc, outcomes, beyond)


def _org_year(org: Org, actuals: Mapping[str, Actuals], year_periods: int | None) -> Year:
    years = {r.id: plan_year(r.case, actuals[r.id].count, year_periods) for r in org.roles}
    first = years[org.roles[0].id]
    for rid, year in years.items():
        if (year.periods, year.annual) != (first.periods, first.annual):
            raise UsageError(f"the roles' plan years differ: {org.roles[0].id} has "
                             f"{first.periods} periods ({first.money}), {rid} "
                             f"{year.periods} ({year.money}); give --year-periods N or the "
                             "same [case] periods_per_year in every role's case.toml")
    return first


def _role_cases(org: Org, docs: list[dict[str, Any]], org_cap: float | None) -> Org:
    """The organisation with each role's remaining cap and ``B_org_rem`` as its caps."""
    roles = tuple(replace(r, case=with_cap(r.case, d["remaining_cap_per_period"]))
                  for r, d in zip(org.roles, docs, strict=True))
    budget = org.spec.budget.model_copy(update={"expected_cap": org_cap})
    return replace(org, roles=roles, spec=org.spec.model_copy(update={"budget": budget}))


@dataclass(frozen=True)
class JointRetune:
    """The joint re-tune: each role's re-tune (its part of the solution) and the totals."""

    roles: dict[str, Retune]
    change: float
    unchanged: bool
    result: SolveResult


def joint_retune(org: Org, coeffs: list[Coefficients], plans: Mapping[str, Plan],
                 docs: list[dict[str, Any]], remaining: float | None, *,
                 tail_method: TailMethod = "auto", time_limit: float | None = None,
                 progress: Callable[[str], None] | None = None,
                 objective: str = "change",
                 rules: list[str] | None = None) -> JointRetune | None:
    """The least total L1 change of every role's plan meeting every rule with the remaining caps.

    With ``objective="cost"`` (and ``remaining`` None: no organisation cap), the cheapest
    plans with these metrics instead: the smallest budget that could save the year.
    ``rules`` limits the rules (names of :func:`compplan.optimizer.org.active_rules`);
    all by default.

    Returns
    -------
    JointRetune or None
        None when no plans with these metrics meet every rule.
    """
    capped = _role_cases(org, docs, remaining)
    # The re-tune is static, as a single case's (section 8): a role's [response] does not
    # put it on its grid here.
    model = create_org_model(capped, coeffs, tail_method=tail_method, rules=rules,
                             problems={})
    m = model.model
    base = {}
    for role in org.roles:
        part = model.roles[role.id]
        w0, u0 = plans[role.id].vectors(role.case)
        base[role.id] = (w0, u0)
        for k, wk in zip(part.metric_ids, w0, strict=True):
            part.model.z[k].fix(1 if wk > 0 else 0)
        part.model.design_max_metrics.deactivate()
        define_change(part, w0, u0)
    m.retune_change = pyo.Expression(expr=pyo.quicksum(
        model.roles[r.id].model.retune_change for r in org.roles))
    if objective == "feasibility":
        stages = [Stage("feasibility", 0.0 * m.expected_cost, False)]
    elif objective == "cost":
        stages = [Stage("cost", m.expected_cost, False)]
    else:
        stages = [Stage("change", m.retune_change, False), Stage("alignment", m.alignment, True),
                  Stage("cost", m.expected_cost, False)]
    result, best = solve_stages(model, stages, time_limit=time_limit, progress=progress)
    if result.status is Status.INFEASIBLE:
        return None
    if result.status is Status.NO_SOLUTION:
        raise SolverLimitError(f"the solver stopped ({result.message}) before finding any "
                               "joint re-tune; allow more time with --time-limit")
    if not result.has_plan or result.w is None or result.u is None:
        raise CompplanError(f"the solver failed: {result.message}")
    unchanged = objective == "change" and bool(best) and best[0] <= UNCHANGED
    roles = {}
    total = 0.0
    for role, c in zip(org.roles, coeffs, strict=True):
        w0, u0 = base[role.id]
        span = model.spans[role.id]
        w, u = (w0.copy(), u0.copy()) if unchanged else (result.w[span], result.u[span])
        change = float(np.abs(w - w0).sum() + np.abs(u - u0).sum())
        total += change
        roles[role.id] = Retune(w, u, change, float(c.objective_w @ w + c.objective_u @ u),
                                float(c.cost_w @ w + c.cost_u @ u) * c.ti_total,
                                change <= UNCHANGED, result)
    return JointRetune(roles, total, unchanged, result)


def _joint_doc(org: Org, coeffs: list[Coefficients], plans: Mapping[str, Plan],
               joint: JointRetune, docs: list[dict[str, Any]]) -> dict[str, Any]:
    share = org.shares
    roles = []
    before_alignment = before_cost = 0.0
    for s, role, c, d in zip(share, org.roles, coeffs, docs, strict=True):
        w0, u0 = plans[role.id].vectors(role.case)
        tuned = joint.roles[role.id]
        part = _retune_doc(role.case, c, tuned, w0, u0, d["remaining_cap_per_period"])
        before_alignment += float(s) * part["alignment_before"]
        before_cost += part["expected_cost_before"]
        roles.append({"id": role.id, "label": role.label, "retune": part})
    return {
        "status": joint.result.status.value, "change": joint.change,
        "unchanged": joint.unchanged,
        "alignment": float(sum(float(s) * joint.roles[r.id].alignment
                               for s, r in zip(share, org.roles, strict=True))),
        "expected_cost": float(sum(t.expected_cost for t in joint.roles.values())),
        "alignment_before": before_alignment, "expected_cost_before": before_cost,
        "roles": roles,
    }


def _beyond_note(org: Org, coeffs: list[Coefficients], plans: Mapping[str, Plan],
                 docs: list[dict[str, Any]], year: Year, paid: float,
                 remaining: float | None) -> str:
    """Why no joint re-tune saves the year, with the smallest organisation budget that would."""
    cur = org.currency
    text = ("no re-tune of the roles' plans with their metrics meets every role's guardrails "
            "with its remaining cap, the organisation's remaining cap and the coherence rules")
    if remaining is None:
        return text
    cheapest = joint_retune(org, coeffs, plans, docs, None, objective="cost")
    if cheapest is None:
        return text + "; the organisation's cap is not the cause: no such plans exist at any " \
                      "organisation budget" + _conflicting(org, coeffs, plans, docs)
    cost = sum(t.expected_cost for t in cheapest.roles.values())
    year_budget = paid + year.remaining * year.per_period * cost
    cap = year_budget if year.annual else year_budget / year.periods
    return (f"{text}. Paid to date {paid:,.2f} {cur} leaves {remaining:,.2f} {cur} "
            f"{year.money} for the {year.remaining} remaining period(s); the cheapest plans "
            f"with these metrics are expected to pay {cost:,.2f} {cur} {year.money}. The "
            f"smallest organisation [budget] expected_cap that saves the year is "
            f"{cap:,.2f} {cur} (org.toml's is {org.spec.budget.expected_cap:,.2f})")


def _conflicting(org: Org, coeffs: list[Coefficients], plans: Mapping[str, Plan],
                 docs: list[dict[str, Any]]) -> str:
    """A minimal set of rules that no plans with these metrics meet together, in words.

    Deletion filter over the rules other than the organisation's expected-cost cap: a
    rule is dropped when the rest still admit no plans.
    """
    capped = _role_cases(org, docs, None)
    rules = [r for r in active_rules(capped) if r != "org.budget_expected"]
    if joint_retune(org, coeffs, plans, docs, None, objective="feasibility", rules=[]) is None:
        return ": the roles' design rules alone admit no plans with these metrics"
    needed = list(rules)
    for rule in rules:
        trial = [r for r in needed if r != rule]
        if joint_retune(org, coeffs, plans, docs, None, objective="feasibility",
                        rules=trial) is None:
            needed = trial
    words = [rule_setting(capped, r)[2] for r in needed]
    return (f"; a smallest set of rules no plans with these metrics meet (others may fail "
            f"too): {', '.join(words)}" if words else "")


__all__ = ["JointRetune", "OrgPulseOutcome", "check_periods", "joint_retune",
           "org_pulse_check"]
