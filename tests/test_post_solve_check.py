"""After every solve the plan is checked with numpy against every constraint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from compplan.errors import CompplanError
from compplan.models.case import load_case
from compplan.optimizer import pipeline
from compplan.optimizer.solve import SolveResult, Status

CONFORMANCE = Path(__file__).parent / "data" / "conformance"


def broken_solver(w: list[float], u: list[float]) -> Callable[..., SolveResult]:
    def solve(*args: object, **kwargs: object) -> SolveResult:
        return SolveResult(Status.OPTIMAL, w=np.array(w), u=np.array(u),
                           z=(np.array(w) > 0).astype(float))
    return solve


@pytest.mark.parametrize(("w", "u", "message"), [
    # c1: revenue (threshold 0.5, cap 2), margin, new_logos (0.3, 2.5), activity; cap
    # 933,431; payout multiple 3.5 = 0.8 + 6 x 1 + 0.2 + 2 x 1.5 = 10; accelerator
    # multiples 6 x 0.5 / 0.8 = 3.75 and 2 x 0.7 / 0.2 = 7 against at most 2.
    ([0.8, 0.0, 0.2, 0.0], [6.0, 0.0, 2.0, 0.0],
     "the solver's plan breaks [design] max_payout_multiple (10 vs limit 3.5); "
     "[budget] expected_cap (1.58331e+06 vs limit 933431); "
     "[design] accelerator_max for revenue (3.75 vs limit 2); [design] accelerator_max for "
     "new_logos (7 vs limit 2); refusing to write it"),
    ([0.5, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0],
     "the solver's plan breaks weights sum to 1 (0.5 vs limit 1); refusing to write it"),
])
def test_a_broken_plan_is_refused(monkeypatch: pytest.MonkeyPatch, w: list[float],
                                  u: list[float], message: str) -> None:
    monkeypatch.setattr(pipeline, "solve", broken_solver(w, u))
    with pytest.raises(CompplanError) as info:
        pipeline.optimise_case(load_case(CONFORMANCE / "c1_budget_only"))
    assert str(info.value) == message
