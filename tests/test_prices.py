"""Guardrail prices mean what they say: the 1 % figure is a re-solve, and the marginal
price holds over the range it is reported with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compplan.models.case import load_case
from compplan.optimizer.pipeline import optimise_case
from compplan.optimizer.prices import loosening, with_limit
from compplan.optimizer.solve import solve
from compplan.render.plan import plan_json

CASES = Path(__file__).parent.parent / "cases"
TI = 1000.0
MakeCase = Callable[..., Path]


def metric(alignment: float) -> dict[str, Any]:
    return {"threshold": 0.5, "cap": 2.0, "alignment": {"g": alignment}, "step": 0.5}


def reps(n: int) -> list[dict[str, Any]]:
    return [{"rep_id": f"R{i}", "target_incentive": TI} for i in range(n)]


def _alignment(case, coeffs, name: str, limit: float) -> float:  # type: ignore[no-untyped-def]
    result = solve(with_limit(case, name, limit), coeffs)
    assert result.has_plan and result.w is not None and result.u is not None
    return float(coeffs.objective_w @ result.w + coeffs.objective_u @ result.u)


@pytest.mark.parametrize("name", ["enterprise_first", "cloud_transition", "subscription_shift"])
def test_one_percent_is_what_a_re_solve_buys(name: str) -> None:
    case = load_case(CASES / name)
    outcome = optimise_case(case)
    start = plan_json(case, outcome)["objective"]["alignment"]
    assert outcome.prices
    for price in outcome.prices:
        loosened = price.limit * (1 + 0.01 * loosening(price.guardrail))
        gain = _alignment(case, outcome.coefficients, price.guardrail, loosened) - start
        # Within 1 % of the re-solved gain (and of the solver's 1e-7 tie tolerance).
        assert price.per_percent == pytest.approx(gain, rel=0.01, abs=1e-6), price.guardrail
        assert price.valid_from <= price.limit <= price.valid_to


def test_enterprise_first_cvar_price_ends_before_one_percent() -> None:
    # The figure: the dual value times 1 % (0.0067) is three times what 1 % buys.
    case = load_case(CASES / "enterprise_first")
    outcome = optimise_case(case)
    cvar = next(p for p in outcome.prices if p.guardrail == "budget_cvar")
    linear = cvar.shadow_price * cvar.limit * 0.01
    assert cvar.per_percent < 0.5 * linear
    assert cvar.limit < cvar.valid_to < 1.01 * cvar.limit
    # At the end of its range the price still holds exactly (a re-solve), just beyond it no more.
    start = plan_json(case, outcome)["objective"]["alignment"]
    at_end = _alignment(case, outcome.coefficients, "budget_cvar", cvar.valid_to)
    assert at_end - start == pytest.approx(cvar.shadow_price * (cvar.valid_to - cvar.limit),
                                           rel=1e-5)
    beyond = cvar.valid_to + 0.002 * cvar.limit
    past = _alignment(case, outcome.coefficients, "budget_cvar", beyond) - start
    assert past < cvar.shadow_price * (beyond - cvar.limit) * (1 - 1e-4)


def test_price_range_ends_where_another_limit_binds(make_case: MakeCase) -> None:
    # One rep at x = 1.5, one metric: alignment 0.5 u, expected cost TI (1 + 0.5 u).
    # The budget (2,500) binds at u = 3: each currency unit buys 1 / TI. Raising it,
    # u grows until the payout multiple 1 + u <= 4.5 binds at u = 3.5, cost 2,750: the
    # price holds up to there. Lowering it, u falls to the accelerator minimum
    # (1 x w / (1 - theta) = 2) at a cost of 2,000; below that no plan fits.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "design": {"max_payout_multiple": 4.5},
                      "budget": {"expected_cap": 2.5 * TI}}, reps(1), {"a": [[1.5]]})
    case = load_case(path)
    outcome = optimise_case(case)
    prices = {p.guardrail: p for p in outcome.prices}
    budget = prices["budget_expected"]
    assert budget.shadow_price == pytest.approx(1 / TI, rel=1e-6)
    assert budget.per_percent == pytest.approx(0.025, rel=1e-6)
    assert budget.valid_to == pytest.approx(2.75 * TI, rel=1e-6)
    assert budget.valid_from == pytest.approx(2.0 * TI, rel=2e-3)
    assert budget.valid_from >= 2.0 * TI  # never claims more than it checked
    # The payout multiple does not bind (1 + u = 4): free down to 4, and up to twice its limit.
    multiple = prices["payout_multiple"]
    assert multiple.shadow_price == 0 and multiple.per_percent == 0
    assert (multiple.valid_from, multiple.valid_to) == (pytest.approx(4.0), pytest.approx(9.0))
    # Issue 19, item 10: twice the limit is where the search stopped, not where the price
    # does: it holds at least that far (for a limit that does not bind, however far).
    assert (multiple.valid_from_open, multiple.valid_to_open) == (False, True)
    assert (budget.valid_from_open, budget.valid_to_open) == (False, False)
    doc = plan_json(case, outcome)["guardrail_prices"]
    assert {p["guardrail"] for p in doc} == {"budget_expected", "payout_multiple"}
    assert set(doc[0]) == {"guardrail", "setting", "limit", "shadow_price", "unit",
                           "per_percent", "valid_from", "valid_to", "valid_from_open",
                           "valid_to_open"}
    from compplan.models import fmt

    assert fmt.limits(4.0, 9.0, False, True) == "4 to at least 9"
    assert fmt.limits(0.2, 0.4, True, False) == "at most 0.2 to 0.4"


def test_a_slack_limit_can_still_buy_by_changing_the_metrics(make_case: MakeCase) -> None:
    # One rep at exactly target on both metrics; one metric may be chosen. A step of 0.5
    # pays only through the accelerator: alignment 0.5 u A. Metric a (cap 1.5,
    # A = 0.335): u <= 6, alignment 1.005, payout multiple 1 + 0.5 u = 4, under the
    # limit 5. Metric b (cap 3, A = 1): 1 + 2 u <= 5 caps u at 2, alignment 1. So a
    # wins and the multiple does not bind (dual price 0); at 5.05, b gets u = 2.025,
    # alignment 1.0125: a 1 % loosening buys 0.0075 by switching metrics.
    path = make_case({"goals": {"g": 1.0},
                      "metrics.a": {**metric(0.335), "cap": 1.5},
                      "metrics.b": {**metric(1.0), "cap": 3.0},
                      "design": {"max_metrics": 1, "max_payout_multiple": 5.0}},
                     reps(1), {"a": [[1.0]], "b": [[1.0]]})
    outcome = optimise_case(load_case(path))
    assert [m.id for m in outcome.plan.metrics] == ["a"]
    multiple = outcome.prices[0]
    assert multiple.guardrail == "payout_multiple" and multiple.shadow_price == 0
    assert multiple.per_percent == pytest.approx(1.0125 - 1.005, rel=1e-5)
