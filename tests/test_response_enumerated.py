"""`optimise` under [response] against an independent enumerator of every grid plan.

tests/response_enumerator.py lists every plan on the default grid (weights and
accelerator rates multiples of 0.05) from MODEL.md sections 2-5, 9 and 10 alone, with
numpy, and picks the best alignment with the least-expected-cost tie-break; the cases
are seeded random small ones (tests/response_cases.py: canonical and curve baselines,
steps, gates, metrics outside the baseline, per-metric elasticities, max_change,
values with quotas, periods_per_year, allow_absent, every guardrail, required and
forbidden metrics). bench/response_enumerated.py runs the same check over any seeds.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CONFORMANCE, assert_exit, invoke
from response_cases import make_case
from response_enumerator import enumerate_best

TOL = 1e-6


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def test_the_enumerator_reproduces_the_conformance_case() -> None:
    expected = json.loads((CONFORMANCE / "c8_response" / "expected.json").read_text())
    ref = enumerate_best(CONFORMANCE / "c8_response")
    assert ref is not None
    assert _close(ref["alignment"], expected["alignment"])
    assert _close(ref["expected_cost"], expected["expected_cost"])
    assert _close(ref["static_cost"], expected["response"]["static"]["expected_cost"])
    assert _close(ref["net_value"], expected["response"]["net_value"])
    for m, v in expected["response"]["multipliers"].items():
        assert _close(ref["multipliers"][m], v), m


# seeds chosen to cover: periods_per_year, CVaR, bottom tail, a gated baseline (36);
# allow_absent with every guardrail (39); a forbidden metric (46); parity (53, 57);
# 35 and 60 admit no plan (exit 3)
@pytest.mark.parametrize("seed", [36, 39, 46, 53, 57, 35, 60])
def test_optimise_matches_the_enumerated_grid_optimum(tmp_path: Path, seed: int) -> None:
    folder = make_case(tmp_path / "case", seed)
    ref = enumerate_best(folder)
    out = tmp_path / "out"
    result = invoke("optimise", str(folder), "--out", str(out))
    if ref is None:
        assert_exit(result, 3)
        assert (out / "infeasibility.json").exists()
        return
    assert_exit(result, 0)
    plan = json.loads((out / "plan.json").read_text())
    resp = plan["response"]
    assert _close(plan["objective"]["alignment"], ref["alignment"])
    assert _close(plan["objective"]["expected_cost"], ref["expected_cost"])
    assert _close(resp["static"]["expected_cost"], ref["static_cost"])
    assert _close(resp.get("net_value"), ref["net_value"])
    assert set(resp["multipliers"]) == set(ref["multipliers"])
    for m, v in ref["multipliers"].items():
        assert _close(resp["multipliers"][m], v), m
