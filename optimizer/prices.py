"""The price of a guardrail: the alignment it costs, from the LP of the selected metrics.

With the chosen metrics fixed (``z`` fixed), the model is a linear program; the dual
value of a guardrail's rows is the alignment gained per unit of loosening its limit.
Tail guardrails written as cuts sum the duals of their cut rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.optimizer.model import PlanModel, TailMethod, create_model, guardrail_limits
from compplan.optimizer.solve import CutLoop, Status

_UNITS = {
    "payout_multiple": ("[design] max_payout_multiple", "per 1.0x of target incentive"),
    "budget_expected": ("[budget] expected_cap", "per currency unit"),
    "budget_cvar": ("[budget] cvar_cap", "per currency unit"),
    "fairness_parity": ("[fairness] parity_tolerance", "per 1.0 of tolerance (share of target)"),
    "fairness_top": ("[fairness] top_ratio", "per 1.0 of ratio"),
    "fairness_bottom": ("[fairness] bottom_floor", "per 1.0 of floor (share of target)"),
}


@dataclass(frozen=True)
class GuardrailPrice:
    """What one guardrail costs the plan.

    Attributes
    ----------
    guardrail, setting : str
        The guardrail and its key in ``case.toml``.
    limit : float
        Its value in the case.
    shadow_price : float
        Alignment gained per unit of loosening (raising a cap or tolerance, lowering
        the floor); zero when the guardrail does not bind.
    unit : str
        The unit of ``shadow_price``.
    per_percent : float
        Alignment gained by loosening the limit by 1 % of its value.
    """

    guardrail: str
    setting: str
    limit: float
    shadow_price: float
    unit: str
    per_percent: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _rows(plan: PlanModel, name: str) -> list[Any]:
    """The constraint rows of a guardrail on the model."""
    m = plan.model
    names = {
        "payout_multiple": ["payout_multiple"],
        "budget_expected": ["budget_expected"],
        "fairness_parity": ["fairness_parity_upper", "fairness_parity_lower"],
    }.get(name, [f"{name}_limit", f"{name}_cuts"])
    rows = []
    for attr in names:
        component = getattr(m, attr, None)
        if component is not None:
            rows.extend(component.values())
    return rows


def shadow_prices(case: Case, coeffs: Coefficients, z: np.ndarray,
                  tail_method: TailMethod = "auto") -> list[GuardrailPrice]:
    """The price of every guardrail of the case at the plan's choice of metrics.

    Parameters
    ----------
    case : Case
        The case.
    coeffs : Coefficients
        Its coefficients.
    z : numpy.ndarray
        The selection of metrics (1 chosen, 0 not) of the optimal plan.
    tail_method : {"auto", "full", "cuts"}
        How tail guardrails are written.

    Returns
    -------
    list of GuardrailPrice
        One per guardrail the case sets; empty if the LP could not be solved.
    """
    plan = create_model(case, coeffs, tail_method=tail_method)
    for k, chosen in zip(coeffs.metric_ids, z, strict=True):
        # A continuous domain makes the model a pure LP for HiGHS, which then has duals.
        plan.model.z[k].domain = pyo.UnitInterval
        plan.model.z[k].fix(1 if chosen > 0.5 else 0)
    loop = CutLoop(plan, None, None)
    status, _, _ = loop.run()
    if status is not Status.OPTIMAL or loop.last is None:
        return []
    duals = loop.last.solution_loader.get_duals()
    w, u, _ = loop.values()
    shares = coeffs.rep_w @ w + coeffs.rep_u @ u
    prices = []
    for name, limit in guardrail_limits(case).items():
        if limit is None:
            continue
        total = sum(abs(duals.get(row, 0.0)) for row in _rows(plan, name))
        if name in ("budget_expected", "budget_cvar"):
            total /= coeffs.ti_total  # the rows are in shares of total target incentive
        elif name == "fairness_top":
            total *= float(shares.mean())  # the limit enters as ratio x mean payout
        setting, unit = _UNITS[name]
        prices.append(GuardrailPrice(name, setting, float(limit), total, unit,
                                     total * abs(float(limit)) * 0.01))
    return prices
