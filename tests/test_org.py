"""Organisations (MODEL.md section 7): hand-computed optima of tiny organisations.

See ``org_helpers`` for the shared set-up: with every metric at attainment 1.5, a
metric of weight ``w`` adds ``a_m w`` to its role's alignment and costs
``2 w TI_p``; at attainment 1.0 it costs ``w TI_p``. Each role has two reps of target
incentive 1000 (``TI_p = 2000``), so ``s_p = 0.5`` and the organisation's alignment is
``0.5 (alignment_a + alignment_b)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CONFORMANCE
from org_helpers import metric, role_case, write_org

from compplan.cli.main import main
from compplan.errors import InfeasibleError
from compplan.models.org import load_org
from compplan.optimizer.org_pipeline import optimise_org

C5 = CONFORMANCE / "c5_org"


def optimum(value: float) -> Any:
    """Ties within 1e-7 (relative) go to the cheaper plans: figures may sit that far off."""
    return pytest.approx(value, rel=2e-7, abs=2e-7)


def weights(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per role, the weight of each paid metric, to 5 decimals.

    The tie-break may trade up to 1e-7 of alignment for a cheaper plan, so a weight
    may sit a few 1e-7 off its exact value (and a metric carry a weight of that size).
    """
    return {r["id"]: {m["id"]: round(m["weight"], 5) for m in r["plan"]["metrics"]
                      if m["weight"] > 1e-5} for r in doc["roles"]}


def design(folder: Path, **org: Any) -> dict[str, Any]:
    return optimise_org(load_org(folder), **org).document


# ------------------------------------------------------------------ the conformance case

@pytest.mark.parametrize("method", ["auto", "full", "cuts"])
def test_c5_org_conforms(method: str) -> None:
    expected = json.loads((C5 / "expected.json").read_text())
    doc = design(C5, tail_method=method)
    assert doc["status"] == "optimal"
    assert doc["objective"]["alignment"] == pytest.approx(expected["alignment"], rel=1e-6)
    assert doc["objective"]["expected_cost"] == pytest.approx(expected["expected_cost"],
                                                              rel=1e-6)
    for role in doc["roles"]:
        got = {m["id"]: (m["weight"], m["accelerator_rate"]) for m in role["plan"]["metrics"]}
        want = expected["roles"][role["id"]]
        assert set(got) == set(want)
        for mid, figures in want.items():
            assert got[mid] == pytest.approx((figures["weight"], figures["accelerator_rate"]),
                                             rel=1e-6, abs=1e-6)


def test_c5_org_cli_writes_org_plan_and_role_plans(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["optimise", str(C5), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "org_plan.json").read_text())
    assert doc["schema"] == "compplan.org_plan/1"
    assert doc["org"] == "Sales and marketing"
    assert [r["id"] for r in doc["roles"]] == ["sales", "marketing"]
    assert set(doc["roles"][0]) >= {"id", "label", "share", "alignment", "expected_cost",
                                    "plan"}
    assert "current_conflicts" not in doc  # no role has current_plan.toml
    assert sum(r["share"] for r in doc["roles"]) == pytest.approx(1.0)
    for role in doc["roles"]:
        on_disk = json.loads((out / role["id"] / "plan.json").read_text())
        assert on_disk == role["plan"]
        assert on_disk["schema"] == "compplan.plan/1"
        assert (out / role["id"] / "plan.md").is_file()
    assert doc["objective"]["alignment"] == pytest.approx(
        sum(r["share"] * r["alignment"] for r in doc["roles"]))


def test_validate_org(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(C5)])
    assert result.exit_code == 0
    assert result.stdout == (
        f"{C5}: valid organisation 'Sales and marketing', 2 roles (sales: 40 reps, 3 "
        "candidate metrics, 6 historical scenarios; marketing: 20 reps, 3 candidate "
        "metrics, 6 historical scenarios)\n")


# ------------------------------------------------------------------ the shared budget

