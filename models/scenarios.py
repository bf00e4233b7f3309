"""Scenarios of attainment (MODEL.md section 5), produced in chunks of reps.

``historical``: each period of ``attainment.csv`` is one equally likely scenario.

With ``[scenarios] allow_absent`` a rep may lack a period (she was off the plan):
historical scenarios carry the presence mask ``O[r, s]`` (``Scenarios.present``), and
Monte Carlo calibrates each rep from her own periods and draws her in every scenario.

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
``BLOCK_REPS`` reps, so the scenarios do not depend on how the work is chunked.
Normal draws are rounded to multiples of 2**-16 and the correlation factor to
multiples of 2**-24, so every product and partial sum of the correlating matrix
product is exact in float64: BLAS may sum in any order, on any CPU, and the result
is the same bit for bit. Calibration statistics are rounded to 12 decimals. Draws
are handed on as float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from compplan.models.case import Case

BLOCK_REPS = 64
MIN_COMMON_SHARE = 0.05
MAX_COMMON_SHARE = 0.95
_DECIMALS = 12
# Fixed-point grids that make the correlating matrix product exact (see above).
_Z_BITS = 16
_L_BITS = 24
_Z_LIMIT = 2.0**20 - 1  # |z| < 16 in units of 2**-16; a normal draw never gets near
_MAX_EXACT_METRICS = 256  # M * 2**(20 + 24) < 2**53


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
    # O[r, s] of MODEL.md section 5 (historical with allow_absent); None: all present.
    _present: np.ndarray | None = None

    @property
    def partial(self) -> bool:
        """True when some rep is off the plan in some scenario (``allow_absent``)."""
        return self._present is not None

    def present(self, start: int, stop: int) -> np.ndarray | None:
        """``O[r, s]`` for reps ``start:stop``, shape (reps, scenarios); None if all present.

        Where a rep is absent its attainment is 0 and she is paid nothing.
        """
        return None if self._present is None else self._present[start:stop]

    @property
    def n_reps(self) -> int:
        """Number of reps."""
        return int(self._history.shape[0])

    def bounds(self, size: int) -> list[tuple[int, int]]:
        """Rep ranges of about ``size`` reps (whole seeding blocks for Monte Carlo)."""
        if self._calibration is not None:
            size = max(BLOCK_REPS, size // BLOCK_REPS * BLOCK_REPS)
        size = max(1, size)
        return [(a, min(a + size, self.n_reps)) for a in range(0, self.n_reps, size)]

    def block(self, start: int, stop: int) -> np.ndarray:
        """Attainment of reps ``start:stop``, shape (reps, metrics, scenarios)."""
        if self._calibration is None:
            return self._history[start:stop]
        parts = [self._calibration.draw(b, min(b + BLOCK_REPS, stop))
                 for b in range(start, stop, BLOCK_REPS)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def chunks(self, size: int = BLOCK_REPS) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_rep, x)`` with ``x`` of shape (reps in chunk, metrics, scenarios).

        Parameters
        ----------
        size : int
            Reps per chunk; rounded to whole blocks of ``BLOCK_REPS`` for Monte Carlo.
        """
        for start, stop in self.bounds(size):
            yield start, self.block(start, stop)


