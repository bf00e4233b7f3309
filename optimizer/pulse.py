"""The pulse check (MODEL.md section 8): paid so far, the year's forecast, the least re-tune.

What the plan paid so far, where the year lands, and the smallest re-tune of weights
and accelerator rates that keeps it inside the cap.

Money follows section 5: per period of ``attainment.csv`` by default; with ``[case]
periods_per_year`` every figure is per year and an elapsed period counts as ``1/N``
of the year. ``Year.per_period`` is that factor (1 or ``1/N``).

Payouts of the plan in force go through one function, :func:`plan_payout`, so a
plan as written (section 9: curves, gates) only has to supply its own there; the
re-tune is defined for the canonical form only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyomo.core as pyo

from compplan.errors import CaseError, CompplanError, SolverLimitError, UsageError
from compplan.models.actuals import Actuals
from compplan.models.case import Case
from compplan.models.guardrails import BY_NAME as GUARDRAIL
from compplan.models.plan import Plan
from compplan.models.scenarios import build_scenarios
from compplan.optimizer.coefficients import Coefficients, Progress, compute_coefficients
from compplan.optimizer.diagnose import _SETTINGS as SETTINGS
from compplan.optimizer.diagnose import active_guardrails
from compplan.optimizer.evaluate import (
    CHECK_TOLERANCE,
    DEFAULT_BOTTOM_SHARE,
    DEFAULT_TOP_SHARE,
    evaluate_plan,
    segment_column,
)
from compplan.optimizer.model import PlanModel, TailMethod, create_model, guardrail_limits
from compplan.optimizer.response import realised_response
from compplan.optimizer.solve import SolveResult, Stage, Status, solve_stages
from compplan.optimizer.tails import tail_mean

SCHEMA = "compplan.pulse/1"
#: A least change at most this (solver tolerance) means the plan in force already fits.
UNCHANGED = 1e-9
#: Common practice for a calibrated payout curve (share of rep-periods reaching each
#: point) and the band around it within which a curve counts as calibrated.
CALIBRATION = {"threshold": (0.90, 0.85, 0.95), "target": (0.65, 0.55, 0.75),
               "cap": (0.10, 0.05, 0.15)}


@dataclass(frozen=True)
class Year:
    """The plan year: ``k`` periods elapsed of ``N``.

    Attributes
    ----------
    elapsed : int
        ``k``.
    periods : int
        ``N``.
    annual : bool
        Money is per year (``[case] periods_per_year``); else per period.
    """

    elapsed: int
    periods: int
    annual: bool

    @property
    def remaining(self) -> int:
        """``R = N - k``."""
        return self.periods - self.elapsed

    @property
    def per_period(self) -> float:
        """What one period counts for in the money unit: ``1/N`` per year, else 1."""
        return 1.0 / self.periods if self.annual else 1.0

    @property
    def money(self) -> str:
        """``per year`` or ``per period``."""
        return "per year" if self.annual else "per period"


#: The most periods a plan year may have (daily), as ``[case] periods_per_year`` allows.
MOST_YEAR_PERIODS = 366


def plan_year(case: Case, elapsed: int, year_periods: int | None) -> Year:
    """The year's ``N`` and ``k``; ``1 <= k < N``.

    ``N`` is ``year_periods`` if given, else ``[case] periods_per_year``, else (historical
    mode) the number of periods of the case's history.

    Raises
    ------
    UsageError
        ``N`` cannot be told (Monte Carlo without ``periods_per_year``) or ``k >= N``.
    """
    per_year = case.spec.case.periods_per_year
    if year_periods is not None:
        periods = year_periods
    elif per_year is not None:
        periods = per_year
    elif case.spec.scenarios.mode == "historical":
        periods = len(case.periods)
    else:
        raise UsageError("--year-periods is required: the case's scenarios are Monte Carlo "
                         "draws, so its history does not say how many periods the plan year "
                         "has (or set [case] periods_per_year in case.toml)")
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
        raise UsageError(f"--year-periods must be a whole number >= 1, got {periods!r}")
    if periods > MOST_YEAR_PERIODS:
        raise UsageError(f"--year-periods {periods} is more periods than a year holds: at most "
                         f"{MOST_YEAR_PERIODS} (daily periods), as for [case] periods_per_year")
    if elapsed >= periods:
        raise UsageError(f"the actuals hold {elapsed} elapsed period(s) but the plan year has "
                         f"{periods} (--year-periods N, default {_n_source(case)}); "
                         "a pulse check needs at least one period left (k < N)")
    return Year(elapsed, periods, per_year is not None)


def _n_source(case: Case) -> str:
    if case.spec.case.periods_per_year is not None:
        return "[case] periods_per_year"
    return "the periods of the case's history"


# --------------------------------------------------------------------------- payouts

def plan_payout(plan: Plan, attainment: Mapping[str, np.ndarray]) -> np.ndarray:
    """Payout as a share of target incentive: the one function of the plan the pulse uses.

    Parameters
    ----------
    plan : Plan
        The plan in force.
    attainment : mapping of str to numpy.ndarray
        Attainment per metric id, every array of one shape (reps, periods or scenarios);
        all the metrics available, so that a gate on another metric can be read.

    Returns
    -------
    numpy.ndarray
        The plan's payout share per cell.
    """
    shares: np.ndarray | None = None
    for metric in plan.metrics:
        pay = metric.payout(attainment[metric.id])
        gate = getattr(metric, "gate", None)
        if gate is not None:
            # Pays only where the gate's metric reaches its level (MODEL.md section 9);
            # payout() leaves the gate out, so it is applied here, cell by cell.
            pay = pay * (attainment[gate.metric] >= gate.at)
        shares = pay if shares is None else shares + pay
    if shares is None:
        return np.zeros(next(iter(attainment.values())).shape)
    return shares


def needed_metrics(plan: Plan) -> list[str]:
    """The metrics the actuals must hold: the plan's, then those its gates name."""
    ids = [m.id for m in plan.metrics]
    gated = [g.metric for m in plan.metrics if (g := getattr(m, "gate", None)) is not None]
    return ids + [k for k in dict.fromkeys(gated) if k not in ids]


