"""Monte Carlo scenarios: reproducible, independent of chunking, calibrated to the history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from compplan.models.case import Case, load_case
from compplan.models.plan import Plan
from compplan.models.scenarios import (
    BLOCK_REPS,
    LONG_HISTORY,
    MIN_COMMON_SHARE,
    build_scenarios,
    joint_statistics,
    rep_statistics,
)
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


def test_any_range_gives_the_draws_of_the_whole(make_case: Callable[..., Path]) -> None:
    case = history_case(make_case, n_reps=3 * BLOCK_REPS + 5, count=30)
    scen = build_scenarios(case)
    whole = scen.block(0, scen.n_reps)
    for start, stop in [(0, 1), (5, 70), (63, 65), (BLOCK_REPS, 2 * BLOCK_REPS + 3),
                        (100, 3 * BLOCK_REPS + 5), (3 * BLOCK_REPS, 3 * BLOCK_REPS + 5)]:
        assert np.array_equal(scen.block(start, stop), whole[start:stop]), (start, stop)


# A long synthetic history whose truth is known: 60 periods, three metrics; a shock
# common to all reps with correlation COMMON between metrics and standard deviations
# COMMON_SD, each rep's own draw with correlation OWN and OWN_SD; metric c is zero in
# a share ZERO[r % 4] of each rep's periods (the zeros fall in its lowest draws).
COMMON = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.6], [0.5, 0.6, 1.0]])
OWN = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 1.0]])
COMMON_SD = np.array([0.15, 0.10, 0.20])
OWN_SD = np.array([0.20, 0.15, 0.30])
ZERO = np.array([0.0, 0.1, 0.2, 0.3])


def long_history_case(make_case: Callable[..., Path], n_reps: int = 200,
                      n_periods: int = 60, count: int = 2000) -> Case:
    rng = np.random.default_rng(11)
    level = 1.0 + rng.normal(0.0, 0.1, (n_reps, 3))
    shock = rng.standard_normal((n_periods, 3)) @ np.linalg.cholesky(COMMON).T * COMMON_SD
    own = rng.standard_normal((n_reps, n_periods, 3)) @ np.linalg.cholesky(OWN).T * OWN_SD
    x = np.maximum(level[:, None, :] + shock[None] + own, 0.0)  # (N, T, M)
    zero_share = ZERO[np.arange(n_reps) % 4]
    for r in range(n_reps):
        lowest = np.argsort(x[r, :, 2])[:round(zero_share[r] * n_periods)]
        x[r, lowest, 2] = 0.0
    tables = {"goals": {"g": 1.0},
              **{f"metrics.{m}": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}}
                 for m in "abc"},
              "scenarios": {"mode": "montecarlo", "count": count, "seed": 3}}
    reps = [{"rep_id": f"R{i:04d}", "target_incentive": 1000.0} for i in range(n_reps)]
    return load_case(make_case(tables, reps, {m: np.round(x[:, :, j], 4)
                                              for j, m in enumerate("abc")}))


def test_long_history_the_truth_is_recovered(make_case: Callable[..., Path]) -> None:
    case = long_history_case(make_case)
    history = case.attainment
    joint = joint_statistics(history, rep_statistics(history))
    # The common share of a and b (no zeros): sd_c^2 / (sd_c^2 + sd_o^2) = 0.36 and 0.31.
    truth = COMMON_SD**2 / (COMMON_SD**2 + OWN_SD**2)
    assert joint.common_share[:2] == pytest.approx(truth[:2], abs=0.08)
    x = draws(case, 256).astype(np.float64)
    # The period totals move together as the common shock says (60 periods of history:
    # sampling error about 0.05 on each correlation).
    totals = np.corrcoef(x.mean(axis=0))
    assert totals[0, 1] == pytest.approx(COMMON[0, 1], abs=0.1)
    assert totals[1, 2] == pytest.approx(COMMON[1, 2], abs=0.15)
    assert totals[0, 2] == pytest.approx(COMMON[0, 2], abs=0.15)
    # Each rep keeps its share of zeros on c (within 3 points on average per group).
    zeros = (x[:, 2, :] == 0).mean(axis=1)
    for g, share in enumerate(ZERO):
        assert zeros[g::4].mean() == pytest.approx(share, abs=0.03)
    assert (x[:, :2, :] == 0).mean() < 0.001
    # Per rep and metric level and spread, against the rep's own history.
    level = np.abs(x.mean(axis=2) - history.mean(axis=2)) / history.std(axis=2)
    spread = x.std(axis=2) / history.std(axis=2)
    assert np.median(level) < 0.05
    assert np.median(spread) == pytest.approx(1.0, abs=0.03)
    assert np.quantile(spread, 0.05) > 0.9 and np.quantile(spread, 0.95) < 1.1


BUNDLED = Path(__file__).parent.parent / "cases"


def _with_scenarios(case: Case, **update: object) -> Case:
    spec = case.spec.scenarios.model_copy(update=update)
    return replace(case, spec=case.spec.model_copy(update={"scenarios": spec}))


def _plan_totals(case: Case) -> np.ndarray:
    """Total payout of today's plan per scenario."""
    assert case.current_plan is not None
    w, u = Plan.from_spec(case, case.current_plan).vectors(case)
    coeffs = compute_coefficients(case)
    return (coeffs.scen_w @ w + coeffs.scen_u @ u) * coeffs.ti_total


