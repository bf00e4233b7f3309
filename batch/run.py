"""One candidate of a batch: its case, its coefficients and its solve (run in a worker).

The case is loaded once and its coefficients are computed once per distinct set of
the values they depend on (thresholds, caps, steps, ``group_by``, scenarios); a
candidate that only changes goal priorities or a metric's alignment or
responsiveness reuses them with two small arrays replaced.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from compplan.errors import CompplanError, InfeasibleError, SolverLimitError
from compplan.models.case import Case
from compplan.models.plan import Plan
from compplan.models.schema import CaseSpec
from compplan.optimizer import warm
from compplan.optimizer.coefficients import Coefficients, goal_alignment
from compplan.optimizer.evaluate import Evaluation
from compplan.optimizer.model import TailMethod
from compplan.optimizer.pipeline import optimise_case
from compplan.optimizer.verdicts import is_binding
from compplan.render.plan import plan_json


@dataclass(frozen=True)
class BatchOptions:
    """How each candidate is solved.

    Attributes
    ----------
    time_limit : float or None
        Seconds of solver time per candidate.
    prices : bool
        Price the guardrails of each feasible candidate (an extra LP solve).
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.
    """

    time_limit: float | None = None
    prices: bool = True
    tail_method: TailMethod = "auto"


@dataclass(frozen=True)
class Shared:
    """What every worker holds, shipped once: the case, the candidates, the coefficients."""

    case: Case
    specs: tuple[CaseSpec, ...]
    keys: tuple[str, ...]
    coefficients: dict[str, Coefficients]
    revenue: dict[str, float | None]
    options: BatchOptions


@dataclass(frozen=True)
class Solved:
    """A worker's answer for one candidate: its record and, when feasible, its plan."""

    index: int
    record: dict[str, Any]
    plan: Plan | None = None
    document: dict[str, Any] | None = None
    infeasibility: dict[str, Any] | None = None


def coefficient_key(spec: CaseSpec) -> str:
    """The values a case's coefficients depend on, as text: equal keys share coefficients.

    Goal priorities, alignments and responsiveness are left out: they only change
    ``goal_alignment`` and ``responsiveness``, which :func:`with_priorities` replaces.
    """
    curves = [(m.threshold, m.cap, m.step) for m in spec.metrics.values()]
    return json.dumps({"curves": curves, "group_by": spec.fairness.group_by,
                       "scenarios": spec.scenarios.model_dump()}, sort_keys=True)


def with_priorities(coeffs: Coefficients, case: Case) -> Coefficients:
    """The coefficients with the case's goal alignment and responsiveness per metric."""
    return replace(coeffs, goal_alignment=goal_alignment(case),
                   responsiveness=np.array([case.metric(m).responsiveness
                                            for m in case.metric_ids]))


def solve_candidate(shared: Shared, index: int) -> Solved:
    """Solve one candidate (runs in a worker).

    Parameters
    ----------
    shared : Shared
        The case, the candidates' specs and the coefficients.
    index : int
        The candidate's position in the batch.

    Returns
    -------
    Solved
        Its record (``result.json`` without id, name and parameters) and its plan.
    """
    # One solve at a time per process, for Dask workers with several threads: Pyomo
    # captures the solver's output through the process's own stdout, so concurrent
    # solves in threads trip over each other (and hang).
    with _SOLVE_LOCK, warm.session(_warm_cache(shared)):
        return _solve_candidate(shared, index)


_SOLVE_LOCK = threading.Lock()
#: This process's warm models (optimizer/warm.py), for the batch it last solved for.
_WARM = warm.WarmCache()
_WARM_FOR: list[Shared] = []
#: Candidates' coefficients with their priorities, one object per distinct priorities
#: (a warm model is kept per coefficients object).
_PRIORITISED: dict[tuple[str, bytes, bytes], Coefficients] = {}


