"""What a plan does under the case's scenarios, computed with numpy from the coefficients.

Independent of the solver: the same figures check a solved plan against every
guardrail and describe a plan typed in by hand. Besides the guardrails, every plan
is checked against the design rules (weights sum to 1, metric count, weight and
accelerator bounds, required and forbidden metrics), so a plan typed in by hand or
changed by a what-if shows what it breaks; the solver's plans meet them by
construction.

Percentiles interpolate linearly between the sorted values (numpy's default); tail
means (CVaR, the top and bottom tails over reps) weigh equally likely values as in
the model, splitting a value at the tail's edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from compplan.errors import CaseError
from compplan.models.case import Case
from compplan.models.guardrails import TABLE as GUARDRAIL_TABLE
from compplan.models.plan import Plan
from compplan.models.scenarios import Scenarios, build_scenarios
from compplan.optimizer.coefficients import CHUNK_ELEMENTS, Coefficients
from compplan.optimizer.tails import tail_mean

if TYPE_CHECKING:
    import pandas as pd

#: Tail shares reported when the case sets none.
DEFAULT_TOP_SHARE = 0.10
DEFAULT_BOTTOM_SHARE = 0.20
#: CVaR level of the total payout reported when the case sets no ``cvar_level``.
DEFAULT_CVAR_LEVEL = 0.90
#: Percentiles of the reps' expected payout (share of their own target).
REP_PERCENTILES = (10, 25, 50, 75, 90)
#: Relative slack within which a guardrail counts as met (solver tolerances).
CHECK_TOLERANCE = 1e-6
#: Reps per pass when summing revenue over scenarios.
_REVENUE_CHUNK = 4096


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
        return {**_plain(self), "slack": self.slack, "ok": self.ok}


Sense = Literal["<=", ">=", "=="]


@dataclass(frozen=True)
class RuleCheck:
    """One design rule at a plan: ``value sense limit``, e.g. a weight ``>=`` its minimum.

    Attributes
    ----------
    name : str
        The rule: ``weights_sum``, ``max_metrics``, ``min_weight``, ``max_weight``,
        ``accelerator_min``, ``accelerator_max``, ``required`` or ``forbidden``.
    setting : str
        Where the limit comes from, as written in ``case.toml`` (``[design] min_weight``,
        ``[metrics.x] max_weight``), or ``weights sum to 1``.
    metric : str or None
        The metric the rule is about, if one.
    value, limit : float
        The plan's figure and the rule's bound (for ``required`` and ``forbidden``:
        1 if the metric is in the plan, else 0).
    sense : {"<=", ">=", "=="}
        How ``value`` must compare with ``limit``.
    """

    name: str
    setting: str
    metric: str | None
    value: float
    limit: float
    sense: Sense

    @property
    def slack(self) -> float:
        """Room left before the limit (negative when broken; minus the gap for ``==``)."""
        if self.sense == "<=":
            return self.limit - self.value
        if self.sense == ">=":
            return self.value - self.limit
        return 0.0 - abs(self.value - self.limit)  # 0.0, not -0.0, when equal

    @property
    def ok(self) -> bool:
        """True when the rule holds, within solver tolerance."""
        return self.slack >= -CHECK_TOLERANCE * max(1.0, abs(self.limit))

    @property
    def message(self) -> str:
        """The rule and how the plan stands, in words."""
        return _rule_message(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**_plain(self), "slack": self.slack, "ok": self.ok, "message": self.message}


@dataclass(frozen=True)
class SegmentFigures:
    """Expected payout of one group of reps (a value of a grouping column)."""

    group: str
    reps: int
    target_incentive: float
    expected_payout: float
    share_of_target: float
    gap: float


@dataclass(frozen=True)
class Evaluation:
    """Figures of a plan; money in the case's currency (per period, or per year).

    Money is per year with ``[case] periods_per_year`` (MODEL.md section 5). With reps
    who joined or left (``[scenarios] allow_absent``), shares of target are over the
    periods a rep was on the plan, and parity gaps and segments compare payout with
    the target incentive on the plan.

    Shares of target are ratios (1.0 = 100 % of target incentive). ``cvar`` is set
    only when the case sets ``[budget] cvar_level``; ``total_cvar`` always, at
    ``total_cvar_level`` (the case's level, else ``DEFAULT_CVAR_LEVEL``;
    ``total_cvar_level_source`` says which). ``parity_gaps`` are those of the parity
    guardrail (``[fairness] group_by``); ``segments`` are per group of
    ``segment_column``: ``group_by``, else the first grouping column of ``reps.csv``.
    """

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
    alignment_by_goal: dict[str, float] = field(default_factory=dict)
    alignment_share_by_goal: dict[str, float | None] = field(default_factory=dict)
    total_cvar_level: float = DEFAULT_CVAR_LEVEL
    total_cvar_level_source: str = "default"
    total_cvar: float = float("nan")
    revenue_metric: str | None = None
    expected_revenue: float | None = None
    cost_of_sales: float | None = None
    rep_share_percentiles: dict[str, float] = field(default_factory=dict)
    segment_column: str | None = None
    segments: list[SegmentFigures] = field(default_factory=list)
    max_segment_gap: float | None = None
    design_rules: list[RuleCheck] = field(default_factory=list)
    #: With ``[response]`` (MODEL.md section 10): the figures under response and static
    #: (:class:`compplan.optimizer.response.ResponseFigures`); not part of ``to_dict``.
    response: Any = field(default=None, compare=False, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Every guardrail and design rule at the plan, one row each.

        Returns
        -------
        pandas.DataFrame
            ``kind`` (``guardrail`` or ``design rule``), ``setting``, ``value``,
            ``limit``, ``slack``, ``ok`` and the check's other fields.
        """
        import pandas as pd

        rows = ([{"kind": "guardrail", **g.to_dict()} for g in self.guardrails]
                + [{"kind": "design rule", **r.to_dict()} for r in self.design_rules])
        return pd.DataFrame(rows)

    @property
    def violated(self) -> list[GuardrailCheck]:
        """Guardrails the plan breaks."""
        return [g for g in self.guardrails if not g.ok]

    @property
    def broken_rules(self) -> list[RuleCheck]:
        """Design rules the plan breaks."""
        return [r for r in self.design_rules if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``evaluation`` block of ``plan.json``)."""
        # The response block is written beside the evaluation, not inside it.
        data = _plain(self, skip="response")
        data["guardrails"] = [g.to_dict() for g in self.guardrails]
        data["design_rules"] = [r.to_dict() for r in self.design_rules]
        return data


def _plain(value: Any, skip: str = "") -> Any:
    """``dataclasses.asdict`` for figures: dataclasses, dicts, lists and tuples copied.

    Leaves (numbers, text, None) are shared rather than deep-copied: they are immutable,
    and ``asdict``'s ``copy.deepcopy`` of each was most of the time of writing a plan.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)
                if f.name != skip}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def evaluate(case: Case, coeffs: Coefficients, w: np.ndarray, u: np.ndarray, *,
             revenue: float | None = None) -> Evaluation:
    """Evaluate a plan given by weights ``w`` and accelerator rates ``u`` per metric.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    w, u : numpy.ndarray
        Per metric of ``coeffs.metric_ids``; zero for metrics not in the plan.
    revenue : float, optional
        The case's expected revenue (:func:`expected_revenue`), to spare a pass over
        the scenarios when several plans are evaluated; computed when needed and not
        given.

    Returns
    -------
    Evaluation
        Alignment, cost and risk of the total payout, fairness figures, guardrail
        and design-rule checks.

    Raises
    ------
    CaseError
        ``[case] revenue_metric`` is set but ``quotas.csv`` gives no quota for it.
    """
    totals = (coeffs.scen_w @ w + coeffs.scen_u @ u) * coeffs.ti_total
    shares = coeffs.rep_w @ w + coeffs.rep_u @ u
    gaps = coeffs.group_w @ w + coeffs.group_u @ u - float(coeffs.pay_w @ w + coeffs.pay_u @ u)
    caps = np.array([case.metric(k).cap for k in coeffs.metric_ids])
    figures = _Figures(
        totals=totals, shares=shares, in_plan=w > 0,
        by_metric=coeffs.objective_w * w + coeffs.objective_u * u,
        paid=coeffs.responsiveness * (coeffs.align_w * w + coeffs.align_u * u), gaps=gaps,
        max_payout_multiple=float(w.sum() + ((caps - 1.0) * u).sum()),
        rules=design_rules(case, coeffs.metric_ids, w, u))
    return _assemble(case, coeffs, figures, revenue)