def budget_org(tmp_path: Path, cap: float | None) -> Path:
    # Role a: 'good' serves g fully (a = 1); role b: its 'good' serves it half (a = 0.5).
    # 'safe' serves nothing and sits at 1.0: it pays w. So role p costs
    # 2000 (2 w_good + w_safe) = 2000 (1 + w_good) and adds a_p w_good of alignment.
    for rid, a in (("a", 1.0), ("b", 0.5)):
        role_case(tmp_path / rid, rid.upper(),
                  {"good": metric({"g": a}), "safe": metric({"g": 0.0})},
                  {"good": 1.5, "safe": 1.0})
    return write_org(tmp_path, {"g": 1.0}, {"a": {"path": "a"}, "b": {"path": "b"}},
                     budget=None if cap is None else {"expected_cap": cap})


def test_without_an_org_cap_every_role_pays_for_the_goal(tmp_path: Path) -> None:
    # w_good = 1 in both: alignment 0.5 (1 + 0.5) = 0.75; cost 2000 x 2 x 2 = 8000.
    doc = design(budget_org(tmp_path, None))
    assert doc["objective"]["alignment"] == optimum(0.75)
    assert doc["objective"]["expected_cost"] == optimum(8000.0)
    assert weights(doc) == {"a": {"good": 1.0}, "b": {"good": 1.0}}


def test_the_shared_budget_moves_weight_to_the_better_aligned_role(tmp_path: Path) -> None:
    # Cap 7000: 4000 + 2000 (w_a + w_b) <= 7000, so w_a + w_b <= 1.5. A unit of w buys
    # 0.5 alignment in a and 0.25 in b at the same price: w_a = 1, w_b = 0.5.
    # Alignment 0.5 (1 + 0.5 x 0.5) = 0.625.
    doc = design(budget_org(tmp_path, 7000.0))
    assert doc["objective"]["alignment"] == optimum(0.625)
    assert doc["objective"]["expected_cost"] == optimum(7000.0)
    assert weights(doc) == {"a": {"good": 1.0}, "b": {"good": 0.5, "safe": 0.5}}
    # The tie-break's 1e-7 of alignment may save a little money, so costs to 1e-6.
    assert [r["expected_cost"] for r in doc["roles"]] == pytest.approx([4000.0, 3000.0],
                                                                       rel=1e-6)



def test_the_org_cap_price_says_where_the_next_dollar_goes(tmp_path: Path) -> None:
    # At cap 7000 one more dollar buys 1/2000 of w_b, worth 0.5 x 0.5 / 2000 = 1.25e-4 of
    # alignment, and all of it goes to role b. One percent of the cap (70) buys 0.00875.
    doc = design(budget_org(tmp_path, 7000.0))
    [price] = doc["guardrail_prices"]
    assert price["guardrail"] == "org_budget_expected"
    assert price["shadow_price"] == pytest.approx(1.25e-4, rel=1e-6)
    assert price["per_percent"] == pytest.approx(0.00875, rel=1e-6)
    assert price["next_dollar"] == {"a": pytest.approx(0.0, abs=1e-9),
                                    "b": pytest.approx(1.0)}

def test_a_tighter_cap_takes_the_goal_from_role_b_first(tmp_path: Path) -> None:
    # Cap 5000: w_a + w_b <= 0.5, all of it to a: alignment 0.5 x 0.5 = 0.25.
    doc = design(budget_org(tmp_path, 5000.0))
    assert doc["objective"]["alignment"] == optimum(0.25)
    assert weights(doc) == {"a": {"good": 0.5, "safe": 0.5}, "b": {"safe": 1.0}}


