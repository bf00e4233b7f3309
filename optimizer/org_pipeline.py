"""From a loaded organisation to ``org_plan.json`` and each role's ``plan.json`` (MODEL.md s. 7).

Coefficients per role, one joint solve, each role's plan evaluated and checked with
numpy as for a single case, the organisation's rules checked on the result, and the
conflict map of the designed and the current plans. When no plan fits, a deletion
filter over the rules names the smallest conflicting set and what would fix it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from compplan.errors import CompplanError, InfeasibleError, SolverLimitError, UsageError
from compplan.models.money import annual_note
from compplan.models.org import Org, Role
from compplan.models.output import plan_document
from compplan.models.plan import Plan, load_plan
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.diagnose import _SETTINGS, _change, _design_reasons, needed_limit
from compplan.optimizer.evaluate import Evaluation, evaluate
from compplan.optimizer.model import TailMethod
from compplan.optimizer.org import (
    OrgSolveResult,
    active_rules,
    goal_sides,
    org_coefficients,
    org_problems,
    solve_org,
)
from compplan.optimizer.org_prices import org_prices
from compplan.optimizer.pipeline import _check_plan
from compplan.optimizer.prices import GuardrailPrice
from compplan.optimizer.response import (
    ResponseContext,
    ResponseFigures,
    evaluate_response,
    response_payout,
    response_payouts,
)
from compplan.optimizer.response_model import ResponseProblem, solve_response
from compplan.optimizer.solve import SolveResult, Status, solve, solver_version
from compplan.optimizer.tails import tail_mean

SCHEMA = "compplan.org_plan/1"
#: A rule of the organisation counts as met within this (relative) tolerance.
CHECK_TOLERANCE = 1e-7


@dataclass(frozen=True)
class RoleOutcome:
    """One role's designed plan, its evaluation and its ``plan.json`` document."""

    role: Role
    plan: Plan
    evaluation: Evaluation
    coefficients: Coefficients
    result: SolveResult
    document: dict[str, Any]
    #: With ``[response]`` (MODEL.md section 10): the plan's figures under response
    #: (``evaluation`` is then under response) and its total payout per scenario.
    response: ResponseFigures | None = None
    totals: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class OrgOutcome:
    """The organisation's designed plans and the ``org_plan.json`` document."""

    org: Org
    result: OrgSolveResult
    roles: list[RoleOutcome]
    document: dict[str, Any]

    def write(self, folder: str | Path, *, force: bool = False) -> list[Path]:
        """Write ``org_plan.json`` and each role's plan files, as one transaction.

        The files of ``compplan optimise ORG_DIR --out folder`` but its run record
        (``run.json``): the same organisation gives byte-identical files.

        Parameters
        ----------
        folder : str or Path
            The output folder (replaced whole when it holds only compplan's files).
        force : bool
            Accept a folder holding other files (they are kept).

        Returns
        -------
        list of Path
            The files written.
        """
        from compplan.models.output import write_json, write_plan
        from compplan.models.transaction import output_folder

        if isinstance(folder, bytes) or not isinstance(folder, str | os.PathLike) \
                or not str(folder):
            shown = repr(folder) if len(repr(folder)) <= 60 else repr(folder)[:57] + "..."
            raise UsageError("folder must be an output folder (str or Path), got "
                             f"{type(folder).__name__} {shown}")
        out = Path(folder)
        written: list[Path] = []
        with output_folder(out, force=force, inputs=[self.org.path]) as staged:
            for role in self.roles:
                written += [out / p.relative_to(staged) for p in
                            write_plan(staged / role.role.id, role.role.case, role.plan,
                                       role.document)]
            write_json(staged / "org_plan.json", self.document)
        return [out / "org_plan.json", *written]


def conflicts(org: Org, paid: dict[str, set[str]]) -> list[dict[str, str]]:
    """The conflict map of a set of role plans (MODEL.md section 7).

    Parameters
    ----------
    org : Org
        The organisation.
    paid : dict of str to set of str
        Per role id, the metrics its plan pays (weight > 0); roles left out pay none.

    Returns
    -------
    list of dict
        ``{"goal", "serves", "against"}`` with ``role.metric`` references, in goal,
        then role, then metric order.
    """
    found = []
    for goal in org.spec.goals:
        serves, against = goal_sides(org, goal)
        for a in serves:
            for b in against:
                if a[0] != b[0] and a[1] in paid.get(a[0], set()) \
                        and b[1] in paid.get(b[0], set()):
                    found.append({"goal": goal, "serves": f"{a[0]}.{a[1]}",
                                  "against": f"{b[0]}.{b[1]}"})
    return found


