"""The pulse in ``compplan report --actuals`` and ``compplan export --xlsx --actuals``.

The hand case of test_pulse.py: three reps with target 1000, 2 of N = 4 periods elapsed,
the plan in force a and b at weight 0.5 and accelerator rate 3, ``E[T] = 12000`` in every
scenario (the history is constant, so P10 = P90 = 12000). Paid per elapsed period, from
the payout shares worked out there:

    Q1: 1000 (1.0 + 0.25 + 0.0) = 1250      Q2: 1000 (4.0 + 2.5 + 2.2) = 8700

so the cumulative payout is 1250, 9950; the expected path 12000 j; the forecast
9950 + 12000 (j - 2) = 21950, 33950 for j = 3, 4. With B = 6987.5 the re-tune (a 0.5 / 3,
b 0.5 / 1) is expected to pay 9000 a period: 9950 + 9000 (j - 2) = 18950, 27950.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from test_pulse import assert_exit, hand_case, invoke

from compplan.render.report_pulse import path_rows, pulse_path


def report(folder: Path, *extra: str) -> tuple[int, str, str]:
    out = folder / "report.html"
    result = invoke("report", str(folder / "case"), str(folder / "plan.toml"), "--actuals",
                    str(folder / "actuals.csv"), "--out", str(out), "-q", *extra)
    return result.exit_code, (out.read_text(encoding="utf-8") if out.exists() else ""), \
        result.output


def table(html: str, table_id: str) -> list[list[str]]:
    """The cells of a table of the page, row by row, tags stripped."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, table_id
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


def test_report_shows_the_year_against_the_expected_path(tmp_path: Path) -> None:
    code, html, output = report(hand_case(tmp_path, 6987.5))
    assert code == 0, output
    assert re.findall(r'<svg id="(chart-pulse)"', html) == ["chart-pulse"]
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert '<a href="#pulse">' in html
    # period, paid, forecast, forecast band, re-tune forecast, expected, expected band
    assert table(html, "pulse-path") == [
        ["1 (Q1)", "1,250", "", "", "", "12,000", "12,000 to 12,000"],
        ["2 (Q2)", "9,950", "", "", "", "24,000", "24,000 to 24,000"],
        ["3", "", "21,950", "21,950 to 21,950", "18,950", "36,000", "36,000 to 36,000"],
        ["4", "", "33,950", "33,950 to 33,950", "27,950", "48,000", "48,000 to 48,000"]]
    # The re-tune beside the plan in force: b's accelerator rate 3 -> 1, the rest kept.
    assert table(html, "pulse-retune") == [
        ["a weight", "50.0%", "50.0%"], ["a accelerator rate", "3.000", "3.000"],
        ["b weight", "50.0%", "50.0%"], ["b accelerator rate", "3.000", "1.000"],
        ["expected alignment", "2.2500", "1.7500"],
        ["expected payout per period", "12,000 USD", "9,000 USD"]]
    assert "The least change that keeps the year inside every guardrail: 2.0000" in html
    # Budget: pace 9950 / 2 = 4975 against 6987.5 (met); forecast 33950 against 27950 (not).
    assert table(html, "pulse-guardrails") == [
        ["[budget] expected_cap", "4,975", "6,988", "33,950", "27,950", "yes", "NO", "", "",
         ""]]
    drift = {row[0]: row for row in table(html, "pulse-drift")}
    # a: mean 6.35 / 6, past threshold 5 of 6 (history: all), target 4 of 6, cap 1 of 6.
    assert drift["a"][:8] == ["a", "yes", "1.058", "1.5", "n/a", "83% (100%)", "67% (100%)",
                              "17% (0%)"]
    # By segment: N holds R0 and R2, paid 7200 of 16000 expected.
    segments = {row[0]: row for row in table(html, "pulse-segments")}
    assert segments["N"][:5] == ["N", "2", "7,200 USD", "16,000 USD", "45%"]


