"""The incentive-conflict test: does optimising each metric of a plan serve the strategy.

A rep responds to the extra pay that more results bring. So a plan is audited by
its **marginal incentive** per metric, ``U_m`` of MODEL.md section 4 (the expected
extra pay, as a share of target incentive, of one typical step of improvement), set
against the metric's alignment with each goal ``A[m, g]`` and with the strategy as a
whole, ``a_m = sum_g pi_g A[m, g]``.

Verdicts, in this order of precedence:

- ``undermines the strategy``: ``a_m < 0``; optimising the metric lowers alignment;
- ``works against <goal>``: ``a_m >= 0`` but ``A[m, g] < 0`` for a goal of priority > 0;
- ``neutral``: ``0 <= a_m < 0.1`` (:data:`WEAK_ALIGNMENT`), no goal against;
- ``serves the strategy``: ``a_m >= 0.1``, no goal against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from compplan.models.case import Case
from compplan.models.money import periods_per_year
from compplan.models.plan import Plan, PlanMetric
from compplan.optimizer.coefficients import Coefficients, compute_coefficients
from compplan.optimizer.evaluate import plan_payouts, plan_rules

#: Below this alignment with the strategy a metric is paid for something not asked for.
WEAK_ALIGNMENT = 0.1
#: A goal's net marginal incentive at or below this counts as not paid for (float noise).
NET_TOLERANCE = 1e-12
#: Candidate metrics named per goal the plan does not pay for.
MAX_CANDIDATES = 3

SERVES = "serves the strategy"
NEUTRAL = "neutral"
UNDERMINES = "undermines the strategy"
AGAINST = "works against"
SCHEMA = "compplan.audit/1"


@dataclass(frozen=True)
class MetricAudit:
    """One metric of the plan under audit.

    Attributes
    ----------
    id, label : str
        The metric.
    weight, accelerator_rate : float
        ``w_m`` and ``u_m``.
    alignment : dict of str to float
        ``A[m, g]`` for every goal of priority > 0.
    goal_alignment : float
        ``a_m = sum_g pi_g A[m, g]``.
    responsiveness, step : float
        ``rho_m`` and ``delta_m``.
    marginal_incentive : float
        ``U_m``: expected extra pay, as a share of target, of one step on this metric.
    incentive_share : float
        ``U_m`` over the plan's total (0 when the plan pays nothing at the margin).
    alignment_contribution : float
        ``a_m rho_m U_m``, this metric's part of the plan's expected alignment.
    against : tuple of str
        Goals of priority > 0 with ``A[m, g] < 0``.
    verdict : str
        One of the four verdicts of the module's docstring.
    """

    id: str
    label: str
    weight: float
    accelerator_rate: float
    alignment: dict[str, float]
    goal_alignment: float
    responsiveness: float
    step: float
    marginal_incentive: float
    incentive_share: float
    alignment_contribution: float
    against: tuple[str, ...]
    verdict: str

    @property
    def weak(self) -> bool:
        """True when the strategy does not ask for this metric (``a_m < WEAK_ALIGNMENT``)."""
        return self.goal_alignment < WEAK_ALIGNMENT


@dataclass(frozen=True)
class Candidate:
    """A candidate metric of the case that would serve a goal the plan does not pay for."""

    id: str
    label: str
    alignment: float
    goal_alignment: float


@dataclass(frozen=True)
class GoalAudit:
    """One goal of priority > 0 under the plan.

    Attributes
    ----------
    id : str
        The goal, as named in ``[goals]``.
    priority : float
        ``pi_g``, normalised.
    net_incentive : float
        ``sum_m A[m, g] U_m`` over the plan's metrics.
    against_share : float
        Share of the plan's marginal incentive on metrics with ``A[m, g] < 0``.
    candidates : tuple of Candidate
        Metrics outside the plan that serve the goal best (only when it is not paid for).
    """

    id: str
    priority: float
    net_incentive: float
    against_share: float
    candidates: tuple[Candidate, ...]

    @property
    def paid_for(self) -> bool:
        """True when the plan's metrics push this goal forward on balance."""
        return self.net_incentive > NET_TOLERANCE


