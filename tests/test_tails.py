"""Tail means, and the cutting-plane model against the full Rockafellar-Uryasev model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from compplan.models.case import load_case
from compplan.optimizer.coefficients import compute_coefficients
from compplan.optimizer.solve import Status, solve
from compplan.optimizer.tails import tail_mean, tail_weights


def ru_tail_mean(values: np.ndarray, share: float) -> float:
    """min over eta of eta + mean((v - eta)+) / share, checked at every value (exact)."""
    return min(eta + np.maximum(values - eta, 0).sum() / (share * len(values))
               for eta in values)


@pytest.mark.parametrize("share", [0.05, 0.1, 0.25, 0.3, 1 / 3, 0.5, 0.9, 1.0])
def test_tail_mean_matches_rockafellar_uryasev(share: float) -> None:
    values = np.random.default_rng(3).normal(size=37)
    assert tail_mean(values, share, True) == pytest.approx(ru_tail_mean(values, share))
    # The lower tail of v is minus the upper tail of -v.
    assert tail_mean(values, share, False) == pytest.approx(-ru_tail_mean(-values, share))


def test_tail_weights_are_a_vertex() -> None:
    weights = tail_weights(np.array([5.0, 1.0, 3.0, 4.0, 2.0]), 0.3, True)
    # 0.3 * 5 = 1.5 values: the largest gets 1/1.5, the next the remaining 1/3.
    assert weights == pytest.approx([2 / 3, 0, 0, 1 / 3, 0])


def random_case(make_case: Callable[..., Path], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    n_reps, n_periods = 60, 6
    skill = rng.lognormal(0, 0.25, size=(n_reps, 1))
    attainment = {m: np.round(np.clip(skill * rng.lognormal(0, 0.3, (n_reps, n_periods)),
                                      0, None), 4) for m in ("a", "b", "c", "d")}
    reps = [{"rep_id": f"R{i:03d}", "segment": "NS"[i % 2],
             "target_incentive": float(rng.integers(10, 40) * 1000)} for i in range(n_reps)]
    ti_total = sum(r["target_incentive"] for r in reps)
    tables = {
        "goals": {"growth": 0.6, "margin": 0.4},
        "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"growth": 1.0}},
        "metrics.b": {"threshold": 0.6, "cap": 1.5, "alignment": {"margin": 1.0}},
        "metrics.c": {"threshold": 0.3, "cap": 2.5, "alignment": {"growth": 0.5}},
        "metrics.d": {"threshold": 0.5, "cap": 1.8, "alignment": {"growth": -0.3, "margin": 0.5}},
        "design": {"max_metrics": 3, "min_weight": 0.1, "max_weight": 0.7,
                   "accelerator_min": 0.5, "accelerator_max": 3.0},
        "budget": {"expected_cap": 1.3 * ti_total, "cvar_level": 0.8,
                   "cvar_cap": 1.35 * ti_total},
        "fairness": {"group_by": "segment", "parity_tolerance": 0.1, "top_share": 0.1,
                     "top_ratio": 1.6, "bottom_share": 0.2, "bottom_floor": 0.55},
    }
    return make_case(tables, reps, attainment)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cuts_and_full_model_agree(make_case: Callable[..., Path], seed: int) -> None:
    case = load_case(random_case(make_case, seed))
    coeffs = compute_coefficients(case)
    full = solve(case, coeffs, tail_method="full")
    cuts = solve(case, coeffs, tail_method="cuts")
    assert full.status is cuts.status
    if full.status is not Status.OPTIMAL:
        return
    assert full.w is not None and cuts.w is not None and full.u is not None and cuts.u is not None
    align_full = coeffs.objective_w @ full.w + coeffs.objective_u @ full.u
    align_cuts = coeffs.objective_w @ cuts.w + coeffs.objective_u @ cuts.u
    assert align_cuts == pytest.approx(align_full, rel=1e-6)
    cost_full = coeffs.cost_w @ full.w + coeffs.cost_u @ full.u
    cost_cuts = coeffs.cost_w @ cuts.w + coeffs.cost_u @ cuts.u
    assert cost_cuts == pytest.approx(cost_full, rel=1e-6)
    # The cut model stays small: its rows do not grow with reps or scenarios.
    assert cuts.rows < full.rows
    assert sum(cuts.cuts.values()) >= 1
