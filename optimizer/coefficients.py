"""Everything the model needs from reps and scenarios, reduced once with numpy.

Payouts are linear in the plan ``(w, u)``: ``P[r, s] = TI_r * sum_m (w_m phi + u_m psi)``.
So every figure of the model is a coefficient vector or matrix over metrics. Money is
kept as a share of the total target incentive ``sum_r TI_r`` so that the LP rows are
of order one; multiply by ``ti_total`` for currency.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from compplan.models.case import Case
from compplan.models.pages import plain_pages
from compplan.models.scenarios import SCRATCH_BYTES, ScenarioPart, Scenarios, build_scenarios

T = TypeVar("T")


@dataclass(frozen=True)
class Coefficients:
    """Coefficients of the canonical model; ``w`` and ``u`` parts per metric.

    Attributes
    ----------
    metric_ids : tuple of str
        Metric order of every array.
    ti_total : float
        Total target incentive, the unit of every money figure below.
    scen_w, scen_u : numpy.ndarray
        (S, M): total payout of scenario ``s`` per unit of ``w_m`` / ``u_m``.
    rep_w, rep_u : numpy.ndarray
        (N, M): rep's expected payout as a share of its own target, ``e_r``.
    group_w, group_u : numpy.ndarray
        (H, M): a group's expected payout as a share of its target incentive.
    groups : tuple of str
        Group labels (values of the ``group_by`` column), sorted.
    align_w, align_u : numpy.ndarray
        (M,): ``U_m`` per unit of ``w_m`` / ``u_m``.
    goal_alignment : numpy.ndarray
        (M,): ``a_m = sum_g pi_g A[m, g]``.
    responsiveness : numpy.ndarray
        (M,): ``rho_m``.
    step : numpy.ndarray
        (M,): ``delta_m``.
    present : numpy.ndarray or None
        (N,): the share of scenarios in which each rep is on the plan, ``sum_s O[r, s] / S``
        (``[scenarios] allow_absent``, MODEL.md section 5); None when every rep is
        present in every scenario. ``rep_w``/``rep_u`` are then over a rep's own
        scenarios, ``group_*`` and ``align_*`` over present rep-scenarios.
    on_plan : float
        ``sum_{r,s} O[r, s] TI_r / (S sum_r TI_r)``: the target incentive on the plan in
        an average scenario, as a share of ``ti_total`` (1 when all are present).
    """

    metric_ids: tuple[str, ...]
    ti_total: float
    scen_w: np.ndarray
    scen_u: np.ndarray
    rep_w: np.ndarray
    rep_u: np.ndarray
    group_w: np.ndarray
    group_u: np.ndarray
    groups: tuple[str, ...]
    align_w: np.ndarray
    align_u: np.ndarray
    goal_alignment: np.ndarray
    responsiveness: np.ndarray
    step: np.ndarray
    present: np.ndarray | None = None
    on_plan: float = 1.0

    @property
    def pay_w(self) -> np.ndarray:
        """(M,): everyone's payout as a share of target on the plan, per unit of ``w_m``.

        The right-hand term of constraint 8: ``sum_{r,s} P / sum_{r,s} O TI``; equal to
        ``cost_w`` when every rep is present throughout.
        """
        return self.cost_w if self.present is None else self.cost_w / self.on_plan

    @property
    def pay_u(self) -> np.ndarray:
        """(M,): as ``pay_w``, per unit of ``u_m``."""
        return self.cost_u if self.present is None else self.cost_u / self.on_plan

    @property
    def cost_w(self) -> np.ndarray:
        """(M,): expected total payout per unit of ``w_m``."""
        return self.scen_w.mean(axis=0)

    @property
    def cost_u(self) -> np.ndarray:
        """(M,): expected total payout per unit of ``u_m``."""
        return self.scen_u.mean(axis=0)

    @property
    def objective_w(self) -> np.ndarray:
        """(M,): alignment per unit of ``w_m``: ``a_m rho_m dU_m/dw_m``."""
        return self.goal_alignment * self.responsiveness * self.align_w

    @property
    def objective_u(self) -> np.ndarray:
        """(M,): alignment per unit of ``u_m``."""
        return self.goal_alignment * self.responsiveness * self.align_u


def curves(x: np.ndarray, theta: np.ndarray, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``phi`` and ``psi`` of MODEL.md section 2, metrics on axis 1 of ``x``."""
    th = theta[None, :, None]
    top = 1.0 - th
    # maximum/minimum in place: the same values as np.clip, at half its cost.
    phi = x - th
    np.maximum(phi, 0.0, out=phi)
    np.minimum(phi, top, out=phi)
    phi /= top
    psi = x - 1.0
    np.maximum(psi, 0.0, out=psi)
    np.minimum(psi, kappa[None, :, None] - 1.0, out=psi)
    return phi, psi


