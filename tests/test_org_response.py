"""Organisations with a response model (MODEL.md sections 7 and 10): each role's
``[response]`` applies to that role, and the joint problem is solved on the grid.

The joint optimum is checked against a brute force over both roles' grid plans: every
role's plan is evaluated under response by :func:`evaluate_response` (not the model's
per-option figures), its total per scenario straight from the definition
``sum_r TI_r (w phi(lambda x) + u psi(lambda x))``, and the organisation's rules O1, O2
and O4 applied to every pair.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import assert_exit, invoke, write_case

import compplan
from compplan.errors import InfeasibleError
from compplan.models.plan import Plan
from compplan.models.scenarios import build_scenarios
from compplan.optimizer.coefficients import compute_coefficients, curves
from compplan.optimizer.evaluate import evaluate
from compplan.optimizer.model import Rounding
from compplan.optimizer.org import org_coefficients, solve_org
from compplan.optimizer.org_pipeline import cheapest_org_plans, optimise_org
from compplan.optimizer.response import ResponseContext, evaluate_response
from compplan.optimizer.response_model import grid_options
from compplan.optimizer.solve import Status
from compplan.optimizer.tails import tail_mean

PERIODS = 6


def role_case(folder: Path, seed: int, metrics: dict[str, dict[str, Any]], max_metrics: int,
              elasticity: float, base: dict[str, tuple[float, float]]) -> Path:
    """A small role: 12 reps, 6 periods, narrow design rules (few grid plans)."""
    rng = np.random.default_rng(seed)
    n = 12
    reps = [{"rep_id": f"R{i:02d}", "segment": "A" if i % 3 else "B",
             "target_incentive": float(rng.integers(10, 30)) * 1000} for i in range(n)]
    x = {k: rng.gamma(6.0, 0.17, size=(n, PERIODS)) for k in metrics}
    tables: dict[str, dict[str, Any]] = {"case": {"name": folder.name}}
    for k, spec in metrics.items():
        tables[f"metrics.{k}"] = spec
    tables["design"] = {"max_metrics": max_metrics, "min_weight": 0.3, "max_weight": 0.7,
                        "accelerator_min": 1.0, "accelerator_max": 1.3}
    tables["response"] = {"baseline": "base.toml", "elasticity": elasticity,
                          "max_change": 0.3}
    write_case(folder, tables, reps, x)
    (folder / "base.toml").write_text("\n".join(
        f'[[metrics]]\nid = "{k}"\nweight = {w}\naccelerator_rate = {u}\n'
        for k, (w, u) in base.items()))
    return folder


def small_org(folder: Path, elasticity: float, budget: dict[str, float]) -> Path:
    """Two roles, both with ``[response]``; ``no_opposing`` forbids ``b.s`` while ``a``
    pays ``q`` (every plan of ``a`` pays both its metrics)."""
    role_case(folder / "a", 3, {
        "p": {"threshold": 0.5, "cap": 1.8, "alignment": {"g": 1.0}},
        "q": {"threshold": 0.3, "cap": 2.0, "alignment": {"h": 1.0, "g": 0.2}}},
        2, elasticity, {"p": (0.5, 1.0), "q": (0.5, 0.8)})
    role_case(folder / "b", 5, {
        "r": {"threshold": 0.5, "cap": 1.8, "alignment": {"g": 0.6}},
        "s": {"threshold": 0.4, "cap": 2.0, "alignment": {"g": 1.0, "h": -0.3}},
        "t": {"threshold": 0.3, "cap": 2.0, "alignment": {"h": 0.5}}},
        2, elasticity, {"r": (0.5, 1.0), "t": (0.5, 0.8)})
    lines = ['[org]\nname = "Response org"\ncurrency = "USD"\n',
             "[goals]\ng = 1.0\nh = 0.5\n",
             '[roles.a]\npath = "a"\n', '[roles.b]\npath = "b"\n',
             "[budget]\n" + "".join(f"{k} = {v}\n" for k, v in budget.items()),
             "[coherence]\nno_opposing = true\n"]
    (folder / "org.toml").write_text("\n".join(lines))
    return folder


def role_plans(case: Any) -> list[dict[str, Any]]:
    """Every grid plan of a role meeting its own rules, with its figures under response."""
    coeffs = compute_coefficients(case)
    ctx = ResponseContext.of(case, coeffs)
    opts = grid_options(case, Rounding(0.05, 0.05))
    per_metric = [[(opts.w[j], opts.u[j]) for j in np.flatnonzero(opts.metric == m)]
                  for m in range(len(case.metric_ids))]
    ti = case.target_incentive
    theta = np.array([case.metric(k).threshold for k in case.metric_ids])
    kappa = np.array([case.metric(k).cap for k in case.metric_ids])
    scen = build_scenarios(case)
    att = np.asarray(scen.block(0, scen.n_reps), dtype=np.float64)  # (N, M, S)
    out = []
    for combo in itertools.product(*per_metric):
        w = np.array([c[0] for c in combo])
        u = np.array([c[1] for c in combo])
        if abs(w.sum() - 1.0) > 1e-9 or (w > 0).sum() > case.spec.design.max_metrics:
            continue
        static = evaluate(case, coeffs, w, u)
        if static.broken_rules:
            continue
        figs = evaluate_response(ctx, Plan.from_vectors(case, w, u), static=static)
        if figs.evaluation.violated:
            continue
        lam = np.array([figs.multipliers[k] for k in case.metric_ids])
        phi, psi = curves(att * lam[None, :, None], theta, kappa)
        totals = np.einsum("r,rms->s", ti, w[None, :, None] * phi + u[None, :, None] * psi)
        assert totals.mean() == pytest.approx(figs.evaluation.expected_cost, rel=1e-9)
        out.append({"w": w, "u": u, "paid": {k for k, v in zip(case.metric_ids, w,
                                                               strict=True) if v > 0},
                    "alignment": figs.evaluation.alignment,
                    "cost": figs.evaluation.expected_cost, "totals": totals})
    return out


def brute_org(org: Any, cvar: tuple[float, float] | None = None
              ) -> tuple[float, float, dict[str, dict[str, Any]], bool]:
    """The best pair of grid plans: O1 (and O2), O4; ties by the least total payout.

    Also says whether the budget cap rules out a pair that would align better.
    """
    a, b = org.roles
    share = np.array([a.case.target_incentive.sum(), b.case.target_incentive.sum()])
    share = share / share.sum()
    cap = org.spec.budget.expected_cap
    best: tuple[float, float, dict[str, dict[str, Any]]] | None = None
    capped = False
    for pa, pb in itertools.product(role_plans(a.case), role_plans(b.case)):
        if "q" in pa["paid"] and "s" in pb["paid"]:  # O4 on goal h
            continue
        alignment = float(share @ [pa["alignment"], pb["alignment"]])
        cost = pa["cost"] + pb["cost"]
        over = cap is not None and cost > cap * (1 + 1e-9)
        if cvar is not None:
            over = over or tail_mean(pa["totals"] + pb["totals"], 1 - cvar[0],
                                     True) > cvar[1] * (1 + 1e-9)
        if over:
            capped = capped or best is None or alignment > best[0]
            continue
        tol = 1e-7 * max(1.0, abs(best[0])) if best else 0.0
        if best is None or alignment > best[0] + tol or (
                abs(alignment - best[0]) <= tol and cost < best[1]):
            best = (alignment, cost, {"a": pa, "b": pb})
    assert best is not None
    return (*best, capped)


def check_joint(folder: Path, cvar: tuple[float, float] | None = None) -> tuple[float, float]:
    org = compplan.load_org(folder)
    coeffs = org_coefficients(org)
    _, cost, plans, capped = brute_org(org, cvar)
    for method in ("full", "cuts"):
        result = solve_org(org, coeffs, tail_method=method)  # type: ignore[arg-type]
        assert result.status is Status.OPTIMAL
        for rid in ("a", "b"):
            got = result.roles[rid]
            assert got.w is not None and got.u is not None
            assert got.w.tolist() == pytest.approx(plans[rid]["w"].tolist(), abs=1e-12)
            assert got.u.tolist() == pytest.approx(plans[rid]["u"].tolist(), abs=1e-12)
    return cost, float(capped)


def test_joint_optimum_on_the_grid_without_response(tmp_path: Path) -> None:
    # Elasticity 0: the roles' figures are the history's; the joint optimum is the best
    # pair of grid plans (checked against the brute force, whatever the budget).
    folder = small_org(tmp_path / "o", 0.0, {"expected_cap": 10_000_000.0})
    cost, capped = check_joint(folder)
    assert capped == 0.0
    assert cost > 0


def test_joint_optimum_under_response_with_the_org_budget_binding(tmp_path: Path) -> None:
    # Elasticity 0.4: the costs move with the plans. First find the best pair without a
    # budget; a cap just below its cost under response must change the answer.
    free = small_org(tmp_path / "free", 0.4, {"expected_cap": 10_000_000.0})
    free_cost, _ = check_joint(free)
    folder = small_org(tmp_path / "o", 0.4, {"expected_cap": round(free_cost * 0.97, 2)})
    cost, capped = check_joint(folder)
    assert capped == 1.0  # the org budget rules out better-aligned pairs
    assert cost <= free_cost * 0.97 * (1 + 1e-9)


def test_joint_optimum_under_response_with_the_org_cvar(tmp_path: Path) -> None:
    # O2 over per-option scenario totals under response: a CVaR cap just below the free
    # optimum's binds.
    free = small_org(tmp_path / "free", 0.4, {"expected_cap": 10_000_000.0})
    org = compplan.load_org(free)
    _, _, plans, _ = brute_org(org)
    joint = plans["a"]["totals"] + plans["b"]["totals"]
    cap = round(tail_mean(joint, 0.5, True) * 0.99, 2)
    folder = small_org(tmp_path / "o", 0.4, {"expected_cap": 10_000_000.0,
                                             "cvar_level": 0.5, "cvar_cap": cap})
    _, capped = check_joint(folder, (0.5, cap))
    assert capped == 1.0


def test_optimise_and_evaluate_an_org_under_response(tmp_path: Path) -> None:
    # The CLI end to end: org_plan.json's figures are under response (the brute force's
    # best pair, O1 binding), each response role's plan.json has its response block and
    # no prices (section 10); evaluating the written plans gives the same figures.
    free = small_org(tmp_path / "free", 0.4, {"expected_cap": 10_000_000.0})
    _, free_cost, _, _ = brute_org(compplan.load_org(free))
    cap = round(free_cost * 0.97, 2)
    folder = small_org(tmp_path / "o", 0.4, {"expected_cap": cap})
    alignment, cost, plans, capped = brute_org(compplan.load_org(folder))
    assert capped
    result = invoke("optimise", str(folder), "--out", str(tmp_path / "out"), "-q")
    assert_exit(result, 0)
    doc = json.loads((tmp_path / "out" / "org_plan.json").read_text())
    assert doc["objective"]["alignment"] == pytest.approx(alignment, rel=1e-9)
    assert doc["objective"]["expected_cost"] == pytest.approx(cost, rel=1e-9)
    assert doc["evaluation"]["guardrails"][0]["value"] == pytest.approx(cost, rel=1e-9)
    assert cost <= cap
    for role in doc["roles"]:
        rid = role["id"]
        own = json.loads((tmp_path / "out" / rid / "plan.json").read_text())
        assert own["response"]["evaluation"]["expected_cost"] == pytest.approx(
            plans[rid]["cost"], rel=1e-9)
        assert own["objective"]["expected_cost"] == pytest.approx(plans[rid]["cost"], rel=1e-9)
        # Static figures beside: lower here, since every paid metric rises under response.
        assert own["response"]["static"]["expected_cost"] < plans[rid]["cost"]
        assert "guardrail_prices" not in own and "rounding" not in own
        assert own["solver"]["grid"]["weights"] == 0.05
        weights = {m["id"]: m["weight"] for m in own["metrics"]}
        expected = dict(zip(compplan.load_org(folder).role(rid).case.metric_ids,
                            plans[rid]["w"].tolist(), strict=True))
        assert {k: v for k, v in weights.items() if v} == {k: v for k, v in expected.items()
                                                           if v}
    ev = compplan.evaluate_org(folder, tmp_path / "out" / "org_plan.json")
    assert ev.expected_cost == pytest.approx(cost, rel=1e-9)
    assert ev.alignment == pytest.approx(alignment, rel=1e-9)
    assert ev.ok
    joint = plans["a"]["totals"] + plans["b"]["totals"]
    assert ev.totals.tolist() == pytest.approx(joint.tolist(), rel=1e-9)
    assert all(r.response is not None for r in ev.roles)
    assert ev.to_dict()["roles"][0]["response"]["multipliers"]["p"] > 1.0


def test_diagnosis_under_response_names_the_least_budget(tmp_path: Path) -> None:
    # A cap below every pair's cost under response: the smallest single change is the
    # least expected payout under response of a pair meeting every other rule (O4 here).
    free = small_org(tmp_path / "free", 0.4, {"expected_cap": 10_000_000.0})
    org = compplan.load_org(free)
    pairs = itertools.product(role_plans(org.roles[0].case), role_plans(org.roles[1].case))
    least = min(pa["cost"] + pb["cost"] for pa, pb in pairs
                if not ("q" in pa["paid"] and "s" in pb["paid"]))
    folder = small_org(tmp_path / "o", 0.4, {"expected_cap": round(least * 0.9, 2)})
    with pytest.raises(InfeasibleError) as info:
        optimise_org(compplan.load_org(folder))
    change = info.value.report["smallest_single_changes"][0]
    assert change["rule"] == "org.budget_expected"
    assert change["needed"] == pytest.approx(least, rel=1e-7)
    cheapest = cheapest_org_plans(compplan.load_org(folder))
    assert cheapest.document["objective"]["expected_cost"] == pytest.approx(least, rel=1e-7)


@pytest.mark.parametrize("method", ["full", "cuts"])
def test_a_role_under_response_beside_a_role_without(tmp_path: Path, method: str) -> None:
    # Role b without [response] stays continuous; role a is on its grid. An org CVaR cap
    # below the uncapped plans' binds: O2 is written over a's per-option scenario totals
    # under response and b's static ones, so the evaluated CVaR of the designed plans
    # meets the cap and reaches it.
    free = small_org(tmp_path / "free", 0.4, {"expected_cap": 10_000_000.0})
    text = (free / "b" / "case.toml").read_text()
    (free / "b" / "case.toml").write_text(text[:text.index("[response]")])
    loose = optimise_org(compplan.load_org(free), prices=False)
    cap = round(tail_mean(_totals(loose), 0.5, True) * 0.98, 2)
    tight = tmp_path / "tight"
    small_org(tight, 0.4, {"expected_cap": 10_000_000.0, "cvar_level": 0.5,
                           "cvar_cap": cap})
    text = (tight / "b" / "case.toml").read_text()
    (tight / "b" / "case.toml").write_text(text[:text.index("[response]")])
    out = optimise_org(compplan.load_org(tight), tail_method=method)  # type: ignore[arg-type]
    a, b = out.roles
    assert a.response is not None and b.response is None
    w = a.result.w
    assert w is not None and np.allclose(w / 0.05, np.round(w / 0.05), atol=1e-9)
    ev = compplan.evaluate_org(tight, _written(out, tmp_path / "out"))
    assert ev.cvar <= cap * (1 + 1e-6)
    assert ev.cvar == pytest.approx(cap, rel=1e-3)  # binding
    assert ev.roles[0].response is not None and ev.roles[1].response is None
    assert ev.expected_cost == pytest.approx(out.document["objective"]["expected_cost"],
                                             rel=1e-9)


def _totals(outcome: Any) -> np.ndarray:
    from compplan.optimizer.org_pipeline import org_totals

    return org_totals(outcome.roles)


def _written(outcome: Any, folder: Path) -> Path:
    outcome.write(folder)
    return folder / "org_plan.json"