def payout_shares(plan: Plan, actuals: Actuals) -> np.ndarray:
    """Payout share of target per rep and elapsed period; zero where a rep was off the plan."""
    by_metric = {k: actuals.metric(k) for k in actuals.metric_ids}
    return np.where(actuals.present, plan_payout(plan, by_metric), 0.0)


def is_canonical(case: Case, plan: Plan) -> bool:
    """Whether the plan has the canonical form with the case's curves (MODEL.md section 4).

    Only such a plan is a point ``(w, u)`` of the model: its figures come from the
    coefficients, and the re-tune is defined for it. A plan as written (section 9) with
    a curve, a gate, or its own threshold or cap is not.
    """
    for metric in plan.metrics:
        if getattr(metric, "curve", None) is not None or getattr(metric, "gate", None):
            return False
        spec = case.metric(metric.id)
        if abs(metric.threshold - spec.threshold) > 1e-12 or abs(metric.cap - spec.cap) > 1e-12:
            return False
    return True


@dataclass(frozen=True)
class ScenarioPay:
    """What the plan pays over the case's scenarios.

    Attributes
    ----------
    totals : numpy.ndarray
        (S,): total payout ``T_s`` per scenario, currency.
    rep_share : numpy.ndarray
        (reps,): each rep's expected payout as a share of its target, ``e_r``.
    """

    totals: np.ndarray
    rep_share: np.ndarray


def scenario_pay(case: Case, coeffs: Coefficients, plan: Plan) -> ScenarioPay:
    """The plan's pay over the case's scenarios.

    From the coefficients for a canonical plan, else one pass over the scenarios
    through :func:`plan_payout`.
    """
    if is_canonical(case, plan):
        w, u = plan.vectors(case)
        return ScenarioPay((coeffs.scen_w @ w + coeffs.scen_u @ u) * coeffs.ti_total,
                           coeffs.rep_w @ w + coeffs.rep_u @ u)
    scen = build_scenarios(case)
    ti = case.target_incentive
    totals = np.zeros(scen.count)
    rep_share = np.zeros(len(ti))
    for start, x in scen.chunks(4096):
        share = plan_payout(plan, {k: x[:, j, :] for j, k in enumerate(case.metric_ids)})
        totals += ti[start:start + x.shape[0]] @ share
        rep_share[start:start + x.shape[0]] = share.mean(axis=1)
    return ScenarioPay(totals, rep_share)


# --------------------------------------------------------------------------- re-tune

@dataclass(frozen=True)
class Retune:
    """The least change of weights and accelerator rates that meets every guardrail.

    Attributes
    ----------
    w, u : numpy.ndarray
        The re-tuned plan over the case's metrics.
    change : float
        ``d = sum |w' - w| + |u' - u|``.
    alignment, expected_cost : float
        Expected alignment and expected payout (currency, the money unit) under the
        case's scenarios.
    unchanged : bool
        The plan in force already meets every guardrail: the re-tune is the plan itself.
    result : SolveResult
        The solver's figures.
    """

    w: np.ndarray
    u: np.ndarray
    change: float
    alignment: float
    expected_cost: float
    unchanged: bool
    result: SolveResult


def with_cap(case: Case, cap: float | None) -> Case:
    """The case with ``[budget] expected_cap`` replaced (None: no cap), not re-validated.

    A remaining cap may be zero or negative (the year's budget is spent): the model then
    simply admits no plan, which the pulse explains.
    """
    budget = case.spec.budget.model_copy(update={"expected_cap": cap})
    return replace(case, spec=case.spec.model_copy(update={"budget": budget}))


