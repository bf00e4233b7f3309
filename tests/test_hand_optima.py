"""Tiny cases whose optimum is worked out by hand in each test's comment.

Shared set-up unless a test says otherwise: theta 0.5, cap 2.0, so below target the
curve is phi(x) = (x - 0.5) / 0.5 and above it psi(x) = x - 1 (up to 1). The
accelerator rate ``u`` is bounded by alpha * w / (1 - theta) = 2 alpha w.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compplan.errors import InfeasibleError
from compplan.models.case import load_case
from compplan.optimizer.pipeline import optimise_case
from compplan.render.plan import plan_json

TI = 1000.0


def optimum(value: float) -> Any:
    """An optimum as the spec returns it: ties within 1e-7 (relative) go to the cheaper plan,
    so figures may sit that far below the exact optimum."""
    return pytest.approx(value, rel=2e-7, abs=2e-7)


def metric(alignment: float, step: float | None = 0.5, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"threshold": 0.5, "cap": 2.0, "alignment": {"g": alignment}}
    if step is not None:
        spec["step"] = step
    return {**spec, **extra}


def reps(n: int, groups: list[str] | None = None) -> list[dict[str, Any]]:
    rows = [{"rep_id": f"R{i}", "target_incentive": TI} for i in range(n)]
    for row, group in zip(rows, groups or [], strict=False):
        row["segment"] = group
    return rows


def run(path: Path, method: str = "auto") -> tuple[float, float, dict[str, Any]]:
    case = load_case(path)
    doc = plan_json(case, optimise_case(case, tail_method=method))  # type: ignore[arg-type]
    weights = {m["id"]: (m["weight"], m["accelerator_rate"]) for m in doc["metrics"]}
    return doc["objective"]["alignment"], doc["objective"]["expected_cost"], weights


MakeCase = Callable[..., Path]


def test_one_metric_takes_the_steepest_accelerator(make_case: MakeCase) -> None:
    # w = 1; x = 1.5 so a step of 0.5 adds psi 0.5: alignment = 0.5 u, u <= 2 * 3 = 6.
    # Cost = TI (phi + u psi) = TI (1 + 0.5 * 6) = 4 TI.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0)}, reps(1),
                     {"a": [[1.5]]})
    alignment, cost, plan = run(path)
    assert alignment == optimum(3.0)
    assert cost == optimum(4 * TI)
    assert plan["a"] == optimum((1.0, 6.0))


def test_expected_budget_binding_alone(make_case: MakeCase) -> None:
    # As above with expected_cap = 2.5 TI: 1 + 0.5 u <= 2.5 gives u = 3, alignment 1.5.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "budget": {"expected_cap": 2.5 * TI}}, reps(1), {"a": [[1.5]]})
    alignment, cost, plan = run(path)
    assert alignment == optimum(1.5)
    assert cost == optimum(2.5 * TI)
    assert plan["a"][1] == optimum(3.0)


def test_payout_multiple_binding_alone(make_case: MakeCase) -> None:
    # w + u (cap - 1) = 1 + u <= 4 gives u = 3.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "design": {"max_payout_multiple": 4.0}}, reps(1), {"a": [[1.5]]})
    alignment, cost, _ = run(path)
    assert alignment == optimum(1.5)
    assert cost == optimum(2.5 * TI)


@pytest.mark.parametrize("method", ["full", "cuts"])
def test_cvar_binding_alone(make_case: MakeCase, method: str) -> None:
    # Two periods, x = 1.5 and 1.0: totals TI (1 + 0.5 u) and TI. At beta = 0.5 the
    # CVaR is the larger: 1 + 0.5 u <= 2.5 gives u = 3. Each step of 0.5 adds psi 0.5
    # in both periods, so alignment = 0.5 u = 1.5; expected cost TI (1 + 0.25 u).
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "budget": {"cvar_level": 0.5, "cvar_cap": 2.5 * TI}},
                     reps(1), {"a": [[1.5, 1.0]]})
    alignment, cost, _ = run(path, method)
    assert alignment == optimum(1.5)
    assert cost == optimum(1.75 * TI)


def test_parity_binding_alone(make_case: MakeCase) -> None:
    # Rep 0 (North) at 1.5 earns 1 + 0.5 u, rep 1 (South) at 1.0 earns 1: overall
    # mean 1 + 0.25 u, so each group is 0.25 u away: 0.25 u <= 0.75 gives u = 3.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "fairness": {"group_by": "segment", "parity_tolerance": 0.75}},
                     reps(2, ["North", "South"]), {"a": [[1.5], [1.0]]})
    alignment, cost, _ = run(path)
    assert alignment == optimum(1.5)
    assert cost == optimum(TI * (2.5 + 1.0))


@pytest.mark.parametrize("method", ["full", "cuts"])
def test_top_tail_binding_alone(make_case: MakeCase, method: str) -> None:
    # Four reps, one at 1.5: e = (1 + 0.5 u, 1, 1, 1), mean 1 + 0.125 u. The top 25 %
    # is the first rep: 1 + 0.5 u <= 1.5 (1 + 0.125 u) gives u = 1.6 (alpha_min 0.5
    # allows u >= 1). Every rep gains psi 0.5 per step: alignment 0.5 u = 0.8.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "design": {"accelerator_min": 0.5},
                      "fairness": {"top_share": 0.25, "top_ratio": 1.5}},
                     reps(4), {"a": [[1.5], [1.0], [1.0], [1.0]]})
    alignment, cost, plan = run(path, method)
    assert alignment == optimum(0.8)
    assert plan["a"][1] == optimum(1.6)
    assert cost == optimum(TI * (4 + 0.8))


@pytest.mark.parametrize("method", ["full", "cuts"])
def test_bottom_floor_binding_alone(make_case: MakeCase, method: str) -> None:
    # Metric a (aligned) pays rep 0 (x 1.5) but not rep 1 (x 0.3, below threshold);
    # metric b (alignment 0) pays both at x = 1.0. The bottom half is rep 1: e = w_b
    # >= 0.4. Alignment per step: a gains psi 0.5 for rep 0 and phi 0.6 for rep 1,
    # mean (0.5 u_a + 0.6 w_a) / 2 with u_a = 6 w_a: 1.8 w_a, and w_a = 0.6: 1.08.
    # Cost: rep 0 earns 0.6 + 0.5 * 3.6 + 0.4 = 2.8, rep 1 earns 0.4.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "metrics.b": metric(0.0),
                      "fairness": {"bottom_share": 0.5, "bottom_floor": 0.4}},
                     reps(2), {"a": [[1.5], [0.3]], "b": [[1.0], [1.0]]})
    alignment, cost, plan = run(path, method)
    assert alignment == optimum(1.08)
    assert cost == optimum(TI * 3.2)
    assert plan["b"][0] == optimum(0.4)


def test_two_metrics_weight_goes_to_the_better_aligned(make_case: MakeCase) -> None:
    # Both at 1.2 with step 0.2: phi is flat, psi gains 0.2, so alignment =
    # 0.2 (u_a + 0.5 u_b) with u <= 6 w. Weights in [0.2, 0.8]: w_a = 0.8, w_b = 0.2,
    # alignment 0.2 (4.8 + 0.6) = 1.08; cost TI (1 + 0.2 (4.8 + 1.2)) = 2.2 TI.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0, step=0.2),
                      "metrics.b": metric(0.5, step=0.2),
                      "design": {"max_metrics": 2, "min_weight": 0.2, "max_weight": 0.8}},
                     reps(1), {"a": [[1.2]], "b": [[1.2]]})
    alignment, cost, plan = run(path)
    assert alignment == optimum(1.08)
    assert cost == optimum(2.2 * TI)
    # A rate may give up more than the alignment does (u_b moves 10x the tolerance).
    assert plan["a"] == pytest.approx((0.8, 4.8), rel=1e-5)
    assert plan["b"] == pytest.approx((0.2, 1.2), rel=1e-5)


def test_required_misaligned_metric_pays_its_minimum(make_case: MakeCase) -> None:
    # As above but b works against the goal (-0.5) and is required: u_b at its floor
    # 2 alpha_min w_b = 0.4; alignment 0.2 (4.8 - 0.5 * 0.4) = 0.92.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0, step=0.2),
                      "metrics.b": metric(-0.5, step=0.2, required=True),
                      "design": {"max_metrics": 2, "min_weight": 0.2, "max_weight": 0.8}},
                     reps(1), {"a": [[1.2]], "b": [[1.2]]})
    alignment, _, plan = run(path)
    assert alignment == optimum(0.92)
    assert plan["b"] == optimum((0.2, 0.4))


def test_forbidden_metric_is_never_chosen(make_case: MakeCase) -> None:
    # Only b may pay: w_b = 1, u_b = 6; alignment 0.2 * 0.5 * 6 = 0.6.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0, step=0.2, forbidden=True),
                      "metrics.b": metric(0.5, step=0.2)}, reps(1),
                     {"a": [[1.2]], "b": [[1.2]]})
    alignment, _, plan = run(path)
    assert alignment == optimum(0.6)
    assert set(plan) == {"b"}


def test_ties_go_to_the_cheapest_plan(make_case: MakeCase) -> None:
    # Above the cap nothing moves pay (x = 3 > cap 2): every plan has alignment 0.
    # The cheapest pays the least accelerator: u = 2 alpha_min w = 2, cost TI (1 + 2).
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0)}, reps(1),
                     {"a": [[3.0]]})
    alignment, cost, plan = run(path)
    assert alignment == pytest.approx(0.0, abs=1e-12)
    assert cost == optimum(3 * TI)
    assert plan["a"][1] == optimum(2.0)


def test_step_defaults_to_population_std(make_case: MakeCase) -> None:
    # x = 1.0 and 1.5 over two periods: std (ddof 0) 0.25. From 1.0 a step adds psi
    # 0.25; from 1.5 it adds 0.25 too (to 1.75). Alignment 0.25 u = 1.5 at u = 6.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0, step=None)}, reps(1),
                     {"a": [[1.0, 1.5]]})
    alignment, _, _ = run(path)
    assert alignment == optimum(1.5)


def test_design_rules_alone_conflict(make_case: MakeCase) -> None:
    # One metric may carry at most 80 % of the weight, and only one may be chosen.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "metrics.b": metric(0.5),
                      "design": {"max_metrics": 1, "max_weight": 0.8}},
                     reps(1), {"a": [[1.2]], "b": [[1.2]]})
    with pytest.raises(InfeasibleError) as info:
        run(path)
    report = info.value.report
    assert report["conflict"] == [{"guardrail": "design", "setting": "[design]"}]
    assert report["explanation"] == [
        "with at most 1 metric(s) and these maximum weights, the weights cannot add up to 1"]


def test_two_guardrails_conflict_and_min_budget(make_case: MakeCase) -> None:
    # Rep 0 is at 1.0 on both metrics, rep 1 at 0.3 on a and 1.0 on b, so rep 0 earns
    # w_a + w_b = 1 and rep 1 earns w_b: the total is TI (1 + w_b). The bottom half
    # (rep 1) needs w_b >= 0.9; the cap of 1.5 TI needs w_b <= 0.5. Each alone admits
    # a plan; together none. The cheapest plan meeting the floor costs 1.9 TI.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "metrics.b": metric(0.0),
                      "budget": {"expected_cap": 1.5 * TI},
                      "fairness": {"bottom_share": 0.5, "bottom_floor": 0.9}},
                     reps(2), {"a": [[1.0], [0.3]], "b": [[1.0], [1.0]]})
    with pytest.raises(InfeasibleError) as info:
        run(path)
    report = info.value.report
    assert [c["guardrail"] for c in report["conflict"]] == ["budget_expected", "fairness_bottom"]
    assert report["min_expected_cap"] == pytest.approx(1.9 * TI, rel=1e-7)


def test_two_guardrails_conflict_smallest_changes(make_case: MakeCase) -> None:
    # As above: alone, the cap must rise to 1.9 TI, or the floor fall to 0.5 (w_b <= 0.5).
    # Together, in units of each limit: the cap moves w_b by 2 per unit of slack (share of
    # 2 TI) at a weight of 1 / 0.75, the floor by 1 at 1 / 0.9; the cap is cheaper per
    # unit of the 0.4 gap, so the least total relaxation raises the cap alone to 1.9 TI.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "metrics.b": metric(0.0),
                      "budget": {"expected_cap": 1.5 * TI},
                      "fairness": {"bottom_share": 0.5, "bottom_floor": 0.9}},
                     reps(2), {"a": [[1.0], [0.3]], "b": [[1.0], [1.0]]})
    with pytest.raises(InfeasibleError) as info:
        run(path)
    report = info.value.report
    single = {c["guardrail"]: c["needed"] for c in report["smallest_single_changes"]}
    assert single == {"budget_expected": pytest.approx(1.9 * TI, rel=1e-6),
                      "fairness_bottom": pytest.approx(0.5, rel=1e-6)}
    joint = {c["guardrail"]: c["needed"] for c in report["least_total_relaxation"]}
    assert joint == {"budget_expected": pytest.approx(1.9 * TI, rel=1e-6)}
    assert report["explanation"][1] == (
        "smallest single change that admits a plan: raise [budget] expected_cap from "
        "1,500 USD to 1,900 USD (the expected cost of the cheapest plan meeting every other "
        "guardrail); or lower [fairness] bottom_floor from 0.9 to 0.5")


def test_price_of_a_binding_budget(make_case: MakeCase) -> None:
    # One metric at x = 1.5: alignment 0.5 u and cost TI (1 + 0.5 u) <= B, so alignment =
    # B / TI - 1 and each currency unit of budget buys 1 / TI = 0.001 alignment; 1 % of
    # the 2,500 cap buys 0.025. The payout multiple (1 + u <= 5) does not bind: price 0.
    path = make_case({"goals": {"g": 1.0}, "metrics.a": metric(1.0),
                      "design": {"max_payout_multiple": 5.0},
                      "budget": {"expected_cap": 2.5 * TI}}, reps(1), {"a": [[1.5]]})
    outcome = optimise_case(load_case(path))
    prices = {p["guardrail"]: p for p in (q.to_dict() for q in outcome.prices)}
    assert prices["budget_expected"]["shadow_price"] == pytest.approx(1 / TI, rel=1e-6)
    assert prices["budget_expected"]["per_percent"] == pytest.approx(0.025, rel=1e-6)
    assert prices["payout_multiple"]["shadow_price"] == pytest.approx(0.0, abs=1e-12)
