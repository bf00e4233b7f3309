"""evaluate and compare on an organisation: hand-computed figures of tiny organisations.

See ``org_helpers``: each role has two reps of target incentive 1000 (``TI_p = 2000``,
``s_p = 0.5``); a canonical metric of weight ``w`` and accelerator rate ``2 w`` pays
``2 w`` of target at attainment 1.5 and ``w`` at 1.0, and one step adds ``w`` there.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_case
from org_helpers import TI, metric, role_case, write_org

from compplan.cli.main import main
from compplan.models.org import load_org
from compplan.optimizer.org import org_coefficients
from compplan.optimizer.org_evaluate import evaluate_org, load_org_plans

ONE = {"max_metrics": 1}
PAY = '[[metrics]]\nid = "{}"\nweight = 1.0\naccelerator_rate = 2.0\n'


def today(folder: Path, plans: dict[str, str]) -> None:
    for rid, mid in plans.items():
        (folder / rid / "current_plan.toml").write_text(PAY.format(mid))


def opposing_org(tmp_path: Path, cap: float | None = 7000.0) -> Path:
    # Goals g1 0.5, g2 0.5. a.volume: a = 0.5 - 0.2 = 0.3 (against g2); a.quality 0.2;
    # b.margin 0.5 (serves g2); b.reach 0.1. Today a pays volume, b margin.
    role_case(tmp_path / "a", "A", {"volume": metric({"g1": 1.0, "g2": -0.4}),
                                    "quality": metric({"g1": 0.4})},
              {"volume": 1.5, "quality": 1.5}, ONE)
    role_case(tmp_path / "b", "B", {"margin": metric({"g2": 1.0}),
                                    "reach": metric({"g1": 0.2})},
              {"margin": 1.5, "reach": 1.5}, ONE)
    folder = write_org(tmp_path, {"g1": 0.5, "g2": 0.5},
                       {"a": {"path": "a"}, "b": {"path": "b"}},
                       budget=None if cap is None else {"expected_cap": cap},
                       coherence={"no_opposing": True, "cover_goals": True})
    today(folder, {"a": "volume", "b": "margin"})
    return folder


def seasonal_org(tmp_path: Path, b_peaks: str) -> Path:
    # One metric per role at 1.5 in one period and 1.0 in the other: a role pays
    # 2000 x 2 = 4000 in its peak period and 2000 x 1 = 2000 in the other.
    for rid, peak in (("a", "P01"), ("b", b_peaks)):
        x = [1.5, 1.0] if peak == "P01" else [1.0, 1.5]
        reps = [{"rep_id": f"{rid}{i}", "target_incentive": TI} for i in (1, 2)]
        write_case(tmp_path / rid, {"case": {"name": rid}, "metrics.m": metric({"g": 1.0}),
                                    "design": {"accelerator_min": 1.0,
                                               "accelerator_max": 1.0}},
                   reps, {"m": [x, x]})
    folder = write_org(tmp_path, {"g": 1.0}, {"a": {"path": "a"}, "b": {"path": "b"}},
                       budget={"cvar_level": 0.9, "cvar_cap": 7000.0})
    today(folder, {"a": "m", "b": "m"})
    return folder


def evaluation(folder: Path, ref: str = "current"):  # type: ignore[no-untyped-def]
    org = load_org(folder)
    return evaluate_org(org, org_coefficients(org), load_org_plans(org, ref))


def test_todays_plans_role_by_role_and_in_total(tmp_path: Path) -> None:
    result = evaluation(opposing_org(tmp_path))
    # a: volume w = 1, u = 2 at 1.5: alignment 0.3 x 1 = 0.3, cost 2000 x 2 = 4000;
    # b: margin: alignment 0.5, cost 4000. Organisation 0.5 (0.3 + 0.5) = 0.4, 8000.
    assert [r.evaluation.alignment for r in result.roles] == [pytest.approx(0.3),
                                                              pytest.approx(0.5)]
    assert result.alignment == pytest.approx(0.4)
    assert result.expected_cost == pytest.approx(8000.0)
    assert list(result.totals) == [pytest.approx(8000.0)] * 2
    checks = {(c["rule"], c["setting"]): c["ok"] for c in result.checks}
    assert checks == {
        ("O1", "org.toml [budget] expected_cap"): False,     # 8000 > 7000
        ("O4", "org.toml [coherence] no_opposing (goal 'g1')"): True,
        ("O4", "org.toml [coherence] no_opposing (goal 'g2')"): False,  # volume vs margin
        ("O5", "org.toml [coherence] cover_goals (goal 'g1')"): True,
        ("O5", "org.toml [coherence] cover_goals (goal 'g2')"): True}
    assert result.audit.conflicts == [{"goal": "g2", "serves": "b.margin",
                                       "against": "a.volume"}]
    assert not result.ok


def test_the_org_cvar_adds_roles_period_by_period(tmp_path: Path) -> None:
    # Both roles peak in P01: totals 8000 and 4000; the worst 10 % of two scenarios is
    # 0.2 of the worst one: CVaR 8000, over the 7000 cap.
    same = evaluation(seasonal_org(tmp_path / "same", "P01"))
    assert list(same.totals) == [pytest.approx(8000.0), pytest.approx(4000.0)]
    assert same.labels == ["P01", "P02"]
    assert same.cvar == pytest.approx(8000.0)
    assert [c["ok"] for c in same.checks] == [False]
    # b peaks in P02: 6000 in each period, CVaR 6000 within the cap.
    apart = evaluation(seasonal_org(tmp_path / "apart", "P02"))
    assert list(apart.totals) == [pytest.approx(6000.0)] * 2
    assert apart.cvar == pytest.approx(6000.0)
    assert [c["ok"] for c in apart.checks] == [True]
    assert apart.expected_cost == pytest.approx(same.expected_cost)


def test_a_handoff_is_checked_on_the_plans(tmp_path: Path) -> None:
    role_case(tmp_path / "a", "A", {"leads": metric({"g": 1.0})}, {"leads": 1.5})
    role_case(tmp_path / "b", "B", {"pipeline": metric({"g": 0.2}),
                                    "bookings": metric({"g": 1.0})},
              {"pipeline": 1.5, "bookings": 1.5})
    folder = write_org(tmp_path, {"g": 1.0}, {"a": {"path": "a"}, "b": {"path": "b"}},
                       coherence={"handoffs": [["a.leads", "b.pipeline"]]})
    today(folder, {"a": "leads", "b": "bookings"})
    (check,) = evaluation(folder).checks
    assert (check["rule"], check["ok"], check["detail"]) == (
        "O3", False, "a.leads is paid and b.pipeline is not")


def test_evaluate_cli_writes_evaluation_json(tmp_path: Path) -> None:
    folder = opposing_org(tmp_path / "org")
    out = tmp_path / "ev"
    result = CliRunner().invoke(main, ["evaluate", str(folder), "current", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "evaluation.json").read_text())
    assert doc["schema"] == "compplan.org_evaluation/1"
    assert doc["objective"] == {"alignment": pytest.approx(0.4),
                                "expected_cost": pytest.approx(8000.0)}
    assert doc["total"]["by_scenario"] == {"P01": pytest.approx(8000.0),
                                           "P02": pytest.approx(8000.0)}
    assert [r["id"] for r in doc["roles"]] == ["a", "b"]
    assert doc["conflicts"] == [{"goal": "g2", "serves": "b.margin", "against": "a.volume"}]
    assert doc["ok"] is False
    assert "  O1 org.toml [budget] expected_cap: BROKEN (8,000 against a limit of 7,000)\n" \
        in result.stdout
    assert "organisation alignment 0.400000; expected payout 8,000 USD per period" \
        in result.stdout


def test_compare_today_with_the_designed_plans(tmp_path: Path) -> None:
    folder = opposing_org(tmp_path / "org", None)
    plans = tmp_path / "plans"
    assert CliRunner().invoke(main, ["optimise", str(folder), "--out", str(plans),
                                     "-q"]).exit_code == 0
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", str(folder), "current",
                                       str(plans / "org_plan.json"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    rows = {r["figure"]: r for r in csv.DictReader((out / "compare.csv").open())}
    # Designed with no_opposing: a pays quality (0.2) instead of volume, b margin (0.5):
    # 0.5 (0.2 + 0.5) = 0.35, at the same cost 8000; today 0.4 with one conflict.
    align = rows["organisation alignment"]
    assert (float(align["current"]), float(align["plans"]), float(align["plans - current"])) \
        == (pytest.approx(0.4), pytest.approx(0.35, rel=1e-6), pytest.approx(-0.05, rel=1e-5))
    assert float(rows["expected payout"]["plans - current"]) == pytest.approx(0.0, abs=1e-3)
    assert rows["a metrics"]["current"] == "volume 100%"
    assert rows["a metrics"]["plans"] == "quality 100%"
    assert rows["conflicts"]["current"] == "1" and rows["conflicts"]["plans"] == "0"
    assert rows["O4 no_opposing 'g2'"]["current"] == "broken"
    assert rows["O4 no_opposing 'g2'"]["plans"] == "ok"
    assert rows["O5 cover_goals 'g1'"]["current"] == "ok"
    assert (out / "compare.md").read_text().startswith("# Tiny org: current vs plans\n")


def test_org_evaluate_refuses_what_ifs_and_missing_plans(tmp_path: Path) -> None:
    folder = opposing_org(tmp_path / "org")
    runner = CliRunner()
    result = runner.invoke(main, ["evaluate", str(folder), "current", "--set",
                                  "weight.volume=0.5"])
    assert result.exit_code == 2
    assert result.output == ("Error: --set applies to a case folder, not to an "
                             "organisation: give a role's folder for a what-if\n")
    result = runner.invoke(main, ["evaluate", str(folder), str(tmp_path), "-q"])
    assert result.exit_code == 2
    assert result.output == (f"Error: {tmp_path}: give 'current' or an org_plan.json written "
                             "by compplan optimise ORG_DIR (with its role folders beside "
                             "it)\n")
    result = runner.invoke(main, ["compare", str(folder), "current"])
    assert result.exit_code == 2
    assert result.output == ("Error: compare needs at least two plans (give `current` and an "
                             "org_plan.json, or two org_plan.json files)\n")
    (folder / "b" / "current_plan.toml").unlink()
    result = runner.invoke(main, ["evaluate", str(folder), "current", "-q"])
    assert result.exit_code == 2
    assert result.output == (f"Error: {folder / 'b' / 'current_plan.toml'}: role 'b' has no "
                             "current plan; add the file, or give an org_plan.json written "
                             "by compplan optimise ORG_DIR\n")


def test_report_colours_the_conflict_map_by_direction(tmp_path: Path) -> None:
    # Today: a.volume serves g1 and works against g2, which b.margin serves.
    folder = opposing_org(tmp_path / "org")
    out = tmp_path / "org.html"
    result = CliRunner().invoke(main, ["report", str(folder), "current", "--out", str(out),
                                       "-q"])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    cells = re.findall(r'<td class="cell (\w+)"><span class="word">(\w+)</span>([^<]*)</td>',
                       html)
    # Incentive s_p U = 0.5 x 1 per paid metric (org_helpers): g1 a +50 %, g2 a -0.5 x 0.4.
    assert cells == [("serves", "serves", "+50.000% (100%)"), ("none", "none", ""),
                     ("against", "against", "\u221220.000% (100%)"),
                     ("serves", "serves", "+50.000% (100%)")]
    assert re.findall(r'<svg id="(chart-[^"]+)"', html) == ["chart-org-budget",
                                                            "chart-org-total"]
    assert "<script" not in html
    assert "<li><strong>g2</strong>: b.margin serves it, a.volume works against it</li>" in html


def test_report_refuses_single_case_options(tmp_path: Path) -> None:
    folder = opposing_org(tmp_path / "org")
    result = CliRunner().invoke(main, ["report", str(folder), "current", "--batch",
                                       str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == ("Error: --batch applies to a case folder; for an organisation, "
                             "`compplan sweep ORG_DIR --budget FROM:TO:COUNT` draws its "
                             "frontier\n")


def test_export_holds_an_organisation_sheet_and_a_sheet_per_role(tmp_path: Path) -> None:
    import openpyxl

    folder = opposing_org(tmp_path / "org", None)
    plans = tmp_path / "plans"
    assert CliRunner().invoke(main, ["optimise", str(folder), "--out", str(plans),
                                     "-q"]).exit_code == 0
    out = tmp_path / "org.xlsx"
    result = CliRunner().invoke(main, ["export", str(folder), str(plans / "org_plan.json"),
                                       "--xlsx", str(out), "-q"])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Organisation", "Org scenarios", "Org rules", "Conflict map",
                               "a", "b", "About"]
    rows = list(book["Organisation"].iter_rows(values_only=True))
    # Designed: a quality (0.2), b margin (0.5), each costing 4000; today 0.3 and 0.5.
    assert [r[0] for r in rows] == ["role", "a", "b", "organisation"]
    assert [round(r[3], 6) for r in rows[1:3]] == [0.2, 0.5]
    assert [round(r[4], 3) for r in rows[1:3]] == [4000.0, 4000.0]
    assert [round(r[8], 6) for r in rows[1:3]] == [0.3, 0.5]
    assert rows[3][2:6] == ("=SUM(C2:C3)", "=SUMPRODUCT(C2:C3,D2:D3)", "=SUM(E2:E3)",
                            "=SUM(F2:F3)")
    scen = list(book["Org scenarios"].iter_rows(values_only=True))
    assert scen[1][:3] == ("P01", pytest.approx(4000.0), pytest.approx(4000.0))
    assert scen[1][3] == "=SUM(B2:C2)"
    role = list(book["a"].iter_rows(values_only=True))
    assert role[1][:3] == ("quality", "quality", 1.0)
    assert [r[0] for r in book["Conflict map"].iter_rows(values_only=True)] == \
        ["goal", "g1", "g2"]


def test_the_org_workbook_recalculates_to_compplan_figures(tmp_path: Path) -> None:
    from test_workbook_live import SOFFICE, recalculate

    if SOFFICE is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    folder = opposing_org(tmp_path / "org")
    out = tmp_path / "org.xlsx"
    assert CliRunner().invoke(main, ["export", str(folder), "current", "--xlsx", str(out),
                                     "-q"]).exit_code == 0
    rows = list(recalculate(out, tmp_path / "lo")["Organisation"].iter_rows(values_only=True))
    # Today: 0.5 x 0.3 + 0.5 x 0.5 = 0.4, 4000 + 4000 = 8000, each half of the payout.
    assert rows[3][2:6] == (pytest.approx(1.0), pytest.approx(0.4), pytest.approx(8000.0),
                            pytest.approx(1.0))
    assert [r[5] for r in rows[1:3]] == [pytest.approx(0.5)] * 2


def budget_org(tmp_path: Path) -> Path:
    # Role a: 'good' serves g fully (a = 1); role b: its 'good' half (a = 0.5). 'safe' sits
    # at 1.0 and pays w. Role p costs 2000 (2 w_good + w_safe) = 2000 (1 + w_good) and adds
    # a_p w_good: alignment 0.5 (w_a + 0.5 w_b). No cap: the base is the total TI, 4000.
    for rid, a in (("a", 1.0), ("b", 0.5)):
        role_case(tmp_path / rid, rid.upper(),
                  {"good": metric({"g": a}), "safe": metric({"g": 0.0})},
                  {"good": 1.5, "safe": 1.0})
    return write_org(tmp_path, {"g": 1.0}, {"a": {"path": "a"}, "b": {"path": "b"}})


def test_sweep_shows_where_the_next_dollar_goes(tmp_path: Path) -> None:
    folder = budget_org(tmp_path / "org")
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", str(folder), "--budget", "1:2:3", "--out",
                                       str(out), "-q"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "results.csv").open()))
    # Cap 4000: nothing for g (cost 2000 x 2); 6000: the first 2000 buys w_a = 1 (0.5 of
    # alignment, 250 per million); 8000: the next 2000 buys w_b = 1 (0.25, 125 per million).
    assert [float(r["cap"]) for r in rows] == [4000.0, 6000.0, 8000.0]
    # Ties within 1e-7 (relative) go to cheaper plans: figures may sit that far off.
    def column(key: str, skip: int = 0) -> list[float]:
        return [float(r[key]) for r in rows[skip:]]

    def near(values: list[float]) -> list[object]:
        return [pytest.approx(v, rel=1e-6, abs=1e-6) for v in values]

    assert column("alignment") == near([0.0, 0.5, 0.75])
    assert column("cost.a") == near([2000.0, 4000.0, 4000.0])
    assert column("cost.b") == near([2000.0, 2000.0, 4000.0])
    assert rows[0]["next_dollar.a"] == ""
    assert column("next_dollar.a", 1) == near([1.0, 0.0])
    assert column("next_dollar.b", 1) == near([0.0, 1.0])
    assert column("alignment_per_million", 1) == near([250.0, 125.0])
    assert [r["frontier"] for r in rows] == ["True"] * 3
    doc = json.loads((out / "sweep.json").read_text())
    assert (doc["base"], doc["base_source"]) == (4000.0, "total target incentive of all roles")
    for name in ("frontier", "budget_split"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert "<svg" in (out / f"{name}.svg").read_text()


def test_sweep_of_an_org_refuses_batch_options(tmp_path: Path) -> None:
    folder = budget_org(tmp_path / "org")
    result = CliRunner().invoke(main, ["sweep", str(folder), "--budget", "1:2:3",
                                       "--workers", "2"])
    assert result.exit_code == 2
    assert result.output == ("Error: --workers applies to a case folder; an organisation's "
                             "sweep solves them one after the other\n")
    result = CliRunner().invoke(main, ["sweep", str(folder), "--budget", "1:2"])
    assert result.exit_code == 2
    assert "'1:2' is not FROM:TO:COUNT" in result.output


def test_a_batch_over_org_toml_keys(tmp_path: Path) -> None:
    budget_org(tmp_path / "org")
    spec = tmp_path / "runs" / "org.toml"
    spec.parent.mkdir()
    spec.write_text('case = "../org"\n[grid]\n"budget.expected_cap" = [6000.0, 8000.0]\n'
                    '[[candidates]]\nname = "too tight"\n"budget.expected_cap" = 3000.0\n')
    out = tmp_path / "batch"
    result = CliRunner().invoke(main, ["batch", str(spec), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "results.csv").open()))
    # As the sweep: 6000 buys w_a = 1 (0.5), 8000 both (0.75); 3000 is below the 4000
    # the cheapest plans cost.
    assert [r["status"] for r in rows] == ["optimal", "optimal", "infeasible"]
    assert [float(r["alignment"]) for r in rows[:2]] == [pytest.approx(0.5, rel=1e-6),
                                                        pytest.approx(0.75, rel=1e-6)]
    assert rows[2]["name"] == "too tight"
    assert "expected_cap" in rows[2]["reason"]


def test_a_batch_over_an_org_refuses_other_keys(tmp_path: Path) -> None:
    folder = budget_org(tmp_path / "org")
    spec = tmp_path / "spec.toml"
    spec.write_text(f'case = "{folder.name}"\n[grid]\n"design.max_metrics" = [1, 2]\n')
    result = CliRunner().invoke(main, ["batch", str(spec), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert result.output == (
        "Error: spec.toml, design.max_metrics: [grid], candidate c0001: "
        "not a key a batch over an organisation can change "
        "(allowed: budget.expected_cap, budget.cvar_cap, budget.cvar_level, "
        "coherence.no_opposing, coherence.cover_goals)\n")


def test_a_written_plan_is_mapped_as_it_pays(tmp_path: Path) -> None:
    # a pays volume by a curve: 1.0 at target, 1.2 at 1.6, 2.0 at 2.0. At 1.5 a step of
    # 0.5 lifts pay from 1 + 0.2 x 0.5 / 0.6 = 7/6 to 2: U = 5/6, and the org-weighted
    # incentive is 0.5 x 5/6 = 5/12 for g1, 5/12 x 0.4 = 1/6 against g2 (the average
    # accelerator rate, 1.0, would say 0.25 and 0.1).
    folder = opposing_org(tmp_path / "org")
    (folder / "a" / "current_plan.toml").write_text(
        '[[metrics]]\nid = "volume"\ncurve = [[0.5, 0.0], [1.0, 1.0], [1.6, 1.2], '
        '[2.0, 2.0]]\n')
    result = evaluation(folder)
    cells = {(row.goal, c.role): (c.serves, c.against) for row in result.audit.goals
             for c in row.cells}
    assert cells[("g1", "a")] == (pytest.approx(5 / 12), 0.0)
    assert cells[("g2", "a")] == (0.0, pytest.approx(1 / 6))
    # Its alignment: 0.3 x 5/6 = 0.25 (the evaluation pays the curve too).
    assert result.roles[0].evaluation.alignment == pytest.approx(0.25)