@dataclass(frozen=True)
class Audit:
    """The incentive-conflict test of one plan under one case."""

    case: str
    plan: str
    currency: str
    mean_target_incentive: float
    metrics: tuple[MetricAudit, ...]
    goals: tuple[GoalAudit, ...]
    total_marginal_incentive: float
    alignment: float
    against_strategy_share: float
    #: ``[case] periods_per_year``: money is annual when set (MODEL.md section 5).
    periods_per_year: int | None = None
    written: tuple[str, ...] = ()
    rules_broken: tuple[str, ...] = ()

    @property
    def pays_for_unasked(self) -> list[MetricAudit]:
        """Metrics the plan pays for that the strategy does not ask for (``a_m < 0.1``)."""
        return [m for m in self.metrics if m.weak]

    @property
    def not_paid_for(self) -> list[GoalAudit]:
        """Goals of priority > 0 that no metric of the plan serves on balance."""
        return [g for g in self.goals if not g.paid_for]

    def metric(self, metric_id: str) -> MetricAudit:
        """The audit of one metric of the plan."""
        return next(m for m in self.metrics if m.id == metric_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``audit.json``)."""
        return {
            "schema": SCHEMA, "case": self.case, "plan": self.plan, "currency": self.currency,
            "thresholds": {"weak_alignment": WEAK_ALIGNMENT},
            "alignment": self.alignment,
            "total_marginal_incentive": self.total_marginal_incentive,
            "mean_target_incentive": self.mean_target_incentive,
            "against_strategy_share": self.against_strategy_share,
            "metrics": [{**asdict(m), "against": list(m.against)} for m in self.metrics],
            "goals": [{**asdict(g), "candidates": [asdict(c) for c in g.candidates],
                       "paid_for": g.paid_for} for g in self.goals],
            "pays_for_unasked": [m.id for m in self.pays_for_unasked],
            "not_paid_for": [g.id for g in self.not_paid_for],
            "written": list(self.written),
            "design_rules_broken": list(self.rules_broken),
        }


def join_words(words: list[str] | tuple[str, ...]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def verdict(a: float, against: tuple[str, ...]) -> str:
    """The verdict on a metric from its alignment ``a_m`` and the goals it works against."""
    if a < 0.0:
        return UNDERMINES
    if against:
        return f"{AGAINST} {join_words(against)}"
    return NEUTRAL if a < WEAK_ALIGNMENT else SERVES


def priorities(case: Case) -> dict[str, float]:
    """Goals of priority > 0, normalised to sum to one, in ``[goals]`` order."""
    total = sum(case.spec.goals.values())
    return {g: p / total for g, p in case.spec.goals.items() if p > 0.0}


def audit_plan(case: Case, plan: Plan, name: str = "plan",
               coeffs: Coefficients | None = None) -> Audit:
    """Audit a plan: marginal incentive, alignment and verdict per metric; gaps per goal.

    Parameters
    ----------
    case : Case
        The case whose goals and reps the plan is audited under.
    plan : Plan
        The plan; its metrics are candidates of the case.
    name : str
        How the plan is named in the reports.
    coeffs : Coefficients, optional
        The case's coefficients, computed when not given.

    Returns
    -------
    Audit
        Figures per metric and per goal, with the plan-level shares.
    """
    coeffs = coeffs if coeffs is not None else compute_coefficients(case)
    pi = priorities(case)
    marginal = plan_payouts(case, coeffs, plan).marginal  # zero off the plan
    total = float(marginal.sum())
    metrics = tuple(_metric_audit(case, coeffs, m, float(marginal[case.metric_ids.index(m.id)]),
                                  total, pi) for m in plan.metrics)
    in_plan = {m.id for m in plan.metrics}
    goals = tuple(_goal_audit(case, coeffs, g, p, metrics, total, in_plan)
                  for g, p in pi.items())
    against = sum(m.marginal_incentive for m in metrics if m.goal_alignment < 0.0)
    return Audit(
        case=case.name, plan=name, currency=case.spec.case.currency,
        mean_target_incentive=float(case.target_incentive.mean()), metrics=metrics,
        goals=goals, total_marginal_incentive=total,
        alignment=float(sum(m.alignment_contribution for m in metrics)),
        against_strategy_share=_share(against, total),
        periods_per_year=periods_per_year(case),
        # A plan as written is audited as it is; the design rules it breaks are listed.
        written=tuple(plan.written_notes(case)),
        rules_broken=tuple(r.message for r in plan_rules(case, plan) if not r.ok))


def _share(part: float, total: float) -> float:
    # A plan that pays nothing at the margin (everyone capped) directs no incentive anywhere.
    return part / total if total > 0.0 else 0.0


def _metric_audit(case: Case, coeffs: Coefficients, metric: PlanMetric, marginal: float,
                  total: float, pi: dict[str, float]) -> MetricAudit:
    j = coeffs.metric_ids.index(metric.id)
    spec_alignment = case.metric(metric.id).alignment
    alignment = {g: float(spec_alignment.get(g, 0.0)) for g in pi}
    against = tuple(g for g, value in alignment.items() if value < 0.0)
    a, rho = float(coeffs.goal_alignment[j]), float(coeffs.responsiveness[j])
    return MetricAudit(
        id=metric.id, label=metric.label, weight=metric.weight,
        accelerator_rate=metric.accelerator_rate, alignment=alignment, goal_alignment=a,
        responsiveness=rho, step=float(coeffs.step[j]), marginal_incentive=marginal,
        incentive_share=_share(marginal, total), alignment_contribution=a * rho * marginal,
        against=against, verdict=verdict(a, against))


def _goal_audit(case: Case, coeffs: Coefficients, goal: str, priority: float,
                metrics: tuple[MetricAudit, ...], total: float, in_plan: set[str]) -> GoalAudit:
    net = float(sum(m.alignment[goal] * m.marginal_incentive for m in metrics))
    against = sum(m.marginal_incentive for m in metrics if m.alignment[goal] < 0.0)
    # Candidates only where needed: a goal the plan pays for needs no suggestion.
    candidates = (() if net > NET_TOLERANCE
                  else _candidates(case, goal, in_plan, coeffs.goal_alignment))
    return GoalAudit(goal, priority, net, _share(against, total), candidates)


def _candidates(case: Case, goal: str, in_plan: set[str],
                a_all: np.ndarray) -> tuple[Candidate, ...]:
    """Metrics outside the plan that serve ``goal``, best first.

    A metric that undermines the strategy as a whole (``a_m < 0``) is never suggested,
    however well it serves this one goal; forbidden metrics cannot be.
    """
    found = []
    for j, metric_id in enumerate(case.metric_ids):
        spec = case.metric(metric_id)
        value = float(spec.alignment.get(goal, 0.0))
        if metric_id in in_plan or spec.forbidden or value <= 0.0 or a_all[j] < 0.0:
            continue
        found.append(Candidate(metric_id, spec.label or metric_id, value, float(a_all[j])))
    found.sort(key=lambda c: (-c.alignment, -c.goal_alignment))
    return tuple(found[:MAX_CANDIDATES])
