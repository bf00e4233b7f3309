"""Warm re-solves (optimizer/warm.py): every candidate of a batch equals its cold solve.

A batch solved in one process keeps one model per structure in HiGHS and moves the
limits' row bounds; these tests solve each candidate again cold (outside any warm
session, a model built from scratch) and compare: the same status, the same plan
(weights and rates within 1e-7), alignment and expected cost within 1e-9 relative,
the same conflicting guardrails for a candidate without a plan, and the same 1 %
guardrail prices.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_batch import TI, hand_case

from compplan.batch import run as batch_run
from compplan.batch.run import with_priorities
from compplan.batch.spec import budget_sweep, candidate_specs, expand
from compplan.batch.store import run_batch
from compplan.errors import InfeasibleError
from compplan.models.case import Case, load_case
from compplan.optimizer import warm
from compplan.optimizer.coefficients import compute_coefficients
from compplan.optimizer.pipeline import optimise_case
from compplan.optimizer.solve import Status, solve

CASES = Path(__file__).resolve().parent.parent / "cases"
MakeCase = Callable[..., Path]


def cold(case: Case, coeffs: Any) -> dict[str, Any]:
    """The candidate solved as a batch worker solves it, without a warm session."""
    assert warm.active() is None
    try:
        outcome = optimise_case(case, coefficients=with_priorities(coeffs, case),
                                diagnosis="short", price_ranges=False)
    except InfeasibleError as exc:
        return {"status": "infeasible",
                "conflict": [c["setting"] for c in exc.report["conflict"]]}
    ev = outcome.evaluation
    return {"status": outcome.status, "alignment": ev.alignment,
            "expected_cost": ev.expected_cost,
            "metrics": {m.id: (m.weight, m.accelerator_rate) for m in outcome.plan.metrics},
            "prices": {p.setting: p.per_percent for p in outcome.prices}}


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def compare_batch(folder: Path, case: Case, specs: list[Any]) -> tuple[int, int]:
    """Every candidate's result.json against its cold solve; (with a plan, without)."""
    coeffs = compute_coefficients(case)
    plans = infeasible = 0
    for i, spec in enumerate(specs):
        record = json.loads((folder / "candidates" / f"c{i + 1:04d}" / "result.json")
                            .read_text())
        expected = cold(replace(case, spec=spec), coeffs)
        assert record["status"] == expected["status"], record["id"]
        if expected["status"] == "infeasible":
            assert record["conflict"] == expected["conflict"], record["id"]
            infeasible += 1
            continue
        plans += 1
        assert relative(record["alignment"], expected["alignment"]) <= 1e-9, record["id"]
        assert relative(record["expected_cost"], expected["expected_cost"]) <= 1e-9
        got = {m["id"]: (m["weight"], m["accelerator_rate"]) for m in record["metrics"]}
        assert got.keys() == expected["metrics"].keys(), record["id"]
        for metric, (weight, rate) in expected["metrics"].items():
            assert got[metric] == pytest.approx((weight, rate), abs=1e-7), record["id"]
        assert record["guardrail_prices"].keys() == expected["prices"].keys()
        for setting, gain in expected["prices"].items():
            assert record["guardrail_prices"][setting] == pytest.approx(
                gain, rel=1e-6, abs=1e-9), (record["id"], setting)
    return plans, infeasible


def test_every_candidate_of_a_budget_sweep_equals_its_cold_solve(tmp_path: Path) -> None:
    case = load_case(CASES / "enterprise_first")
    spec = budget_sweep(case, 0.8, 1.1, 40)
    run_batch(spec, case, tmp_path / "sweep", chart=False)
    plans, infeasible = compare_batch(tmp_path / "sweep", case, candidate_specs(spec, case))
    # The default case has no plan below about 0.87 x its cap (tests/test_batch_run.py).
    assert plans >= 25 and infeasible >= 5


def test_every_candidate_of_a_budget_by_parity_batch_equals_its_cold_solve(
        tmp_path: Path) -> None:
    case = load_case(CASES / "enterprise_first")
    cap = float(case.spec.budget.expected_cap or 0.0)
    grid = {"budget.expected_cap": [round(f * cap) for f in (0.85, 0.9, 0.95, 1.0, 1.1)],
            "fairness.parity_tolerance": [0.02, 0.05, 0.1, 0.2]}
    spec = expand("test", case.path, grid, [])
    run_batch(spec, case, tmp_path / "grid", chart=False)
    plans, infeasible = compare_batch(tmp_path / "grid", case, candidate_specs(spec, case))
    assert plans >= 10 and infeasible >= 2


