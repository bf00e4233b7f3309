"""Badly scaled inputs solve correctly (checked by hand) or are refused with a reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compplan.models.case import load_case
from compplan.optimizer.pipeline import optimise_case
from compplan.render.plan import plan_json

MakeCase = Callable[..., Path]


def one_metric(make_case: MakeCase, *, ti: float, threshold: float, x: float,
               step: float = 0.5, **budget: float) -> dict[str, Any]:
    tables: dict[str, dict[str, Any]] = {
        "goals": {"g": 1.0},
        "metrics.a": {"threshold": threshold, "cap": 2.0, "alignment": {"g": 1.0},
                      "step": step}}
    if budget:
        tables["budget"] = budget
    path = make_case(tables, [{"rep_id": "R0", "target_incentive": ti}], {"a": [[x]]})
    case = load_case(path)
    return plan_json(case, optimise_case(case))


@pytest.mark.parametrize("ti", [1e-3, 1.0, 1e9, 1e12])
def test_target_incentive_from_tiny_to_huge(make_case: MakeCase, ti: float) -> None:
    # As in test_hand_optima: w = 1, u = 6 (3 x w / (1 - 0.5)), alignment 0.5 u = 3,
    # cost TI (1 + 0.5 u) = 4 TI; and with a cap of 2.5 TI, u = 3 and alignment 1.5.
    free = one_metric(make_case, ti=ti, threshold=0.5, x=1.5)
    assert free["objective"]["alignment"] == pytest.approx(3.0, rel=1e-6)
    assert free["objective"]["expected_cost"] == pytest.approx(4 * ti, rel=1e-6)
    capped = one_metric(make_case, ti=ti, threshold=0.5, x=1.5, expected_cap=2.5 * ti)
    assert capped["objective"]["alignment"] == pytest.approx(1.5, rel=1e-6)
    assert capped["objective"]["expected_cost"] == pytest.approx(2.5 * ti, rel=1e-6)


def test_threshold_near_one(make_case: MakeCase) -> None:
    # theta 0.999: the base rate is w / 0.001 = 1000 and u may reach 3 x 1000 = 3000;
    # at x = 1.5 a step of 0.5 adds psi 0.5: alignment 1500, cost TI (1 + 1500).
    doc = one_metric(make_case, ti=1000.0, threshold=0.999, x=1.5)
    assert doc["objective"]["alignment"] == pytest.approx(1500.0, rel=1e-6)
    assert doc["objective"]["expected_cost"] == pytest.approx(1000.0 * 1501, rel=1e-6)
    assert doc["metrics"][0]["base_rate"] == pytest.approx(1000.0, rel=1e-9)


def test_attainment_near_zero(make_case: MakeCase) -> None:
    # x = 1e-12, threshold 0: phi(x) ~ 1e-12 and a step of 0.5 adds phi 0.5 (no psi):
    # alignment 0.5 w = 0.5; any u is free (psi stays 0): the cheapest, u = 1 x w, costs
    # nothing at this attainment, so the cost is TI x phi(x) ~ 1e-9.
    doc = one_metric(make_case, ti=1000.0, threshold=0.0, x=1e-12)
    assert doc["objective"]["alignment"] == pytest.approx(0.5, rel=1e-6)
    assert doc["objective"]["expected_cost"] == pytest.approx(0.0, abs=1e-6)
    assert doc["metrics"][0]["accelerator_rate"] == pytest.approx(1.0, rel=1e-6)
