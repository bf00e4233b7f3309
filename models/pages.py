"""Large arrays without transparent huge pages, for arrays written once and streamed.

numpy asks the kernel for transparent huge pages (``madvise``) on every array of 4 MiB
or more. Where the kernel compacts memory to find them on the first touch (``defrag``
``madvise``, as on the 2-core benchmark VM), a fresh array of 192 MB costs about a
second of system time: more than the arithmetic that fills it. The calibration of
Monte Carlo and the reading of ``attainment.csv`` make several such arrays, each
written once and read a few times in order, where huge pages gain nothing. So are a
case's reading as a whole and a history's pass over chunks of reps: on the benchmark VM
``compplan optimise`` of 5 roles x 20,000 reps spent 1.1 s of system time reading and
1.0 s reducing with huge pages, 0.2 and 0.08 s without (the Monte Carlo draws keep
them: there they saved about 5 % of the run).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

_LOCK = threading.Lock()
_users = [0]
_before: list[bool] = []


def _setter() -> object:
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    return getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)


@contextmanager
def plain_pages() -> Iterator[None]:
    """Arrays made inside (in any thread) use plain pages; numpy's setting after.

    Only how memory is mapped changes, never a value. Nested and concurrent uses are
    counted: the setting comes back when the last one ends. A numpy without the
    setting runs the block unchanged.
    """
    setter = _setter()
    if not callable(setter):
        yield
        return
    with _LOCK:
        if _users[0] == 0:
            _before[:] = [bool(setter(False))]
        _users[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _users[0] -= 1
            if _users[0] == 0 and _before:
                setter(_before.pop())
