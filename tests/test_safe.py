"""Formula injection: no case text reaches a CSV or XLSX cell as a formula.

The hostile case below is the tiny case of test_evaluate.py (same attainment, same
plan, totals 5800 and 4000) with every text a spreadsheet or a browser could run:
rep ids, labels, goal, metric and column names, segment values and the case name.
test_workbook.py and test_report.py use it too.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_exit, invoke
from test_evaluate import ATTAINMENT

from compplan.models.case import load_case
from compplan.models.output import plan_document, write_plan
from compplan.models.plan import load_plan
from compplan.optimizer.coefficients import compute_coefficients
from compplan.optimizer.evaluate import evaluate
from compplan.render.safe import TRIGGERS, csv_text, neutralise, neutralise_frame

HYPERLINK = '=HYPERLINK("http://example.com/x","click")'
CASE_NAME = "=cmd|' /C calc'!A0 <script>alert('name')</script>"
LABEL_A = "<script>alert('a')</script> & $x$"
LABEL_B = "=SUM(A1:A9)"
METRIC_B = "=b"
GOAL_2 = "@g2"
SEGMENT_COLUMN = "-segment"
REP_IDS = [HYPERLINK, "+R1", "-5", "<b>R3</b>"]
SEGMENTS = ["@North", "@North", "<i>South</i>", "<i>South</i>"]
TARGETS = [1000.0, 1000.0, 2000.0, 1000.0]
CASE_TOML = f"""[case]
name = "{CASE_NAME}"
currency = "USD"

[goals]
g1 = 3.0
"{GOAL_2}" = 1.0

[metrics.a]
label = "{LABEL_A}"
threshold = 0.5
cap = 2.0
alignment = {{ g1 = 1.0 }}
step = 0.5

[metrics."{METRIC_B}"]
label = "{LABEL_B}"
threshold = 0.5
cap = 2.0
alignment = {{ g1 = 0.2, "{GOAL_2}" = 1.0 }}
step = 0.5
responsiveness = 0.5

[fairness]
group_by = "{SEGMENT_COLUMN}"
parity_tolerance = 0.5
"""
CURRENT_TOML = f"""[[metrics]]
id = "a"
weight = 0.6
accelerator_rate = 1.2

[[metrics]]
id = "{METRIC_B}"
weight = 0.4
accelerator_rate = 0.8
"""


def _csv(rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def hostile_case(folder: Path) -> Path:
    """Write the hostile case (with quotas.csv and current_plan.toml) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.toml").write_text(CASE_TOML)
    (folder / "current_plan.toml").write_text(CURRENT_TOML)
    (folder / "reps.csv").write_text(_csv(
        [["rep_id", "target_incentive", SEGMENT_COLUMN]]
        + [[r, t, s] for r, t, s in zip(REP_IDS, TARGETS, SEGMENTS, strict=True)]))
    a, b = np.asarray(ATTAINMENT["a"]), np.asarray(ATTAINMENT["b"])
    (folder / "attainment.csv").write_text(_csv(
        [["rep_id", "period", "a", METRIC_B]]
        + [[r, f"P{t + 1}", a[i, t], b[i, t]] for i, r in enumerate(REP_IDS) for t in range(2)]))
    (folder / "quotas.csv").write_text(_csv(
        [["rep_id", "a", METRIC_B]] + [[r, 100.0 * (i + 1), 50.0] for i, r in enumerate(REP_IDS)]))
    return folder


def raw_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# ----------------------------------------------------------------------------- the function

@pytest.mark.parametrize("text", ["=1+1", "+e5", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "-",
                                  "-9.3 pp", "+cmd|' /C calc'!A0", HYPERLINK, "-1,25", "=b"])
def test_text_that_could_be_a_formula_gets_a_quote(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["-12.5", "+3", "-1,250", "-1,250,000.5", "+1e5", "-.5",
                                  "-5.", "E0001", " =1", "", "a=b", "'=1"])
def test_plain_numbers_and_ordinary_text_stay(text: str) -> None:
    assert neutralise(text) == text


@pytest.mark.parametrize("value", [-12.5, -3, 0.0, None, float("nan"), True, np.float64(-1.5)])
def test_numbers_are_never_touched(value: object) -> None:
    result = neutralise(value)
    assert result is value


def test_triggers_are_owasps() -> None:
    assert set(TRIGGERS) == {"=", "+", "-", "@", "\t", "\r"}


