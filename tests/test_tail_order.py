"""The tail's vertex without a full sort: the same order as the stable sort, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from compplan.optimizer.tails import TailGuard, _leading, tail_weights


@pytest.mark.parametrize("rounding", [None, 1, 0])
@pytest.mark.parametrize("share", [0.1, 0.2, 0.5, 0.9999, 1.0])
def test_leading_is_the_stable_sorts_prefix(rounding: int | None, share: float) -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=20_000)
    if rounding is not None:  # many ties, some across the tail's edge
        values = np.round(values, rounding)
    for key in (values, -values):
        k = min(int(np.floor(share * values.size + 1e-12)), values.size) + 1
        assert np.array_equal(_leading(key, k), np.argsort(key, kind="stable")[:k])


def test_tail_weights_by_hand_with_ties_at_the_edge() -> None:
    # 10 values, top 25 %: 2.5 values, weight 1 / 2.5 = 0.4 on the two largest, 0.2 on
    # the next; the largest (9) is at index 3, then 7 at indices 1 and 8 (a tie): the
    # lower index comes first, as the stable sort puts it.
    values = np.array([1.0, 7.0, 3.0, 9.0, 0.0, 5.0, 2.0, 4.0, 7.0, 6.0])
    weights = tail_weights(values, 0.25, True)
    assert weights == pytest.approx([0, 0.4, 0, 0.4, 0, 0, 0, 0, 0.2, 0], abs=1e-15)
    big = np.tile(values, 1000)  # past the size where the partition is used
    assert np.array_equal(tail_weights(big, 0.25, True),
                          _reference(big, 0.25, True))
    assert np.array_equal(tail_weights(big, 0.2, False), _reference(big, 0.2, False))


def _reference(values: np.ndarray, share: float, upper: bool) -> np.ndarray:
    count = values.shape[0]
    cap = 1.0 / (share * count)
    order = np.argsort(-values if upper else values, kind="stable")
    full = min(int(np.floor(share * count + 1e-12)), count)
    weights = np.zeros(count)
    weights[order[:full]] = cap
    rest = 1.0 - full * cap
    if rest > 1e-15 and full < count:
        weights[order[full]] = rest
    return weights


def test_check_is_violation_and_the_cuts_weights() -> None:
    rng = np.random.default_rng(8)
    vw, vu = rng.random((500, 3)), rng.random((500, 3))
    guard = TailGuard("fairness_top", vw, vu, 0.1, True, 0.5)
    w, u = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.0, 0.4])
    violation, weights = guard.check(w, u)
    values = vw @ w + vu @ u
    top = np.sort(values)[::-1][:50].mean()
    assert violation == pytest.approx(top - 0.5, rel=1e-12)
    assert np.array_equal(weights, tail_weights(values, 0.1, True))
    assert guard.violation(w, u) == violation