def test_an_org_cap_below_the_cheapest_plans_exits_3(tmp_path: Path) -> None:
    # The cheapest plans pay only 'safe': 2000 + 2000 = 4000 > 3000.
    folder = budget_org(tmp_path, 3000.0)
    with pytest.raises(InfeasibleError) as info:
        optimise_org(load_org(folder))
    report = info.value.report
    assert [c["rule"] for c in report["conflict"]] == ["org.budget_expected"]
    change = report["smallest_single_changes"][0]
    assert change["needed"] == pytest.approx(4000.0)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["optimise", str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: no plans satisfy the organisation's rules: the organisation's expected-cost "
        "cap (org.toml [budget] expected_cap) cannot be met by any plans that follow the "
        "roles' design rules; smallest single change that admits plans: raise org.toml "
        "[budget] expected_cap from 3,000 USD to 4,000 USD (the expected cost of the "
        "cheapest plans meeting every other rule)\n"
        f"(details in {out / 'infeasibility.json'})\n")
    assert json.loads((out / "infeasibility.json").read_text())["conflict"][0]["rule"] \
        == "org.budget_expected"


def test_the_org_cvar_cap_reads_scenario_s_as_the_same_period_in_every_role(
        tmp_path: Path) -> None:
    # 'safe' pays w in the period it sits at 1.0 and nothing where it sits at 0.5; role a
    # has its bad period in P02, role b in P01, so their totals move against each other:
    # P01 = 2000 (1 + w_a) + 4000 w_b, P02 = 4000 w_a + 2000 (1 + w_b). With two periods
    # and cvar_level 0.5 the CVaR is the larger of them; cap 7000:
    # w_a + 2 w_b <= 2.5 and 2 w_a + w_b <= 2.5. Alignment 0.5 (w_a + 0.4 w_b): w_a = 1,
    # w_b = 0.5 (taking from a gives b twice as much but b is worth 0.4 < 0.5). Alignment
    # 0.5 (1 + 0.2) = 0.6; expected cost (6000 + 7000) / 2 = 6500, CVaR 7000.
    for rid, a, safe in (("a", 1.0, [1.0, 0.5]), ("b", 0.4, [0.5, 1.0])):
        folder = role_case(tmp_path / rid, rid.upper(),
                           {"good": metric({"g": a}), "safe": metric({"g": 0.0})},
                           {"good": 1.5, "safe": 1.0})
        lines = (folder / "attainment.csv").read_text().splitlines()
        body = [line.rsplit(",", 1)[0] + f",{safe[int(line.split(',')[1][-1]) - 1]}"
                for line in lines[1:]]
        (folder / "attainment.csv").write_text("\n".join([lines[0], *body]) + "\n")
    folder = write_org(tmp_path, {"g": 1.0}, {"a": {"path": "a"}, "b": {"path": "b"}},
                       budget={"cvar_level": 0.5, "cvar_cap": 7000.0})
    for method in ("full", "cuts"):
        doc = design(folder, tail_method=method)
        assert doc["objective"]["alignment"] == optimum(0.6)
        assert doc["objective"]["expected_cost"] == pytest.approx(6500.0, rel=1e-6)
        assert doc["evaluation"]["cvar"] == pytest.approx(7000.0, rel=1e-6)
        assert weights(doc) == {"a": {"good": 1.0}, "b": {"good": 0.5, "safe": 0.5}}


# ------------------------------------------------------------------ coherence rules

ONE = {"max_metrics": 1}


def opposing_org(tmp_path: Path, no_opposing: bool) -> Path:
    # Goals g1 0.5, g2 0.5. a.volume: a = 0.5 - 0.2 = 0.3 (works against g2);
    # a.quality: 0.2. b.margin: 0.5 (serves g2); b.reach: 0.1. One metric per role.
    role_case(tmp_path / "a", "A", {"volume": metric({"g1": 1.0, "g2": -0.4}),
                                    "quality": metric({"g1": 0.4})},
              {"volume": 1.5, "quality": 1.5}, ONE)
    role_case(tmp_path / "b", "B", {"margin": metric({"g2": 1.0}),
                                    "reach": metric({"g1": 0.2})},
              {"margin": 1.5, "reach": 1.5}, ONE)
    return write_org(tmp_path, {"g1": 0.5, "g2": 0.5}, {"a": {"path": "a"}, "b": {"path": "b"}},
                     coherence={"no_opposing": no_opposing})