def solve_order(shared: Shared, indices: list[int]) -> list[int]:
    """The candidates in the order to solve them: the loosest limits first.

    Any order gives the same answers; this one lets a warm model answer a candidate from
    a looser one's optimum, or its infeasibility, without a solve
    (:func:`compplan.optimizer.warm.looseness`). Ties keep the spec's order.
    """
    keys = {i: warm.looseness(replace(shared.case, spec=shared.specs[i])) for i in indices}
    return sorted(indices, key=keys.__getitem__, reverse=True)


def _warm_cache(shared: Shared) -> warm.WarmCache:
    if not _WARM_FOR or _WARM_FOR[0] is not shared:
        release()
        _WARM_FOR.append(shared)
    return _WARM


def release() -> None:
    """Drop this process's warm models and what they were built for (end of a batch)."""
    _WARM.clear()
    _WARM_FOR.clear()
    _PRIORITISED.clear()


def _prioritised(shared: Shared, key: str, case: Case) -> Coefficients:
    """:func:`with_priorities` of the batch's coefficients, the same object for equal ones."""
    coeffs = shared.coefficients[key]
    alignment = goal_alignment(case)
    responsiveness = np.array([case.metric(m).responsiveness for m in case.metric_ids])
    memo = (key, np.asarray(alignment).tobytes(), responsiveness.tobytes())
    if memo not in _PRIORITISED:
        _PRIORITISED[memo] = replace(coeffs, goal_alignment=alignment,
                                     responsiveness=responsiveness)
    return _PRIORITISED[memo]


def _solve_candidate(shared: Shared, index: int) -> Solved:
    started = time.perf_counter()
    case = replace(shared.case, spec=shared.specs[index])
    key = shared.keys[index]
    coeffs = _prioritised(shared, key, case)
    options = shared.options
    record: dict[str, Any] = {"status": "optimal", "alignment": None, "expected_cost": None,
                              "cvar": None, "max_parity_gap": None, "metrics": [],
                              "reason": None}
    solved = Solved(index, record)
    try:
        outcome = optimise_case(case, coefficients=coeffs, revenue=shared.revenue[key],
                                time_limit=options.time_limit, tail_method=options.tail_method,
                                prices=options.prices, diagnosis="short",
                                price_ranges=False)  # a candidate keeps the 1 % figure only
    except InfeasibleError as exc:
        record.update(status="infeasible", reason="; ".join(exc.report["explanation"]),
                      conflict=[c["setting"] for c in exc.report["conflict"]])
        solved = Solved(index, record, infeasibility=exc.report)
    except SolverLimitError as exc:
        record.update(status="no_solution", reason=str(exc))
    except CompplanError as exc:
        record.update(status="error", reason=str(exc))
    except Exception as exc:  # a bug must not stop the other candidates of a long run
        record.update(status="error", reason=f"internal error: {type(exc).__name__}: {exc}")
    else:
        record.update(_figures(outcome.evaluation, outcome.plan))
        record["status"] = outcome.status
        record["binding"] = _binding(outcome.evaluation)
        record["guardrail_prices"] = {p.setting: p.per_percent for p in outcome.prices}
        solved = Solved(index, record, outcome.plan, plan_json(case, outcome))
    record["seconds"] = round(time.perf_counter() - started, 4)
    return solved


def _figures(ev: Evaluation, plan: Plan) -> dict[str, Any]:
    """The figures a results row shows; CVaR at the case's level, else the default 0.9."""
    return {"alignment": ev.alignment, "expected_cost": ev.expected_cost,
            "cvar": ev.total_cvar, "cvar_level": ev.total_cvar_level,
            "max_parity_gap": ev.max_parity_gap,
            "metrics": [{"id": m.id, "label": m.label, "weight": m.weight,
                         "base_rate": m.base_rate, "accelerator_rate": m.accelerator_rate,
                         "accelerator_multiple": m.accelerator_multiple}
                        for m in plan.metrics]}


def _binding(ev: Evaluation) -> list[str]:
    return [g.setting for g in ev.guardrails if is_binding(g)]
