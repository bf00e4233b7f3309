"""The studio of an organisation (``compplan studio ORG_DIR``) without a browser.

Each role's what-if is ``compplan evaluate ROLE_DIR current --set``'s payout figures;
the organisation's figures are ``compplan evaluate ORG_DIR current``'s, and its
expected payout the sum of the roles' (by hand).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_exit, invoke

from compplan.studio.org import OrgSession, open_org_session

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx
    from starlette.testclient import TestClient

    from compplan.studio.app import create_org_app

ROOT = Path(__file__).parent.parent
ORG = str(ROOT / "cases" / "gtm_org")
TOKEN = "org-token"


@pytest.fixture(scope="module")
def session() -> OrgSession:
    return open_org_session(ORG)


@pytest.fixture(scope="module")
def client(session: OrgSession) -> Iterator[TestClient]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(create_org_app(session, TOKEN)) as c:
            yield c


def test_the_token_is_needed(client: TestClient) -> None:
    assert client.get("/api/org/case").status_code == 403
    assert client.get("/api/org/evaluate", params={"token": "x"}).status_code == 403
    page = client.get("/", params={"token": TOKEN})
    assert page.status_code == 200 and f"/static/org.js?token={TOKEN}" in page.text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_todays_plans_are_compplan_evaluate_org_dir(client: TestClient, tmp_path: Path) -> None:
    ours = client.get("/api/org/evaluate", params={"token": TOKEN}).json()["evaluation"]
    result = invoke("evaluate", ORG, "current", "--out", str(tmp_path / "ev"), "-q")
    assert_exit(result, 0)
    theirs = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    for key in ("objective", "total", "checks", "conflicts", "unserved_goals", "conflict_map"):
        assert _same(ours[key], theirs[key]), key


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-12)
    return a == b


def test_a_roles_whatif_moves_the_organisation(client: TestClient,
                                               session: OrgSession) -> None:
    doc = client.get("/api/org/evaluate", params={"token": TOKEN, "role": "ae",
                                                   "ae.set": "weight.bookings=0.3"}).json()
    ev = doc["evaluation"]
    roles = {r["id"]: r for r in ev["roles"]}
    # By hand: the organisation's expected payout is the sum of the roles'.
    assert ev["objective"]["expected_cost"] == pytest.approx(
        sum(r["expected_cost"] for r in roles.values()), rel=1e-12)
    assert doc["roles"]["ae"]["name"] == "current what-if"
    assert doc["roles"]["sdr"]["name"] == "current"
    assert doc["state"] == "ae.set=weight.bookings=0.3"
    # By hand: today's plan of the account executives is bookings and pipeline; bookings
    # set to 0.3 leaves 0.7 to pipeline.
    assert {m["id"]: m["weight"] for m in roles["ae"]["metrics"]} == pytest.approx(
        {"bookings": 0.3, "pipeline_accepted": 0.7})
    # The role's figures are those of the case studio on the role (checked against
    # compplan evaluate --set in test_studio_server.py).
    ae = session.roles["ae"]
    alone = ae.document(ae.parse("plan=current&set=weight.bookings=0.3"))
    assert _same(roles["ae"]["evaluation"], alone["evaluation"])


@pytest.mark.parametrize(("params", "param", "message"), [
    ({"xx.set": "weight.a=1"}, "xx.set", "'xx' is not a role of the organisation"),
    ({"ae.set": "weight.bookings=abc"}, "ae.set", "'abc' is not a number"),
    ({"ae.set": "weight.nope=0.2"}, "ae.set", "'nope' is not a metric of the case"),
])
def test_bad_input_names_the_role_and_its_parameter(client: TestClient, params: dict[str, str],
                                                   param: str, message: str) -> None:
    response = client.get("/api/org/evaluate", params={"token": TOKEN, **params})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["param"] == param and error["message"].startswith(message)


def test_an_organisation_takes_no_plan_file() -> None:
    result = invoke("studio", ORG, "--plan", "x.json", "--no-browser")
    assert_exit(result, 2)
    assert result.stderr.strip() == ("Error: --plan applies to a case folder; the studio of an "
                                     "organisation starts from every role's current plan")
