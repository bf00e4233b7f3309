"""Tail-mean guardrails: CVaR of the total payout, and the upper and lower tails over reps.

Each is a bound on the mean of the worst ``share`` of ``K`` equally likely values
``v_k = W[k] @ w + U[k] @ u``. For a uniform distribution that mean is
``max_p sum_k p_k v_k`` over ``0 <= p_k <= 1/(share K)``, ``sum p = 1`` (for an upper
tail; ``min`` for a lower one), which equals the Rockafellar-Uryasev form of the
spec. A vertex ``p`` puts ``1/(share K)`` on the largest values and the remainder on
the next. So the guardrail can be written two ways:

* ``full``: the Rockafellar-Uryasev rows, one auxiliary variable per value;
* ``cuts``: ``sum_k p_k v_k <= rhs`` for the vertices found violated so far; each
  cut is one aggregated row over metrics, so the model does not grow with ``K``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TailGuard:
    """``tail_mean(v) <= rhs`` (upper) or ``>= rhs`` (lower), all linear in ``(w, u)``.

    Attributes
    ----------
    name : str
        The guardrail's name in constraint names and messages.
    values_w, values_u : numpy.ndarray
        (K, M): the tail's values per unit of ``w`` and ``u``.
    share : float
        The tail's share of the values, in (0, 1].
    upper : bool
        True for an upper tail bounded above, False for a lower tail bounded below.
    rhs : float
        Constant part of the bound.
    rhs_w, rhs_u : numpy.ndarray or None
        (M,): the bound's linear part, when it moves with the plan.
    """

    name: str
    values_w: np.ndarray
    values_u: np.ndarray
    share: float
    upper: bool
    rhs: float
    rhs_w: np.ndarray | None = None
    rhs_u: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Number of values ``K``."""
        return int(self.values_w.shape[0])

    def values(self, w: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The ``K`` values at a plan."""
        return self.values_w @ w + self.values_u @ u

    def bound(self, w: np.ndarray, u: np.ndarray) -> float:
        """The right-hand side at a plan."""
        extra = 0.0
        if self.rhs_w is not None and self.rhs_u is not None:
            extra = float(self.rhs_w @ w + self.rhs_u @ u)
        return self.rhs + extra

    def tail_weights(self, values: np.ndarray) -> np.ndarray:
        """The vertex ``p`` that attains the tail mean of ``values``."""
        return tail_weights(values, self.share, self.upper)

    def violation(self, w: np.ndarray, u: np.ndarray) -> float:
        """How far the plan breaks the guardrail (<= 0 when it holds)."""
        return self.check(w, u)[0]

    def check(self, w: np.ndarray, u: np.ndarray,
              values: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """:meth:`violation` and the tail's vertex ``p`` (the cut's weights), computed once.

        ``values``: the plan's values when already computed (``self.values(w, u)``).
        """
        values = self.values(w, u) if values is None else values
        weights = self.tail_weights(values)
        gap = float(weights @ values) - self.bound(w, u)
        return (gap if self.upper else -gap), weights


def tail_weights(values: np.ndarray, share: float, upper: bool) -> np.ndarray:
    """Weights of the tail mean: ``1/(share K)`` on the extreme values, the rest on the next.

    Parameters
    ----------
    values : numpy.ndarray
        The ``K`` values.
    share : float
        The tail's share, in (0, 1].
    upper : bool
        Upper tail (largest values) or lower tail (smallest).

    Returns
    -------
    numpy.ndarray
        ``p`` with ``sum(p) == 1`` and ``0 <= p <= 1/(share K)``.
    """
    count = values.shape[0]
    cap = 1.0 / (share * count)
    full = min(int(np.floor(share * count + 1e-12)), count)
    order = _leading(-values if upper else values, full + 1)
    weights = np.zeros(count)
    weights[order[:full]] = cap
    rest = 1.0 - full * cap
    if rest > 1e-15 and full < count:
        weights[order[full]] = rest
    return weights


def tail_mean(values: np.ndarray, share: float, upper: bool) -> float:
    """Mean of the upper (or lower) ``share`` of equally likely ``values``."""
    return float(tail_weights(values, share, upper) @ values)


def _leading(key: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` indices of ``np.argsort(key, kind="stable")``, in that order.

    Without sorting every value: a partition finds the ``k``-th smallest key, and only
    the keys up to it (all of its ties included, in index order) are sorted, stably, so
    equal keys keep index order exactly as the full stable sort orders them.
    """
    count = key.shape[0]
    if k >= count or count < 4096:
        return np.argsort(key, kind="stable")[:k]
    threshold = key[np.argpartition(key, k - 1)[k - 1]]
    within = np.flatnonzero(key <= threshold)
    return within[np.argsort(key[within], kind="stable")][:k]
