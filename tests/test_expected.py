"""Behaviour unchanged: every bundled case's plan figures against committed expected outputs.

tests/data/expected/<case>.json was written by compplan optimise and compplan min-budget
(--reproducible) before issue 12 moved code around; a refactoring must give the same plans.
One figure changed on purpose since: each guardrail price's ``per_percent`` is now what a
1 % loosening buys by re-solving (issue 11), no longer the dual times 1 %; those values
were rewritten from a re-solve, and cloud_transition (Monte Carlo) was rewritten whole
when the scenario model was calibrated to the history's joint behaviour (issue 11);
the cheapest plans of min-budget were rewritten when the tie-break toward alignment
among them stopped admitting plans dearer than the least cost (issue 19: each now costs
1 to 5 USD less, the least itself); every other figure is as first committed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import compplan

CASES = Path(__file__).parent.parent / "cases"
EXPECTED = Path(__file__).parent / "data" / "expected"
NAMES = sorted(p.stem for p in EXPECTED.glob("*.json"))
REL = 1e-7


def same(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected`` (numbers within REL; extra keys allowed)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: not a mapping"]
        return [d for k, v in expected.items()
                for d in (same(v, actual[k], f"{where}.{k}") if k in actual
                          else [f"{where}.{k}: missing"])]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: {actual!r} is not {expected!r}"]
        return [d for i, (a, b) in enumerate(zip(expected, actual, strict=True))
                for d in same(a, b, f"{where}[{i}]")]
    if isinstance(expected, float) and isinstance(actual, int | float):
        ok = math.isclose(expected, actual, rel_tol=REL, abs_tol=1e-9)
        return [] if ok else [f"{where}: {actual!r} is not {expected!r}"]
    return [] if expected == actual else [f"{where}: {actual!r} is not {expected!r}"]


def test_every_bundled_case_has_expected_outputs() -> None:
    bundled = sorted(p.name for p in CASES.iterdir() if (p / "case.toml").is_file())
    assert bundled == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_bundled_case_gives_the_expected_plans(name: str) -> None:
    expected = json.loads((EXPECTED / f"{name}.json").read_text())
    case = compplan.load_case(CASES / name)
    optimised = compplan.optimise(case).raise_for_status().document
    assert same(expected["optimise"], optimised) == []
    cheapest = compplan.min_budget(case).raise_for_status().document
    assert same(expected["min_budget"], cheapest) == []


def test_same_reports_a_difference() -> None:
    assert same({"a": [1.0, {"b": "x"}]}, {"a": [1.0 + 1e-3, {"b": "y"}]}) == [
        ".a[0]: 1.001 is not 1.0", ".a[1].b: 'y' is not 'x'"]
