"""From a case with ``[response]`` to a plan: the grid solve, its check and its figures.

MODEL.md section 10: the best grid plan under response, proven, with section 4's
tie-break under response; no rounding block and no guardrail prices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from compplan.errors import CompplanError, InfeasibleError, SolverLimitError
from compplan.models.case import Case
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.diagnose import diagnose
from compplan.optimizer.evaluate import evaluate
from compplan.optimizer.model import Rounding, TailMethod
from compplan.optimizer.pipeline import Outcome, _check_plan
from compplan.optimizer.response import ResponseContext, evaluate_response
from compplan.optimizer.response_model import case_problem, forget_problems, solve_response
from compplan.optimizer.solve import Status, solver_version


def optimise_response(case: Case, coeffs: Coefficients, *, time_limit: float | None = None,
                      tail_method: TailMethod = "auto",
                      progress: Callable[[str], None] | None = None,
                      objective: str = "alignment", revenue: float | None = None,
                      diagnosis: str = "full", rounding: Rounding | None = None,
                      elasticities: Sequence[float] | None = None) -> Outcome:
    """Design the best grid plan under response (MODEL.md section 10).

    Parameters
    ----------
    case : Case
        A case with ``[response]``.
    coeffs : Coefficients
        Its coefficients.
    time_limit, tail_method, progress, objective, revenue, diagnosis
        As for :func:`compplan.optimizer.pipeline.optimise_case`.
    rounding : Rounding, optional
        The grid's steps (0.05 for a step not given).
    elasticities : sequence of float, optional
        Robust design: every guardrail holds under each elasticity of the list.

    Returns
    -------
    Outcome
        With ``response`` (the figures under the case's elasticities, or under each of
        ``elasticities``: ``response_band``).

    Raises
    ------
    InfeasibleError
        No grid plan meets the constraints under response.
    SolverLimitError
        The time limit was reached before any plan was found.
    """
    try:
        return _optimise(case, coeffs, time_limit=time_limit, tail_method=tail_method,
                         progress=progress, objective=objective, revenue=revenue,
                         diagnosis=diagnosis, rounding=rounding, elasticities=elasticities)
    finally:
        forget_problems()  # the sorted attainment is the size of the data: not kept


def _optimise(case: Case, coeffs: Coefficients, *, time_limit: float | None,
              tail_method: TailMethod, progress: Callable[[str], None] | None,
              objective: str, revenue: float | None, diagnosis: str,
              rounding: Rounding | None, elasticities: Sequence[float] | None) -> Outcome:
    say = progress or (lambda _: None)
    say("sorting attainment for the response model")
    problem = case_problem(case, coeffs, rounding, elasticities)
    say(f"solving on the grid (weights {problem.grid.weights:g}, rates "
        f"{problem.grid.rates:g}): {problem.options.size} options")
    result = solve_response(case, coeffs, time_limit=time_limit, tail_method=tail_method,
                            objective=objective, progress=progress, problem=problem)
    if result.status is Status.INFEASIBLE:
        say("no plan fits: finding the guardrails that conflict")
        if elasticities:
            from compplan.optimizer.response_diagnose import diagnose_robust

            found = diagnose_robust(problem, elasticities, time_limit)
            raise InfeasibleError("; ".join(found["explanation"]), found)
        report = diagnose(case, coeffs, time_limit=time_limit, fixes=diagnosis == "full")
        report["response"] = {"grid": {"weights": problem.grid.weights,
                                       "rates": problem.grid.rates}}
        raise InfeasibleError("no plan satisfies the constraints under response: "
                              + "; ".join(report["explanation"]), report)
    if result.status is Status.NO_SOLUTION:
        raise SolverLimitError(f"the solver stopped ({result.message}) before finding any "
                               "plan; allow more time with --time-limit")
    if not result.has_plan or result.w is None or result.u is None:
        raise CompplanError(f"the solver failed: {result.message}")
    plan = Plan.from_vectors(case, result.w, result.u)
    ctx = ResponseContext.of(case, coeffs, revenue=revenue)
    static = evaluate(case, coeffs, result.w, result.u, revenue=ctx.revenue)
    figures = evaluate_response(ctx, plan, static=static)
    band = tuple(evaluate_response(ctx, plan, elasticity=e, static=static)
                 for e in (elasticities or ()))
    for checked in (band or (figures,)):
        _check_plan(checked.evaluation)
    solver = {"name": "highs", "version": solver_version(), "mip_gap": result.mip_gap,
              "rounds": result.rounds, "cuts": result.cuts, "rows": result.rows,
              "columns": result.columns,
              "grid": {"weights": problem.grid.weights, "rates": problem.grid.rates,
                       "options": problem.options.size}}
    if result.message:
        solver["note"] = result.message
    return Outcome(plan, figures.evaluation, result, coeffs, solver, [], None, figures, band)
