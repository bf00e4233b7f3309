"""The public API: re-exported lazily from compplan, Result statuses, write, docs/api.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    cli = invoke("optimise", str(case), "--out", str(tmp_path / "cli"), "-q")
    assert cli.exit_code == 0
    result = compplan.optimise(case).raise_for_status()
    written = result.write(tmp_path / "api")
    assert sorted(p.name for p in written) == sorted(p.name for p in (tmp_path / "cli").iterdir()
           if not p.name.startswith("."))
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
    assert sorted(p.name for p in (tmp_path / "out").iterdir()
           if not p.name.startswith(".")) == before
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
    assert (tmp_path / "pulses" / "fy27" / "pulse.json").is_file()
    assert "the year meets it" in out


# --------------------------------------------------------------------------- wrong arguments

C1 = str(CONFORMANCE / "c1_budget_only")
CASE_ARG = "a Case, a case folder (str or Path) or None"
PLAN_ARG = "a Plan, 'current', a plan.json or a plan TOML file (str or Path)"


@pytest.mark.parametrize(("call", "message"), [
    (lambda: compplan.optimise(42), f"case must be {CASE_ARG}, got int 42"),
    # A value of its own, not a path of the checkout: a long clone path once shortened the
    # message differently (issue 19). A long value is cut at 57 characters and "...".
    (lambda: compplan.min_budget(["c1"]), f"case must be {CASE_ARG}, got list ['c1']"),
    (lambda: compplan.min_budget(["x" * 80]), f"case must be {CASE_ARG}, got list "
                                              f"['{'x' * 55}..."),
    (lambda: compplan.load_case(b"/tmp"), f"case must be {CASE_ARG}, got bytes b'/tmp'"),
    (lambda: compplan.load_case(""), f"case is an empty path; give {CASE_ARG}"),
    (lambda: compplan.evaluate(C1, 7), f"plan must be {PLAN_ARG}, got int 7"),
    (lambda: compplan.audit(C1, {"metrics": []}), f"plan must be {PLAN_ARG}, got dict "
                                                  "{'metrics': []}"),
    (lambda: compplan.optimise(C1, time_limit="5"), "time_limit must be a finite number of "
                                                    "seconds > 0 (or None), got '5'"),
    (lambda: compplan.optimise(C1, time_limit=float("nan")), "time_limit must be a finite "
                                                             "number of seconds > 0 (or None), "
                                                             "got nan"),
    (lambda: compplan.min_budget(C1, time_limit=-1), "time_limit must be a finite number of "
                                                     "seconds > 0 (or None), got -1"),
    (lambda: compplan.optimise(C1, tail_method="fast"), "tail_method must be 'auto', 'full' "
                                                        "or 'cuts', got 'fast'"),
    (lambda: compplan.optimise(C1, rounding=5), "rounding must be a Rounding or its text "
                                                "(\"weights=0.05,rates=0.05\"), got int 5"),
    (lambda: compplan.sweep(C1, "a", 1.1, 3, "out"), "start must be a finite factor of the "
                                                     "expected-cost cap > 0, got 'a'"),
    (lambda: compplan.sweep(C1, 0.8, 1.1, 2.5, "out"), "count must be a whole number of caps "
                                                       "from 1 to 100,000 (a batch holds at "
                                                       "most 100,000 candidates), got 2.5"),
    (lambda: compplan.sweep(C1, 0.8, 1.1, 3, 5), "out must be an output folder (str or "
                                                 "Path), got int 5"),
    (lambda: compplan.batch(5, "out"), "spec must be a BatchSpec or a batch spec TOML file "
                                       "(str or Path), got int 5"),
    (lambda: compplan.batch("spec.toml", "out", workers=0), "workers must be a whole number "
                                                            ">= 1, got 0"),
    # compplan.optimise designs an organisation (issue 19); evaluate takes a case only.
    (lambda: compplan.evaluate(str(CONFORMANCE / "c5_org")),
     f"{CONFORMANCE / 'c5_org'} is an organisation folder (it holds org.toml), not a case "
     "folder; give one role's case folder (an organisation is designed by `compplan "
     f"optimise {CONFORMANCE / 'c5_org'} --out DIR`)"),
], ids=["case int", "case list", "case long list", "case bytes", "case empty", "plan int",
        "plan dict",
        "time str", "time nan", "time negative", "tail method", "rounding int", "sweep start",
        "sweep count", "sweep out", "batch spec", "batch workers", "org folder"])
def test_wrong_arguments_are_usage_errors(call: Any, message: str) -> None:
    # Once AttributeError, TypeError or numpy's DTypePromotionError from deep inside.
    with pytest.raises(compplan.errors.UsageError) as info:
        call()
    assert str(info.value) == message


def test_rounding_as_text_is_read_as_for_the_command_line() -> None:
    result = compplan.optimise(C1, rounding="weights=0.05")
    assert all(round(m.weight / 0.05, 9).is_integer() for m in result.plan.metrics)
    with pytest.raises(compplan.errors.UsageError, match="finer than the finest grid"):
        compplan.optimise(C1, rounding="rates=1e-12")


def test_result_write_needs_a_folder() -> None:
    result = compplan.optimise(C1)
    with pytest.raises(compplan.errors.UsageError) as info:
        result.write(5)  # type: ignore[arg-type]
    assert str(info.value) == "folder must be an output folder (str or Path), got int 5"


def test_a_plan_path_the_os_refuses_is_a_case_error(tmp_path: Path) -> None:
    long = str(tmp_path / ("a" * 5000))
    with pytest.raises(compplan.errors.CaseError) as info:
        compplan.evaluate(C1, long)
    assert str(info.value) == f"{long[:77]}...: cannot be used: File name too long"
