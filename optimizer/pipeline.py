"""From a loaded case to a plan document: coefficients, solve, check, evaluate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compplan.errors import CompplanError, InfeasibleError, SolverLimitError
from compplan.models.case import Case
from compplan.models.output import plan_document
from compplan.models.plan import Plan
from compplan.optimizer.coefficients import Coefficients, Progress, compute_coefficients
from compplan.optimizer.diagnose import diagnose
from compplan.optimizer.evaluate import Evaluation, evaluate
from compplan.optimizer.model import TailMethod
from compplan.optimizer.prices import GuardrailPrice, shadow_prices
from compplan.optimizer.solve import SolveResult, Status, solve, solver_version


@dataclass(frozen=True)
class Outcome:
    """A designed plan with everything needed to write and explain it."""

    plan: Plan
    evaluation: Evaluation
    result: SolveResult
    coefficients: Coefficients
    document: dict[str, Any]
    prices: list[GuardrailPrice]


def optimise_case(case: Case, *, time_limit: float | None = None,
                  tail_method: TailMethod = "auto",
                  progress: Callable[[str], None] | None = None,
                  chunk_progress: Progress | None = None) -> Outcome:
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

    Returns
    -------
    Outcome
        The plan, its evaluation and the ``plan.json`` document.

    Raises
    ------
    InfeasibleError
        No plan satisfies the constraints; ``report`` names the conflicting guardrails.
    SolverLimitError
        The time limit was reached before any plan was found.
    """
    say = progress or (lambda _: None)
    say("computing coefficients")
    coeffs = compute_coefficients(case, progress=chunk_progress)
    say(f"solving ({len(case.metric_ids)} metrics, {coeffs.scen_w.shape[0]} scenarios, "
        f"{coeffs.rep_w.shape[0]} reps)")
    result = solve(case, coeffs, time_limit=time_limit, tail_method=tail_method,
                   progress=progress)
    if result.status is Status.INFEASIBLE:
        say("no plan fits: finding the guardrails that conflict")
        report = diagnose(case, coeffs, time_limit=time_limit)
        raise InfeasibleError("no plan satisfies the constraints: "
                              + "; ".join(report["explanation"]), report)
    if result.status is Status.NO_SOLUTION:
        raise SolverLimitError(f"the solver stopped ({result.message}) before finding any "
                               "plan; allow more time with --time-limit")
    if not result.has_plan or result.w is None or result.u is None:
        raise CompplanError(f"the solver failed: {result.message}")
    evaluation = evaluate(case, coeffs, result.w, result.u)
    broken = evaluation.violated
    if broken:
        # The plan is checked with numpy, independently of the solver.
        names = ", ".join(f"{g.setting} ({g.value:.6g} vs {g.limit:.6g})" for g in broken)
        raise CompplanError(f"the solver's plan breaks {names}; refusing to write it")
    plan = Plan.from_vectors(case, result.w, result.u)
    say("pricing the guardrails")
    prices = shadow_prices(case, coeffs, result.z, tail_method) if result.z is not None else []
    solver = {"name": "highs", "version": solver_version(), "mip_gap": result.mip_gap,
              "seconds": round(result.seconds, 3), "rounds": result.rounds,
              "cuts": result.cuts, "rows": result.rows, "columns": result.columns}
    if result.message:
        solver["note"] = result.message
    doc = plan_document(case, plan, result.status.value, evaluation.to_dict(), solver)
    doc["guardrail_prices"] = [p.to_dict() for p in prices]
    return Outcome(plan, evaluation, result, coeffs, doc, prices)