def retune_model(case: Case, coeffs: Coefficients, w0: np.ndarray, u0: np.ndarray, *,
                 allow_new: bool = False, guardrails: list[str] | None = None,
                 tail_method: TailMethod = "auto") -> PlanModel:
    """The canonical model with the metrics of the plan in force kept and the change measured.

    Parameters
    ----------
    case : Case
        The case, with the remaining cap already in ``[budget] expected_cap``.
    coeffs : Coefficients
        Its coefficients.
    w0, u0 : numpy.ndarray
        The plan in force over the case's metrics.
    allow_new : bool
        Let the re-tune add or drop metrics (constraint 2 holds then); otherwise ``z`` is
        fixed to the plan's metrics and constraint 2 is left out.
    guardrails : list of str, optional
        Guardrails to include; all of the case's by default.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.

    Returns
    -------
    PlanModel
        With the expression ``retune_change``, ``d = sum_m |w_m - w0_m| + |u_m - u0_m|``.
    """
    plan = create_model(case, coeffs, guardrails=guardrails, tail_method=tail_method)
    m = plan.model
    if not allow_new:
        for k, wk in zip(plan.metric_ids, w0, strict=True):
            m.z[k].fix(1 if wk > 0 else 0)
        m.design_max_metrics.deactivate()
    define_change(plan, w0, u0)
    return plan


def define_change(plan: PlanModel, w0: np.ndarray, u0: np.ndarray) -> None:
    """``retune_change``: the L1 distance to ``(w0, u0)``, linear with one variable per term."""
    m = plan.model
    base_w = dict(zip(plan.metric_ids, (float(v) for v in w0), strict=True))
    base_u = dict(zip(plan.metric_ids, (float(v) for v in u0), strict=True))
    m.retune_w_change = pyo.Var(m.metrics, domain=pyo.NonNegativeReals)
    m.retune_u_change = pyo.Var(m.metrics, domain=pyo.NonNegativeReals)
    dw, du = m.retune_w_change, m.retune_u_change
    m.retune_w_up = pyo.Constraint(m.metrics, rule=lambda m, k: dw[k] >= m.w[k] - base_w[k])
    m.retune_w_down = pyo.Constraint(m.metrics, rule=lambda m, k: dw[k] >= base_w[k] - m.w[k])
    m.retune_u_up = pyo.Constraint(m.metrics, rule=lambda m, k: du[k] >= m.u[k] - base_u[k])
    m.retune_u_down = pyo.Constraint(m.metrics, rule=lambda m, k: du[k] >= base_u[k] - m.u[k])
    m.retune_change = pyo.Expression(expr=pyo.quicksum(dw[k] + du[k] for k in m.metrics))


def retune(case: Case, coeffs: Coefficients, w0: np.ndarray, u0: np.ndarray,
           remaining_cap: float | None, *, allow_new: bool = False,
           tail_method: TailMethod = "auto", time_limit: float | None = None,
           progress: Callable[[str], None] | None = None) -> Retune | None:
    """The least L1 change of the plan meeting constraints 1 and 3-10 with the remaining cap.

    Ties: the least change within ``1e-7 max(1, d*)``, then the best alignment within
    ``1e-7 max(1, |a*|)``, then the least expected payout.

    Returns
    -------
    Retune or None
        None when no plan with these metrics meets the constraints.

    Raises
    ------
    SolverLimitError
        The time limit was reached before any plan was found.
    """
    capped = with_cap(case, remaining_cap)
    model = retune_model(capped, coeffs, w0, u0, allow_new=allow_new, tail_method=tail_method)
    m = model.model
    stages = [Stage("change", m.retune_change, False), Stage("alignment", m.alignment, True),
              Stage("cost", m.expected_cost, False)]
    result, best = solve_stages(model, stages, time_limit=time_limit, progress=progress)
    if result.status is Status.INFEASIBLE:
        return None
    if result.status is Status.NO_SOLUTION:
        raise SolverLimitError(f"the solver stopped ({result.message}) before finding any "
                               "re-tune; allow more time with --time-limit")
    if not result.has_plan or result.w is None or result.u is None:
        raise CompplanError(f"the solver failed: {result.message}")
    unchanged = bool(best) and best[0] <= UNCHANGED
    w, u = (w0.copy(), u0.copy()) if unchanged else (result.w, result.u)
    return Retune(w, u, float(np.abs(w - w0).sum() + np.abs(u - u0).sum()),
                  float(coeffs.objective_w @ w + coeffs.objective_u @ u),
                  float(coeffs.cost_w @ w + coeffs.cost_u @ u) * coeffs.ti_total, unchanged,
                  result)


