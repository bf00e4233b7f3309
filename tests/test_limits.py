"""MODEL.md section 1's limits: the largest value each input may take (issue 24).

Money (target incentive, caps) at most 1e15, attainment at most 1e6, goal priorities at
most 1e15, plan weights at most 1e6, rates at most 1e9: beyond them a case file, a plan
file (every form of section 9), actuals, org.toml and the API are refused (exit 2 or
``UsageError``) naming the file, the row, the field and the limit. Each value of 1e308
here was once a traceback (IndexError, a Pyomo nan bound) or a silently wrong plan.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import CONFORMANCE, assert_error, invoke

import compplan
from compplan.errors import UsageError
from compplan.models.limits import limit_text, too_large

C1 = CONFORMANCE / "c1_budget_only"
C5 = CONFORMANCE / "c5_org"
C6 = CONFORMANCE / "c6_pulse"


@pytest.fixture
def case(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    shutil.copytree(C1, folder)
    return folder


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_limit_text_is_written_as_in_model_md() -> None:
    assert limit_text(1e15) == "1e15"
    assert limit_text(1e6) == "1e6"
    assert limit_text(1e9) == "1e9"
    assert too_large(1e15, 1e15, "amount of money") is None
    assert too_large(float("nan"), 1e15, "amount of money") is None


# ------------------------------------------------------------------------- case files

def test_target_incentive_of_1e308_is_refused_without_309_digits(case: Path) -> None:
    edit(case / "reps.csv", "R00000,South,West,27400.0", "R00000,South,West,1e308")
    assert_error(invoke("validate", str(case)), 2,
                 "reps.csv, line 2, target_incentive: must be at most 1e15 (the largest "
                 "amount of money compplan computes with, MODEL.md section 1), got 1e+308")


def test_target_incentive_at_the_limit_is_accepted(case: Path) -> None:
    edit(case / "reps.csv", "R00000,South,West,27400.0", "R00000,South,West,1e15")
    result = invoke("validate", str(case))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("old", "new", "message"), [
    ("expected_cap = 933431.0", "expected_cap = 1e308",
     "case.toml, [budget] expected_cap: must be at most 1e15 (the largest amount of money "
     "compplan computes with, MODEL.md section 1), got 1e+308"),
    ("expected_cap = 933431.0", "expected_cap = 933431.0\ncvar_level = 0.9\ncvar_cap = 2e15",
     "case.toml, [budget] cvar_cap: must be at most 1e15 (the largest amount of money "
     "compplan computes with, MODEL.md section 1), got 2e+15"),
    ("max_payout_multiple = 3.5", "max_payout_multiple = 1e308",
     "case.toml, [design] max_payout_multiple: must be at most 1e6 (the largest share of "
     "target incentive compplan computes with, MODEL.md section 1), got 1e+308"),
    ("accelerator_max = 2.0", "accelerator_max = 1e10",
     "case.toml, [design] accelerator_max: must be at most 1e9 (the largest rate compplan "
     "computes with, MODEL.md section 1), got 1e+10"),
    ("cap = 2.0", "cap = 1e308",
     "case.toml, [metrics.revenue] cap: must be at most 1e6 (the largest attainment "
     "compplan computes with, MODEL.md section 1), got 1e+308"),
    ("growth = 0.7", "growth = 1.7e308",
     "case.toml, [goals]: goal 'growth' has priority 1.7e+308; priorities are at most 1e15 "
     "(the largest goal priority compplan computes with, MODEL.md section 1)"),
    ("growth = 0.7", "growth = 2e200",
     "case.toml, [goals]: goal 'growth' has priority 2e+200; priorities are at most 1e15 "
     "(the largest goal priority compplan computes with, MODEL.md section 1)"),
])
def test_case_toml_beyond_the_limits(case: Path, old: str, new: str, message: str) -> None:
    edit(case / "case.toml", old, new)
    assert_error(invoke("validate", str(case)), 2, message)


def test_priorities_at_the_float_maximum_once_gave_alignment_0(case: Path) -> None:
    # 1.7e308, 0.85e308, 0.85e308: the sum overflowed to inf and every priority became 0.
    edit(case / "case.toml", "growth = 0.7\nmargin = 0.3", "growth = 1.7e308\nmargin = 0.85e308")
    assert_error(invoke("optimise", str(case), "--out", str(case.parent / "out")), 2,
                 "case.toml, [goals]: goal 'growth' has priority 1.7e+308; priorities are at "
                 "most 1e15 (the largest goal priority compplan computes with, MODEL.md "
                 "section 1)")
    assert not (case.parent / "out").exists()


@pytest.mark.parametrize("fast", [True, False])
def test_one_history_cell_of_1e308(case: Path, fast: bool) -> None:
    # The fast reader leaves a doubtful file to the careful one, which names the line.
    edit(case / "attainment.csv", "R00000,P01,1.0322", "R00000,P01,1e308")
    if not fast:
        edit(case / "attainment.csv", "R00000,P02,1.1132", 'R00000,P02,"1.1132"')
    assert_error(invoke("validate", str(case)), 2,
                 "attainment.csv, line 2, revenue: must be at most 1e6 (the largest attainment "
                 "compplan computes with, MODEL.md section 1), got 1e+308")


# ------------------------------------------------------------------- plans, every form

@pytest.mark.parametrize(("plan", "message"), [
    ('[[metrics]]\nid = "revenue"\nweight = 1e308\naccelerator_rate = 1.0\n',
     "[[metrics]] #1 weight: must be at most 1e6 (the largest plan weight compplan computes "
     "with, MODEL.md section 1), got 1e+308"),
    ('[[metrics]]\nid = "revenue"\nweight = 1e20\naccelerator_rate = 1.0\n',
     "[[metrics]] #1 weight: must be at most 1e6 (the largest plan weight compplan computes "
     "with, MODEL.md section 1), got 1e+20"),
    ('[[metrics]]\nid = "revenue"\nweight = 0.5\naccelerator_rate = 1e10\n',
     "[[metrics]] #1 accelerator_rate: must be at most 1e9 (the largest rate compplan "
     "computes with, MODEL.md section 1), got 1e+10"),
    ('[[metrics]]\nid = "revenue"\nweight = 0.5\naccelerator_multiple = 1e308\n',
     "[[metrics]] #1 accelerator_multiple: must be at most 1e9 (the largest rate compplan "
     "computes with, MODEL.md section 1), got 1e+308"),
    ('[[metrics]]\nid = "revenue"\nweight = 0.5\nbase_rate = 1e300\naccelerator_rate = 1\n',
     "[[metrics]] #1 base_rate: must be at most 1e9 (the largest rate compplan computes "
     "with, MODEL.md section 1), got 1e+300"),
    ('[[metrics]]\nid = "revenue"\nweight = 0.5\naccelerator_rate = 1\ncap = 1e308\n',
     "[[metrics]] #1 cap: must be at most 1e6 (the largest attainment compplan computes "
     "with, MODEL.md section 1), got 1e+308"),
    ('[[metrics]]\nid = "revenue"\ncurve = [[0.5, 0.0], [1.0, 1.0]]\n'
     'gate = { metric = "margin", at = 1e308 }\n',
     "[[metrics]] #1 gate.at: must be at most 1e6 (the largest attainment compplan computes "
     "with, MODEL.md section 1), got 1e+308"),
])
def test_plan_toml_beyond_the_limits(case: Path, plan: str, message: str) -> None:
    (case.parent / "plan.toml").write_text(plan)
    assert_error(invoke("evaluate", str(case), str(case.parent / "plan.toml"), "--out",
                        str(case.parent / "out")), 2, f"plan.toml, {message}")


def test_plan_json_beyond_the_limits(case: Path) -> None:
    doc = {"schema": "compplan.plan/1", "case": "Budget only",
           "metrics": [{"id": "revenue", "weight": 1e308, "accelerator_rate": 1.0}]}
    (case.parent / "plan.json").write_text(json.dumps(doc))
    assert_error(invoke("evaluate", str(case), str(case.parent / "plan.json"), "--out",
                        str(case.parent / "out")), 2,
                 "plan.json, [[metrics]] #1 weight: must be at most 1e6 (the largest plan weight "
                 "compplan computes with, MODEL.md section 1), got 1e+308")


def test_pulse_with_a_plan_weight_of_1e308(tmp_path: Path) -> None:
    # Once a ValueError from Pyomo (a nan bound); 1e20 once an "optimal, unchanged"
    # re-tune with a remaining cap of -1.4e27.
    plan = tmp_path / "plan.toml"
    plan.write_text('[[metrics]]\nid = "revenue"\nweight = 1e308\naccelerator_rate = 1.0\n')
    result = invoke("pulse", str(C1), str(plan), "--actuals", str(C6 / "actuals.csv"),
                    "--out", str(tmp_path / "out"))
    assert_error(result, 2, "plan.toml, [[metrics]] #1 weight: must be at most 1e6 (the "
                            "largest plan weight compplan computes with, MODEL.md section 1), "
                            "got 1e+308")
    assert not (tmp_path / "out").exists()


# -------------------------------------------------------------------------- actuals

@pytest.mark.parametrize("quoted", [False, True])
def test_actuals_of_1e308(tmp_path: Path, quoted: bool) -> None:
    # Once a drift mean "inf".
    actuals = tmp_path / "actuals.csv"
    cell = '"1e308"' if quoted else "1e308"
    actuals.write_text((C6 / "actuals.csv").read_text().replace(
        "R00001,Y1,1.2782", f"R00001,Y1,{cell}", 1))
    result = invoke("pulse", str(C1), str(C6 / "plan.toml"), "--actuals", str(actuals),
                    "--out", str(tmp_path / "out"))
    assert_error(result, 2, "actuals.csv, line 3, revenue: must be at most 1e6 (the largest "
                            "attainment compplan computes with, MODEL.md section 1), got 1e+308")


# ------------------------------------------------------------------------- org.toml

@pytest.fixture
def org(tmp_path: Path) -> Path:
    folder = tmp_path / "org"
    shutil.copytree(C5, folder)
    return folder


@pytest.mark.parametrize(("old", "new", "message"), [
    ("expected_cap = 1069423.0", "expected_cap = 1e308",
     "org.toml, line 18, [budget] expected_cap: must be at most 1e15 (the largest amount of "
     "money compplan computes with, MODEL.md section 1), got 1e+308"),
    ("growth = 0.6", "growth = 1e16",
     "org.toml, line 5, [goals]: goal 'growth' has priority 1e+16; priorities are at most "
     "1e15 (the largest goal priority compplan computes with, MODEL.md section 1)"),
])
def test_org_toml_beyond_the_limits(org: Path, old: str, new: str, message: str) -> None:
    edit(org / "org.toml", old, new)
    assert_error(invoke("validate", str(org)), 2, message)


def test_a_role_case_beyond_the_limits(org: Path) -> None:
    reps = org / "sales" / "reps.csv"
    lines = reps.read_text().splitlines()
    cells = lines[1].split(",")
    column = lines[0].split(",").index("target_incentive")
    cells[column] = "1e308"
    lines[1] = ",".join(cells)
    reps.write_text("\n".join(lines) + "\n")
    result = invoke("validate", str(org))
    assert result.exit_code == 2, result.output
    assert re.search(r"reps\.csv, line 2, target_incentive: must be at most 1e15 \(the "
                     r"largest amount of money compplan computes with, MODEL\.md section 1\), "
                     r"got 1e\+308\n$", result.stderr), result.stderr


# ------------------------------------------------------------------------------ API

def test_api_budget_beyond_the_limit() -> None:
    with pytest.raises(UsageError) as err:
        compplan.load_case(C1, budget=1e308)
    assert str(err.value) == ("override rejected: [budget] expected_cap: must be at most 1e15 "
                              "(the largest amount of money compplan computes with, MODEL.md "
                              "section 1), got 1e+308")


def test_cli_budget_beyond_the_limit(tmp_path: Path) -> None:
    assert_error(invoke("optimise", str(C1), "--budget", "1e308", "--out", str(tmp_path / "o")),
                 2, "override rejected: [budget] expected_cap: must be at most 1e15 (the "
                    "largest amount of money compplan computes with, MODEL.md section 1), got "
                    "1e+308")
