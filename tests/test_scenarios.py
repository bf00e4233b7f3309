"""Monte Carlo scenarios: reproducible, independent of chunking, calibrated to the history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from compplan.models.case import Case, load_case
from compplan.models.scenarios import BLOCK_REPS, build_scenarios
from compplan.optimizer.coefficients import compute_coefficients


def history_case(make_case: Callable[..., Path], n_reps: int = 300, seed: int = 5,
                 count: int = 400, mc_seed: int = 7) -> Case:
    rng = np.random.default_rng(seed)
    n_periods = 8
    shock = rng.normal(0, 0.15, size=(1, n_periods))  # common to every rep in a period
    skill = rng.lognormal(0, 0.2, size=(n_reps, 1))
    a = np.clip(skill + shock + rng.normal(0, 0.2, (n_reps, n_periods)), 0, None)
    b = np.clip(0.5 * a + 0.5 + rng.normal(0, 0.1, (n_reps, n_periods)), 0, None)
    tables = {"goals": {"g": 1.0},
              "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}},
              "metrics.b": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 0.5}},
              "scenarios": {"mode": "montecarlo", "count": count, "seed": mc_seed}}
    reps = [{"rep_id": f"R{i:04d}", "target_incentive": 1000.0} for i in range(n_reps)]
    return load_case(make_case(tables, reps, {"a": np.round(a, 4), "b": np.round(b, 4)}))


def draws(case: Case, size: int) -> np.ndarray:
    return np.concatenate([x for _, x in build_scenarios(case).chunks(size)], axis=0)


def test_same_seed_same_scenarios_whatever_the_chunk(make_case: Callable[..., Path]) -> None:
    case = history_case(make_case, n_reps=2 * BLOCK_REPS + 17, count=20)
    first = draws(case, BLOCK_REPS)
    again = draws(case, 3 * BLOCK_REPS)
    assert first.shape == (2 * BLOCK_REPS + 17, 2, 20)
    assert np.array_equal(first, again)
    assert np.array_equal(first, draws(case, 1))


def test_other_seed_other_scenarios(make_case: Callable[..., Path]) -> None:
    one = draws(history_case(make_case, mc_seed=1, count=50), BLOCK_REPS)
    two = draws(history_case(make_case, mc_seed=2, count=50), BLOCK_REPS)
    assert not np.array_equal(one, two)


def test_calibrated_to_history(make_case: Callable[..., Path]) -> None:
    case = history_case(make_case)
    x = draws(case, BLOCK_REPS)
    history = case.attainment
    assert (x >= 0).all() and np.isfinite(x).all()
    # Per rep and metric levels follow the history (the mean over 400 draws).
    level_error = np.abs(x.mean(axis=2) - history.mean(axis=2))
    assert np.median(level_error) < 0.03
    # The correlation between metrics survives.
    hist_corr = np.corrcoef((history - history.mean(axis=2, keepdims=True))
                            .transpose(1, 0, 2).reshape(2, -1))[0, 1]
    sim_corr = np.corrcoef((x - x.mean(axis=2, keepdims=True))
                           .transpose(1, 0, 2).reshape(2, -1))[0, 1]
    assert sim_corr == pytest.approx(hist_corr, abs=0.08)
    # A common shock: the history's period shock has sd 0.15; without one, the mean over
    # 300 reps would move by about 0.2 / sqrt(300) = 0.012 between scenarios.
    scenario_means = x[:, 0, :].mean(axis=0)
    assert scenario_means.std() > 0.08


def test_historical_scenarios_are_the_periods(make_case: Callable[..., Path]) -> None:
    case = history_case(make_case)
    historical = replace(case, spec=case.spec.model_copy(
        update={"scenarios": case.spec.scenarios.model_copy(
            update={"mode": "historical", "count": None, "seed": None})}))
    scen = build_scenarios(historical)
    assert scen.count == 8 and scen.labels == tuple(f"P{t:02d}" for t in range(1, 9))
    assert np.array_equal(draws(historical, 100), case.attainment)


def test_montecarlo_coefficients_reproducible(make_case: Callable[..., Path]) -> None:
    case = history_case(make_case, count=100)
    one = compute_coefficients(case)
    two = compute_coefficients(case)
    assert np.array_equal(one.scen_w, two.scen_w) and np.array_equal(one.align_u, two.align_u)
    assert one.scen_w.shape == (100, 2)