@dataclass(frozen=True)
class _Calibration:
    mu: np.ndarray          # (N, M)
    sd: np.ndarray          # (N, M)
    chol: np.ndarray        # (M, M) lower-triangular factor of the metric correlation
    common_share: np.ndarray  # (M,)
    common: np.ndarray      # (S, M) correlated common shocks
    seed: int

    def draw(self, start: int, stop: int) -> np.ndarray:
        """Scenarios for reps ``start:stop`` (within one seeded block), shape (n, M, S)."""
        rng = np.random.Generator(np.random.PCG64([self.seed, 1, start // BLOCK_REPS]))
        n_scen, n_metrics = self.common.shape
        own = _correlate(rng.standard_normal((n_metrics, (stop - start) * n_scen)), self.chol)
        # Work in the draw's own layout (metric, rep, scenario): contiguous, so fast.
        x = own.reshape(n_metrics, stop - start, n_scen)
        k = self.common_share[:, None, None]
        x *= np.sqrt(1.0 - k)
        x += (np.sqrt(k[:, :, 0]) * self.common.T)[:, None, :]
        x *= self.sd[start:stop].T[:, :, None]
        x += self.mu[start:stop].T[:, :, None]
        np.maximum(x, 0.0, out=x)
        # float32 from here: its 7 digits are far finer than the sampling error, and
        # half the bytes halve the time of every pass over the draws that follows.
        return x.astype(np.float32).transpose(1, 0, 2)


def _correlate(normals: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """``chol @ normals`` (metrics on axis 0), exact and so identical on every CPU.

    Both factors are put on fixed-point grids small enough that float64 holds every
    product and partial sum exactly; then no summation order can change the result.
    """
    if chol.shape[0] > _MAX_EXACT_METRICS:
        raise ValueError(f"Monte Carlo supports at most {_MAX_EXACT_METRICS} metrics")
    grid = np.rint(normals * 2.0**_Z_BITS, out=normals)
    np.clip(grid, -_Z_LIMIT, _Z_LIMIT, out=grid)
    factor = np.rint(chol * 2.0**_L_BITS)
    out = factor @ grid
    out *= 2.0 ** -(_Z_BITS + _L_BITS)
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


def _calibrate(history: np.ndarray, count: int, seed: int,
               present: np.ndarray | None = None) -> _Calibration:
    if present is not None:
        return _calibrate_present(history, count, seed, present)
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
    common = _correlate(rng.standard_normal((n_metrics, count)), chol).T.copy()
    return _Calibration(mu, sd, chol, share, common, seed)


# --- Reps who joined or left (allow_absent, MODEL.md section 5) ------------------------
# Kept apart from _calibrate so that cases with every rep-period are untouched: each
# rep's level and spread come from her own periods only, a rep with one period takes
# the metric's spread over present rep-periods, and the common share compares each
# period's mean over the reps present with the 1/n_t a mean of n_t reps would show.

def _calibrate_present(history: np.ndarray, count: int, seed: int,
                       present: np.ndarray) -> _Calibration:
    n_metrics = history.shape[1]
    mask = present[:, None, :]  # (N, 1, T)
    own = present.sum(axis=1).astype(np.float64)[:, None]  # periods per rep, >= 1
    mu = np.round(np.where(mask, history, 0.0).sum(axis=2) / own, _DECIMALS)
    dev = np.where(mask, history - mu[..., None], 0.0)
    sd = np.sqrt((dev * dev).sum(axis=2) / own)
    pooled = np.array([history[:, j, :][present].std() for j in range(n_metrics)])
    sd = np.where(own > 1, sd, pooled[None, :])
    sd = np.round(sd, _DECIMALS)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(mask & (sd[..., None] > 0), dev / sd[..., None], 0.0)
    per_period = present.sum(axis=0).astype(np.float64)  # (T,), reps present
    period_means = z.sum(axis=0) / np.maximum(per_period, 1.0)[None, :]  # (M, T)
    noise = float(np.mean(1.0 / np.maximum(per_period, 1.0)))
    raw_share = ((period_means.var(axis=1) - noise) / (1.0 - noise) if noise < 1.0
                 else np.zeros(n_metrics))
    # From here as in _calibrate.
    share = np.round(np.clip(raw_share, MIN_COMMON_SHARE, MAX_COMMON_SHARE), _DECIMALS)
    chol = _cholesky(_correlation(z))
    rng = np.random.Generator(np.random.PCG64([seed, 0]))
    common = _correlate(rng.standard_normal((n_metrics, count)), chol).T.copy()
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
        return Scenarios("historical", len(case.periods), case.periods, case.attainment,
                         _present=case.present)
    count = spec.count if spec.count is not None else 500
    seed = spec.seed if spec.seed is not None else 0
    labels = tuple(f"MC{i + 1:05d}" for i in range(count))
    # Every rep is drawn in every scenario: a joiner or leaver is calibrated from her
    # own periods (allow_absent) and simulated as on the plan all year.
    return Scenarios("montecarlo", count, labels, case.attainment,
                     _calibrate(case.attainment, count, seed, case.present))
