"""The joint model of an organisation (MODEL.md section 7), built and solved with Pyomo.

One model: each role's constraints 1-10 built by :func:`create_model` into a block
``role[<id>]``, then the organisation's rules O1-O5 over the blocks' variables, and
the objective ``sum_p s_p alignment_p``. Money is in shares of the organisation's total
target incentive, so the rows stay of order one. Tail guardrails over many values
(each role's and the organisation's CVaR) are cutting planes in the one
:class:`CutLoop`.

Rules are named so that a diagnosis can drop them one by one: ``<role>.<guardrail>``
(``sales.budget_expected``), ``org.budget_expected``, ``org.budget_cvar``,
``coherence.handoff.<n>``, ``coherence.no_opposing.<goal>``,
``coherence.cover_goals.<goal>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyomo.core as pyo

from compplan.models.org import Org, idle_cores
from compplan.optimizer.coefficients import (
    Coefficients,
    compute_coefficients,
    single_blas_thread,
)
from compplan.optimizer.model import (
    FULL_TAIL_LIMIT,
    GUARDRAILS,
    PlanModel,
    TailMethod,
    create_model,
    define_tail,
    guardrail_limits,
)
from compplan.optimizer.response_model import (
    OptionTail,
    ResponsePlanModel,
    ResponseProblem,
    create_response_model,
)
from compplan.optimizer.solve import (
    TIE_TOLERANCE,
    CutLoop,
    SolveResult,
    Status,
    _clean,
    relaxation_scale,
)
from compplan.optimizer.tails import TailGuard

ORG_GUARDRAILS = ("budget_expected", "budget_cvar")


#: Roles whose coefficients are computed at once (numpy releases the GIL in its loops);
#: None: as many as there are idle cores (:func:`compplan.models.org.idle_cores`). One
#: by default, as ``compplan.models.org.ROLE_READERS`` (docs/benchmarks.md, issue 23).
ROLE_WORKERS: int | None = 1


def org_coefficients(org: Org) -> list[Coefficients]:
    """Each role's coefficients, computed once with numpy (goals are the org's).

    Roles are computed side by side on idle cores, each by the code of a single case.
    BLAS keeps one thread throughout, however many roles run at once: a dot product over
    more than 10,000 values (``on_plan`` of a role with joiners and leavers) is split
    across BLAS threads and its rounding depends on their number, so the coefficients
    do not depend on the machine's load.
    """
    workers = min(idle_cores() if ROLE_WORKERS is None else ROLE_WORKERS, len(org.roles))
    with single_blas_thread():
        if workers < 2:
            return [compute_coefficients(role.case) for role in org.roles]
        with ThreadPoolExecutor(max_workers=workers,
                                thread_name_prefix="compplan-role") as pool:
            return list(pool.map(compute_coefficients, [role.case for role in org.roles]))


def org_problems(org: Org, coeffs: list[Coefficients]) -> dict[str, ResponseProblem]:
    """Each role with ``[response]``: its grid options and per-option figures (section 10).

    Such a role is built on its grid under response; per-option totals per scenario are
    kept when the organisation caps its CVaR (O2 sums them over roles).
    """
    scen = org.spec.budget.cvar_cap is not None
    return {role.id: ResponseProblem.of(role.case, c, scenarios=scen)
            for role, c in zip(org.roles, coeffs, strict=True)
            if role.case.spec.response is not None}


def goal_sides(org: Org, goal: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Role metrics with ``A[p,m,g] > 0`` and with ``A[p,m,g] < 0``, in role order."""
    serves, against = [], []
    for role in org.roles:
        for mid in role.case.metric_ids:
            a = role.case.metric(mid).alignment.get(goal, 0.0)
            if a > 0:
                serves.append((role.id, mid))
            elif a < 0:
                against.append((role.id, mid))
    return serves, against


