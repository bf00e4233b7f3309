"""Settings of a command's process: freed memory kept for reuse, idle BLAS threads asleep.

**Memory** (glibc's ``mallopt``).
A command reads and reduces large arrays: an organisation of five roles of 20,000 reps
allocates and frees about 2 GB of temporaries of 2 to 40 MB each (CSV columns, the
attainment array, its deviations from the mean, each chunk's payout curves). glibc
hands blocks above its mmap threshold back to the system as soon as they are freed,
so the next one is fresh memory again: the kernel clears every page of it on first
touch, which on a virtual machine costs as much as the arithmetic (``perf`` put a
quarter of ``compplan optimise ORG``'s CPU time in ``clear_page_erms``). With a high
mmap threshold and no trimming, freed blocks stay in the process and are reused; so
do pyarrow's (its mimalloc pool is told not to purge freed pages, before pyarrow loads).

A command is a short process: what it keeps is returned when it exits. The library
(the API, the studio's server, batch workers) is left alone.

**BLAS threads.** After each product OpenBLAS's worker threads spin for about 2^28
cycles waiting for the next one. The solver's loop checks the tail guardrails with
products over 20,000 reps between HiGHS runs, so a worker spun beside the main thread
nearly all the time: 7 to 10 % of the command's CPU (``perf``), taken from the main
thread on two cores. ``OPENBLAS_THREAD_TIMEOUT=4`` (2^4 cycles) puts them to sleep at
once; the number of threads and how a product is split among them do not change, so
neither does any result.

**Garbage collection.** Python's collector runs each time 700 more container objects
exist than before; Pyomo makes hundreds of thousands building and solving a model, so
it ran about 330 times in ``compplan optimise ORG``, 0.12 s of the command, finding
little: the objects live until the end. The threshold is raised to a million: the
collector still runs where objects pile up (a million small objects is about 100 MB),
0.005 s in all on that command, with the same peak memory.

**Exit.** At exit Python collects garbage over every object the command made: the
models, frames and modules of ``compplan optimise ORG`` (about 115,000 objects) took
0.3 to 1.7 s of collection after the files were written. The objects are frozen at
exit instead (``gc.freeze``), so that last collection skips them; the process ends and
the system takes the memory back. ``atexit`` runs before that collection, and after
the command's output is committed; handlers registered earlier (logging's flush,
``weakref.finalize``) still run.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import os
import sys

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
#: Blocks up to this size come from (and go back to) the process's own heap.
KEEP_BYTES = 1 << 30
#: New container objects between two runs of the garbage collector (Python's: 700).
GC_THRESHOLD = 1_000_000
_AT_EXIT: list[object] = []  # registered once per process


def tune_runtime() -> bool:
    """Keep freed memory for reuse, let idle threads sleep, collect garbage less often.

    Call it before numpy and pyarrow are imported (they read the settings when loaded);
    called after (the batch commands' module loads numpy), OpenBLAS keeps its own wait.

    Returns
    -------
    bool
        True when glibc accepted every setting; False where there is no ``mallopt``.
    """
    gc.set_threshold(GC_THRESHOLD)
    if gc.freeze not in _AT_EXIT:
        _AT_EXIT.append(gc.freeze)
        atexit.register(gc.freeze)
    # Read by mimalloc when pyarrow first allocates, and by OpenBLAS when numpy loads;
    # a value the user set is kept.
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # One arena for every thread: a worker thread's blocks are then reused by the next
    # worker (each pass over chunks of reps starts new threads), not left in its own.
    settings = ((M_MMAP_THRESHOLD, KEEP_BYTES), (M_TRIM_THRESHOLD, 2 * KEEP_BYTES - 1),
                (M_ARENA_MAX, 1))
    return all([bool(mallopt(param, value)) for param, value in settings])
