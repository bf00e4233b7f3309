"""Everything the model needs from reps and scenarios, reduced once with numpy.

Payouts are linear in the plan ``(w, u)``: ``P[r, s] = TI_r * sum_m (w_m phi + u_m psi)``.
So every figure of the model is a coefficient vector or matrix over metrics. Money is
kept as a share of the total target incentive ``sum_r TI_r`` so that the LP rows are
of order one; multiply by ``ti_total`` for currency.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from compplan.models.case import Case
from compplan.models.scenarios import Scenarios, build_scenarios

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
#: Worker threads for chunk passes (numpy releases the GIL in its array loops).
WORKERS = max(1, min(4, os.cpu_count() or 1))

Progress = Callable[[str, int, int], None]


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


def _map_chunks(scen: Scenarios, work: Callable[[int, int, np.ndarray], T], phase: str,
                progress: Progress | None) -> list[T]:
    """``work(start, stop, x)`` on every chunk of reps, in threads, results in rep order."""
    bounds = scen.bounds(_chunk_reps(*scen.block(0, 1).shape[1:]))

    def run(bound: tuple[int, int]) -> T:
        return work(bound[0], bound[1], scen.block(*bound))

    results = []
    # One BLAS thread per worker: OpenBLAS threads spin, and oversubscribed they stall.
    with single_blas_thread(), ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for i, result in enumerate(pool.map(run, bounds)):
            results.append(result)
            if progress is not None:
                progress(phase, i + 1, len(bounds))
    return results


def _steps(case: Case, scen: Scenarios, progress: Progress | None) -> np.ndarray:
    """``delta_m``: the metric's ``step``, else the population std of ``x[:, m, :]``."""
    given = [case.metric(m).step for m in case.metric_ids]
    if all(s is not None for s in given):
        return np.array(given, dtype=np.float64)
    if scen.mode == "historical" and case.present is not None:
        # Over present rep-periods only (MODEL.md section 5).
        std = np.array([case.attainment[:, j, :][case.present].std()
                        for j in range(len(given))])
    elif scen.mode == "historical":
        std = case.attainment.std(axis=(0, 2))
    else:
        # Per-chunk moments merged in rep order (Chan et al.): exact enough, one pass.
        def moments(start: int, stop: int, x: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
            mean = x.mean(axis=(0, 2), dtype=np.float64)
            dev = x - mean.astype(x.dtype)[None, :, None]
            return x.shape[0] * x.shape[2], mean, (dev * dev).sum(axis=(0, 2), dtype=np.float64)

        count, mean, m2 = 0, np.zeros(len(given)), np.zeros(len(given))
        for n, mu, sq in _map_chunks(scen, moments, "scenario spread", progress):
            delta = mu - mean
            total = count + n
            mean = mean + delta * n / total
            m2 = m2 + sq + delta**2 * count * n / total
            count = total
        std = np.sqrt(m2 / count)
    return np.array([g if g is not None else s for g, s in zip(given, std, strict=True)])


@dataclass(frozen=True)
class _Partial:
    scen_w: np.ndarray
    scen_u: np.ndarray
    rep_w: np.ndarray
    rep_u: np.ndarray
    gain_w: np.ndarray  # what one step up pays, per unit of w (summed over reps)
    gain_u: np.ndarray


def compute_coefficients(case: Case, scenarios: Scenarios | None = None,
                         progress: Progress | None = None) -> Coefficients:
    """Reduce reps and scenarios to the model's coefficients, one pass over chunks of reps.

    Parameters
    ----------
    case : Case
        A loaded case.
    scenarios : Scenarios, optional
        Defaults to the case's own (``build_scenarios(case)``).
    progress : callable, optional
        Called as ``progress(phase, chunks_done, chunks_total)``.

    Returns
    -------
    Coefficients
        Arrays whose size depends on metrics, scenarios, groups and (for the tail
        guardrails) reps, never on reps x scenarios.
    """
    scen = scenarios if scenarios is not None else build_scenarios(case)
    ids = case.metric_ids
    theta = np.array([case.metric(m).threshold for m in ids])
    kappa = np.array([case.metric(m).cap for m in ids])
    ti = case.target_incentive
    ti_total = float(ti.sum())
    weight = ti / ti_total
    step = _steps(case, scen, progress)
    n_scen = scen.count

    def partial(start: int, stop: int, x: np.ndarray) -> _Partial:
        # In the draws' own precision (float64 history, float32 Monte Carlo); the
        # sums over chunks are taken in float64 below.
        w, th, ka, st = (a.astype(x.dtype) for a in (weight[start:stop], theta, kappa, step))
        phi, psi = curves(x, th, ka)
        up_phi, up_psi = curves(x + st[None, :, None], th, ka)
        up_phi -= phi
        up_psi -= psi
        mask = scen.present(start, stop)
        per_rep: np.ndarray | float = n_scen
        if mask is not None:  # off the plan: paid nothing, no step to gain (section 5)
            on = mask[:, None, :].astype(x.dtype)
            for a in (phi, psi, up_phi, up_psi):
                a *= on
            per_rep = mask.sum(axis=1)[:, None].astype(np.float64)
        # einsum's own loops beat BLAS on these thin contractions by an order of magnitude.
        return _Partial(np.einsum("r,rms->ms", w, phi), np.einsum("r,rms->ms", w, psi),
                        np.einsum("rms->rm", phi) / per_rep, np.einsum("rms->rm", psi) / per_rep,
                        np.einsum("r,rms->ms", w, up_phi), np.einsum("r,rms->ms", w, up_psi))

    parts = _map_chunks(scen, partial, "coefficients", progress)
    def total(name: str) -> np.ndarray:
        return np.asarray(np.sum([getattr(p, name) for p in parts], axis=0, dtype=np.float64)).T

    scen_w, scen_u, gain_w, gain_u = (total(k) for k in ("scen_w", "scen_u", "gain_w", "gain_u"))
    rep_w = np.concatenate([p.rep_w for p in parts]).astype(np.float64)
    rep_u = np.concatenate([p.rep_u for p in parts]).astype(np.float64)
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
