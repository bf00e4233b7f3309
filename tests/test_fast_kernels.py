"""The faster forms of the Monte Carlo arithmetic give the same values, bit for bit.

Each is checked against the plain whole-array form it replaced (written out below):
the per-metric partial sums of a chunk, the calibration's statistics in blocks of reps,
the correlation's pairs over contiguous rows, a history's spread in blocks of rows, and
the huge-pages switch of models/pages.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from compplan.models import pages
from compplan.models import scenarios as sc
from compplan.optimizer import coefficients as co


def reference_partial(x: np.ndarray, weight: np.ndarray, c: co._Curves) -> co._Partial:
    """``_partial`` without a mask as it was: curves of the whole chunk, then einsum."""
    w, th, ka, st = (a.astype(x.dtype) for a in (weight, c.theta, c.kappa, c.step))
    phi, psi = co.curves(x, th, ka)
    up_phi, up_psi = co.curves(x + st[None, :, None], th, ka)
    up_phi -= phi
    up_psi -= psi
    return co._Partial(np.einsum("r,rms->ms", w, phi), np.einsum("r,rms->ms", w, psi),
                       np.einsum("rms->rm", phi) / c.n_scen,
                       np.einsum("rms->rm", psi) / c.n_scen,
                       np.einsum("r,rms->ms", w, up_phi), np.einsum("r,rms->ms", w, up_psi))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n_reps", "n_metrics", "n_scen"), [(64, 20, 500), (37, 3, 11)])
def test_a_chunk_summed_metric_by_metric_is_the_whole_chunk_bit_for_bit(
        dtype: type, n_reps: int, n_metrics: int, n_scen: int) -> None:
    rng = np.random.default_rng(5)
    drawn = rng.gamma(2.0, 0.5, (n_metrics, n_reps, n_scen))
    drawn[rng.random(drawn.shape) < 0.1] = 0.0
    x = drawn.astype(dtype).transpose(1, 0, 2)  # metric-major, as a block is drawn
    c = co._Curves(rng.uniform(0.0, 0.9, n_metrics), rng.uniform(1.2, 3.0, n_metrics),
                   rng.uniform(0.01, 0.5, n_metrics), n_scen)
    weight = rng.uniform(0.0, 1.0, n_reps)
    weight /= weight.sum()
    got, want = co._partial(x, weight, c, None), reference_partial(x, weight, c)
    for name in ("scen_w", "scen_u", "rep_w", "rep_u", "gain_w", "gain_u"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.strides == b.strides, name  # BLAS reads them after
        np.testing.assert_array_equal(a, b, err_msg=name)
    # A hand-checked value: rep 0, metric 0 pays the mean of its phi over scenarios.
    th = dtype(c.theta[0])
    phi = np.clip((x[0, 0] - th) / (dtype(1.0) - th), 0.0, 1.0)
    assert got.rep_w[0, 0] == pytest.approx(float(phi.mean()), rel=1e-5)


def reference_rep_statistics(h: np.ndarray) -> tuple[np.ndarray, ...]:
    """``rep_statistics`` of a history of several periods, over the whole array at once."""
    positive = h > 0
    count = positive.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos_mean = np.where(count > 0, np.where(positive, h, 0.0).sum(axis=2)
                            / np.maximum(count, 1), 0.0)
        pos_var = np.where(count > 0, np.where(positive, (h - pos_mean[..., None]) ** 2,
                                               0.0).sum(axis=2) / np.maximum(count, 1), 0.0)
    return tuple(np.round(a, 12) for a in (h.mean(axis=2), h.std(axis=2),
                                           1.0 - count / h.shape[2], pos_mean,
                                           np.sqrt(pos_var)))


def reference_joint(h: np.ndarray, stats: sc.RepStatistics) -> tuple[np.ndarray, np.ndarray]:
    """The own movement and its correlation as ``joint_statistics`` computed them."""
    mean, sd = stats.mean[..., None], stats.sd[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sd > 0, (h - mean) / np.where(sd > 0, sd, 1.0), 0.0)
    own = (z - z.mean(axis=0)[None]).transpose(1, 0, 2).reshape(h.shape[1], -1)
    norms = np.sqrt((own * own).mean(axis=1))
    corr = np.eye(h.shape[1])
    for i in range(h.shape[1]):
        for j in range(i):
            corr[i, j] = corr[j, i] = (own[i] * own[j]).mean() / (norms[i] * norms[j])
    return z.mean(axis=0), np.round(corr, 12)


def test_the_calibration_in_blocks_of_reps_is_the_whole_history_bit_for_bit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sc, "_STAT_REPS", 7)  # many blocks, one of them short
    rng = np.random.default_rng(8)
    n_reps, n_metrics, n_periods = 100, 4, 12
    # Laid out as attainment.csv is read: (rep, period, metric) in memory.
    rows = rng.lognormal(0.0, 0.4, (n_reps, n_periods, n_metrics))
    rows[rng.random(rows.shape) < 0.15] = 0.0
    rows[3, :, 1] = 0.0  # a rep without a positive period in one metric
    h = rows.transpose(0, 2, 1)
    stats = sc.rep_statistics(h)
    for got, want in zip((stats.mean, stats.sd, stats.zero_share, stats.positive_mean,
                          stats.positive_sd), reference_rep_statistics(h), strict=True):
        np.testing.assert_array_equal(got, want)
    assert stats.zero_share[3, 1] == 1.0 and stats.positive_mean[3, 1] == 0.0
    joint = sc.joint_statistics(h, stats)
    _, own_corr = reference_joint(h, stats)
    np.testing.assert_array_equal(joint.own_corr, own_corr)


@pytest.mark.parametrize("strided", [False, True])
def test_the_correlation_over_contiguous_rows_is_the_plain_one(strided: bool) -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(size=(300_000, 5)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    base[:, 1] += base[:, 0]  # metrics 0 and 1 correlate: 1/sqrt(1 + 4) = 0.447
    flat = base.T if strided else np.ascontiguousarray(base.T)
    norms = np.sqrt((flat * flat).mean(axis=1))
    want = np.eye(5)
    for i in range(5):
        for j in range(i):
            want[i, j] = want[j, i] = (flat[i] * flat[j]).mean() / (norms[i] * norms[j])
    got = sc._correlation(flat)
    np.testing.assert_array_equal(got, np.round(want, 12))
    assert got[1, 0] == pytest.approx(1.0 / np.sqrt(5.0), abs=0.01)


def test_plain_pages_switches_numpys_huge_pages_off_inside_and_back_after() -> None:
    setter = pages._setter()
    if not callable(setter):
        pytest.skip("this numpy has no huge-pages setting")
    before = setter(True)
    try:
        with pages.plain_pages():
            with pages.plain_pages():
                assert setter(False) is False  # off inside, nested too
            assert setter(False) is False  # still off: the outer block is open
        assert setter(True) is True  # on again after the last one
    finally:
        setter(before)


@pytest.mark.parametrize(("n_reps", "n_metrics", "n_periods"),
                         [(20_000, 20, 12), (1, 3, 1), (341, 7, 12), (4096, 2, 1)])
def test_a_historys_spread_in_blocks_of_rows_is_numpys_std_bit_for_bit(
        n_reps: int, n_metrics: int, n_periods: int) -> None:
    rng = np.random.default_rng(7)
    # As models/fastcsv.py lays the history out: periods then metrics, per rep.
    rows = rng.gamma(2.0, 0.5, (n_reps, n_periods, n_metrics))
    rows[rng.random(rows.shape) < 0.2] = 0.0
    x = rows.transpose(0, 2, 1)
    got = co._history_std(x)
    assert got.tobytes() == x.std(axis=(0, 2)).tobytes()
    # Block edges anywhere: a block of 3 rows sums in the same order as one of 4,096.
    old = co.STD_BLOCK_ROWS
    try:
        co.STD_BLOCK_ROWS = 3
        assert co._history_std(x).tobytes() == got.tobytes()
    finally:
        co.STD_BLOCK_ROWS = old


def test_a_history_laid_out_otherwise_keeps_numpys_std() -> None:
    x = np.random.default_rng(8).gamma(2.0, 0.5, (50, 4, 6))  # (rep, metric, period) rows
    assert co._history_std(x).tobytes() == x.std(axis=(0, 2)).tobytes()