def current_paid(org: Org) -> dict[str, set[str]] | None:
    """Per role, the metrics its current plan pays; None when no role has one."""
    if all(role.case.current_plan is None for role in org.roles):
        return None
    paid: dict[str, set[str]] = {}
    for role in org.roles:
        plan = role.case.current_plan
        if plan is None:
            continue
        # A written plan's metric may be a curve without a weight: it pays.
        paid[role.id] = {m.id for m in plan.metrics
                         if getattr(m, "weight", None) is None or m.weight > 0}
    return paid


def optimise_org(org: Org, *, time_limit: float | None = None,
                 tail_method: TailMethod = "auto",
                 progress: Callable[[str], None] | None = None,
                 objective: str = "alignment",
                 coefficients: list[Coefficients] | None = None,
                 diagnosis: str = "full", prices: bool = True) -> OrgOutcome:
    """Design every role's plan at once, under one strategy and one budget.

    Parameters
    ----------
    org : Org
        A loaded organisation.
    time_limit : float, optional
        Seconds for the solver.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    progress : callable, optional
        Called with a line of text at each step.
    objective : {"alignment", "cost"}
        ``alignment``: the canonical plans. ``cost``: the cheapest plans meeting every
        rule (then the best aligned among them).
    coefficients : list of Coefficients, optional
        Each role's coefficients when already computed.
    diagnosis : {"full", "short"}
        When no plan fits: ``short`` names the conflicting rules only.
    prices : bool
        Price the organisation's caps and the roles' guardrails (LP solves at the
        chosen metrics); off, ``guardrail_prices`` are empty.

    Returns
    -------
    OrgOutcome
        Each role's plan and the ``org_plan.json`` document.

    Raises
    ------
    InfeasibleError
        No set of plans meets every rule; ``report`` names the conflicting rules.
    SolverLimitError
        The time limit was reached before any plan was found.

    Examples
    --------
    >>> from compplan.models.org import load_org
    >>> out = optimise_org(load_org("tests/data/conformance/c5_org"))
    >>> round(out.document["objective"]["alignment"], 6)
    0.200262
    """
    say = progress or (lambda _: None)
    if coefficients is None:
        say("computing coefficients")
        coefficients = org_coefficients(org)
    say(f"solving ({len(org.roles)} roles, "
        f"{sum(len(c.metric_ids) for c in coefficients)} metrics)")
    problems = org_problems(org, coefficients)
    result = solve_org(org, coefficients, time_limit=time_limit, tail_method=tail_method,
                       objective=objective, progress=progress, problems=problems)
    if result.status is Status.INFEASIBLE:
        say("no plan fits: finding the rules that conflict")
        report = diagnose_org(org, coefficients, time_limit, fixes=diagnosis == "full",
                              problems=problems)
        raise InfeasibleError("no plans satisfy the organisation's rules: "
                              + "; ".join(report["explanation"]), report)
    if result.status is Status.NO_SOLUTION:
        raise SolverLimitError(f"the solver stopped ({result.message}) before finding any "
                               "plan; allow more time with --time-limit")
    if not result.has_plan:
        raise CompplanError(f"the solver failed: {result.message}")
    # No wall time: the same organisation gives byte-identical files (MODEL.md section 6);
    # the CLI's run record (run.json) keeps ``result.seconds``.
    solver = {"name": "highs", "version": solver_version(), "mip_gap": result.mip_gap,
              "rounds": result.rounds,
              "cuts": result.cuts, "rows": result.rows, "columns": result.columns}
    if result.message:
        solver["note"] = result.message
    caps: list[dict[str, Any]] = []
    role_prices: dict[str, list[GuardrailPrice]] = {}
    # A role under response is a plan on a grid: no guardrail prices (MODEL.md section 10),
    # and the joint problem has no LP at the chosen metrics to price the caps with.
    if prices and objective == "alignment" and not problems:
        say("pricing the guardrails")
        caps, role_prices = org_prices(org, coefficients, result, tail_method)
    roles = [_role_outcome(role, c, result.roles[role.id], result.status.value, solver,
                           role_prices.get(role.id, []), problems.get(role.id))
             for role, c in zip(org.roles, coefficients, strict=True)]
    document = org_document(org, result, roles, coefficients, solver)
    document["guardrail_prices"] = caps
    _check_org(org, roles, document)
    return OrgOutcome(org, result, roles, document)