def goal_alignment(case: Case) -> np.ndarray:
    """``a_m = sum_g pi_g A[m, g]`` with priorities normalised to sum to one."""
    goals = case.spec.goals
    total = sum(goals.values())
    return np.array([sum(goals.get(g, 0.0) / total * a
                         for g, a in case.metric(m).alignment.items())
                     for m in case.metric_ids])


#: Reps per chunk are chosen so that one float64 temporary holds about this many values.
CHUNK_ELEMENTS = 1 << 20
#: Reps per task: about this many values (reps x metrics x scenarios), whole chunks.
#: A task is what a cluster's worker computes at once, and the unit in which the chunks'
#: sums are added before the tasks' sums are: so the figures are the same, bit for bit,
#: in this process and on any cluster. One task holds 250,000 reps x 20 metrics x 12
#: periods, so a history is summed as one; 100,000 reps x 20 x 500 draws are 15 tasks.
TASK_ELEMENTS = 1 << 26
#: Worker threads for chunk passes (numpy releases the GIL in its array loops).
WORKERS = max(1, min(4, os.cpu_count() or 1))

Progress = Callable[[str, int, int], None]
Bounds = tuple[int, int]


class Runner(Protocol):
    """Where a pass over Monte Carlo draws runs when not in this process (a Dask cluster).

    ``compplan.batch.cluster`` has the Dask one.
    """

    def map(self, function: Callable[..., T], tasks: list[tuple[Any, ...]],
            phase: str) -> Iterator[T]:
        """``function(*task)`` for every task, the results in the order of ``tasks``."""
        ...


_BLAS_LOCK = threading.Lock()
_blas_users = [0]
_blas_limit: list[threadpool_limits] = []


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """One BLAS thread for the process while any caller is inside (callers may overlap).

    threadpoolctl's limit is process-wide and restores what it found on exit: entered
    from two threads at once, the first to leave would lift the other's limit (or the
    last would leave it on for good). The limit is set by the first caller to enter and
    lifted by the last to leave.
    """
    with _BLAS_LOCK:
        if _blas_users[0] == 0:
            _blas_limit.append(threadpool_limits(limits=1, user_api="blas"))
        _blas_users[0] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_users[0] -= 1
            if _blas_users[0] == 0:
                _blas_limit.pop().restore_original_limits()


def _chunk_reps(n_metrics: int, n_scen: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(1, n_metrics * n_scen))


def _chunk_bounds(scen: Scenarios, n_metrics: int) -> list[Bounds]:
    return scen.bounds(_chunk_reps(n_metrics, scen.count))


