"""The pulse check (MODEL.md section 8): figures and re-tunes worked out by hand.

The hand case (``hand_case``): goal g; metrics a (alignment 1), b (alignment 0.5) and c
(alignment 0), each with threshold 0.5 and cap 2, so below target phi(x) = (x - 0.5) / 0.5
and above it psi(x) = x - 1 (up to 1). Weights 0.2 to 0.8, accelerator multiple 1 to 3,
so ``2 w <= u <= 6 w``. Steps 0.5. Three reps with target incentive 1000.

History: 4 periods, every rep at a = b = 1.5 and c = 0.4 in each. A rep's payout share
is ``w_a + w_b + 0.5 (u_a + u_b)`` (phi = 1 on a and b, c pays nothing below threshold),
so ``E[T] = 3000 (1 + 0.5 (u_a + u_b))``. A step of 0.5 from 1.5 adds psi 0.5 and no phi:
alignment = ``0.5 (1 * u_a + 0.5 * u_b)``.

The plan in force: a and b, weight 0.5 each, accelerator rate 3 each (the maximum):
``E[T] = 3000 * 4 = 12000``, alignment ``0.5 * (3 + 1.5) = 2.25``.

Actuals (2 of N = 4 periods), payout shares by hand:

    R0  Q1 a 1.0 b 1.0   0.5 + 0.5                          = 1.0
    R0  Q2 a 2.0 b 1.0   0.5 + 3 * 1 + 0.5                  = 4.0
    R1  Q1 a 0.75 b 0.5  0.5 * 0.5                          = 0.25
    R1  Q2 a 1.0 b 1.5   0.5 + 0.5 + 3 * 0.5                = 2.5
    R2  Q1 a 0.4 b 0.4   nothing                            = 0.0
    R2  Q2 a 1.2 b 1.2   0.5 + 3 * 0.2 + 0.5 + 3 * 0.2      = 2.2

so ``A = 1000 * 9.95 = 9950``, expected to date ``2 * 12000 = 24000``, forecast
``9950 + 2 * 12000 = 33950``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from conftest import CONFORMANCE, write_case

from compplan.cli.main import main
from compplan.models.actuals import read_actuals
from compplan.models.case import load_case
from compplan.models.plan import load_plan
from compplan.optimizer.pulse import pulse_check

TI = 1000.0
PAID = 9950.0
C6 = CONFORMANCE / "c6_pulse"
PLAN = """[[metrics]]
id = "a"
weight = 0.5
accelerator_rate = 3.0