def _role_outcome(role: Role, coeffs: Coefficients, result: SolveResult, status: str,
                  solver: dict[str, Any], prices: list[GuardrailPrice],
                  problem: ResponseProblem | None = None) -> RoleOutcome:
    assert result.w is not None and result.u is not None
    evaluation = evaluate(role.case, coeffs, result.w, result.u)
    plan = Plan.from_vectors(role.case, result.w, result.u)
    if problem is None:
        _check_plan(evaluation)
        doc = plan_document(role.case, plan, status, evaluation.to_dict(), dict(solver))
        # Prices in the organisation's alignment: what loosening the role's limit buys.
        doc["guardrail_prices"] = [p.to_dict() for p in prices]
        return RoleOutcome(role, plan, evaluation, coeffs, result, doc)
    # MODEL.md section 10: the role's figures under response, checked under response; its
    # plan.json as a single case's on the grid (a response block, no prices, no rounding).
    ctx = ResponseContext.of(role.case, coeffs)
    figures = evaluate_response(ctx, plan, static=evaluation)
    _check_plan(figures.evaluation)
    lam = np.array([figures.multipliers[k] for k in role.case.metric_ids])
    static_u = coeffs.align_w * result.w + coeffs.align_u * result.u
    totals = np.asarray(response_payouts(role.case, coeffs, plan, lam, static_u,
                                         ctx.scenarios).totals, dtype=np.float64)
    role_solver = {**solver, "grid": {"weights": problem.grid.weights,
                                      "rates": problem.grid.rates,
                                      "options": problem.options.size}}
    doc = plan_document(role.case, plan, status, figures.evaluation.to_dict(), role_solver)
    doc["response"] = figures.to_dict()
    return RoleOutcome(role, plan, figures.evaluation, coeffs, result, doc, figures, totals)


def org_totals(roles: list[RoleOutcome]) -> np.ndarray:
    """Total payout of all roles per scenario (scenario ``s`` is the same period).

    A role under response counts its totals under response.
    """
    return np.sum([r.totals if r.totals is not None else
                   (r.coefficients.scen_w @ r.result.w + r.coefficients.scen_u @ r.result.u)
                   * r.coefficients.ti_total for r in roles], axis=0)


def org_document(org: Org, result: OrgSolveResult, roles: list[RoleOutcome],
                 coeffs: list[Coefficients], solver: dict[str, Any]) -> dict[str, Any]:
    """The ``org_plan.json`` document (MODEL.md section 7)."""
    shares = org.shares
    alignment = float(sum(s * r.evaluation.alignment for s, r in zip(shares, roles,
                                                                      strict=True)))
    cost = float(sum(r.evaluation.expected_cost for r in roles))
    totals = org_totals(roles)
    budget = org.spec.budget
    cvar = tail_mean(totals, 1.0 - budget.cvar_level, True) if budget.cvar_level else None
    guardrails = []
    if budget.expected_cap is not None:
        guardrails.append({"name": "org_budget_expected",
                           "setting": "org.toml [budget] expected_cap",
                           "value": cost, "limit": budget.expected_cap,
                           "ok": cost <= budget.expected_cap * (1 + CHECK_TOLERANCE)})
    if budget.cvar_cap is not None and cvar is not None:
        guardrails.append({"name": "org_budget_cvar", "setting": "org.toml [budget] cvar_cap",
                           "value": cvar, "limit": budget.cvar_cap,
                           "ok": cvar <= budget.cvar_cap * (1 + CHECK_TOLERANCE)})
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "org": org.name,
        "currency": org.currency,
        "status": result.status.value,
        "objective": {"alignment": alignment, "expected_cost": cost},
        "roles": [{"id": r.role.id, "label": r.role.label, "share": float(s),
                   "alignment": r.evaluation.alignment,
                   "expected_cost": r.evaluation.expected_cost, "plan": r.document}
                  for s, r in zip(shares, roles, strict=True)],
        "conflicts": conflicts(org, {r.role.id: {m.id for m in r.plan.metrics if m.weight > 0}
                                     for r in roles}),
    }
    current = current_paid(org)
    if current is not None:
        doc["current_conflicts"] = conflicts(org, current)
        doc["current"] = current_figures(org, coeffs)
    doc["evaluation"] = {"expected_cost": cost, "cvar_level": budget.cvar_level, "cvar": cvar,
                         "total_p10": float(np.percentile(totals, 10)),
                         "total_p50": float(np.percentile(totals, 50)),
                         "total_p90": float(np.percentile(totals, 90)),
                         "guardrails": guardrails}
    doc["coherence"] = {"no_opposing": org.spec.coherence.no_opposing,
                        "cover_goals": org.spec.coherence.cover_goals,
                        "handoffs": [list(h) for h in org.spec.coherence.handoffs]}
    doc["solver"] = solver
    return doc