def test_without_no_opposing_a_role_is_paid_against_the_other(tmp_path: Path) -> None:
    # volume + margin: 0.5 (0.3 + 0.5) = 0.4, with one conflict on g2.
    doc = design(opposing_org(tmp_path, False))
    assert doc["objective"]["alignment"] == optimum(0.4)
    assert weights(doc) == {"a": {"volume": 1.0}, "b": {"margin": 1.0}}
    assert doc["conflicts"] == [{"goal": "g2", "serves": "b.margin", "against": "a.volume"}]


def test_no_opposing_changes_the_plan(tmp_path: Path) -> None:
    # quality + margin 0.5 (0.2 + 0.5) = 0.35 beats volume + reach 0.5 (0.3 + 0.1) = 0.2.
    doc = design(opposing_org(tmp_path, True))
    assert doc["objective"]["alignment"] == optimum(0.35)
    assert weights(doc) == {"a": {"quality": 1.0}, "b": {"margin": 1.0}}
    assert doc["conflicts"] == []


def cover_org(tmp_path: Path, cover: bool, goals: dict[str, float] | None = None) -> Path:
    # Goals g1 0.9, g2 0.1. a.x 0.9, a.y 0.1 (the only metric serving g2); b.x 0.9, b.z 0.45.
    role_case(tmp_path / "a", "A", {"x": metric({"g1": 1.0}), "y": metric({"g2": 1.0})},
              {"x": 1.5, "y": 1.5}, ONE)
    role_case(tmp_path / "b", "B", {"x": metric({"g1": 1.0}), "z": metric({"g1": 0.5})},
              {"x": 1.5, "z": 1.5}, ONE)
    return write_org(tmp_path, goals or {"g1": 0.9, "g2": 0.1},
                     {"a": {"path": "a"}, "b": {"path": "b"}}, coherence={"cover_goals": cover})


def test_without_cover_goals_nobody_serves_the_small_goal(tmp_path: Path) -> None:
    doc = design(cover_org(tmp_path, False))
    assert doc["objective"]["alignment"] == optimum(0.9)
    assert weights(doc) == {"a": {"x": 1.0}, "b": {"x": 1.0}}


def test_cover_goals_changes_the_plan(tmp_path: Path) -> None:
    # g2 must be served: a pays y. 0.5 (0.1 + 0.9) = 0.5.
    doc = design(cover_org(tmp_path, True))
    assert doc["objective"]["alignment"] == optimum(0.5)
    assert weights(doc) == {"a": {"y": 1.0}, "b": {"x": 1.0}}


def test_a_goal_no_role_can_serve_exits_3_naming_it(tmp_path: Path) -> None:
    folder = cover_org(tmp_path, True, {"g1": 0.9, "g2": 0.1, "g3": 0.2})
    with pytest.raises(InfeasibleError) as info:
        optimise_org(load_org(folder))
    report = info.value.report
    assert report["conflict"] == [{"rule": "coherence.cover_goals.g3",
                                   "setting": "org.toml [coherence] cover_goals",
                                   "value": True}]
    assert report["smallest_single_changes"][0]["action"] == \
        "drop org.toml [coherence] cover_goals for goal 'g3'"


def handoff_org(tmp_path: Path, handoffs: list[list[str]]) -> Path:
    # One goal. a.leads 1.0, a.other 0.5; b.pipeline 0.2, b.bookings 1.0. One metric each.
    role_case(tmp_path / "a", "A", {"leads": metric({"g": 1.0}), "other": metric({"g": 0.5})},
              {"leads": 1.5, "other": 1.5}, ONE)
    role_case(tmp_path / "b", "B", {"pipeline": metric({"g": 0.2}),
                                    "bookings": metric({"g": 1.0})},
              {"pipeline": 1.5, "bookings": 1.5}, ONE)
    return write_org(tmp_path, {"g": 1.0}, {"a": {"path": "a"}, "b": {"path": "b"}},
                     coherence={"handoffs": handoffs} if handoffs else None)


