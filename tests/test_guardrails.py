"""The guardrail table (models/guardrails.py) and its consumers; units said the same everywhere.

Every consumer (model build, evaluation, prices, diagnosis, pulse, reports, workbook)
is enumerated here against the table: a guardrail added to the table that one of them
misses fails a test. The bundled case enterprise_first sets all six guardrails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import compplan
from compplan.cli.main import main
from compplan.models import fmt
from compplan.models import guardrails as table

ROOT = Path(__file__).parent.parent
CASE = ROOT / "cases" / "enterprise_first"


@pytest.fixture(scope="module")
def designed() -> Any:
    return compplan.optimise(compplan.load_case(CASE)).raise_for_status()


def test_the_bundled_case_sets_every_guardrail() -> None:
    limits = table.limits(compplan.load_case(CASE))
    assert set(limits) == set(table.NAMES) and None not in limits.values()


def test_model_build_writes_every_guardrail(designed: Any) -> None:
    from compplan.optimizer import model

    assert model.GUARDRAILS == table.NAMES
    for g in table.TABLE:
        assert callable(getattr(model, g.model_term)), g.name
    plan = model.create_model(designed.case, designed.outcome.coefficients)
    names = {c.local_name for c in plan.model.component_objects()}
    for g in table.TABLE:
        assert any(n == g.name or n.startswith(g.name + "_") for n in names), g.name


def test_evaluation_checks_every_guardrail(designed: Any) -> None:
    checks = {g.name: g for g in designed.evaluation.guardrails}
    assert tuple(checks) == table.NAMES
    for g in table.TABLE:
        assert checks[g.name].setting == g.setting
        assert checks[g.name].unit == g.unit and checks[g.name].upper == g.upper


def test_prices_and_diagnosis_know_every_guardrail(designed: Any) -> None:
    from compplan.optimizer import diagnose, prices

    assert {p.guardrail for p in designed.outcome.prices} == set(table.NAMES)
    for g in table.TABLE:
        assert prices._UNITS[g.name] == (g.setting, g.price_unit)
        assert prices.loosening(g.name) == g.loosening
        assert diagnose._SETTINGS[g.name] == (g.setting, g.label)


def test_pulse_projects_every_guardrail(designed: Any, tmp_path: Path) -> None:
    from compplan.models.actuals import read_actuals
    from compplan.optimizer.pulse import pulse_check

    case = designed.case
    actuals = read_actuals(CASE / "actuals.csv", case, [m.id for m in designed.plan.metrics])
    rows = {g["name"]: g for g in pulse_check(case, designed.plan, actuals).document[
        "guardrails"]}
    assert tuple(rows) == table.NAMES
    for g in table.TABLE:
        assert ("year" in rows[g.name]) == (g.projection == "reps"), g.name


def test_every_unit_has_a_format_in_every_output() -> None:
    from compplan.render import figures, report, workbook, workbook_pulse

    for g in table.TABLE:
        assert g.unit in figures.UNIT_KIND, g.unit
        assert g.unit in report._UNIT_FORMAT, g.unit
        assert g.unit in workbook.UNIT_FORMAT, g.unit
        assert g.unit in workbook_pulse._UNIT, g.unit
        assert fmt.figure(1.0, g.unit) != fmt.number(1.0), g.unit


# ------------------------------------------------------------------ units (issue 19, item 8)

def test_parity_reads_in_points_in_every_output(designed: Any, tmp_path: Path) -> None:
    """optimise printed 6.5 pp, evaluate and the report 6.5 %: now points everywhere."""
    gap = next(g for g in designed.evaluation.guardrails if g.name == "fairness_parity")
    shown = fmt.points(gap.value, sign=False)
    assert shown == "6.5 pp"
    designed.write(tmp_path / "plan")
    runner = CliRunner()
    evaluated = runner.invoke(main, ["evaluate", str(CASE), str(tmp_path / "plan" / "plan.json"),
                                     "--out", str(tmp_path / "ev"), "-q"])
    assert evaluated.exit_code == 0, evaluated.output
    plan_md = (tmp_path / "plan" / "plan.md").read_text()
    assert "| [fairness] parity_tolerance | 6.5 pp | 10.0 pp | 3.5 pp |" in plan_md
    done = runner.invoke(main, ["evaluate", str(CASE), str(tmp_path / "plan" / "plan.json"),
                                "--out", str(tmp_path / "ev2")])
    assert "[fairness] parity_tolerance (limit 10.0 pp)" in done.stdout
    row = next(line for line in done.stdout.splitlines() if "parity_tolerance (limit" in line)
    assert row.split("│")[2].strip() == "6.5 pp"
    report = tmp_path / "report.html"
    made = runner.invoke(main, ["report", str(CASE), str(tmp_path / "plan" / "plan.json"),
                                "--out", str(report)])
    assert made.exit_code == 0, made.output
    assert "6.5 pp met" in report.read_text()


def test_org_budget_change_says_per_year() -> None:
    """The organisation's infeasibility said "6,000,000 USD" where money is per year."""
    from dataclasses import replace

    org = compplan.load_org(ROOT / "cases" / "gtm_org")
    budget = org.spec.budget.model_copy(update={"expected_cap": 6_000_000})
    capped = replace(org, spec=org.spec.model_copy(update={"budget": budget}))
    result = compplan.optimise_org(capped)
    assert result.status is compplan.Status.INFEASIBLE and not result.ok
    assert ("raise org.toml [budget] expected_cap from 6,000,000 USD per year to 6,382,027 "
            "USD per year") in result.message
    with pytest.raises(compplan.errors.InfeasibleError):
        result.raise_for_status()
