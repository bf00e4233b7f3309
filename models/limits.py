"""The largest value each input may take (MODEL.md section 1).

Numbers must be finite and small enough to compute with: a target incentive of 1e308
overflows the first sum, priorities near the float maximum overflow their
normalisation, a weight of 1e20 gives the solver rows it cannot scale. Larger values
are refused (exit 2, or :class:`~compplan.errors.UsageError` from the API) naming the
file, the row, the field and the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

#: Money: target incentive, budget caps (currency).
MAX_MONEY = 1e15
#: Attainment as a ratio of quota (1.0 = 100 %), and anything measured in attainment
#: (a metric's cap, a gate's level).
MAX_ATTAINMENT = 1e6
#: A goal's priority (before normalisation).
MAX_PRIORITY = 1e15
#: A plan's weight, and other shares of target incentive (the payout-multiple limit).
MAX_WEIGHT = 1e6
#: A plan's rates (base rate, accelerator rate and multiple) and the accelerator limits.
MAX_RATE = 1e9


def limit_text(limit: float) -> str:
    """A limit as written in MODEL.md: ``1e15``, not ``1e+15``."""
    return f"{limit:.0e}".replace("e+0", "e").replace("e+", "e")


def number_text(value: float) -> str:
    """A refused number, short (``1e+308``, never 309 digits)."""
    return f"{value:.6g}"


def too_large(value: float, limit: float, what: str) -> str | None:
    """The message for ``value`` above ``limit`` (``what`` names the kind), else None."""
    if not math.isfinite(value) or abs(value) <= limit:
        return None
    return (f"must be at most {limit_text(limit)} (the largest {what} compplan computes "
            f"with, MODEL.md section 1), got {number_text(value)}")


def _at_most(limit: float, what: str) -> Callable[[float], float]:
    def check(value: float) -> float:
        message = too_large(value, limit, what)
        if message is not None:
            raise ValueError(message)
        return value
    return check


#: Annotations for the schemas: a float no larger than its kind's limit.
Money = Annotated[float, AfterValidator(_at_most(MAX_MONEY, "amount of money"))]
AttainmentValue = Annotated[float, AfterValidator(_at_most(MAX_ATTAINMENT, "attainment"))]
Priority = Annotated[float, AfterValidator(_at_most(MAX_PRIORITY, "goal priority"))]
WeightValue = Annotated[float, AfterValidator(_at_most(MAX_WEIGHT, "plan weight"))]
#: A multiple of target incentive (the payout-multiple limit, a fairness floor).
ShareValue = Annotated[float, AfterValidator(_at_most(MAX_WEIGHT,
                                                      "share of target incentive"))]
RateValue = Annotated[float, AfterValidator(_at_most(MAX_RATE, "rate"))]