def test_without_a_handoff_each_role_takes_its_best_metric(tmp_path: Path) -> None:
    doc = design(handoff_org(tmp_path, []))
    assert doc["objective"]["alignment"] == optimum(1.0)
    assert weights(doc) == {"a": {"leads": 1.0}, "b": {"bookings": 1.0}}


def test_a_handoff_changes_the_plan(tmp_path: Path) -> None:
    # leads forces pipeline: 0.5 (1 + 0.2) = 0.6; other + bookings: 0.5 (0.5 + 1) = 0.75.
    doc = design(handoff_org(tmp_path, [["a.leads", "b.pipeline"]]))
    assert doc["objective"]["alignment"] == optimum(0.75)
    assert weights(doc) == {"a": {"other": 1.0}, "b": {"bookings": 1.0}}


def test_current_conflicts_from_current_plans(tmp_path: Path) -> None:
    folder = opposing_org(tmp_path, True)
    (folder / "a" / "current_plan.toml").write_text(
        '[[metrics]]\nid = "volume"\nweight = 1.0\naccelerator_rate = 2.0\n')
    (folder / "b" / "current_plan.toml").write_text(
        '[[metrics]]\nid = "margin"\nweight = 1.0\naccelerator_rate = 2.0\n')
    doc = design(folder)
    assert doc["current_conflicts"] == [{"goal": "g2", "serves": "b.margin",
                                         "against": "a.volume"}]
    assert doc["conflicts"] == []
    # Today: a pays volume (a = 0.3), b margin (0.5), each w = 1, u = 2: alignment per
    # role a_m x 0.5 u = a_m, organisation 0.5 (0.3 + 0.5) = 0.4; each role costs
    # 2000 (w + 0.5 u) = 4000.
    assert doc["current"]["alignment"] == pytest.approx(0.4)
    assert doc["current"]["expected_cost"] == pytest.approx(8000.0)
    assert doc["current"]["roles"]["a"]["alignment"] == pytest.approx(0.3)


# ------------------------------------------------------------------ min-budget

