"""The response model of MODEL.md section 10: settings, multipliers, figures, the grid MIP.

Figures are computed by hand (the worked example of docs/response.md) or with numpy
straight from the definitions (the per-option sums, a brute force over the grid).
"""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import CONFORMANCE, assert_exit, invoke, write_case

import compplan
from compplan.errors import CaseError, UsageError
from compplan.models.case import load_case
from compplan.models.plan import Plan
from compplan.models.schema import CaseSpec
from compplan.optimizer.coefficients import compute_coefficients, curves
from compplan.optimizer.evaluate import evaluate
from compplan.optimizer.model import Rounding
from compplan.optimizer.pipeline import optimise_case
from compplan.optimizer.response import (
    Pooled,
    ResponseContext,
    evaluate_response,
    parse_elasticities,
)
from compplan.optimizer.response_model import grid_options
from compplan.render.plan import plan_json

# ----------------------------------------------------------------- the worked example

WORKED_PLAN = """[[metrics]]
id = "a"
weight = 0.75
accelerator_rate = 0.75

[[metrics]]
id = "b"
weight = 0.25
accelerator_rate = 0.25
"""


def worked_case(folder: Path, *, elasticity: float = 0.3, extra: dict[str, Any] | None = None,
                periods: int = 1) -> Path:
    """One rep, two metrics paid per unit (threshold 0, attainment below 100 %).

    Quota 1,000 units each; last year 600 and 400 units under a plan paying 4 % of a
    unit on each (weights 0.5 and 0.5 of a target of 80).
    """
    tables: dict[str, dict[str, Any]] = {
        "case": {"name": "Worked example"},
        "goals": {"growth": 1.0},
        "metrics.a": {"threshold": 0.0, "cap": 2.0, "alignment": {"growth": 1.0}, "step": 0.1,
                      "value": 0.1},
        "metrics.b": {"threshold": 0.0, "cap": 2.0, "alignment": {"growth": 0.5}, "step": 0.1,
                      "value": 0.1},
        "response": {"baseline": "current_plan.toml", "elasticity": elasticity},
        **(extra or {}),
    }
    write_case(folder, tables, [{"rep_id": "R1", "target_incentive": 80.0}],
               {"a": [[0.6] * periods], "b": [[0.4] * periods]})
    (folder / "quotas.csv").write_text("rep_id,a,b\nR1,1000,1000\n")
    (folder / "current_plan.toml").write_text(
        '[[metrics]]\nid = "a"\nweight = 0.5\naccelerator_rate = 0.5\n\n'
        '[[metrics]]\nid = "b"\nweight = 0.5\naccelerator_rate = 0.5\n')
    (folder / "new_plan.toml").write_text(WORKED_PLAN)
    return folder


def test_worked_example_by_hand(tmp_path: Path) -> None:
    # Rates 4 % -> 6 % (a) and 4 % -> 2 % (b): pay for a step of progress rises by half on a
    # and falls by half on b; elasticity 0.3 moves attainment by +15 % and -15 %.
    case = load_case(worked_case(tmp_path / "w"))
    ev = compplan.evaluate(case, tmp_path / "w" / "new_plan.toml")
    figs = ev.response
    assert figs is not None
    assert figs.multipliers["a"] == pytest.approx(1.15, rel=1e-12)
    assert figs.multipliers["b"] == pytest.approx(0.85, rel=1e-12)
    # 600 and 400 units become 690 and 340.
    assert figs.outcomes["a"]["volume_change"] == pytest.approx(90.0, rel=1e-12)
    assert figs.outcomes["b"]["volume_change"] == pytest.approx(-60.0, rel=1e-12)
    assert figs.static.expected_cost == pytest.approx(44.0, rel=1e-12)   # 0.06*600 + 0.02*400
    assert ev.expected_cost == pytest.approx(48.2, rel=1e-12)            # 0.06*690 + 0.02*340
    assert figs.baseline_cost == pytest.approx(40.0, rel=1e-12)          # 0.04*(600 + 400)
    # Worth 0.1 a unit: +9 and -6, against 8.2 more payout than today.
    assert figs.outcomes["a"]["value_change"] == pytest.approx(9.0, rel=1e-12)
    assert figs.net_value == pytest.approx(3.0 - 8.2, rel=1e-12)
    # Alignment stays on the history: what the plan pays for a step, before response.
    assert ev.alignment == pytest.approx(figs.static.alignment, rel=1e-15)
    frame = figs.to_frame()
    assert frame.set_index("figure").loc["expected_cost", "response"] == pytest.approx(48.2)


