"""The public API: re-exported lazily from compplan, Result statuses, write, docs/api.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFORMANCE, invoke

import compplan
from compplan.api import Result, Status

DOCS = Path(__file__).parent.parent / "docs" / "api.md"


def test_import_compplan_loads_no_heavy_module() -> None:
    code = ("import sys, compplan; compplan.__version__; "
            "print(sorted(m for m in ('pandas', 'pyomo', 'numpy', 'pydantic', 'compplan.api') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[]"


def test_every_api_name_is_reexported() -> None:
    import compplan.api as api

    for name in api.__all__:
        assert getattr(compplan, name) is getattr(api, name) or name == "batch"
    assert "optimise" in dir(compplan)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        compplan.nothing  # noqa: B018


def test_compplan_batch_is_callable_once_the_package_is_imported() -> None:
    import compplan.batch.run

    assert callable(compplan.batch)


def test_an_infeasible_case_is_a_status(tmp_path: Path) -> None:
    result = compplan.optimise(CONFORMANCE / "c4_infeasible")
    assert result.status is Status.INFEASIBLE and not result.ok
    assert result.plan is None and result.diagnosis is not None
    assert result.diagnosis["conflict"]
    assert repr(result).startswith("<Result infeasible: no plan satisfies the constraints")
    assert len(repr(result)) < 120
    with pytest.raises(compplan.errors.InfeasibleError) as info:
        result.raise_for_status()
    assert info.value.exit_code == 3
    assert [p.name for p in result.write(tmp_path)] == ["infeasibility.json"]


def test_result_writes_what_the_cli_writes(tmp_path: Path) -> None:
    case = CONFORMANCE / "c1_budget_only"
    cli = invoke("optimise", str(case), "--out", str(tmp_path / "cli"), "--reproducible", "-q")
    assert cli.exit_code == 0
    result = compplan.optimise(case).raise_for_status()
    written = result.write(tmp_path / "api")
    assert sorted(p.name for p in written) == sorted(p.name for p in (tmp_path / "cli").iterdir())
    for name in ("plan.json", "plan.csv", "plan.md"):
        assert (tmp_path / "api" / name).read_text() == (tmp_path / "cli" / name).read_text()
    assert json.loads((tmp_path / "api" / "plan.json").read_text())["status"] == "optimal"



def test_result_without_a_plan_leaves_an_earlier_plan_alone(tmp_path: Path) -> None:
    # A limit before any plan (exit 4 on the command line, which writes nothing): the
    # folder keeps the earlier run's plan rather than being emptied.
    result = compplan.optimise(CONFORMANCE / "c1_budget_only").raise_for_status()
    before = sorted(p.name for p in result.write(tmp_path / "out"))
    limit = Result(result.case, Status.NO_SOLUTION, message="time limit before any plan")
    assert limit.write(tmp_path / "out") == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before
    assert "plan.json" in before

def test_result_repr_is_short_and_html_shows_the_plan() -> None:
    result = compplan.optimise(CONFORMANCE / "c1_budget_only")
    assert isinstance(result, Result) and result.status is Status.OPTIMAL
    assert re.fullmatch(r"<Result optimal: alignment [0-9.]+, expected cost [0-9,]+ \w+; .*>",
                        repr(result))
    assert len(repr(result)) < 200
    html = result._repr_html_()
    assert "<table" in html and all(m.id in html for m in result.plan.metrics)


def test_to_frame_on_plan_evaluation() -> None:
    result = compplan.optimise(CONFORMANCE / "c1_budget_only")
    plan = result.plan.to_frame()
    assert list(plan["id"]) == [m.id for m in result.plan.metrics]
    assert plan["weight"].sum() == pytest.approx(1.0)
    checks = result.evaluation.to_frame()
    assert set(checks["kind"]) <= {"guardrail", "design rule"}
    assert len(checks) == len(result.evaluation.guardrails) + len(
        result.evaluation.design_rules)


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


def test_docs_api_md_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert len(_blocks()) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in _blocks():
        exec(compile(block, str(DOCS), "exec"), namespace)
    out = capsys.readouterr().out
    assert "<Result optimal: alignment" in out
    assert "exit code 3" in out
    assert (tmp_path / "plans" / "fy27" / "plan.json").is_file()
    assert (tmp_path / "plans" / "fy27" / "explained" / "plan_explained.html").is_file()
    assert (tmp_path / "runs" / "budget" / "results.csv").is_file()
    assert (tmp_path / "plans" / "gtm" / "org_plan.json").is_file()
    assert (tmp_path / "plans" / "gtm" / "ae" / "plan.json").is_file()
