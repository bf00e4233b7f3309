"""Response: what a plan will make reps do, and what that costs (MODEL.md section 10).

A plan changes what a step of progress on each metric pays (``U_m``, section 4). Reps
respond: metric ``m``'s attainment is scaled by

    lambda_m(p) = min(max(1 + epsilon_m (U_m(p) - U0_m) / R_m, 1 - c), 1 + c)

with ``U0_m`` the baseline plan's ``U_m`` and ``R_m = U0_m`` where it is > 0 (else the
mean of the positive ``U0_k``). Every payout figure is then computed on
``x' = lambda x``; alignment stays section 4's, on the scenarios before response.

The sums ``sum_r a_r phi(lambda x_r)`` that the grid model needs for many ``lambda``
come from sorted attainment with cumulative sums (:class:`Pooled`): O(log N) each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compplan.errors import CaseError, UsageError
from compplan.models.actuals import Actuals
from compplan.models.case import CASE_FILE, Case
from compplan.models.money import periods_per_year
from compplan.models.plan import Plan
from compplan.models.scenarios import Scenarios, build_scenarios
from compplan.optimizer.coefficients import CHUNK_ELEMENTS, Coefficients
from compplan.optimizer.evaluate import (
    Evaluation,
    PlanPayouts,
    evaluate_payouts,
    evaluate_plan,
    expected_revenue,
    plan_payouts,
    revenue_metric,
    segment_column,
)

#: Most elasticities in one ``--elasticity`` list.
MAX_ELASTICITIES = 20


@dataclass(frozen=True)
class ResponseSettings:
    """The case's ``[response]``, per candidate metric.

    Attributes
    ----------
    elasticity : numpy.ndarray
        (M,): ``epsilon_m``.
    max_change : float
        ``c``: no metric's attainment moves by more than this share.
    value : numpy.ndarray
        (M,): what a unit of the metric is worth; NaN where not given.
    label : float or None
        The elasticity that replaced every metric's (``--elasticity``), else None.
    """

    elasticity: np.ndarray
    max_change: float
    value: np.ndarray
    label: float | None = None


def has_response(case: Case) -> bool:
    """Whether the case has a ``[response]`` table."""
    return case.spec.response is not None


def response_settings(case: Case, elasticity: float | None = None) -> ResponseSettings:
    """The case's response settings; ``elasticity`` replaces every metric's.

    Raises
    ------
    UsageError
        The case has no ``[response]`` table.
    """
    spec = case.spec.response
    if spec is None:
        raise UsageError(f"{case.path / CASE_FILE} has no [response] table: an elasticity "
                         "needs the plan reps worked under ([response] baseline)")
    eps = np.array([elasticity if elasticity is not None
                    else (case.metric(k).elasticity if case.metric(k).elasticity is not None
                          else spec.elasticity) for k in case.metric_ids], dtype=float)
    value = np.array([np.nan if case.metric(k).value is None else case.metric(k).value
                      for k in case.metric_ids], dtype=float)
    return ResponseSettings(eps, spec.max_change, value, elasticity)


def parse_elasticities(text: str) -> list[float]:
    """``--elasticity 0,0.1,0.2``: a list of elasticities >= 0.

    Raises
    ------
    UsageError
        A part that is not a finite number >= 0, or too many.
    """
    values = []
    for part in (p.strip() for p in str(text).split(",")):
        try:
            value = float(part)
        except ValueError:
            raise UsageError(f"--elasticity: '{part[:40]}' is not a number (give elasticities "
                             ">= 0 separated by commas, e.g. 0,0.1,0.2)") from None
        if not np.isfinite(value) or value < 0 or value > 1e6:
            raise UsageError(f"--elasticity: {part[:40]} must be a finite number >= 0")
        values.append(value)
    if len(values) > MAX_ELASTICITIES:
        raise UsageError(f"--elasticity: {len(values)} values; give at most {MAX_ELASTICITIES}")
    return values


@dataclass(frozen=True)
class Baseline:
    """The plan reps worked under, and what it paid for progress.

    Attributes
    ----------
    name : str
        The baseline file as ``[response] baseline`` names it.
    plan : Plan
        The plan.
    marginal : numpy.ndarray
        (M,): ``U0_m``.
    reference : numpy.ndarray
        (M,): ``R_m``.
    static_cost : float
        The baseline's expected payout on the history (currency).
    """

    name: str
    plan: Plan
    marginal: np.ndarray
    reference: np.ndarray
    static_cost: float


def baseline(case: Case, coeffs: Coefficients, scenarios: Scenarios | None = None) -> Baseline:
    """``U0`` and ``R`` of the case's baseline plan (MODEL.md section 10).

    Raises
    ------
    CaseError
        The baseline pays for no progress on any metric.
    """
    spec = case.spec.response
    assert spec is not None and case.baseline is not None  # checked by load_case
    plan = Plan.from_spec(case, case.baseline)
    pay = plan_payouts(case, coeffs, plan, scenarios)
    u0 = np.asarray(pay.marginal, dtype=float)
    positive = u0 > 0
    if not positive.any():
        raise CaseError(CASE_FILE, f"the baseline plan '{spec.baseline}' pays for no progress on "
                                   "any metric (every metric's pay for a step of progress is 0 "
                                   "at the history's attainment), so no response can be "
                                   "measured against it; give the plan in force when the "
                                   "history was recorded", field="[response] baseline")
    reference = np.where(positive, u0, u0[positive].mean())
    return Baseline(spec.baseline, plan, u0, reference, float(pay.totals.mean()))


def multipliers(settings: ResponseSettings, base: Baseline, marginal: np.ndarray) -> np.ndarray:
    """``lambda_m`` for a plan whose ``U_m`` is ``marginal`` (any shape, metrics last)."""
    c = settings.max_change
    raw = 1.0 + settings.elasticity * (marginal - base.marginal) / base.reference
    return np.asarray(np.clip(raw, 1.0 - c, 1.0 + c))


def marginal(case: Case, coeffs: Coefficients, plan: Plan,
             scenarios: Scenarios | None = None) -> np.ndarray:
    """``U_m`` of any plan on the scenarios before response."""
    if plan.is_canonical(case):
        w, u = plan.vectors(case)
        return np.asarray(coeffs.align_w * w + coeffs.align_u * u)
    return np.asarray(plan_payouts(case, coeffs, plan, scenarios).marginal)


def response_payouts(case: Case, coeffs: Coefficients, plan: Plan, lam: np.ndarray,
                     static_marginal: np.ndarray,
                     scenarios: Scenarios | None = None) -> PlanPayouts:
    """Totals per scenario and rep shares of a plan on ``x' = lambda x``.

    ``marginal`` is the plan's ``U_m`` before response (alignment is not re-weighed).
    """
    scen = scenarios if scenarios is not None else build_scenarios(case)
    ids, ti = case.metric_ids, case.target_incentive
    totals, shares = np.zeros(scen.count), np.empty(len(ti))
    size = max(1, CHUNK_ELEMENTS // max(1, len(ids) * scen.count))
    scale = np.asarray(lam, dtype=np.float64)[None, :, None]
    for start, x in scen.chunks(size):
        xs = np.asarray(x, dtype=np.float64) * scale
        stop = start + xs.shape[0]
        on = scen.present(start, stop)
        paid = plan.shares(ids, xs)
        if on is not None:
            paid = paid * on
        totals += (ti[start:stop, None] * paid).sum(axis=0)
        shares[start:stop] = (paid.mean(axis=1) if on is None
                              else paid.sum(axis=1) / on.sum(axis=1))
    return PlanPayouts(totals, shares, np.asarray(static_marginal))


def volumes(case: Case, scenarios: Scenarios | None = None) -> np.ndarray:
    """(M,): ``sum_r mean_s Q[r,m] x[r,m,s]``, over each rep's periods on the plan.

    NaN for a metric without a quota.
    """
    if case.quotas is None and case.period_quotas is not None:
        return _ledger_volumes(case, scenarios)
    if case.quotas is None:
        return np.full(len(case.metric_ids), np.nan)
    scen = scenarios if scenarios is not None else build_scenarios(case)
    quota = np.nan_to_num(case.quotas, nan=0.0)
    total = np.zeros(len(case.metric_ids))
    size = max(1, CHUNK_ELEMENTS // max(1, len(case.metric_ids) * scen.count))
    for start, x in scen.chunks(size):
        stop = start + x.shape[0]
        on = scen.present(start, stop)
        count = (np.full(x.shape[0], float(scen.count)) if on is None
                 else on.sum(axis=1).astype(float))
        mean = np.asarray(x, dtype=np.float64).sum(axis=2) / count[:, None]
        total += (quota[start:stop] * mean).sum(axis=0)
    return np.where(np.isnan(case.quotas).any(axis=0), np.nan, total)


def _ledger_volumes(case: Case, scenarios: Scenarios | None) -> np.ndarray:
    """``volumes`` for a case from transactions: each period's own quota (section 11).

    In Monte Carlo mode the draws are not periods: a rep's quota is then the mean of
    her periods' own quotas.
    """
    return ledger_rep_volumes(case, scenarios).sum(axis=0)


def ledger_rep_volumes(case: Case, scenarios: Scenarios | None) -> np.ndarray:
    """(N, M): each rep's ``mean_s Q x`` for a case from transactions (section 11)."""
    assert case.period_quotas is not None
    quota = case.period_quotas  # (reps, metrics, periods), NaN off the plan
    on = ~np.isnan(quota)
    count = np.maximum(on.sum(axis=2), 1)
    if scenarios is None or scenarios.mode == "historical":
        units = np.where(on, np.nan_to_num(quota) * case.attainment, 0.0)
        return np.asarray(units.sum(axis=2) / count)
    mean_quota = np.nan_to_num(quota).sum(axis=2) / count
    per_rep = np.zeros(mean_quota.shape)
    size = max(1, CHUNK_ELEMENTS // max(1, len(case.metric_ids) * scenarios.count))
    for start, x in scenarios.chunks(size):
        stop = start + x.shape[0]
        mean = np.asarray(x, dtype=np.float64).mean(axis=2)
        per_rep[start:stop] = mean_quota[start:stop] * mean
    return per_rep


@dataclass(frozen=True)
class ResponseFigures:
    """A plan's figures under response beside the static ones (the ``response`` block).

    Attributes
    ----------
    baseline : str
        The baseline file.
    elasticity : float or None
        The elasticity that replaced every metric's, or None (the case's own).
    multipliers : dict of str to float
        ``lambda_m`` for every candidate metric.
    evaluation : Evaluation
        Every figure under response.
    static : Evaluation
        Every figure on the history.
    outcomes : dict
        Per metric with a ``value``: ``volume_change`` (units) and ``value_change``.
    net_value : float or None
        The value changes minus the change of expected payout from the baseline's static
        expected payout; None without any ``value``.
    baseline_cost : float
        The baseline's static expected payout.
    segments : dict or None
        An extension of section 10 (``response.segments``), for a case whose reps are
        grouped (``[fairness] group_by``, else the first grouping column of reps.csv):
        ``column`` and per group ``reps``, expected payout under response, static and
        the baseline's, each metric's ``attainment_change`` (mean attainment under
        response minus on the history, share of quota), and with values ``outcomes``
        and ``net_value`` as for the whole, over the group's reps.
    """

    baseline: str
    elasticity: float | None
    multipliers: dict[str, float]
    evaluation: Evaluation
    static: Evaluation
    outcomes: dict[str, dict[str, float]] = field(default_factory=dict)
    net_value: float | None = None
    baseline_cost: float = 0.0
    segments: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``response`` block of ``plan.json`` and ``evaluation.json`` (section 10)."""
        data: dict[str, Any] = {"baseline": self.baseline}
        if self.elasticity is not None:
            data["elasticity"] = self.elasticity
        data.update({"multipliers": dict(self.multipliers),
                     "evaluation": self.evaluation.to_dict(), "static": self.static.to_dict(),
                     "baseline_expected_cost": self.baseline_cost})
        if self.outcomes:
            data["outcomes"] = {k: dict(v) for k, v in self.outcomes.items()}
            data["net_value"] = self.net_value
        if self.segments is not None:
            data["segments"] = self.segments
        return data

    def to_frame(self) -> Any:
        """One row per figure: ``figure``, ``static``, ``response``, and per metric rows.

        Returns
        -------
        pandas.DataFrame
            Expected payout, CVaR, P10/P50/P90, mean share, tails and parity gap,
            static and under response; then each metric's multiplier and outcome.
        """
        import pandas as pd

        keys = ("expected_cost", "cvar", "total_cvar", "total_p10", "total_p50", "total_p90",
                "mean_payout_share", "top_tail_mean", "bottom_tail_mean", "max_parity_gap")
        rows = [{"figure": k, "static": getattr(self.static, k),
                 "response": getattr(self.evaluation, k)} for k in keys]
        for k, lam in self.multipliers.items():
            row: dict[str, Any] = {"figure": f"multiplier.{k}", "static": 1.0, "response": lam}
            rows.append(row)
        for k, out in self.outcomes.items():
            rows.append({"figure": f"volume_change.{k}", "static": 0.0,
                         "response": out["volume_change"]})
            rows.append({"figure": f"value_change.{k}", "static": 0.0,
                         "response": out["value_change"]})
        if self.net_value is not None:
            rows.append({"figure": "net_value", "static": None, "response": self.net_value})
        return pd.DataFrame(rows, columns=["figure", "static", "response"])


@dataclass
class ResponseContext:
    """What every response evaluation of a case shares: scenarios, baseline, volumes."""

    case: Case
    coeffs: Coefficients
    scenarios: Scenarios
    base: Baseline
    volume: np.ndarray
    revenue: float | None

    @classmethod
    def of(cls, case: Case, coeffs: Coefficients, scenarios: Scenarios | None = None,
           revenue: float | None = None) -> ResponseContext:
        """Build it once per case (a pass for the baseline if written, one for volumes)."""
        scen = scenarios if scenarios is not None else build_scenarios(case)
        if revenue is None and revenue_metric(case) is not None:
            revenue = expected_revenue(case, scen)
        return cls(case, coeffs, scen, baseline(case, coeffs, scen), volumes(case, scen),
                   revenue)

    def groups(self) -> GroupTotals | None:
        """Per group of reps: the baseline's expected payout, volumes, mean attainment.

        Computed once, on first use (two passes); None when reps are not grouped.
        """
        if self._groups is None:
            self._groups = (False,) if segment_column(self.case) is None else (
                group_totals(self.case, self.coeffs, self.base.plan, self.scenarios),)
        found = self._groups[0]
        return found if found is not False else None

    _groups: tuple[Any, ...] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class GroupTotals:
    """Per group of reps (``segment_column``): what the response's segments need.

    Attributes
    ----------
    column : str
        The grouping column.
    labels : numpy.ndarray
        (G,): the groups.
    codes : numpy.ndarray
        (N,): each rep's group.
    baseline_cost : numpy.ndarray
        (G,): the baseline's static expected payout of the group.
    volume : numpy.ndarray
        (G, M): ``sum_r mean_s Q x`` over the group's reps (NaN without quotas).
    attainment : numpy.ndarray
        (G, M): mean attainment over the group's rep-periods on the plan.
    """

    column: str
    labels: np.ndarray
    codes: np.ndarray
    baseline_cost: np.ndarray
    volume: np.ndarray
    attainment: np.ndarray


def group_totals(case: Case, coeffs: Coefficients, base: Plan,
                 scenarios: Scenarios) -> GroupTotals:
    """The :class:`GroupTotals` of a case whose reps are grouped."""
    column = segment_column(case)
    assert column is not None
    labels, codes = np.unique(case.reps[column].to_numpy(dtype=str), return_inverse=True)
    groups, m = len(labels), len(case.metric_ids)
    pay = plan_payouts(case, coeffs, base, scenarios)
    ti = case.target_incentive
    present = coeffs.present
    weights = ti * pay.shares if present is None else ti * present * pay.shares
    baseline_cost = np.bincount(codes, weights=weights, minlength=groups)
    quota = (np.zeros((len(ti), m)) if case.quotas is None
             else np.nan_to_num(case.quotas, nan=0.0))
    volume, attainment, periods = np.zeros((groups, m)), np.zeros((groups, m)), np.zeros(groups)
    size = max(1, CHUNK_ELEMENTS // max(1, m * scenarios.count))
    for start, x in scenarios.chunks(size):
        stop = start + x.shape[0]
        on = scenarios.present(start, stop)
        count = (np.full(x.shape[0], float(scenarios.count)) if on is None
                 else on.sum(axis=1).astype(float))
        summed = np.asarray(x, dtype=np.float64).sum(axis=2)
        mean = summed / np.maximum(count, 1.0)[:, None]
        here = codes[start:stop]
        for j in range(m):
            volume[:, j] += np.bincount(here, weights=quota[start:stop, j] * mean[:, j],
                                        minlength=groups)
            attainment[:, j] += np.bincount(here, weights=summed[:, j], minlength=groups)
        periods += np.bincount(here, weights=count, minlength=groups)
    if case.quotas is None and case.period_quotas is not None:  # each period's own quota
        per_rep = ledger_rep_volumes(case, scenarios)
        volume = np.stack([np.bincount(codes, weights=per_rep[:, j], minlength=groups)
                           for j in range(m)], axis=1)
    elif case.quotas is None:
        volume[:] = np.nan
    else:
        volume[:, np.isnan(case.quotas).any(axis=0)] = np.nan
    return GroupTotals(column, labels, codes, baseline_cost, volume,
                       attainment / np.maximum(periods, 1.0)[:, None])


def response_segments(ctx: ResponseContext, settings: ResponseSettings, lam: np.ndarray,
                      under: Evaluation, static: Evaluation) -> dict[str, Any] | None:
    """``response.segments``: per group of reps, as :class:`ResponseFigures` describes."""
    found = ctx.groups()
    if found is None or not under.segments:
        return None
    case = ctx.case
    years = periods_per_year(case) or 1
    under_pay = {s.group: s.expected_payout for s in under.segments}
    static_pay = {s.group: s.expected_payout for s in static.segments}
    groups: dict[str, Any] = {}
    for g, label in enumerate(found.labels):
        name = str(label)
        entry: dict[str, Any] = {
            "reps": int((found.codes == g).sum()),
            "expected_payout": float(under_pay[name]),
            "static_expected_payout": float(static_pay[name]),
            "baseline_expected_payout": float(found.baseline_cost[g]),
            "attainment_change": {k: float((lam[j] - 1.0) * found.attainment[g, j])
                                  for j, k in enumerate(case.metric_ids)}}
        outcomes = {}
        for j, k in enumerate(case.metric_ids):
            if np.isnan(settings.value[j]) or np.isnan(found.volume[g, j]):
                continue
            volume = float((lam[j] - 1.0) * found.volume[g, j] * years)
            outcomes[k] = {"volume_change": volume, "value_change": volume * settings.value[j]}
        if outcomes:
            entry["outcomes"] = outcomes
            entry["net_value"] = (sum(o["value_change"] for o in outcomes.values())
                                  - (entry["expected_payout"] - entry["baseline_expected_payout"]))
        groups[name] = entry
    return {"column": found.column, "groups": groups}


def evaluate_response(ctx: ResponseContext, plan: Plan, *, elasticity: float | None = None,
                      static: Evaluation | None = None) -> ResponseFigures:
    """A plan's figures under response and on the history (MODEL.md section 10).

    Parameters
    ----------
    ctx : ResponseContext
        The case's shared figures.
    plan : Plan
        Any plan (canonical or as written).
    elasticity : float, optional
        Replaces every metric's elasticity.
    static : Evaluation, optional
        The plan's static evaluation, if already computed.

    Returns
    -------
    ResponseFigures
        Multipliers, both evaluations, outcomes and net value.
    """
    case, coeffs = ctx.case, ctx.coeffs
    settings = response_settings(case, elasticity)
    if static is None:
        static = evaluate_plan(case, coeffs, plan, revenue=ctx.revenue, scenarios=ctx.scenarios)
    u = marginal(case, coeffs, plan, ctx.scenarios)
    lam = multipliers(settings, ctx.base, u)
    if np.all(lam == 1.0):
        under = static  # no response: every figure is the history's exactly
    else:
        pay = response_payouts(case, coeffs, plan, lam, u, ctx.scenarios)
        revenue = ctx.revenue
        metric = revenue_metric(case)
        if revenue is not None and metric is not None:
            revenue *= float(lam[case.metric_ids.index(metric)])
        under = evaluate_payouts(case, coeffs, plan, pay, revenue=revenue)
    outcomes: dict[str, dict[str, float]] = {}
    years = periods_per_year(case) or 1
    for j, k in enumerate(case.metric_ids):
        if np.isnan(settings.value[j]):
            continue
        volume = float((lam[j] - 1.0) * ctx.volume[j] * years)
        outcomes[k] = {"volume_change": volume, "value_change": volume * settings.value[j]}
    net = None
    if outcomes:
        net = (sum(o["value_change"] for o in outcomes.values())
               - (under.expected_cost - ctx.base.static_cost))
    return ResponseFigures(ctx.base.name, settings.label,
                           {k: float(v) for k, v in zip(case.metric_ids, lam, strict=True)},
                           under, static, outcomes, net, ctx.base.static_cost,
                           response_segments(ctx, settings, lam, under, static))


def response_payout(case: Case, coeffs: Coefficients, w: np.ndarray,
                    u: np.ndarray) -> PlanPayouts:
    """Totals and rep shares of a canonical plan ``(w, u)`` under the case's response."""
    plan = Plan.from_vectors(case, w, u)
    base = baseline(case, coeffs)
    static = coeffs.align_w * w + coeffs.align_u * u
    lam = multipliers(response_settings(case), base, static)
    return response_payouts(case, coeffs, plan, lam, static)


def realised_response(case: Case, coeffs: Coefficients, plan: Plan,
                      actuals: Actuals) -> dict[str, Any] | None:
    """What the year so far says about the response (MODEL.md section 10, pulse).

    Per metric with actuals: the realised multiplier (the mean actual attainment over the
    elapsed rep-periods over the history's mean for the same reps) and the implied
    elasticity ``(lambda^ - 1) R / (U(plan) - U0)`` where the plan changed what progress
    pays (else None).

    Returns
    -------
    dict or None
        ``{"realised": {...}, "implied_elasticity": {...}}``; None without ``[response]``
        or when the plan is the baseline.
    """
    if case.spec.response is None:
        return None
    base = baseline(case, coeffs)
    if plan.to_records() == base.plan.to_records():
        return None
    change = marginal(case, coeffs, plan) - base.marginal
    realised: dict[str, float | None] = {}
    implied: dict[str, float | None] = {}
    on = actuals.present.any(axis=1)
    for k in actuals.metric_ids:
        j = case.metric_ids.index(k)
        now = actuals.metric(k)[actuals.present]
        history = case.attainment[on, j, :]
        if case.present is not None:
            history = history[case.present[on]]
        before = float(np.mean(history)) if history.size else 0.0
        lam = float(np.mean(now)) / before if now.size and before > 0 else None
        realised[k] = lam
        implied[k] = (None if lam is None or abs(change[j]) <= 1e-9
                      else float((lam - 1.0) * base.reference[j] / change[j]))
    return {"realised": realised, "implied_elasticity": implied}


# ------------------------------------------------------------ sums over sorted attainment

class Pooled:
    """``sum_i a_i phi(lambda v_i)`` and ``psi`` for many ``lambda``, from sorted ``v``.

    Built once (a sort and two cumulative sums); each ``lambda`` then costs two binary
    searches: O(log N).

    Parameters
    ----------
    values : numpy.ndarray
        Attainments ``v_i`` (any shape; flattened).
    weights : numpy.ndarray
        Their weights ``a_i``, the shape of ``values``.
    is_sorted : bool
        ``values`` are already in ascending order (one sort serves several weightings).
    """

    def __init__(self, values: np.ndarray, weights: np.ndarray, *,
                 is_sorted: bool = False) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        a = np.broadcast_to(np.asarray(weights, dtype=np.float64), np.shape(values)).ravel()
        if not is_sorted:
            order = np.argsort(v)
            v, a = v[order], a[order]
        self.v = v
        self.ca = np.concatenate([[0.0], np.cumsum(a)])
        self.cav = np.concatenate([[0.0], np.cumsum(a * v)])

    def _band(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums of ``a`` and ``a v`` with ``lo < v < hi``, and of ``a`` with ``v >= hi``."""
        i1 = np.searchsorted(self.v, lo, side="right")
        i2 = np.maximum(np.searchsorted(self.v, hi, side="left"), i1)
        return (self.ca[i2] - self.ca[i1], self.cav[i2] - self.cav[i1], self.ca[-1] - self.ca[i2])

    def sums(self, lam: np.ndarray, theta: float, kappa: float) -> tuple[np.ndarray, np.ndarray]:
        """``sum_i a_i phi(lam v_i)`` and ``sum_i a_i psi(lam v_i)`` for each ``lam``."""
        lam = np.asarray(lam, dtype=np.float64)
        safe = np.where(lam > 0, lam, 1.0)
        sa, sav, above = self._band(theta / safe, 1.0 / safe)
        phi = (safe * sav - theta * sa) / (1.0 - theta) + above
        sa, sav, above = self._band(1.0 / safe, kappa / safe)
        psi = (safe * sav - sa) + (kappa - 1.0) * above
        zero = lam <= 0  # x' = 0 pays nothing: phi(0) = psi(0) = 0
        return np.where(zero, 0.0, phi), np.where(zero, 0.0, psi)
