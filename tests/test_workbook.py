"""``compplan export --xlsx``: the workbook read back with openpyxl.

The case is the hostile case of test_safe.py: the tiny case of test_evaluate.py
(today's plan a 0.6 / u 1.2, b 0.4 / u 0.8: totals 5800 and 4000, expected 4900,
rep shares 1.3, 0.5, 0.9, 1.3) with formula-like text everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from test_safe import (
    CASE_NAME,
    HYPERLINK,
    LABEL_B,
    METRIC_B,
    SEGMENT_COLUMN,
    assert_exit,
    hostile_case,
    invoke,
)

from compplan.models.case import load_case
from compplan.models.plan import load_plan
from compplan.optimizer.coefficients import compute_coefficients
from compplan.render import workbook
from compplan.render.report import outcome

SHEETS = ["Plan", "Calculator", "Rep rates", "Evaluation", "Segments", "Scenarios", "About"]
#: Sheets holding formulas (of the workbook's own names and references only).
LIVE = {"Plan", "Calculator", "Rep rates", "Scenarios", "Current vs designed"}


def same(value: Any) -> Any:
    """Equal to 16 significant digits: what openpyxl writes ("%.16g"); Excel shows 15."""
    return pytest.approx(value, rel=1e-15, abs=0.0)


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    return hostile_case(tmp_path / "case")


def export(case_dir: Path, out: Path, *extra: str, plan: str = "current") -> Workbook:
    result = invoke("export", str(case_dir), plan, "--xlsx", str(out), *extra)
    assert_exit(result, 0)
    assert result.stdout.endswith(f"wrote {out}\n")
    return openpyxl.load_workbook(out)


def records(ws: Worksheet) -> list[dict[str, Any]]:
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def by_figure(ws: Worksheet) -> dict[str, dict[str, Any]]:
    """Rows by figure; the first of a name (P90 of the total before P90 of the reps)."""
    found: dict[str, dict[str, Any]] = {}
    for r in records(ws):
        found.setdefault(r["figure"], r)
    return found


def test_sheets_headers_frozen_and_bold(case_dir: Path, tmp_path: Path) -> None:
    book = export(case_dir, tmp_path / "plan.xlsx")
    assert book.sheetnames == SHEETS
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert all(c.font.bold for c in ws[1]), ws.title


def test_print_setup_landscape_one_page_wide_headers_repeated(case_dir: Path,
                                                              tmp_path: Path) -> None:
    book = export(case_dir, tmp_path / "plan.xlsx")
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title


def test_parameters_in_named_cells_and_formulas_from_them(case_dir: Path,
                                                          tmp_path: Path) -> None:
    book = export(case_dir, tmp_path / "plan.xlsx")
    names = {n: d.attr_text for n, d in book.defined_names.items()}
    # Metric "=b" gets a name of letters, digits and _ only.
    assert names["w_a"] == "'Plan'!$C$2" and names["u__b"] == "'Plan'!$J$3"
    assert names["theta_a"] == "'Plan'!$D$2" and names["cap_a"] == "'Plan'!$G$2"
    assert names["base_a"] == "'Plan'!$I$2"
    assert names["target_incentive"] == "'Calculator'!$C$5"
    plan = book["Plan"]
    assert (plan["C2"].value, plan["J2"].value) == (0.6, 1.2)  # numbers to edit
    assert plan["I2"].value == "=C2/(1-D2)"
    calc = book["Calculator"]
    assert calc["F2"].value == ("=w_a*MIN(MAX(C2-theta_a,0),1-theta_a)/(1-theta_a)"
                                "+u_a*MIN(MAX(C2-1,0),cap_a-1)")
    assert book["Rep rates"]["D2"].value == "=F2*base_a/C2"
    assert book["Scenarios"]["B2"].value == "=w_a*D2+u_a*E2+w__b*F2+u__b*G2"
    # What finance may change is shaded; what is computed is not.
    shaded = {c.coordinate for c in plan[2] if c.fill.fgColor.rgb == "00FFF4CC"}
    assert shaded == {"C2", "D2", "G2", "J2"}
    assert calc["C2"].fill.fgColor.rgb == "00FFF4CC" and calc["F2"].fill.fgColor.rgb != \
        "00FFF4CC"


def test_figures_equal_the_evaluation(case_dir: Path, tmp_path: Path) -> None:
    book = export(case_dir, tmp_path / "plan.xlsx")
    case = load_case(case_dir)
    result = outcome(case, compute_coefficients(case), load_plan(case, "current"), "current")
    ev = result.evaluation
    figures = by_figure(book["Evaluation"])
    assert figures["expected alignment"]["value"] == same(ev.alignment)
    assert figures["expected total payout"]["value"] == same(ev.expected_cost)
    assert ev.expected_cost == pytest.approx(4900.0)
    assert figures["P90"]["value"] == same(ev.total_p90)
    assert figures["CVaR 0.9, mean of the worst 10%"]["value"] == same(ev.total_cvar)
    assert ev.total_cvar == pytest.approx(5800.0)
    assert figures["from goal @g2"]["value"] == same(ev.alignment_by_goal["@g2"])
    assert figures["share of reps at or above target"]["value"] == same(
        ev.share_reps_at_or_above_target)
    parity = figures["[fairness] parity_tolerance"]
    check = ev.guardrails[0]
    assert [parity["value"], parity["limit"], parity["slack"]] == same(
        [check.value, check.limit, check.slack])
    assert parity["met"] == "yes"
    scenarios = records(book["Scenarios"])
    assert [s["scenario"] for s in scenarios] == ["P1", "P2"]
    # Totals are formulas of the plan (their values: test_workbook_live.py); the
    # coefficients beside them give compplan's totals.
    w, u = 0.6 * 1.0, 1.2
    coefficient = [[v for k, v in s.items() if k.startswith("pay per unit")] for s in scenarios]
    weights = [w, u, 0.4, 0.8]
    assert [sum(a * b for a, b in zip(c, weights, strict=True)) for c in coefficient] == \
        pytest.approx(list(result.totals), rel=1e-12)
    assert list(result.totals) == pytest.approx([5800.0, 4000.0])
    segments = records(book["Segments"])
    assert [s["reps"] for s in segments] == [g.reps for g in ev.segments]
    assert [s["share of target"] for s in segments] == same(
        [g.share_of_target for g in ev.segments])
    assert [s["gap to all reps"] for s in segments] == same([g.gap for g in ev.segments])


def test_plan_sheet_has_rates_and_curve_breakpoints(case_dir: Path, tmp_path: Path) -> None:
    plan = records(export(case_dir, tmp_path / "plan.xlsx")["Plan"])
    assert [p["metric"] for p in plan] == ["a", "'" + METRIC_B]
    first = plan[0]
    assert (first["weight"], first["pays from (threshold)"], first["stops rising at (cap)"]) == (
        0.6, 0.5, 2.0)
    # Breakpoints and rates follow the parameters (values: test_workbook_live.py).
    assert (first["pay at threshold"], first["pay at 100%"]) == (0.0, "=C2")
    assert first["pay at cap"] == "=C2+J2*(G2-1)"
    assert (first["base rate"], first["accelerator rate"]) == ("=C2/(1-D2)", 1.2)
    assert first["accelerator multiple"] == "=IF(C2>0,J2*(1-D2)/C2,0)"
    assert first["alignment"] == pytest.approx(0.36)


def test_number_formats(case_dir: Path, tmp_path: Path) -> None:
    book = export(case_dir, tmp_path / "plan.xlsx")
    assert book["Plan"]["C2"].number_format == "0.0%"
    assert book["Plan"]["K2"].number_format == '0.00"x"'
    evaluation = book["Evaluation"]
    formats = {row[1].value: row[2].number_format for row in evaluation.iter_rows(min_row=2)}
    assert formats["expected total payout"] == "#,##0"
    assert formats["share of reps at or above target"] == "0.0%"
    assert formats["expected alignment"] == "0.0000"
    assert book["Scenarios"]["B2"].number_format == "#,##0"
    assert book["Segments"]["F2"].number_format == "+0.0%;-0.0%;0.0%"
    assert book["Rep rates"]["D2"].number_format == "#,##0.0000"


def test_case_text_is_text_never_a_formula(case_dir: Path, tmp_path: Path) -> None:
    book = export(case_dir, tmp_path / "plan.xlsx")
    rates = records(book["Rep rates"])
    assert [r["rep_id"] for r in rates[:4]] == ["'" + HYPERLINK, "'+R1", "-5", "<b>R3</b>"]
    assert {r["metric"] for r in rates} == {"a", "'" + METRIC_B}
    assert rates[0]["quota"] == 100 and rates[0]["base rate per unit (USD)"] == \
        "=F2*base_a/C2"
    assert rates[0]["target incentive (USD)"] == 1000.0  # x 1.2 / 100 = 12 per unit
    assert records(book["Plan"])[1]["label"] == "'" + LABEL_B
    segments = book["Segments"]
    assert segments["A1"].value == "'" + SEGMENT_COLUMN
    assert [r[0] for r in segments.iter_rows(min_row=2, values_only=True)] == [
        "<i>South</i>", "'@North"]
    assert segments["F3"].value == pytest.approx(-0.08)  # a negative number stays a number
    about = {r["item"]: r["value"] for r in records(book["About"])}
    assert about["case"] == "'" + CASE_NAME
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type != "f":
                    continue
                # Formulas only where the workbook computes, of its own names and cells.
                assert ws.title in LIVE, (ws.title, cell.coordinate, cell.value)
                # Text in a formula is the workbook's own constants only (the Plan sheet's
                # flag, COUNTIF's criterion); sheet references name the workbook's sheets.
                bare = cell.value
                for constant in (f'"{workbook.SLOWER}"', '""', '">="'):
                    bare = bare.replace(constant, "0")
                bare = bare.replace("Scenarios!", "").replace("Plan!", "").replace("&", "+")
                assert re.fullmatch(r"=[A-Za-z0-9_$:.,*/+\-()<>]+", bare), cell.value


def test_without_quotas_there_is_no_rep_rates_sheet(case_dir: Path, tmp_path: Path) -> None:
    (case_dir / "quotas.csv").unlink()
    book = export(case_dir, tmp_path / "plan.xlsx")
    assert "Rep rates" not in book.sheetnames and "Plan" in book.sheetnames


def test_a_sheet_holds_at_most_the_row_limit(case_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook, "MAX_ROWS", 7)  # About has 7 rows with the note
    book = export(case_dir, tmp_path / "plan.xlsx")
    assert book["Rep rates"].max_row == 8
    notes = [r["value"] for r in records(book["About"]) if r["item"] == "note"]
    assert notes == ["Rep rates holds the first 7 of 8 rows (the most a sheet can hold); "
                     "rep_rates.csv of compplan optimise has all"]


def write_batch(folder: Path, fmt: str = "csv") -> Path:
    """A results file in the format of compplan batch: three candidates, one infeasible."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({
        "id": ["c0001", "c0002", "c0003"], "name": ["=evil()", "budget 5000", "tight"],
        "param.budget.expected_cap": [6000.0, 5000.0, 100.0],
        "status": ["optimal", "optimal", "infeasible"],
        "alignment": [0.6, 0.44, float("nan")], "expected_cost": [5500.0, 4900.0, float("nan")],
        "cvar": [7000.0, 5800.0, float("nan")], "max_parity_gap": [0.1, 0.08, float("nan")],
        "metrics": ["a", "a+=b", ""], "weight.a": [1.0, 0.6, float("nan")],
        "weight.=b": [0.0, 0.4, float("nan")], "rate.a": [2.0, 1.2, float("nan")],
        "reason": ["", "", "-budget too low"], "frontier_cost": [True, True, False],
        "frontier_cvar": [True, True, False]})
    if fmt == "csv":
        frame.to_csv(folder / "results.csv", index=False)
    else:
        frame.to_parquet(folder / "results.parquet", index=False)
    return folder


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_candidates_from_a_batch(case_dir: Path, tmp_path: Path, fmt: str) -> None:
    batch = write_batch(tmp_path / "batch", fmt)
    book = export(case_dir, tmp_path / "plan.xlsx", "--batch", str(batch))
    assert book.sheetnames == [*SHEETS[:-1], "Candidates", "About"]
    ws = book["Candidates"]
    assert ws.freeze_panes == "A2"
    headers = [c.value for c in ws[1]]
    assert headers[:4] == ["id", "name", "param.budget.expected_cap", "status"]
    assert "weight.=b" in headers  # starts with a letter: not a formula
    rows = records(ws)
    assert [r["name"] for r in rows] == ["'=evil()", "budget 5000", "tight"]
    assert [r["reason"] for r in rows] == [None, None, "'-budget too low"]
    assert [r["alignment"] for r in rows] == [0.6, 0.44, None]
    assert [r["frontier_cost"] for r in rows] == [True, True, False]
    column = {h: i for i, h in enumerate(headers)}
    second = ws[2]
    assert second[column["expected_cost"]].number_format == "#,##0"
    assert second[column["weight.a"]].number_format == "0.0%"
    assert second[column["alignment"]].number_format == "0.0000"


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: d.mkdir(), "holds no results.parquet or results.csv"),
    (lambda d: (d.mkdir(), (d / "results.csv").write_text("id,alignment\nc1,0.5\n")),
     "results.csv: has no column 'status'"),
])
def test_a_bad_batch_is_an_input_error(case_dir: Path, tmp_path: Path, setup: Any,
                                       message: str) -> None:
    batch = tmp_path / "batch"
    setup(batch)
    result = invoke("export", str(case_dir), "current", "--xlsx", str(tmp_path / "x.xlsx"),
                    "--batch", str(batch))
    assert_exit(result, 2)
    assert message in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_usage_errors(case_dir: Path, tmp_path: Path) -> None:
    assert_exit(invoke("export", str(case_dir), "current"), 2)  # --xlsx is required
    result = invoke("export", str(case_dir), str(tmp_path / "nope.json"), "--xlsx",
                    str(tmp_path / "x.xlsx"))
    assert_exit(result, 2)
    assert "nope.json: is not a file" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke("export", str(case_dir), "current", "--xlsx", str(blocker / "x.xlsx"))
    assert_exit(result, 2)
    assert f"cannot write to {blocker / 'x.xlsx'}" in result.output


def test_help_has_an_example() -> None:
    result = invoke("export", "--help")
    assert_exit(result, 0)
    assert "compplan export cases/enterprise_first plans/fy27/plan.json --xlsx plan.xlsx" in \
        result.output
