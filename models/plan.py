"""A compensation plan: the selected metrics with their weights and rates (MODEL.md section 3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from compplan.models.case import Case
from compplan.models.schema import PlanSpec


@dataclass(frozen=True)
class PlanMetric:
    """One metric of a plan.

    Attributes
    ----------
    id, label : str
        The metric.
    weight : float
        ``w_m``: share of target incentive paid at 100 % attainment.
    threshold, cap : float
        ``theta_m`` and ``kappa_m``.
    base_rate : float
        ``w_m / (1 - theta_m)``: share of target per unit of attainment below target.
    accelerator_rate : float
        ``u_m``: share of target per unit of attainment above target.
    accelerator_multiple : float
        ``u_m (1 - theta_m) / w_m``: above-target slope over below-target slope.
    """

    id: str
    label: str
    weight: float
    threshold: float
    cap: float
    base_rate: float
    accelerator_rate: float
    accelerator_multiple: float

    def payout(self, attainment: np.ndarray | float) -> np.ndarray:
        """Payout as a share of target incentive at the given attainment."""
        x = np.asarray(attainment, dtype=float)
        below = np.clip(x - self.threshold, 0.0, 1.0 - self.threshold) * self.base_rate
        above = np.clip(x - 1.0, 0.0, self.cap - 1.0) * self.accelerator_rate
        return below + above


@dataclass(frozen=True)
class Plan:
    """The selected metrics of a plan, in the case's metric order."""

    metrics: tuple[PlanMetric, ...]

    @classmethod
    def from_vectors(cls, case: Case, w: np.ndarray, u: np.ndarray) -> Plan:
        """Build a plan from weights and accelerator rates over all candidate metrics.

        Parameters
        ----------
        case : Case
            The case whose metrics ``w`` and ``u`` are indexed by.
        w, u : numpy.ndarray
            Per candidate metric; a metric with ``w == 0`` is not in the plan.

        Returns
        -------
        Plan
            The selected metrics.
        """
        metrics = []
        for k, wk, uk in zip(case.metric_ids, w, u, strict=True):
            if wk <= 0.0:
                continue
            spec = case.metric(k)
            slope = 1.0 / (1.0 - spec.threshold)
            metrics.append(PlanMetric(
                id=k, label=spec.label or k, weight=float(wk), threshold=spec.threshold,
                cap=spec.cap, base_rate=float(wk * slope), accelerator_rate=float(uk),
                accelerator_multiple=float(uk / (wk * slope))))
        return cls(tuple(metrics))

    @classmethod
    def from_spec(cls, case: Case, spec: PlanSpec) -> Plan:
        """A plan given as input (``current_plan.toml``), checked against the case's curves."""
        w = np.zeros(len(case.metric_ids))
        u = np.zeros(len(case.metric_ids))
        for item in spec.metrics:
            j = case.metric_ids.index(item.id)
            slope = 1.0 / (1.0 - case.metric(item.id).threshold)
            w[j] = item.weight
            u[j] = (item.accelerator_rate if item.accelerator_rate is not None
                    else (item.accelerator_multiple or 0.0) * item.weight * slope)
        return cls.from_vectors(case, w, u)

    def vectors(self, case: Case) -> tuple[np.ndarray, np.ndarray]:
        """Weights and accelerator rates over all candidate metrics of ``case``."""
        w = np.zeros(len(case.metric_ids))
        u = np.zeros(len(case.metric_ids))
        for metric in self.metrics:
            j = case.metric_ids.index(metric.id)
            w[j], u[j] = metric.weight, metric.accelerator_rate
        return w, u

    def to_records(self) -> list[dict[str, float | str]]:
        """One dictionary per metric, in the keys of ``plan.json``."""
        return [asdict(m) for m in self.metrics]