@pytest.fixture(scope="module", params=["enterprise_first", "cloud_transition",
                                        "subscription_shift"])
def bundled(request: pytest.FixtureRequest) -> tuple[Case, Case]:
    """A bundled case's history and 1,000 Monte Carlo scenarios calibrated to it."""
    case = load_case(BUNDLED / request.param)
    return (_with_scenarios(case, mode="historical", count=None, seed=None),
            _with_scenarios(case, mode="montecarlo", count=1000, seed=1))


def test_bundled_rep_metrics_keep_level_spread_and_zeros(bundled: tuple[Case, Case]) -> None:
    history_case, mc = bundled
    history = history_case.attainment
    x = draws(mc, 256).astype(np.float64)
    sd = history.std(axis=2)
    varies = sd > 0
    level = np.abs(x.mean(axis=2) - history.mean(axis=2))[varies] / sd[varies]
    spread = (x.std(axis=2)[varies] / sd[varies])
    assert np.median(level) < 0.05  # 1,000 draws: sampling error about 0.03 sd
    assert np.median(spread) == pytest.approx(1.0, abs=0.03)
    # Zero shares per metric within 3 points (the issue: 20.2 % became 9.6 %).
    hist_zeros = (history == 0).mean(axis=(0, 2))
    mc_zeros = (x == 0).mean(axis=(0, 2))
    assert np.abs(mc_zeros - hist_zeros).max() < 0.03
    # Period totals move together as in the history (was: 0.94 against 0.17).
    upper = np.triu_indices(history.shape[1], 1)
    hist_corr = np.corrcoef(history.mean(axis=0))[upper]
    mc_corr = np.corrcoef(x.mean(axis=0))[upper]
    assert np.abs(mc_corr.mean() - hist_corr.mean()) < 0.05
    assert np.abs(mc_corr - hist_corr).max() < 0.15


def test_bundled_plan_payout_keeps_its_risk(bundled: tuple[Case, Case]) -> None:
    history_case, mc = bundled
    hist_total, mc_total = _plan_totals(history_case), _plan_totals(mc)
    assert mc_total.mean() == pytest.approx(hist_total.mean(), rel=0.03)

    def spread(t: np.ndarray) -> float:
        return float(np.quantile(t, 0.9) - np.quantile(t, 0.1))

    assert spread(mc_total) == pytest.approx(spread(hist_total), rel=0.15)


def test_zeros_kept_when_the_positive_values_do_not_vary(make_case: Callable[..., Path]) -> None:
    # A lumpy metric: one deal (attainment 1.2) or none, 3 periods in 10 without.
    lumpy = [[0.0, 1.2, 1.2, 0.0, 1.2, 1.2, 1.2, 1.2, 1.2, 0.0]] * 4
    steady = [[1.0, 1.1, 0.9, 1.0, 1.2, 0.8, 1.0, 1.1, 0.9, 1.0]] * 4
    tables = {"goals": {"g": 1.0},
              "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}},
              "metrics.b": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}},
              "scenarios": {"mode": "montecarlo", "count": 4000, "seed": 2}}
    reps = [{"rep_id": f"R{i}", "target_incentive": 1000.0} for i in range(4)]
    case = load_case(make_case(tables, reps, {"a": lumpy, "b": steady}))
    x = draws(case, BLOCK_REPS)
    assert (x[:, 0] == 0).mean() == pytest.approx(0.3, abs=0.02)
    assert np.allclose(x[:, 0][x[:, 0] > 0], 1.2, atol=1e-3)
    assert (x[:, 1] == 0).mean() == 0


def test_common_share_floor_only_while_the_history_is_short() -> None:
    # No common shock at all: the history's own estimate is about 0. A short history
    # cannot tell, so the floor keeps the total's spread; a long one is believed.
    rng = np.random.default_rng(4)
    for periods, low in ((12, MIN_COMMON_SHARE), (LONG_HISTORY, 0.0)):
        history = np.maximum(1.0 + 0.2 * rng.standard_normal((500, 2, periods)), 0.0)
        share = joint_statistics(history, rep_statistics(history)).common_share
        assert (share >= low).all()
        if low == 0.0:
            assert (share < 0.02).all()
        else:
            assert (share == MIN_COMMON_SHARE).all()
