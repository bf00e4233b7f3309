"""Monte Carlo passes on a Dask cluster: ``optimise --scheduler`` and ``min-budget --scheduler``.

The scenarios of a Monte Carlo case are drawn and reduced to the model's coefficients
by the cluster's workers, a task per few hundred or thousand reps: each gets the
calibration of its reps (kilobytes), draws them chunk by chunk and sends back sums over its reps
(metrics x scenarios) and its reps' own figures. No process ever holds reps x metrics
x scenarios. A task is a pure function of its reps' calibration and the seed, so a
worker lost mid-run only costs its tasks again, elsewhere; the tasks' sums are added
in rep order, so the figures are those of the same case in one process, bit for bit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from compplan.batch.executors import (
    ANSWER_SECONDS,
    CLOSE_SECONDS,
    Heartbeat,
    connect_dask,
    deferred_interrupt,
    within,
)
from compplan.errors import CompplanError, UsageError
from compplan.models.case import Case
from compplan.optimizer.coefficients import Coefficients, Progress, compute_coefficients

T = TypeVar("T")

#: Seconds between looks at Ctrl-C and at the scheduler while a task runs.
_POLL = 0.1
#: Tasks on the cluster at a time, at least (two per worker thread when there are more).
WINDOW = 16
#: Seconds to fetch a finished task's sums from its worker.
FETCH_SECONDS = 300.0


class DaskRunner:
    """Runs the tasks of a pass on a connected ``distributed.Client``, results in order.

    Parameters
    ----------
    client : distributed.Client
        A connected client.
    address : str
        The scheduler's address, for messages.
    stop : threading.Event
        Set by Ctrl-C: the pass stops at the next look.
    """

    def __init__(self, client: Any, address: str, stop: threading.Event) -> None:
        self.client, self.address, self.stop = client, address, stop

    def map(self, function: Callable[..., T], tasks: list[tuple[Any, ...]],
            phase: str) -> Iterator[T]:
        """``function(*task)`` for every task on the cluster, yielded in the order given.

        At most :data:`WINDOW` tasks (two per worker thread on a larger cluster) are on
        the cluster at a time: the scheduler holds their arguments and the workers their
        results until they are read.
        """
        queued = iter(tasks)
        pending: deque[tuple[tuple[Any, ...], Any]] = deque()
        watch = Heartbeat(self.client, self.address, self.stop,
                          kept="nothing was written", again="and run the command again")

        def submit_next() -> None:
            task = next(queued, None)
            if task is not None:
                pending.append((task, self.client.submit(function, *task, pure=False)))

        try:
            for _ in range(self._window()):
                submit_next()
            while pending:
                task, future = pending.popleft()
                result = self._result(future, task, phase, watch)
                del future  # the cluster frees a result nobody holds
                submit_next()
                yield result
        finally:
            left = [future for _, future in pending]
            if left:  # a cluster that has gone has nothing left to cancel
                with contextlib.suppress(UsageError, OSError):
                    within(lambda: self.client.cancel(left), CLOSE_SECONDS,
                           threading.Event(), "")

    def _window(self) -> int:
        threads = within(self.client.nthreads, ANSWER_SECONDS, self.stop,
                         f"the Dask scheduler at {self.address} did not answer within "
                         f"{ANSWER_SECONDS:g} s; nothing was written: run the command again")
        return max(WINDOW, 2 * sum((threads or {}).values()))

    def _result(self, future: Any, task: tuple[Any, ...], phase: str, watch: Heartbeat) -> Any:
        from distributed import CancelledError
        from distributed.scheduler import KilledWorker

        part = task[0]
        reps = f"reps {part.start + 1:,} to {part.stop:,}"
        # Looked at, not waited on with a timeout: Future.result(timeout=...) of
        # distributed 2026.8 once failed with an UnboundLocalError of its own when the
        # timeout fell as the result arrived.
        while not future.done():
            if self.stop.is_set():
                raise KeyboardInterrupt
            watch.check()
            time.sleep(_POLL)
        try:
            return within(future.result, FETCH_SECONDS, self.stop,
                          f"the Dask cluster at {self.address} did not hand over the "
                          f"{phase} of {reps} within {FETCH_SECONDS:g} s; nothing was "
                          "written: run the command again")
        except KilledWorker:
            raise CompplanError(
                f"the Dask cluster at {self.address} lost every worker that took the "
                f"{phase} of {reps} (out of memory? a task draws "
                f"{_task_mib(part):,.0f} MiB at a time); give workers more memory") from None
        except CancelledError:
            raise UsageError(f"the Dask cluster at {self.address} cancelled the {phase} "
                             f"of {reps} (the scheduler restarted?); nothing was "
                             "written: run the command again") from None
        except (CompplanError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a worker's failure, handed back by Dask
            hint = ("; install compplan, the same version, on every worker"
                    if isinstance(exc, ImportError) else "")
            raise CompplanError(f"a worker of the Dask cluster at {self.address} failed "
                                f"on the {phase} of {reps}: {type(exc).__name__}: "
                                f"{exc}{hint}") from None


def _task_mib(part: Any) -> float:
    """What one chunk of draws holds at its peak, roughly (float64 normals, products)."""
    from compplan.optimizer.coefficients import CHUNK_ELEMENTS

    return 8 * 8 * max(CHUNK_ELEMENTS, 64 * part.count) / 2**20


@contextmanager
def dask_runner(scheduler: Any) -> Iterator[DaskRunner]:
    """A :class:`DaskRunner` on ``scheduler`` (an address, a cluster or a client).

    Ctrl-C while it is open stops the pass at the next look; a connection opened here
    is closed on the way out.
    """
    from distributed import Client

    stop = threading.Event()
    with deferred_interrupt(stop):
        client = connect_dask(scheduler, stop)
        where = getattr(client, "scheduler", None)
        address = getattr(where, "address", None) or str(scheduler)
        try:
            yield DaskRunner(client, address, stop)
        finally:
            if not isinstance(scheduler, Client):  # a cluster that has gone: nothing to close
                with contextlib.suppress(UsageError, OSError):
                    within(lambda: client.close(timeout=CLOSE_SECONDS), CLOSE_SECONDS,
                           threading.Event(), "")


def cluster_coefficients(case: Case, scheduler: Any,
                         progress: Progress | None = None) -> Coefficients:
    """The case's coefficients, its Monte Carlo draws made and reduced on a Dask cluster.

    Parameters
    ----------
    case : Case
        A loaded case with ``[scenarios] mode = "montecarlo"``.
    scheduler : str, distributed.LocalCluster or distributed.Client
        The cluster: its scheduler's ``tcp://`` address, or an object of it.
    progress : callable, optional
        Called as ``progress(phase, tasks_done, tasks_total)``.

    Returns
    -------
    Coefficients
        The same, bit for bit, as :func:`compute_coefficients` in one process.

    Raises
    ------
    UsageError
        A historical case (its history is the data: nothing to draw), or a cluster
        that cannot be reached or has no workers.
    CompplanError
        A worker failed, or every worker that took a task died.
    """
    mode = case.spec.scenarios.mode
    if mode != "montecarlo":
        raise UsageError(f"--scheduler draws Monte Carlo scenarios on a Dask cluster; the "
                         f"case {case.name!r} has [scenarios] mode = {mode!r} (its history "
                         "is the data itself): run without --scheduler")
    with dask_runner(scheduler) as runner:
        return compute_coefficients(case, progress=progress, runner=runner)