[[metrics]]
id = "b"
weight = 0.5
accelerator_rate = 3.0
"""
ACTUALS = """rep_id,period,a,b
R0,Q1,1.0,1.0
R0,Q2,2.0,1.0
R1,Q1,0.75,0.5
R1,Q2,1.0,1.5
R2,Q1,0.4,0.4
R2,Q2,1.2,1.2
"""


def close(value: float) -> Any:
    """Solver figures: ties within 1e-7 (relative) may move a figure that far."""
    return pytest.approx(value, rel=1e-6, abs=1e-6)


def hand_case(folder: Path, budget: float | None, **case: Any) -> Path:
    metric = {"threshold": 0.5, "cap": 2.0, "step": 0.5}
    tables: dict[str, dict[str, Any]] = {
        "case": {"name": "Hand", **case}, "goals": {"g": 1.0},
        "metrics.a": {**metric, "alignment": {"g": 1.0}},
        "metrics.b": {**metric, "alignment": {"g": 0.5}},
        "metrics.c": {**metric, "alignment": {"g": 0.0}},
        "design": {"min_weight": 0.2, "max_weight": 0.8, "accelerator_min": 1.0,
                   "accelerator_max": 3.0}}
    if budget is not None:
        tables["budget"] = {"expected_cap": budget}
    reps = [{"rep_id": f"R{i}", "segment": "NS"[i % 2], "target_incentive": TI}
            for i in range(3)]
    history = {"a": np.full((3, 4), 1.5), "b": np.full((3, 4), 1.5), "c": np.full((3, 4), 0.4)}
    write_case(folder / "case", tables, reps, history)
    (folder / "plan.toml").write_text(PLAN)
    (folder / "actuals.csv").write_text(ACTUALS)
    return folder


def run_api(folder: Path, **options: Any) -> Any:
    case = load_case(folder / "case")
    plan = load_plan(case, folder / "plan.toml")
    actuals = read_actuals(folder / "actuals.csv", case, ["a", "b"])
    return pulse_check(case, plan, actuals, **options)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def pulse_cli(folder: Path, *extra: str, actuals: str = "actuals.csv",
              plan: str = "plan.toml") -> Result:
    return invoke("pulse", str(folder / "case"), str(folder / plan), "--actuals",
                  str(folder / actuals), "--out", str(folder / "out"), *extra)


def assert_exit(result: Result, code: int) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- conformance

def test_c6_pulse_conforms_through_the_command_line(tmp_path: Path) -> None:
    expected = json.loads((C6 / "expected.json").read_text())
    case = (C6 / expected["case"]).resolve()
    result = invoke("pulse", str(case), str(C6 / "plan.toml"), "--actuals",
                    str(C6 / "actuals.csv"), "--out", str(tmp_path), "-q")
    assert_exit(result, 0)
    doc = json.loads((tmp_path / "pulse.json").read_text())
    assert doc["schema"] == "compplan.pulse/1"
    assert doc["periods_elapsed"] == 3
    assert doc["periods_in_year"] == expected["periods_in_year"]
    for key in ("paid_to_date", "expected_to_date", "forecast_year_total",
                "remaining_cap_per_period"):
        assert doc[key] == pytest.approx(expected[key], rel=1e-6), key
    for key in ("change", "alignment", "expected_cost"):
        assert doc["retune"][key] == pytest.approx(expected["retune"][key], rel=1e-6), key
    got = {m["id"]: (m["weight"], m["accelerator_rate"]) for m in doc["retune"]["metrics"]}
    for metric, want in expected["retune"]["metrics"].items():
        assert got[metric] == pytest.approx((want["weight"], want["accelerator_rate"]),
                                            rel=1e-6)
    assert (tmp_path / "pulse.md").read_text().startswith("# Pulse check of Budget only")


def test_pulse_json_is_byte_identical_across_runs(tmp_path: Path) -> None:
    case = str(CONFORMANCE / "c1_budget_only")
    for out in ("one", "two"):
        assert_exit(invoke("pulse", case, str(C6 / "plan.toml"), "--actuals",
                           str(C6 / "actuals.csv"), "--out", str(tmp_path / out), "-q"), 0)
    assert (tmp_path / "one" / "pulse.json").read_bytes() == \
        (tmp_path / "two" / "pulse.json").read_bytes()


# --------------------------------------------------------------------------- by hand

def test_least_change_cuts_the_less_aligned_accelerator(tmp_path: Path) -> None:
    # Budget B = 6987.5 per period: year 4 B = 27950; B_rem = (27950 - 9950) / 2 = 9000.
    # E[T'] = 3000 (1 + 0.5 (u_a + u_b)) <= 9000 needs u_a + u_b <= 4, down from 6: the
    # least change is 2 (weights do not move the cost: phi = 1 on both metrics). Every
    # split of the cut between u_a and u_b changes the plan by 2; alignment
    # 0.5 (u_a + 0.5 u_b) is best keeping u_a = 3 and cutting u_b to 1 (its floor 2 w_b = 1).
    # Re-tune: a 0.5 / 3, b 0.5 / 1; alignment 0.5 (3 + 0.5) = 1.75; expected cost 9000.
    doc = run_api(hand_case(tmp_path, 6987.5)).document
    assert doc["paid_to_date"] == pytest.approx(PAID)
    assert doc["expected_to_date"] == pytest.approx(24000.0)
    assert doc["forecast_year_total"] == pytest.approx(PAID + 24000.0)
    assert doc["remaining_cap_per_period"] == pytest.approx(9000.0)
    rt = doc["retune"]
    assert rt["change"] == close(2.0)
    assert rt["alignment"] == close(1.75)
    assert rt["expected_cost"] == close(9000.0)
    assert not rt["unchanged"]
    got = {m["id"]: (m["weight"], m["accelerator_rate"]) for m in rt["metrics"]}
    assert got == {"a": close((0.5, 3.0)), "b": close((0.5, 1.0))}


def test_plan_that_already_fits_is_kept(tmp_path: Path) -> None:
    # B = 20000: B_rem = (80000 - 9950) / 2 = 35025 >= E[T] = 12000: d* = 0, the plan itself
    # (alignment 2.25, cost 12000), even though the budget would buy more alignment.
    doc = run_api(hand_case(tmp_path, 20000.0)).document
    rt = doc["retune"]
    assert rt["unchanged"]
    assert rt["change"] == 0.0
    assert rt["alignment"] == pytest.approx(2.25)
    assert rt["expected_cost"] == pytest.approx(12000.0)
    assert [(m["id"], m["weight"], m["accelerator_rate"]) for m in rt["metrics"]] == [
        ("a", 0.5, 3.0), ("b", 0.5, 3.0)]
    assert doc["remaining_cap_per_period"] == pytest.approx(35025.0)


def test_no_budget_no_cap_and_nothing_changes(tmp_path: Path) -> None:
    doc = run_api(hand_case(tmp_path, None)).document
    assert doc["remaining_cap_per_period"] is None
    assert doc["retune"]["unchanged"]


def test_beyond_repair_gives_the_smallest_budget(tmp_path: Path) -> None:
    # B = 3000: B_rem = (12000 - 9950) / 2 = 1025. With a and b the cheapest plan has
    # u = 2 w on both: cost 3000 (1 + 0.5 * 2) = 6000 per period. The year needs
    # 9950 + 2 * 6000 = 21950, so the smallest expected_cap is 21950 / 4 = 5487.5.
    # With new metrics: a 0.2 / 0.4 and c 0.8 (c pays nothing at 0.4) costs
    # 3000 (0.2 + 0.5 * 0.4) = 1200, still above 1025; a 0.2 / 0.4, b 0.2, c 0.6 costs
    # more. So new metrics do not save the year either.
    outcome = run_api(hand_case(tmp_path, 3000.0))
    report = outcome.infeasibility
    assert outcome.document["retune"] is None
    assert outcome.document["status"] == "infeasible"
    assert report["min_remaining_cap_per_period"] == close(6000.0)
    assert report["min_expected_cap"] == close(5487.5)
    assert report["min_year_budget"] == close(21950.0)
    assert report["new_metrics_save_the_year"] is False


def test_beyond_repair_exits_3_and_says_whether_new_metrics_help(tmp_path: Path) -> None:
    # B = 3400: B_rem = (13600 - 9950) / 2 = 1825 >= 1200: the a + c plan above fits.
    folder = hand_case(tmp_path, 3400.0)
    result = pulse_cli(folder, "-q")
    assert_exit(result, 3)
    assert result.stderr == (
        "Error: no re-tune with the plan's metrics saves the year: paid to date 9,950.00 USD "
        "leaves 1,825.00 USD per period of expected payout for the 2 remaining period(s); "
        "the cheapest plan with these metrics that meets every other guardrail and design "
        "rule is expected to pay 6,000.00 USD per period. The smallest [budget] expected_cap "
        "that saves the year is 5,487.50 USD, a budget of 21,950.00 USD for the year (the "
        "case's is 3,400.00); allowing new metrics "
        "(--allow-new-metrics) would save the year\n"
        f"(details in {folder / 'out' / 'infeasibility.json'})\n")
    report = json.loads((folder / "out" / "infeasibility.json").read_text())
    assert report["min_expected_cap"] == close(5487.5)
    assert report["new_metrics_save_the_year"] is True
    assert json.loads((folder / "out" / "pulse.json").read_text())["retune"] is None


def test_allow_new_metrics_drops_one_and_adds_one(tmp_path: Path) -> None:
    # B = 3400, B_rem = 1825: the cost share must be <= 1825 / 3000 = 0.60833. With
    # W = w_a + w_b and u >= 2 w, a and b pay at least 2 W, so W <= 0.30417: a and b
    # cannot both stay (each needs w >= 0.2), one is dropped, c (paying nothing at 0.4)
    # comes in with w_c = 1 - W and u_c >= 2 w_c. Keeping Y in {a, b} and dropping X:
    #   d = (0.5 + 3)            X dropped
    #     + (0.5 - W) + (3 - u_Y) Y cut, u_Y <= 1.21667 - 2 W (the cap)
    #     + (1 - W) + 2 (1 - W)   c from zero
    #     = 10 - 4 W - u_Y, least at W = 0.30417, u_Y = 0.60833: d = 10 - 6 W = 8.175.
    # Dropping a or b changes the plan as much; alignment 0.5 * a_Y * u_Y keeps a (1.0):
    # alignment 0.5 * 0.60833 = 0.30417, cost 1825.
    folder = hand_case(tmp_path, 3400.0)
    result = pulse_cli(folder, "-q", "--allow-new-metrics")
    assert_exit(result, 0)
    rt = json.loads((folder / "out" / "pulse.json").read_text())["retune"]
    W = 1825.0 / 6000.0
    assert rt["change"] == close(10 - 6 * W)
    assert rt["alignment"] == close(0.5 * 2 * W)
    assert rt["expected_cost"] == close(1825.0)
    got = {m["id"]: (m["weight"], m["accelerator_rate"]) for m in rt["metrics"]}
    assert got == {"a": close((W, 2 * W)), "b": close((0.0, 0.0)),
                   "c": close((1 - W, 2 * (1 - W)))}


def test_money_per_year(tmp_path: Path) -> None:
    # periods_per_year = 4: target incentive and budget are annual, each period 1/4 of
    # the year. A = 9950 / 4 = 2487.5; expected to date (2/4) 12000 = 6000; forecast
    # 2487.5 + 6000 = 8487.5; B = 6987.5 a year: B_rem = (6987.5 - 2487.5) 4 / 2 = 9000,
    # the same re-tune as in the per-period case.
    doc = run_api(hand_case(tmp_path, 6987.5, periods_per_year=4)).document
    assert doc["money"] == "per year"
    assert doc["paid_to_date"] == pytest.approx(2487.5)
    assert doc["expected_to_date"] == pytest.approx(6000.0)
    assert doc["forecast_year_total"] == pytest.approx(8487.5)
    assert doc["remaining_cap_per_period"] == pytest.approx(9000.0)
    assert doc["retune"]["alignment"] == close(1.75)


def test_year_periods_option(tmp_path: Path) -> None:
    # N = 6: B_rem = (6 * 6987.5 - 9950) / 4 = 31975 / 4 = 7993.75;
    # forecast 9950 + 4 * 12000 = 57950.
    doc = run_api(hand_case(tmp_path, 6987.5), year_periods=6).document
    assert doc["periods_in_year"] == 6
    assert doc["remaining_cap_per_period"] == pytest.approx(7993.75)
    assert doc["forecast_year_total"] == pytest.approx(57950.0)


def test_drift_by_hand(tmp_path: Path) -> None:
    # Metric a: actual mean (1 + 2 + 0.75 + 1 + 0.4 + 1.2) / 6 = 1.058333; history all 1.5
    # (no spread: no shift). Past threshold 0.5: 5 of 6; target: 4 of 6; cap 2: 1 of 6.
    # Pinned at the cap in every period: none; below threshold in both: none (R2 only Q1).
    doc = run_api(hand_case(tmp_path, 20000.0)).document
    a = next(m for m in doc["drift"]["metrics"] if m["id"] == "a")
    assert a["mean"] == pytest.approx(6.35 / 6)
    assert a["shift"] is None
    assert a["share_past"] == pytest.approx({"threshold": 5 / 6, "target": 4 / 6,
                                             "cap": 1 / 6})
    assert (a["reps_pinned_at_cap"], a["reps_below_threshold"]) == (0, 0)
    assert a["calibration"]["ok"] is False
    seg = doc["drift"]["segments"]
    assert seg["column"] == "segment"
    # N holds R0 and R2: paid 1000 (1 + 4 + 0 + 2.2) = 7200 of expected 2 * 2 * 4000 = 16000.
    north = next(g for g in seg["groups"] if g["segment"] == "N")
    assert north["paid_to_date"] == pytest.approx(7200.0)
    assert north["expected_to_date"] == pytest.approx(16000.0)


# --------------------------------------------------------------------------- bad input

def _edit(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)


BAD_ACTUALS = [
    (ACTUALS + "R9,Q2,1.0,1.0\n",
     "actuals.csv, line 8, rep_id: rep 'R9' is not in reps.csv"),
    (ACTUALS.replace("R2,Q2,1.2,1.2\n", ""),
     "actuals.csv: rep 'R2' has no row for period 'Q2' (every rep of reps.csv needs one row "
     "per elapsed period; with [scenarios] allow_absent = true in case.toml a missing row "
     "means off the plan)"),
    (ACTUALS + "R0,Q1,1.0,1.0\n",
     "actuals.csv, line 8, period: rep 'R0' has two rows for period 'Q1' (the first on line 2)"),
    (ACTUALS.replace("R1,Q1,0.75", "R1,Q1,-0.1"),
     "actuals.csv, line 4, a: must be a finite number >= 0 (attainment as a ratio of quota, "
     "1.0 = 100 %), got '-0.1'"),
    (ACTUALS.replace("R1,Q2,1.0,1.5", "R1,Q2,1.0,nan"),
     "actuals.csv, line 5, b: must be a finite number >= 0 (attainment as a ratio of quota, "
     "1.0 = 100 %), got 'nan'"),
    (ACTUALS.replace("R1,Q2,1.0,1.5", "R1,Q2,1.0,inf"),
     "actuals.csv, line 5, b: must be a finite number >= 0 (attainment as a ratio of quota, "
     "1.0 = 100 %), got 'inf'"),
    ("rep_id,period,a\nR0,Q1,1.0\n",
     "actuals.csv, line 1: has no column for metric 'b' (every metric the plan pays on or "
     "gates on needs one; "
     "columns found: rep_id, period, a)"),
    ("rep,period,a,b\nR0,Q1,1.0,1.0\n",
     "actuals.csv, line 1: required column 'rep_id' is missing (columns found: rep, period, "
     "a, b)"),
]


@pytest.mark.parametrize(("text", "message"), BAD_ACTUALS,
                         ids=["unknown rep", "missing rep", "duplicate", "negative", "nan",
                              "inf", "no plan metric", "no rep_id"])
def test_bad_actuals(tmp_path: Path, text: str, message: str) -> None:
    folder = hand_case(tmp_path, 6987.5)
    _edit(folder, "actuals.csv", text)
    result = pulse_cli(folder)
    assert_exit(result, 2)
    assert result.stderr == f"Error: {message}\n"
    assert not (folder / "out" / "pulse.json").exists()


def test_bad_actuals_in_parquet_name_the_row(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    frame = pd.read_csv(folder / "actuals.csv", dtype={"rep_id": str, "period": str})
    frame.loc[3, "b"] = -1.0
    frame.to_parquet(folder / "actuals.parquet")
    result = pulse_cli(folder, actuals="actuals.parquet")
    assert_exit(result, 2)
    assert result.stderr == ("Error: actuals.parquet, row 4, b: must be a finite number >= 0 "
                             "(attainment as a ratio of quota, 1.0 = 100 %), got -1.0\n")


def test_parquet_actuals_give_the_csv_figures(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    frame = pd.read_csv(folder / "actuals.csv", dtype={"rep_id": str, "period": str})
    frame.to_parquet(folder / "actuals.parquet")
    assert_exit(pulse_cli(folder, "-q", actuals="actuals.parquet"), 0)
    doc = json.loads((folder / "out" / "pulse.json").read_text())
    assert doc["paid_to_date"] == pytest.approx(PAID)


def test_missing_rep_allowed_with_allow_absent(tmp_path: Path) -> None:
    # R2 off the plan in Q2: A = 9950 - 2200 = 7750.
    folder = hand_case(tmp_path, 6987.5)
    text = (folder / "case" / "case.toml").read_text()
    _edit(folder / "case", "case.toml", text + "\n[scenarios]\nallow_absent = true\n")
    _edit(folder, "actuals.csv", ACTUALS.replace("R2,Q2,1.2,1.2\n", ""))
    doc = run_api(folder).document
    assert doc["paid_to_date"] == pytest.approx(7750.0)


def test_elapsed_periods_must_leave_one(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    result = pulse_cli(folder, "--year-periods", "2")
    assert_exit(result, 2)
    assert result.stderr == (
        "Error: the actuals hold 2 elapsed period(s) but the plan year has 2 (--year-periods "
        "N, default the periods of the case's history); a pulse check needs at least one "
        "period left (k < N)\n")


def test_year_periods_at_least_one(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    result = pulse_cli(folder, "--year-periods", "0")
    assert_exit(result, 2)
    assert "Invalid value for '--year-periods': 0 is not in the range x>=1." in result.stderr


def test_plan_naming_a_metric_the_case_lacks(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    _edit(folder, "plan.toml", PLAN.replace('id = "b"', 'id = "zz"'))
    result = pulse_cli(folder)
    assert_exit(result, 2)
    assert result.stderr == ("Error: plan.toml, [[metrics]] #2 id: 'zz' is not a metric of "
                             "the case (metrics: a, b, c)\n")


def test_montecarlo_needs_year_periods(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    text = (folder / "case" / "case.toml").read_text()
    _edit(folder / "case", "case.toml",
          text + '\n[scenarios]\nmode = "montecarlo"\ncount = 20\nseed = 1\n')
    result = pulse_cli(folder)
    assert_exit(result, 2)
    assert result.stderr == (
        "Error: --year-periods is required: the case's scenarios are Monte Carlo draws, so "
        "its history does not say how many periods the plan year has (or set [case] "
        "periods_per_year in case.toml)\n")
    assert_exit(pulse_cli(folder, "-q", "--year-periods", "4"), 0)


def test_terminal_summary(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    result = pulse_cli(folder)
    assert_exit(result, 0)
    out = result.stdout
    assert "Paid to date (2 of 4 periods): 9,950 USD against 24,000 USD expected (-58.5%)" in out
    assert "Re-tune (least change 2.0000):" in out
    assert "b accelerator rate" in out


# --------------------------------------------------------------------------- tails, plan forms

@pytest.mark.parametrize(("name", "hot"), [("c2_fairness", 1.13), ("c3_risk", 1.5)])
def test_retune_with_tail_guardrails_same_in_full_and_as_cuts(name: str, hot: float) -> None:
    # The re-tune reuses the canonical model: tail guardrails written in full
    # (Rockafellar-Uryasev rows) and as cutting planes give the same least change.
    from compplan.models.actuals import Actuals
    from compplan.optimizer.pipeline import optimise_case

    case = load_case(CONFORMANCE / name)
    plan = optimise_case(case, prices=False).plan
    x = case.attainment[:, :, :2] * hot  # two hot periods: the cap binds
    actuals = Actuals("actuals.csv", case.metric_ids, ("Y1", "Y2"), x,
                      np.ones((x.shape[0], 2), dtype=bool))
    docs = {method: pulse_check(case, plan, actuals, tail_method=method).document
            for method in ("full", "cuts")}
    full, cuts = docs["full"]["retune"], docs["cuts"]["retune"]
    assert full is not None and cuts is not None
    for key in ("change", "alignment", "expected_cost"):
        assert cuts[key] == pytest.approx(full[key], rel=1e-6, abs=1e-7), key
    assert full["change"] > 0.1
    assert full["expected_cost"] <= docs["full"]["remaining_cap_per_period"] * (1 + 1e-6)


def test_plan_not_in_canonical_form_has_no_retune_but_every_figure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A plan as written (curves, gates) is paid through plan_payout over the scenarios;
    # for a canonical plan that pass must give the coefficients' figures.
    from compplan.optimizer import pulse

    folder = hand_case(tmp_path, 6987.5)
    canonical = run_api(folder).document
    monkeypatch.setattr(pulse, "is_canonical", lambda case, plan: False)
    written = run_api(folder).document
    assert written["retune"] is None
    assert "defined for the canonical form only" in written["retune_note"]
    for key in ("paid_to_date", "expected_to_date", "forecast_year_total",
                "remaining_cap_per_period"):
        assert written[key] == pytest.approx(canonical[key]), key
    north = [g for g in written["drift"]["segments"]["groups"] if g["segment"] == "N"]
    assert north[0]["expected_to_date"] == pytest.approx(16000.0)


def test_bundled_case_with_bundled_actuals(tmp_path: Path) -> None:
    # docs/pulse.md: the optimised FY27 plan of enterprise_first, six hot months later.
    cases = Path(__file__).parent.parent / "cases"
    assert_exit(invoke("optimise", str(cases / "enterprise_first"), "--out",
                       str(tmp_path / "fy27"), "-q"), 0)
    result = invoke("pulse", str(cases / "enterprise_first"), str(tmp_path / "fy27" / "plan.json"),
                    "--actuals", str(cases / "enterprise_first" / "actuals.csv"),
                    "--out", str(tmp_path / "pulse"))
    assert_exit(result, 0)
    doc = json.loads((tmp_path / "pulse" / "pulse.json").read_text())
    assert doc["periods_elapsed"] == 6 and doc["periods_in_year"] == 12
    assert doc["forecast_year_total"] > doc["year_budget"]  # running hot
    rt = doc["retune"]
    assert not rt["unchanged"] and rt["change"] > 0
    assert rt["expected_cost"] <= doc["remaining_cap_per_period"] * (1 + 1e-9)
    assert "Re-tune (least change" in result.stdout


def test_plan_given_with_accelerator_multiples(tmp_path: Path) -> None:
    # accelerator_multiple = u (1 - theta) / w = 3 * 0.5 / 0.5 = 3: the same plan.
    folder = hand_case(tmp_path, 6987.5)
    by_rate = run_api(folder).document
    _edit(folder, "plan.toml", PLAN.replace("accelerator_rate = 3.0", "accelerator_multiple = 3.0"))
    by_multiple = run_api(folder).document
    for key in ("paid_to_date", "expected_to_date", "remaining_cap_per_period"):
        assert by_multiple[key] == pytest.approx(by_rate[key]), key
    assert by_multiple["retune"]["change"] == close(2.0)


# --------------------------------------------------------------------------- hostile actuals

@pytest.mark.parametrize(("data", "message"), [
    (b"", "actuals.csv, line 1: is empty: a header row is required"),
    (b"rep_id,period,a,b\n", "actuals.csv: has a header but no data rows"),
    (ACTUALS.encode("utf-16"), "actuals.csv: is UTF-16 text (with a byte-order mark); save it "
                               "as UTF-8 (in Excel: CSV UTF-8)"),
    (ACTUALS.encode("utf-16-le"), "actuals.csv: is UTF-16 text (without a byte-order mark); "
                                  "save it as UTF-8 (in Excel: CSV UTF-8)"),
], ids=["empty", "header only", "utf-16", "utf-16 no BOM"])
def test_hostile_actuals_files(tmp_path: Path, data: bytes, message: str) -> None:
    folder = hand_case(tmp_path, 6987.5)
    (folder / "actuals.csv").write_bytes(data)
    result = pulse_cli(folder)
    assert_exit(result, 2)
    assert result.stderr == f"Error: {message}\n"
    assert not (folder / "out").exists()


def test_actuals_with_a_byte_order_mark_give_the_same_figures(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    (folder / "actuals.csv").write_bytes(b"\xef\xbb\xbf" + ACTUALS.encode())
    assert_exit(pulse_cli(folder, "-q"), 0)
    assert json.loads((folder / "out" / "pulse.json").read_text())["paid_to_date"] == PAID


@pytest.mark.parametrize("count", ["367", "1000000000000"])
def test_year_periods_at_most_a_day_each(tmp_path: Path, count: str) -> None:
    # 1e12 was accepted and gave a forecast of 1e16 currency.
    folder = hand_case(tmp_path, 6987.5)
    result = pulse_cli(folder, "--year-periods", count)
    assert_exit(result, 2)
    assert result.stderr == (f"Error: --year-periods {count} is more periods than a year "
                             "holds: at most 366 (daily periods), as for [case] "
                             "periods_per_year\n")
    assert not (folder / "out").exists()


WRITTEN = """[[metrics]]
id = "a"
curve = [[0.5, 0.0], [1.0, 0.5], [2.0, 1.5]]
gate = { metric = "b", at = 0.5 }

