"""The guardrails of a case, one record each: the one table every consumer reads.

A guardrail is a limit the case sets on a plan (MODEL.md section 4, constraints 5-10).
Each record says where its limit lives in ``case.toml``, how it reads to a person
(label, unit), which way it binds, which ``define_*`` function of
:mod:`compplan.optimizer.model` writes it into the model, how its value is read off an
evaluation, what its price is counted in, and how a pulse check projects it.

Model build, evaluation, prices, diagnosis, the pulse, the reports and the workbook
read this table (``tests/test_guardrails.py`` enumerates them), so adding a guardrail
is a record here and its model term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

#: Units of a guardrail's value and limit.
Unit = Literal["currency", "share of target", "points of target", "x target", "x mean"]
#: How a pulse check projects a guardrail over the year (MODEL.md section 8):
#: ``plan`` a property of the plan, not of the year; ``budget`` the year's money;
#: ``scenarios`` over the case's scenarios only (no value on a few elapsed periods);
#: ``reps`` on each rep's share of target, so far and for the year.
Projection = Literal["plan", "budget", "scenarios", "reps"]


@dataclass(frozen=True)
class Guardrail:
    """One guardrail.

    Attributes
    ----------
    name : str
        Its id, the prefix of its constraints' names (``fairness_parity_upper``).
    section, key : str
        Where its limit lives: ``[section] key`` of ``case.toml``.
    label : str
        In words, for messages (``the expected-cost cap``).
    unit : str
        Unit of its value and limit: ``currency``, ``share of target`` (1.0 = 100 %),
        ``points of target`` (a difference of shares, shown in pp), ``x target`` or
        ``x mean`` (multiples).
    upper : bool
        A cap (the value must stay at or below the limit); False for a floor.
    model_term : str
        The function of :mod:`compplan.optimizer.model` that writes it.
    value : callable
        Its value read off an :class:`~compplan.optimizer.evaluate.Evaluation` (None
        where the evaluation has none).
    price_unit : str
        What its marginal price is counted per.
    projection : str
        How a pulse check projects it (see ``Projection``).
    """

    name: str
    section: str
    key: str
    label: str
    unit: Unit
    upper: bool
    model_term: str
    value: Callable[[Any], float | None]
    price_unit: str
    projection: Projection

    @property
    def setting(self) -> str:
        """``[fairness] parity_tolerance``: how the case names it."""
        return f"[{self.section}] {self.key}"

    def limit(self, case: Any) -> float | None:
        """Its limit in a case (a Case or its spec); None when the case does not set it."""
        spec = getattr(case, "spec", case)
        value = getattr(getattr(spec, self.section), self.key)
        return None if value is None else float(value)

    @property
    def loosening(self) -> float:
        """+1 when loosening raises the limit (a cap), -1 when it lowers it (a floor)."""
        return 1.0 if self.upper else -1.0


def _top_ratio(ev: Any) -> float:
    return ev.top_tail_mean / ev.mean_payout_share if ev.mean_payout_share > 0 else 0.0


#: Every guardrail, in the order outputs list them.
TABLE: tuple[Guardrail, ...] = (
    Guardrail("payout_multiple", "design", "max_payout_multiple",
              "the maximum payout multiple", "x target", True, "define_payout_multiple",
              lambda ev: ev.max_payout_multiple, "per 1.0x of target incentive", "plan"),
    Guardrail("budget_expected", "budget", "expected_cap", "the expected-cost cap",
              "currency", True, "define_budget", lambda ev: ev.expected_cost,
              "per currency unit", "budget"),
    Guardrail("budget_cvar", "budget", "cvar_cap", "the CVaR cap on total payout",
              "currency", True, "tail_guards", lambda ev: ev.cvar, "per currency unit",
              "scenarios"),
    Guardrail("fairness_parity", "fairness", "parity_tolerance", "segment parity",
              "points of target", True, "define_parity", lambda ev: ev.max_parity_gap,
              "per 1.0 of tolerance (share of target)", "reps"),
    Guardrail("fairness_top", "fairness", "top_ratio", "the upper-tail limit over reps",
              "x mean", True, "tail_guards", _top_ratio, "per 1.0 of ratio", "reps"),
    Guardrail("fairness_bottom", "fairness", "bottom_floor", "the lower-tail floor over reps",
              "share of target", False, "tail_guards", lambda ev: ev.bottom_tail_mean,
              "per 1.0 of floor (share of target)", "reps"),
)
#: The table by name.
BY_NAME: dict[str, Guardrail] = {g.name: g for g in TABLE}
#: The names, in order.
NAMES: tuple[str, ...] = tuple(g.name for g in TABLE)


def guardrail(name: str) -> Guardrail:
    """The record of a guardrail by name."""
    return BY_NAME[name]


def limits(case: Any) -> dict[str, float | None]:
    """Each guardrail's limit as the case sets it (None when switched off)."""
    return {g.name: g.limit(case) for g in TABLE}