def test_frame_text_and_headers_are_neutralised_numbers_kept() -> None:
    frame = pd.DataFrame({"rep_id": [HYPERLINK, "R1"], "=col": [-1.5, 2.0],
                          "flag": [True, False], "group": pd.Categorical(["-x", "y"]),
                          "count": [-3, 4]})
    safe = neutralise_frame(frame)
    assert list(safe.columns) == ["rep_id", "'=col", "flag", "group", "count"]
    assert list(safe["rep_id"]) == ["'" + HYPERLINK, "R1"]
    assert list(safe["'=col"]) == [-1.5, 2.0] and safe["'=col"].dtype == float
    assert list(safe["flag"]) == [True, False] and list(safe["count"]) == [-3, 4]
    assert list(safe["group"]) == ["'-x", "y"]
    assert list(frame.columns)[1] == "=col"  # the input is not changed


def test_csv_text_reads_back_as_text_and_numbers() -> None:
    text = csv_text(pd.DataFrame({"id": ["=1+1", "-5"], "value": [-2.5, 1.0]}))
    assert text == "id,value\n'=1+1,-2.5\n-5,1.0\n"


# ----------------------------------------------------------------------------- the writers

@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    return hostile_case(tmp_path / "hostile")


def test_the_hostile_case_loads_as_written(hostile: Path) -> None:
    case = load_case(hostile)
    assert list(case.reps.index) == REP_IDS
    assert case.name == CASE_NAME and case.metric_ids == ("a", METRIC_B)


def test_rep_rates_and_plan_csv_neutralise_case_text(hostile: Path, tmp_path: Path) -> None:
    case = load_case(hostile)
    plan = load_plan(case, "current")
    w, u = plan.vectors(case)
    ev = evaluate(case, compute_coefficients(case), w, u)
    assert ev.expected_cost == pytest.approx(4900.0)
    doc = plan_document(case, plan, "optimal", ev.to_dict(), {"name": "test"})
    written = write_plan(tmp_path / "plan", case, plan, doc)
    assert [p.name for p in written] == ["plan.json", "plan.csv", "plan.md", "rep_rates.csv"]

    rates = raw_rows(tmp_path / "plan" / "rep_rates.csv")
    assert rates[0] == ["rep_id", "metric", "quota", "base_rate_per_unit",
                        "accelerator_rate_per_unit"]
    assert [r[0] for r in rates[1:5]] == ["'" + HYPERLINK, "'+R1", "-5", "<b>R3</b>"]
    assert [r[1] for r in rates[1:]] == ["a"] * 4 + ["'" + METRIC_B] * 4
    # Numbers stay numbers: TI 1000 x base rate 1.2 / quota 100 for the first rep.
    assert float(rates[1][2]) == 100.0 and float(rates[1][3]) == pytest.approx(12.0)

    table = raw_rows(tmp_path / "plan" / "plan.csv")
    assert [r[:2] for r in table[1:]] == [["a", LABEL_A], ["'" + METRIC_B, "'" + LABEL_B]]
    assert float(table[1][2]) == pytest.approx(0.6)


def test_rep_payouts_csv_neutralises_ids_groups_and_headers(hostile: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "ev"
    assert_exit(invoke("evaluate", str(hostile), "current", "--out", str(out), "-q"), 0)
    rows = raw_rows(out / "rep_payouts.csv")
    assert rows[0] == ["rep_id", "'" + SEGMENT_COLUMN, "target_incentive", "expected_payout",
                       "share_of_target"]
    assert [r[0] for r in rows[1:]] == ["'" + HYPERLINK, "'+R1", "-5", "<b>R3</b>"]
    assert [r[1] for r in rows[1:]] == ["'@North", "'@North", "<i>South</i>", "<i>South</i>"]
    assert [float(r[3]) for r in rows[1:]] == pytest.approx([1300.0, 500.0, 1800.0, 1300.0])


def test_compare_csv_neutralises_labels_and_headers(hostile: Path, tmp_path: Path) -> None:
    other = tmp_path / "=other.toml"
    other.write_text('[[metrics]]\nid = "a"\nweight = 1.0\naccelerator_rate = 2.0\n')
    out = tmp_path / "cmp"
    assert_exit(invoke("compare", str(hostile), "current", str(other), "--out", str(out), "-q"),
                0)
    rows = raw_rows(out / "compare.csv")
    assert rows[0] == ["section", "key", "label", "kind", "current", "'=other",
                       "'=other - current"]
    labels = {r[2]: r[4:] for r in rows[1:]}
    assert "'@North" in labels and "'@North: gap to all reps" in labels
    assert "<i>South</i>" in labels  # text for a browser, not a formula
    # Figures stay numbers, negative ones included.
    assert [float(v) for v in labels["weight: =SUM(A1:A9)"]] == pytest.approx([0.4, 0.0, -0.4])
    assert [float(v) for v in labels["'@North: gap to all reps"]] == pytest.approx(
        [-0.08, -0.1, -0.02])
    for row in rows:
        for cell in row:
            if cell.startswith(TRIGGERS):
                float(cell)  # only numbers keep a sign in front
