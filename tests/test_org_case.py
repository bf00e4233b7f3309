"""The bundled organisation cases/gtm_org: reproducible from its generator, valid, solvable."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from compplan.models.org import load_org
from compplan.optimizer.org_pipeline import optimise_org

CASES = Path(__file__).parent.parent / "cases"
ORG = CASES / "gtm_org"


def test_generator_reproduces_the_bundled_org(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(CASES / "generate.py"), "--case", "gtm_org",
                    "--out", str(tmp_path)], check=True, capture_output=True)
    folders = [Path("."), *(Path(p.name) for p in ORG.iterdir() if p.is_dir())]
    for folder in folders:
        files = sorted(p.name for p in (ORG / folder).iterdir() if p.is_file())
        _match, mismatch, errors = filecmp.cmpfiles(ORG / folder, tmp_path / "gtm_org" / folder,
                                                   files, shallow=False)
        assert (mismatch, errors) == ([], []), folder


def test_bundled_org_solves_removes_todays_conflicts_and_meets_every_rule() -> None:
    org = load_org(ORG)
    outcome = optimise_org(org)
    doc = outcome.document
    assert doc["status"] == "optimal"
    assert doc["current_conflicts"], "today's plans carry the cross-team conflicts"
    assert doc["conflicts"] == []  # no_opposing holds
    assert all(g["ok"] for g in doc["evaluation"]["guardrails"])
    for role in outcome.roles:
        assert all(g.ok for g in role.evaluation.guardrails)
    # The organisation's cap binds: the next dollar buys alignment.
    [cap] = [p for p in doc["guardrail_prices"] if p["guardrail"] == "org_budget_expected"]
    assert cap["shadow_price"] > 0
    assert abs(sum(cap["next_dollar"].values()) - 1.0) < 1e-9
