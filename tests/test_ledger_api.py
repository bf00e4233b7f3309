"""Cases from transactions through the one-door API of issue 19 (MODEL.md section 11).

``compplan.validate`` carries validate's account of the transactions (``details``),
``compplan.pulse(..., year_start=)`` is ``compplan pulse --from``, and a case built from
DataFrames (``path`` None) goes through the API functions that write outputs.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from conftest import CONFORMANCE, invoke
from ledger_helpers import DEALS, QUOTAS, write_mini

import compplan
from compplan.errors import UsageError

# March 2027, the plan year's first period (as in test_ledger.py): by hand, bookings
# 1100 / 1000 and 800 / 1600, deals 2 / 2 and 1 / 2.
MARCH_DEALS = "R1,2027-03-02,new,1100\nR1,2027-03-09,renewal,70\nR2,2027-03-30,new,800\n"
MARCH_QUOTAS = ("R1,bookings,2027-03,1000\nR1,deals,2027-03,2\n"
                "R2,bookings,2027-03,1600\nR2,deals,2027-03,2\n")
PLAN = ('[[metrics]]\nid = "bookings"\nweight = 0.7\naccelerator_rate = 2.0\n'
        '[[metrics]]\nid = "deals"\nweight = 0.3\naccelerator_rate = 0.6\n')


def test_validate_details_are_what_the_command_prints(tmp_path: Path) -> None:
    folder = write_mini(tmp_path / "m")
    found = compplan.validate(folder)
    # By hand from ledger_helpers.DEALS: January's new deals R1 600, R2 1000 (and R1's
    # renewal among the deals); February's R1 900, R2 -200, R2 1500.
    assert found.details[:5] == [
        "transactions from deals.csv: 8",
        "  period            2027-01  2027-02",
        "  bookings matched        2        3",
        "  deals matched           3        3",
        "  reps with quota       2/2      2/2",
    ]
    result = invoke("validate", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [found.summary, *found.details]


def test_validate_of_a_case_from_attainment_has_no_details() -> None:
    assert compplan.validate(CONFORMANCE / "c1_budget_only").details == []


def test_pulse_year_start_is_pulse_from(tmp_path: Path) -> None:
    ledger = write_mini(tmp_path / "ledger", deals=DEALS + MARCH_DEALS,
                        quotas=QUOTAS + MARCH_QUOTAS)
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    cli = invoke("pulse", str(ledger), str(plan), "--from", "2027-03-01", "--out",
                 str(tmp_path / "cli"), "-q")
    assert cli.exit_code == 0, cli.output
    by_text = compplan.pulse(ledger, plan, year_start="2027-03-01")
    by_date = compplan.pulse(str(ledger), str(plan), year_start=date(2027, 3, 1))
    assert by_text.document == by_date.document
    assert (by_text.document["periods_elapsed"], by_text.document["periods_in_year"]) == (1, 2)
    written = by_text.write(tmp_path / "api")
    assert sorted(p.name for p in written) == ["pulse.json", "pulse.md"]
    assert ((tmp_path / "api" / "pulse.json").read_bytes()
            == (tmp_path / "cli" / "pulse.json").read_bytes())
    assert json.loads((tmp_path / "api" / "pulse.json").read_text()) == by_text.document


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "give --actuals FILE, or --from DATE for a case from transactions ([source] in "
     "case.toml)"),
    ({"actuals": "march.csv", "year_start": "2027-03-01"},
     "give --actuals FILE, or --from DATE for a case from transactions ([source] in "
     "case.toml)"),
    ({"year_start": "March"}, "year_start must be a date or 'YYYY-MM-DD', got 'March'"),
    ({"year_start": 2027}, "year_start must be a date or 'YYYY-MM-DD', got 2027"),
])
def test_pulse_year_start_errors(tmp_path: Path, kwargs: dict[str, object],
                                 message: str) -> None:
    folder = write_mini(tmp_path / "m")
    with pytest.raises(UsageError) as info:
        compplan.pulse(folder, "current", **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_pulse_year_start_needs_a_source_and_a_case(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\naccelerator_rate = 2.0\n')
    with pytest.raises(UsageError) as info:
        compplan.pulse(CONFORMANCE / "c1_budget_only", plan, year_start="2027-01-01")
    assert str(info.value) == ("--from reads the actuals from the case's [source] (MODEL.md "
                               "section 11), but this case has attainment.csv; give "
                               "--actuals FILE")
    org = Path(compplan.__file__).parent.parent / "cases" / "gtm_org"
    with pytest.raises(UsageError) as info:
        compplan.pulse(org, "current", year_start="2027-01-01")
    assert str(info.value) == ("--from applies to a case from transactions; give an "
                               "organisation's actuals with --actuals")


def _frames_case() -> compplan.Case:
    folder = CONFORMANCE / "c1_budget_only"
    return compplan.Case.from_frames((folder / "case.toml").read_text(),
                                     pd.read_csv(folder / "reps.csv"),
                                     pd.read_csv(folder / "attainment.csv"))


def test_compare_and_audit_of_a_case_from_frames_write(tmp_path: Path) -> None:
    case = _frames_case()
    assert case.path is None
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\naccelerator_rate = 2.0\n')
    b.write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\naccelerator_rate = 1.5\n')
    from_frames = compplan.compare(case, [str(a), str(b)])
    assert sorted(p.name for p in from_frames.write(tmp_path / "cmp")) == [
        "compare.csv", "compare.md"]
    from_folder = compplan.compare(CONFORMANCE / "c1_budget_only", [str(a), str(b)])
    assert (tmp_path / "cmp" / "compare.csv").read_text() == from_folder.csv
    audited = compplan.audit_report(case, a)
    written = audited.write(tmp_path / "audit")
    assert sorted(p.name for p in written) == ["audit.json", "audit.md"]
    assert (json.loads((tmp_path / "audit" / "audit.json").read_text())
            == compplan.audit_report(CONFORMANCE / "c1_budget_only", a).document)


def test_current_of_a_case_from_frames_without_one_is_named() -> None:
    from compplan.errors import CaseError

    with pytest.raises(CaseError) as info:
        compplan.evaluate(_frames_case(), "current")
    assert str(info.value) == ("current_plan.toml: is not in the case built from DataFrames "
                               "(current_plan=); give a plan file instead of 'current'")
