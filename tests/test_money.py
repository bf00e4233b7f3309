"""Money has one unit of time (MODEL.md section 5): with ``[case] periods_per_year`` every
output says "per year", never "per period"; without it, outputs say "per period"."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_case

from compplan.cli.main import main
from compplan.models.money import annual_note, money_per, money_unit

REPS = [{"rep_id": "R1", "segment": "North", "target_incentive": 12000.0},
        {"rep_id": "R2", "segment": "South", "target_incentive": 12000.0}]
# Per-period attainment; target incentive is annual when periods_per_year is set.
ATTAINMENT: dict[str, Any] = {"a": [[1.0, 1.5, 0.5], [0.8, 1.2, 1.0]]}


def case(folder: Path, per_year: int | None) -> Path:
    info: dict[str, Any] = {"name": "Money"}
    if per_year:
        info["periods_per_year"] = per_year
    tables: dict[str, dict[str, Any]] = {"case": info, "goals": {"g": 1.0},
              "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}}}
    return write_case(folder, tables, REPS, ATTAINMENT)


def test_the_one_decision() -> None:
    assert (money_per(12), money_per(None), money_per({"periods_per_year": 4})) == (
        "per year", "per period", "per year")
    assert (annual_note(12), annual_note(None)) == (" per year", "")
    assert money_unit("EUR", 4) == "EUR per year"


@pytest.mark.parametrize(("per_year", "label", "other"), [(12, "per year", "per period"),
                                                          (None, "per period", "per year")])
def test_outputs_label_money_by_the_case(tmp_path: Path, per_year: int | None, label: str,
                                         other: str) -> None:
    folder = case(tmp_path / "case", per_year)
    out = tmp_path / "plan"
    runner = CliRunner()
    result = runner.invoke(main, ["optimise", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = next(line for line in result.stdout.splitlines()
                   if line.startswith("expected alignment"))
    assert f"USD {label} (P90" in summary
    plan_md = (out / "plan.md").read_text()
    assert f"USD** {label}." in plan_md and f"- Total payout {label}:" in plan_md
    assert other not in plan_md
    doc = json.loads((out / "plan.json").read_text())
    assert doc.get("periods_per_year") == per_year
    evaluated = runner.invoke(main, ["evaluate", str(folder), str(out / "plan.json"),
                                     "--out", str(tmp_path / "ev")])
    assert evaluated.exit_code == 0, evaluated.output
    assert f"total payout (USD {label})" in evaluated.stdout
    report = tmp_path / "report.html"
    done = runner.invoke(main, ["report", str(folder), str(out / "plan.json"), "--out",
                                str(report)])
    assert done.exit_code == 0, done.output
    html = report.read_text()
    assert f"expected total payout {label}" in html and f"money in USD {label}" in html
    assert other not in html
    least = runner.invoke(main, ["min-budget", str(folder), "-q"])
    assert least.exit_code == 0 and f" USD {label}" in least.stdout


def test_explain_gives_the_median_rep_pay_per_year(tmp_path: Path) -> None:
    folder = case(tmp_path / "case", 12)
    runner = CliRunner()
    assert runner.invoke(main, ["optimise", str(folder), "--out",
                                str(tmp_path / "plan")]).exit_code == 0
    done = runner.invoke(main, ["explain", str(tmp_path / "plan" / "plan.json"), "--case",
                                str(folder), "--out", str(tmp_path / "ex")])
    assert done.exit_code == 0, done.output
    text = (tmp_path / "ex" / "plan_explained.md").read_text()
    assert "in USD per year for a typical rep, whose target incentive is" in text


@pytest.mark.parametrize(("value", "shown"), [("true", "true"), ("12.5", "12.5"),
                                              ("12.0", "12.0"), ('"12"', "'12'")])
def test_periods_per_year_is_a_whole_number(tmp_path: Path, value: str, shown: str) -> None:
    folder = case(tmp_path / "case", 12)
    toml = folder / "case.toml"
    toml.write_text(toml.read_text().replace("periods_per_year = 12",
                                             f"periods_per_year = {value}"))
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: case.toml, [case] periods_per_year: must be a whole number of periods in a "
        f"year (12 for monthly periods, 4 for quarterly), got {shown}\n")


def test_rep_pages_say_pay_is_per_month(tmp_path: Path) -> None:
    """Issue 19, item 6: with 12 periods a year a rep's page gives quotas, pay at 100 %
    and rates per month, and her target incentive per year."""
    folder = case(tmp_path / "case", 12)
    (folder / "quotas.csv").write_text("rep_id,a\nR1,115000\nR2,240000\n")
    plan = tmp_path / "plan.toml"
    plan.write_text('[[metrics]]\nid = "a"\nweight = 1.0\naccelerator_rate = 2.0\n')
    done = CliRunner().invoke(main, ["explain", str(plan), "--case", str(folder), "--out",
                                     str(tmp_path / "ex"), "--per-rep"])
    assert done.exit_code == 0, done.output
    page = html.unescape((tmp_path / "ex" / "reps" / "R1.html").read_text())
    assert "Your target incentive is <strong>12,000 USD per year</strong>" in page
    assert ("Pay is worked out each month, on that month's results against that month's "
            "quota: a month at 100% of quota on every metric pays 1,000 USD (your target "
            "incentive divided by 12).") in page
    assert "<th>your quota per month</th><th>pays per month at 100%</th>" in page
    # Base rate 1 / (1 - 0.5) = 2 of target per unit of attainment: 1,000 x 2 / 115,000 =
    # 0.017391 USD per unit below quota; accelerator 1,000 x 2 / 115,000 the same above.
    assert ("<tr><td>a</td><td>115,000</td><td>1,000 USD</td><td>0.0174 USD</td>"
            "<td>0.0174 USD</td></tr>") in page
    assert "extra pay for doing better" not in page
