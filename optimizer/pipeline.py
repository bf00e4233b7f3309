"""From a loaded case to a plan: coefficients, solve, check, evaluate, price.

The ``plan.json`` document is built outside the solve path, by
:func:`compplan.render.plan.plan_json`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from compplan.errors import CompplanError, InfeasibleError, SolverLimitError
from compplan.models.case import Case
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients, Progress, compute_coefficients
from compplan.optimizer.diagnose import diagnose
from compplan.optimizer.evaluate import Evaluation, evaluate
from compplan.optimizer.model import Rounding, TailMethod
from compplan.optimizer.prices import GuardrailPrice, shadow_prices
from compplan.optimizer.solve import SolveResult, Status, solve, solver_version

if TYPE_CHECKING:
    from compplan.optimizer.response import ResponseFigures


@dataclass(frozen=True)
class Outcome:
    """A designed plan with everything needed to write and explain it."""

    plan: Plan
    evaluation: Evaluation
    result: SolveResult
    coefficients: Coefficients
    solver: dict[str, Any]
    prices: list[GuardrailPrice]
    #: With ``--round``: what the rounding costs against the unrounded optimum.
    rounding: dict[str, Any] | None = None
    #: With ``[response]`` (MODEL.md section 10): the figures under response and static.
    response: ResponseFigures | None = None
    #: With ``--elasticity`` (robust design): the figures under each elasticity of the list.
    response_band: tuple[ResponseFigures, ...] = ()

    @property
    def status(self) -> str:
        """``optimal`` or ``time_limit`` (the solve ended with a plan)."""
        return self.result.status.value


def optimise_case(case: Case, *, time_limit: float | None = None,
                  tail_method: TailMethod = "auto",
                  progress: Callable[[str], None] | None = None,
                  chunk_progress: Progress | None = None,
                  objective: str = "alignment",
                  coefficients: Coefficients | None = None,
                  revenue: float | None = None,
                  prices: bool = True,
                  diagnosis: str = "full",
                  rounding: Rounding | None = None,
                  price_ranges: bool = True) -> Outcome:
    """Design the plan of best expected alignment for a case.

    Parameters
    ----------
    case : Case
        A loaded case.
    time_limit : float, optional
        Seconds for the solver.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    progress : callable, optional
        Called with a line of text at each step.
    chunk_progress : callable, optional
        Called as ``chunk_progress(phase, done, total)`` during passes over the reps.
    objective : {"alignment", "cost"}
        ``alignment``: the canonical plan. ``cost``: the cheapest plan meeting the
        constraints (then the best aligned among the cheapest); no guardrail prices.
    coefficients : Coefficients, optional
        The case's coefficients when already computed (a batch shares them between
        candidates); computed from the case otherwise.
    revenue : float, optional
        The case's expected revenue, passed on to :func:`evaluate`.
    prices : bool
        Price the guardrails (a re-solve per guardrail that binds, one for the rest,
        and LP solves for the ranges); off, ``prices`` is empty.
    diagnosis : {"full", "short"}
        When no plan fits: ``short`` names the conflicting guardrails only, without
        the elastic solves that say what would fix them.
    rounding : Rounding, optional
        A plan to publish: weights and accelerator rates on grids, the best among
        rounded plans (proven), after the unrounded optimum it is set against; the
        document's ``rounding`` block says what the rounding costs in alignment and
        money. No guardrail prices (they price the unrounded plan's LP).
    price_ranges : bool
        With ``prices``: also search the range of each marginal price (off: the
        prices' ``valid_from`` and ``valid_to`` are None).

    Returns
    -------
    Outcome
        The plan, its evaluation, the solver's figures and the guardrail prices.

    Raises
    ------
    InfeasibleError
        No plan satisfies the constraints; ``report`` names the conflicting guardrails.
    SolverLimitError
        The time limit was reached before any plan was found.
    """
    say = progress or (lambda _: None)
    if coefficients is None:
        say("computing coefficients")
        coeffs = compute_coefficients(case, progress=chunk_progress)
    else:
        coeffs = coefficients
    say(f"solving ({len(case.metric_ids)} metrics, {coeffs.scen_w.shape[0]} scenarios, "
        f"{coeffs.rep_w.shape[0]} reps)")
    if case.spec.response is not None:
        from compplan.optimizer.response_pipeline import optimise_response

        return optimise_response(case, coeffs, time_limit=time_limit, tail_method=tail_method,
                                 progress=progress, objective=objective, revenue=revenue,
                                 diagnosis=diagnosis, rounding=rounding)
    result = solve(case, coeffs, time_limit=time_limit, tail_method=tail_method,
                   objective=objective, progress=progress)
    unrounded = None
    if rounding is not None and result.has_plan:
        unrounded = result
        say(f"solving again with the plan on grids ({rounding.text()})")
        # The time limit is for both solves together.
        left = None if time_limit is None else max(time_limit - unrounded.seconds, 1e-3)
        result = solve(case, coeffs, time_limit=left, tail_method=tail_method,
                       objective=objective, progress=progress, rounding=rounding)
        if result.status is Status.INFEASIBLE:
            raise InfeasibleError(_no_rounded_plan(rounding), {
                "explanation": [_no_rounded_plan(rounding)], "rounding": rounding.text()})
    if result.status is Status.INFEASIBLE:
        say("no plan fits: finding the guardrails that conflict")
        report = diagnose(case, coeffs, time_limit=time_limit, fixes=diagnosis == "full")
        raise InfeasibleError("no plan satisfies the constraints: "
                              + "; ".join(report["explanation"]), report)
    if result.status is Status.NO_SOLUTION:
        raise SolverLimitError(f"the solver stopped ({result.message}) before finding any "
                               "plan; allow more time with --time-limit")
    if not result.has_plan or result.w is None or result.u is None:
        raise CompplanError(f"the solver failed: {result.message}")
    # Inside a batch's warm session the figures of a plan already evaluated are kept.
    from compplan.optimizer.warm import evaluation as evaluated

    evaluation = evaluated(case, coeffs, result.w, result.u, revenue=revenue)
    _check_plan(evaluation)
    plan = Plan.from_vectors(case, result.w, result.u)
    priced: list[GuardrailPrice] = []
    if prices and objective == "alignment" and result.z is not None and rounding is None:
        say("pricing the guardrails")
        priced = shadow_prices(case, coeffs, result.z, tail_method,
                               {g.name: g.value for g in evaluation.guardrails},
                               ranges=price_ranges)
    # No wall time here: the same case gives a byte-identical plan.json (MODEL.md
    # section 6); timings go to the run record (run.json), from ``result.seconds``.
    solver = {"name": "highs", "version": solver_version(), "mip_gap": result.mip_gap,
              "rounds": result.rounds,
              "cuts": result.cuts, "rows": result.rows, "columns": result.columns}
    if result.message:
        solver["note"] = result.message
    rounded = (None if rounding is None or unrounded is None
               else rounding_block(case, coeffs, rounding, unrounded, evaluation))
    return Outcome(plan, evaluation, result, coeffs, solver, priced, rounded)


def _no_rounded_plan(rounding: Rounding) -> str:
    return (f"no plan on the grids ({rounding.text()}) satisfies the constraints, though "
            "an unrounded plan does; give finer steps to --round")


def rounding_block(case: Case, coeffs: Coefficients, rounding: Rounding,
                   unrounded: SolveResult, rounded: Evaluation) -> dict[str, Any]:
    """What rounding costs: the unrounded optimum against the best rounded plan.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    rounding : Rounding
        The grids.
    unrounded : SolveResult
        The solve without grids (the canonical optimum).
    rounded : Evaluation
        The rounded plan's evaluation.

    Returns
    -------
    dict
        ``weights`` and ``rates`` (the steps), ``unrounded`` (its alignment, expected
        cost and metrics), and ``alignment_lost`` and ``expected_cost_change`` (rounded
        minus unrounded, in currency per period).
    """
    assert unrounded.w is not None and unrounded.u is not None
    before = evaluate(case, coeffs, unrounded.w, unrounded.u)
    plan = Plan.from_vectors(case, unrounded.w, unrounded.u)
    return {"weights": rounding.weights, "rates": rounding.rates,
            "unrounded": {"alignment": before.alignment, "expected_cost": before.expected_cost,
                          "metrics": plan.to_records()},
            "alignment_lost": before.alignment - rounded.alignment,
            "expected_cost_change": rounded.expected_cost - before.expected_cost}


def _check_plan(evaluation: Evaluation) -> None:
    """Refuse a plan that breaks a guardrail or a design rule, checked with numpy.

    The check is independent of the solver: a numerical failure inside it must
    surface as an error, never as a plan that quietly breaks the rules.
    """
    broken = [f"{g.setting} ({g.value:.6g} vs limit {g.limit:.6g})"
              for g in evaluation.violated]
    broken += [f"{r.setting}{f' for {r.metric}' if r.metric else ''} "
               f"({r.value:.6g} vs limit {r.limit:.6g})" for r in evaluation.broken_rules]
    if broken:
        raise CompplanError(f"the solver's plan breaks {'; '.join(broken)}; "
                            "refusing to write it")


def cheapest_plan(case: Case, *, time_limit: float | None = None,
                  progress: Callable[[str], None] | None = None,
                  chunk_progress: Progress | None = None,
                  coefficients: Coefficients | None = None) -> Outcome:
    """The cheapest plan meeting every guardrail but the expected-cost cap.

    Its expected cost is the smallest ``[budget] expected_cap`` that admits a plan.

    Parameters
    ----------
    case : Case
        A loaded case; its expected-cost cap is ignored.
    time_limit : float, optional
        Seconds for the solver.
    progress, chunk_progress : callable, optional
        As for :func:`optimise_case`.
    coefficients : Coefficients, optional
        The case's coefficients when already computed (the budget is not among
        what they depend on).

    Returns
    -------
    Outcome
        The cheapest plan (the best aligned among equally cheap ones).

    Raises
    ------
    InfeasibleError
        The other guardrails admit no plan at any budget.
    """
    budget = case.spec.budget.model_copy(update={"expected_cap": None})
    uncapped = replace(case, spec=case.spec.model_copy(update={"budget": budget}))
    return optimise_case(uncapped, time_limit=time_limit, progress=progress,
                         chunk_progress=chunk_progress, objective="cost",
                         coefficients=coefficients)