def _feasible(case: Case, coeffs: Coefficients, w0: np.ndarray, u0: np.ndarray, *,
              allow_new: bool, guardrails: list[str] | None = None,
              objective: str = "none") -> tuple[bool, float | None]:
    """Whether the model admits a plan; with ``objective="cost"`` also its least cost."""
    model = retune_model(case, coeffs, w0, u0, allow_new=allow_new, guardrails=guardrails)
    expr = model.model.expected_cost if objective == "cost" else 0.0
    result, best = solve_stages(model, [Stage(objective, expr, False)])
    if result.status in (Status.NO_SOLUTION, Status.ERROR):
        raise CompplanError(f"the solver failed: {result.message}")
    return result.has_plan, (best[0] * coeffs.ti_total if best and objective == "cost" else None)


def beyond_repair(case: Case, coeffs: Coefficients, w0: np.ndarray, u0: np.ndarray,
                  year: Year, paid_to_date: float, remaining_cap: float | None, *,
                  allow_new: bool) -> dict[str, Any]:
    """Why no re-tune saves the year, and the smallest budget that would.

    Returns
    -------
    dict
        ``status``, ``conflict``, ``explanation`` (sentences), and when the budget is the
        cause ``min_remaining_cap_per_period`` (the cheapest plan with these metrics,
        expected payout), ``min_expected_cap`` (the smallest ``[budget] expected_cap``
        that lets it save the year), ``min_year_budget`` (the same for the whole year:
        ``N`` times it, or itself when money is per year) and
        ``new_metrics_save_the_year``.
    """
    cur = case.spec.case.currency
    report: dict[str, Any] = {"status": "infeasible", "conflict": [], "explanation": []}
    uncapped = with_cap(case, None)
    ok, cheapest = _feasible(uncapped, coeffs, w0, u0, allow_new=allow_new, objective="cost")
    kept = "these metrics" if not allow_new else "any metrics"
    if ok and cheapest is not None and remaining_cap is not None:
        year_budget = paid_to_date + year.remaining * year.per_period * cheapest
        cap = year_budget if year.annual else year_budget / year.periods
        report["conflict"] = [{"guardrail": "budget_expected", "setting": "[budget] expected_cap",
                               "value": case.spec.budget.expected_cap}]
        report["min_remaining_cap_per_period"] = cheapest
        report["min_expected_cap"] = cap
        report["min_year_budget"] = year_budget
        whole = "" if year.annual else f", a budget of {year_budget:,.2f} {cur} for the year"
        report["explanation"].append(
            f"paid to date {paid_to_date:,.2f} {cur} leaves {remaining_cap:,.2f} {cur} "
            f"{year.money} of expected payout for the {year.remaining} remaining period(s); "
            f"the cheapest plan with {kept} that meets every other guardrail and design rule "
            f"is expected to pay {cheapest:,.2f} {cur} {year.money}. The smallest "
            f"[budget] expected_cap that saves the year is {cap:,.2f} {cur}{whole} "
            f"(the case's is {case.spec.budget.expected_cap:,.2f})")
    else:
        needed = _conflict(case, coeffs, w0, u0, allow_new)
        report["conflict"] = ([{"guardrail": g, "setting": SETTINGS[g][0],
                                "value": guardrail_limits(case)[g]} for g in needed]
                              or [{"guardrail": "design", "setting": "[design]"}])
        words = (" and ".join(SETTINGS[g][0] for g in needed) if needed
                 else "the design rules")
        report["explanation"].append(
            f"no plan with {kept} meets {words}, at any budget")
    if not allow_new:
        capped = with_cap(case, remaining_cap)
        saves, _ = _feasible(capped, coeffs, w0, u0, allow_new=True)
        report["new_metrics_save_the_year"] = saves
        report["explanation"].append(
            "allowing new metrics (--allow-new-metrics) would save the year" if saves else
            "allowing new metrics would not save the year either")
    return report


def _conflict(case: Case, coeffs: Coefficients, w0: np.ndarray, u0: np.ndarray,
              allow_new: bool) -> list[str]:
    """A minimal set of guardrails (besides the budget) that admit no plan with these metrics."""
    active = [g for g in active_guardrails(case) if g != "budget_expected"]
    if not _feasible(case, coeffs, w0, u0, allow_new=allow_new, guardrails=[])[0]:
        return []
    needed = list(active)
    for name in active:
        trial = [g for g in needed if g != name]
        if not _feasible(case, coeffs, w0, u0, allow_new=allow_new, guardrails=trial)[0]:
            needed = trial
    return needed


# --------------------------------------------------------------------------- the pulse

@dataclass(frozen=True)
class PulseOutcome:
    """A pulse check: the ``pulse.json`` document and, when beyond repair, why.

    Attributes
    ----------
    document : dict
        ``pulse.json`` (MODEL.md section 8).
    infeasibility : dict or None
        The explanation when no re-tune saves the year (exit 3), else None.
    retune : Retune or None
        The re-tune, when one exists.
    """

    document: dict[str, Any]
    infeasibility: dict[str, Any] | None
    retune: Retune | None


