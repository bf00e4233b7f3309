"""Where candidates are solved: in this process, a local process pool, or a Dask cluster.

Every worker receives the case, the candidates' specs and the coefficients once (a
process pool's initializer, or one broadcast to a Dask cluster), so a candidate costs
a solve and nothing more. Ctrl-C stops the workers and keeps what finished.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from compplan.batch.run import Shared, Solved, release, solve_candidate
from compplan.errors import UsageError
from compplan.models.text import shown

_WORKER: Shared | None = None


def _init_worker(shared: Shared, batch_pid: int) -> None:
    """A pool worker: keep the shared data, ignore Ctrl-C, and end with the batch."""
    global _WORKER
    _WORKER = shared
    # Ctrl-C reaches the whole process group: the batch process stops the run, and
    # workers must not print a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One BLAS thread: the pool's processes already use every core.
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1)
    # Results go back through the pool's own pipes: a worker holding the batch's
    # stdout or stderr (a pipe to `tee`, to a parent's `communicate`) would keep its
    # reader waiting after the batch has gone.
    _detach_std_streams()
    # Linux: die with the fork server, our parent, however it dies.
    _die_with_parent()
    # A batch process killed with -9 cannot stop its workers: they notice and leave.
    threading.Thread(target=_watch, args=(batch_pid, os.getppid()), daemon=True).start()


def _detach_std_streams() -> None:
    """Point standard input, output and error at /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _die_with_parent() -> None:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` where available (Linux); else the watch does it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG


def _gone(pid: int) -> bool:
    """The process has ended: no such process, or a zombie its parent has not reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # pid (comm) STATE ...: comm may hold spaces and parentheses.
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _watch(batch_pid: int, parent: int) -> None:
    while True:
        time.sleep(0.5)
        # A batch killed while its parent waits on a pipe stays a zombie until the
        # parent reads to the end: os.kill alone would take it for alive.
        if _gone(batch_pid):
            os._exit(1)
        if os.getppid() != parent:  # the fork server left with the batch process
            os._exit(1)


def _start_forkserver_detached() -> None:
    """Start the fork server (and resource tracker) without the batch's std streams.

    They would otherwise inherit standard output and error, and a reader of a pipe
    from the batch (``compplan batch ... | tee log``) would wait for them after the
    batch itself had been killed.
    """
    from multiprocessing import forkserver

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        forkserver.ensure_running()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _solve_in_worker(index: int) -> Solved:
    assert _WORKER is not None  # set by _init_worker
    return solve_candidate(_WORKER, index)


#: Seconds between looks at the Ctrl-C flag while waiting for workers.
_POLL = 0.1


#: How long to try reaching a Dask scheduler.
CONNECT_TIMEOUT = "10s"
#: Deadlines of the Dask cluster's operations, in seconds (docs/batch.md): connecting
#: (the scheduler's handshake), sending the case to every worker, each look at the
#: scheduler while solving (every HEARTBEAT_SECONDS), and closing the connection. A
#: scheduler with no worker for NO_WORKERS_SECONDS ends the batch (candidates wait for
#: ever otherwise). Ctrl-C ends any of them at once.
CONNECT_SECONDS = 15.0
SCATTER_SECONDS = 300.0
HEARTBEAT_SECONDS = 10.0
ANSWER_SECONDS = 15.0
NO_WORKERS_SECONDS = 60.0
CLOSE_SECONDS = 10.0


def within(action: Any, seconds: float, stop: threading.Event, late: str) -> Any:
    """Run ``action()`` in a thread and wait at most ``seconds`` for it, looking at ``stop``.

    A Dask call on a scheduler that accepted the connection and never answers blocks
    for ever, and ignores Ctrl-C: the call is left to its (daemon) thread.

    Raises
    ------
    UsageError
        ``late`` when the deadline passes.
    KeyboardInterrupt
        When ``stop`` is set (Ctrl-C) while waiting.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name="compplan-dask-call").start()
    deadline = time.monotonic() + seconds
    while not done.wait(_POLL):
        if stop.is_set():
            raise KeyboardInterrupt
        if time.monotonic() > deadline:
            raise UsageError(late)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


_SCHEMES = {
    "tls": "tls:// needs certificates (a Dask security configuration), which compplan does "
           "not take; reach the scheduler over tcp:// (in a private network or an SSH tunnel)",
    "ucx": "ucx:// needs the ucx-py package and UCX hardware, which compplan does not "
           "support; use the scheduler's tcp:// address",
    "http": "this is a web address (the Dask dashboard?); the scheduler's own address is "
            "tcp://HOST:PORT (port 8786 by default)",
}
_SCHEMES["https"] = _SCHEMES["http"]
_SCHEMES["ws"] = _SCHEMES["wss"] = _SCHEMES["http"]


def scheduler_problem(address: str) -> str | None:
    """Why ``address`` cannot be a Dask scheduler compplan reaches, or None (tcp://).

    Checked before anything is read or written: a ``tls://`` address once failed with a
    TypeError, an ``http://`` one after 20 s with a TimeoutError traceback.
    """
    scheme, sep, _ = address.partition("://")
    # inproc: a LocalCluster(processes=False) of this very process (tests, notebooks).
    if not sep or scheme.lower() in ("tcp", "inproc"):
        return None
    reason = _SCHEMES.get(scheme.lower(), f"{scheme}:// is not a transport compplan "
                                          "supports; give tcp://HOST:PORT")
    return f"--scheduler {shown(address)}: {reason}"


def connect_dask(scheduler: Any, stop: threading.Event) -> Any:
    """A ``distributed.Client`` of ``scheduler``, within :data:`CONNECT_SECONDS`."""
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler
    if isinstance(scheduler, str):
        problem = scheduler_problem(scheduler)
        if problem is not None:
            raise UsageError(problem)
    try:
        return within(lambda: Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False),
                      CONNECT_SECONDS, stop,
                      f"the Dask scheduler at {scheduler} did not answer within "
                      f"{CONNECT_SECONDS:g} s: something accepts connections there but does "
                      "not answer as a Dask scheduler (check the address and the port, 8786 "
                      "by default)")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: "
                         f"{type(exc).__name__}: {exc}") from None


def run_serial(shared: Shared, indices: list[int],
               stop: threading.Event) -> Generator[Solved, None, None]:
    """Solve the candidates one after another in this process."""
    try:
        for i in indices:
            if stop.is_set():
                return
            yield solve_candidate(shared, i)
    finally:
        release()  # the warm models of this batch


def run_processes(shared: Shared, indices: list[int], workers: int,
                  stop: threading.Event) -> Generator[Solved, None, None]:
    """Solve the candidates on a local process pool, yielding each as it finishes."""
    import multiprocessing

    # Not fork: HiGHS hangs in a child forked from a process that has solved before.
    # A fork server imports compplan once and forks clean workers from it.
    context: Any
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        _start_forkserver_detached()
    else:
        context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_init_worker, initargs=(shared, os.getpid()))
    pending: set[Future[Solved]] = set()
    try:
        pending = {pool.submit(_solve_in_worker, i) for i in indices}
        while pending and not stop.is_set():
            done, pending = wait(pending, timeout=_POLL, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: f.result().index):
                yield future.result()
    finally:
        for future in pending:
            future.cancel()
        if pending:
            # The executor has no public way to stop a running task: stop its workers.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def run_dask(shared: Shared, indices: list[int], scheduler: Any,
             stop: threading.Event) -> Generator[Solved, None, None]:
    """Solve the candidates on a Dask cluster, yielding each as it finishes.

    ``scheduler`` is an address, a cluster object or a connected ``distributed.Client``
    (:func:`connect_dask`). Every call to the cluster has a deadline (the constants
    above), so a scheduler that stops answering ends the batch with a message.
    """
    from distributed import Client, as_completed

    client = connect_dask(scheduler, stop)
    where = getattr(client, "scheduler", None)
    address = getattr(where, "address", None) or str(scheduler)
    futures: list[Any] = []
    try:
        # One copy of the case and coefficients per worker, not one per task.
        data = within(lambda: client.scatter(shared, broadcast=True, hash=False),
                      SCATTER_SECONDS, stop,
                      f"the Dask cluster at {address} did not take the case within "
                      f"{SCATTER_SECONDS:g} s (no workers, or a scheduler that stopped "
                      "answering)")
        futures = [client.submit(solve_candidate, data, i, pure=False) for i in indices]
        ready = as_completed(futures, loop=client.loop)
        watch = Heartbeat(client, address, stop)
        while not ready.is_empty() and not stop.is_set():
            batch = ready.next_batch(block=False)
            if not batch:
                time.sleep(_POLL / 5)
                watch.check()
            for future in batch:
                yield future.result()
    finally:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            if futures:
                within(lambda: client.cancel(futures), CLOSE_SECONDS, threading.Event(), "")
            if not isinstance(scheduler, Client):
                within(lambda: client.close(timeout=CLOSE_SECONDS), CLOSE_SECONDS,
                       threading.Event(), "")


class Heartbeat:
    """Looks at the scheduler every :data:`HEARTBEAT_SECONDS` while tasks run.

    ``kept`` and ``again`` end its messages: what is kept of the run, and how to go on.
    """

    def __init__(self, client: Any, address: str, stop: threading.Event, *,
                 kept: str = "the finished candidates are kept",
                 again: str = "and continue with --resume") -> None:
        self.client, self.address, self.stop = client, address, stop
        self.kept, self.again = kept, again
        self.last = time.monotonic()
        self.idle_since: float | None = None

    def check(self) -> None:
        """Ask the scheduler how it is, at most every :data:`HEARTBEAT_SECONDS`."""
        now = time.monotonic()
        if now - self.last < HEARTBEAT_SECONDS:
            return
        self.last = now
        info = within(self.client.scheduler_info, ANSWER_SECONDS, self.stop,
                      f"the Dask scheduler at {self.address} stopped answering (no answer "
                      f"within {ANSWER_SECONDS:g} s); {self.kept}: "
                      f"{self.again.removeprefix('and ')}")
        if (info or {}).get("workers"):
            self.idle_since = None
            return
        self.idle_since = self.idle_since or now
        if now - self.idle_since >= NO_WORKERS_SECONDS:
            raise UsageError(f"the Dask cluster at {self.address} has had no worker for "
                             f"{NO_WORKERS_SECONDS:g} s; start workers (dask worker "
                             f"{self.address}) {self.again}")


@contextmanager
def deferred_interrupt(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C sets ``stop`` instead of raising wherever the main thread happens to be.

    A KeyboardInterrupt raised inside the executor's own locking leaves its locks
    held and the shutdown hangs; a flag is looked at between candidates instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def default_workers() -> int:
    """Local processes by default: one per core."""
    return max(1, os.cpu_count() or 1)