def test_plan_that_fits_shows_no_retune_line(tmp_path: Path) -> None:
    code, html, output = report(hand_case(tmp_path, 20000.0))
    assert code == 0, output
    assert "The plan in force already meets every guardrail for the rest of the year" in html
    assert "forecast with the re-tune" not in html
    assert table(html, "pulse-path")[2] == ["3", "", "21,950", "21,950 to 21,950", "36,000",
                                            "36,000 to 36,000"]


def test_beyond_repair_is_shown_not_an_error(tmp_path: Path) -> None:
    # B = 3000: no re-tune with a and b saves the year (test_pulse.py); the report says so.
    code, html, output = report(hand_case(tmp_path, 3000.0))
    assert code == 0, output
    assert "<p>No re-tune. paid to date 9,950.00 USD leaves 1,025.00 USD per period" in html
    assert 'id="pulse-retune"' not in html


def test_report_without_actuals_has_no_pulse(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    result = invoke("report", str(folder / "case"), str(folder / "plan.toml"), "--out",
                    str(folder / "r.html"), "-q")
    assert_exit(result, 0)
    html = (folder / "r.html").read_text(encoding="utf-8")
    assert 'id="pulse"' not in html and "chart-pulse" not in html


@pytest.mark.parametrize(("extra", "message"), [
    (("--year-periods", "2"), "the actuals hold 2 elapsed period(s) but the plan year has 2"),
])
def test_report_bad_pulse_input_exits_2(tmp_path: Path, extra: tuple[str, ...],
                                        message: str) -> None:
    folder = hand_case(tmp_path, 6987.5)
    code, _, output = report(folder, *extra)
    assert code == 2, output
    assert message in output
    assert not (folder / "report.html").exists()


def test_report_actuals_missing_a_plan_metric_exits_2(tmp_path: Path) -> None:
    folder = hand_case(tmp_path, 6987.5)
    (folder / "actuals.csv").write_text("rep_id,period,a\nR0,Q1,1\nR1,Q1,1\nR2,Q1,1\n")
    code, _, output = report(folder)
    assert code == 2, output
    assert "actuals.csv" in output and "'b'" in output


def test_path_in_money_per_year_counts_a_period_as_1_over_n() -> None:
    # N = 4, money per year: E[T] = 12000 a year, so a period is expected to pay 3000;
    # paid 500 and 700; a re-tune expected to pay 8000 a year pays 2000 a period.
    doc = {"periods_elapsed": 2, "periods_in_year": 4, "money": "per year",
           "periods": ["Q1", "Q2"], "paid_by_period": [500.0, 700.0],
           "expected_per_period": 3000.0, "band_per_period": {"p10": 2000.0, "p90": 4000.0},
           "retune": {"unchanged": False, "expected_cost": 8000.0}}
    path = pulse_path(doc)
    assert path["paid"].tolist() == [0.0, 500.0, 1200.0]
    assert path["expected"].tolist() == [0.0, 3000.0, 6000.0, 9000.0, 12000.0]
    assert path["forecast"][2:].tolist() == [1200.0, 4200.0, 7200.0]
    assert path["forecast_p10"][2:].tolist() == [1200.0, 3200.0, 5200.0]
    assert path["forecast_p90"][2:].tolist() == [1200.0, 5200.0, 9200.0]
    assert path["retune"][2:].tolist() == [1200.0, 3200.0, 5200.0]
    assert [r["paid"] for r in path_rows(doc)] == ["500", "1,200", "", ""]


# --------------------------------------------------------------------------- the workbook

def pulse_blocks(folder: Path, *extra: str) -> dict[str, list[tuple[Any, ...]]]:
    """The Pulse sheet's blocks by the first header of each, rows without trailing blanks."""
    out = folder / "plan.xlsx"
    result = invoke("export", str(folder / "case"), str(folder / "plan.toml"), "--actuals",
                    str(folder / "actuals.csv"), "--xlsx", str(out), "-q", *extra)
    assert_exit(result, 0)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[-2:] == ["Pulse", "About"]
    blocks: dict[str, list[tuple[Any, ...]]] = {}
    current: list[tuple[Any, ...]] | None = None
    for row in book["Pulse"].iter_rows(values_only=True):
        cells = list(row)
        while cells and cells[-1] is None:
            cells.pop()
        if not cells:
            current = None
        elif current is None:
            current = blocks.setdefault(str(cells[0]), [])
            current.append(tuple(cells))
        else:
            current.append(tuple(cells))
    return blocks


def test_export_adds_the_pulse_sheet_with_the_hand_figures(tmp_path: Path) -> None:
    blocks = pulse_blocks(hand_case(tmp_path, 6987.5))
    figures = {row[0]: row[1] for row in blocks["figure"][1:]}
    units = {row[0]: row[2] if len(row) > 2 else None for row in blocks["figure"][1:]}
    # Amounts paid are money, not a rate "per period" or "per year" (issue 19, item 4).
    assert units["paid to date (A)"] == "USD, paid over the elapsed periods"
    assert units["forecast of the year, plan unchanged"] == "USD, the whole year"
    assert units["expected payout allowed per remaining period (B_rem)"] == "USD per period"
    assert figures["periods elapsed (k)"] == 2
    assert figures["periods in the plan year (N)"] == 4
    assert figures["paid to date (A)"] == pytest.approx(9950.0)
    assert figures["expected to date"] == pytest.approx(24000.0)
    assert figures["paid / expected to date"] == pytest.approx(9950.0 / 24000.0)
    assert figures["forecast of the year, plan unchanged"] == pytest.approx(33950.0)
    assert figures["forecast P10"] == pytest.approx(33950.0)
    assert figures["budget of the year"] == pytest.approx(27950.0)
    # B_rem = (4 * 6987.5 - 9950) / 2 = 9000.
    assert figures["expected payout allowed per remaining period (B_rem)"] == \
        pytest.approx(9000.0)
    assert blocks["guardrail"][1] == pytest.approx(
        ("[budget] expected_cap", 4975.0, 6987.5, 33950.0, 27950.0, "yes", "NO"))
    retune = {row[0]: row[1:] for row in blocks["re-tune"][1:]}
    assert retune["b accelerator rate"] == pytest.approx((3.0, 1.0, -2.0), abs=1e-6)
    assert retune["a weight"] == pytest.approx((0.5, 0.5, 0.0), abs=1e-6)
    assert retune["expected alignment"] == pytest.approx((2.25, 1.75, -0.5), abs=1e-6)
    assert retune["expected payout per period (USD)"] == pytest.approx(
        (12000.0, 9000.0, -3000.0), rel=1e-6)
    assert retune["least change (sum of absolute changes)"][1] == pytest.approx(2.0, abs=1e-6)
    path = blocks["period (cumulative payout)"]
    assert path[0] == ("period (cumulative payout)", "paid to date", "forecast",
                       "forecast P10", "forecast P90", "forecast, re-tune", "expected path",
                       "expected P10", "expected P90")
    assert path[1] == pytest.approx(("1 (Q1)", 1250.0, None, None, None, None, 12000.0,
                                     12000.0, 12000.0))
    assert path[4] == pytest.approx(("4", None, 33950.0, 33950.0, 33950.0, 27950.0, 48000.0,
                                     48000.0, 48000.0))
    drift = {row[0]: row for row in blocks["drift: metric"][1:]}
    assert drift["a"][2] == pytest.approx(6.35 / 6)
    assert drift["a"][5:11] == pytest.approx((5 / 6, 1.0, 4 / 6, 1.0, 1 / 6, 0.0))
    segments = {row[0]: row for row in blocks["drift by segment"][1:]}
    assert segments["N"][:5] == pytest.approx(("N", 2, 7200.0, 16000.0, 0.45))


def test_export_beyond_repair_notes_why(tmp_path: Path) -> None:
    blocks = pulse_blocks(hand_case(tmp_path, 3000.0))
    (_, note), = [row for row in blocks["re-tune"][1:]]
    assert note.startswith("paid to date 9,950.00 USD leaves 1,025.00 USD per period")
