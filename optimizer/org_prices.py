"""Guardrail prices of an organisation: what the next dollar buys, and in which role.

As for one case (:mod:`compplan.optimizer.prices`): with every role's choice of
metrics fixed, the joint model is a linear program and the dual value of a rule's rows
is the organisation's alignment gained per unit of loosening it. For the
organisation's caps, the LP is solved again with the cap 1 % higher to say which roles
the extra money goes to.
"""

from __future__ import annotations

import math
from typing import Any

import pyomo.core as pyo

from compplan.models.org import Org
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import TailMethod, guardrail_limits
from compplan.optimizer.org import OrgModel, OrgSolveResult, create_org_model, goal_sides
from compplan.optimizer.prices import _UNITS, GuardrailPrice, _rows
from compplan.optimizer.solve import CutLoop, Status

#: How far a cap is raised to see where the next dollar goes.
STEP = 0.01


def _fixed_lp(org: Org, coeffs: list[Coefficients], result: OrgSolveResult,
              tail_method: TailMethod) -> tuple[OrgModel, CutLoop] | None:
    """The joint LP at the plans' choice of metrics, solved; None if it fails.

    The organisation's caps are elastic with their slack fixed at 0, so that a cap can
    be raised later by fixing its slack, without building the model again.
    """
    caps = [f"org.{g}" for g, limit in (("budget_expected", org.spec.budget.expected_cap),
                                         ("budget_cvar", org.spec.budget.cvar_cap))
            if limit is not None]
    plan = create_org_model(org, coeffs, tail_method=tail_method, elastic=caps)
    for cap in caps:
        plan.slack(cap.replace(".", "_")).fix(0.0)
    for rid, part in plan.roles.items():
        z = result.roles[rid].z
        assert z is not None
        for k, chosen in zip(part.metric_ids, z, strict=True):
            # A continuous domain makes the model a pure LP for HiGHS, which then has duals.
            part.model.z[k].domain = pyo.UnitInterval
            part.model.z[k].fix(1 if chosen > 0.5 else 0)
    _fix_sides(plan, org, result)
    loop = CutLoop(plan, None, None)
    status, _, _ = loop.run()
    if status is not Status.OPTIMAL or loop.last is None:
        return None
    return plan, loop


def _fix_sides(plan: OrgModel, org: Org, result: OrgSolveResult) -> None:
    """Fix no_opposing's side binaries to the chosen metrics, so the model is an LP."""
    sides = getattr(plan.model, "coherence_no_opposing_side", None)
    if sides is None:
        return
    for goal, rid in sides:
        serves, _ = goal_sides(org, goal)
        part = plan.roles[rid]
        z = result.roles[rid].z
        assert z is not None
        paid = any(z[part.metric_ids.index(k)] > 0.5 for r, k in serves if r == rid)
        sides[goal, rid].domain = pyo.UnitInterval
        sides[goal, rid].fix(1 if paid else 0)


def _role_costs(plan: OrgModel, coeffs: list[Coefficients]) -> dict[str, float]:
    """Each role's expected payout in currency at the LP's solution."""
    return {rid: float(pyo.value(part.model.expected_cost)) * c.ti_total
            for (rid, part), c in zip(plan.roles.items(), coeffs, strict=True)}


def org_prices(org: Org, coeffs: list[Coefficients], result: OrgSolveResult,
               tail_method: TailMethod = "auto") -> tuple[list[dict[str, Any]],
                                                          dict[str, list[GuardrailPrice]]]:
    """Prices of the organisation's caps and of every role's guardrails.

    Parameters
    ----------
    org : Org
        The organisation.
    coeffs : list of Coefficients
        Each role's coefficients.
    result : OrgSolveResult
        The joint solve, with each role's choice of metrics.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.

    Returns
    -------
    (list of dict, dict of str to list of GuardrailPrice)
        The organisation's caps, each with ``shadow_price`` (alignment per currency
        unit), ``per_percent`` and ``next_dollar`` (each role's share of the extra
        payout when the cap is raised 1 %); and each role's guardrail prices, in the
        organisation's alignment. Empty when the LP could not be solved.
    """
    solved = _fixed_lp(org, coeffs, result, tail_method)
    if solved is None:
        return [], {}
    plan, loop = solved
    assert loop.last is not None
    try:
        duals = loop.last.solution_loader.get_duals()
    except Exception:
        return [], {}
    ti_org = sum(c.ti_total for c in coeffs)
    base_costs = _role_costs(plan, coeffs)
    caps = []
    for key, rule in (("expected_cap", "org_budget_expected"), ("cvar_cap", "org_budget_cvar")):
        limit = getattr(org.spec.budget, key)
        if limit is None:
            continue
        rows = [getattr(plan.model, name) for name in (rule, f"{rule}_limit", f"{rule}_cuts")
                if getattr(plan.model, name, None) is not None]
        price = sum(abs(duals.get(row, 0.0)) for component in rows
                    for row in component.values()) / ti_org
        caps.append({"guardrail": rule, "setting": f"org.toml [budget] {key}",
                     "limit": float(limit), "shadow_price": price,
                     "unit": "per currency unit", "per_percent": price * limit * STEP})
    roles = {}
    for (rid, part), c in zip(plan.roles.items(), coeffs, strict=True):
        case = org.role(rid).case
        w, u, _ = part.values()
        mean_share = float((c.rep_w @ w + c.rep_u @ u).mean())
        priced = []
        for name, limit in guardrail_limits(case).items():
            if limit is None:
                continue
            total = sum(abs(duals.get(row, 0.0)) for row in _rows(part, name))
            if name in ("budget_expected", "budget_cvar"):
                total /= c.ti_total  # the rows are in shares of the role's target incentive
            elif name == "fairness_top":
                total *= mean_share  # the limit enters as ratio x mean payout
            setting, unit = _UNITS[name]
            # In an organisation the figure is the joint LP's dual times 1 %, not a
            # re-solve, and the range over which it holds is not computed: left as NaN
            # (null in org_plan.json) rather than claimed.
            priced.append(GuardrailPrice(name, setting, float(limit), total, unit,
                                         total * abs(float(limit)) * STEP,
                                         math.nan, math.nan))
        roles[rid] = priced
    # Where the next dollar goes: each cap raised by STEP in turn, on the same LP.
    for cap in caps:
        cap["next_dollar"] = (_next_dollar(plan, loop, coeffs, cap["guardrail"],
                                           cap["limit"] * STEP / ti_org, base_costs)
                              if cap["shadow_price"] > 0 else {})
    return caps, roles


def _next_dollar(plan: OrgModel, loop: CutLoop, coeffs: list[Coefficients], rule: str,
                 step: float, base: dict[str, float]) -> dict[str, float]:
    """Each role's share of the extra payout when a cap is raised by ``step`` (model units)."""
    slack = plan.slack(rule)
    slack.fix(step)
    status, _, _ = loop.run()
    costs = _role_costs(plan, coeffs) if status is Status.OPTIMAL else None
    slack.fix(0.0)
    if costs is None:
        return {}
    extra = {rid: costs[rid] - base[rid] for rid in base}
    total = sum(v for v in extra.values() if v > 0)
    if total <= 0:
        return {}
    return {rid: max(v, 0.0) / total for rid, v in extra.items()}