def active_rules(org: Org) -> list[str]:
    """Every rule the organisation switches on, beyond the roles' design rules."""
    rules = [f"{role.id}.{g}" for role in org.roles
             for g, limit in guardrail_limits(role.case).items() if limit is not None]
    budget = org.spec.budget
    if budget.expected_cap is not None:
        rules.append("org.budget_expected")
    if budget.cvar_cap is not None:
        rules.append("org.budget_cvar")
    coherence = org.spec.coherence
    rules += [f"coherence.handoff.{i + 1}" for i in range(len(org.handoffs))]
    positive = [g for g, p in org.spec.goals.items() if p > 0]
    if coherence.no_opposing:
        rules += [f"coherence.no_opposing.{g}" for g in positive
                  if _opposing_pairs(org, g)]
    if coherence.cover_goals:
        rules += [f"coherence.cover_goals.{g}" for g in positive]
    return rules


def _opposing_pairs(org: Org, goal: str) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    serves, against = goal_sides(org, goal)
    return [(a, b) for a in serves for b in against if a[0] != b[0]]


@dataclass
class OrgModel(PlanModel):
    """The joint model: a :class:`PlanModel` over all roles' metrics, stacked.

    ``metric_ids`` are ``role.metric``; :meth:`values` stacks the roles' vectors in
    that order. Each role's own tail guardrails written as cuts appear in
    ``cut_guards`` renamed ``role.guardrail``; their cuts go to the role's block.

    Attributes
    ----------
    roles : dict of str to PlanModel
        Each role's part of the model (its block), in role order.
    spans : dict of str to slice
        Where each role's metrics sit in the stacked vectors.
    """

    roles: dict[str, PlanModel] = field(default_factory=dict)
    # Branching on pseudo-costs from the first node, without HiGHS's strong branching
    # until they are reliable: on every organisation measured the joint MIP was proven
    # 15 to 25 % sooner (5 roles x 20,000 reps: 1.19 to 0.99 s; 3 x 5,000 with 9 rounds
    # of tail cuts: 5.2 to 3.9 s; docs/benchmarks.md). One case's models keep the default.
    solver_options: dict[str, Any] = field(
        default_factory=lambda: {"mip_pscost_minreliable": 0})
    # A round of tail cuts re-solves the joint MIP from its root: started from the last
    # round's plan, 3 roles x 5,000 reps with nine rounds took 3.1 s instead of 4.4 s.
    start_rounds: bool = True
    spans: dict[str, slice] = field(default_factory=dict)
    _role_guards: dict[str, tuple[str, TailGuard]] = field(default_factory=dict)

    def point(self, w: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The stacked point of :meth:`linear_x`: a role's ``w`` and ``u``, or its ``y``."""
        parts = []
        for rid, plan in self.roles.items():
            span = self.spans[rid]
            parts += ([plan.y_values()] if isinstance(plan, ResponsePlanModel)
                      else [w[span], u[span]])
        return np.concatenate(parts)

    def linear_x(self, coef: np.ndarray) -> pyo.Expression:
        """``coef @ x`` over :meth:`point`'s layout (zero terms left out)."""
        terms, start = [], 0
        for plan in self.roles.values():
            block = plan.model
            if isinstance(plan, ResponsePlanModel):
                n = plan.options.size
                terms += [float(c) * block.y[j] for j, c in enumerate(coef[start:start + n])
                          if c]
            else:
                n = len(plan.metric_ids)
                terms += [float(c) * block.w[k] for c, k in zip(coef[start:start + n],
                                                                plan.metric_ids, strict=True) if c]
                terms += [float(c) * block.u[k] for c, k in zip(coef[start + n:start + 2 * n],
                                                                plan.metric_ids, strict=True) if c]
                n *= 2
            start += n
        return pyo.quicksum(terms)

    def values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``w``, ``u`` and ``z`` of every role, stacked."""
        parts = [plan.values() for plan in self.roles.values()]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore

    def guard_point(self, guard: TailGuard, w: np.ndarray,
                    u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A role's guardrail sees that role's vectors; the organisation's all of them."""
        if guard.name in self._role_guards:
            rid, own = self._role_guards[guard.name]
            span = self.spans[rid]
            return self.roles[rid].guard_point(own, w[span], u[span])
        if isinstance(guard, OptionTail):  # the organisation's CVaR over response roles
            x = self.point(w, u)
            return x, x
        return w, u

    def linear(self, coef_w: np.ndarray, coef_u: np.ndarray) -> pyo.Expression:
        """``coef_w @ w + coef_u @ u`` over the stacked metrics of all roles."""
        terms = []
        for rid, plan in self.roles.items():
            span = self.spans[rid]
            block = plan.model
            terms += [float(c) * block.w[k] for c, k in zip(coef_w[span], plan.metric_ids,
                                                            strict=True) if c]
            terms += [float(c) * block.u[k] for c, k in zip(coef_u[span], plan.metric_ids,
                                                            strict=True) if c]
        return pyo.quicksum(terms)

    def add_cut(self, guard: TailGuard, weights: np.ndarray) -> None:
        """A role's cut goes to its block; the organisation's to the model."""
        if guard.name in self._role_guards:
            rid, own = self._role_guards[guard.name]
            self.roles[rid].add_cut(own, weights)
        elif isinstance(guard, OptionTail):
            lhs = self.linear_x(guard.cut_row(weights))
            cuts = getattr(self.model, f"{guard.name}_cuts")
            cuts.add(lhs <= guard.rhs + self.slack(guard.name))
        else:
            super().add_cut(guard, weights)

    def slack_value(self, name: str) -> float:
        """The relaxation of a rule (``role.guardrail`` or an organisation guardrail)."""
        if name in self._role_guards:
            rid, own = self._role_guards[name]
            return self.roles[rid].slack_value(own.name)
        rid, dot, guardrail = name.partition(".")
        if dot and rid in self.roles:
            return self.roles[rid].slack_value(guardrail)
        return super().slack_value(name)

    def z(self, rid: str, mid: str) -> pyo.Var:
        """The selection variable of a role's metric."""
        return self.roles[rid].model.z[mid]

    def restore(self, saved: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Put a stacked solution back into the variables."""
        for rid, plan in self.roles.items():
            span = self.spans[rid]
            for k, wk, uk, zk in zip(plan.metric_ids, *(v[span] for v in saved), strict=True):
                plan.model.w[k].set_value(wk)
                plan.model.u[k].set_value(uk)
                plan.model.z[k].set_value(zk, skip_validation=True)


def create_org_model(org: Org, coeffs: list[Coefficients], *,
                     rules: Iterable[str] | None = None, tail_method: TailMethod = "auto",
                     elastic: Iterable[str] = (),
                     problems: dict[str, ResponseProblem] | None = None) -> OrgModel:
    """Build the joint model of an organisation.

    Parameters
    ----------
    org : Org
        The organisation.
    coeffs : list of Coefficients
        Each role's coefficients, in role order (:func:`org_coefficients`).
    rules : iterable of str, optional
        The rules to include (names from :func:`active_rules`); all by default. The
        roles' design rules (constraints 1-4) always stay.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    elastic : iterable of str
        Rules (role or organisation guardrails) whose limit may be relaxed by a slack.
    problems : dict of str to ResponseProblem, optional
        The roles with ``[response]`` (:func:`org_problems`, computed when not given):
        each is built on its grid under response (MODEL.md section 10).

    Returns
    -------
    OrgModel
        The model, maximising ``sum_p s_p alignment_p``.
    """
    include = set(active_rules(org) if rules is None else rules)
    elastic = set(elastic)
    problems = org_problems(org, coeffs) if problems is None else problems
    m = pyo.ConcreteModel(name=org.name)
    ids = [r.id for r in org.roles]
    m.role = pyo.Block(ids)
    ti = np.array([c.ti_total for c in coeffs])
    share = ti / ti.sum()
    plan = OrgModel(m, metric_ids=tuple(f"{r.id}.{k}" for r, c in zip(org.roles, coeffs,
                                                                       strict=True)
                                        for k in c.metric_ids),
                    elastic=frozenset(_internal(g) for g in elastic if g.startswith("org.")))
    start = 0
    for role, c in zip(org.roles, coeffs, strict=True):
        own = {g for g in GUARDRAILS if f"{role.id}.{g}" in include}
        own_elastic = {g for g in GUARDRAILS if f"{role.id}.{g}" in elastic}
        prob = problems.get(role.id)
        part: PlanModel
        if prob is None:
            part = create_model(role.case, c, guardrails=own, tail_method=tail_method,
                                elastic=own_elastic, block=m.role[role.id])
        else:
            part = create_response_model(role.case, c, prob.data, prob.options, prob.sets,
                                         guardrails=own, tail_method=tail_method,
                                         elastic=own_elastic, block=m.role[role.id])
        part.model.objective.deactivate()
        plan.roles[role.id] = part
        plan.spans[role.id] = slice(start, start + len(c.metric_ids))
        start += len(c.metric_ids)
        for guard in part.cut_guards:
            name = f"{role.id}.{guard.name}"
            plan._role_guards[name] = (role.id, guard)
            plan.cut_guards.append(replace(guard, name=name))
    m.alignment = pyo.Expression(expr=pyo.quicksum(
        float(s) * m.role[rid].alignment for s, rid in zip(share, ids, strict=True)))
    m.expected_cost = pyo.Expression(expr=pyo.quicksum(
        float(s) * m.role[rid].expected_cost for s, rid in zip(share, ids, strict=True)))
    define_org_budget(plan, org, float(ti.sum()), include)
    if any(isinstance(p, ResponsePlanModel) for p in plan.roles.values()):
        define_org_option_cvar(plan, org, coeffs, share, include, tail_method, problems)
    else:
        define_org_cvar(plan, org, coeffs, share, include, tail_method)
    define_handoffs(plan, org, include)
    define_no_opposing(plan, org, include)
    define_cover_goals(plan, org, include)
    m.objective = pyo.Objective(expr=m.alignment, sense=pyo.maximize)
    return plan


def define_org_budget(plan: OrgModel, org: Org, ti_org: float, include: set[str]) -> None:
    """O1: expected total payout of all roles at most ``B_org``."""
    cap = org.spec.budget.expected_cap
    if cap is None or "org.budget_expected" not in include:
        return
    m = plan.model
    m.org_budget_expected = pyo.Constraint(
        expr=m.expected_cost <= cap / ti_org + plan.slack("org_budget_expected"))


def define_org_cvar(plan: OrgModel, org: Org, coeffs: list[Coefficients], share: np.ndarray,
                    include: set[str], tail_method: TailMethod) -> None:
    """O2: CVaR of the all-roles total per scenario (scenario ``s`` is the same period)."""
    budget = org.spec.budget
    if budget.cvar_cap is None or not budget.cvar_level or "org.budget_cvar" not in include:
        return
    ti_org = sum(c.ti_total for c in coeffs)
    guard = TailGuard("org_budget_cvar",
                      np.hstack([s * c.scen_w for s, c in zip(share, coeffs, strict=True)]),
                      np.hstack([s * c.scen_u for s, c in zip(share, coeffs, strict=True)]),
                      1.0 - budget.cvar_level, True, budget.cvar_cap / ti_org)
    define_tail(plan, guard, tail_method)


def define_org_option_cvar(plan: OrgModel, org: Org, coeffs: list[Coefficients],
                           share: np.ndarray, include: set[str], tail_method: TailMethod,
                           problems: dict[str, ResponseProblem]) -> None:
    """O2 with roles under response: a role's total per scenario is linear in its ``y``.

    The values are written over :meth:`OrgModel.point`'s layout: per-option scenario
    totals under response for a role with ``[response]``, ``scen_w`` and ``scen_u``
    for the others.
    """
    budget = org.spec.budget
    if budget.cvar_cap is None or not budget.cvar_level or "org.budget_cvar" not in include:
        return
    ti_org = sum(c.ti_total for c in coeffs)
    blocks = []
    for role, s, c in zip(org.roles, share, coeffs, strict=True):
        prob = problems.get(role.id)
        if prob is None:
            blocks += [s * c.scen_w, s * c.scen_u]
        else:
            scen = prob.sets[0].scen
            assert scen is not None
            blocks.append(s * scen)
    matrix = np.hstack(blocks)
    empty = np.zeros((0, 0))
    guard = OptionTail("org_budget_cvar", empty, empty, 1.0 - budget.cvar_level, True,
                       budget.cvar_cap / ti_org, matrix=matrix, count=matrix.shape[0])
    m = plan.model
    if tail_method == "cuts" or (tail_method == "auto" and guard.size > FULL_TAIL_LIMIT):
        m.org_budget_cvar_cuts = pyo.ConstraintList()
        plan.cut_guards.append(guard)
        return
    plan.full_guards.append(guard)
    m.org_budget_cvar_index = pyo.RangeSet(0, guard.size - 1)
    m.org_budget_cvar_eta = pyo.Var(domain=pyo.Reals)
    m.org_budget_cvar_excess = pyo.Var(m.org_budget_cvar_index, domain=pyo.NonNegativeReals)
    values = [plan.linear_x(matrix[k]) for k in range(guard.size)]
    m.org_budget_cvar_excess_def = pyo.Constraint(
        m.org_budget_cvar_index, rule=lambda m, k: m.org_budget_cvar_excess[k]
        >= values[k] - m.org_budget_cvar_eta)
    tail = m.org_budget_cvar_eta + pyo.quicksum(
        m.org_budget_cvar_excess[k] for k in m.org_budget_cvar_index) / (guard.share * guard.size)
    m.org_budget_cvar_limit = pyo.Constraint(
        expr=tail <= guard.rhs + plan.slack("org_budget_cvar"))


def define_handoffs(plan: OrgModel, org: Org, include: set[str]) -> None:
    """O3: a paid upstream metric means the downstream one is paid too."""
    rows = [(i, h) for i, h in enumerate(org.handoffs)
            if f"coherence.handoff.{i + 1}" in include]
    if not rows:
        return
    plan.model.coherence_handoffs = pyo.ConstraintList()
    for _, h in rows:
        plan.model.coherence_handoffs.add(plan.z(*h.upstream) <= plan.z(*h.downstream))


def define_no_opposing(plan: OrgModel, org: Org, include: set[str]) -> None:
    """O4: no role is paid against a goal that another role is paid to serve.

    Written per goal and serving role rather than per pair of metrics (which grows as
    serving x opposing metrics): a binary ``side[g, p]`` says role ``p`` may be paid to
    serve goal ``g``; then no other role may pay a metric working against it. The
    integer solutions are exactly those of the pairwise rows
    ``z[p,m] + z[q,n] <= 1``, with a fraction of the rows (and HiGHS proves the
    optimum faster on it).
    """
    rows = []
    for goal in org.spec.goals:
        if f"coherence.no_opposing.{goal}" not in include:
            continue
        serves, against = goal_sides(org, goal)
        for role in org.roles:
            own = [k for k in serves if k[0] == role.id]
            others = [k for k in against if k[0] != role.id]
            if own and others:
                rows.append((goal, role.id, own, others))
    if not rows:
        return
    m = plan.model
    m.coherence_no_opposing_side = pyo.Var([(g, p) for g, p, _, _ in rows],
                                           domain=pyo.Binary)
    m.coherence_no_opposing = pyo.ConstraintList()
    for goal, rid, own, others in rows:
        side = m.coherence_no_opposing_side[goal, rid]
        m.coherence_no_opposing.add(pyo.quicksum(plan.z(*k) for k in own)
                                    <= _most(org, rid, own) * side)
        for other in dict.fromkeys(k[0] for k in others):
            theirs = [k for k in others if k[0] == other]
            m.coherence_no_opposing.add(pyo.quicksum(plan.z(*k) for k in theirs)
                                        <= _most(org, other, theirs) * (1 - side))


def _most(org: Org, rid: str, metrics: list[tuple[str, str]]) -> int:
    """The most of ``metrics`` a role's plan can pay at once (a big-M as small as it gets)."""
    return min(len(metrics), org.role(rid).case.spec.design.max_metrics)


def define_cover_goals(plan: OrgModel, org: Org, include: set[str]) -> None:
    """O5: every goal with priority > 0 is served by at least one paid metric."""
    goals = [g for g in org.spec.goals if f"coherence.cover_goals.{g}" in include]
    if not goals:
        return
    m = plan.model
    m.coherence_cover_goals = pyo.ConstraintList()
    for goal in goals:
        serves, _ = goal_sides(org, goal)
        if not serves:
            # No metric of any role serves the goal: a row no plan can meet.
            if not hasattr(m, "coherence_unservable"):
                m.coherence_unservable = pyo.Var(bounds=(0.0, 0.0))
            m.coherence_cover_goals.add(m.coherence_unservable >= 1)
            continue
        m.coherence_cover_goals.add(pyo.quicksum(plan.z(*k) for k in serves) >= 1)


@dataclass
class OrgSolveResult:
    """The outcome of :func:`solve_org`: the overall status and each role's vectors."""

    status: Status
    roles: dict[str, SolveResult] = field(default_factory=dict)
    mip_gap: float | None = None
    seconds: float = 0.0
    rounds: int = 0
    cuts: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    columns: int = 0
    message: str = ""
    slacks: dict[str, float] = field(default_factory=dict)

    @property
    def has_plan(self) -> bool:
        """True when every role has a feasible plan."""
        return self.status in (Status.OPTIMAL, Status.TIME_LIMIT)


def solve_org(org: Org, coeffs: list[Coefficients], *, time_limit: float | None = None,
              rules: Iterable[str] | None = None, tail_method: TailMethod = "auto",
              objective: str = "alignment", elastic: Iterable[str] = (),
              progress: Callable[[str], None] | None = None,
              problems: dict[str, ResponseProblem] | None = None) -> OrgSolveResult:
    """Solve the joint model: best alignment, then the least total expected payout.

    Parameters
    ----------
    org : Org
        The organisation.
    coeffs : list of Coefficients
        Each role's coefficients.
    time_limit : float, optional
        Seconds for all solver calls together.
    rules : iterable of str, optional
        Rules to include (see :func:`active_rules`); all by default.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    objective : {"alignment", "cost", "feasibility", "elastic"}
        As for :func:`compplan.optimizer.solve.solve`, over the whole organisation.
    elastic : iterable of str
        Rules that may be relaxed (with ``objective="elastic"``).
    progress : callable, optional
        Called with a line of text at each cutting-plane round.
    problems : dict of str to ResponseProblem, optional
        The roles under response (:func:`org_problems`), when already computed.

    Returns
    -------
    OrgSolveResult
        Status and, when a plan exists, each role's vectors.
    """
    deadline = None if time_limit is None else time.monotonic() + time_limit
    elastic = list(elastic) if objective == "elastic" else []
    problems = org_problems(org, coeffs) if problems is None else problems
    plan = create_org_model(org, coeffs, rules=rules, tail_method=tail_method, elastic=elastic,
                            problems=problems)
    m = plan.model
    if objective != "alignment":
        m.objective.deactivate()
        m.cost_objective = pyo.Objective(expr=_secondary(plan, org, coeffs, objective, elastic),
                                         sense=pyo.minimize)
    runner = CutLoop(plan, deadline, progress)
    status, gap, message = runner.run()
    if status is Status.OPTIMAL and objective in ("alignment", "cost"):
        status, message = _tie_break(runner, cheapest=objective == "alignment")
    result = OrgSolveResult(status, mip_gap=gap, seconds=runner.seconds, rounds=runner.rounds,
                            cuts=runner.cuts, rows=m.nconstraints(), columns=m.nvariables(),
                            message=message)
    if result.has_plan:
        w, u, z = runner.values()
        for rid, span in plan.spans.items():
            wc, uc, zc = _clean(w[span], u[span], z[span])
            if rid in problems:  # exactly on the role's grid (section 10)
                wc, uc = problems[rid].grid.snap(wc, uc)
            result.roles[rid] = SolveResult(status, w=wc, u=uc, z=zc, mip_gap=gap)
        result.slacks = {g: plan.slack_value(_internal(g)) for g in elastic}
    return result


def _internal(rule: str) -> str:
    """A rule's name inside the model: ``org.x`` is ``org_x``, a role's stays ``role.x``."""
    return "org_" + rule.removeprefix("org.") if rule.startswith("org.") else rule


def _secondary(plan: OrgModel, org: Org, coeffs: list[Coefficients], objective: str,
               elastic: list[str]) -> pyo.Expression | float:
    if objective == "cost":
        return plan.model.expected_cost
    if objective == "elastic":
        return pyo.quicksum(_slack(plan, g) / rule_scale(org, coeffs, g) for g in elastic)
    return 0.0


def _slack(plan: OrgModel, rule: str) -> pyo.Var | float:
    scope, _, name = rule.partition(".")
    if scope == "org":
        return plan.slack(f"org_{name}")
    return plan.roles[scope].slack(name)


def rule_scale(org: Org, coeffs: list[Coefficients], rule: str) -> float:
    """A guardrail's limit in its model units: relaxations are weighed relative to it."""
    scope, _, name = rule.partition(".")
    if scope == "org":
        limit = org.spec.budget.expected_cap if name == "budget_expected" \
            else org.spec.budget.cvar_cap
        return max(float(limit or 0.0) / sum(c.ti_total for c in coeffs), 0.01)
    index = [r.id for r in org.roles].index(scope)
    return relaxation_scale(org.roles[index].case, coeffs[index], name)


def _tie_break(runner: CutLoop, *, cheapest: bool) -> tuple[Status, str]:
    """Second solve among plans within the tie tolerance (MODEL.md sections 4 and 7)."""
    plan = runner.plan
    assert isinstance(plan, OrgModel)
    m = plan.model
    if cheapest:
        best = float(pyo.value(m.alignment))
        m.objective.deactivate()
        m.tie_alignment = pyo.Constraint(
            expr=m.alignment >= best - TIE_TOLERANCE * max(1.0, abs(best)))
        m.tie_objective = pyo.Objective(expr=m.expected_cost, sense=pyo.minimize)
    else:
        least = float(pyo.value(m.expected_cost))
        m.cost_objective.deactivate()
        # No tolerance above the least: the minimum budget is the least cost itself, so
        # a cap at it admits the plan (issue 19: a tie-break toward alignment once
        # returned a plan 0.6 USD dearer than the minimum).
        m.tie_cost = pyo.Constraint(expr=m.expected_cost <= least)
        m.tie_objective = pyo.Objective(expr=m.alignment, sense=pyo.maximize)
    saved = runner.values()
    # The first solve's plan meets the tie row: HiGHS starts from it. On the 5-role
    # benchmark the tie-break's proof went from 0.67 to 0.42 s (docs/benchmarks.md).
    runner.start_from_last()
    status, _, message = runner.run()
    if status is Status.OPTIMAL:
        return Status.OPTIMAL, ""
    plan.restore(saved)
    return Status.OPTIMAL, f"tie-break solve ended {status.value}: {message}"