def test_other_limits_move_warm_too(tmp_path: Path) -> None:
    case = load_case(CASES / "subscription_shift")
    cap = float(case.spec.budget.expected_cap or 0.0)
    listed = [{"budget.cvar_cap": round(f * cap)} for f in (1.0, 1.1, 1.3)]
    listed += [{"design.max_payout_multiple": v} for v in (2.0, 3.0)]
    listed += [{"fairness.bottom_floor": v} for v in (0.2, 0.5)]
    spec = expand("test", case.path, {}, listed)
    run_batch(spec, case, tmp_path / "other", chart=False)
    plans, _ = compare_batch(tmp_path / "other", case, candidate_specs(spec, case))
    assert plans >= 4


def test_a_warm_session_keeps_one_model_and_meets_the_hand_optimum(
        make_case: MakeCase) -> None:
    # Hand case (tests/test_batch.py): alignment = B / TI - 1 and cost = B for
    # 2 TI <= B <= 4 TI; no plan below 2 TI; u = 6 (alignment 3, cost 4 TI) above.
    case = load_case(hand_case(make_case))
    coeffs = compute_coefficients(case)
    cache = warm.WarmCache()
    found = {}
    with warm.session(cache):
        for cap in (2000.0, 2600.0, 1500.0, 3300.0, 3900.0, 4700.0, 2600.0):
            spec = case.spec.model_copy(update={"budget": case.spec.budget.model_copy(
                update={"expected_cap": cap})})
            result = solve(replace(case, spec=spec), coeffs)
            found[cap] = result
    # One alignment model for every cap; the limits moved by its row bounds.
    assert [key[-1] for key in cache.models] == ["alignment"]
    assert found[1500.0].status is Status.INFEASIBLE
    for cap in (2000.0, 2600.0, 3300.0, 3900.0):
        assert found[cap].status is Status.OPTIMAL
        assert found[cap].u is not None
        # The tie-break gives up to 1e-7 of alignment for a cheaper plan (MODEL.md 4).
        assert found[cap].u[0] == pytest.approx(2.0 * (cap / TI - 1.0), abs=1e-6)
        assert float(coeffs.objective_u @ found[cap].u) == pytest.approx(cap / TI - 1.0,
                                                                         abs=1e-6)
    assert found[4700.0].u is not None and found[4700.0].u[0] == pytest.approx(6.0, abs=1e-6)


def test_infeasibility_is_inferred_from_a_looser_infeasible_candidate(
        make_case: MakeCase) -> None:
    case = load_case(hand_case(make_case))
    coeffs = compute_coefficients(case)
    cache = warm.WarmCache()

    def at(cap: float) -> Case:
        budget = case.spec.budget.model_copy(update={"expected_cap": cap})
        return replace(case, spec=case.spec.model_copy(update={"budget": budget}))

    with warm.session(cache):
        first = solve(at(1900.0), coeffs)
        assert first.status is Status.INFEASIBLE and first.rounds == 1
        # A tighter cap: no plan, known without a solve (no rounds).
        tighter = solve(at(1200.0), coeffs)
        assert tighter.status is Status.INFEASIBLE and tighter.rounds == 0
        # A looser one is solved.
        looser = solve(at(2200.0), coeffs)
        assert looser.status is Status.OPTIMAL and looser.rounds >= 1


def test_a_serial_batch_releases_its_warm_models(make_case: MakeCase, tmp_path: Path) -> None:
    case = load_case(hand_case(make_case))
    spec = expand("test", case.path, {"budget.expected_cap": [2000.0, 3000.0]}, [])
    run_batch(spec, case, tmp_path / "out", chart=False)
    assert batch_run._WARM.models == {} and batch_run._WARM_FOR == []
    assert warm.active() is None
    record = json.loads((tmp_path / "out" / "candidates" / "c0002" / "result.json")
                        .read_text())
    assert record["alignment"] == pytest.approx(3000.0 / TI - 1.0, abs=1e-6)
    assert record["expected_cost"] == pytest.approx(3000.0, rel=1e-6)