def pulse_check(case: Case, plan: Plan, actuals: Actuals, *, year_periods: int | None = None,
                allow_new_metrics: bool = False, tail_method: TailMethod = "auto",
                time_limit: float | None = None,
                progress: Callable[[str], None] | None = None,
                chunk_progress: Progress | None = None,
                coefficients: Coefficients | None = None,
                retune_plan: bool = True) -> PulseOutcome:
    """Compare the plan's actual pay with its design and find the smallest re-tune.

    Parameters
    ----------
    case : Case
        The case the plan was designed for.
    plan : Plan
        The plan in force.
    actuals : Actuals
        Attainment of the elapsed periods (:func:`compplan.models.actuals.read_actuals`).
    year_periods : int, optional
        ``N``, the periods of the plan year (see :func:`plan_year`).
    allow_new_metrics : bool
        Let the re-tune add or drop metrics (a new metric's weight and rate count from 0).
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    time_limit : float, optional
        Seconds for the re-tune's solver calls.
    progress, chunk_progress : callable, optional
        As for :func:`compplan.optimizer.pipeline.optimise_case`.
    coefficients : Coefficients, optional
        The case's coefficients when already computed.
    retune_plan : bool
        Find the re-tune (default); False leaves it to the caller (an organisation
        re-tunes every role jointly) with ``"retune": null``.

    Returns
    -------
    PulseOutcome
        The document; ``infeasibility`` is set when no re-tune saves the year.

    Raises
    ------
    CaseError, UsageError
        A plan metric without actuals, or ``k >= N``.

    Examples
    --------
    >>> from compplan.models.actuals import read_actuals
    >>> from compplan.models.case import load_case
    >>> from compplan.models.plan import load_plan
    >>> case = load_case("tests/data/conformance/c1_budget_only")
    >>> plan = load_plan(case, "tests/data/conformance/c6_pulse/plan.toml")
    >>> actuals = read_actuals("tests/data/conformance/c6_pulse/actuals.csv", case,
    ...                        [m.id for m in plan.metrics])
    >>> doc = pulse_check(case, plan, actuals).document
    >>> round(doc["remaining_cap_per_period"], 2)
    859943.28
    """
    say = progress or (lambda _: None)
    missing = [m for m in needed_metrics(plan) if m not in actuals.metric_ids]
    if missing:
        raise CaseError(actuals.file, f"has no column for metric '{missing[0]}' "
                                      "(every metric the plan pays on or gates on needs one)")
    year = plan_year(case, actuals.count, year_periods)
    if coefficients is None:
        say("computing coefficients")
        coefficients = compute_coefficients(case, progress=chunk_progress)
    coeffs = coefficients
    w0, u0 = plan.vectors(case)
    ti = case.target_incentive
    shares = payout_shares(plan, actuals)
    pay = shares * ti[:, None] * year.per_period  # money unit, per rep and elapsed period
    paid = float(pay.sum())
    canonical = is_canonical(case, plan)
    scen_pay = scenario_pay(case, coeffs, plan)
    totals = scen_pay.totals
    expected = float(totals.mean())
    budget = case.spec.budget.expected_cap
    year_budget = None if budget is None else (budget if year.annual else year.periods * budget)
    remaining_cap = (None if year_budget is None
                     else (year_budget - paid) / (year.remaining * year.per_period))
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "case": case.name,
        "currency": case.spec.case.currency,
        "money": year.money,
        "plan": plan.to_records(),
        "periods": list(actuals.periods),
        "periods_elapsed": year.elapsed,
        "periods_in_year": year.periods,
        "status": "optimal",
        "paid_to_date": paid,
        "expected_to_date": year.elapsed * year.per_period * expected,
        "remaining_cap_per_period": remaining_cap,
        "forecast_year_total": paid + year.remaining * year.per_period * expected,
        "year_budget": year_budget,
        **_pace(pay, totals, year),
        "guardrails": [],  # below, once the re-tune is known (its year)
    }
    infeasibility = None
    tuned = None
    if not retune_plan:
        doc["retune"] = None
        doc["retune_note"] = "not computed here (the organisation re-tunes every role jointly)"
    elif not canonical:
        doc["retune"] = None
        doc["retune_note"] = ("the plan is not in the canonical form with the case's curves "
                              "(it has a curve, a gate, or its own threshold or cap): the "
                              "re-tune is defined for the canonical form only")
    else:
        say("re-tuning the plan")
        tuned = retune(case, coeffs, w0, u0, remaining_cap, allow_new=allow_new_metrics,
                       tail_method=tail_method, time_limit=time_limit, progress=progress)
    if canonical and retune_plan and tuned is None:
        say("no re-tune fits: finding the smallest budget that would")
        infeasibility = beyond_repair(case, coeffs, w0, u0, year, paid, remaining_cap,
                                      allow_new=allow_new_metrics)
        doc["status"] = "infeasible"
        doc["retune"] = None
        doc["retune_note"] = "; ".join(infeasibility["explanation"])
    elif tuned is not None:
        doc["retune"] = _retune_doc(case, coeffs, tuned, w0, u0, remaining_cap)
    retuned = None if tuned is None else coeffs.rep_w @ tuned.w + coeffs.rep_u @ tuned.u
    doc["guardrails"] = _guardrails(case, coeffs, plan, shares, actuals, year, paid,
                                    year_budget, totals, scen_pay.rep_share, retuned)
    doc["drift"] = drift(case, scen_pay.rep_share, plan, actuals, pay, year)
    response = realised_response(case, coeffs, plan, actuals)
    if response is not None:  # MODEL.md section 10: what the year says about the response
        doc["response"] = response
    return PulseOutcome(doc, infeasibility, tuned)


