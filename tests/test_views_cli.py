"""``compplan evaluate`` (with what-ifs) and ``compplan compare`` on the command line.

The case is that of test_evaluate.py (worked out there): goals g1 and g2 with
priorities 3 and 1; metrics a and b (threshold 0.5, cap 2, step 0.5); four reps over
two periods. Its current plan, a 0.6 (u 1.2) and b 0.4 (u 0.8), has alignment 0.44,
expected total payout 4900 (scenarios 5800 and 4000) and rep payouts as a share of
target e = (1.3, 0.5, 0.9, 1.3).

The what-if ``--shift 0.4:b->a`` leaves a alone at weight 1 with its multiple 1
(u = 1 * 1 / 0.5 = 2): P/TI = phi_a + 2 psi_a gives R0 (2.0, 1.0), R1 (1.0, 0), R2
(0.5, 1.5), R3 (3.0, 0): totals 7000 and 4000, expected 5500; e = (1.5, 0.5, 1.0, 1.5).
Alignment: U_a = 0.2 * 1 + 0.3 * 2 = 0.8, times pi_g1 = 0.75: 0.6.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import assert_exit, invoke, write_case
from test_evaluate import ATTAINMENT, REPS, tables

from compplan.models.case import load_case
from compplan.models.plan import load_plan

CURRENT = """[[metrics]]
id = "a"
weight = 0.6
accelerator_rate = 1.2

[[metrics]]
id = "b"
weight = 0.4
accelerator_rate = 0.8
"""
SHIFTED = """[[metrics]]
id = "a"
weight = 1.0
accelerator_rate = 2.0
"""


def approx(value: Any) -> Any:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    path = write_case(tmp_path / "case", tables(), REPS, ATTAINMENT)
    (path / "current_plan.toml").write_text(CURRENT)
    return path


@pytest.fixture
def shifted(tmp_path: Path) -> Path:
    path = tmp_path / "shifted.toml"
    path.write_text(SHIFTED)
    return path


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def cells(output: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is ``label``."""
    for line in output.splitlines():
        parts = [p.strip() for p in line.split("│")[1:-1]]
        if parts and parts[0] == label:
            return parts[1:]
    raise AssertionError(f"no row {label!r} in\n{output}")


# --------------------------------------------------------------------------- evaluate

