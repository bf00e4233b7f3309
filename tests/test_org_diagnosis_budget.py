"""The diagnosis of an organisation with no plans has a time budget (issue 24).

An infeasible organisation of 63 roles took 147 s to reach exit 3 (5 s when
feasible): the deletion filter solves once per rule. After
``DIAGNOSIS_SECONDS`` it stops and answers with the rules not yet ruled out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_org import cover_org

from compplan.cli.main import main
from compplan.optimizer import org_pipeline


def test_a_spent_budget_gives_a_partial_answer(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(org_pipeline, "DIAGNOSIS_SECONDS", 0.0)
    folder = cover_org(tmp_path / "bad", True, {"g1": 0.9, "g2": 0.1, "g3": 0.2})
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["optimise", str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 3, result.output
    report = json.loads((out / "infeasibility.json").read_text())
    assert report["complete"] is False
    rules = [c["rule"] for c in report["conflict"]]
    assert "coherence.cover_goals.g3" in rules  # the true conflict is among them
    assert report["explanation"][0].startswith(
        f"the diagnosis stopped at its time budget of 0 s, 0 of {len(rules)} rules tested: "
        "the conflict lies among ")
    assert report["explanation"][0].endswith("(a smallest conflicting set was not reached)")
    assert "smallest_single_changes" not in report


def test_within_the_budget_the_answer_is_complete(tmp_path: Path) -> None:
    folder = cover_org(tmp_path / "bad", True, {"g1": 0.9, "g2": 0.1, "g3": 0.2})
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["optimise", str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 3, result.output
    report = json.loads((out / "infeasibility.json").read_text())
    assert "complete" not in report
    assert [c["rule"] for c in report["conflict"]] == ["coherence.cover_goals.g3"]