def _pace(pay: np.ndarray, totals: np.ndarray, year: Year) -> dict[str, Any]:
    """Paid per elapsed period against the plan's own scenarios; the forecast's band."""
    per = year.per_period
    by_period = pay.sum(axis=0)
    mean_paid = float(by_period.mean()) / per
    spread = float(totals.std())
    p10, p90 = (float(np.percentile(totals, q)) for q in (10, 90))
    paid = float(pay.sum())
    return {
        "paid_by_period": [float(v) for v in by_period],
        "expected_per_period": float(totals.mean()) * per,
        # One period like the plan's P10 (P90) scenario: the band of the expected path.
        "band_per_period": {"p10": p10 * per, "p90": p90 * per},
        # Share of the plan's scenarios that pay no more than the elapsed periods did on average.
        "paid_percentile": float((totals <= mean_paid).mean() * 100.0),
        "paid_shift": (mean_paid - float(totals.mean())) / spread if spread > 0 else None,
        # If every remaining period were like the plan's P10 (P90) scenario.
        "forecast_band": {"p10": paid + year.remaining * per * p10,
                          "p90": paid + year.remaining * per * p90},
    }


def _guardrails(case: Case, coeffs: Coefficients, plan: Plan, shares: np.ndarray,
                actuals: Actuals, year: Year, paid: float, year_budget: float | None,
                totals: np.ndarray, rep_share: np.ndarray,
                retuned: np.ndarray | None) -> list[dict[str, Any]]:
    """Every guardrail of the case now (on the actuals) and projected (over the scenarios).

    The budget compares the pace so far (paid per period) with ``expected_cap`` now, and
    the forecast with the year's budget projected. The others take their values on the
    actuals to date (each rep's payout share of target over the periods it was on the
    plan) and, projected, the plan's figures over the case's scenarios; the CVaR cap
    has no value on a handful of elapsed periods. A plan as written (curves, gates) is
    evaluated as it pays (MODEL.md section 9): every guardrail, not the budget alone.

    The fairness guardrails also get the year (MODEL.md section 8): ``e_r`` of the
    elapsed actuals and the remaining periods at the scenarios' mean, under the plan
    (``year``) and under the re-tune (``year_retune``), and ``verdict``: in words,
    whether the year has already broken it and whether the re-tune still meets it.
    """
    rows: list[dict[str, Any]] = []
    ev = evaluate_plan(case, coeffs, plan)
    year_plan = _year_share(shares, rep_share, year)
    year_tuned = None if retuned is None else _year_share(shares, retuned, year)
    for g in ev.guardrails:
        now: float | None
        limit_now, projected, limit = g.limit, g.value, g.limit
        if g.name == "budget_expected" and year_budget is not None:
            now = paid / (year.elapsed * year.per_period)
            projected = paid + year.remaining * year.per_period * ev.expected_cost
            limit = year_budget
        else:
            now = _now(case, g.name, g.value, shares, actuals)
        row = {"name": g.name, "setting": g.setting, "unit": g.unit, "now": now,
               "limit_now": limit_now, "projected": projected, "limit": limit,
               "ok_now": now is None or _within(now, limit_now, g.upper),
               "ok_projected": _within(projected, limit, g.upper)}
        if GUARDRAIL.get(g.name) is not None and GUARDRAIL[g.name].projection == "reps":
            whole = _fair_value(case, g.name, year_plan)
            tuned = None if year_tuned is None else _fair_value(case, g.name, year_tuned)
            row.update({
                "so_far": now, "year": whole, "year_retune": tuned,
                "ok_so_far": now is None or _within(now, g.limit, g.upper),
                "ok_year": whole is None or _within(whole, g.limit, g.upper),
                "ok_year_retune": None if tuned is None else _within(tuned, g.limit, g.upper)})
            row["verdict"] = _verdict(row)
        rows.append(row)
    return rows


def _year_share(shares: np.ndarray, rep_share: np.ndarray, year: Year) -> np.ndarray:
    """``e_r`` of the year: elapsed actuals plus the remaining periods at the scenarios' mean.

    ``(sum over elapsed periods of P[r,s] + R mean_s P[r,s]) / (N TI_r)`` (MODEL.md 8),
    with shares of target in place of pay.
    """
    return np.asarray((shares.sum(axis=1) + year.remaining * rep_share) / year.periods)