def test_min_budget_is_the_cost_of_the_cheapest_plans_and_splits_by_role(
        tmp_path: Path) -> None:
    # Cheapest: w_good = 0 in both roles, each costs 2000 (1 + 0): 4000 in all.
    folder = budget_org(tmp_path, 7000.0)
    result = CliRunner().invoke(main, ["min-budget", str(folder), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ("minimum organisation expected-cost cap: 4,000 USD per period "
                             "(the organisation's cap 7,000 admits it); split: a 2,000, "
                             "b 2,000\n")



def test_min_budget_out_when_no_plans_fit_writes_the_explanation(tmp_path: Path) -> None:
    # cover_goals with a goal no role serves: no plans at any budget. Exit 3 and
    # DIR/infeasibility.json in place of an earlier run's plans (MODEL.md section 6).
    out = tmp_path / "out"
    first = CliRunner().invoke(main, ["min-budget", str(budget_org(tmp_path / "ok", 7000.0)),
                                      "--out", str(out), "-q"])
    assert first.exit_code == 0, first.output
    assert (out / "org_plan.json").is_file()
    folder = cover_org(tmp_path / "bad", True, {"g1": 0.9, "g2": 0.1, "g3": 0.2})
    result = CliRunner().invoke(main, ["min-budget", str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.stderr.endswith(f"(details in {out / 'infeasibility.json'})\n")
    assert sorted(p.name for p in out.iterdir()
           if not p.name.startswith(".")) == ["infeasibility.json"]
    report = json.loads((out / "infeasibility.json").read_text())
    assert report["conflict"][0]["rule"] == "coherence.cover_goals.g3"


# ------------------------------------------------------------------ audit

def test_audit_of_todays_plans_maps_each_goal_by_role(tmp_path: Path) -> None:
    # Today a pays volume, b margin, each w = 1 and u = 2 at attainment 1.5: one step adds
    # psi 0.5, so U = 0.5 x 2 = 1 and the org-weighted incentive is s_p U = 0.5 each.
    # g1: a serves it with 0.5 x 1. g2: b serves it with 0.5 x 1, a works against it with
    # 0.5 x 0.4 = 0.2. Net: g1 0.5, g2 0.3.
    folder = opposing_org(tmp_path, True)
    (folder / "a" / "current_plan.toml").write_text(
        '[[metrics]]\nid = "volume"\nweight = 1.0\naccelerator_rate = 2.0\n')
    (folder / "b" / "current_plan.toml").write_text(
        '[[metrics]]\nid = "margin"\nweight = 1.0\naccelerator_rate = 2.0\n')
    out = tmp_path / "audit"
    result = CliRunner().invoke(main, ["audit", str(folder), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "audit_org.json").read_text())
    assert doc["schema"] == "compplan.org_audit/1"
    cells = {(row["goal"], c["role"]): (c["serves"], c["against"], c["direction"])
             for row in doc["goals"] for c in row["cells"]}
    assert cells[("g1", "a")] == (pytest.approx(0.5), 0.0, "serves")
    assert cells[("g1", "b")] == (0.0, 0.0, "none")
    assert cells[("g2", "a")] == (0.0, pytest.approx(0.2), "against")
    assert cells[("g2", "b")] == (pytest.approx(0.5), 0.0, "serves")
    assert [row["net"] for row in doc["goals"]] == [pytest.approx(0.5), pytest.approx(0.3)]
    assert doc["conflicts"] == [{"goal": "g2", "serves": "b.margin", "against": "a.volume"}]
    assert doc["unserved"] == []
    assert (out / "audit_org.md").read_text().startswith("# Conflict map of Tiny org")


def test_audit_of_a_designed_org_plan_names_unserved_goals(tmp_path: Path) -> None:
    # Without cover_goals the designed plans pay x in both roles: nobody serves g2.
    folder = cover_org(tmp_path, False)
    plans = tmp_path / "plans"
    assert CliRunner().invoke(main, ["optimise", str(folder), "--out", str(plans),
                                     "-q"]).exit_code == 0
    out = tmp_path / "audit"
    result = CliRunner().invoke(main, ["audit", str(folder), str(plans / "org_plan.json"),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "audit_org.json").read_text())
    assert doc["unserved"] == ["g2"]
    assert "goals nobody is paid to serve: g2\n" in result.stdout


def test_org_plans_are_byte_identical_by_default(tmp_path: Path) -> None:
    folder = opposing_org(tmp_path / "org", True)
    texts = []
    for run in ("one", "two"):
        out = tmp_path / run
        result = CliRunner().invoke(main, ["optimise", str(folder), "--out", str(out), "-q"])
        assert result.exit_code == 0, result.output
        texts.append([(out / name).read_bytes() for name in
                      ("org_plan.json", "a/plan.json", "b/plan.json")])
    assert texts[0] == texts[1]
    # No wall time in the plans (MODEL.md section 6): it is in run.json.
    assert "seconds" not in json.loads(texts[0][0])["solver"]
    assert "solver_seconds" in json.loads((tmp_path / "one" / "run.json").read_text())


# ------------------------------------------------------------------ more infeasible orgs

def test_a_role_cap_in_the_conflict_is_named_with_its_smallest_change(tmp_path: Path) -> None:
    # Role b's cheapest plan pays only 'safe' (w = 1 at attainment 1.0): 2000. With b's own
    # cap at 1500 the conflict is that cap alone, and the smallest that admits plans is
    # 2000.
    folder = budget_org(tmp_path, None)
    with (folder / "b" / "case.toml").open("a") as handle:
        handle.write("\n[budget]\nexpected_cap = 1500.0\n")
    with pytest.raises(InfeasibleError) as info:
        optimise_org(load_org(folder))
    report = info.value.report
    assert report["conflict"] == [{"rule": "b.budget_expected",
                                   "setting": "b/case.toml [budget] expected_cap",
                                   "value": 1500.0}]
    [change] = report["smallest_single_changes"]
    assert change["needed"] == pytest.approx(2000.0, rel=1e-6)
    assert change["action"] == ("raise b/case.toml [budget] expected_cap from 1,500 USD to "
                                "2,000 USD")


def test_a_handoff_to_a_forbidden_metric_is_named(tmp_path: Path) -> None:
    # a.leads is required and hands off to b.pipeline, which b may not pay.
    role_case(tmp_path / "a", "A", {"leads": metric({"g": 1.0}, required=True),
                                    "other": metric({"g": 0.5})},
              {"leads": 1.5, "other": 1.5}, ONE)
    role_case(tmp_path / "b", "B", {"pipeline": metric({"g": 0.2}, forbidden=True),
                                    "bookings": metric({"g": 1.0})},
              {"pipeline": 1.5, "bookings": 1.5}, ONE)
    folder = write_org(tmp_path, {"g": 1.0}, {"a": {"path": "a"}, "b": {"path": "b"}},
                       coherence={"handoffs": [["a.leads", "b.pipeline"]]})
    with pytest.raises(InfeasibleError) as info:
        optimise_org(load_org(folder))
    report = info.value.report
    assert report["conflict"] == [{"rule": "coherence.handoff.1",
                                   "setting": "org.toml [coherence] handoffs #1",
                                   "value": "a.leads -> b.pipeline"}]
    assert report["smallest_single_changes"][0]["action"] == \
        "drop org.toml [coherence] handoffs #1"


def test_montecarlo_roles_solve_together_and_the_org_cvar_as_cuts_agrees(
        tmp_path: Path) -> None:
    # Same count in every role: scenario s of one role is scenario s of the others. The
    # org CVaR over 200 scenarios is written as cuts under "auto" (> 100 values): the
    # same optimum as its full Rockafellar-Uryasev rows.
    folder = budget_org(tmp_path, None)
    for rid in ("a", "b"):
        path = folder / rid / "case.toml"
        path.write_text(path.read_text() + '\n[scenarios]\nmode = "montecarlo"\ncount = 200\n'
                        "seed = 3\n")
    org_toml = folder / "org.toml"
    org_toml.write_text(org_toml.read_text() + "\n[budget]\ncvar_level = 0.9\n"
                        "cvar_cap = 7000.0\n")
    full, cuts = design(folder, tail_method="full"), design(folder, tail_method="cuts")
    assert full["status"] == cuts["status"] == "optimal"
    assert cuts["objective"]["alignment"] == pytest.approx(full["objective"]["alignment"],
                                                           rel=1e-6)
    assert cuts["evaluation"]["cvar"] <= 7000.0 * (1 + 1e-7)
    assert full["objective"]["alignment"] < 0.75  # the CVaR cap binds


def test_role_prices_without_a_range_say_not_computed(tmp_path: Path) -> None:
    # A role's guardrail price in an organisation is the joint LP's dual with no range:
    # null in plan.json and "not computed" in plan.md (not a dash standing for NaN).
    out = tmp_path / "out"
    gtm_org = Path(__file__).parent.parent / "cases" / "gtm_org"
    result = CliRunner().invoke(main, ["optimise", str(gtm_org), "--out", str(out),
                                       "-q"])
    assert result.exit_code == 0, result.output
    priced = 0
    for role in ("sdr", "ae", "csm"):
        doc = json.loads((out / role / "plan.json").read_text())
        for price in doc["guardrail_prices"]:
            assert price["valid_from"] is None and price["valid_to"] is None
        text = (out / role / "plan.md").read_text()
        assert "— to —" not in text and "nan" not in text
        priced += text.count("| not computed |")
    assert priced >= 1
