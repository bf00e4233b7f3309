"""Results that were silently wrong on the new paths (issue 24), each now right or refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import CONFORMANCE, assert_error, invoke

C1 = CONFORMANCE / "c1_budget_only"
C6 = CONFORMANCE / "c6_pulse"
GTM = Path(__file__).parent.parent / "cases" / "gtm_org"


def pulse(tmp_path: Path, labels: dict[str, str], name: str, quoted: bool = False) -> dict:
    text = (C6 / "actuals.csv").read_text()
    for old, new in labels.items():
        text = text.replace(f",{old},", f',"{new}",' if quoted else f",{new},")
    actuals = tmp_path / f"{name}.csv"
    actuals.write_text(text)
    out = tmp_path / name
    result = invoke("pulse", str(C1), str(C6 / "plan.toml"), "--actuals", str(actuals),
                    "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    return json.loads((out / "pulse.json").read_text())


# ------------------------------------------------------------- pulse periods in file order

@pytest.mark.parametrize("quoted", [False, True])  # the fast reader and the careful one
@pytest.mark.parametrize("labels", [{"Y1": "Jan", "Y2": "Feb", "Y3": "Mar"},
                                    {"Y1": "M8", "Y2": "M9", "Y3": "M10"}])
def test_pulse_periods_keep_the_order_of_the_file(tmp_path: Path, labels: dict[str, str],
                                                  quoted: bool) -> None:
    # Once ordered as text: Feb, Jan, Mar; M10, M8, M9 (in paid_by_period and the chart).
    plain = pulse(tmp_path, {}, "plain")
    named = pulse(tmp_path, labels, "named", quoted)
    assert named["periods"] == list(labels.values())
    assert named["paid_by_period"] == plain["paid_by_period"]
    assert named["paid_to_date"] == plain["paid_to_date"]


def test_organisation_roles_may_list_periods_in_another_order(tmp_path: Path) -> None:
    org = tmp_path / "gtm"
    shutil.copytree(GTM, org)
    first = invoke("pulse", str(org), "current", "--actuals", str(org / "actuals"), "--out",
                   str(tmp_path / "a"), "-q")
    ae = org / "actuals" / "ae.csv"
    lines = ae.read_text().splitlines()
    ae.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    again = invoke("pulse", str(org), "current", "--actuals", str(org / "actuals"), "--out",
                   str(tmp_path / "b"), "-q")
    assert (first.exit_code, again.exit_code) == (3, 3)
    a = json.loads((tmp_path / "a" / "org_pulse.json").read_text())
    b = json.loads((tmp_path / "b" / "org_pulse.json").read_text())
    assert a == b


# ------------------------------------------------------------------------ --round twice

def test_round_given_twice_is_merged(tmp_path: Path) -> None:
    # Once only the last was kept: "weights": null in plan.json, weights unrounded.
    both = invoke("optimise", str(C1), "--out", str(tmp_path / "a"), "-q",
                  "--round", "weights=0.05", "--round", "rates=0.05")
    assert both.exit_code == 0, both.output
    one = invoke("optimise", str(C1), "--out", str(tmp_path / "b"), "-q",
                 "--round", "weights=0.05,rates=0.05")
    assert one.exit_code == 0, one.output
    a = json.loads((tmp_path / "a" / "plan.json").read_text())
    assert a == json.loads((tmp_path / "b" / "plan.json").read_text())
    for m in a["metrics"]:
        assert round(m["weight"] / 0.05, 9) == round(m["weight"] / 0.05)


def test_round_part_given_twice_across_options_is_refused(tmp_path: Path) -> None:
    result = invoke("optimise", str(C1), "--out", str(tmp_path / "a"), "-q",
                    "--round", "weights=0.05", "--round", "weights=0.1")
    assert_error(result, 2, "--round: weights is given twice (weights=0.05 and weights=0.1); "
                            "give it once")


def test_round_for_an_organisation_names_no_missing_key(tmp_path: Path) -> None:
    # Once "(set it in each role's case.toml)", where no such key exists.
    result = invoke("optimise", str(GTM), "--out", str(tmp_path / "o"), "--round",
                    "weights=0.05")
    assert_error(result, 2, "--round applies to a case folder, not to an organisation (an "
                            "organisation's plans are not rounded to a grid; there is no such "
                            "setting in org.toml or case.toml)")


# ------------------------------------------------------- report --batch of another case

PLAN = str(C6 / "plan.toml")


@pytest.fixture(scope="module")
def sweep_of_c1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "batch"
    result = invoke("sweep", str(C1), "--budget", "0.9:1.0:2", "--out", str(out), "-q",
                    "--workers", "1")
    assert result.exit_code == 0, result.output
    return out


def test_report_with_the_batch_of_its_case(tmp_path: Path, sweep_of_c1: Path) -> None:
    result = invoke("report", str(C1), PLAN, "--batch", str(sweep_of_c1), "--out",
                    str(tmp_path / "r.html"), "-q")
    assert result.exit_code == 0, result.output
    copy = tmp_path / "copy"  # the same files elsewhere: the same case
    shutil.copytree(C1, copy)
    result = invoke("report", str(copy), PLAN, "--batch", str(sweep_of_c1), "--out",
                    str(tmp_path / "r2.html"), "-q")
    assert result.exit_code == 0, result.output


def test_report_refuses_the_batch_of_another_case(tmp_path: Path, sweep_of_c1: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(C1, other)
    edit = other / "reps.csv"
    edit.write_text(edit.read_text().replace("R00000,South,West,27400.0",
                                             "R00000,South,West,27500.0"))
    result = invoke("report", str(other), PLAN, "--batch", str(sweep_of_c1), "--out",
                    str(tmp_path / "r.html"))
    assert_error(result, 2, f"{sweep_of_c1} holds a batch of another case ('Budget only' in "
                            f"{C1.resolve()}), not of {other}: its candidates are not plans "
                            "of this case; give a batch of this case")
    assert not (tmp_path / "r.html").exists()
    result = invoke("export", str(other), PLAN, "--batch", str(sweep_of_c1), "--xlsx",
                    str(tmp_path / "r.xlsx"))
    assert result.exit_code == 2, result.output


def test_report_refuses_a_batch_of_the_case_before_it_changed(tmp_path: Path,
                                                             sweep_of_c1: Path) -> None:
    batch = tmp_path / "batch"
    shutil.copytree(sweep_of_c1, batch)
    case = Path(json.loads((batch / "batch.json").read_text())["case"])
    edited = tmp_path / "edited"
    shutil.copytree(case, edited)
    doc = json.loads((batch / "batch.json").read_text())
    doc["case"] = str(edited.resolve())
    (batch / "batch.json").write_text(json.dumps(doc))
    with (edited / "reps.csv").open("a") as handle:
        handle.write("R99999,North,East,20000.0\n")
    text = (edited / "attainment.csv").read_text()
    rows = [line.replace("R00000,", "R99999,", 1) for line in text.splitlines()
            if line.startswith("R00000,")]
    (edited / "attainment.csv").write_text(text + "\n".join(rows) + "\n")
    result = invoke("report", str(edited), PLAN, "--batch", str(batch), "--out",
                    str(tmp_path / "r.html"))
    assert_error(result, 2, f"the case {edited} has changed since the batch in {batch} was "
                            "run: its candidates are not plans of the case as it is now; run "
                            "the batch again")


def test_report_refuses_an_organisations_batch(tmp_path: Path) -> None:
    org = tmp_path / "gtm"
    shutil.copytree(GTM, org)
    spec = tmp_path / "spec.toml"
    spec.write_text('case = "gtm"\n[grid]\n"budget.expected_cap" = [7000000.0]\n')
    out = tmp_path / "orgbatch"
    assert invoke("batch", str(spec), "--out", str(out), "-q").exit_code == 0
    result = invoke("report", str(C1), PLAN, "--batch", str(out), "--out",
                    str(tmp_path / "r.html"))
    assert_error(result, 2, f"{out} holds a batch of the organisation 'FY27 go-to-market', "
                            "not of the case 'Budget only': give a batch of this case")


# ------------------------------------------------ an org plan of roles the org lacks

@pytest.fixture(scope="module")
def gtm_plans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gtm") / "plans"
    result = invoke("optimise", str(GTM), "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    return out


def two_roles(folder: Path) -> Path:
    shutil.copytree(GTM, folder)
    toml = folder / "org.toml"
    toml.write_text(toml.read_text().replace(
        '[roles.csm]\npath = "csm"\nlabel = "Customer success managers"\n', "").replace(
        "cover_goals = true", "cover_goals = false"))
    return folder


def test_evaluate_refuses_a_plan_of_a_role_the_org_lacks(tmp_path: Path,
                                                         gtm_plans: Path) -> None:
    # evaluate ORG_WITH_2_ROLES ORG_PLAN_WITH_3 once ignored the third role silently.
    org = two_roles(tmp_path / "two")
    plan = gtm_plans / "org_plan.json"
    message = (f"{plan}: holds a plan for role 'csm', which the organisation 'FY27 "
               "go-to-market' does not have (roles: sdr, ae); give the org_plan.json of this "
               "organisation")
    for command in (["evaluate", str(org), str(plan), "--out", str(tmp_path / "e")],
                    ["audit", str(org), str(plan), "--out", str(tmp_path / "a")],
                    ["pulse", str(org), str(plan), "--actuals", str(org / "actuals"),
                     "--out", str(tmp_path / "p")]):
        if command[0] == "pulse":
            (org / "actuals" / "csm.csv").unlink(missing_ok=True)
        assert_error(invoke(*command), 2, message)


def test_a_plan_missing_a_role_is_named(tmp_path: Path, gtm_plans: Path) -> None:
    plans = tmp_path / "plans"
    shutil.copytree(gtm_plans, plans)
    doc = json.loads((plans / "org_plan.json").read_text())
    doc["roles"] = [r for r in doc["roles"] if r["id"] != "ae"]
    (plans / "org_plan.json").write_text(json.dumps(doc))
    result = invoke("evaluate", str(GTM), str(plans / "org_plan.json"), "--out",
                    str(tmp_path / "e"))
    assert_error(result, 2, f"{plans / 'org_plan.json'}: has no plan for role 'ae' of the "
                            "organisation 'FY27 go-to-market' (its roles: sdr, csm); give the "
                            "org_plan.json of this organisation")


def test_a_roles_tampered_plan_json_is_named_with_its_role(tmp_path: Path,
                                                           gtm_plans: Path) -> None:
    plans = tmp_path / "plans"
    shutil.copytree(gtm_plans, plans)
    role = plans / "sdr" / "plan.json"
    doc = json.loads(role.read_text())
    doc["metrics"][0]["weight"] = "x"
    role.write_text(json.dumps(doc))
    result = invoke("evaluate", str(GTM), str(plans / "org_plan.json"), "--out",
                    str(tmp_path / "e"))
    assert_error(result, 2, f"{role} (role 'sdr'), [[metrics]] #1 weight: must be a number, "
                            "got 'x'")
