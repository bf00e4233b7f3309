"""Why no plan fits: the smallest set of guardrails that conflict, in plain words.

A deletion filter over guardrails: drop each in turn and keep it out when the rest
still admit no plan. What remains is a minimal conflicting set (each of its members
is needed for the conflict). Then two elastic solves say what would fix it: for each
guardrail of the set, the smallest change of that guardrail alone that admits a plan;
and the least total relaxation of all of them together, each measured relative to its
limit. When the expected-cost cap is involved, the cheapest plan meeting every other
guardrail gives the smallest cap that works.
"""

from __future__ import annotations

from typing import Any

from compplan.models.case import Case
from compplan.models.guardrails import TABLE as GUARDRAIL_TABLE
from compplan.models.money import annual_note
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import GUARDRAILS, guardrail_limits
from compplan.optimizer.solve import SolveResult, Status, solve
from compplan.optimizer.tails import tail_mean

#: Each guardrail's setting and label (the guardrail table).
_SETTINGS = {g.name: (g.setting, g.label) for g in GUARDRAIL_TABLE}


def active_guardrails(case: Case) -> list[str]:
    """The guardrails the case switches on, in ``GUARDRAILS`` order."""
    limits = guardrail_limits(case)
    return [g for g in GUARDRAILS if limits[g] is not None]


def _setting_value(case: Case, name: str) -> float | None:
    return guardrail_limits(case)[name]


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

    def low(k: str) -> float:
        return case.weight_bounds(k)[0]

    def high(k: str) -> float:
        return case.weight_bounds(k)[1]

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


def diagnose(case: Case, coeffs: Coefficients, time_limit: float | None = None, *,
             fixes: bool = True) -> dict[str, Any]:
    """Explain why the case admits no plan.

    Parameters
    ----------
    case : Case
        An infeasible case.
    coeffs : Coefficients
        Its coefficients.
    time_limit : float, optional
        Seconds per feasibility solve.
    fixes : bool
        Also say what would fix the conflict (elastic solves, the minimum budget);
        without, only the conflicting guardrails are named (a batch's quick diagnosis).

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
    if needed and fixes:
        _add_fixes(report, case, coeffs, active, needed, time_limit)
    return report


def needed_limit(case: Case, coeffs: Coefficients, name: str, result: SolveResult) -> float:
    """The value a guardrail's setting needs for an elastic solve's plan to meet it."""
    slack = result.slacks.get(name, 0.0)
    design, budget, fair = case.spec.design, case.spec.budget, case.spec.fairness
    if name == "payout_multiple":
        return float(design.max_payout_multiple or 0.0) + slack
    if name == "budget_expected":
        return float(budget.expected_cap or 0.0) + slack * coeffs.ti_total
    if name == "budget_cvar":
        return float(budget.cvar_cap or 0.0) + slack * coeffs.ti_total
    if name == "fairness_parity":
        return float(fair.parity_tolerance or 0.0) + slack
    if name == "fairness_bottom":
        return float(fair.bottom_floor or 0.0) - slack
    # The top tail's slack sits on the rhs of top <= ratio x mean: report the ratio.
    assert result.w is not None and result.u is not None
    shares = coeffs.rep_w @ result.w + coeffs.rep_u @ result.u
    ratio = tail_mean(shares, float(fair.top_share or 1.0), True) / max(shares.mean(), 1e-12)
    return max(float(fair.top_ratio or 0.0), ratio)


def _format(case: Case, name: str, value: float) -> str:
    if name in ("budget_expected", "budget_cvar"):
        return f"{value:,.0f} {case.spec.case.currency}{annual_note(case)}"
    return f"{value:.4g}"


def _change(case: Case, name: str, value: float) -> dict[str, Any]:
    current = float(_setting_value(case, name) or 0.0)
    verb = "lower" if name == "fairness_bottom" else "raise"
    return {"guardrail": name, "setting": _SETTINGS[name][0], "current": current,
            "needed": value, "action": f"{verb} {_SETTINGS[name][0]} from "
                                       f"{_format(case, name, current)} to "
                                       f"{_format(case, name, value)}"}


def _min_expected_cap(case: Case, coeffs: Coefficients, active: list[str],
                      time_limit: float | None) -> float | None:
    """Expected cost of the cheapest plan meeting every guardrail but the expected cap."""
    others = [g for g in active if g != "budget_expected"]
    cheapest = solve(case, coeffs, guardrails=others, objective="cost", time_limit=time_limit)
    if not cheapest.has_plan or cheapest.w is None or cheapest.u is None:
        return None
    return float(coeffs.cost_w @ cheapest.w + coeffs.cost_u @ cheapest.u) * coeffs.ti_total


def _single_change(case: Case, coeffs: Coefficients, active: list[str], name: str,
                   time_limit: float | None) -> dict[str, Any] | None:
    if name == "budget_expected":
        # The smallest cap is the cost of the cheapest plan that meets everything else.
        least = _min_expected_cap(case, coeffs, active, time_limit)
        if least is None:
            return None
        change = _change(case, name, least)
        change["action"] += " (the expected cost of the cheapest plan meeting every other " \
                            "guardrail)"
        return change
    alone = solve(case, coeffs, guardrails=active, objective="elastic", elastic=[name],
                  time_limit=time_limit)
    return _change(case, name, needed_limit(case, coeffs, name, alone)) if alone.has_plan \
        else None


def _add_fixes(report: dict[str, Any], case: Case, coeffs: Coefficients, active: list[str],
               needed: list[str], time_limit: float | None) -> None:
    """The smallest single changes, the least joint relaxation, and the minimum budget."""
    single = [c for c in (_single_change(case, coeffs, active, g, time_limit) for g in needed)
              if c is not None]
    report["smallest_single_changes"] = single
    for change in single:
        if change["guardrail"] == "budget_expected":
            report["min_expected_cap"] = change["needed"]
    if single:
        report["explanation"].append(
            "smallest single change that admits a plan: "
            + "; or ".join(change["action"] for change in single))
    if len(needed) < 2:
        return
    joint = solve(case, coeffs, guardrails=active, objective="elastic", elastic=needed,
                  time_limit=time_limit)
    if joint.has_plan:
        relaxed = [_change(case, g, needed_limit(case, coeffs, g, joint))
                   for g in needed if joint.slacks.get(g, 0.0) > 1e-9]
        report["least_total_relaxation"] = relaxed
        report["explanation"].append(
            "least total relaxation (each change weighed relative to its limit): "
            + "; ".join(change["action"] for change in relaxed))
