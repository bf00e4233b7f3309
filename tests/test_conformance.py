"""The spec's conformance cases (copied from ../shared/spec/conformance) reproduce to 1e-6."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compplan.errors import InfeasibleError
from compplan.models.case import load_case
from compplan.optimizer.pipeline import optimise_case
from compplan.render.plan import plan_json

CONFORMANCE = Path(__file__).parent / "data" / "conformance"
CASES = sorted(p for p in CONFORMANCE.iterdir() if (p / "case.toml").exists())


@pytest.mark.parametrize("method", ["auto", "full", "cuts"])
@pytest.mark.parametrize("folder", CASES, ids=lambda p: p.name)
def test_conformance(folder: Path, method: str) -> None:
    expected = json.loads((folder / "expected.json").read_text())
    case = load_case(folder)
    if expected["status"] == "infeasible":
        with pytest.raises(InfeasibleError) as info:
            optimise_case(case, tail_method=method)  # type: ignore[arg-type]
        assert info.value.report["conflict"], "an infeasible case names its conflict"
        return
    doc = plan_json(case, optimise_case(case, tail_method=method))  # type: ignore[arg-type]
    alignment = doc["objective"]["alignment"]
    cost = doc["objective"]["expected_cost"]
    assert abs(alignment - expected["alignment"]) <= 1e-6 * max(1.0, abs(expected["alignment"]))
    assert abs(cost - expected["expected_cost"]) <= 1e-6 * abs(expected["expected_cost"])
    assert doc["status"] == "optimal"
    assert all(g["ok"] for g in doc["evaluation"]["guardrails"])
