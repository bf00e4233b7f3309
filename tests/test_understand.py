"""The alignment's readings (optimizer/understand.py), against figures computed by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pytest import approx

from compplan.models.case import load_case
from compplan.models.plan import load_plan
from compplan.optimizer.coefficients import compute_coefficients
from compplan.optimizer.pipeline import optimise_case
from compplan.optimizer.understand import best_alignment, readings, sentences

PLAN = ('[[metrics]]\nid = "a"\nweight = 0.5\naccelerator_rate = 1.0\n'
        '[[metrics]]\nid = "b"\nweight = 0.5\naccelerator_rate = 1.0\n')


@pytest.fixture
def case_dir(make_case: Callable[..., Path]) -> Path:
    # One period; every attainment on the rising part below target, a step of 0.1:
    # a step pays w / (1 - threshold) * 0.1 = 0.5 * 2 * 0.1 = 0.1 of target on each metric.
    tables = {"case": {"name": "readings", "currency": "EUR"},
              "goals": {"growth": 1.0, "margin": 0.0},
              "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"growth": 1.0},
                            "step": 0.1},
              "metrics.b": {"threshold": 0.5, "cap": 2.0, "alignment": {"growth": -0.5},
                            "step": 0.1},
              "design": {"max_metrics": 2}}
    reps = [{"rep_id": "R1", "target_incentive": 1000.0},
            {"rep_id": "R2", "target_incentive": 3000.0}]
    folder = make_case(tables, reps, {"a": [[0.7], [0.8]], "b": [[0.6], [0.75]]})
    (folder / "plan.toml").write_text(PLAN)
    return folder


def test_readings_by_hand(case_dir: Path) -> None:
    case = load_case(case_dir)
    coeffs = compute_coefficients(case)
    plan = load_plan(case, str(case_dir / "plan.toml"))
    r = readings(case, coeffs, plan, alignment=0.05, best=0.2)
    # U_a = U_b = 0.1: half of the pay for progress is on the metric that serves growth.
    assert r.toward_strategy == approx(0.5)
    # Mean target incentive 2,000 x (1.0 x 0.1 - 0.5 x 0.1) = 100 EUR toward growth; a goal
    # of priority 0 is not listed.
    assert r.per_goal == approx({"growth": 100.0})
    assert r.per_metric == approx({"a": 200.0, "b": 200.0})
    assert r.of_best == approx(0.25)
    assert sentences(r) == [
        "25% of the best plan within the same guardrails",
        "50% of the plan's pay for progress points at the strategy",
        "what a typical rep earns for one step of progress: growth 100 EUR"]
    assert sentences(r, designed=True)[0] == (
        "100% of the best plan within the same guardrails (it is that plan)")


def test_best_alignment_is_the_optimum(case_dir: Path) -> None:
    case = load_case(case_dir)
    best = best_alignment(case)
    # Only metric a serves the strategy: all weight on it, the step pays 1.0 * 2 * 0.1.
    assert best == approx(optimise_case(case).evaluation.alignment)
    assert best == approx(0.2)
