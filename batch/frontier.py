"""The alignment-cost frontier of a batch: the candidates no other candidate beats.

A candidate is dominated when another is at least as well aligned and at most as
costly, and strictly better on one of the two. Figures within a relative tolerance
count as equal, so that two candidates with the same plan (a budget cap that no
longer binds gives the same plan as a higher one) are both on the frontier instead
of one beating the other by solver noise.
"""

from __future__ import annotations

import numpy as np

#: Relative difference below which two alignments (or two costs) count as equal; the
#: solver's tie tolerance on alignment is 1e-7 (MODEL.md section 4).
TOLERANCE = 1e-7


def non_dominated(benefit: np.ndarray, cost: np.ndarray,
                  tolerance: float = TOLERANCE) -> np.ndarray:
    """Which points are on the frontier of most ``benefit`` for least ``cost``.

    Parameters
    ----------
    benefit, cost : numpy.ndarray
        One value per point; a point with a NaN in either is never on the frontier.
    tolerance : float
        Values within ``tolerance * max(1, |value|)`` of each other count as equal.

    Returns
    -------
    numpy.ndarray of bool
        True for the points no other point dominates.

    Examples
    --------
    >>> non_dominated(np.array([1.0, 2.0, 1.5, 2.0]), np.array([10.0, 20.0, 25.0, 20.0]))
    array([ True,  True, False,  True])
    """
    b = np.asarray(benefit, dtype=float)
    c = np.asarray(cost, dtype=float)
    valid = ~(np.isnan(b) | np.isnan(c))
    slack_b = tolerance * np.maximum(1.0, np.abs(b))
    slack_c = tolerance * np.maximum(1.0, np.abs(c))
    frontier = valid.copy()
    idx = np.flatnonzero(valid)
    for i in idx:
        others = idx[idx != i]
        # Others at least as good on both counts, and clearly better on one.
        as_good = (b[others] >= b[i] - slack_b[i]) & (c[others] <= c[i] + slack_c[i])
        better = (b[others] > b[i] + slack_b[i]) | (c[others] < c[i] - slack_c[i])
        frontier[i] = not (as_good & better).any()
    return frontier
