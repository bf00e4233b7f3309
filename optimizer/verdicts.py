"""Words the analytics give a solve and a guardrail, decided once for every caller.

Light on purpose (no numpy, no Pyomo): the command line and the batch store use it.
"""

from __future__ import annotations

from typing import Protocol

#: Solve statuses that come with a plan (``infeasible``, ``no_solution`` and ``error`` do not).
FEASIBLE = frozenset({"optimal", "time_limit"})

#: Relative slack within which a guardrail binds: the tie-break solves may leave a binding
#: limit a hair (1e-7 relative) from its value.
BINDING = 1e-5


class _Check(Protocol):
    @property
    def slack(self) -> float: ...

    @property
    def limit(self) -> float: ...


def is_binding(check: _Check) -> bool:
    """Whether a guardrail's value sits at its limit (within :data:`BINDING`).

    Parameters
    ----------
    check : GuardrailCheck
        A guardrail at a plan (``slack`` and ``limit``).

    Returns
    -------
    bool
        True when loosening the guardrail could raise alignment.
    """
    return abs(check.slack) <= BINDING * max(1.0, abs(check.limit))
