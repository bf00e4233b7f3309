"""The bundled example cases: reproducible from their generator, valid, and solvable."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

from compplan.models.case import load_case
from compplan.optimizer.pipeline import optimise_case

CASES = Path(__file__).parent.parent / "cases"
NAMES = ["enterprise_first", "cloud_transition", "subscription_shift", "subscription_response"]


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(CASES / "generate.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for name in NAMES:
        files = sorted(p.name for p in (CASES / name).iterdir())
        _match, mismatch, errors = filecmp.cmpfiles(CASES / name, tmp_path / name, files,
                                                   shallow=False)
        assert (mismatch, errors) == ([], []), name


@pytest.mark.parametrize("name", NAMES)
def test_example_case_solves_and_meets_every_guardrail(name: str) -> None:
    case = load_case(CASES / name)
    assert case.current_plan is not None and case.quotas is not None
    outcome = optimise_case(case)
    assert outcome.status == "optimal"
    assert 1 <= len(outcome.plan.metrics) <= case.spec.design.max_metrics
    assert all(g.ok for g in outcome.evaluation.guardrails)
    assert outcome.evaluation.alignment > 0
