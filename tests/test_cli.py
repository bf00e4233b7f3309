"""The command line (MODEL.md section 6): exit codes, messages and the files written.

Exit codes: 0 a plan was written; 2 bad input or usage (a message naming the file,
row and field, never a traceback); 3 no plan satisfies the constraints (explained
on the terminal and in ``infeasibility.json``).

With click >= 8.2 ``CliRunner`` keeps the streams apart: ``result.stdout`` and
``result.stderr`` each hold one, ``result.output`` both as the user would see them.
Errors go to stderr as ``Error: <message>``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFORMANCE, assert_exit, invoke, write_case

FEASIBLE = ["c1_budget_only", "c2_fairness", "c3_risk"]
PLAN_METRIC_KEYS = {"id", "label", "weight", "threshold", "cap", "base_rate",
                    "accelerator_rate", "accelerator_multiple"}
# c4 lists every goal its alignments name (MODEL.md section 1), so it loads without warnings.
C4_WARNINGS = ""

# A small valid case: two metrics, two reps, two periods, no weight limits.
TABLES: dict[str, dict[str, Any]] = {
    "case": {"name": "CLI"},
    "goals": {"growth": 1.0},
    "metrics.revenue": {"threshold": 0.5, "cap": 2.0, "alignment": {"growth": 1.0},
                        "step": 0.2},
    "metrics.margin": {"threshold": 0.3, "cap": 1.5, "alignment": {"growth": 0.5},
                       "step": 0.2},
}
REPS = [{"rep_id": "R1", "segment": "North", "target_incentive": 1000.0},
        {"rep_id": "R2", "segment": "South", "target_incentive": 2000.0}]
ATTAINMENT: dict[str, Any] = {"revenue": [[1.0, 1.2], [0.8, 0.9]],
                              "margin": [[1.1, 0.7], [1.0, 1.3]]}


def small_case(folder: Path, tables: dict[str, dict[str, Any]] | None = None) -> Path:
    return write_case(folder, tables or TABLES, REPS, ATTAINMENT)


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFORMANCE / name / "expected.json").read_text())
    return data


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# ------------------------------------------------------------------------ optimise

@pytest.mark.parametrize("name", FEASIBLE)
def test_optimise_conformance_case(tmp_path: Path, name: str) -> None:
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / name), "--out", str(out))
    assert_exit(result, 0)
    assert result.stdout.endswith(f"wrote {out / 'plan.json'}, {out / 'plan.csv'}, "
                                  f"{out / 'plan.md'}\n")
    assert sorted(p.name for p in out.iterdir()
           if not p.name.startswith(".")) == ["plan.csv", "plan.json", "plan.md", "run.json"]

    doc = read_json(out / "plan.json")
    want = expected(name)
    assert doc["schema"] == "compplan.plan/1"
    assert doc["case"] == {"c1_budget_only": "Budget only", "c2_fairness": "Fairness guardrails",
                           "c3_risk": "Budget risk"}[name]
    assert doc["status"] == "optimal"
    assert doc["objective"]["alignment"] == pytest.approx(want["alignment"], rel=1e-6)
    assert doc["objective"]["expected_cost"] == pytest.approx(want["expected_cost"], rel=1e-6)
    assert doc["evaluation"]["expected_cost"] == pytest.approx(want["expected_cost"], rel=1e-6)
    assert {"name", "version", "mip_gap"} <= set(doc["solver"])
    # No wall time in the plan (MODEL.md section 6): it is in run.json.
    assert "seconds" not in doc["solver"]
    assert read_json(tmp_path / "plan" / "run.json")["solver_seconds"] >= 0
    assert doc["solver"]["name"] == "highs"

    metrics = doc["metrics"]
    assert 1 <= len(metrics) <= 3
    for m in metrics:
        assert set(m) >= PLAN_METRIC_KEYS
        assert m["weight"] > 0
        assert m["base_rate"] == pytest.approx(m["weight"] / (1 - m["threshold"]), rel=1e-9)
        assert m["accelerator_multiple"] == pytest.approx(
            m["accelerator_rate"] * (1 - m["threshold"]) / m["weight"], rel=1e-9)
    assert sum(m["weight"] for m in metrics) == pytest.approx(1.0, abs=1e-9)

    csv_lines = (out / "plan.csv").read_text().splitlines()
    assert csv_lines[0] == ("id,label,weight,threshold,cap,base_rate,accelerator_rate,"
                            "accelerator_multiple")
    assert [line.split(",")[0] for line in csv_lines[1:]] == [m["id"] for m in metrics]
    assert (out / "plan.md").read_text().startswith(f"# Plan for {doc['case']}\n")


def test_optimise_infeasible_case(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c4_infeasible"), "--out", str(out), "-q")
    assert_exit(result, 3)
    assert result.stdout == ""
    assert result.stderr == C4_WARNINGS + (
        "Error: no plan satisfies the constraints: the expected-cost cap ([budget] "
        "expected_cap) cannot be met by any plan that follows the design rules; smallest "
        "single change that admits a plan: raise [budget] expected_cap from 234,660 USD to "
        "574,051 USD (the expected cost of the cheapest plan meeting every other guardrail)"
        f"\n(details in {out / 'infeasibility.json'})\n")
    assert sorted(p.name for p in out.iterdir()
           if not p.name.startswith(".")) == ["infeasibility.json"]
    report = read_json(out / "infeasibility.json")
    assert report["case"] == "Budget too small"
    assert report["status"] == "infeasible"
    assert report["conflict"] == [{"guardrail": "budget_expected",
                                   "setting": "[budget] expected_cap", "value": 234660.0}]
    assert report["min_expected_cap"] == pytest.approx(574051.136, rel=1e-6)
    assert report["explanation"][0] == ("the expected-cost cap ([budget] expected_cap) cannot "
                                        "be met by any plan that follows the design rules")


def test_optimise_shows_progress_and_warnings_on_stderr(tmp_path: Path) -> None:
    result = invoke("optimise", str(CONFORMANCE / "c4_infeasible"), "--out", str(tmp_path))
    assert_exit(result, 3)
    assert result.stderr.startswith(C4_WARNINGS + "computing coefficients\n"
                                    "solving (4 metrics, 4 scenarios, 30 reps)\n"
                                    "no plan fits: finding the guardrails that conflict\n"
                                    "Error: no plan satisfies the constraints: ")


@pytest.mark.parametrize("command", ["optimise", "optimize"])
def test_optimize_alias(tmp_path: Path, command: str) -> None:
    out = tmp_path / "plan"
    result = invoke(command, str(CONFORMANCE / "c1_budget_only"), "--out", str(out), "-q")
    assert_exit(result, 0)
    assert result.output == ""
    doc = read_json(out / "plan.json")
    assert doc["objective"]["alignment"] == pytest.approx(
        expected("c1_budget_only")["alignment"], rel=1e-6)


def test_time_limit_accepted(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c3_risk"), "--out", str(out),
                    "--time-limit", "60", "-q")
    assert_exit(result, 0)
    doc = read_json(out / "plan.json")
    assert doc["status"] == "optimal"
    assert doc["objective"]["alignment"] == pytest.approx(expected("c3_risk")["alignment"],
                                                          rel=1e-6)


@pytest.mark.parametrize("method", ["full", "cuts"])
def test_tail_method_gives_the_same_optimum(tmp_path: Path, method: str) -> None:
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c2_fairness"), "--out", str(out),
                    "--tail-method", method, "-q")
    assert_exit(result, 0)
    doc = read_json(out / "plan.json")
    want = expected("c2_fairness")
    assert doc["objective"]["alignment"] == pytest.approx(want["alignment"], rel=1e-6)
    assert doc["objective"]["expected_cost"] == pytest.approx(want["expected_cost"], rel=1e-6)


# ------------------------------------------------------------------------ overrides

def test_budget_override_lowers_the_cost(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c1_budget_only"), "--out", str(out),
                    "--budget", "800000", "-q")
    assert_exit(result, 0)
    doc = read_json(out / "plan.json")
    want = expected("c1_budget_only")
    assert doc["objective"]["expected_cost"] <= 800000 * (1 + 1e-7)
    assert doc["objective"]["expected_cost"] < 0.9 * want["expected_cost"]
    assert doc["objective"]["alignment"] < want["alignment"]
    budget = next(g for g in doc["evaluation"]["guardrails"] if g["name"] == "budget_expected")
    assert budget["limit"] == 800000.0


def test_budget_override_too_low_is_infeasible(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c1_budget_only"), "--out", str(out),
                    "--budget", "1000", "-q")
    assert_exit(result, 3)
    assert result.stderr == (
        "Error: no plan satisfies the constraints: the expected-cost cap ([budget] "
        "expected_cap) cannot be met by any plan that follows the design rules; smallest "
        "single change that admits a plan: raise [budget] expected_cap from 1,000 USD to "
        "760,168 USD (the expected cost of the cheapest plan meeting every other guardrail)"
        f"\n(details in {out / 'infeasibility.json'})\n")
    report = read_json(out / "infeasibility.json")
    assert report["conflict"] == [{"guardrail": "budget_expected",
                                   "setting": "[budget] expected_cap", "value": 1000.0}]
    assert not (out / "plan.json").exists()


def test_max_metrics_override(tmp_path: Path) -> None:
    case = small_case(tmp_path / "case")
    out = tmp_path / "plan"
    result = invoke("optimise", str(case), "--out", str(out), "--max-metrics", "1", "-q")
    assert_exit(result, 0)
    metrics = read_json(out / "plan.json")["metrics"]
    assert len(metrics) == 1
    assert metrics[0]["weight"] == pytest.approx(1.0)


def test_max_metrics_override_infeasible_with_weight_limits(tmp_path: Path) -> None:
    # c1 caps every weight at 0.8, so one metric alone cannot carry the whole plan.
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c1_budget_only"), "--out", str(out),
                    "--max-metrics", "1", "-q")
    assert_exit(result, 3)
    assert result.stderr == (
        "Error: no plan satisfies the constraints: with at most 1 metric(s) and these maximum "
        f"weights, the weights cannot add up to 1\n(details in {out / 'infeasibility.json'})\n")
    report = read_json(out / "infeasibility.json")
    assert report["conflict"] == [{"guardrail": "design", "setting": "[design]"}]


def test_max_metrics_override_below_required_is_rejected(tmp_path: Path) -> None:
    tables = {**TABLES, "metrics.revenue": {**TABLES["metrics.revenue"], "required": True},
              "metrics.margin": {**TABLES["metrics.margin"], "required": True}}
    case = small_case(tmp_path / "case", tables)
    result = invoke("optimise", str(case), "--out", str(tmp_path / "plan"),
                    "--max-metrics", "1", "-q")
    assert_exit(result, 2)
    assert result.stderr == ("Error: override rejected: 2 metrics are required (revenue, "
                             "margin) but [design] max_metrics is 1\n")


USAGE_ERRORS = [
    pytest.param(["--max-metrics", "4"],
                 "Invalid value for '--max-metrics': 4 is not in the range 1<=x<=3.",
                 id="max-metrics-4"),
    pytest.param(["--max-metrics", "0"],
                 "Invalid value for '--max-metrics': 0 is not in the range 1<=x<=3.",
                 id="max-metrics-0"),
    pytest.param(["--max-metrics", "two"],
                 "Invalid value for '--max-metrics': 'two' is not a valid integer range.",
                 id="max-metrics-text"),
    pytest.param(["--budget", "0"],
                 "Invalid value for '--budget': 0.0 is not in the range x>0.", id="budget-0"),
    pytest.param(["--budget", "-5"],
                 "Invalid value for '--budget': -5.0 is not in the range x>0.",
                 id="budget-negative"),
    pytest.param(["--budget", "abc"],
                 "Invalid value for '--budget': 'abc' is not a valid float range.",
                 id="budget-text"),
    pytest.param(["--time-limit", "0"],
                 "Invalid value for '--time-limit': 0.0 is not in the range x>0.",
                 id="time-limit-0"),
    pytest.param(["--tail-method", "fast"],
                 "Invalid value for '--tail-method': 'fast' is not one of 'auto', 'full', "
                 "'cuts'.", id="tail-method"),
    pytest.param(["--frobnicate"], "No such option '--frobnicate'. Did you mean '--force'?",
                 id="unknown-option"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_optimise_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c1_budget_only"), "--out", str(out), *args)
    assert_exit(result, 2)
    assert result.stderr.startswith("Usage: main optimise [OPTIONS] [CASE]\n")
    assert result.stderr.endswith(f"\nError: {message}\n")
    assert not out.exists()


def test_case_that_is_a_file_is_a_usage_error() -> None:
    path = CONFORMANCE / "c1_budget_only" / "case.toml"
    result = invoke("validate", str(path))
    assert_exit(result, 2)
    assert result.stderr.endswith(f"Error: Invalid value for '[CASE]': Directory '{path}' is "
                                  "a file.\n")


# ------------------------------------------------------------------------ bad input

def _edit(name: str, text: str) -> Any:
    def apply(folder: Path) -> None:
        (folder / name).write_text(text)
    return apply


def _remove(name: str) -> Any:
    def apply(folder: Path) -> None:
        (folder / name).unlink()
    return apply


def _append_toml(text: str) -> Any:
    def apply(folder: Path) -> None:
        with (folder / "case.toml").open("a") as handle:
            handle.write(text)
    return apply


ATT_RULE = "must be a finite number >= 0 (attainment as a ratio of quota, 1.0 = 100 %)"
BAD_INPUT = [
    pytest.param(_edit("attainment.csv", "rep_id,period,revenue,margin\nR1,P01,1.0,1.1\n"
                       "R1,P02,1.2,0.7\nR2,P01,0.8,1.0\nR2,P02,abc,1.3\n"),
                 f"attainment.csv, line 5, revenue: {ATT_RULE}, got 'abc'",
                 id="attainment-text"),
    pytest.param(_edit("attainment.csv", "rep_id,period,revenue,margin\nR1,P01,1.0,1.1\n"
                       "R1,P02,1.2,0.7\nR2,P01,0.8,1.0\nR2,P02,,1.3\n"),
                 f"attainment.csv, line 5, revenue: {ATT_RULE}, got an empty cell",
                 id="attainment-empty"),
    pytest.param(_edit("attainment.csv", "rep_id,period,revenue,margin\nR1,P01,1.0,1.1\n"
                       "R1,P02,1.2,0.7\nR2,P01,0.8,1.0\n"),
                 "attainment.csv: rep 'R2' has no row for period 'P02' (every rep needs "
                 "exactly one row per period; if reps joined or left, set [scenarios] "
                 "allow_absent = true in case.toml: a missing row then means off the plan "
                 "that period)", id="missing-period"),
    pytest.param(_edit("reps.csv", "rep_id,segment,target_incentive\nR1,North,1000\n"
                       "R2,South,\n"),
                 "reps.csv, line 3, target_incentive: must be a number > 0 (currency), got an "
                 "empty cell", id="target-incentive-empty"),
    pytest.param(_edit("reps.csv", "rep_id,segment,target_incentive\nR1,North,1000\n"
                       "R1,South,2000\n"),
                 "reps.csv, line 3, rep_id: rep 'R1' appears twice (first on line 2); rep ids "
                 "must be unique", id="duplicate-rep"),
    pytest.param(_append_toml("[design]\nmax_metric = 2\n"),
                 "case.toml, [design] max_metric: unknown key; did you mean 'max_metrics'? "
                 "(allowed keys: max_metrics, "
                 "min_weight, max_weight, accelerator_min, accelerator_max, "
                 "max_payout_multiple)", id="unknown-key"),
    pytest.param(_append_toml("[fairness]\ngroup_by = \"region\"\n"),
                 "case.toml, [fairness] group_by: 'region' is not a column of reps.csv "
                 "(grouping columns: segment)", id="group-by-missing-column"),
    pytest.param(_append_toml("[budget\n"),
                 "case.toml: is not valid TOML: Expected ']' at the end of a table declaration "
                 "(at line 18, column 8)", id="invalid-toml"),
    pytest.param(_edit("quotas.csv", "rep_id,revenue\nR1,100\nR9,200\n"),
                 "quotas.csv, line 3, rep_id: rep 'R9' is not in reps.csv", id="quota-rep"),
    pytest.param(_edit("current_plan.toml", '[[metrics]]\nid = "pipeline"\nweight = 1.0\n'
                       "accelerator_rate = 1.0\n"),
                 "current_plan.toml, [[metrics]] #1 id: 'pipeline' is not a metric of the case "
                 "(metrics: revenue, margin)", id="current-plan-metric"),
    pytest.param(_remove("reps.csv"),
                 "reps.csv: is missing from the case folder {case} (or give reps.parquet)",
                 id="missing-reps"),
    pytest.param(_edit("attainment.csv", ""),
                 "attainment.csv, line 1: is empty: a header row is required",
                 id="empty-attainment"),
]


@pytest.mark.parametrize("command", ["optimise", "validate"])
@pytest.mark.parametrize(("edit", "message"), BAD_INPUT)
def test_bad_input(tmp_path: Path, command: str, edit: Any, message: str) -> None:
    case = small_case(tmp_path / "case")
    edit(case)
    out = tmp_path / "plan"
    args = [command, str(case)] + (["--out", str(out)] if command == "optimise" else [])
    result = invoke(*args)
    assert_exit(result, 2)
    assert result.stdout == ""
    assert result.stderr == f"Error: {message.format(case=case)}\n"
    assert not out.exists()


def test_case_folder_missing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere"
    result = invoke("optimise", str(path), "--out", str(tmp_path / "plan"))
    assert_exit(result, 2)
    assert result.stderr == (f"Error: {path}: is not a case folder (a folder holding "
                             "case.toml, reps.csv and attainment.csv)\n")


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    case = small_case(tmp_path / "case")
    (case / "reps.csv").write_text("rep_id,segment,target_incentive\nR1,North,1000\nR2,South,x\n")
    proc = subprocess.run([sys.executable, "-m", "compplan.cli.main", "validate", str(case)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == ("Error: reps.csv, line 3, target_incentive: must be a number > 0 "
                           "(currency), got 'x'\n")


def test_non_finite_setting_is_bad_input(tmp_path: Path) -> None:
    case = small_case(tmp_path / "case")
    with (case / "case.toml").open("a") as handle:
        handle.write("[design]\naccelerator_max = inf\n")
    result = invoke("optimise", str(case), "--out", str(tmp_path / "plan"), "-q")
    assert_exit(result, 2)
    assert result.stderr == ("Error: case.toml, [design] accelerator_max: must be a finite "
                             "number, got inf\n")
    assert not (tmp_path / "plan").exists()


def test_infinite_budget_override_is_rejected(tmp_path: Path) -> None:
    result = invoke("optimise", str(CONFORMANCE / "c1_budget_only"), "--out",
                    str(tmp_path / "plan"), "--budget", "inf", "-q")
    assert_exit(result, 2)
    # Refused by the option itself, as --time-limit inf is (an organisation took inf as
    # no cap, and nan as a Pyomo traceback).
    assert result.stderr.endswith("Error: Invalid value for '--budget': 'inf' is not a finite "
                                  "number > 0.\n")


@pytest.mark.parametrize(("name", "explanation"), [
    pytest.param("c1_budget_only",
                 "no guardrail explains it: every guardrail could be dropped and the solver "
                 "still found no plan, although a plan that follows the design rules exists",
                 id="with-guardrails"),
    pytest.param("small",
                 "the case has no guardrails and a plan that follows the design rules exists, "
                 "yet the solver found none", id="without-guardrails"),
])
def test_infeasible_without_a_conflicting_guardrail_is_explained(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, explanation: str) -> None:
    # The solver says "infeasible" although a plan exists (a numerical accident): the
    # diagnosis finds no conflict and must say so, not crash on an empty conflict list.
    from compplan.optimizer import diagnose, pipeline
    from compplan.optimizer.solve import SolveResult, Status

    monkeypatch.setattr(pipeline, "solve", lambda *a, **k: SolveResult(Status.INFEASIBLE))
    if name != "small":
        # A plan follows the design rules (first check), yet none is found with any
        # subset of the guardrails.
        calls: list[list[str]] = []

        def feasible(case: Any, coeffs: Any, guardrails: list[str], limit: Any) -> bool:
            calls.append(guardrails)
            return len(calls) == 1

        monkeypatch.setattr(diagnose, "_feasible", feasible)
    case = small_case(tmp_path / "case") if name == "small" else CONFORMANCE / name
    out = tmp_path / "plan"
    result = invoke("optimise", str(case), "--out", str(out), "-q")
    assert_exit(result, 3)
    hint = ("; this points to a numerical problem (check case.toml and the data for extreme "
            "values)")
    assert result.stderr == (f"Error: no plan satisfies the constraints: {explanation}{hint}"
                             f"\n(details in {out / 'infeasibility.json'})\n")
    report = read_json(out / "infeasibility.json")
    assert report["conflict"] == []


def test_out_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    out = blocker / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c1_budget_only"), "--out", str(out))
    assert_exit(result, 2)
    # Checked before the solve: no progress line, so no solve time is wasted.
    assert result.stderr == (f"Error: cannot write to {out}: Not a directory; "
                             "no file was written\n")
    assert result.stdout == ""


def test_out_folder_is_checked_after_the_case(tmp_path: Path) -> None:
    # Bad input is reported first, and leaves no folder behind.
    case = small_case(tmp_path / "case")
    (case / "reps.csv").write_text("rep_id,segment,target_incentive\nR1,North,0\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = invoke("optimise", str(case), "--out", str(blocker / "plan"))
    assert_exit(result, 2)
    assert result.stderr.startswith("Error: reps.csv, line 2, target_incentive: ")


@pytest.mark.parametrize("outcome", ["plan", "infeasible"])
def test_write_failure_after_the_solve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       outcome: str) -> None:
    from compplan.models import output  # where compplan.api's Result.write finds its writers

    def full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "write_plan" if outcome == "plan" else "write_json", full)
    name = "c1_budget_only" if outcome == "plan" else "c4_infeasible"
    out = tmp_path / "plan"
    result = invoke("optimise", str(CONFORMANCE / name), "--out", str(out), "-q")
    assert_exit(result, 2)
    full_disk = f"Error: cannot write to {out}: No space left on device; no file was written\n"
    if outcome == "plan":
        assert result.stderr == full_disk
    else:  # the explanation is not lost with the file
        assert result.stderr == C4_WARNINGS + full_disk + (
            "(no plan satisfies the constraints: the expected-cost cap ([budget] expected_cap) "
            "cannot be met by any plan that follows the design rules; smallest single change "
            "that admits a plan: raise [budget] expected_cap from 234,660 USD to 574,051 USD "
            "(the expected cost of the cheapest plan meeting every other guardrail))\n")


def test_failed_solve_leaves_no_empty_out_folder(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from compplan.optimizer import pipeline
    from compplan.optimizer.solve import SolveResult, Status

    monkeypatch.setattr(pipeline, "solve", lambda *a, **k: SolveResult(Status.NO_SOLUTION,
                                                                       message="time limit"))
    out = tmp_path / "new" / "plan"
    result = invoke("optimise", str(CONFORMANCE / "c1_budget_only"), "--out", str(out), "-q")
    assert_exit(result, 4)
    assert result.stderr.startswith("Error: the solver stopped (time limit) before finding "
                                    "any plan")
    assert not (tmp_path / "new").exists()


# ------------------------------------------------------------------------ validate

def test_validate_good_case() -> None:
    path = CONFORMANCE / "c1_budget_only"
    result = invoke("validate", str(path))
    assert_exit(result, 0)
    assert result.stdout == (f"{path}: valid. 'Budget only': 40 reps, 4 candidate metrics, "
                             "6 periods, 6 historical scenarios\n")
    assert result.stderr == ""


def test_validate_prints_warnings_on_stderr() -> None:
    path = CONFORMANCE / "c4_infeasible"
    result = invoke("validate", str(path))
    assert_exit(result, 0)
    assert result.stdout == (f"{path}: valid. 'Budget too small': 30 reps, 4 candidate "
                             "metrics, 4 periods, 4 historical scenarios\n")
    assert result.stderr == C4_WARNINGS


def test_validate_names_optional_files(tmp_path: Path) -> None:
    case = small_case(tmp_path / "case")
    (case / "quotas.csv").write_text("rep_id,revenue\nR1,100\nR2,200\n")
    (case / "current_plan.toml").write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\n'
                                            "accelerator_rate = 2.0\n")
    result = invoke("validate", str(case))
    assert_exit(result, 0)
    assert result.stdout == (f"{case}: valid. 'CLI': 2 reps, 2 candidate metrics, 2 periods, "
                             "2 historical scenarios; with quotas.csv, current_plan.toml\n")


def test_validate_bundled_default_case() -> None:
    result = invoke("validate")
    assert_exit(result, 0)
    assert ": valid. " in result.stdout


def test_help_lists_the_commands() -> None:
    result = invoke("--help")
    assert_exit(result, 0)
    for command in ("optimise", "optimize", "validate"):
        assert f"  {command} " in result.stdout
