"""compplan min-budget: the smallest expected-cost cap that admits a plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from compplan.cli.main import main

CONFORMANCE = Path(__file__).parent / "data" / "conformance"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("case", "line"), [
    # The least cost 574,051.14 rounded up: a cap of 574,051 would admit no plan.
    ("c4_infeasible", "minimum expected-cost cap: 574,052 USD per period (the case's cap "
                      "234,660 is below it)\n"),
    ("c1_budget_only", "minimum expected-cost cap: 760,168 USD per period (the case's cap "
                       "933,431 admits it)\n"),
])
def test_min_budget_figure(case: str, line: str) -> None:
    code, out, _ = invoke("min-budget", str(CONFORMANCE / case), "-q")
    assert code == 0
    assert out == line


def test_min_budget_by_hand(make_case: Callable[..., Path], tmp_path: Path) -> None:
    # Rep 0 earns w_a + w_b, rep 1 earns w_b (a pays it nothing below threshold): the total
    # is TI (1 + w_b), and the floor on the bottom half (rep 1) needs w_b >= 0.9, so the
    # cheapest plan costs 1.9 TI = 1,900 whatever the cap.
    metric = {"threshold": 0.5, "cap": 2.0, "step": 0.5}
    path = make_case({"goals": {"g": 1.0}, "metrics.a": {**metric, "alignment": {"g": 1.0}},
                      "metrics.b": {**metric, "alignment": {"g": 0.0}},
                      "budget": {"expected_cap": 1500.0},
                      "fairness": {"bottom_share": 0.5, "bottom_floor": 0.9}},
                     [{"rep_id": "R0", "target_incentive": 1000.0},
                      {"rep_id": "R1", "target_incentive": 1000.0}],
                     {"a": [[1.0], [0.3]], "b": [[1.0], [1.0]]})
    out_dir = tmp_path / "cheapest"
    code, out, _ = invoke("min-budget", str(path), "--out", str(out_dir), "-q")
    assert code == 0
    assert out == "minimum expected-cost cap: 1,900 USD per period (the case's cap 1,500 is " \
                  "below it)\n"
    plan = json.loads((out_dir / "plan.json").read_text())
    assert plan["objective"]["expected_cost"] == pytest.approx(1900.0, rel=1e-7)
    assert {m["id"]: m["weight"] for m in plan["metrics"]}["b"] == pytest.approx(0.9, rel=1e-7)


def test_min_budget_when_other_guardrails_conflict(make_case: Callable[..., Path]) -> None:
    # Rep 0 (group N) earns w_a + w_b, rep 1 (group S) only w_b: the mean is
    # (w_a + 2 w_b) / 2, so each group is w_a / 2 away from it. With a required at
    # w_a >= 0.5 the gap is at least 0.25, far above the tolerance of 0.01, at any budget.
    metric = {"threshold": 0.5, "cap": 2.0, "step": 0.5}
    path = make_case({"goals": {"g": 1.0},
                      "metrics.a": {**metric, "alignment": {"g": 1.0}, "required": True,
                                    "min_weight": 0.5},
                      "metrics.b": {**metric, "alignment": {"g": 0.0}},
                      "fairness": {"group_by": "segment", "parity_tolerance": 0.01}},
                     [{"rep_id": "R0", "segment": "N", "target_incentive": 1000.0},
                      {"rep_id": "R1", "segment": "S", "target_incentive": 1000.0}],
                     {"a": [[1.0], [0.3]], "b": [[1.0], [1.0]]})
    code, out, err = invoke("min-budget", str(path), "-q")
    assert code == 3
    assert out == ""
    assert err.startswith("Error: no plan satisfies the constraints: segment parity "
                          "([fairness] parity_tolerance) cannot be met by any plan that "
                          "follows the design rules; smallest single change that admits a "
                          "plan: raise [fairness] parity_tolerance from 0.01 to 0.25")


def test_min_budget_out_when_infeasible_writes_the_explanation(
        make_case: Callable[..., Path], tmp_path: Path) -> None:
    # MODEL.md section 6: exit 3 writes DIR/infeasibility.json; an earlier run's plan in
    # DIR goes (the old set of files or the new one, never a plan beside the explanation).
    out = tmp_path / "out"
    code, _, _ = invoke("min-budget", str(CONFORMANCE / "c1_budget_only"), "--out", str(out),
                        "-q")
    assert code == 0 and (out / "plan.json").is_file()
    metric = {"threshold": 0.5, "cap": 2.0, "step": 0.5}
    path = make_case({"goals": {"g": 1.0},
                      "metrics.a": {**metric, "alignment": {"g": 1.0}, "required": True,
                                    "min_weight": 0.5},
                      "metrics.b": {**metric, "alignment": {"g": 0.0}},
                      "fairness": {"group_by": "segment", "parity_tolerance": 0.01}},
                     [{"rep_id": "R0", "segment": "N", "target_incentive": 1000.0},
                      {"rep_id": "R1", "segment": "S", "target_incentive": 1000.0}],
                     {"a": [[1.0], [0.3]], "b": [[1.0], [1.0]]})
    code, stdout, err = invoke("min-budget", str(path), "--out", str(out), "-q")
    assert code == 3
    assert stdout == ""
    assert err.startswith("Error: no plan satisfies the constraints: segment parity ")
    assert err.endswith(f"(details in {out / 'infeasibility.json'})\n")
    assert sorted(p.name for p in out.iterdir()) == ["infeasibility.json"]
    doc = json.loads((out / "infeasibility.json").read_text())
    assert doc["status"] == "infeasible"
    assert "parity_tolerance" in json.dumps(doc["conflict"])


def test_the_minimum_is_the_least_cost_of_an_organisation() -> None:
    """Issue 19, item 9: the tie-break toward alignment once let the cheapest plans cost up
    to 1e-7 of the target incentive more than the least (6,382,027.6 printed as
    6,382,028 for cases/gtm_org, where a cap of 6,382,027 admits plans). Now a cap of
    exactly the reported minimum admits plans, and the minimum does not move when the
    alignment tie-break is left out."""
    from dataclasses import replace

    import compplan

    root = Path(__file__).parent.parent / "cases" / "gtm_org"
    least = compplan.min_budget_org(root).document["objective"]["expected_cost"]
    org = compplan.load_org(root)
    budget = org.spec.budget.model_copy(update={"expected_cap": least})
    capped = replace(org, spec=org.spec.model_copy(update={"budget": budget}))
    found = compplan.optimise_org(capped).document["objective"]["expected_cost"]
    assert found <= least * (1 + 1e-9)
    assert least == pytest.approx(6_382_026.97, abs=0.01)


def test_the_minimum_is_the_least_cost_of_a_case() -> None:
    import compplan

    case = compplan.load_case(CONFORMANCE / "c1_budget_only")
    least = compplan.min_budget(case).evaluation
    assert least is not None
    result = compplan.optimise(compplan.load_case(CONFORMANCE / "c1_budget_only",
                                                  budget=least.expected_cost))
    assert result.evaluation is not None
    assert result.evaluation.expected_cost <= least.expected_cost * (1 + 1e-9)
