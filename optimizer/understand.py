"""Alignment people understand: what the index means, in shares and in money.

The expected alignment (MODEL.md section 4) is an index without a unit. Beside it,
every output gives the same three readings, in the same words (:func:`sentences`):

- **toward the strategy**: the share of the plan's marginal incentive (``U_m``, what
  one typical step of progress pays) on metrics that serve the strategy (``a_m > 0``);
- **of the best plan**: the plan's alignment as a percentage of the best plan within
  the same guardrails (the optimum of the case; 100 % for the designed plan);
- **per goal**: how much a typical rep earns for one typical step of progress toward
  each goal, in money: ``mean target incentive x sum_m A[m, g] U_m``. ``U_m`` weighs
  reps by target incentive, so this is exactly the average rep's extra pay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compplan.errors import CompplanError
from compplan.models import fmt
from compplan.models.case import Case
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients

#: The one name of each reading, used by every output: after a percentage ...
TOWARD = "of the plan's pay for progress points at the strategy"
OF_BEST = "of the best plan within the same guardrails"
#: ... and as a row label.
TOWARD_LABEL = "pay for progress that points at the strategy"
OF_BEST_LABEL = "alignment as a share of the best plan within the same guardrails"
PER_STEP = "what a typical rep earns for one step of progress"
#: ... and per goal, as a row label (``{goal}``: the goal's name).
STEP_LABEL = "one step toward {goal} earns a typical rep"


@dataclass(frozen=True)
class Readings:
    """The alignment index and the three readings of it.

    Attributes
    ----------
    index : float
        The plan's expected alignment.
    toward_strategy : float
        Share of the plan's marginal incentive on metrics with ``a_m > 0``.
    best : float or None
        The best alignment within the case's guardrails (None: not computed, or no
        plan fits them).
    per_goal : dict of str to float
        Money a typical rep earns for one step of progress toward each goal of
        priority > 0 (negative: the plan pays against the goal).
    per_metric : dict of str to float
        Money a typical rep earns for one step on each metric of the plan.
    currency : str
        The case's currency.
    """

    index: float
    toward_strategy: float
    best: float | None
    per_goal: dict[str, float] = field(default_factory=dict)
    per_metric: dict[str, float] = field(default_factory=dict)
    currency: str = ""

    @property
    def of_best(self) -> float | None:
        """The index as a share of the best plan's (None when unknown)."""
        if self.best is None or self.best <= 0.0:
            return None
        return self.index / self.best

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"alignment": self.index, "toward_strategy": self.toward_strategy,
                "best_alignment": self.best, "of_best": self.of_best,
                "per_goal_step": self.per_goal, "per_metric_step": self.per_metric}


def readings(case: Case, coeffs: Coefficients, plan: Plan, alignment: float,
             best: float | None = None) -> Readings:
    """The readings of a plan's alignment under a case.

    Parameters
    ----------
    case : Case
        The case (goals, reps).
    coeffs : Coefficients
        Its coefficients (``align_w``, ``align_u``: ``U_m`` per unit of weight and rate).
    plan : Plan
        The plan.
    alignment : float
        Its expected alignment (the evaluation's).
    best : float, optional
        The best alignment within the guardrails (:func:`best_alignment`).

    Returns
    -------
    Readings
    """
    w, u = plan.vectors(case)
    marginal = np.asarray(coeffs.align_w * w + coeffs.align_u * u, dtype=float)
    total = float(marginal.sum())
    a = np.asarray(coeffs.goal_alignment, dtype=float)
    toward = float(marginal[a > 0.0].sum()) / total if total > 0.0 else 0.0
    mean_ti = float(np.mean(case.target_incentive))
    goals = case.spec.goals
    per_goal = {}
    for g, priority in goals.items():
        if priority <= 0:
            continue
        weights = np.array([case.metric(k).alignment.get(g, 0.0) for k in case.metric_ids])
        per_goal[g] = mean_ti * float(weights @ marginal)
    per_metric = {m.id: mean_ti * float(marginal[case.metric_ids.index(m.id)])
                  for m in plan.metrics}
    return Readings(alignment, toward, best, per_goal, per_metric, case.spec.case.currency)


def best_alignment(case: Case, coeffs: Coefficients | None = None,
                   solve: Callable[..., Any] | None = None) -> float | None:
    """The best alignment within the case's guardrails; None when no plan fits them."""
    from compplan.optimizer.pipeline import optimise_case

    try:
        outcome = (solve or optimise_case)(case, coefficients=coeffs, prices=False,
                                           diagnosis="short")
    except CompplanError:
        return None
    return float(outcome.evaluation.alignment)


def sentences(r: Readings, goal_name: Callable[[str], str] = str,
              designed: bool = False) -> list[str]:
    """The readings in words, the same in every output.

    ``designed``: the plan is the case's optimum, so it is 100 % of the best.
    """
    lines = []
    of_best = 1.0 if designed else r.of_best
    if of_best is not None:
        lines.append(f"{fmt.share(of_best, 0)} {OF_BEST}"
                     + (" (it is that plan)" if designed else
                        " (more than 100 %: it breaks guardrails the best plan keeps)"
                        if of_best > 1.0 + 1e-9 else ""))
    lines.append(f"{fmt.share(r.toward_strategy, 0)} {TOWARD}")
    if r.per_goal:
        lines.append(f"{PER_STEP}: " + "; ".join(
            f"{goal_name(g)} {fmt.money(v, r.currency)}" for g, v in r.per_goal.items()))
    return lines
