"""One door: the API and the command line give the same figures for every plan form.

Issue 19: `compplan.evaluate` evaluated a written plan's canonical vectors (alignment
0.2704, 21.44 M for docs/examples/written_plan.toml on enterprise_first) while `compplan
evaluate` evaluated what it pays (0.2464, 19.99 M). Over the bundled cases and their
plans (today's, the designed one, and the written example), both now agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import compplan
from compplan.cli.main import main

ROOT = Path(__file__).parent.parent
CASES = ROOT / "cases"
WRITTEN = ROOT / "docs" / "examples" / "written_plan.toml"
SINGLE = sorted(p.name for p in CASES.iterdir() if (p / "case.toml").is_file())
FIGURES = ("alignment", "expected_cost", "total_p90", "total_cvar", "max_parity_gap",
           "bottom_tail_mean", "top_tail_mean", "max_payout_multiple")


def plans(name: str, tmp_path: Path) -> list[str]:
    """Every plan form of a bundled case: today's, the designed one, a written one."""
    forms = []
    if (CASES / name / "current_plan.toml").is_file():
        forms.append("current")
    designed = compplan.optimise(CASES / name)
    if designed.plan is not None:
        designed.write(tmp_path / "designed")
        forms.append(str(tmp_path / "designed" / "plan.json"))
    if name == "enterprise_first":
        forms.append(str(WRITTEN))
    return forms


@pytest.mark.parametrize("name", SINGLE)
def test_api_and_cli_evaluate_alike(name: str, tmp_path: Path) -> None:
    for i, plan in enumerate(plans(name, tmp_path)):
        api = compplan.evaluate(CASES / name, plan).to_dict()
        out = tmp_path / f"ev{i}"
        done = CliRunner().invoke(main, ["evaluate", str(CASES / name), plan, "--out",
                                         str(out), "-q"])
        assert done.exit_code == 0, done.output
        cli = json.loads((out / "evaluation.json").read_text())["evaluation"]
        for key in FIGURES:
            assert api[key] == pytest.approx(cli[key], rel=1e-12), (name, plan, key)
        assert [g["ok"] for g in api["guardrails"]] == [g["ok"] for g in cli["guardrails"]]


def test_the_written_example_is_evaluated_as_it_pays() -> None:
    ev = compplan.evaluate(CASES / "enterprise_first", WRITTEN)
    assert round(ev.alignment, 4) == 0.2464
    assert round(ev.expected_cost / 1e6, 2) == 19.99