def _fair_value(case: Case, name: str, e: np.ndarray) -> float | None:
    """A fairness guardrail's value on reps' shares of target ``e`` (MODEL.md 4, 8-10)."""
    fair = case.spec.fairness
    if name == "fairness_top":
        mean = float(e.mean())
        top = tail_mean(e, fair.top_share or DEFAULT_TOP_SHARE, True)
        return top / mean if mean > 0 else 0.0
    if name == "fairness_bottom":
        return tail_mean(e, fair.bottom_share or DEFAULT_BOTTOM_SHARE, False)
    if name == "fairness_parity" and fair.group_by is not None:
        _, codes = np.unique(case.reps[fair.group_by].to_numpy(dtype=str), return_inverse=True)
        ti = case.target_incentive
        overall = float((ti * e).sum() / ti.sum())
        group = np.bincount(codes, weights=ti * e) / np.bincount(codes, weights=ti)
        return float(np.abs(group - overall).max())
    return None


def _verdict(row: dict[str, Any]) -> str:
    """Which fairness guardrail the year has broken, and whether the re-tune still meets it.

    The re-tune's constraints hold over the case's scenarios, the remaining periods: it
    can still break a guardrail for the year as a whole, which this says plainly.
    """
    tuned = row["ok_year_retune"]
    if row["ok_year"]:
        if tuned is False:
            return ("the year meets it with the plan unchanged, not with the re-tune (which "
                    "meets it for the remaining periods only)")
        return "the year meets it" + (" with the plan unchanged and with the re-tune"
                                      if tuned else " with the plan unchanged")
    if tuned is None:
        return "the year breaks it with the plan unchanged, and there is no re-tune"
    if tuned:
        return "the year breaks it with the plan unchanged; the re-tune still meets it"
    return ("the year has already broken it: the re-tune meets it for the remaining "
            "periods, not for the year as a whole")


def _within(value: float, limit: float, upper: bool) -> bool:
    slack = CHECK_TOLERANCE * max(1.0, abs(limit))
    return value <= limit + slack if upper else value >= limit - slack


def _now(case: Case, name: str, fixed: float, shares: np.ndarray,
         actuals: Actuals) -> float | None:
    """A guardrail's value on the actuals to date (None where it has none)."""
    fair = case.spec.fairness
    seen = actuals.present.sum(axis=1)
    on_plan = seen > 0
    rep_share = shares.sum(axis=1)[on_plan] / seen[on_plan]
    if name == "payout_multiple":
        return fixed  # a property of the plan, not of the year
    if name == "fairness_parity":
        return _parity_now(case, shares, actuals)
    if not on_plan.any():
        return None
    if name == "fairness_top" and fair.top_share is not None:
        mean = float(rep_share.mean())
        return tail_mean(rep_share, fair.top_share, True) / mean if mean > 0 else 0.0
    if name == "fairness_bottom" and fair.bottom_share is not None:
        return tail_mean(rep_share, fair.bottom_share, False)
    return None


def _parity_now(case: Case, shares: np.ndarray, actuals: Actuals) -> float | None:
    """The largest gap between a group's payout share of target to date and everyone's."""
    column = case.spec.fairness.group_by
    if column is None:
        return None
    labels, codes = np.unique(case.reps[column].to_numpy(dtype=str), return_inverse=True)
    ti = case.target_incentive
    exposure = ti * actuals.present.sum(axis=1)
    paid = ti * shares.sum(axis=1)
    overall = paid.sum() / exposure.sum() if exposure.sum() > 0 else 0.0
    gaps = [paid[codes == h].sum() / exposure[codes == h].sum() - overall
            for h in range(len(labels)) if exposure[codes == h].sum() > 0]
    return float(np.abs(gaps).max()) if gaps else 0.0


def _retune_doc(case: Case, coeffs: Coefficients, tuned: Retune, w0: np.ndarray,
                u0: np.ndarray, remaining_cap: float | None) -> dict[str, Any]:
    metrics = []
    for j, k in enumerate(case.metric_ids):
        if tuned.w[j] <= 0 and w0[j] <= 0:
            continue
        slope = 1.0 / (1.0 - case.metric(k).threshold)
        multiple = tuned.u[j] / (tuned.w[j] * slope) if tuned.w[j] > 0 else None
        metrics.append({"id": k, "label": case.metric(k).label or k,
                        "weight": float(tuned.w[j]), "accelerator_rate": float(tuned.u[j]),
                        "accelerator_multiple": multiple,
                        "weight_before": float(w0[j]), "accelerator_rate_before": float(u0[j])})
    return {"status": tuned.result.status.value, "change": tuned.change,
            "alignment": tuned.alignment,
            "expected_cost": tuned.expected_cost, "unchanged": tuned.unchanged,
            "alignment_before": float(coeffs.objective_w @ w0 + coeffs.objective_u @ u0),
            "expected_cost_before": float(coeffs.cost_w @ w0 + coeffs.cost_u @ u0)
            * coeffs.ti_total,
            "remaining_cap_per_period": remaining_cap, "metrics": metrics}


