"""Scenarios of attainment (MODEL.md section 5), produced in chunks of reps.

``historical``: each period of ``attainment.csv`` is one equally likely scenario.

``montecarlo``: ``count`` scenarios calibrated to the history. For rep ``r`` and
metric ``m`` with historical mean ``mu`` and spread ``sd`` (over periods),

    x[r, m, s] = max(0, mu[r, m] + sd[r, m] * (sqrt(k_m) g[s, m] + sqrt(1 - k_m) e[r, s, m]))

where ``g[s]`` is a shock common to every rep in scenario ``s`` and ``e[r, s]`` is the
rep's own draw; both are standard normal with the correlation between metrics
seen in the history. ``k_m``, the share of a metric's variance common to all reps,
is estimated from how much the period means move; it is kept at least
``MIN_COMMON_SHARE`` so that the spread of the total payout does not vanish as reps
are added.

Reproducibility: draws come from numpy's PCG64, seeded per block of
``BLOCK_REPS`` reps, so the scenarios do not depend on the chunk size; calibration
statistics are rounded to 12 decimals and the correlation is applied with
element-wise arithmetic (no BLAS), so the same inputs and seed give the same
scenarios on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from compplan.models.case import Case

BLOCK_REPS = 1024
MIN_COMMON_SHARE = 0.05
MAX_COMMON_SHARE = 0.95
_DECIMALS = 12


@dataclass(frozen=True)
class Scenarios:
    """Attainment per scenario, read in chunks of reps.

    Attributes
    ----------
    mode : str
        ``historical`` or ``montecarlo``.
    count : int
        Number of equally likely scenarios ``S``.
    labels : tuple of str
        A label per scenario (the period, or ``MC0001``...).
    """

    mode: str
    count: int
    labels: tuple[str, ...]
    _history: np.ndarray
    _calibration: _Calibration | None = None

    def chunks(self, size: int = BLOCK_REPS) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_rep, x)`` with ``x`` of shape (reps in chunk, metrics, scenarios).

        Parameters
        ----------
        size : int
            Reps per chunk; rounded up to a multiple of ``BLOCK_REPS`` for Monte Carlo.
        """
        n_reps = self._history.shape[0]
        if self._calibration is None:
            for start in range(0, n_reps, size):
                yield start, self._history[start:start + size]
            return
        blocks = max(1, -(-size // BLOCK_REPS))
        step = blocks * BLOCK_REPS
        for start in range(0, n_reps, step):
            stop = min(start + step, n_reps)
            parts = [self._calibration.draw(b, min(b + BLOCK_REPS, stop))
                     for b in range(start, stop, BLOCK_REPS)]
            yield start, np.concatenate(parts, axis=0)


@dataclass(frozen=True)
class _Calibration:
    mu: np.ndarray          # (N, M)
    sd: np.ndarray          # (N, M)
    chol: np.ndarray        # (M, M) lower-triangular factor of the metric correlation
    common_share: np.ndarray  # (M,)
    common: np.ndarray      # (S, M) correlated common shocks
    seed: int

    def draw(self, start: int, stop: int) -> np.ndarray:
        """Scenarios for reps ``start:stop`` (one seeded block), shape (n, M, S)."""
        rng = np.random.Generator(np.random.PCG64([self.seed, 1, start // BLOCK_REPS]))
        n_scen, n_metrics = self.common.shape
        own = _correlate(rng.standard_normal((stop - start, n_scen, n_metrics)), self.chol)
        k = self.common_share
        z = np.sqrt(k) * self.common[None, :, :] + np.sqrt(1.0 - k) * own
        x = self.mu[start:stop, None, :] + self.sd[start:stop, None, :] * z
        return np.maximum(x, 0.0).transpose(0, 2, 1).copy()


def _correlate(normals: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """``normals @ chol.T`` by element-wise sums, identical on every CPU."""
    out = np.zeros_like(normals)
    for i in range(chol.shape[0]):
        for j in range(i + 1):
            if chol[i, j] != 0.0:
                out[..., i] += chol[i, j] * normals[..., j]
    return out


def _cholesky(matrix: np.ndarray) -> np.ndarray:
    """Plain Cholesky factor (metrics are few), so no LAPACK build can change it."""
    n = matrix.shape[0]
    low = np.zeros_like(matrix)
    for i in range(n):
        for j in range(i + 1):
            acc = float(matrix[i, j]) - sum(float(low[i, k] * low[j, k]) for k in range(j))
            if i == j:
                low[i, i] = np.sqrt(max(acc, 0.0))
            else:
                low[i, j] = acc / low[j, j] if low[j, j] > 0 else 0.0
    return low


def _correlation(z: np.ndarray) -> np.ndarray:
    """Correlation between metrics of standardised residuals ``z`` (N, M, T), made PSD."""
    n_metrics = z.shape[1]
    flat = z.transpose(1, 0, 2).reshape(n_metrics, -1)
    norms = np.sqrt((flat * flat).mean(axis=1))
    corr = np.eye(n_metrics)
    for i in range(n_metrics):
        for j in range(i):
            if norms[i] > 0 and norms[j] > 0:
                corr[i, j] = corr[j, i] = (flat[i] * flat[j]).mean() / (norms[i] * norms[j])
    corr = np.round(corr, _DECIMALS)
    # Shrink towards the identity until positive definite: pairwise estimates need not be.
    for shrink in np.linspace(0.0, 1.0, 21):
        candidate = (1.0 - shrink) * corr + shrink * np.eye(n_metrics)
        if np.all(np.linalg.eigvalsh(candidate) > 1e-8):
            return np.round(candidate, _DECIMALS)
    return np.eye(n_metrics)


def _calibrate(history: np.ndarray, count: int, seed: int) -> _Calibration:
    n_reps, n_metrics, n_periods = history.shape
    mu = np.round(history.mean(axis=2), _DECIMALS)
    if n_periods > 1:
        sd = history.std(axis=2)
    else:  # one period says nothing of a rep's own spread: use the metric's spread
        sd = np.broadcast_to(history.std(axis=(0, 2)), (n_reps, n_metrics)).copy()
    sd = np.round(sd, _DECIMALS)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sd[..., None] > 0, (history - mu[..., None]) / sd[..., None], 0.0)
    period_means = z.mean(axis=0)  # (M, T)
    raw_share = (period_means.var(axis=1) - 1.0 / n_reps) / (1.0 - 1.0 / n_reps) \
        if n_reps > 1 else np.zeros(n_metrics)
    share = np.round(np.clip(raw_share, MIN_COMMON_SHARE, MAX_COMMON_SHARE), _DECIMALS)
    chol = _cholesky(_correlation(z))
    rng = np.random.Generator(np.random.PCG64([seed, 0]))
    common = _correlate(rng.standard_normal((count, n_metrics)), chol)
    return _Calibration(mu, sd, chol, share, common, seed)


def build_scenarios(case: Case) -> Scenarios:
    """The scenarios of a case, as its ``[scenarios]`` table says.

    Parameters
    ----------
    case : Case
        A loaded case.

    Returns
    -------
    Scenarios
        Historical periods, or calibrated Monte Carlo draws (generated lazily).
    """
    spec = case.spec.scenarios
    if spec.mode == "historical":
        return Scenarios("historical", len(case.periods), case.periods, case.attainment)
    count = spec.count if spec.count is not None else 500
    seed = spec.seed if spec.seed is not None else 0
    labels = tuple(f"MC{i + 1:05d}" for i in range(count))
    return Scenarios("montecarlo", count, labels, case.attainment,
                     _calibrate(case.attainment, count, seed))