def current_figures(org: Org, coeffs: list[Coefficients]) -> dict[str, Any]:
    """Alignment and expected payout of the roles' current plans (roles without one: null).

    The organisation's figures are given only when every role has a current plan.
    """
    roles: dict[str, dict[str, Any] | None] = {}
    for role, c, share in zip(org.roles, coeffs, org.shares, strict=True):
        if role.case.current_plan is None:
            roles[role.id] = None
            continue
        w, u = load_plan(role.case, "current").vectors(role.case)
        roles[role.id] = {"share": float(share),
                          "alignment": float(c.objective_w @ w + c.objective_u @ u),
                          "expected_cost": float(c.cost_w @ w + c.cost_u @ u) * c.ti_total}
    known = [r for r in roles.values() if r is not None]
    complete = len(known) == len(roles)
    return {"alignment": sum(r["share"] * r["alignment"] for r in known) if complete else None,
            "expected_cost": sum(r["expected_cost"] for r in known) if complete else None,
            "roles": roles}


def _check_org(org: Org, roles: list[RoleOutcome], doc: dict[str, Any]) -> None:
    """Refuse plans that break a rule of the organisation, checked apart from the solver."""
    broken = [f"{g['setting']} ({g['value']:.6g} vs limit {g['limit']:.6g})"
              for g in doc["evaluation"]["guardrails"] if not g["ok"]]
    paid = {r.role.id: {m.id for m in r.plan.metrics} for r in roles}
    for i, h in enumerate(org.handoffs):
        if h.upstream[1] in paid[h.upstream[0]] and h.downstream[1] not in paid[h.downstream[0]]:
            broken.append(f"[coherence] handoffs #{i + 1}")
    positive = {g for g, p in org.spec.goals.items() if p > 0}
    if org.spec.coherence.no_opposing:
        broken += [f"[coherence] no_opposing ({c['serves']} and {c['against']} on "
                   f"'{c['goal']}')" for c in doc["conflicts"] if c["goal"] in positive]
    if org.spec.coherence.cover_goals:
        for goal in positive:
            serves, _ = goal_sides(org, goal)
            if not any(m in paid[r] for r, m in serves):
                broken.append(f"[coherence] cover_goals (goal '{goal}')")
    if broken:
        raise CompplanError(f"the solver's plans break {'; '.join(broken)}; "
                            "refusing to write them")


# ----------------------------------------------------------------------------- diagnosis

def rule_setting(org: Org, rule: str) -> tuple[str, Any, str]:
    """Where a rule is set, its value, and its name in words."""
    scope, _, name = rule.partition(".")
    if scope == "org":
        key = "expected_cap" if name == "budget_expected" else "cvar_cap"
        words = "the organisation's expected-cost cap" if name == "budget_expected" \
            else "the organisation's CVaR cap"
        return f"org.toml [budget] {key}", getattr(org.spec.budget, key), words
    if scope == "coherence":
        kind, _, arg = name.partition(".")
        if kind == "handoff":
            h = org.spec.coherence.handoffs[int(arg) - 1]
            return (f"org.toml [coherence] handoffs #{arg}", f"{h[0]} -> {h[1]}",
                    f"the handoff {h[0]} -> {h[1]}")
        if kind == "no_opposing":
            return ("org.toml [coherence] no_opposing", True,
                    f"no_opposing on goal '{arg}'")
        return ("org.toml [coherence] cover_goals", True, f"cover_goals on goal '{arg}'")
    role = org.role(scope)
    setting, words = _SETTINGS[name]
    value = {"payout_multiple": role.case.spec.design.max_payout_multiple,
             "budget_expected": role.case.spec.budget.expected_cap,
             "budget_cvar": role.case.spec.budget.cvar_cap,
             "fairness_parity": role.case.spec.fairness.parity_tolerance,
             "fairness_top": role.case.spec.fairness.top_ratio,
             "fairness_bottom": role.case.spec.fairness.bottom_floor}[name]
    return (f"{org.spec.roles[scope].path}/case.toml {setting}", value,
            f"{words} of role '{scope}'")


