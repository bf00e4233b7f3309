"""Batch runs: spec expansion and validation, figures known by hand, the frontier, sharing.

The hand case (as in test_hand_optima.py): one metric, one rep with target incentive
TI = 1000 at attainment 1.5, threshold 0.5, cap 2, step 0.5. A step adds psi 0.5, so
alignment = 0.5 u and expected cost = TI (1 + 0.5 u), with 2 <= u <= 6 (accelerator
multiples 1 to 3 on a base rate of 2). Under an expected-cost cap B the cap binds:
u = 2 (B / TI - 1), alignment = B / TI - 1 and cost = B, for 2 TI <= B <= 4 TI; below
2 TI no plan fits; above 4 TI the plan is u = 6 (alignment 3, cost 4 TI).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from compplan.batch import store as batch_module
from compplan.batch.frontier import non_dominated
from compplan.batch.spec import expand, read_batch_spec
from compplan.batch.store import open_batch, run_batch
from compplan.errors import CaseError
from compplan.models.case import load_case
from compplan.optimizer.pipeline import optimise_case

TI = 1000.0
MakeCase = Callable[..., Path]


def hand_case(make_case: MakeCase, **budget: float) -> Path:
    metric = {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}, "step": 0.5}
    return make_case({"case": {"name": "Hand"}, "goals": {"g": 1.0}, "metrics.a": metric,
                      "budget": {"expected_cap": 2.5 * TI, **budget}},
                     [{"rep_id": "R0", "target_incentive": TI}], {"a": [[1.5]]})


def write_spec(folder: Path, text: str, name: str = "spec.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def spec_error(path: Path, case_dir: Path | None = None) -> str:
    with pytest.raises(CaseError) as info:
        spec = read_batch_spec(path)
        open_batch(spec, load_case(case_dir or spec.case_path), path.parent / "out")
    return str(info.value)


# ------------------------------------------------------------------ figures by hand

def test_budget_sweep_matches_the_hand_computed_optimum(make_case: MakeCase,
                                                        tmp_path: Path) -> None:
    case = load_case(hand_case(make_case))
    caps = [1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 3500.0, 4000.0, 4500.0, 5000.0]
    spec = expand("test", case.path, {"budget.expected_cap": caps}, [])
    report = run_batch(spec, case, tmp_path / "out", chart=False)
    table = report.table
    assert list(table["id"]) == [f"c{i:04d}" for i in range(1, 10)]
    assert list(table["param.budget.expected_cap"]) == caps
    assert list(table["status"]) == ["infeasible"] * 2 + ["optimal"] * 7
    feasible = table[table["status"] == "optimal"]
    want_alignment = [min(b / TI - 1.0, 3.0) for b in caps[2:]]
    want_cost = [min(b, 4 * TI) for b in caps[2:]]
    assert feasible["alignment"].to_numpy() == pytest.approx(want_alignment, rel=2e-7)
    assert feasible["expected_cost"].to_numpy() == pytest.approx(want_cost, rel=2e-7)
    # One rep, one scenario: the CVaR is the cost, and u = 2 (B / TI - 1) up to 6.
    assert feasible["cvar"].to_numpy() == pytest.approx(want_cost, rel=2e-7)
    assert feasible["rate.a"].to_numpy() == pytest.approx(
        [2 * (c / TI - 1.0) for c in want_cost], rel=1e-6)
    assert list(feasible["weight.a"]) == pytest.approx([1.0] * 7)
    assert feasible["metrics"].iloc[0] == "a:1.0000/2.0000"
    # Every plan is on both frontiers (more budget, more alignment; ties at the top).
    assert feasible["frontier_cost"].all() and feasible["frontier_cvar"].all()
    infeasible = table[table["status"] == "infeasible"]
    assert infeasible["alignment"].isna().all() and infeasible["weight.a"].isna().all()
    assert not infeasible["frontier_cost"].any()
    assert set(infeasible["reason"]) == {
        "the expected-cost cap ([budget] expected_cap) cannot be met by any plan that "
        "follows the design rules"}


def test_candidate_files(make_case: MakeCase, tmp_path: Path) -> None:
    case = load_case(hand_case(make_case))
    spec = expand("test", case.path, {}, [{"name": "tight", "budget.expected_cap": 1000.0},
                                          {"name": "ok", "budget.expected_cap": 3000.0}])
    out = tmp_path / "out"
    report = run_batch(spec, case, out)
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["schema"] == "compplan.batch/1"
    assert manifest["case"] == str(case.path.resolve())
    assert manifest["spec_hash"] == spec.digest()
    assert manifest["candidates"] == [
        {"id": "c0001", "name": "tight", "params": {"budget.expected_cap": 1000.0}},
        {"id": "c0002", "name": "ok", "params": {"budget.expected_cap": 3000.0}}]
    tight = json.loads((out / "candidates/c0001/result.json").read_text())
    assert tight["status"] == "infeasible"
    assert tight["conflict"] == ["[budget] expected_cap"]
    assert tight["alignment"] is None and tight["metrics"] == []
    assert sorted(p.name for p in (out / "candidates/c0001").iterdir()) == [
        "infeasibility.json", "result.json"]
    # The short diagnosis: the conflict, no elastic solves, no minimum budget.
    assert "min_expected_cap" not in json.loads(
        (out / "candidates/c0001/infeasibility.json").read_text())
    ok = json.loads((out / "candidates/c0002/result.json").read_text())
    assert {k: ok[k] for k in ("id", "name", "params", "status")} == {
        "id": "c0002", "name": "ok", "params": {"budget.expected_cap": 3000.0},
        "status": "optimal"}
    assert ok["alignment"] == pytest.approx(2.0, rel=2e-7)
    assert ok["expected_cost"] == pytest.approx(3000.0, rel=2e-7)
    assert ok["metrics"][0]["id"] == "a" and ok["metrics"][0]["weight"] == pytest.approx(1.0)
    assert ok["binding"] == ["[budget] expected_cap"]
    assert ok["seconds"] > 0
    plan = json.loads((out / "candidates/c0002/plan.json").read_text())
    assert plan["schema"] == "compplan.plan/1"
    assert plan["objective"]["alignment"] == pytest.approx(2.0, rel=2e-7)
    assert sorted(p.name for p in out.iterdir()) == [
        "batch.json", "candidates", "frontier.csv", "frontier.png", "frontier.svg",
        "results.csv", "results.parquet", "summary.md"]
    assert (out / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    parquet = pd.read_parquet(out / "results.parquet")
    assert list(parquet["id"]) == ["c0001", "c0002"]
    assert list(parquet.columns) == list(report.table.columns)
    csv = pd.read_csv(out / "results.csv")
    assert list(csv.columns) == [
        "id", "name", "param.budget.expected_cap", "status", "alignment", "expected_cost",
        "cvar", "max_parity_gap", "metrics", "weight.a", "rate.a", "binding", "reason",
        "frontier_cost", "frontier_cvar"]
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# Batch: Hand\n")
    assert "| c0001 | tight | infeasible | the expected-cost cap" in summary


def test_batch_result_equals_optimise_on_the_changed_case(tmp_path: Path) -> None:
    # Shared coefficients (replaced priorities, recomputed curves) give the plan a
    # fresh optimise of the same case gives.
    case = load_case(Path(__file__).parent / "data/conformance/c2_fairness")
    goal = next(iter(case.spec.goals))
    metric = case.metric_ids[0]
    spec = expand("test", case.path, {}, [
        {f"goals.{goal}": 0.25, f"metrics.{metric}.responsiveness": 2.0},
        {f"metrics.{metric}.threshold": 0.3},
        {f"metrics.{metric}.alignment.{goal}": -0.5}])
    report = run_batch(spec, case, tmp_path / "out", chart=False)
    batch = open_batch(spec, case, tmp_path / "again")
    for i, row in report.table.iterrows():
        fresh = optimise_case(replace(case, spec=batch.specs[int(str(i))]))
        assert row["alignment"] == pytest.approx(fresh.evaluation.alignment, rel=1e-12)
        assert row["expected_cost"] == pytest.approx(fresh.evaluation.expected_cost, rel=1e-12)


def test_coefficients_computed_once_per_curve_set(make_case: MakeCase, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    case = load_case(hand_case(make_case))
    calls = []
    real = batch_module.compute_coefficients

    def counting(case: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(case.metric("a").threshold)
        return real(case, *args, **kwargs)

    monkeypatch.setattr(batch_module, "compute_coefficients", counting)
    spec = expand("test", case.path, {"metrics.a.threshold": [0.5, 0.4],
                                      "goals.g": [1.0, 2.0],
                                      "metrics.a.responsiveness": [1.0, 0.5],
                                      "budget.expected_cap": [3000.0, 3500.0]}, [])
    report = run_batch(spec, case, tmp_path / "out", chart=False)
    assert len(report.table) == 16
    assert calls == [0.5, 0.4]  # the current plan is absent: nothing else is computed
    # responsiveness 0.5 halves alignment at the same plan; priorities normalise to 1.
    table = report.table.set_index("id")
    full = table[table["param.metrics.a.responsiveness"] == 1.0]
    half = table[table["param.metrics.a.responsiveness"] == 0.5]
    assert half["alignment"].to_numpy() == pytest.approx(0.5 * full["alignment"].to_numpy())


# ------------------------------------------------------------------ spec and validation

SPEC = """
case = "../case0"
[grid]
"budget.expected_cap" = [3000, 3500]
"design.accelerator_max" = [2.0, 3.0, 2.5]
[[candidates]]
name = "loose"
"budget.expected_cap" = 4500.0
"metrics.a.step" = 0.25
[[candidates]]
"goals.g" = 0.5
"""


def test_grid_expansion_order_ids_and_names(make_case: MakeCase, tmp_path: Path) -> None:
    hand_case(make_case)
    spec = read_batch_spec(write_spec(tmp_path / "specs", SPEC))
    assert spec.case_path == tmp_path / "specs" / "../case0"
    assert spec.keys == ("budget.expected_cap", "design.accelerator_max", "metrics.a.step",
                         "goals.g")
    assert [(c.id, c.params) for c in spec.candidates] == [
        ("c0001", {"budget.expected_cap": 3000, "design.accelerator_max": 2.0}),
        ("c0002", {"budget.expected_cap": 3000, "design.accelerator_max": 3.0}),
        ("c0003", {"budget.expected_cap": 3000, "design.accelerator_max": 2.5}),
        ("c0004", {"budget.expected_cap": 3500, "design.accelerator_max": 2.0}),
        ("c0005", {"budget.expected_cap": 3500, "design.accelerator_max": 3.0}),
        ("c0006", {"budget.expected_cap": 3500, "design.accelerator_max": 2.5}),
        ("c0007", {"budget.expected_cap": 4500.0, "metrics.a.step": 0.25}),
        ("c0008", {"goals.g": 0.5})]
    assert spec.candidates[0].name == "expected_cap=3000, accelerator_max=2"
    assert spec.candidates[6].name == "loose"
    assert spec.candidates[7].name == "g=0.5"
    report = run_batch(spec, load_case(spec.case_path), tmp_path / "out", chart=False)
    # accelerator_max A caps u at 2 A: alignment min(B / TI - 1, A). c0007's step 0.25
    # gains psi 0.25 per step: alignment 0.25 u with u = 6 (cost 4000 within 4500).
    # c0008's priority 0.5 normalises to 1: the base case, u = 3, alignment 1.5.
    assert report.table["alignment"].to_numpy() == pytest.approx(
        [2.0, 2.0, 2.0, 2.0, 2.5, 2.5, 1.5, 1.5], rel=2e-7)
    assert list(report.table["param.design.accelerator_max"])[-2:] == [3.0, 3.0]  # the base


@pytest.mark.parametrize(("text", "message"), [
    ('case = "../case0"\nbudget = 3\n',
     "spec.toml, budget: unknown key (allowed keys: case, grid, candidates; a parameter goes "
     "in [grid] or [[candidates]])"),
    ('[grid]\n"goals.g" = [1.0]\n',
     "spec.toml, case: is required but missing"),
    ('case = "../case0"\n[grid]\n"goals.g" = 1.0\n',
     "spec.toml, [grid] goals.g: must be a list, got 1.0"),
    ('case = "../case0"\n[grid]\n"goals.g" = []\n',
     "spec.toml, [grid] goals.g: needs at least one value"),
    ('case = "../case0"\n',
     "spec.toml: has no candidates: give a [grid] or [[candidates]] tables"),
    ('case = "../case0"\n[[candidates]]\nname = "x"\n',
     "spec.toml, [[candidates]] #1: sets no parameter (give dotted case.toml keys such as "
     "\"budget.expected_cap\" = 2e7)"),
    ('case = "../case0"\n[[candidates]]\nname = 3\n"goals.g" = 1.0\n',
     "spec.toml, [[candidates]] #1 name: must be text, got 3"),
    ('case = "../case0"\n[grid\n', None),
])
def test_spec_file_errors(tmp_path: Path, text: str, message: str | None) -> None:
    with pytest.raises(CaseError) as info:
        read_batch_spec(write_spec(tmp_path / "specs", text))
    if message is None:
        assert str(info.value).startswith("spec.toml: is not valid TOML: ")
    else:
        assert str(info.value) == message


@pytest.mark.parametrize(("text", "message"), [
    ('[grid]\n"budget.expected_cp" = [1.0]\n',
     "spec.toml, [grid], budget.expected_cp: not a parameter of the case (keys of [budget]: "
     "expected_cap, cvar_level, cvar_cap)"),
    ('[[candidates]]\nname = "typo"\n"metrics.b.cap" = 2.0\n',
     "spec.toml, [[candidates]] #1 (c0001, 'typo'), metrics.b.cap: not a metric of the case "
     "(metrics: a)"),
    ('[[candidates]]\n"metrics.a.treshold" = 0.2\n',
     "spec.toml, [[candidates]] #1 (c0001, 'treshold=0.2'), metrics.a.treshold: not "
     "a parameter of the case (keys of [metrics.a]: label, threshold, cap, alignment, "
     "responsiveness, step, min_weight, max_weight, required, forbidden, elasticity, value, "
     "sum, count, where)"),
    ('[grid]\n"goals.growth" = [1.0]\n',
     "spec.toml, [grid], goals.growth: not a goal of the case (goals: g)"),
    ('[grid]\n"case.name" = ["x"]\n',
     "spec.toml, [grid], case.name: [case] names the case; it is not a parameter"),
    ('[grid]\n"scenarios.allow_absent" = [true]\n',
     "spec.toml, [grid], scenarios.allow_absent: decides how attainment.csv is read: set it "
     "in case.toml, not per candidate"),
    ('[grid]\n"budgets.expected_cap" = [1.0]\n',
     "spec.toml, [grid], budgets.expected_cap: not a parameter of the case (a dotted key into "
     "case.toml: goals, metrics, design, budget, fairness, scenarios, response)"),
    ('[grid]\n"budget.expected_cap" = [3000.0, -1.0]\n',
     "spec.toml, candidate c0002 ('expected_cap=-1'), budget.expected_cap: makes an "
     "invalid case: must be > 0.0, got -1.0"),
    ('[grid]\n"budget.cvar_cap" = [3000.0]\n',
     "spec.toml, candidate c0001 ('cvar_cap=3000'), budget: makes an invalid case: "
     "cvar_cap needs cvar_level (the tail level beta, 0 < beta < 1)"),
    ('[[candidates]]\nname = "both"\n"metrics.a.required" = true\n"metrics.a.forbidden" = true\n',
     "spec.toml, candidate c0001 ('both'), metrics.a: makes an invalid case: a metric cannot "
     "be both required and forbidden"),
    ('[grid]\n"metrics.a.forbidden" = ["yes"]\n',
     "spec.toml, candidate c0001 ('forbidden=yes'), metrics.a.forbidden: makes an "
     "invalid case: must be true or false, got 'yes'"),
    ('[grid]\n"fairness.group_by" = ["region"]\n',
     "spec.toml, candidate c0001 ('group_by=region'), fairness.group_by: 'region' is "
     "not a column of reps.csv (grouping columns: none)"),
])
def test_parameter_errors_name_the_candidate_and_key(make_case: MakeCase, tmp_path: Path,
                                                     text: str, message: str) -> None:
    case_dir = hand_case(make_case)
    spec = write_spec(tmp_path / "specs", 'case = "../case0"\n' + text)
    assert spec_error(spec, case_dir) == message
    assert not (tmp_path / "specs/out").exists()  # nothing ran


# ------------------------------------------------------------------ frontier

def test_frontier_on_hand_made_points() -> None:
    alignment = np.array([1.0, 2.0, 1.5, 2.0, np.nan, 0.5, 3.0, 3.0 * (1 + 1e-9)])
    cost = np.array([10.0, 20.0, 25.0, 20.0, 5.0, 10.0, 40.0, 40.0])
    # 2 beats 1.5 for less; 1.0 beats 0.5 at the same cost; equal points (within the
    # tolerance) are both kept; NaN is never on the frontier.
    assert list(non_dominated(alignment, cost)) == [True, True, False, True, False, False,
                                                    True, True]
    assert list(non_dominated(np.array([1.0]), np.array([1.0]))) == [True]
    assert list(non_dominated(np.array([]), np.array([]))) == []


def test_current_plan_marked_under_the_base_case(tmp_path: Path) -> None:
    case = load_case(Path(__file__).parent / "data/conformance/c2_fairness")
    plan = "[[metrics]]\nid = \"{}\"\nweight = 1.0\naccelerator_multiple = 1.0\n"
    folder = tmp_path / "case"
    folder.mkdir()
    for path in case.path.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    first = case.metric_ids[0]
    (folder / "current_plan.toml").write_text(plan.format(first))
    case = load_case(folder)
    cap = float(case.spec.budget.expected_cap or 0.0)
    spec = expand("test", folder, {"budget.expected_cap": [cap, 2 * cap]}, [])
    report = run_batch(spec, case, tmp_path / "out")  # the chart marks the current plan
    assert report.current is not None
    from compplan.models.plan import load_plan
    from compplan.optimizer.coefficients import compute_coefficients
    from compplan.optimizer.evaluate import evaluate
    ev = evaluate(case, compute_coefficients(case), *load_plan(case, "current").vectors(case))
    assert report.current == {"alignment": ev.alignment, "expected_cost": ev.expected_cost,
                              "cvar": ev.total_cvar,
                              "broken": [g.setting for g in ev.violated]}
    assert "The current plan (`current_plan.toml`) under the base case: alignment " \
        f"{ev.alignment:.4f}" in (tmp_path / "out/summary.md").read_text()


def test_short_names_for_grid_candidates() -> None:
    from compplan.batch.spec import short_keys
    keys = ("budget.expected_cap", "metrics.a.forbidden", "metrics.b.forbidden", "goals.g",
            "metrics.a.alignment.g")
    assert short_keys(keys) == {"budget.expected_cap": "expected_cap",
                                "metrics.a.forbidden": "a.forbidden",
                                "metrics.b.forbidden": "b.forbidden", "goals.g": "goals.g",
                                "metrics.a.alignment.g": "alignment.g"}
