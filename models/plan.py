"""A compensation plan: the selected metrics with their weights and rates (MODEL.md section 3)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from compplan.errors import CaseError
from compplan.models.case import CURRENT_PLAN_FILE, Case, read_current_plan, validate_model
from compplan.models.schema import PlanSpec

#: Curves of a plan file must match the case's within this (they are copied, not computed).
_CURVE_TOLERANCE = 1e-9


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
            w[j] = item.weight
            u[j] = item.rate(case.metric(item.id).threshold)  # checked when read
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

    def to_toml(self) -> str:
        """The plan as ``[[metrics]]`` tables, the form of ``current_plan.toml``."""
        lines = []
        for m in self.metrics:
            lines += ["[[metrics]]", f'id = "{m.id}"', f"weight = {m.weight!r}",
                      f"accelerator_rate = {m.accelerator_rate!r}", ""]
        return "\n".join(lines)


def load_plan(case: Case, ref: str | Path) -> Plan:
    """A plan to look at: ``current`` (the case's current plan), a plan.json, or a TOML file.

    Parameters
    ----------
    case : Case
        The case the plan is evaluated under; the plan's metrics must be its candidates.
    ref : str or Path
        ``current``, or the path of a ``plan.json`` written by ``compplan optimise`` or of
        a TOML file of ``[[metrics]]`` tables (as ``current_plan.toml``).

    Returns
    -------
    Plan
        The plan, with the case's thresholds and caps.

    Raises
    ------
    CaseError
        Naming the file and the metric at fault.
    """
    if str(ref) == "current":
        if case.current_plan is None:
            raise CaseError(CURRENT_PLAN_FILE, f"is not in the case folder {case.path}; "
                                               "give a plan file instead of 'current'")
        return Plan.from_spec(case, case.current_plan)
    path = Path(ref)
    if not path.is_file():
        raise CaseError(str(path), "is not a file (give a plan.json, a plan TOML file, "
                                   "or 'current')")
    if path.suffix == ".toml":
        spec = read_current_plan(path, case.spec)
        assert spec is not None  # the file exists
        return Plan.from_spec(case, spec)
    return Plan.from_spec(case, _read_plan_json(path, case))


def _read_plan_json(path: Path, case: Case) -> PlanSpec:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CaseError(path.name, f"is not a JSON plan: {exc}") from None
    except OSError as exc:
        raise CaseError(path.name, f"cannot be read: {exc.strerror or exc}") from None
    except RecursionError:
        raise CaseError(path.name, "is not a JSON plan: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), list):
        raise CaseError(path.name, "is not a plan: it has no 'metrics' list "
                                   "(write one with compplan optimise)")
    spec: PlanSpec = validate_model(path, PlanSpec, {"metrics": doc["metrics"]})
    for i, item in enumerate(spec.metrics):
        where = f"metrics #{i + 1} ({item.id})"
        if item.id not in case.spec.metrics:
            raise CaseError(path.name, f"'{item.id}' is not a metric of the case "
                                       f"(metrics: {', '.join(case.spec.metrics)})", field=where)
        metric = case.metric(item.id)
        for key, mine in (("threshold", metric.threshold), ("cap", metric.cap)):
            theirs = getattr(item, key)
            if theirs is not None and abs(theirs - mine) > _CURVE_TOLERANCE:
                raise CaseError(path.name, f"{key} {theirs:g} differs from the case's {mine:g}: "
                                           "the plan was made for another case", field=where)
        try:
            item.rate(metric.threshold)
        except ValueError as exc:
            raise CaseError(path.name, str(exc), field=where) from None
    return spec