def test_worked_example_cli(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    result = invoke("evaluate", str(folder), str(folder / "new_plan.toml"), "--out",
                    str(tmp_path / "ev"), "--elasticity", "0,0.3")
    assert_exit(result, 0)
    assert "a x1.150 (+15.0 %), b x0.850 (-15.0 %)" in result.output
    assert ("expected payout 48.20 USD per period under response against 44.00 USD on the "
            "history and 40.00 USD for the baseline (current_plan.toml)") in result.output
    doc = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert doc["evaluation"]["expected_cost"] == pytest.approx(48.2)
    block = doc["response"]
    assert block["static"]["expected_cost"] == pytest.approx(44.0)
    assert block["net_value"] == pytest.approx(-5.2)
    assert [b["elasticity"] for b in block["band"]] == [0.0, 0.3]
    assert block["band"][0]["evaluation"]["expected_cost"] == pytest.approx(44.0)
    assert block["band"][1]["multipliers"] == pytest.approx({"a": 1.15, "b": 0.85})


def test_max_change_clips(tmp_path: Path) -> None:
    # Elasticity 3: a rises by 150 % and b falls by 150 %, clipped to +-50 % (max_change).
    case = load_case(worked_case(tmp_path / "w", elasticity=3.0))
    figs = compplan.evaluate(case, tmp_path / "w" / "new_plan.toml").response
    assert figs is not None
    assert figs.multipliers == pytest.approx({"a": 1.5, "b": 0.5})
    # 80 * (0.75 * 0.9 + 0.25 * 0.2)
    assert figs.evaluation.expected_cost == pytest.approx(80 * (0.75 * 0.9 + 0.25 * 0.2))


def test_per_year_counts_volume_n_times(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w", extra={})
    text = (folder / "case.toml").read_text().replace(
        'name = "Worked example"', 'name = "Worked example"\nperiods_per_year = 12')
    (folder / "case.toml").write_text(text)
    figs = compplan.evaluate(load_case(folder), folder / "new_plan.toml").response
    assert figs is not None
    assert figs.outcomes["a"]["volume_change"] == pytest.approx(12 * 90.0)
    # Money is per year already (target incentive is annual): 12 x (9 - 6) - 8.2.
    assert figs.net_value == pytest.approx(12 * 3.0 - 8.2)


def test_elasticity_argument_replaces_every_metric(tmp_path: Path) -> None:
    case = load_case(worked_case(tmp_path / "w"))
    ev = compplan.evaluate(case, tmp_path / "w" / "new_plan.toml", elasticity=0.1)
    assert ev.response is not None
    assert ev.response.multipliers == pytest.approx({"a": 1.05, "b": 0.95})
    with pytest.raises(UsageError, match="elasticity must be a finite number >= 0"):
        compplan.evaluate(case, "current", elasticity=-1)


def test_parse_elasticities() -> None:
    assert parse_elasticities("0, 0.1,0.2") == [0.0, 0.1, 0.2]
    with pytest.raises(UsageError, match="'x' is not a number"):
        parse_elasticities("0,x")
    with pytest.raises(UsageError, match="-1 must be a finite number >= 0"):
        parse_elasticities("-1")


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('baseline = "current_plan.toml"', 'baseline = "old.toml"'),
     "case.toml, [response] baseline: the baseline plan 'old.toml' is not a file of the case "
     "folder"),
    (lambda t: t.replace("elasticity = 0.3", "elasticity = -0.3"),
     "case.toml, [response] elasticity: must be >= 0"),
    (lambda t: t.replace("elasticity = 0.3", "elasticity = 0.3\nmax_change = 0"),
     "case.toml, [response] max_change: must be > 0"),
    (lambda t: t.replace("elasticity = 0.3", "elasticity = 0.3\nmax_change = 1.5"),
     "case.toml, [response] max_change: must be <= 1"),
    (lambda t: t.replace("value = 0.1", "value = -0.1", 1),
     "case.toml, [metrics.a] value: must be >= 0"),
    (lambda t: t.replace("step = 0.1", "step = 0.1\nelasticity = -2", 1),
     "case.toml, [metrics.a] elasticity: must be >= 0"),
])
def test_bad_response_settings(tmp_path: Path, edit: Any, message: str) -> None:
    folder = worked_case(tmp_path / "w")
    (folder / "case.toml").write_text(edit((folder / "case.toml").read_text()))
    result = invoke("validate", str(folder))
    assert_exit(result, 2)
    assert message in result.output