def test_a_tighter_candidate_takes_a_looser_optimum_that_meets_it(
        make_case: MakeCase) -> None:
    # Hand case: the best plan above 4 TI costs 4 TI (u = 6); below, the cap binds.
    case = load_case(hand_case(make_case))
    coeffs = compute_coefficients(case)
    cache = warm.WarmCache()

    def at(cap: float) -> Case:
        budget = case.spec.budget.model_copy(update={"expected_cap": cap})
        return replace(case, spec=case.spec.model_copy(update={"budget": budget}))

    with warm.session(cache):
        loose = solve(at(4.7 * TI), coeffs)
        assert loose.status is Status.OPTIMAL and loose.rounds >= 1
        # 4.3 TI is tighter and the plan of 4.7 TI costs 4 TI: the same optimum, unsolved.
        tighter = solve(at(4.3 * TI), coeffs)
        assert tighter.status is Status.OPTIMAL and tighter.rounds == 0
        assert tighter.u is not None and tighter.u[0] == pytest.approx(6.0, abs=1e-6)
        assert tighter.u is not loose.u  # a copy, not the donor's own array
        # At 3.3 TI that plan costs too much: solved, alignment 2.3.
        binding = solve(at(3.3 * TI), coeffs)
        assert binding.status is Status.OPTIMAL and binding.rounds >= 1
        assert binding.u is not None and binding.u[0] == pytest.approx(2.0 * 2.3, abs=1e-6)
        # A looser cap than any solved is never answered from a tighter optimum.
        looser = solve(at(5.5 * TI), coeffs)
        assert looser.rounds >= 1
    for result in (loose, tighter, looser):
        assert result.u is not None and result.u[0] == pytest.approx(6.0, abs=1e-6)


def test_a_batch_is_solved_loosest_first() -> None:
    case = load_case(CASES / "enterprise_first")
    grid = {"budget.expected_cap": [1.8e7, 2.2e7], "fairness.parity_tolerance": [0.2, 0.05],
            "fairness.bottom_floor": [0.1, 0.3]}
    spec = expand("test", case.path, grid, [])
    shared = batch_run.Shared(case, tuple(candidate_specs(spec, case)),
                              ("",) * len(spec.candidates), {}, {}, batch_run.BatchOptions())
    order = batch_run.solve_order(shared, list(range(len(spec.candidates))))
    # Caps (the first warm limit) largest first, then parity tolerances largest first,
    # then bottom floors lowest first (a lower floor is looser).
    assert [spec.candidates[i].params for i in order[:3]] == [
        {"budget.expected_cap": 2.2e7, "fairness.parity_tolerance": 0.2,
         "fairness.bottom_floor": 0.1},
        {"budget.expected_cap": 2.2e7, "fairness.parity_tolerance": 0.2,
         "fairness.bottom_floor": 0.3},
        {"budget.expected_cap": 2.2e7, "fairness.parity_tolerance": 0.05,
         "fairness.bottom_floor": 0.1}]
    assert sorted(order) == list(range(8))


def test_a_session_evaluates_a_plan_once_and_checks_each_case_s_limits() -> None:
    from compplan.models.fastwrite import json_text
    from compplan.optimizer.evaluate import evaluate

    case = load_case(CASES / "enterprise_first")
    coeffs = compute_coefficients(case)
    result = solve(case, coeffs)
    assert result.w is not None and result.u is not None
    cost = float(coeffs.cost_w @ result.w + coeffs.cost_u @ result.u) * coeffs.ti_total
    budget = case.spec.budget.model_copy(update={"expected_cap": round(0.9 * cost)})
    tight = replace(case, spec=case.spec.model_copy(update={"budget": budget}))
    cache = warm.WarmCache()
    with warm.session(cache):
        first = warm.evaluation(case, coeffs, result.w, result.u)
        second = warm.evaluation(tight, coeffs, result.w, result.u)
    assert len(cache.evaluations) == 1  # one plan, one structure: evaluated once
    for got, of in ((first, case), (second, tight)):
        assert json_text(got.to_dict()) == json_text(
            evaluate(of, coeffs, result.w, result.u).to_dict())
    checks = {g.name: g for g in second.guardrails}
    assert not checks["budget_expected"].ok
    assert checks["budget_expected"].limit == round(0.9 * cost)
    assert {g.name: g.ok for g in first.guardrails}["budget_expected"]


def test_the_upper_tail_price_is_the_cold_one_with_its_ratio_moved_warm(
        tmp_path: Path) -> None:
    # top_ratio 1.5 to 1.8 binds in the default case: its 1 % price is a re-solve of the
    # case with the ratio moved, on a warm model of that case kept between candidates.
    case = load_case(CASES / "enterprise_first")
    grid = {"fairness.top_ratio": [1.5, 1.6, 1.8, 2.0],
            "budget.expected_cap": [21_600_000.0, 23_760_000.0]}
    spec = expand("test", case.path, grid, [])
    run_batch(spec, case, tmp_path / "top", chart=False)
    plans, _ = compare_batch(tmp_path / "top", case, candidate_specs(spec, case))
    assert plans == 8
    record = json.loads((tmp_path / "top" / "candidates" / "c0001" / "result.json")
                        .read_text())
    assert record["guardrail_prices"]["[fairness] top_ratio"] > 1e-3