#: Seconds the diagnosis of an organisation with no plans may take in all (an
#: organisation of 63 roles took 147 s); after it, the answer is the rules not yet
#: ruled out (``"complete": false``).
DIAGNOSIS_SECONDS = 30.0


def diagnose_org(org: Org, coeffs: list[Coefficients], time_limit: float | None = None, *,
                 fixes: bool = True,
                 problems: dict[str, ResponseProblem] | None = None) -> dict[str, Any]:
    """Explain why no set of role plans meets every rule of the organisation.

    A deletion filter over the rules (each role's guardrails, the organisation's caps,
    each handoff, each goal's ``no_opposing`` and ``cover_goals``) leaves a minimal
    conflicting set; then, for each of its members, the smallest change of it alone
    that admits plans. The filter stops after :data:`DIAGNOSIS_SECONDS`: the answer
    is then the rules not yet ruled out, marked ``"complete": false``.

    Parameters
    ----------
    org : Org
        An organisation that admits no plans.
    coeffs : list of Coefficients
        Each role's coefficients.
    time_limit : float, optional
        Seconds per feasibility solve.
    fixes : bool
        Also say what would fix the conflict.
    problems : dict of str to ResponseProblem, optional
        The roles under response (:func:`~compplan.optimizer.org.org_problems`), when
        already computed: such a role's design rules are those of its grid.

    Returns
    -------
    dict
        ``status``, ``conflict`` (``rule``, ``setting``, ``value``), ``explanation``
        and, with ``fixes``, ``smallest_single_changes``.
    """
    report: dict[str, Any] = {"status": "infeasible", "org": org.name, "conflict": [],
                              "explanation": []}
    problems = org_problems(org, coeffs) if problems is None else problems
    for role, c in zip(org.roles, coeffs, strict=True):
        prob = problems.get(role.id)
        alone = (solve(role.case, c, guardrails=[], objective="feasibility") if prob is None
                 else solve_response(role.case, c, guardrails=[], objective="feasibility",
                                     problem=prob))
        if not alone.has_plan:
            report["conflict"] = [{"rule": f"{role.id}.design",
                                   "setting": f"{org.spec.roles[role.id].path}/case.toml "
                                              "[design]"}]
            report["explanation"] = [f"role '{role.id}': {r}" for r in _design_reasons(role.case)]
            return report
    active = active_rules(org)
    needed = list(active)
    deadline = time.monotonic() + DIAGNOSIS_SECONDS
    tested = 0
    try:
        for rule in active:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            trial = [r for r in needed if r != rule]
            limit = left if time_limit is None else min(time_limit, left)
            if not _feasible(org, coeffs, trial, limit, problems):
                needed = trial
            tested += 1
    except TimeoutError as exc:
        if time.monotonic() < deadline:
            report["explanation"] = [f"the diagnosis was cut short: {exc}"]
            return report
    report["conflict"] = [{"rule": r, "setting": rule_setting(org, r)[0],
                           "value": rule_setting(org, r)[1]} for r in needed]
    words = [rule_setting(org, r)[2] for r in needed]
    if tested < len(active):
        # The budget ran out: the rules kept so far still hold a conflicting set.
        report["complete"] = False
        shown_words = words if len(words) <= 10 else [*words[:10], f"{len(words) - 10} more"]
        report["explanation"].append(
            f"the diagnosis stopped at its time budget of {DIAGNOSIS_SECONDS:g} s, "
            f"{tested} of {len(active)} rules tested: the conflict lies among "
            f"{', '.join(shown_words)} (a smallest conflicting set was not reached)")
        return report
    if not needed:
        report["explanation"].append("no rule explains it: every rule could be dropped and "
                                     "the solver still found no plans; this points to a "
                                     "numerical problem")
    elif len(needed) == 1:
        report["explanation"].append(f"{words[0]} ({report['conflict'][0]['setting']}) "
                                     "cannot be met by any plans that follow the roles' "
                                     "design rules")
    else:
        report["explanation"].append(f"{', '.join(words[:-1])} and {words[-1]} cannot all be "
                                     "met at once; relaxing any one of them admits plans")
    if needed and fixes and time.monotonic() < deadline:
        changes = [c for c in (_single_change(org, coeffs, active, r, time_limit, problems)
                               for r in needed) if c is not None]
        report["smallest_single_changes"] = changes
        if changes:
            report["explanation"].append("smallest single change that admits plans: "
                                         + "; or ".join(c["action"] for c in changes))
    return report


