"""What a plan does under the case's scenarios, computed with numpy from the coefficients.

Independent of the solver: the same figures check a solved plan against every
guardrail and describe a plan typed in by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.tails import tail_mean

#: Tail shares reported when the case sets none.
DEFAULT_TOP_SHARE = 0.10
DEFAULT_BOTTOM_SHARE = 0.20
#: Relative slack within which a guardrail counts as met (solver tolerances).
CHECK_TOLERANCE = 1e-6


@dataclass(frozen=True)
class GuardrailCheck:
    """One constraint of the case at a plan: its value, its limit and the slack."""

    name: str
    setting: str
    value: float
    limit: float
    upper: bool
    unit: str

    @property
    def slack(self) -> float:
        """Room left before the limit (negative when broken)."""
        return self.limit - self.value if self.upper else self.value - self.limit

    @property
    def ok(self) -> bool:
        """True when the guardrail holds, within solver tolerance."""
        return self.slack >= -CHECK_TOLERANCE * max(1.0, abs(self.limit))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "slack": self.slack, "ok": self.ok}


@dataclass(frozen=True)
class Evaluation:
    """Figures of a plan; money in the case's currency per period."""

    alignment: float
    alignment_by_metric: dict[str, float]
    expected_cost: float
    cvar_level: float | None
    cvar: float | None
    total_p10: float
    total_p50: float
    total_p90: float
    mean_payout_share: float
    top_share: float
    top_tail_mean: float
    bottom_share: float
    bottom_tail_mean: float
    share_reps_at_or_above_target: float
    parity_gaps: dict[str, float]
    max_parity_gap: float | None
    max_payout_multiple: float
    guardrails: list[GuardrailCheck] = field(default_factory=list)

    @property
    def violated(self) -> list[GuardrailCheck]:
        """Guardrails the plan breaks."""
        return [g for g in self.guardrails if not g.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``evaluation`` block of ``plan.json``)."""
        data = asdict(self)
        data["guardrails"] = [g.to_dict() for g in self.guardrails]
        return data


def evaluate(case: Case, coeffs: Coefficients, w: np.ndarray, u: np.ndarray) -> Evaluation:
    """Evaluate a plan given by weights ``w`` and accelerator rates ``u`` per metric.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    w, u : numpy.ndarray
        Per metric of ``coeffs.metric_ids``; zero for metrics not in the plan.

    Returns
    -------
    Evaluation
        Alignment, cost and risk of the total payout, fairness figures, guardrail checks.
    """
    ti_total = coeffs.ti_total
    totals = (coeffs.scen_w @ w + coeffs.scen_u @ u) * ti_total
    shares = coeffs.rep_w @ w + coeffs.rep_u @ u
    by_metric = coeffs.objective_w * w + coeffs.objective_u * u
    budget, fair = case.spec.budget, case.spec.fairness
    cvar = tail_mean(totals, 1.0 - budget.cvar_level, True) if budget.cvar_level else None
    gaps = coeffs.group_w @ w + coeffs.group_u @ u - float(coeffs.cost_w @ w + coeffs.cost_u @ u)
    top_share = fair.top_share or DEFAULT_TOP_SHARE
    bottom_share = fair.bottom_share or DEFAULT_BOTTOM_SHARE
    caps = np.array([case.metric(k).cap for k in coeffs.metric_ids])
    evaluation = Evaluation(
        alignment=float(by_metric.sum()),
        alignment_by_metric={k: float(v) for k, v, wk in zip(coeffs.metric_ids, by_metric, w,
                                                             strict=True) if wk > 0},
        expected_cost=float(totals.mean()),
        cvar_level=budget.cvar_level, cvar=cvar,
        total_p10=float(np.percentile(totals, 10)), total_p50=float(np.percentile(totals, 50)),
        total_p90=float(np.percentile(totals, 90)),
        mean_payout_share=float(shares.mean()),
        top_share=top_share, top_tail_mean=tail_mean(shares, top_share, True),
        bottom_share=bottom_share, bottom_tail_mean=tail_mean(shares, bottom_share, False),
        share_reps_at_or_above_target=float((shares >= 1.0 - 1e-12).mean()),
        parity_gaps={h: float(g) for h, g in zip(coeffs.groups, gaps, strict=True)},
        max_parity_gap=float(np.abs(gaps).max()) if len(gaps) else None,
        max_payout_multiple=float(w.sum() + ((caps - 1.0) * u).sum()),
    )
    return _with_checks(case, evaluation)


def _with_checks(case: Case, ev: Evaluation) -> Evaluation:
    design, budget, fair = case.spec.design, case.spec.budget, case.spec.fairness
    checks = []
    if design.max_payout_multiple is not None:
        checks.append(GuardrailCheck("payout_multiple", "[design] max_payout_multiple",
                                     ev.max_payout_multiple, design.max_payout_multiple, True,
                                     "x target"))
    if budget.expected_cap is not None:
        checks.append(GuardrailCheck("budget_expected", "[budget] expected_cap",
                                     ev.expected_cost, budget.expected_cap, True, "currency"))
    if budget.cvar_cap is not None and ev.cvar is not None:
        checks.append(GuardrailCheck("budget_cvar", "[budget] cvar_cap", ev.cvar,
                                     budget.cvar_cap, True, "currency"))
    if fair.parity_tolerance is not None and ev.max_parity_gap is not None:
        checks.append(GuardrailCheck("fairness_parity", "[fairness] parity_tolerance",
                                     ev.max_parity_gap, fair.parity_tolerance, True,
                                     "share of target"))
    if fair.top_ratio is not None:
        checks.append(GuardrailCheck("fairness_top", "[fairness] top_ratio",
                                     ev.top_tail_mean / ev.mean_payout_share
                                     if ev.mean_payout_share > 0 else 0.0,
                                     fair.top_ratio, True, "x mean"))
    if fair.bottom_floor is not None:
        checks.append(GuardrailCheck("fairness_bottom", "[fairness] bottom_floor",
                                     ev.bottom_tail_mean, fair.bottom_floor, False,
                                     "share of target"))
    return Evaluation(**{**ev.__dict__, "guardrails": checks})
