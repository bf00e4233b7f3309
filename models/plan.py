"""A compensation plan: the selected metrics with their weights and rates (MODEL.md section 3)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compplan.errors import CaseError
from compplan.models.case import (
    CURRENT_PLAN,
    CURRENT_PLAN_FILE,
    Case,
    check_plan,
    read_current_plan,
    validate_model,
)
from compplan.models.schema import PlanMetricSpec, PlanSpec

if TYPE_CHECKING:
    import pandas as pd

#: Curves of a plan file must match the case's within this (they are copied, not computed).
_CURVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Gate:
    """A metric pays only in a rep-period where attainment on ``metric`` is ``>= at``."""

    metric: str
    at: float

    def words(self, label: str | None = None) -> str:
        """``pays only in a period where Bookings reaches 50% of quota``."""
        level = f"{self.at * 100:.1f}".removesuffix(".0")
        return f"pays only in a period where {label or self.metric} reaches {level}% of quota"


@dataclass(frozen=True)
class PlanMetric:
    """One metric of a plan.

    Attributes
    ----------
    id, label : str
        The metric.
    weight : float
        ``w_m``: share of target incentive paid at 100 % attainment (for a curve, the
        curve's value at 1.0).
    threshold, cap : float
        ``theta_m`` and ``kappa_m`` (for a curve: the attainment where it starts to pay
        and where it stops rising).
    base_rate : float
        ``w_m / (1 - theta_m)``: share of target per unit of attainment below target
        (for a curve, the average slope from where it starts paying to 100 %).
    accelerator_rate : float
        ``u_m``: share of target per unit of attainment above target (for a curve, the
        average slope from 100 % to where it stops rising).
    accelerator_multiple : float
        ``u_m (1 - theta_m) / w_m``: above-target slope over below-target slope.
    curve : tuple of (float, float), optional
        A written plan's payout curve: ``(attainment, share of target)`` points; pays 0
        below the first, linear between points, flat after the last; two points at the
        same attainment make a step (there the later point holds).
    gate : Gate, optional
        The metric pays only where the gate's metric reaches its level.
    """

    id: str
    label: str
    weight: float
    threshold: float
    cap: float
    base_rate: float
    accelerator_rate: float
    accelerator_multiple: float
    curve: tuple[tuple[float, float], ...] | None = None
    gate: Gate | None = None

    def payout(self, attainment: np.ndarray | float) -> np.ndarray:
        """Payout as a share of target incentive at the given attainment (gate not applied)."""
        x = np.asarray(attainment, dtype=float)
        if self.curve is not None:
            return curve_payout(self.curve, x)
        below = np.clip(x - self.threshold, 0.0, 1.0 - self.threshold) * self.base_rate
        above = np.clip(x - 1.0, 0.0, self.cap - 1.0) * self.accelerator_rate
        return below + above

    def payout_everywhere(self, attainment: np.ndarray | float) -> np.ndarray:
        """Payout when every metric is at ``attainment`` (so is a gate's metric)."""
        paid = self.payout(attainment)
        if self.gate is None:
            return paid
        return np.asarray(paid * (np.asarray(attainment) >= self.gate.at))

    @property
    def max_payout(self) -> float:
        """The most the metric pays, as a share of target incentive."""
        if self.curve is not None:
            return self.curve[-1][1]
        return self.weight + self.accelerator_rate * (self.cap - 1.0)

    @property
    def written(self) -> bool:
        """True for a curve or a gate: a form the optimiser never writes."""
        return self.curve is not None or self.gate is not None


def _label(value: float) -> str:
    """``0.5`` reads ``50%``, ``0.625`` reads ``62.5%``."""
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


def curve_words(curve: tuple[tuple[float, float], ...]) -> str:
    """A curve in words, steps and flats as they are drawn.

    ``nothing below 50%, rising to 40% at 100%, a step to 60% at 100%, rising to 80%
    at 150%, flat above`` (shares of target incentive at attainments).
    """
    (a0, p0), parts = curve[0], []
    for (a_prev, p_prev), (a, p) in pairwise(curve):
        if a == a_prev:
            parts.append(f"a step to {_label(p)} at {_label(a)}")
        elif p == p_prev:
            parts.append(f"flat to {_label(a)}")
        else:
            parts.append(f"rising to {_label(p)} at {_label(a)}")
    head = (f"nothing below {_label(a0)}" if p0 == 0.0
            else f"nothing below {_label(a0)}, a step to {_label(p0)} at {_label(a0)}")
    return ", ".join([head, *parts, "flat above"])


def how_it_pays(metric: PlanMetric, labels: dict[str, str] | None = None) -> str:
    """What a written metric pays, in words: its curve or its own threshold and cap, and gate.

    Parameters
    ----------
    metric : PlanMetric
        Any metric of a plan.
    labels : dict of str to str, optional
        Labels of metrics by id, to name a gate's metric.

    Returns
    -------
    str
        ``curve: nothing below 50%, ...; pays only in a period where Bookings reaches
        50% of quota``.
    """
    text = (f"curve: {curve_words(metric.curve)}" if metric.curve is not None
            else f"nothing below {_label(metric.threshold)}, {_label(metric.weight)} of "
                 f"target at 100%, rising to {_label(metric.max_payout)} at "
                 f"{_label(metric.cap)}, flat above")
    if metric.gate is not None:
        text += "; " + metric.gate.words((labels or {}).get(metric.gate.metric))
    return text


def on_case_curve(case: Case, metric: PlanMetric) -> bool:
    """True when a metric is ``(w, u)`` on the case's own curve.

    That is: no curve, no gate, the case's threshold and cap.
    """
    spec = case.metric(metric.id)
    return (not metric.written and metric.threshold == spec.threshold
            and metric.cap == spec.cap)


def curve_payout(curve: tuple[tuple[float, float], ...], x: np.ndarray) -> np.ndarray:
    """A curve's payout at attainment ``x``, any shape (MODEL.md section 9).

    Zero below the first point, linear between points, flat after the last; where two
    points share an attainment (a step) the later one holds at that attainment, so the
    segment is found with ``searchsorted(side="right")``: the last point at or below ``x``.

    Parameters
    ----------
    curve : tuple of (float, float)
        ``(attainment, share)`` points, attainments and shares non-decreasing.
    x : numpy.ndarray
        Attainment.

    Returns
    -------
    numpy.ndarray
        Share of target incentive, the shape of ``x``.
    """
    xp = np.array([a for a, _ in curve])
    fp = np.array([p for _, p in curve])
    i = np.searchsorted(xp, x, side="right")  # points at or below x
    left = np.clip(i - 1, 0, len(xp) - 1)
    right = np.clip(i, 0, len(xp) - 1)
    span = xp[right] - xp[left]
    # Past the last point (right == left) or at a point: no slope; span > 0 otherwise.
    slope = np.divide(fp[right] - fp[left], span, out=np.zeros_like(span, dtype=float),
                      where=span > 0)
    value = fp[left] + slope * (x - xp[left])
    return np.where(i == 0, 0.0, value)


def curve_metric(item: PlanMetricSpec, label: str) -> PlanMetric:
    """A metric written as a curve, with the canonical figures it averages to.

    Parameters
    ----------
    item : PlanMetricSpec
        An entry with a ``curve`` (and perhaps a ``gate``).
    label : str
        Its label.

    Returns
    -------
    PlanMetric
        The curve, with ``weight`` its pay at 100 %, ``threshold`` where it starts
        paying, ``cap`` where it stops rising and the average slopes between (for
        tables and design rules).
    """
    curve = item.points
    assert curve is not None
    weight = float(curve_payout(curve, np.array(1.0)))
    top = curve[-1][1]
    # Starts paying: the last point still at 0 before pay rises (else the first point).
    start = max((a for a, p in curve if p == 0.0), default=curve[0][0])
    stop = next(a for a, p in curve if p >= top)
    base = weight / (1.0 - start) if start < 1.0 else 0.0
    rate = (float(curve_payout(curve, np.array(stop))) - weight) / (stop - 1.0) \
        if stop > 1.0 else 0.0
    return PlanMetric(id=item.id, label=label, weight=weight, threshold=start, cap=stop,
                      base_rate=base, accelerator_rate=rate,
                      accelerator_multiple=rate / base if base > 0 else 0.0, curve=curve,
                      gate=_gate(item))


def _gate(item: PlanMetricSpec) -> Gate | None:
    return None if item.gate is None else Gate(item.gate.metric, float(item.gate.at))


def _canonical_metric(case: Case, item: PlanMetricSpec, label: str) -> PlanMetric:
    spec = case.metric(item.id)
    assert item.weight is not None  # a canonical entry (checked by the schema)
    theta = spec.threshold if item.threshold is None else item.threshold
    kappa = spec.cap if item.cap is None else item.cap
    base = item.weight / (1.0 - theta)
    rate = (item.accelerator_rate if item.accelerator_rate is not None
            else (item.accelerator_multiple or 0.0) * base)
    return PlanMetric(id=item.id, label=label, weight=float(item.weight), threshold=theta,
                      cap=kappa, base_rate=float(base), accelerator_rate=float(rate),
                      accelerator_multiple=float(rate / base), gate=_gate(item))


@dataclass(frozen=True)
class Plan:
    """The metrics of a plan (the case's metric order when designed, file order when written)."""

    metrics: tuple[PlanMetric, ...]

    def to_frame(self) -> pd.DataFrame:
        """The plan as a table: one row per metric, the columns of ``plan.csv``.

        Returns
        -------
        pandas.DataFrame
            ``id``, ``label``, ``weight``, ``threshold``, ``cap``, ``base_rate``,
            ``accelerator_rate``, ``accelerator_multiple``.
        """
        import pandas as pd

        return pd.DataFrame(self.to_records(), columns=[f.name for f in fields(PlanMetric)])

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
        """A plan as written (MODEL.md section 9): every key of every entry honoured.

        Parameters
        ----------
        case : Case
            Gives the threshold and cap an entry does not set, and labels.
        spec : PlanSpec
            The plan as parsed and checked (:func:`~compplan.models.case.check_plan`).

        Returns
        -------
        Plan
            A canonical plan over the case's curves (in the case's metric order) when
            every entry is canonical with the case's threshold and cap and no gate;
            otherwise the entries in file order, as written.
        """
        metrics = []
        for item in spec.metrics:
            label = item.label or case.metric(item.id).label or item.id
            metrics.append(curve_metric(item, label) if item.curve is not None
                           else _canonical_metric(case, item, label))
        plan = cls(tuple(metrics))
        if plan.is_canonical(case):
            # The canonical form, in the case's order, with the file's labels if it gives any.
            w, u = plan.vectors(case)
            labels = {item.id: item.label for item in spec.metrics if item.label is not None}
            return cls(tuple(replace(m, label=labels.get(m.id, m.label))
                             for m in cls.from_vectors(case, w, u).metrics))
        return plan

    def is_canonical(self, case: Case) -> bool:
        """True when the plan is ``(w, u)`` over the case's own curves.

        No curve, no gate, the case's threshold and cap: the case's coefficients
        evaluate it.
        """
        return all(on_case_curve(case, m) for m in self.metrics)

    def written_notes(self, case: Case) -> list[str]:
        """How each metric not on the case's own curve pays, in words (none for canonical).

        Parameters
        ----------
        case : Case
            Gives the case's thresholds and caps and the labels of gate metrics.

        Returns
        -------
        list of str
            ``Multi-product deals: curve: nothing below 50%; ...`` per written metric.
        """
        labels = {k: case.metric(k).label or k for k in case.metric_ids}
        return [f"{m.label}: {how_it_pays(m, labels)}" for m in self.metrics
                if not on_case_curve(case, m)]

    def vectors(self, case: Case) -> tuple[np.ndarray, np.ndarray]:
        """Weights and accelerator rates over all candidate metrics of ``case``.

        Only a canonical plan (:meth:`is_canonical`) is these two vectors; for a written
        plan they are its weights and average accelerator rates, which do not describe
        what it pays.
        """
        w = np.zeros(len(case.metric_ids))
        u = np.zeros(len(case.metric_ids))
        for metric in self.metrics:
            j = case.metric_ids.index(metric.id)
            w[j], u[j] = metric.weight, metric.accelerator_rate
        return w, u

    def shares(self, metric_ids: tuple[str, ...], x: np.ndarray) -> np.ndarray:
        """Payout as a share of target: ``sum_m g_m c_m(x[r, m, s])``, shape (reps, periods).

        Parameters
        ----------
        metric_ids : tuple of str
            The metric order of axis 1 of ``x`` (the case's).
        x : numpy.ndarray
            Attainment ``x[r, m, s]``.

        Returns
        -------
        numpy.ndarray
            (reps, periods): payout as a share of each rep's target incentive, every
            gate applied at the same rep-period's attainment.
        """
        total = np.zeros((x.shape[0], x.shape[2]))
        for m in self.metrics:
            paid = m.payout(x[:, metric_ids.index(m.id), :])
            if m.gate is not None:
                paid = paid * (x[:, metric_ids.index(m.gate.metric), :] >= m.gate.at)
            total += paid
        return total

    def to_records(self) -> list[dict[str, Any]]:
        """One dictionary per metric, in the keys of ``plan.json``.

        A written metric adds ``curve`` and ``gate`` where it has them.
        """
        records = []
        for m in self.metrics:
            record: dict[str, Any] = asdict(m)
            for key in ("curve", "gate"):
                if record[key] is None:
                    del record[key]
            if m.curve is not None:
                record["curve"] = [list(p) for p in m.curve]
            records.append(record)
        return records

    def to_toml(self, case: Case | None = None) -> str:
        """The plan as ``[[metrics]]`` tables, the form of ``current_plan.toml``.

        With ``case``, a threshold or cap that differs from the case's is written too;
        curves and gates are written as they are, so the file reads back the same.
        """
        lines = []
        for m in self.metrics:
            lines += ["[[metrics]]", f'id = "{m.id}"']
            if m.curve is not None:
                points = ", ".join(f"[{a!r}, {p!r}]" for a, p in m.curve)
                lines.append(f"curve = [{points}]")
            else:
                lines += [f"weight = {m.weight!r}", f"accelerator_rate = {m.accelerator_rate!r}"]
                for key in ("threshold", "cap"):
                    if case is not None and getattr(m, key) != getattr(case.metric(m.id), key):
                        lines.append(f"{key} = {getattr(m, key)!r}")
            if m.gate is not None:
                lines.append(f'gate = {{ metric = "{m.gate.metric}", at = {m.gate.at!r} }}')
            lines.append("")
        return "\n".join(lines)


def payouts(case: Case, plan: Plan, attainment: np.ndarray) -> np.ndarray:
    """What a plan pays each rep in each period: ``P[r, s]`` of MODEL.md section 9.

    Parameters
    ----------
    case : Case
        Gives the reps' target incentive and the metric order of ``attainment``.
    plan : Plan
        Any plan, canonical or as written (curves, steps, gates, own thresholds and caps).
    attainment : numpy.ndarray
        ``x[r, m, s]``, shape (reps, case metrics, periods).

    Returns
    -------
    numpy.ndarray
        (reps, periods): payout in currency.
    """
    return case.target_incentive[:, None] * plan.shares(case.metric_ids, attainment)


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
    if str(ref) == CURRENT_PLAN:
        if case.current_plan is None:
            where = ("the case built from DataFrames (current_plan=)" if case.path is None
                     else f"the case folder {case.path}")
            raise CaseError(CURRENT_PLAN_FILE, f"is not in {where}; give a plan file "
                                               "instead of 'current'")
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


def read_plan_json(path: Path) -> tuple[dict[str, Any], PlanSpec]:
    """Read a ``plan.json``: the document and its validated metrics.

    Parameters
    ----------
    path : Path
        A ``plan.json`` written by ``compplan optimise``.

    Returns
    -------
    tuple of (dict, PlanSpec)
        The whole document and its ``metrics``, checked.

    Raises
    ------
    CaseError
        The file is not JSON, has no ``metrics`` list, or a metric is malformed.
    """
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
    return doc, spec


def _read_plan_json(path: Path, case: Case) -> PlanSpec:
    _doc, spec = read_plan_json(path)
    for i, item in enumerate(spec.metrics):
        where = f"metrics #{i + 1} ({item.id})"
        if item.id not in case.spec.metrics:
            continue  # named by check_plan below
        metric = case.metric(item.id)
        for key, mine in (("threshold", metric.threshold), ("cap", metric.cap)):
            theirs = getattr(item, key)
            if theirs is not None and abs(theirs - mine) > _CURVE_TOLERANCE:
                raise CaseError(path.name, f"{key} {theirs:g} differs from the case's {mine:g}: "
                                           "the plan was made for another case", field=where)
    check_plan(path.name, spec, case.spec, table="metrics")
    return spec
