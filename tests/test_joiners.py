"""Reps who joined or left (``[scenarios] allow_absent``, MODEL.md section 5), by hand.

One metric ``a``: threshold 0.5, cap 2, so phi(x) = (x - 0.5) / 0.5 in [0, 1] and
psi(x) = x - 1 in [0, 1]; step 0.5. The plan w = 1, u = 2 (accelerator multiple
u (1 - theta) / w = 1), so P / TI = c(x) = phi(x) + 2 psi(x). Three periods:

    rep  segment  TI     P01    P02    P03      c(x): P01  P02  P03    e_r
    A    North   1000    1.0    1.5    0.5            1.0  2.0  0.0    (1 + 2 + 0) / 3 = 1.0
    B    South   2000     -     1.25   0.5  (joiner)   -   1.5  0.0    (1.5 + 0) / 2  = 0.75
    C    South   1000    2.0     -      -   (leaver)  3.0   -    -     3.0 / 1        = 3.0

Totals: P01 = 1000 + 3000 = 4000, P02 = 2000 + 3000 = 5000, P03 = 0; expected
cost (4000 + 5000 + 0) / 3 = 3000. Target on the plan, sum O TI = 3 x 1000 + 2 x 2000
+ 1 x 1000 = 8000 (without the mask it would be 3 x 4000 = 12000).

U: a step of 0.5 pays c(x + 0.5) - c(x) = 1 for every present rep-period but C's (at
the cap, 0): U = (1000 x 3 + 2000 x 2 + 0) / 8000 = 0.875, and a = 1, so alignment
0.875. Per unit of w (phi gains: A at P03 and B at P03): 3000 / 8000 = 0.375; per unit
of u (psi gains 0.5: A at P01, P02 and B at P02): 2000 / 8000 = 0.25.

Parity (group_by segment): everyone 9000 / 8000 = 1.125; North (A) 3000 / 3000 = 1.0,
gap -0.125; South (B, C) (3000 + 3000) / (2 x 2000 + 1000) = 1.2, gap +0.075.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pytest import approx

from compplan.cli.main import main
from compplan.errors import CaseError
from compplan.models.case import load_case
from compplan.models.plan import load_plan
from compplan.models.scenarios import build_scenarios, rep_statistics
from compplan.optimizer.coefficients import compute_coefficients
from compplan.optimizer.evaluate import evaluate, evaluate_plan, plan_payouts
from compplan.optimizer.pipeline import optimise_case
from compplan.render.plan import plan_json

REPS = "rep_id,segment,target_incentive\nA,North,1000\nB,South,2000\nC,South,1000\n"
ROWS = ["A,P01,1.0", "A,P02,1.5", "A,P03,0.5", "B,P02,1.25", "B,P03,0.5", "C,P01,2.0"]
W, U = np.array([1.0]), np.array([2.0])


def write(folder: Path, rows: list[str] = ROWS, *, allow_absent: bool = True,
          step: float | None = 0.5, extra: str = "", case: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    step_line = "" if step is None else f"step = {step}\n"
    (folder / "case.toml").write_text(
        f'[case]\nname = "Joiners"\n{case}\n[goals]\ng = 1.0\n\n'
        "[metrics.a]\nthreshold = 0.5\ncap = 2.0\nalignment = { g = 1.0 }\n" + step_line
        + '\n[fairness]\ngroup_by = "segment"\n\n[scenarios]\nmode = "historical"\n'
        + ("allow_absent = true\n" if allow_absent else "") + extra)
    (folder / "reps.csv").write_text(REPS)
    (folder / "attainment.csv").write_text("rep_id,period,a\n" + "\n".join(rows) + "\n")
    return folder


def test_presence_mask_and_zero_attainment_where_absent(tmp_path: Path) -> None:
    case = load_case(write(tmp_path))
    assert case.periods == ("P01", "P02", "P03")
    np.testing.assert_array_equal(case.present, [[True, True, True], [False, True, True],
                                                 [True, False, False]])
    assert case.attainment[1, 0, 0] == 0.0 and case.attainment[2, 0, 2] == 0.0


def test_expected_cost_e_r_alignment_and_parity_by_hand(tmp_path: Path) -> None:
    case = load_case(write(tmp_path))
    coeffs = compute_coefficients(case)
    assert coeffs.align_w == approx([0.375]) and coeffs.align_u == approx([0.25])
    ev = evaluate(case, coeffs, W, U)
    assert ev.expected_cost == approx(3000.0)
    assert [ev.total_p10, ev.total_p50, ev.total_p90] == approx([800.0, 4000.0, 4800.0])
    assert coeffs.rep_w @ W + coeffs.rep_u @ U == approx([1.0, 0.75, 3.0])
    assert ev.alignment == approx(0.875)
    assert ev.parity_gaps == approx({"North": -0.125, "South": 0.075})
    assert ev.mean_payout_share == approx(4.75 / 3)
    south = next(s for s in ev.segments if s.group == "South")
    # South's target on the plan in an average period: (2 x 2000 + 1000) / 3.
    assert south.share_of_target == approx(1.2)
    assert south.target_incentive == approx(5000.0 / 3)


def test_step_is_the_spread_over_present_rep_periods(tmp_path: Path) -> None:
    # Present values 1.0, 1.5, 0.5, 1.25, 0.5, 2.0: mean 1.125, squared deviations
    # sum to 1.71875, so delta = sqrt(1.71875 / 6); the three absent zeros do not count.
    case = load_case(write(tmp_path, step=None))
    assert compute_coefficients(case).step == approx([np.sqrt(1.71875 / 6)])


def test_optimum_by_hand_with_budget_and_parity(tmp_path: Path) -> None:
    # w = 1 (one metric); u in [2, 6]. Cost (5000 + 2000 u) / 3 (phi totals 2000, 3000, 0;
    # psi totals 1000, 1000, 0). Gaps: South (3000 + 1500 u) / 5000 - (5000 + 2000 u) / 8000
    # = -0.025 + 0.05 u; North (2000 + 500 u) / 3000 - (5000 + 2000 u) / 8000
    # = 1/24 - u / 12. The cap 3500 allows u <= 2.75; parity 0.15 allows u <= 2.3
    # (North at -0.15). Alignment 0.375 + 0.25 u is best at u = 2.3: 0.95, cost 3200.
    # (The tie-break may give up 1e-7 of alignment for a cheaper plan: MODEL.md s. 4.)
    folder = write(tmp_path)
    text = (folder / "case.toml").read_text().replace(
        'group_by = "segment"\n', 'group_by = "segment"\nparity_tolerance = 0.15\n')
    (folder / "case.toml").write_text(text + "\n[budget]\nexpected_cap = 3500.0\n")
    case = load_case(folder)
    doc = plan_json(case, optimise_case(case))
    assert doc["objective"]["alignment"] == approx(0.95, rel=1e-6)
    assert doc["objective"]["expected_cost"] == approx(3200.0, rel=1e-6)
    assert doc["metrics"][0]["accelerator_rate"] == approx(2.3, rel=1e-6)
    assert doc["evaluation"]["max_parity_gap"] == approx(0.15, rel=1e-6)


def test_complete_data_with_the_key_is_the_plain_case(tmp_path: Path) -> None:
    rows = [f"{r},{p},1.0" for r in "ABC" for p in ("P01", "P02")]
    case = load_case(write(tmp_path, rows))
    assert case.present is None


def test_missing_row_without_the_key_names_rep_period_and_allow_absent(tmp_path: Path) -> None:
    with pytest.raises(CaseError) as info:
        load_case(write(tmp_path, allow_absent=False))
    assert str(info.value) == (
        "attainment.csv: rep 'B' has no row for period 'P01' (every rep needs exactly one "
        "row per period; if reps joined or left, set [scenarios] allow_absent = true in "
        "case.toml: a missing row then means off the plan that period)")
    assert info.value.exit_code == 2


def test_a_rep_without_any_row_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaseError) as info:
        load_case(write(tmp_path, [r for r in ROWS if not r.startswith("C,")]))
    assert str(info.value) == ("attainment.csv: rep 'C' of reps.csv has no row at all (with "
                               "allow_absent a rep may miss periods, but needs at least one)")


def test_monte_carlo_calibrates_each_rep_from_her_own_periods(tmp_path: Path) -> None:
    folder = write(tmp_path)
    text = (folder / "case.toml").read_text().replace('mode = "historical"',
                                                      'mode = "montecarlo"\ncount = 64\nseed = 3')
    (folder / "case.toml").write_text(text)
    case = load_case(folder)
    scen = build_scenarios(case)
    assert scen._calibration is not None
    stats = rep_statistics(case.attainment, case.present)
    # A: 1.0, 1.5, 0.5 -> mean 1, sd sqrt(1/6); B: 1.25, 0.5 -> 0.875, 0.375;
    # C has one period: the metric's spread over present rep-periods (mean 1.125 of
    # the six values, squared deviations summing to 1.71875).
    assert stats.mean[:, 0] == approx([1.0, 0.875, 2.0])
    assert stats.sd[:, 0] == approx([np.sqrt(1 / 6), 0.375, np.sqrt(1.71875 / 6)])
    assert stats.zero_share[:, 0] == approx([0.0, 0.0, 0.0])
    assert not scen.partial  # every rep is drawn in every scenario
    assert compute_coefficients(case, scen).scen_w.shape == (64, 1)


def test_cli_validate_and_optimise_say_who_joined_or_left(tmp_path: Path) -> None:
    folder = write(tmp_path, case="periods_per_year = 3\n")
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"{folder}: valid. 'Joiners': 3 reps, 1 candidate metrics, 3 "
                             "periods, 3 historical scenarios; 2 reps joined or left (3 "
                             "rep-periods off the plan); money per year (3 periods a year)\n")



def test_every_command_takes_a_case_with_joiners(tmp_path: Path) -> None:
    # The hand plan (w = 1, u = 2) through evaluate, audit, report and export.
    folder = write(tmp_path / "case")
    plan = tmp_path / "plan.toml"
    plan.write_text('[[metrics]]\nid = "a"\nweight = 1.0\naccelerator_rate = 2.0\n')
    runner = CliRunner()
    done = runner.invoke(main, ["evaluate", str(folder), str(plan), "--out",
                                str(tmp_path / "ev"), "-q"])
    assert done.exit_code == 0, done.output
    ev = json.loads((tmp_path / "ev" / "evaluation.json").read_text())["evaluation"]
    assert ev["expected_cost"] == approx(3000.0) and ev["alignment"] == approx(0.875)
    assert ev["parity_gaps"] == approx({"North": -0.125, "South": 0.075})
    for args in (["audit", str(folder), str(plan), "--out", str(tmp_path / "au"), "-q"],
                 ["report", str(folder), str(plan), "--out", str(tmp_path / "r.html")],
                 ["export", str(folder), str(plan), "--xlsx", str(tmp_path / "b.xlsx"), "-q"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (args[0], result.output)
    assert "money in USD per period" in (tmp_path / "r.html").read_text()
    payouts = (tmp_path / "ev" / "rep_payouts.csv").read_text().splitlines()
    assert payouts[0].split(",")[3] == "share_of_periods_on_plan"
    # Scenarios sheet: each total over the target on the plan that period:
    # P01 4000 / (1000 + 1000) = 2, P02 5000 / (1000 + 2000), P03 0 / 3000.
    import openpyxl

    # The workbook is live: each share is a formula over the target on the plan then.
    sheet = openpyxl.load_workbook(tmp_path / "b.xlsx")["Scenarios"]
    shares = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert shares == ["=B2/2000.0", "=B3/3000.0", "=B4/3000.0"]


def test_fast_and_careful_readers_agree_on_missing_rows(tmp_path: Path) -> None:
    # The pyarrow path reads the CSV; the pandas path reads the same rows from Parquet.
    import pandas as pd

    folder = write(tmp_path / "csv")
    fast = load_case(folder)
    other = write(tmp_path / "parquet")
    frame = pd.read_csv(other / "attainment.csv", dtype={"rep_id": str, "period": str})
    (other / "attainment.csv").unlink()
    frame.to_parquet(other / "attainment.parquet")
    careful = load_case(other)
    assert careful.present is not None and fast.present is not None
    np.testing.assert_array_equal(careful.present, fast.present)
    np.testing.assert_array_equal(careful.attainment, fast.attainment)


def test_written_plan_with_curve_and_gate_over_present_rep_periods(tmp_path: Path) -> None:
    # Metric b (a_b = 0) only gates. Rows (rep, period, a, b); absent: B P01, C P02, C P03.
    #   A P01 1.0 1.0   A P02 1.5 0.2 (gate shut)   A P03 0.5 1.0
    #   B P02 1.25 1.0  B P03 0.5 1.0               C P01 2.0 1.0
    # Plan: a on curve (0.5, 0.1), (1.0, 0.4), (1.0, 0.6), (1.5, 0.8), gate b >= 0.5: a
    # first point with y > 0, a step at 1.0, flat after 1.5. c(0.5) = 0.1, c(1.0) = 0.6,
    # c(1.25) = 0.7, c(1.5) = c(2) = c(2.5) = 0.8, c(1.75) = 0.8, c(x < 0.5) = 0.
    # P / TI: A 0.6, 0 (gated), 0.1 -> e = 0.7 / 3; B -, 0.7, 0.1 -> e = 0.4; C 0.8 -> 0.8.
    # Totals P01 600 + 800 = 1400, P02 1400, P03 100 + 200 = 300: cost 3100 / 3.
    # U_a (step 0.5): A P01 0.2 -> 200, A P02 gated, A P03 c(1) - c(0.5) = 0.5 -> 500,
    # B P02 0.1 -> 200, B P03 0.5 -> 1000, C P01 0; absent rep-periods have b = 0, gated.
    # Denominator sum O TI = 8000: U_a = 1900 / 8000 = 0.2375 = alignment.
    # Parity: all 3100 / 8000 = 0.3875; North 700 / 3000; South (1600 + 800) / 5000 = 0.48.
    rows = ["A,P01,1.0,1.0", "A,P02,1.5,0.2", "A,P03,0.5,1.0", "B,P02,1.25,1.0",
            "B,P03,0.5,1.0", "C,P01,2.0,1.0"]
    folder = write(tmp_path / "case")
    text = (folder / "case.toml").read_text().replace(
        "\n[fairness]", "\n[metrics.b]\nthreshold = 0.5\ncap = 2.0\nalignment = { g = 0.0 }\n"
        "step = 0.5\n\n[fairness]")
    (folder / "case.toml").write_text(text)
    (folder / "attainment.csv").write_text("rep_id,period,a,b\n" + "\n".join(rows) + "\n")
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text('[[metrics]]\nid = "a"\n'
                         "curve = [[0.5, 0.1], [1.0, 0.4], [1.0, 0.6], [1.5, 0.8]]\n"
                         'gate = { metric = "b", at = 0.5 }\n')
    case = load_case(folder)
    coeffs = compute_coefficients(case)
    plan = load_plan(case, plan_file)
    assert not plan.is_canonical(case)
    pay = plan_payouts(case, coeffs, plan)
    assert pay.totals == approx([1400.0, 1400.0, 300.0])
    assert pay.shares == approx([0.7 / 3, 0.4, 0.8])
    assert pay.marginal == approx([0.2375, 0.0])
    ev = evaluate_plan(case, coeffs, plan)
    assert ev.expected_cost == approx(3100.0 / 3)
    assert ev.alignment == approx(0.2375)
    assert ev.parity_gaps == approx({"North": 0.7 / 3 - 0.3875, "South": 0.48 - 0.3875})
    south = next(s for s in ev.segments if s.group == "South")
    assert south.share_of_target == approx(0.48)


def test_common_share_over_the_reps_present_each_period_by_hand() -> None:
    # History of the module doc. z = (x - mean) / sd over each rep's own periods:
    # A 0, 0.5 / sqrt(1/6), -0.5 / sqrt(1/6); B -, 1, -1; C (one period, its own mean) 0.
    # Period means over the reps present (2 each): 0, +-(sqrt(1.5) + 1) / 2; their
    # variance (sqrt(1.5) + 1)^2 / 6; a mean of 2 reps shows 1/2 by chance alone, so the
    # common share is (var - 1/2) / (1 - 1/2).
    from compplan.models.scenarios import joint_statistics

    h = np.array([[[1.0, 1.5, 0.5]], [[0.0, 1.25, 0.5]], [[2.0, 0.0, 0.0]]])
    mask = np.array([[True, True, True], [False, True, True], [True, False, False]])
    joint = joint_statistics(h, rep_statistics(h, mask), mask)
    var = (np.sqrt(1.5) + 1.0) ** 2 / 6.0
    assert joint.common_share == approx([(var - 0.5) / 0.5])


@pytest.mark.parametrize("periods", [1, 2, 7])
def test_an_all_present_mask_changes_no_statistic_and_no_draw(periods: int) -> None:
    from compplan.models.scenarios import _calibrate, joint_statistics

    rng = np.random.default_rng(periods)
    h = rng.gamma(2.0, 0.5, size=(30, 3, periods))
    h[rng.random(h.shape) < 0.2] = 0.0
    mask = np.ones((30, periods), dtype=bool)
    plain, masked = rep_statistics(h), rep_statistics(h, mask)
    for name in ("mean", "sd", "zero_share", "positive_mean", "positive_sd"):
        np.testing.assert_allclose(getattr(masked, name), getattr(plain, name), atol=1e-12)
    j_plain, j_masked = joint_statistics(h, plain), joint_statistics(h, masked, mask)
    for name in ("common_share", "common_corr", "own_corr"):
        np.testing.assert_allclose(getattr(j_masked, name), getattr(j_plain, name), atol=1e-12)
    np.testing.assert_array_equal(_calibrate(h, 40, 5).draw(0, 30),
                                  _calibrate(h, 40, 5, mask).draw(0, 30))