def test_evaluate_current(case_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    result = invoke("evaluate", str(case_dir), "current", "--out", str(out))
    assert_exit(result, 0)
    doc = read_json(out / "evaluation.json")
    assert (doc["schema"], doc["case"], doc["plan"]["name"]) == (
        "compplan.evaluation/1", "tiny", "current")
    assert [m["id"] for m in doc["plan"]["metrics"]] == ["a", "b"]
    ev = doc["evaluation"]
    assert ev["alignment"] == approx(0.44)
    assert ev["alignment_by_goal"] == approx({"g1": 0.39, "g2": 0.05})
    assert ev["expected_cost"] == approx(4900.0)
    assert ev["total_cvar"] == approx(5800.0)
    assert "whatif" not in doc
    assert cells(result.stdout, "expected alignment") == ["0.4400"]
    assert cells(result.stdout, "expected total payout") == ["4,900"]
    assert cells(result.stdout, "P10") == ["4,180"]  # the first P10 is of the total payout
    assert cells(result.stdout, "CVaR 0.9, mean of the worst 10% (default level: the case "
                                "sets none)") == ["5,800"]
    assert cells(result.stdout, "share from goal g2") == ["11.4%"]
    assert cells(result.stdout, "West: gap to all reps") == ["-8.0 pp"]
    assert "current: meets all 10 design rules (the case sets no guardrails)" in result.stdout
    assert result.stdout.endswith(
        f"wrote {out / 'evaluation.json'}, {out / 'rep_payouts.csv'}\n")


def test_rep_payouts_csv(case_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    assert_exit(invoke("evaluate", str(case_dir), "current", "--out", str(out), "-q"), 0)
    table = pd.read_csv(out / "rep_payouts.csv")
    assert list(table.columns) == ["rep_id", "region", "segment", "target_incentive",
                                   "expected_payout", "share_of_target"]
    assert list(table["rep_id"]) == ["R0", "R1", "R2", "R3"]
    assert list(table["segment"]) == ["North", "North", "South", "South"]
    assert list(table["expected_payout"]) == approx([1300.0, 500.0, 1800.0, 1300.0])
    assert list(table["share_of_target"]) == approx([1.3, 0.5, 0.9, 1.3])


def test_evaluate_a_toml_plan_is_named_by_its_stem(case_dir: Path, shifted: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "ev"
    result = invoke("evaluate", str(case_dir), str(shifted), "--out", str(out))
    assert_exit(result, 0)
    doc = read_json(out / "evaluation.json")
    assert (doc["plan"]["name"], doc["plan"]["source"]) == ("shifted", str(shifted))
    assert doc["evaluation"]["expected_cost"] == approx(5500.0)
    assert "Enterprise" not in result.stdout and "tiny: plan shifted" in result.stdout


def test_evaluate_a_plan_json(case_dir: Path, tmp_path: Path) -> None:
    plan_json = tmp_path / "fy27" / "plan.json"
    plan_json.parent.mkdir()
    plan_json.write_text(json.dumps({"metrics": [
        {"id": "a", "weight": 1.0, "threshold": 0.5, "cap": 2.0, "accelerator_multiple": 1.0}]}))
    out = tmp_path / "ev"
    assert_exit(invoke("evaluate", str(case_dir), str(plan_json), "--out", str(out), "-q"), 0)
    doc = read_json(out / "evaluation.json")
    assert doc["plan"]["name"] == "fy27"  # its folder: every optimised plan is plan.json
    assert doc["evaluation"]["alignment"] == approx(0.6)


def test_quiet_prints_nothing(case_dir: Path, tmp_path: Path) -> None:
    result = invoke("evaluate", str(case_dir), "current", "--out", str(tmp_path / "e"), "-q")
    assert_exit(result, 0)
    assert (result.stdout, result.stderr) == ("", "")


def test_evaluate_shows_what_the_plan_breaks(tmp_path: Path) -> None:
    # Multiples 1.0 against accelerator_min 1.5; expected payout 4900 against a cap of 4000.
    path = write_case(tmp_path / "strict", tables(design={"accelerator_min": 1.5},
                                                  budget={"expected_cap": 4000.0}),
                      REPS, ATTAINMENT)
    (path / "current_plan.toml").write_text(CURRENT)
    result = invoke("evaluate", str(path), "current", "--out", str(tmp_path / "ev"))
    assert_exit(result, 0)
    assert ("current breaks [budget] expected_cap: 4,900 against a limit of 4,000\n"
            "current breaks a design rule: accelerator multiple of a is 1, below the minimum "
            "1.5 ([design] accelerator_min)\n"
            "current breaks a design rule: accelerator multiple of b is 1, below the minimum "
            "1.5 ([design] accelerator_min)\n") in result.stdout
    assert cells(result.stdout, "[budget] expected_cap: slack") == ["-900 BROKEN"]
    assert cells(result.stdout, "rules broken") == ["2"]
    assert cells(result.stdout, "broken") == ["accelerator_min a; accelerator_min b"]


# ---------------------------------------------------------------------------- what-if

def test_whatif_side_by_side(case_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    result = invoke("evaluate", str(case_dir), "current", "--shift", "0.4:b->a",
                    "--out", str(out))
    assert_exit(result, 0)
    doc = read_json(out / "evaluation.json")
    whatif = doc["whatif"]
    assert whatif["modifiers"] == ["--shift 0.4:b->a"]
    assert whatif["metrics"][0]["id"] == "a" and len(whatif["metrics"]) == 1
    assert whatif["evaluation"]["expected_cost"] == approx(5500.0)
    assert whatif["differences"]["expected_payout"] == approx(600.0)
    assert whatif["differences"]["alignment"] == approx(0.16)
    assert whatif["differences"]["weight.b"] == approx(-0.4)
    assert "accelerator_multiple.b" not in whatif["differences"]  # b is out of the what-if
    assert cells(result.stdout, "expected total payout") == ["4,900", "5,500", "+600"]
    assert cells(result.stdout, "weight: b") == ["40.0%", "0.0%", "-40.0 pp"]
    assert cells(result.stdout, "expected alignment") == ["0.4400", "0.6000", "+0.1600"]
    assert "what-if: --shift 0.4:b->a" in result.stdout
    table = pd.read_csv(out / "rep_payouts.csv")
    assert list(table["whatif_share_of_target"]) == approx([1.5, 0.5, 1.0, 1.5])
    assert list(table["whatif_expected_payout"]) == approx([1500.0, 500.0, 2000.0, 1500.0])


@pytest.mark.parametrize(("args", "weights"), [
    # Set first: b 0.5 and a rescaled to 0.5; then 0.1 moves from a to b.
    (["--set", "weight.b=0.5", "--shift", "0.1:a->b"], {"a": 0.4, "b": 0.6}),
    # Shift first: a 0.5, b 0.5; then b is already 0.5.
    (["--shift", "0.1:a->b", "--set", "weight.b=0.5"], {"a": 0.5, "b": 0.5}),
], ids=["set-then-shift", "shift-then-set"])
def test_modifiers_apply_in_the_order_given(case_dir: Path, tmp_path: Path, args: list[str],
                                            weights: dict[str, float]) -> None:
    out = tmp_path / "ev"
    assert_exit(invoke("evaluate", str(case_dir), "current", *args, "--out", str(out), "-q"),
                0)
    metrics = read_json(out / "evaluation.json")["whatif"]["metrics"]
    assert {m["id"]: m["weight"] for m in metrics} == approx(weights)


def test_write_plan(case_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "plans" / "whatif.toml"
    result = invoke("evaluate", str(case_dir), "current", "--set", "weight.a=+0.4",
                    "--out", str(tmp_path / "ev"), "--write-plan", str(target))
    assert_exit(result, 0)
    # a 1.0 (multiple 1: u = 2.0); b leaves.
    assert target.read_text() == ('[[metrics]]\nid = "a"\nweight = 1.0\n'
                                  'accelerator_rate = 2.0\n')
    plan = load_plan(load_case(case_dir), target)
    assert [(m.id, m.weight) for m in plan.metrics] == [("a", 1.0)]
    assert str(target) in result.stdout.splitlines()[-1]


def test_write_plan_without_modifiers_writes_the_plan(case_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.toml"
    assert_exit(invoke("evaluate", str(case_dir), "current", "-q", "--out",
                       str(tmp_path / "ev"), "--write-plan", str(target)), 0)
    assert target.read_text() == CURRENT


# ---------------------------------------------------------------------------- compare

def test_compare(case_dir: Path, shifted: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = invoke("compare", str(case_dir), "current", str(shifted), "--out", str(out))
    assert_exit(result, 0)
    table = pd.read_csv(out / "compare.csv").set_index("key")
    assert list(table.columns) == ["section", "label", "kind", "current", "shifted",
                                   "shifted - current"]
    assert table.loc["expected_payout", ["current", "shifted", "shifted - current"]
                     ].astype(float).tolist() == approx([4900.0, 5500.0, 600.0])
    assert float(table.loc["alignment", "shifted - current"]) == approx(0.16)
    assert float(table.loc["rep_share.p50", "shifted"]) == approx(1.25)  # e 0.5, 1, 1.5, 1.5
    assert table.loc["design_rules.which", "current"] == "none"
    markdown = (out / "compare.md").read_text()
    assert markdown.startswith("# tiny: current vs shifted\n\n"
                               "| figure | current | shifted | shifted - current |\n")
    assert "| expected total payout | 4,900 | 5,500 | +600 |\n" in markdown
    assert cells(result.stdout, "expected total payout") == ["4,900", "5,500", "+600"]
    assert result.stdout.endswith(f"wrote {out / 'compare.csv'}, {out / 'compare.md'}\n")


def test_compare_names_plans_called_plan_by_folder(case_dir: Path, tmp_path: Path) -> None:
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "plan.toml").write_text(SHIFTED if folder == "y" else CURRENT)
    out = tmp_path / "cmp"
    assert_exit(invoke("compare", str(case_dir), str(tmp_path / "x" / "plan.toml"),
                       str(tmp_path / "y" / "plan.toml"), "current", "--out", str(out),
                       "-q"), 0)
    columns = pd.read_csv(out / "compare.csv").columns.tolist()
    assert columns[4:] == ["x", "y", "current", "y - x", "current - x"]


def test_compare_names_plans_with_the_same_stem_by_folder(case_dir: Path,
                                                          tmp_path: Path) -> None:
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "fy27.toml").write_text(SHIFTED if folder == "y" else CURRENT)
    out = tmp_path / "cmp"
    assert_exit(invoke("compare", str(case_dir), str(tmp_path / "x" / "fy27.toml"),
                       str(tmp_path / "y" / "fy27.toml"), "--out", str(out), "-q"), 0)
    columns = pd.read_csv(out / "compare.csv").columns.tolist()
    assert columns[4:] == ["fy27", "y/fy27", "y/fy27 - fy27"]


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("args", "message"), [
    (["evaluate", "{case}", "current", "--set", "weight.zz=0.3"],
     "--set weight.zz=0.3: 'zz' is not a metric of the case (metrics: a, b)"),
    (["evaluate", "{case}", "current", "--set", "weight.a"],
     "--set weight.a: expected weight.ID=VALUE, accelerator.ID=VALUE or rate.ID=VALUE (a + or "
     "- before a weight's VALUE adds or subtracts it)"),
    (["evaluate", "{case}", "current", "--shift", "0.5:b->a"],
     "--shift 0.5:b->a: shifts 0.5 but b carries only 0.4"),
    (["evaluate", "{case}", "current", "--set", "weight.a=+0.5"],
     "--set weight.a=+0.5: the weight of a would be 1.1, outside [0, 1]"),
    (["evaluate", "{case}", "current", "--shift", "0.2:a=>b"],
     "--shift 0.2:a=>b: expected AMOUNT:FROM->TO, e.g. 0.2:smb_bookings->multi_product_deals"),
    (["evaluate", "{case}", "nope.json"],
     "nope.json: is not a file (give a plan.json, a plan TOML file, or 'current')"),
    (["evaluate", "{tmp}/missing", "current"],
     "{tmp}/missing: is not a case folder (a folder holding case.toml, reps.csv and "
     "attainment.csv)"),
    (["compare", "{case}", "current"],
     "compare needs at least two plans (give `current` and a plan file, or two plan files)"),
    (["compare", "{case}", "current", "nope.toml"],
     "nope.toml: is not a file (give a plan.json, a plan TOML file, or 'current')"),
], ids=["unknown-metric", "malformed-set", "shift-too-large", "weight-above-1",
        "malformed-shift", "missing-plan", "missing-case", "compare-one-plan",
        "compare-missing-plan"])
def test_usage_errors(case_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    filled = [a.format(case=case_dir, tmp=tmp_path) for a in args]
    result = invoke(*filled, "--out", str(tmp_path / "out"))
    assert_exit(result, 2)
    assert result.stderr.endswith(f"Error: {message.format(tmp=tmp_path)}\n")
    assert not (tmp_path / "out").exists()


def test_current_needs_a_current_plan(tmp_path: Path) -> None:
    path = write_case(tmp_path / "bare", tables(), REPS, ATTAINMENT)
    result = invoke("evaluate", str(path), "current")
    assert_exit(result, 2)
    assert result.stderr == (f"Error: current_plan.toml: is not in the case folder {path}; "
                             "give a plan file instead of 'current'\n")


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_an_out_folder_that_cannot_be_made(case_dir: Path, tmp_path: Path, command: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    plans = ["current"] if command == "evaluate" else ["current", "current"]
    result = invoke(command, str(case_dir), *plans, "--out", str(blocker / "sub"))
    assert_exit(result, 2)
    assert f"Error: cannot write to {blocker / 'sub'}: " in result.stderr
    # An --out that is a file is refused by click before anything is computed.
    result = invoke(command, str(case_dir), *plans, "--out", str(blocker))
    assert_exit(result, 2)
    assert result.stderr.endswith(
        f"Error: Invalid value for '--out': Directory '{blocker}' is a file.\n")


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_help_has_an_example(command: str) -> None:
    result = invoke(command, "--help")
    assert_exit(result, 0)
    assert f"compplan {command} cases/enterprise_first current" in result.stdout


def test_write_plan_that_cannot_be_written(case_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = invoke("evaluate", str(case_dir), "current", "--shift", "0.1:a->b", "-q",
                    "--out", str(tmp_path / "ev"), "--write-plan", str(blocker / "w.toml"))
    assert_exit(result, 2)
    # The reason is the operating system's (File exists, Not a directory).
    assert result.stderr.startswith(f"Error: cannot write to {blocker / 'w.toml'}: ")