@pytest.mark.parametrize(("source", "plan", "actuals", "name"), [
    (CASES / "enterprise_first", "current", CASES / "enterprise_first" / "actuals.csv",
     "pulse.json"),
    (CASES / "enterprise_first", str(WRITTEN), CASES / "enterprise_first" / "actuals.csv",
     "pulse.json"),
    (CASES / "gtm_org", "current", CASES / "gtm_org" / "actuals", "org_pulse.json"),
])
def test_pulse_is_one_function_for_cases_and_organisations(
        source: Path, plan: str, actuals: Path, name: str, tmp_path: Path) -> None:
    """compplan pulse calls compplan.pulse: the same document, the same files."""
    result = compplan.pulse(source, plan, actuals)
    assert result.org == (name == "org_pulse.json")
    written = result.write(tmp_path / "api")
    assert written[0] == tmp_path / "api" / name
    done = CliRunner().invoke(main, ["pulse", str(source), plan, "--actuals", str(actuals),
                                     "--out", str(tmp_path / "cli"), "-q"])
    assert done.exit_code in (0, 3), done.output
    assert (done.exit_code == 3) == (result.infeasibility is not None)
    assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    cli_files = sorted(p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*"))
    api_files = sorted(p.relative_to(tmp_path / "api") for p in (tmp_path / "api").rglob("*"))
    assert cli_files == api_files


def test_explain_per_rep_is_one_function(tmp_path: Path) -> None:
    """compplan explain --per-rep calls compplan.explain(per_rep=True): the same files."""
    case = CASES / "subscription_shift"
    document = compplan.explain("current", case, per_rep=True)
    written = document.write(tmp_path / "api")
    assert [p.name for p in written[:3]] == ["plan_explained.md", "plan_explained.html",
                                             "index.html"]
    reps = compplan.load_case(case).reps
    assert len(written) == 3 + len(reps)
    done = CliRunner().invoke(main, ["explain", "current", "--case", str(case), "--per-rep",
                                     "--out", str(tmp_path / "cli"), "-q"])
    assert done.exit_code == 0, done.output
    for path in written:
        twin = tmp_path / "cli" / path.relative_to(tmp_path / "api")
        assert twin.read_bytes() == path.read_bytes()
    with pytest.raises(compplan.errors.UsageError, match="--per-rep needs --case"):
        compplan.explain(tmp_path / "plan.json", per_rep=True)


@pytest.mark.parametrize(("source", "plan"), [(CASES / "enterprise_first", "current"),
                                              (CASES / "enterprise_first", str(WRITTEN)),
                                              (CASES / "gtm_org", "current")])
def test_report_and_export_are_one_function_each(source: Path, plan: str,
                                                 tmp_path: Path) -> None:
    """compplan report / export call compplan.report / compplan.export: the same page,
    the same sheets and cells, for a case and an organisation."""
    import openpyxl

    page = compplan.report(source, plan)
    page.write(tmp_path / "api.html")
    done = CliRunner().invoke(main, ["report", str(source), plan, "--out",
                                     str(tmp_path / "cli.html"), "-q"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "cli.html").read_text() == page.html
    compplan.export(source, plan).write(tmp_path / "api.xlsx")
    done = CliRunner().invoke(main, ["export", str(source), plan, "--xlsx",
                                     str(tmp_path / "cli.xlsx"), "-q"])
    assert done.exit_code == 0, done.output
    api = openpyxl.load_workbook(tmp_path / "api.xlsx")
    cli = openpyxl.load_workbook(tmp_path / "cli.xlsx")
    assert api.sheetnames == cli.sheetnames
    for name in api.sheetnames:
        assert [[c.value for c in row] for row in api[name].iter_rows()] == \
            [[c.value for c in row] for row in cli[name].iter_rows()], name


def test_options_of_a_case_are_refused_for_an_organisation() -> None:
    with pytest.raises(compplan.errors.UsageError, match="--actuals applies to a case's"):
        compplan.report(CASES / "gtm_org", "current", actuals="x.csv")
    with pytest.raises(compplan.errors.UsageError, match="--batch applies to a case folder"):
        compplan.export(CASES / "gtm_org", "current", batch="runs")


def test_an_organisation_without_plans_is_a_result_as_a_case() -> None:
    """Issue 19: optimise returned a Result when nothing fits, optimise_org raised."""
    from dataclasses import replace

    org = compplan.load_org(CASES / "gtm_org")
    budget = org.spec.budget.model_copy(update={"expected_cap": 1_000})
    tight = replace(org, spec=org.spec.model_copy(update={"budget": budget}))
    case = compplan.optimise(compplan.load_case(CASES / "enterprise_first", budget=1_000))
    found = compplan.optimise_org(tight)
    for result in (case, found):
        assert result.status is compplan.Status.INFEASIBLE and not result.ok
        assert result.document == {}
        with pytest.raises(compplan.errors.InfeasibleError):
            result.raise_for_status()
    assert found.diagnosis is not None and found.diagnosis["status"] == "infeasible"
    designed = compplan.optimise_org(org)
    assert designed.status is compplan.Status.OPTIMAL and designed.ok
    assert [r["id"] for r in designed.document["roles"]] == ["sdr", "ae", "csm"]


@pytest.mark.parametrize("name", [*SINGLE, "gtm_org"])
def test_validate_is_one_function(name: str) -> None:
    found = compplan.validate(CASES / name)
    assert found.org == (name == "gtm_org")
    done = CliRunner().invoke(main, ["validate", str(CASES / name)])
    assert done.exit_code == 0, done.output
    # A case from transactions (enterprise_first_ledger): where its transactions went.
    assert bool(found.details) == (name == "enterprise_first_ledger")
    assert done.stdout == "".join(f"{line}\n" for line in [found.summary, *found.details])


@pytest.mark.parametrize(("source", "plans"), [
    (CASES / "enterprise_first", ["current", str(WRITTEN)]),
    (CASES / "gtm_org", ["current", "current"]),
])
def test_compare_is_one_function(source: Path, plans: list[str], tmp_path: Path) -> None:
    found = compplan.compare(source, plans)
    found.write(tmp_path / "api")
    done = CliRunner().invoke(main, ["compare", str(source), *plans, "--out",
                                     str(tmp_path / "cli"), "-q"])
    assert done.exit_code == 0, done.output
    for name in ("compare.csv", "compare.md"):
        assert (tmp_path / "cli" / name).read_text() == (tmp_path / "api" / name).read_text()
    with pytest.raises(compplan.errors.UsageError, match="at least two plans"):
        compplan.compare(source, plans[:1])


@pytest.mark.parametrize(("source", "plan", "stem"), [
    (CASES / "enterprise_first", "current", "audit"),
    (CASES / "enterprise_first", str(WRITTEN), "audit"),
    (CASES / "gtm_org", "current", "audit_org"),
])
def test_audit_is_one_function(source: Path, plan: str, stem: str, tmp_path: Path) -> None:
    found = compplan.audit_report(source, plan)
    assert [p.name for p in found.write(tmp_path / "api")] == [f"{stem}.json", f"{stem}.md"]
    done = CliRunner().invoke(main, ["audit", str(source), plan, "--out",
                                     str(tmp_path / "cli"), "-q"])
    assert done.exit_code == 0, done.output
    for name in (f"{stem}.json", f"{stem}.md"):
        assert (tmp_path / "cli" / name).read_text() == (tmp_path / "api" / name).read_text()


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under a folder but the run record (its wall times differ run to run) and
    the folder's manifest (it holds the run record's digest)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "run.json" and not p.name.startswith(".")}