[[metrics]]
id = "b"
weight = 0.5
accelerator_rate = 3.0
"""


def test_written_plan_through_the_command_line_gives_every_figure(tmp_path: Path) -> None:
    """a pays by its curve where b >= 0.5; b as in the plan in force (w 0.5, u 3).

    Actuals, shares by hand (curve of a: 0.5 at 1.0, then +1 per unit):
    R0 Q1 0.5 + 0.5 = 1.0; Q2 1.5 + 0.5 = 2.0; R1 Q1 0.25 + 0 = 0.25 (b = 0.5 opens the
    gate); Q2 0.5 + 2.0 = 2.5; R2 Q1 0 (gate shut, b below threshold); Q2 0.7 + 1.1 = 1.8.
    A = 1000 * 7.55 = 7550. History (a = b = 1.5): 1.0 + 2.0 per rep, E[T] = 9000; to date
    18000, forecast 7550 + 2 * 9000 = 25550, B_rem = (4 * 6987.5 - 7550) / 2 = 10200.
    """
    folder = hand_case(tmp_path, 6987.5)
    (folder / "written.toml").write_text(WRITTEN)
    result = pulse_cli(folder, plan="written.toml")
    assert_exit(result, 0)
    doc = json.loads((folder / "out" / "pulse.json").read_text())
    assert doc["paid_to_date"] == pytest.approx(7550.0)
    assert doc["expected_to_date"] == pytest.approx(18000.0)
    assert doc["forecast_year_total"] == pytest.approx(25550.0)
    assert doc["remaining_cap_per_period"] == pytest.approx(10200.0)
    assert doc["retune"] is None
    assert doc["retune_note"] == (
        "the plan is not in the canonical form with the case's curves (it has a curve, a "
        "gate, or its own threshold or cap): the re-tune is defined for the canonical form "
        "only")
    assert "Re-tune: none. the plan is not in the canonical form" in result.stdout


@pytest.mark.parametrize("name", ["ACTUALS.CSV", "Actuals.Parquet"])
def test_upper_case_extensions_are_read(tmp_path: Path, name: str) -> None:
    # A Windows export named ACTUALS.CSV was refused as "must be a .csv or .parquet file".
    folder = hand_case(tmp_path, 6987.5)
    frame = pd.read_csv(folder / "actuals.csv", dtype={"rep_id": str, "period": str})
    if name.lower().endswith(".csv"):
        frame.to_csv(folder / name, index=False)
    else:
        frame.to_parquet(folder / name)
    assert_exit(pulse_cli(folder, "-q", actuals=name), 0)
    assert json.loads((folder / "out" / "pulse.json").read_text())["paid_to_date"] == PAID


def test_actuals_too_large_for_memory_are_refused_before_reading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compplan.models import tables

    folder = hand_case(tmp_path, 6987.5)
    # A wide note column makes the actuals the larger file: the case itself still fits.
    lines = ACTUALS.splitlines()
    (folder / "actuals.csv").write_text("\n".join(
        [lines[0] + ",note"] + [f"{line},{'x' * 2000}" for line in lines[1:]]) + "\n")
    fits = (folder / "case" / "attainment.csv").stat().st_size * tables.MEMORY_PER_BYTE * 2
    monkeypatch.setattr(tables, "available_memory", lambda: fits)
    result = pulse_cli(folder)
    assert_exit(result, 2)
    assert result.stderr == ("Error: actuals.csv: is 0 MiB: reading it needs about 0.0 GiB of "
                             "memory and 0.0 GiB is available; free memory, use a larger "
                             "machine or split the case\n")


GATED = WRITTEN.replace('metric = "b", at = 0.5', 'metric = "b", at = 1.1')


def test_a_gate_that_shuts_is_applied_to_the_actuals(tmp_path: Path) -> None:
    """a pays only where b >= 1.1: the gate was left out of paid to date (7550, silently).

    By hand: R0 Q1 0 + 0.5; Q2 0 + 0.5 (b = 1.0 shuts the gate); R1 Q1 0 + 0; Q2 0.5 + 2.0;
    R2 Q1 0; Q2 0.7 + 1.1. A = 1000 * 5.3 = 5300. The history (b = 1.5) opens the gate:
    E[T] = 9000 as before, forecast 5300 + 18000.
    """
    folder = hand_case(tmp_path, 6987.5)
    (folder / "gated.toml").write_text(GATED)
    assert_exit(pulse_cli(folder, "-q", plan="gated.toml"), 0)
    doc = json.loads((folder / "out" / "pulse.json").read_text())
    assert doc["paid_to_date"] == pytest.approx(5300.0)
    assert doc["expected_to_date"] == pytest.approx(18000.0)
    assert doc["forecast_year_total"] == pytest.approx(23300.0)


def test_actuals_need_the_metric_a_gate_names(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    (folder / "gated.toml").write_text(WRITTEN.replace('metric = "b"', 'metric = "c"'))
    result = pulse_cli(folder, plan="gated.toml")
    assert_exit(result, 2)
    assert result.stderr == ("Error: actuals.csv, line 1: has no column for metric 'c' (every "
                             "metric the plan pays on or gates on needs one; columns found: "
                             "rep_id, period, a, b)\n")


def test_a_gate_shut_in_the_history_lowers_the_expected_pay(tmp_path: Path) -> None:
    # b >= 1.6 is never met (history 1.5, actuals at most 1.5): only b pays. Paid 1000 *
    # (0.5 + 0.5 + 0 + 2.0 + 0 + 1.1) = 4100; E[T] = 3 * 1000 * 2.0 = 6000 as evaluate says.
    folder = hand_case(tmp_path, 6987.5)
    (folder / "gated.toml").write_text(WRITTEN.replace("at = 0.5", "at = 1.6"))
    assert_exit(pulse_cli(folder, "-q", plan="gated.toml"), 0)
    doc = json.loads((folder / "out" / "pulse.json").read_text())
    assert doc["paid_to_date"] == pytest.approx(4100.0)
    assert doc["expected_to_date"] == pytest.approx(12000.0)


def test_fairness_so_far_and_for_the_year_by_hand(tmp_path: Path) -> None:
    """Issue 19, item 2 (MODEL.md section 8): each fairness guardrail so far, for the year
    under the plan and under the re-tune, and which the year has already broken.

    Shares to date (module docstring): R0 1.0 + 4.0 = 5.0, R1 2.75, R2 2.2 over 2
    periods; so far e = 2.5, 1.375, 1.1. Over the scenarios every rep earns 4.0 under the
    plan; the re-tune (cap B_rem = (4 x 6987.5 - 9950) / 2 = 9000 = 3000 (1 + 0.5 (u_a +
    u_b)), so u_a + u_b = 4, the floor needing as much: u_b 3 -> 1) pays 1 + 0.5 x 4 = 3.0.
    The year, e = (to date + 2 x scenario share) / 4: plan 3.25, 2.6875, 2.55; re-tune
    (5 + 6) / 4 = 2.75, 2.1875, 2.05.

    - bottom_floor 3.0 (the lowest of 3 reps): so far 1.1, year 2.55 (plan), 2.05 (re-tune),
      design 4.0: the year has already broken it; the re-tune meets it only for the rest.
    - top_ratio 1.16 (the highest of 3 over the mean): so far 2.5 / 1.6583 = 1.5075; year
      3.25 / 2.8292 = 1.1487 (met), re-tune 2.75 / 2.3292 = 1.1807 (broken).
    - parity 0.2 by segment (N: R0, R2; S: R1): so far N 7.2 / 4 = 1.8, S 1.375, all
      9.95 / 6 = 1.6583: 28.3 pp; year N 2.9, S 2.6875, all 2.8292: 14.2 pp (plan), the
      same with the re-tune (a common shift of 0.5 for the remaining half).
    """
    folder = hand_case(tmp_path, 6987.5)
    toml = folder / "case" / "case.toml"
    toml.write_text(toml.read_text() + "\n[fairness]\ngroup_by = \"segment\"\n"
                    "parity_tolerance = 0.2\ntop_share = 0.3333333333333333\n"
                    "top_ratio = 1.16\nbottom_share = 0.3333333333333333\n"
                    "bottom_floor = 3.0\n")
    doc = run_api(folder).document
    assert doc["retune"]["metrics"][1]["accelerator_rate"] == close(1.0)
    rows = {g["name"]: g for g in doc["guardrails"]}
    bottom, top, parity = rows["fairness_bottom"], rows["fairness_top"], rows["fairness_parity"]
    assert (bottom["so_far"], bottom["year"], bottom["year_retune"], bottom["projected"]) == (
        close(1.1), close(2.55), close(2.05), close(4.0))
    assert (bottom["ok_so_far"], bottom["ok_year"], bottom["ok_year_retune"]) == (
        False, False, False)
    assert bottom["verdict"] == ("the year has already broken it: the re-tune meets it for "
                                 "the remaining periods, not for the year as a whole")
    assert (top["so_far"], top["year"], top["year_retune"]) == (
        close(2.5 / (4.975 / 3)), close(3.25 / (8.4875 / 3)), close(2.75 / (6.9875 / 3)))
    assert (top["ok_year"], top["ok_year_retune"]) == (True, False)
    assert top["verdict"] == ("the year meets it with the plan unchanged, not with the "
                              "re-tune (which meets it for the remaining periods only)")
    assert (parity["so_far"], parity["year"], parity["year_retune"]) == (
        close(9.95 / 6 - 1.375), close(8.4875 / 3 - 2.6875), close(6.9875 / 3 - 2.1875))
    assert parity["verdict"] == "the year meets it with the plan unchanged and with the re-tune"
    # In words on the terminal, ratios as percentages and points (issue 19, item 8).
    result = pulse_cli(folder)
    assert_exit(result, 0)
    assert ("[fairness] bottom_floor (limit 300.0%): so far 110.0% (BROKEN); the year 255.0% "
            "with the plan unchanged (BROKEN), 205.0% with the re-tune (BROKEN); the plan's "
            "design 400.0% (met): the year has already broken it: the re-tune meets it for "
            "the remaining periods, not for the year as a whole") in result.stdout
    assert ("[fairness] parity_tolerance (limit 20.0 pp): so far 28.3 pp (BROKEN); the year "
            "14.2 pp with the plan unchanged (met), 14.2 pp with the re-tune (met)"
            in result.stdout)


def test_written_plan_reports_every_guardrail(tmp_path: Path) -> None:
    """Issue 19, item 3: a pulse of a plan as written reports CVaR, parity and the tails,
    not the budget alone. The written plan (see the test above) pays every rep 1.0 + 2.0
    = 3.0 of target in every scenario (a = b = 1.5): CVaR of the total 9000, parity 0,
    both tails 3.0; so far as by hand: R0 3.0 / 2, R1 2.75 / 2, R2 1.8 / 2."""
    folder = hand_case(tmp_path, 6987.5)
    (folder / "written.toml").write_text(WRITTEN)
    toml = folder / "case" / "case.toml"
    toml.write_text(toml.read_text().replace("[budget]\n", "[budget]\ncvar_level = 0.5\n"
                                             "cvar_cap = 10000\n")
                    + "\n[fairness]\ngroup_by = \"segment\"\nparity_tolerance = 0.5\n"
                    "bottom_share = 0.3333333333333333\nbottom_floor = 0.5\n")
    case = load_case(folder / "case")
    plan = load_plan(case, folder / "written.toml")
    actuals = read_actuals(folder / "actuals.csv", case, ["a", "b"])
    rows = {g["name"]: g for g in pulse_check(case, plan, actuals).document["guardrails"]}
    assert set(rows) == {"budget_expected", "budget_cvar", "fairness_parity",
                         "fairness_bottom"}
    assert rows["budget_cvar"]["projected"] == close(9000.0)
    assert rows["fairness_parity"]["projected"] == close(0.0)
    assert rows["fairness_bottom"]["projected"] == close(3.0)
    assert rows["fairness_bottom"]["so_far"] == close(0.9)
    assert rows["fairness_bottom"]["year"] == close((1.8 + 2 * 3.0) / 4)
    assert rows["fairness_bottom"]["year_retune"] is None