@dataclass(frozen=True)
class PlanPayouts:
    """What a plan pays under the case's scenarios: the three arrays every figure follows from.

    Attributes
    ----------
    totals : numpy.ndarray
        (S,): total payout per scenario, in currency.
    shares : numpy.ndarray
        (N,): each rep's expected payout as a share of the rep's own target, ``e_r``.
    marginal : numpy.ndarray
        (M,) over the case's metrics: ``U_m``, what one typical step on the metric pays
        the average rep as a share of target (0 for a metric not in the plan).
    """

    totals: np.ndarray
    shares: np.ndarray
    marginal: np.ndarray


def plan_payouts(case: Case, coeffs: Coefficients, plan: Plan,
                 scenarios: Scenarios | None = None) -> PlanPayouts:
    """Total payout per scenario, rep shares and ``U_m`` of any plan (MODEL.md sections 4, 9).

    A canonical plan is read off the coefficients (linear in ``w`` and ``u``); a plan as
    written (curves, steps, gates, its own thresholds and caps) is paid out over the
    scenarios, one chunk of reps at a time:
    ``P[r, s] = TI_r sum_m g_m(r, s) c_m(x[r, m, s])`` and
    ``U_m = 1/(S sum_r TI_r) sum_{r,s} TI_r g_m(r, s) (c_m(x + delta_m) - c_m(x))``.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients (the steps ``delta_m``; everything, for a canonical plan).
    plan : Plan
        The plan.
    scenarios : Scenarios, optional
        The case's scenarios, built when needed and not given.

    Returns
    -------
    PlanPayouts
        The arrays, in currency and shares of target.
    """
    if plan.is_canonical(case):
        w, u = plan.vectors(case)
        return PlanPayouts((coeffs.scen_w @ w + coeffs.scen_u @ u) * coeffs.ti_total,
                           coeffs.rep_w @ w + coeffs.rep_u @ u,
                           coeffs.align_w * w + coeffs.align_u * u)
    scen = scenarios if scenarios is not None else build_scenarios(case)
    ids, ti = case.metric_ids, case.target_incentive
    totals, shares = np.zeros(scen.count), np.empty(len(ti))
    gain = np.zeros(len(ids))
    # About a million values a chunk, as for the coefficients: memory stays flat.
    size = max(1, CHUNK_ELEMENTS // max(1, len(ids) * scen.count))
    for start, x in scen.chunks(size):
        x = np.asarray(x, dtype=np.float64)
        stop = start + x.shape[0]
        t = ti[start:stop, None]
        # O[r, s] (MODEL.md section 5): a rep off the plan in a period is paid nothing then.
        on = scen.present(start, stop)
        paid = plan.shares(ids, x)
        if on is not None:
            paid = paid * on
        totals += (t * paid).sum(axis=0)
        shares[start:stop] = (paid.mean(axis=1) if on is None
                              else paid.sum(axis=1) / on.sum(axis=1))
        for m in plan.metrics:
            j = ids.index(m.id)
            lift = m.payout(x[:, j, :] + coeffs.step[j]) - m.payout(x[:, j, :])
            if m.gate is not None:
                lift = lift * (x[:, ids.index(m.gate.metric), :] >= m.gate.at)
            if on is not None:
                lift = lift * on
            gain[j] += float((t * lift).sum())
    # The denominator of U_m: target incentive on the plan over every scenario.
    return PlanPayouts(totals, shares,
                       gain / (scen.count * float(ti.sum()) * coeffs.on_plan))


def evaluate_plan(case: Case, coeffs: Coefficients, plan: Plan, *,
                  revenue: float | None = None, scenarios: Scenarios | None = None,
                  payouts: PlanPayouts | None = None) -> Evaluation:
    """Evaluate any plan: canonical through :func:`evaluate`, as written from its payouts.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    plan : Plan
        The plan, canonical or as written (MODEL.md section 9).
    revenue : float, optional
        As :func:`evaluate`.
    scenarios : Scenarios, optional
        The case's scenarios, for a written plan (built when needed and not given).
    payouts : PlanPayouts, optional
        The plan's payouts if already computed (:func:`plan_payouts`).

    Returns
    -------
    Evaluation
        Every figure of :func:`evaluate`; for a written plan the design rules it breaks
        (more than ``max_metrics`` metrics, weights not summing to 1, ...) are reported,
        with a curve's weight its pay at 100 % and its accelerator its average slopes.
    """
    if plan.is_canonical(case):
        w, u = plan.vectors(case)
        return evaluate(case, coeffs, w, u, revenue=revenue)
    pay = payouts if payouts is not None else plan_payouts(case, coeffs, plan, scenarios)
    in_plan = np.array([k in {m.id for m in plan.metrics} for k in coeffs.metric_ids])
    figures = _Figures(
        totals=pay.totals, shares=pay.shares, in_plan=in_plan,
        by_metric=coeffs.goal_alignment * coeffs.responsiveness * pay.marginal,
        paid=coeffs.responsiveness * pay.marginal, gaps=_gaps(case, coeffs, pay.shares),
        max_payout_multiple=float(sum(m.max_payout for m in plan.metrics)),
        rules=plan_rules(case, plan))
    return _assemble(case, coeffs, figures, revenue)


def evaluate_payouts(case: Case, coeffs: Coefficients, plan: Plan, pay: PlanPayouts, *,
                     revenue: float | None = None) -> Evaluation:
    """Every figure of any plan from given payouts (e.g. under response, MODEL.md section 10).

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    plan : Plan
        The plan, canonical or as written.
    pay : PlanPayouts
        Its totals per scenario, rep shares and ``U_m``.
    revenue : float, optional
        As :func:`evaluate`.

    Returns
    -------
    Evaluation
        As :func:`evaluate_plan`, from ``pay``.
    """
    in_plan = np.array([k in {m.id for m in plan.metrics} for k in coeffs.metric_ids])
    if plan.is_canonical(case):
        rules = design_rules(case, coeffs.metric_ids, *plan.vectors(case))
    else:
        rules = plan_rules(case, plan)
    figures = _Figures(
        totals=pay.totals, shares=pay.shares, in_plan=in_plan,
        by_metric=coeffs.goal_alignment * coeffs.responsiveness * pay.marginal,
        paid=coeffs.responsiveness * pay.marginal, gaps=_gaps(case, coeffs, pay.shares),
        max_payout_multiple=float(sum(m.max_payout for m in plan.metrics)), rules=rules)
    return _assemble(case, coeffs, figures, revenue)


def _gaps(case: Case, coeffs: Coefficients, shares: np.ndarray) -> np.ndarray:
    """Each ``group_by`` group's expected share of target minus the whole's (constraint 8)."""
    column = case.spec.fairness.group_by
    if column is None:
        return np.zeros(0)
    _, codes = np.unique(case.reps[column].to_numpy(dtype=str), return_inverse=True)
    # With joiners and leavers a rep's target counts for the share of periods on the plan.
    ti = (case.target_incentive if coeffs.present is None
          else case.target_incentive * coeffs.present)
    group = np.bincount(codes, weights=ti * shares) / np.bincount(codes, weights=ti)
    return np.asarray(group - float((ti * shares).sum() / ti.sum()))


@dataclass(frozen=True)
class _Figures:
    """What :func:`_assemble` needs: payouts, alignment parts and the rule checks."""

    totals: np.ndarray
    shares: np.ndarray
    in_plan: np.ndarray
    by_metric: np.ndarray  # a_m rho_m U_m
    paid: np.ndarray       # rho_m U_m
    gaps: np.ndarray
    max_payout_multiple: float
    rules: list[RuleCheck]


def _assemble(case: Case, coeffs: Coefficients, f: _Figures,
              revenue: float | None) -> Evaluation:
    budget, fair = case.spec.budget, case.spec.fairness
    totals, shares, gaps = f.totals, f.shares, f.gaps
    cvar = tail_mean(totals, 1.0 - budget.cvar_level, True) if budget.cvar_level else None
    top_share = fair.top_share or DEFAULT_TOP_SHARE
    bottom_share = fair.bottom_share or DEFAULT_BOTTOM_SHARE
    evaluation = Evaluation(
        alignment=float(f.by_metric.sum()),
        alignment_by_metric={k: float(v) for k, v, chosen in zip(
            coeffs.metric_ids, f.by_metric, f.in_plan, strict=True) if chosen},
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
        max_payout_multiple=f.max_payout_multiple,
        **_goal_split(case, coeffs, f.paid),
        **_tail_of_total(case, totals),
        **_cost_of_sales(case, float(totals.mean()), revenue),
        rep_share_percentiles={f"p{q}": float(np.percentile(shares, q))
                               for q in REP_PERCENTILES},
        **_segments(case, shares, coeffs.present),
        design_rules=f.rules,
    )
    return _with_checks(case, evaluation)


def _goal_split(case: Case, coeffs: Coefficients, paid: np.ndarray) -> dict[str, Any]:
    """Alignment by goal: ``sum_m pi_g A[m, g] rho_m U_m``; the parts sum to the total.

    ``paid`` is ``rho_m U_m``: what a step on each metric pays, weighed by how reps respond.
    """
    goals = case.spec.goals
    total_priority = sum(goals.values())
    parts = {g: float(sum(pi / total_priority * case.metric(m).alignment.get(g, 0.0) * p
                          for m, p in zip(coeffs.metric_ids, paid, strict=True)))
             for g, pi in goals.items()}
    total = sum(parts.values())
    # A plan with no alignment has no split (and a negative total is split as it is).
    shares = {g: (v / total if total != 0.0 else None) for g, v in parts.items()}
    return {"alignment_by_goal": parts, "alignment_share_by_goal": shares}


def _tail_of_total(case: Case, totals: np.ndarray) -> dict[str, Any]:
    level = case.spec.budget.cvar_level
    source = "case" if level is not None else "default"
    beta = level if level is not None else DEFAULT_CVAR_LEVEL
    return {"total_cvar_level": beta, "total_cvar_level_source": source,
            "total_cvar": tail_mean(totals, 1.0 - beta, True)}


def revenue_metric(case: Case) -> str | None:
    """The case's ``[case] revenue_metric``, or None."""
    metric: str | None = case.spec.case.revenue_metric
    return metric


def revenue_quota(case: Case) -> np.ndarray | None:
    """Quota per rep of the revenue metric (currency), or None without a revenue metric.

    Raises
    ------
    CaseError
        The case names a revenue metric but ``quotas.csv`` is absent or has no
        column for it.
    """
    metric = revenue_metric(case)
    if metric is None:
        return None
    if case.quotas is None and case.period_quotas is not None:
        # A case from transactions (MODEL.md section 11): a rep's mean quota per period.
        q = case.period_quotas[:, case.metric_ids.index(metric), :]
        with np.errstate(invalid="ignore"):
            mean: np.ndarray = np.nanmean(np.where(np.isfinite(q), q, np.nan), axis=1)
        return mean
    if case.quotas is None:
        raise CaseError("case.toml", f"needs quotas.csv with a column '{metric}' (quota in "
                                     "currency) to express expected revenue, but the case "
                                     "has no quotas.csv", field="[case] revenue_metric")
    quota = case.quotas[:, case.metric_ids.index(metric)]
    if np.isnan(quota).any():
        raise CaseError("quotas.csv", f"has no column '{metric}', the case's revenue metric "
                                      "([case] revenue_metric in case.toml)")
    return quota


def expected_revenue(case: Case, scenarios: Scenarios | None = None) -> float | None:
    """Expected revenue per period: mean over scenarios of ``sum_r quota[r] x[r, m, s]``.

    Parameters
    ----------
    case : Case
        A case; ``m`` is its ``[case] revenue_metric``.
    scenarios : Scenarios, optional
        Defaults to the case's own (``build_scenarios(case)``).

    Returns
    -------
    float or None
        None when the case names no revenue metric.

    Raises
    ------
    CaseError
        As :func:`revenue_quota`.
    """
    quota = revenue_quota(case)
    if quota is None:
        return None
    j = case.metric_ids.index(str(revenue_metric(case)))
    if (case.quotas is None and case.period_quotas is not None and scenarios is None
            and case.spec.scenarios.mode == "historical"):
        # Each period's own quota: the revenue the ledger recorded, per period on average.
        q = np.nan_to_num(case.period_quotas[:, j, :])
        return float((q * case.attainment[:, j, :]).sum(dtype=np.float64)) / len(case.periods)
    scen = scenarios if scenarios is not None else build_scenarios(case)
    total = 0.0
    for start, x in scen.chunks(_REVENUE_CHUNK):
        total += float(quota[start:start + x.shape[0]] @ x[:, j, :].sum(axis=1, dtype=np.float64))
    return total / scen.count


def _cost_of_sales(case: Case, expected_cost: float, revenue: float | None) -> dict[str, Any]:
    metric = revenue_metric(case)
    if metric is None:
        return {}
    if revenue is None:
        revenue = expected_revenue(case)
    assert revenue is not None  # the case has a revenue metric
    cost = expected_cost / revenue if revenue > 0 else None
    return {"revenue_metric": metric, "expected_revenue": revenue, "cost_of_sales": cost}


def segment_column(case: Case) -> str | None:
    """The column segments are reported by: ``[fairness] group_by``, else the first of reps.csv."""
    if case.spec.fairness.group_by is not None:
        return case.spec.fairness.group_by
    grouping = [c for c in case.reps.columns if c != "target_incentive"]
    return grouping[0] if grouping else None


def _segments(case: Case, shares: np.ndarray,
              present: np.ndarray | None = None) -> dict[str, Any]:
    """Each group's expected payout as a share of its target, and its gap to the whole.

    With reps who joined or left (``present``, each rep's share of scenarios on the
    plan), a group's target incentive is what is on the plan in an average scenario.
    """
    column = segment_column(case)
    if column is None:
        return {}
    labels, codes = np.unique(case.reps[column].to_numpy(dtype=str), return_inverse=True)
    ti = case.target_incentive if present is None else case.target_incentive * present
    group_ti = np.bincount(codes, weights=ti)
    group_pay = np.bincount(codes, weights=ti * shares)
    counts = np.bincount(codes)
    overall = float((ti * shares).sum() / ti.sum())
    segments = [SegmentFigures(str(h), int(n), float(t), float(p), float(p / t),
                               float(p / t - overall))
                for h, n, t, p in zip(labels, counts, group_ti, group_pay, strict=True)]
    return {"segment_column": column, "segments": segments,
            "max_segment_gap": max(abs(s.gap) for s in segments)}


def design_rules(case: Case, metric_ids: tuple[str, ...], w: np.ndarray,
                 u: np.ndarray) -> list[RuleCheck]:
    """Check a plan against the design rules of MODEL.md section 4 (constraints 1 to 4).

    Parameters
    ----------
    case : Case
        The case whose ``[design]`` and ``[metrics.*]`` settings apply.
    metric_ids : tuple of str
        The order of ``w`` and ``u``.
    w, u : numpy.ndarray
        Weights and accelerator rates; a metric with ``w <= 0`` is not in the plan.

    Returns
    -------
    list of RuleCheck
        Weights sum, metric count, then per metric of the plan its weight and
        accelerator bounds, then every required and every forbidden metric.
    """
    chosen = [(k, float(wk), float(uk) * (1.0 - case.metric(k).threshold) / float(wk))
              for k, wk, uk in zip(metric_ids, w, u, strict=True) if wk > 0]
    return _rules(case, metric_ids, chosen)


def plan_rules(case: Case, plan: Plan) -> list[RuleCheck]:
    """The design rules of :func:`design_rules` at a plan as written (MODEL.md section 9).

    Each metric's weight is what it pays at 100 % attainment and its accelerator
    multiple its own (with its own threshold; for a curve, the average slope above
    target over the average slope below). A written plan is never refused for the
    rules it breaks: they are reported.

    Parameters
    ----------
    case : Case
        The case whose ``[design]`` and ``[metrics.*]`` settings apply.
    plan : Plan
        The plan, in any form.

    Returns
    -------
    list of RuleCheck
        In the order of :func:`design_rules`, the plan's metrics in its own order.
    """
    chosen = [(m.id, m.weight, m.accelerator_multiple) for m in plan.metrics]
    return _rules(case, case.metric_ids, chosen)


def _rules(case: Case, metric_ids: tuple[str, ...],
           chosen: list[tuple[str, float, float]]) -> list[RuleCheck]:
    """Rules at ``(metric, weight, accelerator multiple)`` of every metric in the plan."""
    design = case.spec.design
    rules = [RuleCheck("weights_sum", "weights sum to 1", None, float(sum(c[1] for c in chosen)),
                       1.0, "=="),
             RuleCheck("max_metrics", "[design] max_metrics", None, float(len(chosen)),
                       float(design.max_metrics), "<=")]
    for k, wk, multiple in chosen:
        rules += _metric_rules(case, k, wk, multiple)
    in_plan = {c[0] for c in chosen}
    for k in metric_ids:
        spec = case.metric(k)
        if spec.required:
            rules.append(RuleCheck("required", f"[metrics.{k}] required", k,
                                   float(k in in_plan), 1.0, ">="))
        if spec.forbidden:
            rules.append(RuleCheck("forbidden", f"[metrics.{k}] forbidden", k,
                                   float(k in in_plan), 0.0, "<="))
    return rules


def _metric_rules(case: Case, k: str, wk: float, multiple: float) -> list[RuleCheck]:
    design, spec = case.spec.design, case.metric(k)
    low, low_at = ((spec.min_weight, f"[metrics.{k}] min_weight") if spec.min_weight is not None
                   else (design.min_weight, "[design] min_weight"))
    high, high_at = ((spec.max_weight, f"[metrics.{k}] max_weight")
                     if spec.max_weight is not None
                     else (design.max_weight, "[design] max_weight"))
    return [RuleCheck("min_weight", low_at, k, wk, low, ">="),
            RuleCheck("max_weight", high_at, k, wk, high, "<="),
            RuleCheck("accelerator_min", "[design] accelerator_min", k, multiple,
                      design.accelerator_min, ">="),
            RuleCheck("accelerator_max", "[design] accelerator_max", k, multiple,
                      design.accelerator_max, "<=")]


def _rule_message(rule: RuleCheck) -> str:
    k, at = rule.metric, rule.setting
    if rule.name == "weights_sum":
        return ("weights sum to 1" if rule.ok
                else f"weights sum to {rule.value:.6g}, not 1")
    if rule.name == "max_metrics":
        return (f"{rule.value:.0f} metric(s) (at most {rule.limit:.0f}, {at})" if rule.ok
                else f"{rule.value:.0f} metrics, more than {rule.limit:.0f} ({at})")
    if rule.name in ("required", "forbidden"):
        where = "in the plan" if rule.value else "not in the plan"
        return f"{k} is {rule.name} and {where}" + ("" if rule.ok else f" ({at})")
    what = "weight" if rule.name.endswith("weight") else "accelerator multiple"
    bound = "minimum" if rule.sense == ">=" else "maximum"
    if rule.ok:
        return f"{what} of {k} is {rule.value:.4g} ({bound} {rule.limit:.4g}, {at})"
    side = "below" if rule.sense == ">=" else "above"
    return f"{what} of {k} is {rule.value:.4g}, {side} the {bound} {rule.limit:.4g} ({at})"


def _with_checks(case: Case, ev: Evaluation) -> Evaluation:
    """Every guardrail the case sets, checked: one row of the guardrail table each."""
    checks = []
    for g in GUARDRAIL_TABLE:
        limit, value = g.limit(case), g.value(ev)
        if limit is None or value is None:
            continue
        checks.append(GuardrailCheck(g.name, g.setting, float(value), limit, g.upper, g.unit))
    return Evaluation(**{**ev.__dict__, "guardrails": checks})
