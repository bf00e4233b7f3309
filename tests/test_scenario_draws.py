"""Monte Carlo draws: the metric-at-a-time arithmetic and the blocks kept between passes.

The draw is checked bit for bit against the whole-array arithmetic it replaced (written
out below as the reference), and a second pass over the scenarios against a first one.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from compplan.models import scenarios as scenarios_module
from compplan.models.case import Case, load_case
from compplan.models.scenarios import BLOCK_REPS, build_scenarios
from compplan.optimizer.coefficients import compute_coefficients


def lumpy_case(make_case: Callable[..., Path], n_reps: int = 2 * BLOCK_REPS + 9) -> Case:
    """Two metrics, one with exact zeros in about a fifth of the periods."""
    rng = np.random.default_rng(11)
    steady = np.clip(rng.normal(1.0, 0.2, (n_reps, 8)), 0, None)
    lumpy = np.where(rng.random((n_reps, 8)) < 0.2, 0.0, rng.lognormal(0, 0.3, (n_reps, 8)))
    tables = {"goals": {"g": 1.0},
              "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}},
              "metrics.b": {"threshold": 0.4, "cap": 2.5, "alignment": {"g": 0.5}},
              "scenarios": {"mode": "montecarlo", "count": 37, "seed": 4}}
    reps = [{"rep_id": f"R{i:04d}", "target_incentive": 1000.0} for i in range(n_reps)]
    return load_case(make_case(tables, reps, {"a": np.round(steady, 4),
                                              "b": np.round(lumpy, 4)}))


def reference_draw(c: Any, start: int, stop: int) -> np.ndarray:
    """The whole-array form of ``_Calibration.draw`` before it worked a metric at a time."""
    seed, common, chol = c.seed, c.common, c.chol
    rng = np.random.Generator(np.random.PCG64([seed, 1, start // BLOCK_REPS]))
    n_scen, n_metrics = common.shape
    normals = rng.standard_normal((n_metrics, (stop - start) * n_scen))
    grid = np.rint(normals * 2.0**16, out=normals)
    np.clip(grid, -(2.0**20 - 1), 2.0**20 - 1, out=grid)
    own = np.rint(chol * 2.0**24) @ grid
    own *= 2.0**-40
    x = own.reshape(n_metrics, stop - start, n_scen)
    x += (np.sqrt(c.common_share)[:, None] * common.T)[:, None, :]
    x *= c.slope[start:stop].T[:, :, None]
    x += c.offset[start:stop].T[:, :, None]
    out = x.astype(np.float32)
    np.maximum(out, 0.0, out=out)
    zeros = list(c.zero_metrics)
    if zeros:
        floor = c.floor[start:stop, zeros].T[:, :, None].astype(np.float32)
        part = out[zeros] if len(zeros) < n_metrics else out
        part *= part >= floor
        if len(zeros) < n_metrics:
            out[zeros] = part
    return out.transpose(1, 0, 2)


def test_the_draw_is_the_whole_array_arithmetic_bit_for_bit(
        make_case: Callable[..., Path]) -> None:
    case = lumpy_case(make_case)
    cal = build_scenarios(case)._calibration
    assert cal is not None and cal.zero_metrics == (1,)
    n = case.attainment.shape[0]
    for start in range(0, n, BLOCK_REPS):
        stop = min(start + BLOCK_REPS, n)
        got, want = cal.draw(start, stop), reference_draw(cal, start, stop)
        assert got.shape == want.shape == (stop - start, 2, 37)
        assert got.dtype == np.float32
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    # Exact zeros below the thresholds survive (about a fifth of the lumpy metric).
    share = float((cal.draw(0, BLOCK_REPS)[:, 1, :] == 0.0).mean())
    assert 0.05 < share < 0.4


def test_a_second_pass_reads_the_blocks_kept_from_the_first(
        make_case: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    case = lumpy_case(make_case)
    scen = build_scenarios(case)
    first = [x for _, x in scen.chunks(BLOCK_REPS)]
    second = [x for _, x in scen.chunks(BLOCK_REPS)]
    for a, b in zip(first, second, strict=True):
        assert a is b  # the same block, not drawn again
        assert not a.flags.writeable  # a caller cannot change the next pass's scenarios
    # Without a budget nothing is kept, and the figures are the same.
    monkeypatch.setattr(scenarios_module, "KEEP_BYTES", 0)
    cold = build_scenarios(case)
    again = [x for _, x in cold.chunks(BLOCK_REPS)]
    assert all(x.flags.writeable for x in again)
    assert np.array_equal(np.concatenate(first), np.concatenate(again))
    kept = compute_coefficients(case, scen)
    drawn = compute_coefficients(case, cold)
    assert np.array_equal(kept.scen_w, drawn.scen_w) and np.array_equal(kept.rep_u, drawn.rep_u)
    assert np.array_equal(kept.step, drawn.step)


def test_kept_blocks_are_freed_with_their_scenarios(make_case: Callable[..., Path]) -> None:
    case = lumpy_case(make_case)
    gc.collect()
    before = scenarios_module._kept_bytes[0]
    scen = build_scenarios(case)
    list(scen.chunks(BLOCK_REPS))
    # 137 reps x 2 metrics x 37 scenarios of float32, in three blocks.
    assert scenarios_module._kept_bytes[0] - before == 137 * 2 * 37 * 4
    del scen
    gc.collect()
    assert scenarios_module._kept_bytes[0] == before
