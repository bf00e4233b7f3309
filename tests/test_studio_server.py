"""The studio's JSON endpoints without a browser (Starlette's TestClient).

Every figure is compared with the command line's for the same change (``compplan
evaluate --set``, ``compplan optimise --budget``, ``compplan min-budget``), or with a
hand-computed one; bad input is a 400 naming its parameter, never a crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_exit, invoke

from compplan.studio.session import Session, open_session
from compplan.studio.solving import Solver
from compplan.studio.state import StateError, query

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx
    from starlette.testclient import TestClient

    from compplan.studio.app import create_app

ROOT = Path(__file__).parent.parent
CASE = str(ROOT / "cases" / "enterprise_first")
TOKEN = "test-token"
SET = "weight.enterprise_bookings=0.6"
SHIFT = "0.1:smb_bookings->activity_calls"


@pytest.fixture(scope="module")
def session() -> Session:
    return open_session(CASE)


@pytest.fixture(scope="module")
def client(session: Session) -> Iterator[TestClient]:
    app = create_app(session, TOKEN, hosts={"testserver"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(app) as c:
            yield c


def get(client: TestClient, path: str, **params: str) -> dict:
    response = client.get(path, params={"token": TOKEN, **params})
    return {"status": response.status_code, **response.json()}


def cli_whatif(tmp_path: Path, *modifiers: str, plan_file: Path | None = None) -> dict:
    args = ["evaluate", CASE, "current", "--out", str(tmp_path / "ev"), "-q"]
    for option, value in modifiers:
        args += [option, value]
    if plan_file is not None:
        args += ["--write-plan", str(plan_file)]
    result = invoke(*args)
    assert_exit(result, 0)
    return json.loads((tmp_path / "ev" / "evaluation.json").read_text())


# ------------------------------------------------------------------------- the token

def test_requests_without_the_token_are_refused(client: TestClient) -> None:
    assert client.get("/api/case").status_code == 403
    assert client.get("/api/case", params={"token": "wrong"}).status_code == 403
    assert client.get("/", params={"token": TOKEN + "x"}).status_code == 403
    assert client.get("/static/studio.js").status_code == 403
    assert client.post("/api/solve", params={"plan": "optimised"}).status_code == 403
    assert client.get("/api/case", headers={"X-Compplan-Token": TOKEN}).status_code == 200


def test_another_host_is_refused(client: TestClient) -> None:
    # A page of another site resolving its name to 127.0.0.1 (DNS rebinding) gets nothing.
    response = client.get("/api/case", params={"token": TOKEN},
                          headers={"Host": "evil.example:80"})
    assert response.status_code == 403


def test_the_page_and_its_assets_carry_a_strict_policy(client: TestClient) -> None:
    page = client.get("/", params={"token": TOKEN})
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert f"/static/studio.js?token={TOKEN}" in page.text
    assert "Enterprise-first FY27" in page.text
    assert "<script>" not in page.text and "https://" not in page.text  # all bundled
    script = client.get("/static/studio.js", params={"token": TOKEN})
    assert script.headers["content-type"].startswith("text/javascript")
    # Offline: the only address in the script is SVG's namespace, which is never fetched.
    import re

    assert set(re.findall(r"https?://[^\s\"']+", script.text)) == {"http://www.w3.org/2000/svg"}
    style = client.get("/static/studio.css", params={"token": TOKEN})
    assert "url(" not in style.text and "@import" not in style.text
    assert client.get("/static/other.js", params={"token": TOKEN}).status_code == 404


# ------------------------------------------------------------------------- evaluate

def test_a_whatif_is_compplan_evaluate_with_the_same_modifiers(client: TestClient,
                                                               tmp_path: Path) -> None:
    doc = get(client, "/api/evaluate", plan="current", set=SET, shift=SHIFT)
    assert doc["status"] == 200
    cli = cli_whatif(tmp_path, ("--set", SET), ("--shift", SHIFT))
    assert _same(doc["evaluation"], cli["whatif"]["evaluation"])
    assert doc["plan"]["metrics"] == cli["whatif"]["metrics"]
    # By hand: 0.6 to enterprise, the others rescaled from 0.4/0.2 to 0.4 in all
    # (0.2667/0.1333), then 0.1 from SMB to activity.
    weights = {m["id"]: m["weight"] for m in doc["plan"]["metrics"]}
    assert weights == pytest.approx({"enterprise_bookings": 0.6, "smb_bookings": 0.4 / 0.6 * 0.4
                                     - 0.1, "activity_calls": 0.2 / 0.6 * 0.4 + 0.1})
    assert doc["state"] == f"plan=current&set={SET}&shift={SHIFT}"
    assert doc["plan"]["name"] == "current what-if"


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-12)
    return a == b


def test_the_current_plan_matches_compplan_evaluate(client: TestClient, tmp_path: Path) -> None:
    doc = get(client, "/api/evaluate", plan="current")
    cli = cli_whatif(tmp_path)
    assert _same(doc["evaluation"], cli["evaluation"])
    # The expected cost by hand from the charts' data: the totals' histogram counts every
    # scenario (12 periods of history).
    assert sum(doc["charts"]["totals"]["counts"]) == 12
    assert sum(doc["charts"]["shares"]["counts"]) == 600
    assert doc["response"] is None  # no [response] model in this case (issue 20)


def test_a_moved_limit_changes_the_check_not_the_figures(client: TestClient) -> None:
    base = get(client, "/api/evaluate", plan="current")
    moved = get(client, "/api/evaluate", plan="current", limit="budget.expected_cap=20000000")
    assert moved["evaluation"]["expected_cost"] == base["evaluation"]["expected_cost"]
    check = {g["name"]: g for g in moved["evaluation"]["guardrails"]}["budget_expected"]
    assert check["limit"] == 20_000_000
    assert check["ok"] is False  # 21.53m against 20m
    assert check["slack"] == pytest.approx(20_000_000 - base["evaluation"]["expected_cost"])
    assert moved["limits"]["budget.expected_cap"] == 20_000_000
    removed = get(client, "/api/evaluate", plan="current", limit="budget.cvar_cap=none")
    assert "budget_cvar" not in {g["name"] for g in removed["evaluation"]["guardrails"]}


@pytest.mark.parametrize(("params", "param", "message"), [
    ({"set": "weight.enterprise_bookings=abc"}, "set", "'abc' is not a number"),
    ({"set": "weight.enterprise_bookings=1.5"}, "set",
     "the weight of enterprise_bookings would be 1.5, outside [0, 1]"),
    ({"set": "weight.enterprise_bookings=-0.5"}, "set",  # 0.4 less 0.5
     "the weight of enterprise_bookings would be -0.1, outside [0, 1]"),
    ({"set": "weight.nope=0.2"}, "set", "'nope' is not a metric of the case"),
    ({"shift": "2:smb_bookings->new_logos"}, "shift",
     "the amount must be > 0 and <= 1 (a share of target incentive), got 2"),
    ({"limit": "budget.expected_cap=-5"}, "limit",
     "budget.expected_cap must be an amount > 0, got -5"),
    ({"limit": "fairness.bottom_floor=lots"}, "limit",
     "fairness.bottom_floor must be a number, got 'lots'"),
    ({"limit": "budget.nothing=1"}, "limit", "expected SECTION.KEY=VALUE"),
    ({"lock": "new_logos=1.2"}, "lock", "the weight to lock new_logos at must be from 0 to 1"),
    ({"lock": "activity_calls=0.5"}, "lock",
     "0.5 is above the maximum 0.2 of activity_calls ([metrics.activity_calls] max_weight)"),
    ({"plan": "../../etc/passwd"}, "plan", "unknown plan"),
    ({"plan": "rounded", "round": "weights=0.3"}, "round",
     "weights=0.3 does not divide 1, so weights on its grid cannot sum to 1"),
])
def test_bad_input_names_its_parameter(client: TestClient, params: dict[str, str], param: str,
                                       message: str) -> None:
    doc = get(client, "/api/evaluate", **params)
    assert doc["status"] == 400
    (error,) = doc["errors"]
    assert error["param"] == param
    assert error["message"].startswith(message)
    assert get(client, "/api/evaluate", plan="current")["status"] == 200  # still serving


def test_a_modifier_error_names_which_one(client: TestClient) -> None:
    doc = client.get("/api/evaluate?token=test-token&plan=current&set=weight.activity_calls=0"
                     "&set=weight.new_logos=0.1&set=weight.renewal_rate=0.1").json()
    # Three metrics, less one, plus one, plus one: the third set makes a fourth (index 2).
    (error,) = doc["errors"]
    assert (error["param"], error["index"]) == ("set", 2)
    assert "a plan has at most 3" in error["message"]


def test_locks_that_cannot_hold_are_refused(session: Session) -> None:
    with pytest.raises(StateError) as caught:
        session.parse("plan=optimised&require=new_logos&require=renewal_rate"
                      "&require=pipeline_generated&limit=design.max_metrics=2")
    assert "max_metrics is 2" in str(caught.value)


def test_the_state_round_trips(session: Session) -> None:
    text = (f"plan=rounded&round=weights=0.1&set={SET}&shift={SHIFT}"
            "&limit=budget.expected_cap=20000000&lock=new_logos=0.2&forbid=smb_bookings")
    assert query(session.parse(text)) == text


# ------------------------------------------------------------------------- solving

def test_optimise_is_compplan_optimise_with_the_same_budget(client: TestClient,
                                                            tmp_path: Path) -> None:
    solved = client.post("/api/solve", params={"token": TOKEN, "plan": "optimised",
                                                "limit": "budget.expected_cap=20000000"}).json()
    assert solved["ok"] and solved["status"] == "optimal"
    doc = get(client, "/api/evaluate", plan="optimised", limit="budget.expected_cap=20000000")
    result = invoke("optimise", CASE, "--budget", "20000000", "--out", str(tmp_path / "p"), "-q")
    assert_exit(result, 0)
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert doc["plan"]["metrics"] == [
        {k: m[k] for k in doc["plan"]["metrics"][0]} for m in plan["metrics"]]
    assert doc["evaluation"]["alignment"] == pytest.approx(plan["evaluation"]["alignment"],
                                                           rel=1e-12)
    assert doc["evaluation"]["expected_cost"] == pytest.approx(
        plan["evaluation"]["expected_cost"], rel=1e-12)


def test_min_budget_is_compplan_min_budget(client: TestClient) -> None:
    solved = client.post("/api/solve", params={"token": TOKEN, "plan": "min-budget"}).json()
    assert solved["ok"]
    doc = get(client, "/api/evaluate", plan="min-budget")
    result = invoke("min-budget", CASE, "-q")
    assert_exit(result, 0)
    assert f"{doc['evaluation']['expected_cost']:,.0f}" in result.stdout


def test_an_infeasible_limit_shows_the_diagnosis(client: TestClient) -> None:
    params = {"token": TOKEN, "plan": "optimised", "limit": "budget.expected_cap=1000"}
    solved = client.post("/api/solve", params=params).json()
    assert solved["status"] == "infeasible" and not solved["ok"]
    assert solved["diagnosis"]["conflict"][0]["setting"] == "[budget] expected_cap"
    doc = get(client, "/api/evaluate", plan="optimised", limit="budget.expected_cap=1000")
    assert doc["status"] == 409 and doc["solve"]["status"] == "infeasible"


def test_a_solved_plan_not_designed_yet_asks_for_a_solve(client: TestClient) -> None:
    doc = get(client, "/api/evaluate", plan="optimised", lock="new_logos=0.2")
    assert doc["status"] == 409 and doc["needs_solve"] is True


def test_round_is_compplan_optimise_round(client: TestClient, tmp_path: Path) -> None:
    params = {"token": TOKEN, "plan": "rounded", "round": "weights=0.05,rates=0.05"}
    assert client.post("/api/solve", params=params).json()["ok"]
    doc = get(client, "/api/evaluate", plan="rounded", round="weights=0.05,rates=0.05")
    result = invoke("optimise", CASE, "--round", "weights=0.05,rates=0.05", "--out",
                    str(tmp_path / "r"), "-q")
    assert_exit(result, 0)
    plan = json.loads((tmp_path / "r" / "plan.json").read_text())
    assert [round(m["weight"] / 0.05, 9) % 1 for m in doc["plan"]["metrics"]] == \
        [0.0] * len(doc["plan"]["metrics"])
    assert doc["evaluation"]["alignment"] == pytest.approx(plan["evaluation"]["alignment"],
                                                           rel=1e-12)


def test_a_solve_whose_page_has_gone_is_killed() -> None:
    solver = Solver()
    seen: list[int] = []

    async def gone() -> bool:
        seen.extend(solver.running)
        return bool(seen)  # the page leaves as soon as the solve is running

    case = open_session(CASE)
    answer = asyncio.run(solver.solve(case.case, case.coeffs, "optimised", None, gone))
    assert answer is None
    assert solver.running == {}
    (pid,) = set(seen)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# ------------------------------------------------------------------------- compare

def test_compare_shows_what_compplan_compare_shows(client: TestClient, tmp_path: Path) -> None:
    response = client.get("/api/compare", params=[
        ("token", TOKEN), ("state", "plan=current"), ("state", f"plan=current&set={SET}")])
    data = response.json()
    assert data["headers"] == ["figure", "current", "current what-if",
                               "current what-if - current"]
    rows = {r["key"]: r for r in data["rows"]}
    assert rows["weight.enterprise_bookings"]["values"] == [0.4, 0.6]
    assert rows["weight.enterprise_bookings"]["cells"][-1] == "+20.0 pp"
    saved = client.post("/api/save", params={"token": TOKEN, "plan": "current", "set": SET},
                        json={"path": str(tmp_path / "w.toml")})
    assert saved.status_code == 200
    result = invoke("compare", CASE, "current", str(tmp_path / "w.toml"), "--out",
                    str(tmp_path / "cmp"), "-q")
    assert_exit(result, 0)
    csv = (tmp_path / "cmp" / "compare.csv").read_text().splitlines()
    line = next(row for row in csv if row.startswith("plan,weight.enterprise_bookings,"))
    assert line.split(",")[-3:-1] == ["0.4", "0.6"]


def test_compare_needs_two_states(client: TestClient) -> None:
    response = client.get("/api/compare", params={"token": TOKEN, "state": "plan=current"})
    assert response.status_code == 400


# ------------------------------------------------------------------------- files

def test_a_saved_plan_is_byte_for_byte_evaluate_write_plan(client: TestClient,
                                                          tmp_path: Path) -> None:
    ours = tmp_path / "studio.toml"
    answer = client.post("/api/save", params={"token": TOKEN, "plan": "current", "set": SET,
                                               "shift": SHIFT}, json={"path": str(ours)})
    assert answer.status_code == 200 and answer.json()["written"] == [str(ours)]
    theirs = tmp_path / "cli.toml"
    cli_whatif(tmp_path, ("--set", SET), ("--shift", SHIFT), plan_file=theirs)
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize(("path", "message"), [
    ("cases/enterprise_first/current_plan.toml", "is an input file of the case"),
    ("plan.txt", "the file name must end in .toml"),
    ("", "name the file to write"),
    ("-", "'-' (standard output) is not possible"),
])
def test_saving_over_an_input_or_a_wrong_name_is_refused(client: TestClient, path: str,
                                                         message: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    before = (ROOT / "cases/enterprise_first/current_plan.toml").read_bytes()
    answer = client.post("/api/save", params={"token": TOKEN, "plan": "current"},
                         json={"path": path})
    assert answer.status_code == 400
    assert message in answer.json()["errors"][0]["message"]
    assert (ROOT / "cases/enterprise_first/current_plan.toml").read_bytes() == before


def test_export_writes_the_report_and_the_workbook(client: TestClient, tmp_path: Path) -> None:
    for kind, name in (("report", "r.html"), ("workbook", "w.xlsx")):
        answer = client.post("/api/export", params={"token": TOKEN, "plan": "current",
                                                     "set": SET},
                             json={"kind": kind, "path": str(tmp_path / name)})
        assert answer.status_code == 200, answer.text
    html = (tmp_path / "r.html").read_text()
    assert "current what-if" in html and "default-src 'none'" in html
    assert (tmp_path / "w.xlsx").read_bytes()[:2] == b"PK"
    bad = client.post("/api/export", params={"token": TOKEN, "plan": "current"},
                      json={"kind": "pdf", "path": str(tmp_path / "x.pdf")})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["message"] == \
        "kind must be 'report' or 'workbook', got 'pdf'"


def test_locks_and_rules_are_compplan_optimise_on_a_case_that_writes_them(
        client: TestClient, tmp_path: Path) -> None:
    state = {"plan": "optimised", "lock": "new_logos=0.2", "forbid": "multi_product_deals"}
    assert client.post("/api/solve", params={"token": TOKEN, **state}).json()["ok"]
    doc = get(client, "/api/evaluate", **state)
    weights = {m["id"]: m["weight"] for m in doc["plan"]["metrics"]}
    assert weights["new_logos"] == pytest.approx(0.2, abs=1e-9)
    assert "multi_product_deals" not in weights
    # The same settings written into a copy of the case, solved by the command line.
    import shutil

    copy = tmp_path / "case"
    shutil.copytree(CASE, copy)
    text = (copy / "case.toml").read_text()
    text = text.replace("[metrics.new_logos]\n", "[metrics.new_logos]\nmin_weight = 0.2\n"
                        "max_weight = 0.2\nrequired = true\n")
    text = text.replace("[metrics.multi_product_deals]\n",
                        "[metrics.multi_product_deals]\nforbidden = true\n")
    (copy / "case.toml").write_text(text)
    result = invoke("optimise", str(copy), "--out", str(tmp_path / "p"), "-q")
    assert_exit(result, 0)
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert {m["id"]: m["weight"] for m in plan["metrics"]} == pytest.approx(weights, rel=1e-9)
    assert doc["evaluation"]["alignment"] == pytest.approx(plan["evaluation"]["alignment"],
                                                           rel=1e-9)


def test_requests_for_the_same_settings_share_one_solve() -> None:
    from compplan.studio.solving import design
    from compplan.studio.state import State

    session = open_session(CASE)
    solver = Solver()
    started: list[str] = []
    solve = solver.solve

    async def counted(*args: object) -> object:
        started.append(str(args[2]))
        return await solve(*args)  # type: ignore[arg-type]

    solver.solve = counted  # type: ignore[method-assign]

    async def never() -> bool:
        return False

    async def both() -> list[object]:
        state = State(plan="min-budget")
        return list(await asyncio.gather(design(session, solver, state, never),
                                         design(session, solver, state, never)))

    first, second = asyncio.run(both())
    assert started == ["min-budget"]
    assert first is second and session.solved[State(plan="min-budget").settings_key()] is first
    assert session.jobs == {}


# ------------------------------------------------------------------------- the command

def test_studio_names_a_plan_file_that_is_not_there(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("studio", CASE, "--plan", "nofile.json", "--no-browser")
    assert_exit(result, 2)
    assert result.stderr.strip().endswith(
        "Error: nofile.json: is not a file (give a plan.json, a plan TOML file, or 'current')")


def test_studio_says_when_its_port_is_taken() -> None:
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = invoke("studio", CASE, "--port", str(port), "--no-browser")
    finally:
        taken.close()
    assert_exit(result, 2)
    assert result.stderr.strip().endswith(
        f"Error: --port {port}: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "give another port or none")


def test_a_plan_file_to_start_from(tmp_path: Path) -> None:
    plan = tmp_path / "start.toml"
    plan.write_text('[[metrics]]\nid = "enterprise_bookings"\nweight = 0.5\n'
                    'accelerator_rate = 1.0\n\n[[metrics]]\nid = "new_logos"\nweight = 0.5\n'
                    'accelerator_rate = 0.8333333333333334\n')
    session = open_session(CASE, str(plan))
    assert session.first_plan == str(plan) and session.plans.keys() == {"current", str(plan)}
    assert session.inputs == [Path(CASE), plan]  # never written over
    doc = session.document(session.parse(f"plan={plan}&set=weight.new_logos=0.3"))
    assert {m["id"]: m["weight"] for m in doc["plan"]["metrics"]} == pytest.approx(
        {"enterprise_bookings": 0.7, "new_logos": 0.3})
    assert doc["plan"]["name"] == "start what-if"
    # The accelerator multiple is kept as the weight moves: 0.5 / (1 - 0.5) = 1 per unit
    # of attainment below target, 1.0 above: a multiple of 1.0.
    enterprise = doc["plan"]["metrics"][0]
    assert enterprise["accelerator_multiple"] == pytest.approx(1.0)
    assert enterprise["accelerator_rate"] == pytest.approx(0.7 / 0.5)


def test_figures_under_response_are_passed_on_when_the_evaluation_has_them() -> None:
    from dataclasses import dataclass

    from compplan.studio.session import _response

    @dataclass
    class WithResponse:
        response: dict[str, float]

    assert _response(WithResponse({"expected_cost": 1.5e7, "alignment": 0.4})) == {
        "expected_cost": 1.5e7, "alignment": 0.4}
    assert _response(object()) is None


def test_segment_attainment_is_the_mean_over_the_segments_rep_periods(client: TestClient) -> None:
    import pandas as pd

    doc = get(client, "/api/evaluate", plan="current")
    reps = pd.read_csv(Path(CASE) / "reps.csv")
    rows = pd.read_csv(Path(CASE) / "attainment.csv").merge(reps, on="rep_id")
    by_hand = rows.groupby("segment")["enterprise_bookings"].mean()
    assert set(doc["segment_attainment"]) == set(by_hand.index)
    for segment, mean in by_hand.items():
        assert doc["segment_attainment"][segment]["enterprise_bookings"] == pytest.approx(
            mean, rel=1e-12)
        # Only the plan's metrics are listed.
        assert set(doc["segment_attainment"][segment]) == {
            "enterprise_bookings", "smb_bookings", "activity_calls"}


def test_a_link_reproduces_the_candidate_in_another_studio(client: TestClient) -> None:
    state = [("plan", "optimised"), ("limit", "budget.expected_cap=20500000"),
             ("set", "accelerator.enterprise_bookings=2")]
    other = create_app(open_session(CASE), "another-token")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(other) as second:
            docs = []
            for c, token in ((client, TOKEN), (second, "another-token")):
                assert c.post("/api/solve", params=[("token", token), *state]).json()["ok"]
                docs.append(c.get("/api/evaluate", params=[("token", token), *state]).json())
            assert client.get("/api/case", params={"token": "another-token"}).status_code == 403
    assert docs[0]["state"] == docs[1]["state"] == (
        "plan=optimised&set=accelerator.enterprise_bookings=2&limit=budget.expected_cap=20500000")
    assert docs[0]["plan"] == docs[1]["plan"]
    assert _same(docs[0]["evaluation"], docs[1]["evaluation"])


# ------------------------------------------------------------------------- the year so far

ACTUALS = str(ROOT / "cases" / "enterprise_first" / "actuals.csv")


@pytest.fixture(scope="module")
def pulse_client() -> Iterator[TestClient]:
    app = create_app(open_session(CASE, actuals=ACTUALS), TOKEN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(app) as c:
            yield c


def test_the_year_so_far_is_compplan_pulse_without_the_retune(pulse_client: TestClient,
                                                              tmp_path: Path) -> None:
    saved = tmp_path / "whatif.toml"
    assert pulse_client.post("/api/save", params={"token": TOKEN, "plan": "current", "set": SET},
                             json={"path": str(saved)}).status_code == 200
    for state, plan in (({"plan": "current"}, "current"),
                        ({"plan": "current", "set": SET}, str(saved))):
        response = pulse_client.get("/api/pulse", params={"token": TOKEN, **state})
        assert response.status_code == 200
        ours = response.json()  # its own "status" is the pulse's (pulse.json)
        out = tmp_path / f"pulse-{Path(plan).stem}"
        result = invoke("pulse", CASE, plan, "--actuals", ACTUALS, "--out", str(out), "-q")
        assert result.exit_code in (0, 3), result.output  # 3: no re-tune saves the year
        theirs = json.loads((out / "pulse.json").read_text())
        for key in ("paid_to_date", "expected_to_date", "forecast_year_total", "year_budget",
                    "paid_percentile", "forecast_band", "paid_by_period", "guardrails", "drift"):
            assert _same(ours[key], theirs[key]), key
        assert ours["retune"] is None


def test_the_year_so_far_needs_actuals(client: TestClient) -> None:
    doc = get(client, "/api/pulse", plan="current")
    assert doc["status"] == 400
    assert doc["errors"][0]["message"] == "the studio was started without --actuals FILE"