def test_value_needs_quotas(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    (folder / "quotas.csv").unlink()
    with pytest.raises(CaseError, match=r"case.toml, \[metrics.a\] value: a value per unit "
                                        "needs quotas.csv"):
        load_case(folder)


def test_keys_need_a_response_table(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    text = (folder / "case.toml").read_text()
    text = text.replace('[response]\nbaseline = "current_plan.toml"\nelasticity = 0.3\n', "")
    (folder / "case.toml").write_text(text)
    with pytest.raises(CaseError, match=r"\[metrics.a\] value needs a \[response\] table"):
        load_case(folder)


def test_baseline_naming_unknown_metric(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    (folder / "base.toml").write_text(
        '[[metrics]]\nid = "c"\nweight = 1.0\naccelerator_rate = 1.0\n')
    text = (folder / "case.toml").read_text().replace('"current_plan.toml"', '"base.toml"')
    (folder / "case.toml").write_text(text)
    result = invoke("validate", str(folder))
    assert_exit(result, 2)
    assert ("base.toml, [[metrics]] #1 id: 'c' is not a metric of the case "
            "(metrics: a, b) (the [response] baseline of case.toml)") in result.output


def test_baseline_that_pays_for_no_progress(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    # A flat curve pays the same whatever reps do: no step of progress pays anything.
    (folder / "current_plan.toml").write_text(
        '[[metrics]]\nid = "a"\ncurve = [[0.0, 0.5], [2.0, 0.5]]\n')
    for command in (["validate", str(folder)],
                    ["evaluate", str(folder), "current", "--out", str(tmp_path / "e")],
                    ["optimise", str(folder), "--out", str(tmp_path / "p")]):
        result = invoke(*command)
        assert_exit(result, 2)
        assert ("case.toml, [response] baseline: the baseline plan 'current_plan.toml' pays "
                "for no progress on any metric") in result.output


def test_baseline_as_plan_json(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    doc = {"metrics": [{"id": "a", "weight": 0.5, "accelerator_rate": 0.5},
                       {"id": "b", "weight": 0.5, "accelerator_rate": 0.5}]}
    (folder / "base.json").write_text(json.dumps(doc))
    text = (folder / "case.toml").read_text().replace('"current_plan.toml"', '"base.json"')
    (folder / "case.toml").write_text(text)
    figs = compplan.evaluate(load_case(folder), folder / "new_plan.toml").response
    assert figs is not None and figs.baseline == "base.json"
    assert figs.multipliers == pytest.approx({"a": 1.15, "b": 0.85})


def test_elasticity_option_needs_response(tmp_path: Path) -> None:
    folder = CONFORMANCE / "c1_budget_only"
    (tmp_path / "x.toml").write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\n'
                                     'accelerator_rate = 2.0\n')
    result = invoke("evaluate", str(folder), str(tmp_path / "x.toml"), "--elasticity", "0.1",
                    "--out", str(tmp_path / "e"))
    assert_exit(result, 2)
    assert "has no [response] table" in result.output
    with pytest.raises(UsageError, match="has no \\[response\\] table"):
        compplan.evaluate(folder, tmp_path / "x.toml", elasticity=0.1)


# ------------------------------------------------------------- sums over sorted values

def test_pooled_sums_match_numpy() -> None:
    rng = np.random.default_rng(3)
    x = rng.gamma(4.0, 0.25, size=(200, 7))
    a = rng.uniform(0.5, 2.0, size=(200, 1)) * np.ones((1, 7))
    pool = Pooled(x, a)
    lams = np.array([0.0, 0.5, 0.93, 1.0, 1.37, 1.5])
    theta, kappa = 0.4, 2.2
    phi, psi = pool.sums(lams, theta, kappa)
    for i, lam in enumerate(lams):
        p, q = curves((lam * x)[:, None, :], np.array([theta]), np.array([kappa]))
        assert phi[i] == pytest.approx(float((a * p[:, 0, :]).sum()), rel=1e-12, abs=1e-12)
        assert psi[i] == pytest.approx(float((a * q[:, 0, :]).sum()), rel=1e-12, abs=1e-12)


# ------------------------------------------------------------------- the grid model

def with_response(source: Path, folder: Path, elasticity: float,
                  baseline: str = '[[metrics]]\nid = "revenue"\nweight = 0.6\n'
                                  'accelerator_rate = 1.2\n\n[[metrics]]\nid = "margin"\n'
                                  'weight = 0.4\naccelerator_rate = 1.0\n') -> Path:
    """A conformance case with a baseline plan and ``[response]``."""
    shutil.copytree(source, folder)
    (folder / "expected.json").unlink()
    (folder / "base.toml").write_text(baseline)
    with (folder / "case.toml").open("a") as f:
        f.write(f'\n[response]\nbaseline = "base.toml"\nelasticity = {elasticity}\n')
    return folder


@pytest.mark.parametrize("name", ["c2_fairness", "c3_risk", "c7_joiners"])
def test_elasticity_zero_gives_the_rounded_plan(tmp_path: Path, name: str) -> None:
    # MODEL.md section 10: with elasticity 0 the plan is the one --round gives on the grid.
    static_case = load_case(CONFORMANCE / name)
    rounded = optimise_case(static_case, rounding=Rounding(0.05, 0.05))
    case = load_case(with_response(CONFORMANCE / name, tmp_path / name, 0.0))
    outcome = optimise_case(case)
    assert outcome.plan.to_records() == rounded.plan.to_records()
    assert outcome.evaluation == outcome.response.static  # type: ignore[union-attr]
    assert outcome.evaluation.expected_cost == pytest.approx(rounded.evaluation.expected_cost,
                                                             rel=1e-12)
    assert outcome.evaluation.alignment == pytest.approx(rounded.evaluation.alignment,
                                                         rel=1e-12)
    doc = plan_json(case, outcome)
    assert "rounding" not in doc and "guardrail_prices" not in doc
    assert doc["response"]["multipliers"] == {k: 1.0 for k in case.metric_ids}


def test_grid_options_on_bounds(tmp_path: Path) -> None:
    case = load_case(with_response(CONFORMANCE / "c2_fairness", tmp_path / "c", 0.3))
    opts = grid_options(case, Rounding(0.05, 0.05))
    ids = case.metric_ids
    # margin is required (no off option), activity forbidden (off only).
    assert not opts.off[opts.metric == ids.index("margin")].any()
    assert opts.off[opts.metric == ids.index("activity")].all()
    design = case.spec.design
    for j in range(opts.size):
        if opts.off[j]:
            continue
        k = ids[opts.metric[j]]
        slope = 1.0 / (1.0 - case.metric(k).threshold)
        low, high = case.weight_bounds(k)
        assert low - 1e-9 <= opts.w[j] <= high + 1e-9
        assert (design.accelerator_min * slope * opts.w[j] * (1 - 1e-9) <= opts.u[j]
                <= design.accelerator_max * slope * opts.w[j] * (1 + 1e-9))
        assert round(opts.w[j] / 0.05, 9) == round(opts.w[j] / 0.05)
        assert round(opts.u[j] / 0.05, 9) == round(opts.u[j] / 0.05)


def brute_force(case: Any, coeffs: Any, elasticities: list[float | None] | None = None
                ) -> tuple[float, float, Plan, set[str]]:
    """The best grid plan under response by enumerating every plan of the grid.

    With ``elasticities``: every guardrail under each, ties by the largest expected payout.
    """
    settings = elasticities or [None]
    ctx = ResponseContext.of(case, coeffs)
    opts = grid_options(case, Rounding(0.05, 0.05))
    per_metric = [[(opts.w[j], opts.u[j]) for j in np.flatnonzero(opts.metric == m)]
                  for m in range(len(case.metric_ids))]
    best: tuple[float, float, Plan] | None = None
    binding: set[str] = set()
    for combo in itertools.product(*per_metric):
        w = np.array([c[0] for c in combo])
        u = np.array([c[1] for c in combo])
        if abs(w.sum() - 1.0) > 1e-9 or (w > 0).sum() > case.spec.design.max_metrics:
            continue
        static = evaluate(case, coeffs, w, u)
        if static.broken_rules:
            continue
        plan = Plan.from_vectors(case, w, u)
        each = [evaluate_response(ctx, plan, static=static, elasticity=e).evaluation
                for e in settings]
        broken = [g.name for ev in each for g in ev.violated]
        if broken:
            if len(broken) == 1:
                binding.add(broken[0])
            continue
        under = max(each, key=lambda ev: ev.expected_cost)
        key = (under.alignment, -under.expected_cost)
        if best is None or key[0] > best[0] + 1e-7 * max(1, abs(best[0])) or (
                abs(key[0] - best[0]) <= 1e-7 * max(1, abs(best[0])) and -key[1] < best[1]):
            best = (under.alignment, under.expected_cost, plan)
    assert best is not None
    return (*best, binding)


@pytest.mark.parametrize("method", ["full", "cuts"])
def test_grid_optimum_against_brute_force(tmp_path: Path, method: str) -> None:
    # Two candidates, narrow design rules: every grid plan can be enumerated. Every
    # guardrail is on (CVaR, parity, both tails) and some bind under response.
    folder = brute_case(tmp_path / "bf", budget={"expected_cap": 567700.0, "cvar_level": 0.8,
                                                  "cvar_cap": 662600.0},
                        fairness={"group_by": "segment", "parity_tolerance": 0.088,
                                  "top_share": 0.2, "top_ratio": 1.3067, "bottom_share": 0.25,
                                  "bottom_floor": 0.82})
    case = load_case(folder)
    coeffs = compute_coefficients(case)
    alignment, cost, plan, binding = brute_force(case, coeffs)
    # Each guardrail rules out some grid plans that the others admit.
    assert binding == {"budget_expected", "budget_cvar", "fairness_parity", "fairness_top",
                       "fairness_bottom"}
    outcome = optimise_case(case, tail_method=method)  # type: ignore[arg-type]
    assert outcome.evaluation.alignment == pytest.approx(alignment, rel=1e-9)
    assert outcome.evaluation.expected_cost == pytest.approx(cost, rel=1e-9)
    assert outcome.plan.to_records() == plan.to_records()
    # Under response the budget binds harder than on the history.
    assert outcome.evaluation.expected_cost > outcome.response.static.expected_cost  # type: ignore[union-attr]


def brute_case(folder: Path, budget: dict[str, float],
               fairness: dict[str, Any] | None = None) -> Path:
    """The brute-force case of :func:`test_grid_optimum_against_brute_force`."""
    rng = np.random.default_rng(11)
    n, periods = 24, 6
    reps = [{"rep_id": f"R{i:02d}", "segment": "A" if i % 3 else "B",
             "target_incentive": float(rng.integers(10, 30)) * 1000} for i in range(n)]
    x = {"p": rng.gamma(6.0, 0.17, size=(n, periods)), "q": rng.gamma(3.0, 0.33, size=(n, periods))}
    tables: dict[str, dict[str, Any]] = {
        "case": {"name": "Brute force"},
        "goals": {"g": 1.0, "h": 0.5},
        "metrics.p": {"threshold": 0.5, "cap": 1.8, "alignment": {"g": 1.0}},
        "metrics.q": {"threshold": 0.3, "cap": 2.0, "alignment": {"h": 1.0, "g": 0.2}},
        "design": {"max_metrics": 2, "min_weight": 0.3, "max_weight": 0.7,
                   "accelerator_min": 1.0, "accelerator_max": 1.3},
        "budget": budget,
        "fairness": fairness or {"group_by": "segment", "parity_tolerance": 0.088},
        "response": {"baseline": "base.toml", "elasticity": 0.4, "max_change": 0.3},
    }
    write_case(folder, tables, reps, x)
    (folder / "base.toml").write_text('[[metrics]]\nid = "p"\nweight = 0.5\n'
                                      'accelerator_rate = 1.0\n\n[[metrics]]\nid = "q"\n'
                                      'weight = 0.5\naccelerator_rate = 0.8\n')
    return folder


def cheapest_by_brute_force(case: Any) -> float:
    """The least expected payout under response of a grid plan meeting parity."""
    coeffs = compute_coefficients(case)
    ctx = ResponseContext.of(case, coeffs)
    opts = grid_options(case, Rounding(0.05, 0.05))
    per_metric = [[(opts.w[j], opts.u[j]) for j in np.flatnonzero(opts.metric == m)]
                  for m in range(len(case.metric_ids))]
    least = np.inf
    for combo in itertools.product(*per_metric):
        w, u = np.array([c[0] for c in combo]), np.array([c[1] for c in combo])
        if abs(w.sum() - 1.0) > 1e-9:
            continue
        under = evaluate_response(ctx, Plan.from_vectors(case, w, u)).evaluation
        if under.max_parity_gap is not None and under.max_parity_gap <= 0.088:
            least = min(least, under.expected_cost)
    return float(least)


def test_min_budget_and_diagnosis_under_response(tmp_path: Path) -> None:
    folder = brute_case(tmp_path / "b", {"expected_cap": 400000.0})
    case = load_case(folder)
    least = cheapest_by_brute_force(case)
    assert 400000.0 < least < 567700.0
    result = compplan.min_budget(case)
    assert result.evaluation is not None
    assert result.evaluation.expected_cost == pytest.approx(least, rel=1e-9)
    assert result.response is not None  # the cheapest plan's figures under response
    assert result.response.evaluation.expected_cost == pytest.approx(least, rel=1e-9)
    # Below it no grid plan fits: exit 3, and the diagnosis names the cap that works.
    run = invoke("optimise", str(folder), "--out", str(tmp_path / "p"))
    assert_exit(run, 3)
    report = json.loads((tmp_path / "p" / "infeasibility.json").read_text())
    assert [c["guardrail"] for c in report["conflict"]] == ["budget_expected"]
    assert report["min_expected_cap"] == pytest.approx(least, rel=1e-9)
    assert "no plan satisfies the constraints under response" in run.output


def test_robust_design_against_brute_force(tmp_path: Path) -> None:
    # Every guardrail under each elasticity of the list; ties: the least largest payout.
    folder = brute_case(tmp_path / "r", {"expected_cap": 540000.0})
    case = load_case(folder)
    coeffs = compute_coefficients(case)
    elasticities: list[float | None] = [0.0, 0.4, 0.8]
    alignment, cost, plan, _ = brute_force(case, coeffs, elasticities)
    single, _, _, _ = brute_force(case, coeffs)
    assert alignment < single  # holding under 0.8 too costs alignment
    result = compplan.optimise(case, elasticity=[0.0, 0.4, 0.8])
    assert result.plan is not None and result.outcome is not None
    assert result.plan.to_records() == plan.to_records()
    band = result.outcome.response_band
    assert [b.elasticity for b in band] == [0.0, 0.4, 0.8]
    assert max(b.evaluation.expected_cost for b in band) == pytest.approx(cost, rel=1e-9)
    assert all(not b.evaluation.violated for b in band)
    doc = result.document
    assert [b["elasticity"] for b in doc["response"]["elasticities"]] == [0.0, 0.4, 0.8]
    run = invoke("optimise", str(folder), "--out", str(tmp_path / "p"), "--elasticity",
                 "0,0.4,0.8")
    assert_exit(run, 0)
    assert "attainment under response (elasticity 0.8): " in run.output


def test_compare_under_response(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    result = invoke("compare", str(folder), "current", str(folder / "new_plan.toml"), "--out",
                    str(tmp_path / "cmp"), "--elasticity", "0.1")
    assert_exit(result, 0)
    frame = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    row = frame.set_index("key").loc["expected_payout"]
    assert float(row["new_plan under response"]) == pytest.approx(48.2)
    assert float(row["new_plan static"]) == pytest.approx(44.0)
    assert float(row["current under response"]) == pytest.approx(40.0)
    # 80 * (0.75 * 0.6 * 1.05 + 0.25 * 0.4 * 0.95)
    assert float(row["new_plan, elasticity 0.1"]) == pytest.approx(80 * (0.4725 + 0.095))
    # The API's one door (compplan.compare) gives the same file and refuses what the
    # command refuses: an elasticity for a case without [response], or an organisation's.
    found = compplan.compare(folder, ["current", str(folder / "new_plan.toml")],
                             elasticity=[0.1])
    assert found.csv == (tmp_path / "cmp" / "compare.csv").read_text()
    (tmp_path / "x.toml").write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\n'
                                     'accelerator_rate = 2.0\n')
    with pytest.raises(UsageError, match="has no \\[response\\] table"):
        compplan.compare(CONFORMANCE / "c1_budget_only", [str(tmp_path / "x.toml")] * 2,
                         elasticity=0.1)
    refused = invoke("compare", str(Path(__file__).parent.parent / "cases" / "gtm_org"),
                     "current", "current", "--elasticity", "0.1", "--out",
                     str(tmp_path / "org"))
    assert_exit(refused, 2)
    assert "--elasticity applies to a case folder with [response]" in refused.output


def test_monte_carlo_draws_are_scaled(tmp_path: Path) -> None:
    # Monte Carlo scenarios are drawn as in section 5, then scaled by the multipliers.
    folder = worked_case(tmp_path / "w")
    text = (folder / "case.toml").read_text()
    (folder / "case.toml").write_text(text + '\n[scenarios]\nmode = "montecarlo"\ncount = 50\n'
                                      "seed = 3\n")
    case = load_case(folder)
    ev = compplan.evaluate(case, folder / "new_plan.toml")
    assert ev.response is not None
    from compplan.models.scenarios import build_scenarios

    x = build_scenarios(case).block(0, 1).astype(np.float64)[0]  # (metrics, draws)
    lam = np.array([ev.response.multipliers["a"], ev.response.multipliers["b"]])
    phi, psi = curves((x * lam[:, None])[None], np.zeros(2), np.full(2, 2.0))
    paid = 80 * (0.75 * (phi[0, 0] + psi[0, 0]) + 0.25 * (phi[0, 1] + psi[0, 1]))
    assert ev.expected_cost == pytest.approx(float(paid.mean()), rel=1e-9)


def test_batch_varies_the_elasticity(tmp_path: Path) -> None:
    folder = brute_case(tmp_path / "b", {"expected_cap": 567700.0})
    spec = tmp_path / "spec.toml"
    spec.write_text(f'case = "{folder}"\n\n[grid]\n"response.elasticity" = [0.0, 0.4]\n')
    report = compplan.batch(spec, tmp_path / "out", chart=False, prices=False)
    frame = report.to_frame()
    assert list(frame["status"]) == ["optimal", "optimal"]
    for e, cost in zip([0.0, 0.4], frame["expected_cost"], strict=True):
        case = load_case(folder)
        data = case.spec.model_dump()
        data["response"]["elasticity"] = e
        changed = replace(case, spec=CaseSpec.model_validate(data))
        assert cost == pytest.approx(optimise_case(changed).evaluation.expected_cost, rel=1e-9)
    bad = tmp_path / "bad.toml"
    bad.write_text(f'case = "{folder}"\n\n[grid]\n"response.baseline" = ["x.toml"]\n')
    with pytest.raises(CaseError, match="names the plan read with the case"):
        compplan.batch(bad, tmp_path / "out2")


def test_organisation_role_with_response_is_loaded(tmp_path: Path) -> None:
    # Section 10: each role's [response] applies to that role (the joint problem on the
    # grid: tests/test_org_response.py).
    org = tmp_path / "org"
    shutil.copytree(Path(__file__).parent.parent / "cases" / "gtm_org", org)
    with (org / "ae" / "case.toml").open("a") as f:
        f.write('\n[response]\nbaseline = "current_plan.toml"\nelasticity = 0.2\n')
    loaded = compplan.load_org(org)
    response = loaded.role("ae").case.spec.response
    assert response is not None and response.elasticity == 0.2
    assert loaded.role("sdr").case.spec.response is None


def test_explain_says_what_the_plan_costs_if_it_works(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    doc = compplan.explain(folder / "new_plan.toml", folder)
    assert ("If the team shifts toward what this plan pays for, as it intends (a up about 15% "
            "and b down about 15%), the plan costs 48.20 USD per period in all, against 44.00 "
            "USD if everyone sells what they sold last year.") in doc.markdown


def test_rep_payouts_under_response(tmp_path: Path) -> None:
    folder = worked_case(tmp_path / "w")
    result = invoke("evaluate", str(folder), str(folder / "new_plan.toml"), "--out",
                    str(tmp_path / "ev"), "-q")
    assert_exit(result, 0)
    reps = pd.read_csv(tmp_path / "ev" / "rep_payouts.csv")
    assert reps["expected_payout"].tolist() == pytest.approx([44.0])
    assert reps["expected_payout_under_response"].tolist() == pytest.approx([48.2])


def test_pulse_reports_the_realised_response(tmp_path: Path) -> None:
    # Two periods of history at 600 and 400 units; the first period under the new plan
    # lands at 690 and 340: multipliers 1.15 and 0.85, elasticity 0.3 on both.
    folder = worked_case(tmp_path / "w", periods=2)
    (tmp_path / "actuals.csv").write_text("rep_id,period,a,b\nR1,Q1,0.69,0.34\n")
    result = invoke("pulse", str(folder), str(folder / "new_plan.toml"), "--actuals",
                    str(tmp_path / "actuals.csv"), "--out", str(tmp_path / "pulse"))
    assert_exit(result, 0)
    doc = json.loads((tmp_path / "pulse" / "pulse.json").read_text())
    assert doc["response"]["realised"] == pytest.approx({"a": 1.15, "b": 0.85})
    assert doc["response"]["implied_elasticity"] == pytest.approx({"a": 0.3, "b": 0.3})


def test_min_budget_under_response_is_the_least_cost() -> None:
    """Issue 19's rule under response: a cap at min-budget's figure admits its plan."""
    case = load_case(Path(__file__).parent.parent / "cases" / "subscription_response")
    least = compplan.min_budget(case).raise_for_status().evaluation.expected_cost
    assert least == pytest.approx(11_622_358.907232385, rel=1e-9)
    budget = case.spec.budget.model_copy(update={"expected_cap": least})
    capped = replace(case, spec=case.spec.model_copy(update={"budget": budget}))
    found = compplan.optimise(capped).raise_for_status()
    assert found.evaluation.expected_cost <= least
