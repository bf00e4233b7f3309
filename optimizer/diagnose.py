"""Why no plan fits: the smallest set of guardrails that conflict, in plain words.

A deletion filter over guardrails: drop each in turn and keep it out when the rest
still admit no plan. What remains is a minimal conflicting set (each of its members
is needed for the conflict). When the expected-cost cap is in it, the cheapest plan
that meets every other guardrail gives the smallest cap that would work.
"""

from __future__ import annotations

from typing import Any

from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import GUARDRAILS
from compplan.optimizer.solve import Status, solve

_SETTINGS = {
    "payout_multiple": ("[design] max_payout_multiple", "the maximum payout multiple"),
    "budget_expected": ("[budget] expected_cap", "the expected-cost cap"),
    "budget_cvar": ("[budget] cvar_cap", "the CVaR cap on total payout"),
    "fairness_parity": ("[fairness] parity_tolerance", "segment parity"),
    "fairness_top": ("[fairness] top_ratio", "the upper-tail limit over reps"),
    "fairness_bottom": ("[fairness] bottom_floor", "the lower-tail floor over reps"),
}


def active_guardrails(case: Case) -> list[str]:
    """The guardrails the case switches on, in ``GUARDRAILS`` order."""
    design, budget, fair = case.spec.design, case.spec.budget, case.spec.fairness
    present = {
        "payout_multiple": design.max_payout_multiple is not None,
        "budget_expected": budget.expected_cap is not None,
        "budget_cvar": budget.cvar_cap is not None,
        "fairness_parity": fair.parity_tolerance is not None,
        "fairness_top": fair.top_ratio is not None,
        "fairness_bottom": fair.bottom_floor is not None,
    }
    return [g for g in GUARDRAILS if present[g]]


def _setting_value(case: Case, name: str) -> float | None:
    design, budget, fair = case.spec.design, case.spec.budget, case.spec.fairness
    values = {
        "payout_multiple": design.max_payout_multiple, "budget_expected": budget.expected_cap,
        "budget_cvar": budget.cvar_cap, "fairness_parity": fair.parity_tolerance,
        "fairness_top": fair.top_ratio, "fairness_bottom": fair.bottom_floor,
    }
    return values[name]


def _feasible(case: Case, coeffs: Coefficients, guardrails: list[str],
              time_limit: float | None) -> bool:
    result = solve(case, coeffs, guardrails=guardrails, objective="feasibility",
                   time_limit=time_limit)
    if result.status in (Status.NO_SOLUTION, Status.ERROR):
        raise TimeoutError(result.message or "solver stopped")
    return result.has_plan


def _design_reasons(case: Case) -> list[str]:
    """Plain-word reasons the design rules alone admit no plan."""
    design = case.spec.design
    reasons = []
    required = [k for k in case.metric_ids if case.metric(k).required]
    allowed = [k for k in case.metric_ids if not case.metric(k).forbidden]

    def high(k: str) -> float:
        value = case.metric(k).max_weight
        return design.max_weight if value is None else value

    def low(k: str) -> float:
        value = case.metric(k).min_weight
        return design.min_weight if value is None else value

    if sum(low(k) for k in required) > 1.0:
        reasons.append("the minimum weights of the required metrics add up to more than 1")
    best = sorted((high(k) for k in allowed if k not in required), reverse=True)
    room = design.max_metrics - len(required)
    if sum(high(k) for k in required) + sum(best[:max(room, 0)]) < 1.0:
        reasons.append(f"with at most {design.max_metrics} metric(s) and these maximum "
                       "weights, the weights cannot add up to 1")
    if not reasons:
        reasons.append("the design rules ([design] and the per-metric weight limits) "
                       "admit no plan")
    return reasons


def diagnose(case: Case, coeffs: Coefficients, time_limit: float | None = None) -> dict[str, Any]:
    """Explain why the case admits no plan.

    Parameters
    ----------
    case : Case
        An infeasible case.
    coeffs : Coefficients
        Its coefficients.
    time_limit : float, optional
        Seconds per feasibility solve.

    Returns
    -------
    dict
        ``status``, ``conflict`` (the guardrails that together admit no plan, each with
        its setting and value), ``explanation`` (sentences) and, where the expected-cost
        cap is involved, ``min_expected_cap``: the smallest cap that admits a plan
        given the other guardrails.
    """
    active = active_guardrails(case)
    report: dict[str, Any] = {"status": "infeasible", "conflict": [], "explanation": []}
    try:
        if not _feasible(case, coeffs, [], time_limit):
            report["conflict"] = [{"guardrail": "design", "setting": "[design]"}]
            report["explanation"] = _design_reasons(case)
            return report
        needed = list(active)
        for name in active:
            trial = [g for g in needed if g != name]
            if not _feasible(case, coeffs, trial, time_limit):
                needed = trial
    except TimeoutError as exc:
        report["explanation"] = [f"the diagnosis was cut short: {exc}"]
        return report
    report["conflict"] = [{"guardrail": g, "setting": _SETTINGS[g][0],
                           "value": _setting_value(case, g)} for g in needed]
    words = [_SETTINGS[g][1] for g in needed]
    if not needed:
        # Nothing in the case explains the conflict: say so rather than name none.
        hint = ("; this points to a numerical problem (check case.toml and the data for "
                "extreme values)")
        report["explanation"].append(
            "no guardrail explains it: every guardrail could be dropped and the solver still "
            "found no plan, although a plan that follows the design rules exists" + hint
            if active else
            "the case has no guardrails and a plan that follows the design rules exists, "
            "yet the solver found none" + hint)
    elif len(needed) == 1:
        report["explanation"].append(
            f"{words[0]} ({_SETTINGS[needed[0]][0]}) cannot be met by any plan that follows "
            "the design rules")
    else:
        report["explanation"].append(
            f"{', '.join(words[:-1])} and {words[-1]} cannot all be met at once; relaxing "
            "any one of them admits a plan")
    if "budget_expected" in needed:
        others = [g for g in active if g != "budget_expected"]
        cheapest = solve(case, coeffs, guardrails=others, objective="cost",
                         time_limit=time_limit)
        if cheapest.has_plan and cheapest.w is not None and cheapest.u is not None:
            cost = float(coeffs.cost_w @ cheapest.w + coeffs.cost_u @ cheapest.u)
            report["min_expected_cap"] = cost * coeffs.ti_total
            report["explanation"].append(
                f"the cheapest plan meeting every other guardrail has an expected cost of "
                f"{cost * coeffs.ti_total:,.0f} {case.spec.case.currency} per period, above "
                f"the cap of {case.spec.budget.expected_cap:,.0f}")
    return report