def _tasks(chunks: list[Bounds], n_metrics: int, n_scen: int) -> list[list[Bounds]]:
    """Consecutive chunks grouped into tasks of about :data:`TASK_ELEMENTS` values."""
    reps = max(b - a for a, b in chunks)
    per_task = max(1, TASK_ELEMENTS // max(1, reps * n_metrics * n_scen))
    return [chunks[i:i + per_task] for i in range(0, len(chunks), per_task)]


def _map_chunks(scen: Scenarios, bounds: list[Bounds],
                work: Callable[[int, int, np.ndarray], T], phase: str,
                progress: Progress | None) -> Iterator[T]:
    """``work(start, stop, x)`` on every chunk of reps, in threads, results in rep order."""
    def run(bound: Bounds) -> T:
        return work(bound[0], bound[1], scen.block(*bound))

    # One BLAS thread per worker: OpenBLAS threads spin, and oversubscribed they stall.
    with single_blas_thread(), ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for i, result in enumerate(pool.map(run, bounds)):
            if progress is not None:
                progress(phase, i + 1, len(bounds))
            yield result


def _moments(x: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Count, mean and sum of squared deviations of each metric over a chunk."""
    mean = x.mean(axis=(0, 2), dtype=np.float64)
    # x - mean and its square in one scratch array laid out as numpy lays out x - mean
    # (so the sum runs in the same order): the same values, no fresh pages per chunk.
    dev = np.subtract(x, mean.astype(x.dtype)[None, :, None], out=_scratch_like("dev", x))
    np.multiply(dev, dev, out=dev)
    return x.shape[0] * x.shape[2], mean, dev.sum(axis=(0, 2), dtype=np.float64)


_LIKE = threading.local()


def _scratch_like(name: str, x: np.ndarray) -> np.ndarray:
    """An array ``name`` of this thread, as ``np.empty_like(x)``, reused while x's layout lasts."""
    if x.nbytes > SCRATCH_BYTES:
        return np.empty_like(x)
    cache: dict[str, tuple[Any, np.ndarray]] | None = getattr(_LIKE, "arrays", None)
    if cache is None:
        cache = _LIKE.arrays = {}
    key = (x.shape, x.strides, x.dtype)
    found = cache.get(name)
    if found is None or found[0] != key:
        found = cache[name] = (key, np.empty_like(x))
    return found[1]


def moment_task(part: ScenarioPart,
                chunks: list[Bounds]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """A cluster task: :func:`_moments` of each chunk of one part of the draws."""
    with single_blas_thread():
        return [_moments(part.block(a, b)) for a, b in chunks]


def _steps(case: Case, scen: Scenarios, progress: Progress | None,
           runner: Runner | None = None) -> np.ndarray:
    """``delta_m``: the metric's ``step``, else the population std of ``x[:, m, :]``."""
    given = [case.metric(m).step for m in case.metric_ids]
    if all(s is not None for s in given):
        return np.array(given, dtype=np.float64)
    if scen.mode == "historical" and case.present is not None:
        # Over present rep-periods only (MODEL.md section 5).
        std = np.array([case.attainment[:, j, :][case.present].std()
                        for j in range(len(given))])
    elif scen.mode == "historical":
        std = _history_std(case.attainment)
    else:
        bounds = _chunk_bounds(scen, len(given))
        chunks: Iterable[tuple[int, np.ndarray, np.ndarray]]
        if runner is None:
            chunks = _map_chunks(scen, bounds, lambda a, b, x: _moments(x), "scenario spread",
                                 progress)
        else:
            groups = _tasks(bounds, len(given), scen.count)
            tasks = [(scen.part(g[0][0], g[-1][1]), g) for g in groups]
            chunks = (m for ms in _counted(runner.map(moment_task, tasks, "scenario spread"),
                                           "scenario spread", len(tasks), progress)
                      for m in ms)
        # Per-chunk moments merged in rep order (Chan et al.): exact enough, one pass.
        count, mean, m2 = 0, np.zeros(len(given)), np.zeros(len(given))
        for n, mu, sq in chunks:
            delta = mu - mean
            total = count + n
            mean = mean + delta * n / total
            m2 = m2 + sq + delta**2 * count * n / total
            count = total
        std = np.sqrt(m2 / count)
    return np.array([g if g is not None else s for g, s in zip(given, std, strict=True)])


#: Rows of ``(rep, period)`` per block of :func:`_history_std` (a block stays in the cache).
STD_BLOCK_ROWS = 4096


def _history_std(x: np.ndarray) -> np.ndarray:
    """``x.std(axis=(0, 2))`` of a history, the same value bit for bit, without its copy of x.

    numpy's std makes ``x - mean`` and its square as fresh arrays the size of ``x``
    (tens of MB a role, their pages faulted in each time). Read as laid out in memory,
    periods then metrics per rep (models/fastcsv.py), both of numpy's sums run over the
    rows of that ``(rep * period, metric)`` table, one row after the other. So block by
    block, with the running sum added to the block's first row, gives the same sums.
    Another layout keeps numpy's own std.
    """
    rows = x.transpose(0, 2, 1)
    if not rows.flags.c_contiguous or x.size == 0:
        return x.std(axis=(0, 2))
    table = rows.reshape(-1, x.shape[1])
    count = table.shape[0]
    block = np.empty((min(STD_BLOCK_ROWS, count), table.shape[1]))

    def total(transform: Callable[[np.ndarray, np.ndarray], None]) -> np.ndarray:
        running = None
        for first in range(0, count, block.shape[0]):
            part = block[:min(block.shape[0], count - first)]
            transform(table[first:first + part.shape[0]], part)
            if running is not None:
                part[0] += running
            running = np.add.reduce(part, axis=0)
        assert running is not None
        return running

    mean = total(lambda rows, out: np.copyto(out, rows)) / count

    def squared(rows: np.ndarray, out: np.ndarray) -> None:
        np.subtract(rows, mean, out=out)
        np.multiply(out, out, out=out)

    return np.sqrt(total(squared) / count)


def _counted(results: Iterator[T], phase: str, total: int,
             progress: Progress | None) -> Iterator[T]:
    for i, result in enumerate(results):
        if progress is not None:
            progress(phase, i + 1, total)
        yield result


@dataclass(frozen=True)
class _Partial:
    scen_w: np.ndarray
    scen_u: np.ndarray
    rep_w: np.ndarray
    rep_u: np.ndarray
    gain_w: np.ndarray  # what one step up pays, per unit of w (summed over reps)
    gain_u: np.ndarray


_SUMMED = ("scen_w", "scen_u", "gain_w", "gain_u")


class _Sums:
    """Chunks' partials added in rep order: the summed arrays in float64, the rest kept."""

    def __init__(self) -> None:
        self.summed: dict[str, np.ndarray] = {}
        self.rep_w: list[np.ndarray] = []
        self.rep_u: list[np.ndarray] = []

    def add(self, part: _Partial | _Sums) -> _Sums:
        """Add ``part`` (a chunk's partial, or a task's sums) after what is there."""
        for name in _SUMMED:
            value = part.summed[name] if isinstance(part, _Sums) else getattr(part, name)
            if name in self.summed:
                self.summed[name] += value
            else:  # what np.sum over the parts does first: a float64 copy of the first
                self.summed[name] = np.array(value, dtype=np.float64, order="C")
        if isinstance(part, _Sums):
            self.rep_w += part.rep_w
            self.rep_u += part.rep_u
        else:
            self.rep_w.append(part.rep_w)
            self.rep_u.append(part.rep_u)
        return self


@dataclass(frozen=True)
class _Curves:
    """What a chunk's partial needs besides its draws (small: sent to a cluster's workers)."""

    theta: np.ndarray
    kappa: np.ndarray
    step: np.ndarray
    n_scen: int


def _partial(x: np.ndarray, weight: np.ndarray, curves_of: _Curves,
             mask: np.ndarray | None) -> _Partial:
    """A chunk's sums: ``weight`` is its reps' share of the target incentive."""
    # In the draws' own precision (float64 history, float32 Monte Carlo); the
    # sums over chunks are taken in float64.
    w, th, ka, st = (a.astype(x.dtype) for a in (weight, curves_of.theta, curves_of.kappa,
                                                 curves_of.step))
    if mask is None and x.strides[2] == x.itemsize and x.strides[0] == x.shape[2] * x.itemsize:
        # Each metric's (reps, scenarios) slab contiguous: a Monte Carlo block as drawn.
        return _partial_by_metric(x, w, th, ka, st, curves_of.n_scen)
    phi, psi = curves(x, th, ka)
    up_phi, up_psi = curves(x + st[None, :, None], th, ka)
    up_phi -= phi
    up_psi -= psi
    per_rep: np.ndarray | float = curves_of.n_scen
    if mask is not None:  # off the plan: paid nothing, no step to gain (section 5)
        on = mask[:, None, :].astype(x.dtype)
        for a in (phi, psi, up_phi, up_psi):
            a *= on
        per_rep = mask.sum(axis=1)[:, None].astype(np.float64)
    # einsum's own loops beat BLAS on these thin contractions by an order of magnitude.
    return _Partial(np.einsum("r,rms->ms", w, phi), np.einsum("r,rms->ms", w, psi),
                    np.einsum("rms->rm", phi) / per_rep, np.einsum("rms->rm", psi) / per_rep,
                    np.einsum("r,rms->ms", w, up_phi), np.einsum("r,rms->ms", w, up_psi))


def _partial_by_metric(x: np.ndarray, w: np.ndarray, th: np.ndarray, ka: np.ndarray,
                       st: np.ndarray, n_scen: int) -> _Partial:
    """:func:`_partial` one metric at a time, for draws laid out metric by metric.

    The same operations in the same order on each metric's (reps, scenarios) slab, so
    the same values bit for bit; the slab stays in the CPU's cache through every step
    instead of the whole chunk streaming through memory once per step.
    """
    n_reps, n_metrics, n_scen_x = x.shape
    sums = {k: np.empty((n_metrics, n_scen_x), dtype=x.dtype) for k in _SUMMED}
    # Laid out metric by metric, as einsum lays out "rms->rm" of such draws: the arrays
    # built from them downstream (and BLAS's sums over them) stay the same.
    rep_w = np.empty((n_metrics, n_reps), dtype=x.dtype).T
    rep_u = np.empty((n_metrics, n_reps), dtype=x.dtype).T
    one = x.dtype.type(1.0)
    phi, psi, up_phi, up_psi = (np.empty((n_reps, n_scen_x), dtype=x.dtype)
                                for _ in range(4))
    for m in range(n_metrics):
        xm = x[:, m, :]
        # curves(): phi and psi of x, then of x one step up, less those of x.
        top, cap = one - th[m], ka[m] - one
        for value, ph, ps in ((xm, phi, psi), (None, up_phi, up_psi)):
            if value is None:
                value = np.add(xm, st[m], out=ps)
            np.subtract(value, th[m], out=ph)
            np.maximum(ph, 0.0, out=ph)
            np.minimum(ph, top, out=ph)
            ph /= top
            np.subtract(value, one, out=ps)
            np.maximum(ps, 0.0, out=ps)
            np.minimum(ps, cap, out=ps)
        up_phi -= phi
        up_psi -= psi
        np.einsum("r,rs->s", w, phi, out=sums["scen_w"][m])
        np.einsum("r,rs->s", w, psi, out=sums["scen_u"][m])
        np.einsum("rs->r", phi, out=rep_w[:, m])
        np.einsum("rs->r", psi, out=rep_u[:, m])
        np.einsum("r,rs->s", w, up_phi, out=sums["gain_w"][m])
        np.einsum("r,rs->s", w, up_psi, out=sums["gain_u"][m])
    return _Partial(sums["scen_w"], sums["scen_u"], rep_w / n_scen, rep_u / n_scen,
                    sums["gain_w"], sums["gain_u"])


def coefficient_task(part: ScenarioPart, chunks: list[Bounds], weight: np.ndarray,
                     curves_of: _Curves) -> _Sums:
    """A cluster task: the chunks of one part of the draws, summed in rep order.

    ``weight`` holds the part's reps' shares of the target incentive.
    """
    sums = _Sums()
    with single_blas_thread():
        for a, b in chunks:
            sums.add(_partial(part.block(a, b), weight[a - part.start:b - part.start],
                              curves_of, None))
    return sums


def _coefficient_sums(scen: Scenarios, weight: np.ndarray, curves_of: _Curves,
                      progress: Progress | None, runner: Runner | None) -> _Sums:
    """Every chunk's partial, summed within tasks, then the tasks' sums in rep order."""
    n_metrics = len(curves_of.theta)
    groups = _tasks(_chunk_bounds(scen, n_metrics), n_metrics, scen.count)
    total = _Sums()
    if runner is not None:
        tasks = [(scen.part(g[0][0], g[-1][1]), g, weight[g[0][0]:g[-1][1]], curves_of)
                 for g in groups]
        for sums in _counted(runner.map(coefficient_task, tasks, "coefficients"),
                             "coefficients", len(tasks), progress):
            total.add(sums)
        return total
    last = {g[-1]: i for i, g in enumerate(groups)}
    task = _Sums()
    chunks = [b for g in groups for b in g]
    parts = _map_chunks(scen, chunks, lambda a, b, x: _partial(
        x, weight[a:b], curves_of, scen.present(a, b)), "coefficients", progress)
    for bound, part in zip(chunks, parts, strict=True):
        task.add(part)
        if bound in last:
            total.add(task)
            task = _Sums()
    return total


def compute_coefficients(case: Case, scenarios: Scenarios | None = None,
                         progress: Progress | None = None,
                         runner: Runner | None = None) -> Coefficients:
    """Reduce reps and scenarios to the model's coefficients, one pass over chunks of reps.

    Parameters
    ----------
    case : Case
        A loaded case.
    scenarios : Scenarios, optional
        Defaults to the case's own (``build_scenarios(case)``).
    progress : callable, optional
        Called as ``progress(phase, chunks_done, chunks_total)``.
    runner : Runner, optional
        Monte Carlo: where the passes over the draws run (a Dask cluster); in this
        process's threads without one. The same figures either way, bit for bit.

    Returns
    -------
    Coefficients
        Arrays whose size depends on metrics, scenarios, groups and (for the tail
        guardrails) reps, never on reps x scenarios.
    """
    scen = scenarios if scenarios is not None else build_scenarios(case)
    if runner is not None and scen.mode != "montecarlo":
        runner = None  # a history is the data itself: nothing to draw elsewhere
    ids = case.metric_ids
    ti = case.target_incentive
    ti_total = float(ti.sum())
    weight = ti / ti_total
    # A history's chunks are streamed once: no huge pages (models/pages.py). Monte
    # Carlo's draws keep numpy's own setting, which they gain from.
    with plain_pages() if scen.mode == "historical" else nullcontext():
        step = _steps(case, scen, progress, runner)
        n_scen = scen.count
        curves_of = _Curves(np.array([case.metric(m).threshold for m in ids]),
                            np.array([case.metric(m).cap for m in ids]), step, n_scen)
        sums = _coefficient_sums(scen, weight, curves_of, progress, runner)
    scen_w, scen_u, gain_w, gain_u = (sums.summed[k].T for k in _SUMMED)
    rep_w = np.concatenate(sums.rep_w).astype(np.float64)
    rep_u = np.concatenate(sums.rep_u).astype(np.float64)
    present, on_plan = _presence(scen, weight)
    groups, group_w, group_u = _group_coefficients(case, rep_w, rep_u, present)
    if present is None:
        align_w, align_u = gain_w.mean(axis=0), gain_u.mean(axis=0)
    else:  # U_m over present rep-periods: sum O TI in the denominator (section 5)
        align_w, align_u = gain_w.sum(axis=0) / (on_plan * n_scen), \
            gain_u.sum(axis=0) / (on_plan * n_scen)
    return Coefficients(
        metric_ids=ids, ti_total=ti_total, scen_w=scen_w, scen_u=scen_u,
        rep_w=rep_w, rep_u=rep_u, group_w=group_w, group_u=group_u, groups=groups,
        align_w=align_w, align_u=align_u,
        goal_alignment=goal_alignment(case),
        responsiveness=np.array([case.metric(m).responsiveness for m in ids]), step=step,
        present=present, on_plan=on_plan)


def _presence(scen: Scenarios, weight: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Each rep's share of scenarios on the plan and the TI-weighted mean of it."""
    mask = scen.present(0, scen.n_reps)
    if mask is None:
        return None, 1.0
    share = mask.sum(axis=1) / scen.count
    return share, float(weight @ share)


def _group_coefficients(case: Case, rep_w: np.ndarray, rep_u: np.ndarray,
                        present: np.ndarray | None = None
                        ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    column = case.spec.fairness.group_by
    n_metrics = rep_w.shape[1]
    if column is None:
        return (), np.zeros((0, n_metrics)), np.zeros((0, n_metrics))
    codes, labels = np.unique(case.reps[column].to_numpy(dtype=str), return_inverse=True)
    # A group's payout over its target on the plan: TI weighted by the share present.
    ti = case.target_incentive if present is None else case.target_incentive * present
    group_ti = np.bincount(labels, weights=ti)
    group_w = np.stack([np.bincount(labels, weights=ti * rep_w[:, j])
                        for j in range(n_metrics)], axis=1) / group_ti[:, None]
    group_u = np.stack([np.bincount(labels, weights=ti * rep_u[:, j])
                        for j in range(n_metrics)], axis=1) / group_ti[:, None]
    return tuple(str(c) for c in codes), group_w, group_u
