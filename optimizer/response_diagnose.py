"""Why no grid plan holds under every elasticity of a robust design (MODEL.md section 10).

The deletion filter of :mod:`compplan.optimizer.diagnose` over the guardrails, each
feasibility solve the robust grid model (every guardrail under each elasticity of the
list): what remains is a minimal set of guardrails that together admit no grid plan
under every elasticity. When the expected-cost cap is among them, the cheapest grid plan
meeting every other guardrail under each elasticity gives the smallest cap that works
(its largest expected payout over the list).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compplan.models.plan import Plan
from compplan.optimizer.diagnose import _SETTINGS, _change, _setting_value, active_guardrails
from compplan.optimizer.response import ResponseContext, evaluate_response
from compplan.optimizer.response_model import ResponseProblem, solve_response
from compplan.optimizer.solve import Status


def _feasible(problem: ResponseProblem, guardrails: list[str],
              time_limit: float | None) -> bool:
    result = solve_response(problem.case, problem.coeffs, guardrails=guardrails,
                            objective="feasibility", time_limit=time_limit, problem=problem)
    if result.status in (Status.NO_SOLUTION, Status.ERROR):
        raise TimeoutError(result.message or "solver stopped")
    return result.has_plan


def diagnose_robust(problem: ResponseProblem, elasticities: Sequence[float],
                    time_limit: float | None = None) -> dict[str, Any]:
    """Name the guardrails that no grid plan meets together under every elasticity.

    Parameters
    ----------
    problem : ResponseProblem
        The robust problem (its option sets one per elasticity).
    elasticities : sequence of float
        The list, as given.
    time_limit : float, optional
        Seconds per solve.

    Returns
    -------
    dict
        ``status``, ``elasticities``, ``grid``, ``conflict`` (guardrail, setting, value),
        ``explanation`` (sentences) and with the expected-cost cap in the conflict
        ``min_expected_cap``.
    """
    case = problem.case
    listed = ", ".join(f"{e:g}" for e in elasticities)
    head = f"no grid plan satisfies the constraints under every elasticity of {listed}"
    report: dict[str, Any] = {"status": "infeasible", "elasticities": list(elasticities),
                              "grid": {"weights": problem.grid.weights,
                                       "rates": problem.grid.rates},
                              "conflict": [], "explanation": []}
    active = active_guardrails(case)
    try:
        if not _feasible(problem, [], time_limit):
            report["conflict"] = [{"guardrail": "design", "setting": "[design]"}]
            report["explanation"] = [f"{head}: the design rules admit no plan on the grid"]
            return report
        needed = list(active)
        for name in active:
            trial = [g for g in needed if g != name]
            if not _feasible(problem, trial, time_limit):
                needed = trial
    except TimeoutError as exc:
        report["explanation"] = [f"{head}; the diagnosis was cut short: {exc}"]
        return report
    report["conflict"] = [{"guardrail": g, "setting": _SETTINGS[g][0],
                           "value": _setting_value(case, g)} for g in needed]
    words = [f"{_SETTINGS[g][1]} ({_SETTINGS[g][0]})" for g in needed]
    if not needed:
        report["explanation"].append(f"{head}, although every guardrail can be dropped: "
                                     "this points to a numerical problem")
    elif len(needed) == 1:
        report["explanation"].append(f"{head}: {words[0]} cannot be met under every "
                                     "elasticity by any grid plan that follows the design "
                                     "rules")
    else:
        report["explanation"].append(f"{head}: {', '.join(words[:-1])} and {words[-1]} "
                                     "cannot all be met at once under every elasticity; "
                                     "relaxing any one of them admits a plan")
    if "budget_expected" in needed:
        least = _least_cap(problem, [g for g in active if g != "budget_expected"],
                           elasticities, time_limit)
        if least is not None:
            report["min_expected_cap"] = least
            change = _change(case, "budget_expected", least)
            report["explanation"].append(
                f"smallest single change: {change['action']} (the largest expected payout, "
                "over the elasticities, of the cheapest grid plan meeting every other "
                "guardrail under each)")
    return report


def _least_cap(problem: ResponseProblem, others: list[str], elasticities: Sequence[float],
               time_limit: float | None) -> float | None:
    case, coeffs = problem.case, problem.coeffs
    cheapest = solve_response(case, coeffs, guardrails=others, objective="cost",
                              time_limit=time_limit, problem=problem)
    if not cheapest.has_plan or cheapest.w is None or cheapest.u is None:
        return None
    plan = Plan.from_vectors(case, cheapest.w, cheapest.u)
    ctx = ResponseContext.of(case, coeffs)
    return max(evaluate_response(ctx, plan, elasticity=e).evaluation.expected_cost
               for e in elasticities)
