"""Solves in a child process, so that a closed tab or Ctrl-C stops them at once.

HiGHS cannot be interrupted from another thread, so each Optimise, Round or min
budget runs in a process of its own, started from a fork server that has Pyomo
imported already (a fork, not a fresh interpreter). The page's request waits for
it; when the browser goes away (a closed tab, a reload) the process is killed,
and the studio's shutdown kills any left.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from compplan.errors import CompplanError, InfeasibleError, SolverLimitError
from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients
from compplan.studio.session import Session, Solved
from compplan.studio.state import State

_PRELOAD = ["compplan.optimizer.pipeline", "compplan.studio.solving"]
#: How often a waiting request checks whether its page is still there (seconds).
POLL = 0.05


def solve_in_child(conn: Connection, case: Case, coeffs: Coefficients, kind: str,
                   rounding: str | None) -> None:
    """Run one solve and send the :class:`Solved` back (the child process's target).

    Parameters
    ----------
    conn : Connection
        Where to send the answer.
    case : Case
        The case with the state's limits and locks.
    coeffs : Coefficients
        The case's coefficients (limits and locks change none).
    kind : {"optimised", "rounded", "min-budget"}
        As ``compplan optimise``, ``compplan optimise --round`` or ``compplan min-budget``.
    rounding : str, optional
        The grids of ``--round``.
    """
    started = time.perf_counter()
    try:
        solved = _solve(case, coeffs, kind, rounding)
    except InfeasibleError as exc:
        solved = Solved("infeasible", str(exc), diagnosis=exc.report)
    except SolverLimitError as exc:
        solved = Solved("no_solution", str(exc))
    except CompplanError as exc:
        solved = Solved("error", str(exc))
    solved.seconds = time.perf_counter() - started
    conn.send(solved)
    conn.close()


def _solve(case: Case, coeffs: Coefficients, kind: str, rounding: str | None) -> Solved:
    from compplan.optimizer.model import parse_rounding
    from compplan.optimizer.pipeline import optimise_case

    if kind == "min-budget":
        # As compplan min-budget (optimizer.pipeline.cheapest_plan), from the coefficients.
        budget = case.spec.budget.model_copy(update={"expected_cap": None})
        uncapped = replace(case, spec=case.spec.model_copy(update={"budget": budget}))
        outcome = optimise_case(uncapped, coefficients=coeffs, objective="cost")
    else:
        grids = parse_rounding(rounding) if kind == "rounded" and rounding else None
        outcome = optimise_case(case, coefficients=coeffs, rounding=grids)
    status = str(outcome.status)
    return Solved(status, f"{status} plan", outcome.plan, rounding=outcome.rounding)


class Solver:
    """Runs solves in child processes and kills those whose page has gone."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(_PRELOAD)
        self.running: dict[int, Any] = {}
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Start the fork server (importing Pyomo there) ahead of the first solve."""
        process = self.context.Process(target=_nothing)
        process.start()
        process.join()

    async def solve(self, case: Case, coeffs: Coefficients, kind: str, rounding: str | None,
                    gone: Callable[[], Awaitable[bool]]) -> Solved | None:
        """Solve in a child process; None when ``gone()`` says the page left first.

        Parameters
        ----------
        case, coeffs, kind, rounding
            As :func:`solve_in_child`.
        gone : callable
            Awaited every :data:`POLL` seconds; True stops the solve.

        Returns
        -------
        Solved or None
            The answer, or None when the solve was stopped.
        """
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(target=solve_in_child,
                                       args=(send, case, coeffs, kind, rounding), daemon=True)
        await asyncio.to_thread(process.start)
        send.close()
        with self._lock:
            self.running[int(process.pid or 0)] = process
        answer: Solved | None = None
        try:
            while True:
                if receive.poll():
                    answer = receive.recv()
                    break
                if await gone():
                    break  # the page left: None, and the process is killed below
                if not process.is_alive() and not receive.poll():
                    answer = Solved("error", f"the solver's process ended without a plan "
                                             f"(exit code {process.exitcode})")
                    break
                await asyncio.sleep(POLL)
        except (EOFError, OSError) as exc:
            answer = Solved("error", f"the solver's process ended without a plan ({exc})")
        finally:
            self._stop(process)
            receive.close()
        return answer

    def _stop(self, process: Any) -> None:
        if process.is_alive():
            process.kill()
        process.join()
        with self._lock:
            self.running.pop(int(process.pid or 0), None)

    def stop_all(self) -> None:
        """Kill every running solve (the studio is stopping)."""
        with self._lock:
            left = list(self.running.values())
        for process in left:
            self._stop(process)


def _nothing() -> None:
    """The warm-up process's target."""


@dataclass
class _Job:
    """A solve under way, and how many requests wait for it."""

    task: asyncio.Task[Solved | None] | None = None
    waiters: int = 0


async def design(session: Session, solver: Solver, state: State,
                 gone: Callable[[], Awaitable[bool]]) -> Solved | None:
    """The solved plan of ``state`` (designed once per settings), or None if ``gone()``.

    Requests for the same settings (two tabs, the studio's own first solve) share one
    solve; it is killed when every request waiting for it has gone, and kept in
    ``session.solved`` when it ends (unless it failed: the next request tries again).

    Parameters
    ----------
    session : Session
        The studio's case and what it has solved.
    solver : Solver
        Runs the solve in a child process.
    state : State
        A state with ``plan`` one of ``optimised``, ``rounded``, ``min-budget``.
    gone : callable
        Awaited every :data:`POLL` seconds; True when this request's page has left.

    Returns
    -------
    Solved or None
        The answer, or None when this request's page left first.
    """
    key = state.settings_key()
    with session.lock:
        found = session.solved.get(key)
    if found is not None:
        return found
    jobs: dict[str, _Job] = session.jobs
    job = jobs.get(key)
    if job is None:
        job = jobs[key] = _Job()

        async def nobody() -> bool:
            return job.waiters == 0

        async def run() -> Solved | None:
            try:
                solved = await solver.solve(session.settings_case(state), session.coeffs,
                                            state.plan, state.round, nobody)
                if solved is not None and solved.status != "error":
                    with session.lock:
                        solved = session.solved.setdefault(key, solved)
                return solved
            finally:
                jobs.pop(key, None)

        job.task = asyncio.create_task(run())
    job.waiters += 1
    try:
        assert job.task is not None
        while not job.task.done():
            if await gone():
                return None
            await asyncio.wait({job.task}, timeout=POLL)
        return job.task.result()
    finally:
        job.waiters -= 1