# --------------------------------------------------------------------------- drift

def drift(case: Case, rep_share: np.ndarray, plan: Plan, actuals: Actuals, pay: np.ndarray,
          year: Year) -> dict[str, Any]:
    """Actual attainment and pay against the case's history, metric by metric and by segment.

    Returns
    -------
    dict
        ``metrics``: per metric with actuals, the mean shift in units of the history's
        spread and the shares of rep-periods past threshold, target and cap (actual and
        history), the reps pinned at the cap or below threshold in every elapsed period,
        and for a plan metric a calibration flag against common practice (about 90 %
        reach threshold, 60-70 % target, 10 % excellence, here the cap);
        ``segments``: per segment, pay to date against expected and each plan metric's
        mean shift.
    """
    present = actuals.present
    in_plan = {m.id for m in plan.metrics}
    metrics = []
    for k in actuals.metric_ids:
        spec = case.metric(k)
        hist = _history(case, k)
        now = actuals.metric(k)
        values = now[present]
        points = {"threshold": spec.threshold, "target": 1.0, "cap": spec.cap}
        entry: dict[str, Any] = {
            "id": k, "in_plan": k in in_plan, **_shift(values, hist),
            "share_past": {p: _share(values, v) for p, v in points.items()},
            "history_share_past": {p: _share(hist, v) for p, v in points.items()},
            "reps_pinned_at_cap": int(((now >= spec.cap) | ~present).all(axis=1).sum()
                                      - (~present).all(axis=1).sum()),
            "reps_below_threshold": int(((now < spec.threshold) | ~present).all(axis=1).sum()
                                        - (~present).all(axis=1).sum()),
        }
        if k in in_plan:
            entry["calibration"] = _calibration(entry["share_past"])
        metrics.append(entry)
    return {"metrics": metrics,
            "segments": _segment_drift(case, rep_share, plan, actuals, pay, year)}


def _history(case: Case, metric_id: str, rows: np.ndarray | None = None) -> np.ndarray:
    """A metric's attainment over the case's history, flat; absent rep-periods (NaN) left out."""
    x = case.attainment[:, case.metric_ids.index(metric_id), :]
    values = (x if rows is None else x[rows]).ravel()
    return values[np.isfinite(values)]


def _shift(values: np.ndarray, history: np.ndarray) -> dict[str, Any]:
    if not history.size:
        return {"mean": float(values.mean()) if values.size else None, "history_mean": None,
                "history_spread": None, "shift": None}
    mean, spread = float(history.mean()), float(history.std())
    actual = float(values.mean()) if values.size else None
    shift = None if actual is None or spread <= 0 else (actual - mean) / spread
    return {"mean": actual, "history_mean": mean, "history_spread": spread, "shift": shift}


def _share(values: np.ndarray, point: float) -> float | None:
    return float((values >= point).mean()) if values.size else None


def _calibration(share: dict[str, float | None]) -> dict[str, Any]:
    notes = []
    for point, (typical, low, high) in CALIBRATION.items():
        value = share[point]
        if value is None or low <= value <= high:
            continue
        side = "fewer" if value < low else "more"
        notes.append(f"{value:.0%} of rep-periods reach {point}, {side} than the usual "
                     f"{typical:.0%}")
    return {"ok": not notes, "notes": notes}


def _segment_drift(case: Case, rep_share: np.ndarray, plan: Plan, actuals: Actuals,
                   pay: np.ndarray, year: Year) -> dict[str, Any] | None:
    column = segment_column(case)
    if column is None:
        return None
    expected_rep = case.target_incentive * rep_share * year.per_period
    labels, codes = np.unique(case.reps[column].to_numpy(dtype=str), return_inverse=True)
    present = actuals.present
    groups = []
    for h, label in enumerate(labels):
        rows = codes == h
        paid = float(pay[rows].sum())
        # Expected over the periods each rep was on the plan.
        expected = float((expected_rep[rows] * present[rows].sum(axis=1)).sum())
        shifts = {}
        for metric in plan.metrics:
            now = actuals.metric(metric.id)[rows][present[rows]]
            shifts[metric.id] = _shift(now, _history(case, metric.id, rows))["shift"]
        groups.append({"segment": str(label), "reps": int(rows.sum()), "paid_to_date": paid,
                       "expected_to_date": expected,
                       "ratio": paid / expected if expected > 0 else None,
                       "shift": shifts})
    return {"column": column, "groups": groups}


__all__ = ["PulseOutcome", "Retune", "Year", "beyond_repair", "drift",
           "is_canonical", "needed_metrics", "payout_shares", "plan_payout", "plan_year",
           "pulse_check", "retune", "retune_model", "scenario_pay", "with_cap"]
