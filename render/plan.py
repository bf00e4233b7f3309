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
    if outcome.response is not None:  # MODEL.md section 10: no prices on the grid
        del doc["guardrail_prices"]
        doc["response"] = response_block(outcome)
    return doc


def response_block(outcome: Outcome) -> dict[str, Any]:
    """The ``response`` block of ``plan.json`` (MODEL.md section 10).

    With a robust design (``--elasticity``), ``elasticities`` gives the figures under each
    elasticity of the list.
    """
    assert outcome.response is not None
    block = outcome.response.to_dict()
    if outcome.response_band:
        block["elasticities"] = [band.to_dict() for band in outcome.response_band]
    return block
