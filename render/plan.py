"""The ``plan.json`` document of a solve: built here, outside the solve path."""

from __future__ import annotations

from typing import Any

from compplan.models.case import Case
from compplan.models.output import plan_document
from compplan.optimizer.pipeline import Outcome


def plan_json(case: Case, outcome: Outcome) -> dict[str, Any]:
    """The ``plan.json`` document (MODEL.md section 6) of an outcome.

    Parameters
    ----------
    case : Case
        The case the plan was designed for.
    outcome : Outcome
        What :func:`compplan.optimizer.pipeline.optimise_case` returned.

    Returns
    -------
    dict
        JSON-ready; a new dict at each call (``run_record`` may edit it).
    """
    doc = plan_document(case, outcome.plan, outcome.status, outcome.evaluation.to_dict(),
                        dict(outcome.solver))
    doc["guardrail_prices"] = [p.to_dict() for p in outcome.prices]
    if outcome.rounding is not None:
        doc["rounding"] = outcome.rounding
    return doc