@pytest.mark.parametrize(("command", "source", "first"), [
    ("optimise", CASES / "enterprise_first", "plan.json"),
    ("optimise", CASES / "gtm_org", "org_plan.json"),
    ("min-budget", CASES / "enterprise_first", "plan.json"),
    ("min-budget", CASES / "gtm_org", "org_plan.json"),
])
def test_optimise_and_min_budget_are_one_function_each(command: str, source: Path,
                                                       first: str, tmp_path: Path) -> None:
    """compplan optimise / min-budget call compplan.optimise / compplan.min_budget, for a
    case and an organisation alike: byte-identical plan.json (org_plan.json) and plan
    files."""
    call = compplan.optimise if command == "optimise" else compplan.min_budget
    result = call(source)
    assert isinstance(result, compplan.OrgResult) == (first == "org_plan.json")
    assert result.status is compplan.Status.OPTIMAL
    result.write(tmp_path / "api")
    done = CliRunner().invoke(main, [command, str(source), "--out", str(tmp_path / "cli"),
                                     "-q"])
    assert done.exit_code == 0, done.output
    api, cli = _files(tmp_path / "api"), _files(tmp_path / "cli")
    assert first in api
    assert sorted(cli) == sorted(api)
    for name, data in api.items():
        assert cli[name] == data, name


def test_optimise_refuses_case_options_for_an_organisation() -> None:
    with pytest.raises(compplan.errors.UsageError,
                       match="rounding applies to a case, not to an organisation"):
        compplan.optimise(CASES / "gtm_org", rounding="weights=0.05")
    with pytest.raises(compplan.errors.UsageError,
                       match="elasticity applies to a case, not to an organisation"):
        compplan.optimise(CASES / "gtm_org", elasticity=0.3)


@pytest.mark.parametrize(("source", "plan", "options", "whatif", "elasticity"), [
    (CASES / "enterprise_first", "current", [], [], None),
    (CASES / "enterprise_first", str(WRITTEN), [], [], None),
    (CASES / "enterprise_first", "current",
     ["--set", "weight.activity_calls=+0.1", "--shift", "0.1:smb_bookings->enterprise_bookings"],
     [("set", "weight.activity_calls=+0.1"), ("shift", "0.1:smb_bookings->enterprise_bookings")],
     None),
    (CASES / "subscription_response", "current", ["--elasticity", "0.2,0.4"], [],
     "0.2,0.4"),
    (CASES / "gtm_org", "current", [], [], None),
])
def test_evaluate_is_one_function(source: Path, plan: str, options: list[str],
                                  whatif: list[tuple[str, str]], elasticity: str | None,
                                  tmp_path: Path) -> None:
    """compplan evaluate calls compplan.evaluation_report: byte-identical evaluation.json
    (with its what-if and response blocks) and rep_payouts.csv, for a case and an
    organisation; --write-plan writes the report's plan_toml."""
    found = compplan.evaluation_report(source, plan, whatif=whatif, elasticity=elasticity)
    assert found.org == (source.name == "gtm_org")
    names = [p.name for p in found.write(tmp_path / "api")]
    assert names == (["evaluation.json"] if found.org
                     else ["evaluation.json", "rep_payouts.csv"])
    extra = [] if found.org else ["--write-plan", str(tmp_path / "whatif.toml")]
    done = CliRunner().invoke(main, ["evaluate", str(source), plan, *options, *extra,
                                     "--out", str(tmp_path / "cli"), "-q"])
    assert done.exit_code == 0, done.output
    for name in names:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    document = json.loads((tmp_path / "api" / "evaluation.json").read_text())
    assert ("whatif" in document) == bool(whatif)
    if elasticity is not None:
        assert [b["elasticity"] for b in document["response"]["band"]] == [0.2, 0.4]
    if not found.org:
        assert (tmp_path / "whatif.toml").read_text() == found.plan_toml
        figures = compplan.evaluate(source, plan).to_dict()
        assert document["evaluation"]["alignment"] == pytest.approx(figures["alignment"],
                                                                    rel=1e-12)