def _feasible(org: Org, coeffs: list[Coefficients], rules: list[str],
              time_limit: float | None,
              problems: dict[str, ResponseProblem] | None = None) -> bool:
    result = solve_org(org, coeffs, rules=rules, objective="feasibility",
                       time_limit=time_limit, problems=problems)
    if result.status in (Status.NO_SOLUTION, Status.ERROR):
        raise TimeoutError(result.message or "solver stopped")
    return result.has_plan


def _single_change(org: Org, coeffs: list[Coefficients], active: list[str], rule: str,
                   time_limit: float | None,
                   problems: dict[str, ResponseProblem] | None = None) -> dict[str, Any] | None:
    """The smallest change of one rule alone that admits plans."""
    setting, value, _ = rule_setting(org, rule)
    scope, _, name = rule.partition(".")
    if scope == "coherence":
        return {"rule": rule, "setting": setting, "current": value, "needed": None,
                "action": f"drop {setting}" + ("" if "handoff" in rule else
                                               f" for goal '{name.partition('.')[2]}'")}
    if rule == "org.budget_expected":
        others = [r for r in active if r != rule]
        cheapest = solve_org(org, coeffs, rules=others, objective="cost",
                             time_limit=time_limit, problems=problems)
        if not cheapest.has_plan:
            return None
        least = sum(role_cost(r, c, cheapest.roles[r.id])
                    for r, c in zip(org.roles, coeffs, strict=True))
        return _org_change(org, rule, setting, float(value), least,
                           " (the expected cost of the cheapest plans meeting every other rule)")
    alone = solve_org(org, coeffs, rules=active, objective="elastic", elastic=[rule],
                      time_limit=time_limit, problems=problems)
    if not alone.has_plan:
        return None
    slack = alone.slacks.get(rule, 0.0)
    if scope == "org":
        needed = float(value) + slack * sum(c.ti_total for c in coeffs)
        return _org_change(org, rule, setting, float(value), needed, "")
    index = [r.id for r in org.roles].index(scope)
    role_result = alone.roles[scope]
    role_result.slacks = {name: slack}
    change = _change(org.roles[index].case, name,
                     needed_limit(org.roles[index].case, coeffs[index], name, role_result))
    change["rule"] = rule
    change["setting"] = setting
    change["action"] = change["action"].replace(_SETTINGS[name][0], setting)
    return change


def role_cost(role: Role, coeffs: Coefficients, result: SolveResult) -> float:
    """A role's expected payout at its solved vectors (under response with ``[response]``)."""
    assert result.w is not None and result.u is not None
    if role.case.spec.response is not None:
        return float(response_payout(role.case, coeffs, result.w, result.u).totals.mean())
    return float(coeffs.cost_w @ result.w + coeffs.cost_u @ result.u) * coeffs.ti_total


def _org_change(org: Org, rule: str, setting: str, current: float, needed: float,
                note: str) -> dict[str, Any]:
    per = annual_note(org.roles[0].case)  # every role's money has one unit of time
    return {"rule": rule, "setting": setting, "current": current, "needed": needed,
            "action": f"raise {setting} from {current:,.0f} {org.currency}{per} to "
                      f"{needed:,.0f} {org.currency}{per}{note}"}


def cheapest_org_plans(org: Org, *, time_limit: float | None = None,
                       progress: Callable[[str], None] | None = None) -> OrgOutcome:
    """The cheapest plans meeting every rule but the organisation's expected-cost cap.

    Their expected cost is the smallest ``[budget] expected_cap`` of ``org.toml`` that
    admits plans; ``roles[].expected_cost`` says how it splits across roles.

    Parameters
    ----------
    org : Org
        A loaded organisation; its expected-cost cap is ignored.
    time_limit : float, optional
        Seconds for the solver.
    progress : callable, optional
        Called with a line of text at each step.

    Returns
    -------
    OrgOutcome
        The cheapest plans (the best aligned among equally cheap ones).

    Raises
    ------
    InfeasibleError
        The other rules admit no plans at any budget.
    """
    budget = org.spec.budget.model_copy(update={"expected_cap": None})
    uncapped = replace(org, spec=org.spec.model_copy(update={"budget": budget}))
    return optimise_org(uncapped, time_limit=time_limit, progress=progress, objective="cost")
