"""Scenarios of attainment (MODEL.md section 5), produced in chunks of reps.

``historical``: each period of ``attainment.csv`` is one equally likely scenario.

With ``[scenarios] allow_absent`` a rep may lack a period (she was off the plan):
historical scenarios carry the presence mask ``O[r, s]`` (``Scenarios.present``), and
Monte Carlo calibrates each rep from her own periods (every statistic below over
present rep-periods only) and draws her in every scenario.

``montecarlo``: ``count`` scenarios calibrated to the history. Each rep, metric and
scenario has a standard normal score

    y[r, m, s] = sqrt(k_m) g[s, m] + sqrt(1 - k_m) e[r, s, m]

where ``g[s]`` is a shock common to every rep in scenario ``s``, with the correlation
between metrics of the history's period totals (the mean over reps of each period
and metric), and ``e[r, s]`` is the rep's own draw, with the correlation between
metrics of the history once each period's common movement is taken out. ``k_m``,
the share of a metric's variance common to all reps, is estimated from how much the
period means move; while the history is short (fewer than ``LONG_HISTORY`` periods)
it is kept at least ``MIN_COMMON_SHARE`` so that the spread of the total payout does
not vanish as reps are added.

The score becomes attainment through each rep and metric's own history: with ``p``
its share of periods at exactly zero and ``mu+``, ``sd+`` the mean and spread of its
positive values,

    x = 0                               where y < q = Phi^-1(p)
    x = max(0, a + b y)                 elsewhere,

with ``a`` and ``b`` such that ``a + b y`` has mean ``mu+`` and spread ``sd+`` given
``y >= q`` (a truncated normal's moments). So each rep-metric keeps its share of
zeros, the level and spread of its positive values, hence its overall level and
spread; without zeros this is ``max(0, mu + sd y)``. Zeros fall in the bad scenarios,
as the common shock says. The statistics come from :func:`rep_statistics` (per rep
and metric, over periods) and the joint behaviour from :func:`joint_statistics`, so
that other per-rep statistics can be put in.

Reproducibility: draws come from numpy's PCG64, seeded per block of ``BLOCK_REPS``
reps; a block is always drawn whole, so any range of reps gives the draws of the
whole and the scenarios do not depend on how the work is chunked. Normal draws are
rounded to multiples of 2**-16 and the correlation factor to multiples of 2**-24, so
every product and partial sum of the correlating matrix product is exact in float64:
BLAS may sum in any order, on any CPU, and the result is the same bit for bit.
Calibration statistics are rounded to 12 decimals; the transform after the product
is elementwise IEEE arithmetic. Draws are handed on as float32.
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import TypeVar

import numpy as np

from compplan.models.case import Case
from compplan.models.pages import plain_pages

T = TypeVar("T")
BLOCK_REPS = 64
MIN_COMMON_SHARE = 0.05
MAX_COMMON_SHARE = 0.95
#: From this many periods on, the history's own common share is trusted without a floor.
LONG_HISTORY = 36
_DECIMALS = 12
# Fixed-point grids that make the correlating matrix product exact (see above).
_Z_BITS = 16
_L_BITS = 24
_Z_LIMIT = 2.0**20 - 1  # |z| < 16 in units of 2**-16; a normal draw never gets near
_MAX_EXACT_METRICS = 256  # M * 2**(20 + 24) < 2**53
# A positive part without spread still needs a slope, to place the zero threshold;
# steep enough that float32 (about 1e-7 relative) tells the two sides apart.
_MIN_SLOPE = 1e-4


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
        """Attainment of reps ``start:stop``, shape (reps, metrics, scenarios).

        Any range gives the same draws as the whole: Monte Carlo draws whole seeding
        blocks and keeps the reps asked for.
        """
        if self._calibration is None:
            return self._history[start:stop]
        first = start // BLOCK_REPS * BLOCK_REPS
        parts = [self._calibration.kept_draw(b, min(b + BLOCK_REPS, self.n_reps))
                 for b in range(first, stop, BLOCK_REPS)]
        whole = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        if start == first and stop - start == whole.shape[0]:
            return whole
        return whole[start - first:stop - first]

    def part(self, start: int, stop: int) -> ScenarioPart:
        """The Monte Carlo draws of reps ``start:stop``, without the history.

        What a worker of a cluster needs to draw those reps (kilobytes of calibration
        where the scenarios are gigabytes): the same draws, bit for bit.

        Raises
        ------
        ValueError
            Historical scenarios (the history itself is the data), or a range that is
            not whole seeding blocks.
        """
        if self._calibration is None:
            raise ValueError("historical scenarios are the history itself: nothing to draw")
        if (start % BLOCK_REPS or (stop % BLOCK_REPS and stop != self.n_reps)
                or not 0 <= start < stop <= self.n_reps):
            raise ValueError(f"reps {start}:{stop} are not whole blocks of {BLOCK_REPS}")
        return ScenarioPart(start, stop, self.count, self._calibration.part(start, stop))

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
class ScenarioPart:
    """Monte Carlo draws of the reps ``start:stop`` of a case (:meth:`Scenarios.part`).

    Picklable and small: a cluster's worker draws its reps from it.
    """

    start: int
    stop: int
    count: int
    _calibration: _Calibration

    def block(self, start: int, stop: int) -> np.ndarray:
        """Attainment of reps ``start:stop`` (within this part, ``start`` on a block's edge).

        Drawn afresh every time (a worker keeps nothing between tasks).
        """
        if start % BLOCK_REPS or not self.start <= start < stop <= self.stop:
            raise ValueError(f"reps {start}:{stop} are not a block range of this part "
                             f"({self.start}:{self.stop})")
        parts = [self._calibration.draw(b, min(b + BLOCK_REPS, self.stop))
                 for b in range(start, stop, BLOCK_REPS)]
        whole = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        return whole[:stop - start]


@dataclass(frozen=True)
class RepStatistics:
    """Per rep and metric statistics of the history, each (N, M).

    Attributes
    ----------
    mean, sd : numpy.ndarray
        Level and spread (population, over periods).
    zero_share : numpy.ndarray
        Share of periods at exactly zero.
    positive_mean, positive_sd : numpy.ndarray
        Level and spread of the positive values (0 where there are none).
    """

    mean: np.ndarray
    sd: np.ndarray
    zero_share: np.ndarray
    positive_mean: np.ndarray
    positive_sd: np.ndarray


@dataclass(frozen=True)
class JointStatistics:
    """How metrics move together, from standardised residuals.

    Attributes
    ----------
    common_share : numpy.ndarray
        (M,): share of each metric's variance common to all reps.
    common_corr : numpy.ndarray
        (M, M): correlation of the period totals between metrics.
    own_corr : numpy.ndarray
        (M, M): correlation between metrics of a rep's own movement.
    """

    common_share: np.ndarray
    common_corr: np.ndarray
    own_corr: np.ndarray


_SCRATCH = threading.local()


#: Largest scratch array kept for reuse by a thread (a block's normals at 20 metrics x
#: 3,000 scenarios); larger ones are made afresh, so an idle thread holds little.
SCRATCH_BYTES = 32 << 20


def _scratch(name: str, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """A scratch array ``name`` of ``shape`` (C order) for this thread, contents undefined.

    Reused by the next call with the same name in the same thread: for temporaries of
    a block that are gone before the next block. Freed with the thread.
    """
    if math.prod(shape) * np.dtype(dtype).itemsize > SCRATCH_BYTES:
        return np.empty(shape, dtype=dtype)
    cache: dict[str, np.ndarray] | None = getattr(_SCRATCH, "arrays", None)
    if cache is None:
        cache = _SCRATCH.arrays = {}
    found = cache.get(name)
    if found is None or found.shape != shape or found.dtype != dtype:
        found = cache[name] = np.empty(shape, dtype=dtype)
    return found


class _KeptBlocks(dict[int, np.ndarray]):
    """Drawn blocks by first rep (a dict that can be referenced weakly, to free its bytes)."""


@dataclass(frozen=True)
class _Calibration:
    offset: np.ndarray      # (N, M) a: attainment at score 0 (positive part)
    slope: np.ndarray       # (N, M) b: attainment per unit of score
    floor: np.ndarray       # (N, M) attainment below this is 0 (the zero threshold)
    chol: np.ndarray        # (M, M) factor of the reps' own correlation, row m x sqrt(1 - k_m)
    common_share: np.ndarray  # (M,)
    common: np.ndarray      # (S, M) correlated common shocks
    zero_metrics: tuple[int, ...]  # metrics with a positive zero share somewhere
    seed: int
    # The first rep of offset/slope/floor (a slice for a worker: see Scenarios.part).
    origin: int = 0
    # Blocks drawn once and kept for the next pass (within KEEP_BYTES for the process).
    _kept: _KeptBlocks = field(default_factory=lambda: _KeptBlocks(), compare=False,
                               repr=False)

    def kept_draw(self, start: int, stop: int) -> np.ndarray:
        """:meth:`draw`, kept in memory for the next pass while the process's budget lasts.

        The coefficients pass twice over the draws (``delta_m`` needs every draw before
        the second pass): blocks kept from the first pass are not drawn again. Kept
        blocks are read-only (a caller changing one in place would change the next
        pass's scenarios) and freed with the scenarios.
        """
        found = self._kept.get(start)
        if found is not None:
            return found
        drawn = self.draw(start, stop)
        if _reserve(self._kept, drawn.nbytes):
            drawn.flags.writeable = False
            self._kept[start] = drawn
        return drawn

    def draw(self, start: int, stop: int) -> np.ndarray:
        """Scenarios for reps ``start:stop`` (one whole seeded block), shape (n, M, S).

        The arithmetic is that of the whole-array form (normals on the grid, the exact
        correlating product, then the common shock, slope and offset, float32, the
        floor at zero and the zero thresholds), done one metric at a time: each metric's
        rows stay in the CPU's cache through every step instead of streaming the whole
        block through memory once per step. Every value is the same, bit for bit.
        """
        rng = np.random.Generator(np.random.PCG64([self.seed, 1, start // BLOCK_REPS]))
        n_scen, n_metrics = self.common.shape
        n_reps = stop - start
        # The normals and their product in this thread's scratch arrays: the same values
        # as fresh ones, without the operating system's fresh pages for every block.
        normals = rng.standard_normal(out=_scratch("normals", (n_metrics, n_reps * n_scen)))
        if n_metrics > _MAX_EXACT_METRICS:
            raise ValueError(f"Monte Carlo supports at most {_MAX_EXACT_METRICS} metrics")
        for row in normals:  # the grid of _correlate, in place, a row at a time
            row *= 2.0**_Z_BITS
            np.rint(row, out=row)
            np.clip(row, -_Z_LIMIT, _Z_LIMIT, out=row)
        # The factor's rows carry sqrt(1 - k): the product is the own part. The factor
        # on its grid is scaled by the grids' 2**-40 first: a power of two, so every
        # product and partial sum is the exact one of the integers, scaled, as before.
        own = np.matmul(np.rint(self.chol * 2.0**_L_BITS) * 2.0 ** -(_Z_BITS + _L_BITS),
                        normals, out=_scratch("own", normals.shape))
        shift = np.sqrt(self.common_share)[:, None] * self.common.T
        first, last = start - self.origin, stop - self.origin
        slope, offset = self.slope[first:last].T, self.offset[first:last].T
        zeros = set(self.zero_metrics)
        # Work in the draw's own layout (metric, rep, scenario): contiguous, so fast.
        out = np.empty((n_metrics, n_reps, n_scen), dtype=np.float32)
        for m in range(n_metrics):
            x = own[m].reshape(n_reps, n_scen)
            x += shift[m][None, :]
            x *= slope[m][:, None]
            x += offset[m][:, None]
            # float32 from here: its 7 digits are far finer than the sampling error, and
            # half the bytes halve the time of every pass over the draws that follows.
            part = out[m]
            np.copyto(part, x, casting="same_kind")
            np.maximum(part, 0.0, out=part)
            if m in zeros:  # below the rep's zero threshold: exactly zero
                part *= part >= self.floor[first:last, m].astype(np.float32)[:, None]
        return out.transpose(1, 0, 2)

    def part(self, start: int, stop: int) -> _Calibration:
        """The calibration of reps ``start:stop`` only (``start`` on a block's edge)."""
        first, last = start - self.origin, stop - self.origin
        return replace(self, offset=self.offset[first:last].copy(),
                       slope=self.slope[first:last].copy(),
                       floor=self.floor[first:last].copy(), origin=start,
                       _kept=_KeptBlocks())


#: Bytes of Monte Carlo draws kept between passes, in all for the process (2.5 GiB: at
#: 100,000 reps x 20 metrics x 500 scenarios, 4 GB of float32, the first 67 % of reps;
#: with the rest of the process, under 4 GiB at peak).
KEEP_BYTES = 5 << 29
_KEEP_LOCK = threading.Lock()
_kept_bytes = [0]
_owners: dict[int, int] = {}  # id of a calibration's kept-blocks dict: its bytes


def _reserve(owner: _KeptBlocks, size: int) -> bool:
    """Count ``size`` bytes against :data:`KEEP_BYTES` for ``owner``; False when full."""
    with _KEEP_LOCK:
        if _kept_bytes[0] + size > KEEP_BYTES:
            return False
        _kept_bytes[0] += size
        key = id(owner)
        if key not in _owners:
            _owners[key] = 0
            weakref.finalize(owner, _release, key)
        _owners[key] += size
        return True


def _release(key: int) -> None:
    with _KEEP_LOCK:
        _kept_bytes[0] -= _owners.pop(key, 0)


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


def _correlation(flat: np.ndarray) -> np.ndarray:
    """Correlation between the rows of ``flat`` (metrics, observations), made PSD.

    The rows are taken as centred already (deviations from their own means).
    """
    n_metrics = flat.shape[0]
    # (flat * flat), computed through the transpose: the same array in the same layout
    # (so the same mean), many times faster when a metric's values are strided.
    norms = np.sqrt(np.multiply(flat.T, flat.T).T.mean(axis=1))
    corr = np.eye(n_metrics)
    local = threading.local()
    # Rows in contiguous memory for the pairs (a metric's values may be strided): each
    # pair's product is the same array, its mean the same sum.
    rows = np.ascontiguousarray(flat)

    def pair(ij: tuple[int, int]) -> None:  # a buffer per thread: no fresh pages per pair
        i, j = ij
        if getattr(local, "buffer", None) is None:
            local.buffer = np.empty(rows.shape[1])
        product = np.multiply(rows[i], rows[j], out=local.buffer)
        corr[i, j] = corr[j, i] = product.mean() / (norms[i] * norms[j])

    pairs = [(i, j) for i in range(n_metrics) for j in range(i)
             if norms[i] > 0 and norms[j] > 0]
    if flat.shape[1] * len(pairs) < 1 << 20:
        for ij in pairs:
            pair(ij)
    else:
        with ThreadPoolExecutor(max_workers=_STAT_WORKERS) as pool:
            for _ in pool.map(pair, pairs):
                pass
    corr = np.round(corr, _DECIMALS)
    # Shrink towards the identity until positive definite: pairwise estimates need not
    # be, and with fewer periods than metrics the period totals' never are.
    for shrink in np.linspace(0.0, 1.0, 21):
        candidate = (1.0 - shrink) * corr + shrink * np.eye(n_metrics)
        if np.all(np.linalg.eigvalsh(candidate) > 1e-8):
            return np.round(candidate, _DECIMALS)
    return np.eye(n_metrics)


def rep_statistics(history: np.ndarray, present: np.ndarray | None = None) -> RepStatistics:
    """Level, spread, zero share and positive part of each rep and metric over periods.

    With a single period a rep's own spread is unknown: the metric's spread over reps
    stands in, and its zero share over reps.

    Parameters
    ----------
    history : numpy.ndarray
        Attainment, shape (reps, metrics, periods).
    present : numpy.ndarray, optional
        ``O[r, s]`` (reps, periods): with joiners and leavers, each rep's statistics
        come from her own periods (``allow_absent``, MODEL.md section 5).

    Returns
    -------
    RepStatistics
        Each (reps, metrics), rounded to 12 decimals.
    """
    if present is not None:
        return _rep_statistics_present(history, present)
    n_reps, n_metrics, n_periods = history.shape
    if n_periods > 1:
        # Rep by rep (each statistic is over a rep's own periods): in blocks of reps
        # that stay in the CPU's cache, on the machine's cores; the same values.
        parts = _by_reps(history, _rep_moments)
        mean, sd, count, pos_mean, pos_var = (np.concatenate(a) for a in zip(*parts, strict=True))
        zero_share = 1.0 - count / n_periods
        pos_sd = np.sqrt(pos_var)
    else:  # one period says nothing of a rep's own spread: use the metric's over reps
        mean = history.mean(axis=2)
        flat = history[:, :, 0]
        sd = np.broadcast_to(flat.std(axis=0), (n_reps, n_metrics)).copy()
        zero_share = np.broadcast_to((flat <= 0).mean(axis=0), (n_reps, n_metrics)).copy()
        pos_sd = np.zeros(n_metrics)
        metric_pos = np.zeros(n_metrics)
        for j in range(n_metrics):
            values = flat[flat[:, j] > 0, j]
            if values.size:
                pos_sd[j], metric_pos[j] = values.std(), values.mean()
        pos_mean = np.where(flat > 0, flat, metric_pos)
        pos_sd = np.broadcast_to(pos_sd, (n_reps, n_metrics)).copy()
    return RepStatistics(*(np.round(a, _DECIMALS)
                           for a in (mean, sd, zero_share, pos_mean, pos_sd)))


#: Reps per block of the calibration's statistics (a block of 12 periods x 20 metrics
#: stays within a core's cache).
_STAT_REPS = 256
_STAT_WORKERS = max(1, min(4, os.cpu_count() or 1))


def _by_reps(history: np.ndarray, work: Callable[[np.ndarray], T]) -> list[T]:
    """``work`` on blocks of reps of ``history``, in threads, results in rep order.

    Blocks are views of ``history`` with its own strides, so numpy walks each rep's
    values in the same order as over the whole array: the same values, bit for bit.
    """
    blocks = [history[a:a + _STAT_REPS] for a in range(0, history.shape[0], _STAT_REPS)]
    if len(blocks) == 1:
        return [work(blocks[0])]
    with ThreadPoolExecutor(max_workers=_STAT_WORKERS) as pool:
        return list(pool.map(work, blocks))


def _each(work: Callable[[int], None], items: Iterable[int]) -> None:
    """``work(item)`` for every item, in threads (numpy's loops release the GIL)."""
    with ThreadPoolExecutor(max_workers=_STAT_WORKERS) as pool:
        for _ in pool.map(work, items):
            pass


def _rep_moments(history: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mean, sd, count of positives, their mean and variance, over axis 2 (periods)."""
    positive = history > 0
    count = positive.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos_mean = np.where(count > 0, np.where(positive, history, 0.0).sum(axis=2)
                            / np.maximum(count, 1), 0.0)
        pos_var = np.where(count > 0, np.where(positive, (history - pos_mean[..., None]) ** 2,
                                               0.0).sum(axis=2) / np.maximum(count, 1), 0.0)
    return history.mean(axis=2), history.std(axis=2), count, pos_mean, pos_var


def joint_statistics(history: np.ndarray, stats: RepStatistics,
                     present: np.ndarray | None = None) -> JointStatistics:
    """Common share of variance, period-total correlation and own correlation.

    Parameters
    ----------
    history : numpy.ndarray
        Attainment, shape (reps, metrics, periods).
    stats : RepStatistics
        Its per rep statistics, from :func:`rep_statistics`.
    present : numpy.ndarray, optional
        ``O[r, s]`` (reps, periods): only present rep-periods count; a period's mean is
        over the reps present then.

    Returns
    -------
    JointStatistics
        Rounded to 12 decimals; the correlations positive definite.
    """
    if present is not None:
        return _joint_statistics_present(history, stats, present)
    n_reps, n_metrics, n_periods = history.shape
    # Standardised residuals, rep by rep in blocks (elementwise: the same values).
    z = np.empty_like(history)  # with the history's own strides, as numpy's ufuncs give
    starts = range(0, n_reps, _STAT_REPS)

    def standardise(a: int) -> None:
        b = a + _STAT_REPS
        mean, sd = stats.mean[a:b, :, None], stats.sd[a:b, :, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            z[a:b] = np.where(sd > 0, (history[a:b] - mean) / np.where(sd > 0, sd, 1.0), 0.0)

    _each(standardise, starts)
    period_z = z.mean(axis=0)  # (M, T): how all reps moved together in each period
    raw_share = (period_z.var(axis=1) - 1.0 / n_reps) / (1.0 - 1.0 / n_reps) \
        if n_reps > 1 else np.zeros(n_metrics)
    floor = MIN_COMMON_SHARE if n_periods < LONG_HISTORY else 0.0
    share = np.round(np.clip(raw_share, floor, MAX_COMMON_SHARE), _DECIMALS)
    # The period totals: the mean over reps of each period and metric, centred.
    totals = history.mean(axis=0)
    common_corr = _correlation(totals - totals.mean(axis=1, keepdims=True)) \
        if n_periods > 1 else np.eye(n_metrics)
    # A rep's own movement: what is left once the period's common movement is out.
    def residual(a: int) -> None:
        z[a:a + _STAT_REPS] -= period_z[None]

    _each(residual, starts)
    own = z.transpose(1, 0, 2).reshape(n_metrics, -1)
    return JointStatistics(share, common_corr, _correlation(own))


def _positive_part(stats: RepStatistics) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``a``, ``b`` and the zero threshold of each rep and metric (see the module doc).

    The zero share takes few distinct values (multiples of one over the periods), so
    the normal quantile and the truncated moments are computed once per value.
    """
    share = stats.zero_share
    values, where = np.unique(share, return_inverse=True)
    where = where.reshape(share.shape)
    quantile, tail_mean, tail_sd = (np.zeros(values.size) for _ in range(3))
    for i, p in enumerate(values.tolist()):
        if p <= 0.0 or p >= 1.0:  # no zeros, or nothing but zeros: no threshold to place
            quantile[i], tail_mean[i], tail_sd[i] = (-math.inf if p <= 0 else math.inf), 0.0, 1.0
            continue
        cut = NormalDist().inv_cdf(p)
        lam = math.exp(-0.5 * cut * cut) / math.sqrt(2.0 * math.pi) / (1.0 - p)
        quantile[i] = round(cut, _DECIMALS)
        tail_mean[i] = round(lam, _DECIMALS)
        tail_sd[i] = round(math.sqrt(max(1.0 + cut * lam - lam * lam, 1e-12)), _DECIMALS)
    q = quantile[where]
    slope = stats.positive_sd / tail_sd[where]
    slope = np.where(share < 1.0, np.maximum(slope, _MIN_SLOPE), 0.0)
    offset = np.where(share < 1.0, stats.positive_mean - slope * tail_mean[where], 0.0)
    with np.errstate(invalid="ignore"):
        floor = np.where(share <= 0.0, 0.0,
                         np.where(share >= 1.0, np.inf, np.maximum(offset + slope * q, 0.0)))
    return np.round(offset, _DECIMALS), np.round(slope, _DECIMALS), np.round(floor, _DECIMALS)


def _calibrate(history: np.ndarray, count: int, seed: int,
               present: np.ndarray | None = None) -> _Calibration:
    stats = rep_statistics(history, present)
    joint = joint_statistics(history, stats, present)
    offset, slope, floor = _positive_part(stats)
    rng = np.random.Generator(np.random.PCG64([seed, 0]))
    n_metrics = history.shape[1]
    common = _correlate(rng.standard_normal((n_metrics, count)),
                        _cholesky(joint.common_corr)).T.copy()
    zero_metrics = tuple(int(j) for j in np.flatnonzero((stats.zero_share > 0).any(axis=0)))
    own = np.round(_cholesky(joint.own_corr) * np.sqrt(1.0 - joint.common_share)[:, None],
                   _DECIMALS)
    return _Calibration(offset, slope, floor, own, joint.common_share, common, zero_metrics,
                        seed)


# --- Reps who joined or left (allow_absent, MODEL.md section 5) ------------------------
# Kept apart from the complete-history path so that cases with every rep-period are
# untouched bit for bit: each rep's statistics come from her own periods only, a rep
# with one period takes the metric's spread (and zero share) over present rep-periods,
# and the common share compares each period's mean over the reps present with the
# 1/n_t a mean of n_t reps would show.

def _rep_statistics_present(history: np.ndarray, present: np.ndarray) -> RepStatistics:
    n_metrics = history.shape[1]
    mask = present[:, None, :]  # (N, 1, T)
    own = present.sum(axis=1).astype(np.float64)[:, None]  # periods per rep, >= 1
    mean = np.where(mask, history, 0.0).sum(axis=2) / own
    dev = np.where(mask, history - mean[..., None], 0.0)
    sd = np.sqrt((dev * dev).sum(axis=2) / own)
    positive = (history > 0) & mask
    count = positive.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos_mean = np.where(count > 0, np.where(positive, history, 0.0).sum(axis=2)
                            / np.maximum(count, 1), 0.0)
        pos_var = np.where(count > 0, np.where(positive, (history - pos_mean[..., None]) ** 2,
                                               0.0).sum(axis=2) / np.maximum(count, 1), 0.0)
    zero_share = 1.0 - count / own
    pos_sd = np.sqrt(pos_var)
    single = (own[:, 0] <= 1)
    if single.any():  # one period says nothing of a rep's own spread: the metric's
        for j in range(n_metrics):
            values = history[:, j, :][present]
            positives = values[values > 0]
            sd[single, j] = values.std()
            zero_share[single, j] = float((values <= 0).mean())
            pos_sd[single, j] = positives.std() if positives.size else 0.0
            fill = positives.mean() if positives.size else 0.0
            pos_mean[single, j] = np.where(count[single, j] > 0, pos_mean[single, j], fill)
    return RepStatistics(*(np.round(a, _DECIMALS)
                           for a in (mean, sd, zero_share, pos_mean, pos_sd)))


def _joint_statistics_present(history: np.ndarray, stats: RepStatistics,
                              present: np.ndarray) -> JointStatistics:
    _, n_metrics, n_periods = history.shape
    mask = present[:, None, :]
    mean, sd = stats.mean[..., None], stats.sd[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(mask & (sd > 0), (history - mean) / np.where(sd > 0, sd, 1.0), 0.0)
    per_period = np.maximum(present.sum(axis=0).astype(np.float64), 1.0)  # (T,)
    period_z = z.sum(axis=0) / per_period[None, :]  # (M, T)
    noise = float(np.mean(1.0 / per_period))
    raw_share = ((period_z.var(axis=1) - noise) / (1.0 - noise) if noise < 1.0
                 else np.zeros(n_metrics))
    floor = MIN_COMMON_SHARE if n_periods < LONG_HISTORY else 0.0
    share = np.round(np.clip(raw_share, floor, MAX_COMMON_SHARE), _DECIMALS)
    totals = np.where(mask, history, 0.0).sum(axis=0) / per_period[None, :]
    common_corr = _correlation(totals - totals.mean(axis=1, keepdims=True)) \
        if n_periods > 1 else np.eye(n_metrics)
    # A rep's own movement over her present periods only.
    own = (z - period_z[None]).transpose(1, 0, 2)[:, present]  # (M, present rep-periods)
    return JointStatistics(share, common_corr, _correlation(own))


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
    # The statistics' arrays (each as large as the history) are written once: no huge
    # pages (models/pages.py).
    with plain_pages():
        calibration = _calibrate(case.attainment, count, seed, case.present)
    return Scenarios("montecarlo", count, labels, case.attainment, calibration)