def test_an_organisation_has_no_what_if() -> None:
    with pytest.raises(compplan.errors.UsageError,
                       match="--shift applies to a case folder, not to an organisation"):
        compplan.evaluation_report(CASES / "gtm_org", whatif=[("shift", "0.1:a->b")])
    with pytest.raises(compplan.errors.UsageError, match="--write-plan applies to a case"):
        _ = compplan.evaluation_report(CASES / "gtm_org").plan_toml


def test_sweep_of_an_organisation_is_one_function(tmp_path: Path) -> None:
    """compplan sweep ORG_DIR calls compplan.sweep: byte-identical sweep.json and
    results.csv (the document built in one place)."""
    run = compplan.sweep(CASES / "gtm_org", 0.95, 1.15, 2, tmp_path / "api")
    assert run.kind == "sweep" and run.left == 0
    assert [p.name for p in run.written] == ["sweep.json", "results.csv", "frontier.png",
                                             "frontier.svg", "budget_split.png",
                                             "budget_split.svg"]
    assert run.document["sweep"] == "--budget 0.95:1.15:2"
    done = CliRunner().invoke(main, ["sweep", str(CASES / "gtm_org"), "--budget",
                                     "0.95:1.15:2", "--out", str(tmp_path / "cli"), "-q"])
    assert done.exit_code == 0, done.output
    for name in ("sweep.json", "results.csv"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()
    with pytest.raises(compplan.errors.UsageError,
                       match="--workers applies to a case folder; an organisation's sweep"):
        compplan.sweep(CASES / "gtm_org", 0.95, 1.15, 2, tmp_path / "x", workers=2)


def test_batch_is_one_function_for_cases_and_organisations(tmp_path: Path) -> None:
    """compplan batch calls compplan.batch: an organisation's spec gives an OrgRun and the
    same batch.json and results.csv; a case's the same results.csv."""
    org_spec = tmp_path / "org.toml"
    org_spec.write_text(f'case = "{(CASES / "gtm_org").as_posix()}"\n'
                        '[grid]\n"budget.expected_cap" = [1.0e7, 1.2e7]\n')
    case_spec = tmp_path / "case.toml"
    case_spec.write_text(f'case = "{(CASES / "enterprise_first").as_posix()}"\n'
                         '[grid]\n"design.max_metrics" = [2, 3]\n')
    run = compplan.batch(org_spec, tmp_path / "org_api")
    assert isinstance(run, compplan.OrgRun) and run.kind == "batch"
    report = compplan.batch(case_spec, tmp_path / "case_api")
    assert not isinstance(report, compplan.OrgRun)
    for spec, api_out, names in ((org_spec, "org_api", ["batch.json", "results.csv"]),
                                 (case_spec, "case_api", ["results.csv", "frontier.csv"])):
        cli_out = tmp_path / api_out.replace("api", "cli")
        done = CliRunner().invoke(main, ["batch", str(spec), "--out", str(cli_out),
                                         "--workers", "1", "-q"]
                                  if api_out == "case_api" else
                                  ["batch", str(spec), "--out", str(cli_out), "-q"])
        assert done.exit_code == 0, done.output
        for name in names:
            assert (cli_out / name).read_bytes() == (tmp_path / api_out / name).read_bytes(), \
                name
