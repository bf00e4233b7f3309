"""Every validation rule of a case (MODEL.md section 1), each with its exact message.

A message names the file, the line (CSV files; the header is line 1) and the field,
then says what is allowed and what was found. The base case below is valid; each
test breaks one rule. Cells are quoted as written (``got '-1'``), and a rule on a
whole table names it as written (``[design]``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CONFORMANCE

from compplan.errors import CaseError
from compplan.models.case import load_case

# --------------------------------------------------------------------------- base case

BASE: dict[str, dict[str, Any]] = {
    "case": {"name": "Validation"},
    "goals": {"growth": 0.6, "margin": 0.4},
    "metrics.revenue": {"threshold": 0.5, "cap": 2.0, "alignment": {"growth": 1.0}},
    "metrics.margin": {"threshold": 0.3, "cap": 1.5, "alignment": {"margin": 1.0}},
}
REPS = [{"rep_id": "R1", "segment": "North", "target_incentive": 1000.0},
        {"rep_id": "R2", "segment": "South", "target_incentive": 2000.0}]
# Lines of attainment.csv: 1 header, 2 R1/P01, 3 R1/P02, 4 R2/P01, 5 R2/P02.
ATTAINMENT = {"revenue": [[1.0, 1.2], [0.8, 0.9]], "margin": [[1.1, 0.7], [1.0, 1.3]]}
ATT_HEADER = "rep_id,period,revenue,margin\n"
ATT_ROWS = ["R1,P01,1.0,1.1", "R1,P02,1.2,0.7", "R2,P01,0.8,1.0", "R2,P02,0.9,1.3"]

METRIC_KEYS = ("label, threshold, cap, alignment, responsiveness, step, min_weight, "
               "max_weight, required, forbidden, elasticity, value, sum, count, where")
TOP_KEYS = "case, goals, metrics, design, budget, fairness, scenarios, response, source"
ATT_RULE = "must be a finite number >= 0 (attainment as a ratio of quota, 1.0 = 100 %)"
TI_RULE = "must be a number > 0 (currency)"
QUOTA_RULE = "must be a number > 0 (quota in the metric's unit)"

MakeCase = Callable[..., Path]


def tables(merge: dict[str, dict[str, Any]] | None = None, *,
           replace: dict[str, Any] | None = None,
           drop: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """The base ``case.toml`` with keys merged into tables, tables replaced or dropped.

    ``drop`` holds table headers (``goals``) or ``header:key`` (``metrics.revenue:cap``).
    """
    out = copy.deepcopy(BASE)
    for header, keys in (merge or {}).items():
        out.setdefault(header, {}).update(keys)
    out.update(copy.deepcopy(replace or {}))
    for item in drop:
        header, _, key = item.partition(":")
        if key:
            del out[header][key]
        else:
            del out[header]
    return out


def attainment_text(*rows: str) -> str:
    return ATT_HEADER + "".join(f"{r}\n" for r in rows)


def load_error(path: Path) -> CaseError:
    with pytest.raises(CaseError) as info:
        load_case(path)
    return info.value


@pytest.fixture
def case(make_case: MakeCase) -> Callable[..., Path]:
    """Write the base case, optionally with other tables, reps, attainment or files."""

    def factory(spec: dict[str, dict[str, Any]] | None = None, *,
                reps: list[dict[str, Any]] | None = None,
                files: dict[str, str | bytes] | None = None,
                remove: tuple[str, ...] = ()) -> Path:
        path = make_case(spec or tables(), reps or REPS, ATTAINMENT)
        for name, content in (files or {}).items():
            if isinstance(content, bytes):
                (path / name).write_bytes(content)
            else:
                (path / name).write_text(content, encoding="utf-8")
        for name in remove:
            (path / name).unlink()
        return path

    return factory


def test_base_case_is_valid(case: Callable[..., Path]) -> None:
    loaded = load_case(case())
    assert loaded.metric_ids == ("revenue", "margin")
    assert loaded.periods == ("P01", "P02")
    assert loaded.attainment.shape == (2, 2, 2)
    np.testing.assert_array_equal(loaded.attainment[:, 0, :], ATTAINMENT["revenue"])
    assert loaded.spec.warnings() == []


# ------------------------------------------------------------------ case.toml: key rules

CASE_TOML_RULES = [
    # Unknown keys, anywhere, with the allowed keys listed.
    pytest.param(
        tables({"metrics.revenue": {"treshold": 0.5}}),
        f"case.toml, [metrics.revenue] treshold: unknown key; did you mean 'threshold'? "
        f"(allowed keys: {METRIC_KEYS})",
        id="unknown-key-in-metric"),
    pytest.param(
        tables({"budgte": {"expected_cap": 1000.0}}),
        f"case.toml, budgte: unknown key; did you mean 'budget'? (allowed keys: {TOP_KEYS})",
        id="misspelt-table"),
    pytest.param(
        tables({"design": {"max_metric": 2}}),
        "case.toml, [design] max_metric: unknown key; did you mean 'max_metrics'? "
        "(allowed keys: max_metrics, min_weight, "
        "max_weight, accelerator_min, accelerator_max, max_payout_multiple)",
        id="unknown-key-in-design"),
    pytest.param(
        tables({"budget": {"expected": 1000.0}}),
        "case.toml, [budget] expected: unknown key; did you mean 'expected_cap'? "
        "(allowed keys: expected_cap, cvar_level, "
        "cvar_cap)",
        id="unknown-key-in-budget"),
    pytest.param(
        tables({"fairness": {"group": "segment"}}),
        "case.toml, [fairness] group: unknown key; did you mean 'group_by'? "
        "(allowed keys: group_by, parity_tolerance, "
        "top_share, top_ratio, bottom_share, bottom_floor)",
        id="unknown-key-in-fairness"),
    pytest.param(
        tables({"scenarios": {"mode": "montecarlo", "seeds": 7}}),
        "case.toml, [scenarios] seeds: unknown key; did you mean 'seed'? "
        "(allowed keys: mode, count, seed, allow_absent)",
        id="unknown-key-in-scenarios"),
    pytest.param(
        tables({"case": {"nam": "x"}}),
        "case.toml, [case] nam: unknown key; did you mean 'name'? "
        "(allowed keys: name, currency, revenue_metric, periods_per_year)",
        id="unknown-key-in-case"),
    # Metric ranges.
    pytest.param(tables({"metrics.revenue": {"threshold": 1.0}}),
                 "case.toml, [metrics.revenue] threshold: must be < 1.0, got 1.0",
                 id="threshold-1"),
    pytest.param(tables({"metrics.revenue": {"threshold": -0.1}}),
                 "case.toml, [metrics.revenue] threshold: must be >= 0.0, got -0.1",
                 id="threshold-negative"),
    pytest.param(tables({"metrics.revenue": {"cap": 1.0}}),
                 "case.toml, [metrics.revenue] cap: must be > 1.0, got 1.0", id="cap-1"),
    pytest.param(tables({"metrics.revenue": {"cap": 0.8}}),
                 "case.toml, [metrics.revenue] cap: must be > 1.0, got 0.8", id="cap-below-1"),
    pytest.param(tables({"metrics.revenue": {"alignment": {"growth": 1.5}}}),
                 "case.toml, [metrics.revenue] alignment.growth: must be <= 1.0, got 1.5",
                 id="alignment-above-1"),
    pytest.param(tables({"metrics.revenue": {"alignment": {"growth": -1.01}}}),
                 "case.toml, [metrics.revenue] alignment.growth: must be >= -1.0, got -1.01",
                 id="alignment-below-minus-1"),
    pytest.param(tables({"metrics.revenue": {"responsiveness": 0.0}}),
                 "case.toml, [metrics.revenue] responsiveness: must be > 0.0, got 0.0",
                 id="responsiveness-0"),
    pytest.param(tables({"metrics.revenue": {"step": 0.0}}),
                 "case.toml, [metrics.revenue] step: must be > 0.0, got 0.0", id="step-0"),
    pytest.param(tables({"metrics.revenue": {"min_weight": 1.5}}),
                 "case.toml, [metrics.revenue] min_weight: must be <= 1.0, got 1.5",
                 id="metric-min-weight-above-1"),
    pytest.param(tables({"metrics.revenue": {"min_weight": 0.6, "max_weight": 0.5}}),
                 "case.toml, [metrics.revenue]: min_weight 0.6 is above max_weight 0.5",
                 id="metric-min-weight-above-max-weight"),
    pytest.param(tables({"design": {"max_weight": 0.5}, "metrics.revenue": {"min_weight": 0.6}}),
                 "case.toml: [metrics.revenue] min_weight 0.6 is above max_weight 0.5 "
                 "(after [design] defaults)",
                 id="metric-min-weight-above-design-max-weight"),
    pytest.param(tables({"metrics.revenue": {"required": True, "forbidden": True}}),
                 "case.toml, [metrics.revenue]: a metric cannot be both required and forbidden",
                 id="required-and-forbidden"),
    pytest.param(tables({"design": {"max_metrics": 1}, "metrics.revenue": {"required": True},
                         "metrics.margin": {"required": True}}),
                 "case.toml: 2 metrics are required (revenue, margin) but [design] max_metrics "
                 "is 1",
                 id="more-required-than-max-metrics"),
    # Design, budget.
    pytest.param(tables({"design": {"max_metrics": 0}}),
                 "case.toml, [design] max_metrics: must be >= 1, got 0", id="max-metrics-0"),
    pytest.param(tables({"design": {"max_metrics": 4}}),
                 "case.toml, [design] max_metrics: must be <= 3, got 4", id="max-metrics-4"),
    pytest.param(tables({"budget": {"cvar_level": 0.0, "cvar_cap": 1000.0}}),
                 "case.toml, [budget] cvar_level: must be > 0.0, got 0.0", id="cvar-level-0"),
    pytest.param(tables({"budget": {"cvar_level": 1.0, "cvar_cap": 1000.0}}),
                 "case.toml, [budget] cvar_level: must be < 1.0, got 1.0", id="cvar-level-1"),
    pytest.param(tables({"budget": {"expected_cap": 0.0}}),
                 "case.toml, [budget] expected_cap: must be > 0.0, got 0.0",
                 id="expected-cap-0"),
    # Wrong types.
    pytest.param(tables({"metrics.revenue": {"threshold": "0.5"}}),
                 "case.toml, [metrics.revenue] threshold: must be a number, got '0.5'",
                 id="string-for-number"),
    pytest.param(tables({"metrics.revenue": {"required": 1}}),
                 "case.toml, [metrics.revenue] required: must be true or false, got 1",
                 id="int-for-bool"),
    pytest.param(tables({"design": {"max_metrics": 2.0}}),
                 "case.toml, [design] max_metrics: must be a whole number, got 2.0",
                 id="float-for-int"),
    pytest.param(tables({"metrics.revenue": {"label": 3}}),
                 "case.toml, [metrics.revenue] label: must be text, got 3", id="int-for-text"),
    pytest.param(tables({"goals": {"growth": "high"}}),
                 "case.toml, [goals] growth: must be a number, got 'high'",
                 id="string-for-priority"),
    pytest.param(tables({"metrics.revenue": {"alignment": 1.0}}),
                 "case.toml, [metrics.revenue] alignment: must be a table, got 1.0",
                 id="number-for-table"),
    pytest.param(tables({"scenarios": {"mode": "random"}}),
                 "case.toml, [scenarios] mode: must be one of 'historical' or 'montecarlo', "
                 "got 'random'",
                 id="unknown-mode"),
    # Required keys.
    pytest.param(tables(drop=("metrics.revenue:threshold",)),
                 "case.toml, [metrics.revenue] threshold: is required but missing",
                 id="missing-threshold"),
    pytest.param(tables(drop=("metrics.revenue:cap",)),
                 "case.toml, [metrics.revenue] cap: is required but missing", id="missing-cap"),
    pytest.param(tables(drop=("metrics.revenue:alignment",)),
                 "case.toml, [metrics.revenue] alignment: is required but missing",
                 id="missing-alignment"),
    # Several problems: the first is shown, the rest counted.
    pytest.param(tables({"metrics.revenue": {"threshold": 1.5, "cap": 0.5}}),
                 "case.toml, [metrics.revenue] threshold: must be < 1.0, got 1.5 "
                 "(and 1 more problem)",
                 id="two-problems"),
]


@pytest.mark.parametrize(("spec", "message"), CASE_TOML_RULES)
def test_case_toml_rule(case: Callable[..., Path], spec: dict[str, Any], message: str) -> None:
    exc = load_error(case(spec))
    assert str(exc) == message
    assert exc.file == "case.toml"
    assert exc.row is None


def test_int_is_accepted_where_a_number_is_expected(case: Callable[..., Path]) -> None:
    spec = tables({"metrics.revenue": {"threshold": 0, "cap": 2, "alignment": {"growth": 1}},
                   "budget": {"expected_cap": 5000}})
    loaded = load_case(case(spec))
    assert loaded.metric("revenue").threshold == 0.0
    assert loaded.spec.budget.expected_cap == 5000.0


# Rules checked on a whole table ([goals], [design], [budget], [fairness], [scenarios]):
# the location is the table as written in case.toml, in brackets.
TABLE_RULES = [
    pytest.param(tables(replace={"goals": {"growth": 0.0, "margin": 0.0}}), "goals",
                 "at least one goal needs a priority > 0", id="goals-all-zero"),
    pytest.param(tables({"goals": {"margin": -0.5}}), "goals",
                 "goal 'margin' has priority -0.5; priorities are >= 0", id="goal-negative"),
    pytest.param(tables(replace={"goals": {}}), "goals", "at least one goal is required",
                 id="goals-empty"),
    pytest.param(tables({"design": {"min_weight": 0.6, "max_weight": 0.5}}), "design",
                 "min_weight 0.6 is above max_weight 0.5", id="design-min-above-max"),
    pytest.param(tables({"design": {"accelerator_min": 3.0, "accelerator_max": 2.0}}),
                 "design", "accelerator_min 3.0 is above accelerator_max 2.0",
                 id="accelerator-min-above-max"),
    pytest.param(tables({"budget": {"cvar_cap": 1000.0}}), "budget",
                 "cvar_cap needs cvar_level (the tail level beta, 0 < beta < 1)",
                 id="cvar-cap-without-level"),
    pytest.param(tables({"fairness": {"parity_tolerance": 0.1}}), "fairness",
                 "parity_tolerance needs group_by", id="parity-without-group-by"),
    pytest.param(tables({"fairness": {"top_share": 0.1}}), "fairness",
                 "top_share needs top_ratio", id="top-share-without-ratio"),
    pytest.param(tables({"fairness": {"top_ratio": 2.0}}), "fairness",
                 "top_ratio needs top_share", id="top-ratio-without-share"),
    pytest.param(tables({"fairness": {"bottom_share": 0.2}}), "fairness",
                 "bottom_share needs bottom_floor", id="bottom-share-without-floor"),
    pytest.param(tables({"fairness": {"bottom_floor": 0.3}}), "fairness",
                 "bottom_floor needs bottom_share", id="bottom-floor-without-share"),
    pytest.param(tables({"scenarios": {"mode": "historical", "count": 5}}), "scenarios",
                 'count and seed apply only to mode = "montecarlo"',
                 id="count-in-historical-mode"),
]


@pytest.mark.parametrize(("spec", "table", "detail"), TABLE_RULES)
def test_table_rule(case: Callable[..., Path], spec: dict[str, Any], table: str,
                    detail: str) -> None:
    exc = load_error(case(spec))
    assert (exc.file, exc.row, exc.field, exc.detail) == ("case.toml", None, f"[{table}]",
                                                          detail)
    assert str(exc) == f"case.toml, [{table}]: {detail}"


def test_missing_table_is_named_as_a_key(case: Callable[..., Path]) -> None:
    # A missing table is a problem with the key itself, like a misspelt table
    # ("budgte: unknown key") or a value where a table belongs ("design: must be a table").
    assert str(load_error(case(tables(drop=("goals",))))) == ("case.toml, goals: is required "
                                                              "but missing")


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize(("header", "key", "value", "shown"), [
    # TOML reads inf and nan as floats: no setting means anything with them (an unlimited
    # accelerator or cap made the solve unbounded and crashed the diagnosis).
    pytest.param("design", "accelerator_max", INF, "inf", id="accelerator-max"),
    pytest.param("design", "max_payout_multiple", INF, "inf", id="max-payout-multiple"),
    pytest.param("metrics.revenue", "responsiveness", INF, "inf", id="responsiveness"),
    pytest.param("metrics.revenue", "cap", INF, "inf", id="cap"),
    pytest.param("metrics.revenue", "threshold", NAN, "nan", id="threshold-nan"),
    pytest.param("metrics.revenue", "alignment", {"growth": NAN}, "nan", id="alignment-nan"),
    pytest.param("budget", "expected_cap", INF, "inf", id="expected-cap"),
    pytest.param("fairness", "bottom_floor", -INF, "-inf", id="minus-inf"),
    pytest.param("goals", "growth", INF, "inf", id="goal-priority"),
])
def test_non_finite_setting_is_rejected(case: Callable[..., Path], header: str, key: str,
                                        value: Any, shown: str) -> None:
    spec = tables({header: {key: value}})
    if header == "fairness":
        spec["fairness"]["bottom_share"] = 0.2
    exc = load_error(case(spec))
    field = f"{key}.growth" if isinstance(value, dict) else key
    assert (exc.file, exc.field) == ("case.toml", f"[{header}] {field}")
    assert str(exc) == f"case.toml, [{header}] {field}: must be a finite number, got {shown}"


def test_fairness_group_by_names_a_missing_column(case: Callable[..., Path]) -> None:
    exc = load_error(case(tables({"fairness": {"group_by": "region",
                                               "parity_tolerance": 0.1}})))
    assert str(exc) == ("case.toml, [fairness] group_by: 'region' is not a column of reps.csv "
                        "(grouping columns: segment)")


def test_fairness_group_by_naming_a_column_is_valid(case: Callable[..., Path]) -> None:
    loaded = load_case(case(tables({"fairness": {"group_by": "segment", "parity_tolerance": 0.1,
                                                 "top_share": 0.5, "top_ratio": 2.0,
                                                 "bottom_share": 0.5, "bottom_floor": 0.3}})))
    assert loaded.spec.fairness.group_by == "segment"


def test_metric_id_may_not_be_a_reserved_column(case: Callable[..., Path]) -> None:
    spec = tables({"metrics.period": BASE["metrics.revenue"]})
    exc = load_error(case(spec))
    assert exc.detail == "'period' is a column of attainment.csv, not a metric id"


# --------------------------------------------------------------- goals in alignment

def test_alignment_naming_an_unknown_goal_is_an_error(case: Callable[..., Path]) -> None:
    spec = tables({"metrics.revenue": {"alignment": {"growth": 1.0, "retention": 0.5}}})
    exc = load_error(case(spec))
    assert str(exc) == (
        "case.toml, [metrics.revenue] alignment: goal 'retention' is not in [goals] "
        "(goals: growth, margin); list it in [goals] (a priority of 0 is allowed) or "
        "correct its spelling")
    assert exc.exit_code == 2


def test_unknown_goals_are_counted(case: Callable[..., Path]) -> None:
    spec = tables({"metrics.revenue": {"alignment": {"grwth": 1.0}},
                   "metrics.margin": {"alignment": {"margn": 1.0}}})
    exc = load_error(case(spec))
    assert exc.field == "[metrics.revenue] alignment"
    assert exc.detail.startswith("goal 'grwth' is not in [goals]")
    assert exc.detail.endswith("(and 1 more)")


def test_a_goal_of_priority_zero_may_be_named() -> None:
    loaded = load_case(CONFORMANCE / "c4_infeasible")
    assert loaded.spec.goals["margin"] == 0.0
    assert loaded.spec.warnings() == []


# ------------------------------------------------------------- case.toml as a file

def test_invalid_toml_syntax(case: Callable[..., Path]) -> None:
    path = case(files={"case.toml": "[goals]\ngrowth = 1.0\n[metrics.revenue\nthreshold = 0.5\n"})
    assert str(load_error(path)) == ("case.toml: is not valid TOML: Expected ']' at the end of "
                                     "a table declaration (at line 3, column 17)")


def test_toml_value_missing(case: Callable[..., Path]) -> None:
    path = case(files={"case.toml": "[goals]\ngrowth =\n"})
    assert str(load_error(path)) == ("case.toml: is not valid TOML: Invalid value "
                                     "(at line 2, column 9)")


def test_toml_not_utf8(case: Callable[..., Path]) -> None:
    path = case()
    (path / "case.toml").write_bytes((path / "case.toml").read_bytes() + b"# caf\xe9\n")
    assert str(load_error(path)) == "case.toml: is not UTF-8 text (invalid continuation byte)"


def test_table_given_as_a_value(case: Callable[..., Path]) -> None:
    path = case()
    text = (path / "case.toml").read_text()
    (path / "case.toml").write_text("design = 3\n" + text)
    assert str(load_error(path)) == "case.toml, design: must be a table, got 3"


# ------------------------------------------------------------------------ empty files

@pytest.mark.parametrize(("name", "message"), [
    ("reps.csv", "reps.csv, line 1: is empty: a header row is required"),
    ("attainment.csv", "attainment.csv, line 1: is empty: a header row is required"),
    ("case.toml", "case.toml, goals: is required but missing (and 1 more problem)"),
    ("quotas.csv", "quotas.csv, line 1: is empty: a header row is required"),
    ("current_plan.toml", "current_plan.toml, metrics: is required but missing"),
])
def test_empty_file(case: Callable[..., Path], name: str, message: str) -> None:
    assert str(load_error(case(files={name: ""}))) == message


@pytest.mark.parametrize(("name", "header"), [
    ("reps.csv", "rep_id,segment,target_incentive\n"),
    ("attainment.csv", ATT_HEADER),
    ("quotas.csv", "rep_id,revenue\n"),
])
def test_header_without_rows(case: Callable[..., Path], name: str, header: str) -> None:
    assert str(load_error(case(files={name: header}))) == f"{name}: has a header but no data rows"


# ---------------------------------------------------------------------- missing files

@pytest.mark.parametrize(("name", "hint"), [
    ("case.toml", ""),
    ("reps.csv", " (or give reps.parquet)"),
    ("attainment.csv", " (or give attainment.parquet)"),
])
def test_required_file_missing(case: Callable[..., Path], name: str, hint: str) -> None:
    path = case(remove=(name,))
    assert str(load_error(path)) == f"{name}: is missing from the case folder {path}{hint}"


def test_case_folder_missing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere"
    assert str(load_error(path)) == (f"{path}: is not a case folder (a folder holding "
                                     "case.toml, reps.csv and attainment.csv)")


def test_optional_files_absent(case: Callable[..., Path]) -> None:
    loaded = load_case(case())
    assert loaded.quotas is None and loaded.current_plan is None


# --------------------------------------------------------------------------- reps.csv

TI_VALUES = [
    pytest.param("0", "'0'", id="zero"),
    pytest.param("-5", "'-5'", id="negative"),
    pytest.param("inf", "'inf'", id="inf"),
    pytest.param("abc", "'abc'", id="text"),
    pytest.param("", "an empty cell", id="empty"),
    pytest.param("1,000", "'1,000'", id="thousands-separator"),
]


def reps_text(ti_r2: str) -> str:
    return f'rep_id,segment,target_incentive\nR1,North,1000\nR2,South,"{ti_r2}"\n'


@pytest.mark.parametrize(("cell", "shown"), TI_VALUES)
def test_target_incentive_message(case: Callable[..., Path], cell: str, shown: str) -> None:
    # The cell is quoted as written, whatever the other rows hold.
    exc = load_error(case(files={"reps.csv": reps_text(cell)}))
    assert (exc.file, exc.row, exc.field) == ("reps.csv", 3, "target_incentive")
    assert str(exc) == f"reps.csv, line 3, target_incentive: {TI_RULE}, got {shown}"


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("rep_id,segment,target_incentive\nR1,North,1000\nR2,South,2000\nR1,West,500\n",
                 "reps.csv, line 4, rep_id: rep 'R1' appears twice (first on line 2); rep ids "
                 "must be unique", id="duplicate-rep"),
    pytest.param("rep_id,segment\nR1,North\nR2,South\n",
                 "reps.csv, line 1: required column 'target_incentive' is missing (columns "
                 "found: rep_id, segment)", id="no-target-incentive-column"),
    pytest.param("id,segment,target_incentive\nR1,North,1000\n",
                 "reps.csv, line 1: required column 'rep_id' is missing (columns found: id, "
                 "segment, target_incentive)", id="no-rep-id-column"),
    pytest.param("rep_id,segment,segment,target_incentive\nR1,North,North,1000\n",
                 "reps.csv, line 1: column 'segment' appears twice in the header",
                 id="duplicate-header"),
    pytest.param("rep_id,,target_incentive\nR1,North,1000\n",
                 "reps.csv, line 1: column 2 has no name", id="unnamed-column"),
    pytest.param("rep_id,segment,target_incentive\nR1,North,1000\n,South,2000\n",
                 "reps.csv, line 3, rep_id: is empty; a value is required", id="empty-rep-id"),
    pytest.param('rep_id,segment,target_incentive\n"R1,North,1000\n',
                 "reps.csv: cannot be read as CSV: Error tokenizing data. C error: EOF inside "
                 "string starting at row 1", id="unterminated-quote"),
])
def test_reps_rule(case: Callable[..., Path], text: str, message: str) -> None:
    assert str(load_error(case(files={"reps.csv": text}))) == message


def test_reps_not_utf8(case: Callable[..., Path]) -> None:
    text = "rep_id,segment,target_incentive\nR1,Nord-\xe9,1000\nR2,South,2000\n"
    path = case(files={"reps.csv": text.encode("latin-1")})
    assert str(load_error(path)) == ("reps.csv: is not UTF-8 text (invalid continuation byte "
                                     "at byte 40)")


@pytest.mark.parametrize(("name", "text", "message"), [
    # pandas would take the first column of a longer first row as an index and shift
    # every column.
    pytest.param("reps.csv", "rep_id,segment,target_incentive\nR1,North,1000,5\nR2,South,2000\n",
                 "reps.csv, line 2: has 4 fields but the header has 3", id="reps-first-row"),
    pytest.param("attainment.csv", attainment_text("R1,P01,1.0,1.1,9", *ATT_ROWS[1:]),
                 "attainment.csv, line 2: has 5 fields but the header has 4",
                 id="attainment-first-row"),
    pytest.param("attainment.csv", attainment_text(*ATT_ROWS[:2], "R2,P01,0.8,1.0,", ATT_ROWS[3]),
                 "attainment.csv, line 4: has 5 fields but the header has 4",
                 id="trailing-comma"),
    # A shorter row would be padded with empty cells.
    pytest.param("attainment.csv", attainment_text(*ATT_ROWS[:3], "R2,P02,0.9"),
                 "attainment.csv, line 5: has 3 fields but the header has 4", id="short-row"),
    pytest.param("reps.csv", "rep_id,segment,target_incentive\nR1,North,1000\nR2\n",
                 "reps.csv, line 3: has 1 field but the header has 3", id="one-field"),
    # Quoted fields are split as CSV: the comma inside quotes does not count.
    pytest.param("reps.csv", 'rep_id,segment,target_incentive\nR1,"North, East",1000\n'
                             'R2,South,2000,7\n',
                 "reps.csv, line 3: has 4 fields but the header has 3", id="quoted"),
    pytest.param("quotas.csv", "rep_id,revenue\nR1,100\n\nR2,200,300\n",
                 "quotas.csv, line 4: has 3 fields but the header has 2",
                 id="after-blank-line"),
])
def test_row_with_wrong_field_count_is_named(case: Callable[..., Path], name: str, text: str,
                                             message: str) -> None:
    exc = load_error(case(files={name: text}))
    assert (exc.file, exc.field) == (name, None)
    assert str(exc) == message


def test_quoted_comma_and_blank_lines_are_valid(case: Callable[..., Path]) -> None:
    text = 'rep_id,segment,target_incentive\n\nR1,"North, East",1000\n  \nR2,South,"2000"\n'
    loaded = load_case(case(files={"reps.csv": text}))
    assert list(loaded.reps["segment"]) == ["North, East", "South"]
    assert loaded.target_incentive.tolist() == [1000.0, 2000.0]


# --------------------------------------------------------------------- attainment.csv

ATT_VALUES = [
    pytest.param("-1", "'-1'", id="negative"),
    pytest.param("inf", "'inf'", id="inf"),
    pytest.param("nan", "'nan'", id="nan"),
    pytest.param("NaN", "'NaN'", id="NaN"),
    pytest.param("abc", "'abc'", id="text"),
    pytest.param("95%", "'95%'", id="percent"),
    pytest.param("", "an empty cell", id="empty"),
]


@pytest.mark.parametrize(("cell", "shown"), ATT_VALUES)
def test_attainment_message(case: Callable[..., Path], cell: str, shown: str) -> None:
    path = case(files={"attainment.csv": attainment_text(*ATT_ROWS[:3], f"R2,P02,{cell},1.3")})
    exc = load_error(path)
    assert (exc.file, exc.row, exc.field) == ("attainment.csv", 5, "revenue")
    assert str(exc) == f"attainment.csv, line 5, revenue: {ATT_RULE}, got {shown}"


@pytest.mark.parametrize(("cell", "shown"), [
    pytest.param("-0.50", "'-0.50'", id="trailing-zero"),
    pytest.param(" -2e0 ", "'-2e0'", id="exponent-with-blanks"),
    pytest.param("1e400", "'1e400'", id="overflow"),
])
def test_attainment_cell_is_quoted_as_written(case: Callable[..., Path], cell: str,
                                              shown: str) -> None:
    # Every other cell of the column is a plain number: the cell at fault is still quoted
    # as written, never as the float it parses to ('-0.5', '-2.0', 'inf').
    path = case(files={"attainment.csv": attainment_text(*ATT_ROWS[:3], f"R2,P02,{cell},1.3")})
    assert str(load_error(path)) == f"attainment.csv, line 5, revenue: {ATT_RULE}, got {shown}"


def test_attainment_bad_cell_in_second_metric(case: Callable[..., Path]) -> None:
    path = case(files={"attainment.csv": attainment_text(*ATT_ROWS[:2], "R2,P01,0.8,",
                                                         ATT_ROWS[3])})
    assert str(load_error(path)) == f"attainment.csv, line 4, margin: {ATT_RULE}, got an empty cell"


def test_attainment_zero_is_valid(case: Callable[..., Path]) -> None:
    path = case(files={"attainment.csv": attainment_text(*ATT_ROWS[:3], "R2,P02,0,0.0")})
    assert load_case(path).attainment[1, :, 1].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(("rows", "message"), [
    pytest.param(("rep_id,period,revenue\n", "R1,P01,1.0", "R1,P02,1.2", "R2,P01,0.8",
                  "R2,P02,0.9"),
                 "attainment.csv, line 1: has no column for metric 'margin' (every metric of "
                 "case.toml needs one; columns found: rep_id, period, revenue)",
                 id="metric-without-column"),
    pytest.param((ATT_HEADER, *ATT_ROWS, "R1,P02,1.2,0.7"),
                 "attainment.csv, line 6, period: rep 'R1' has two rows for period 'P02'",
                 id="duplicate-row"),
    pytest.param((ATT_HEADER, *ATT_ROWS[:3]),
                 "attainment.csv: rep 'R2' has no row for period 'P02' (every rep needs "
                 "exactly one row per period; if reps joined or left, set [scenarios] "
                 "allow_absent = true in case.toml: a missing row then means off the plan "
                 "that period)", id="missing-period"),
    pytest.param((ATT_HEADER, *ATT_ROWS, "R9,P01,1.0,1.0"),
                 "attainment.csv, line 6, rep_id: rep 'R9' is not in reps.csv",
                 id="unknown-rep"),
    pytest.param((ATT_HEADER, *ATT_ROWS, ",P01,1.0,1.0"),
                 "attainment.csv, line 6, rep_id: is empty; a value is required",
                 id="empty-rep-id"),
    pytest.param(("rep,period,revenue,margin\n", "R1,P01,1.0,1.1"),
                 "attainment.csv, line 1: required column 'rep_id' is missing (columns found: "
                 "rep, period, revenue, margin)", id="no-rep-id-column"),
    pytest.param(("rep_id,revenue,margin\n", "R1,1.0,1.1"),
                 "attainment.csv, line 1: required column 'period' is missing (columns found: "
                 "rep_id, revenue, margin)", id="no-period-column"),
    pytest.param(("rep_id,period,revenue,margin,revenue\n", "R1,P01,1.0,1.1,1.0"),
                 "attainment.csv, line 1: column 'revenue' appears twice in the header",
                 id="duplicate-header"),
])
def test_attainment_rule(case: Callable[..., Path], rows: tuple[str, ...], message: str) -> None:
    text = rows[0] + "".join(f"{r}\n" for r in rows[1:])
    assert str(load_error(case(files={"attainment.csv": text}))) == message


def test_attainment_extra_column_is_ignored(case: Callable[..., Path]) -> None:
    text = "rep_id,period,revenue,margin,notes\n" + "".join(f"{r},x\n" for r in ATT_ROWS)
    assert load_case(case(files={"attainment.csv": text})).attainment.shape == (2, 2, 2)


def test_blank_lines_keep_line_numbers(case: Callable[..., Path]) -> None:
    text = ATT_HEADER + "R1,P01,1.0,1.1\n\nR1,P02,1.2,0.7\nR2,P01,0.8,1.0\nR2,P02,abc,1.3\n"
    exc = load_error(case(files={"attainment.csv": text}))
    assert str(exc) == f"attainment.csv, line 6, revenue: {ATT_RULE}, got 'abc'"


# ------------------------------------------------------------------------- quotas.csv

@pytest.mark.parametrize(("text", "message"), [
    pytest.param("rep_id,revenue\nR1,100\nR2,abc\n",
                 f"quotas.csv, line 3, revenue: {QUOTA_RULE}, got 'abc'", id="text"),
    pytest.param("rep_id,revenue\nR1,\nR2,200\n",
                 f"quotas.csv, line 2, revenue: {QUOTA_RULE}, got an empty cell", id="empty"),
    pytest.param("rep_id,revenue\nR1,100\nR2,200\nR7,5\n",
                 "quotas.csv, line 4, rep_id: rep 'R7' is not in reps.csv", id="unknown-rep"),
    pytest.param("rep_id,revenue,pipeline\nR1,100,1\nR2,200,1\n",
                 "quotas.csv, line 1: column 'pipeline' is not a metric of the case (metrics: "
                 "revenue, margin)", id="unknown-metric-column"),
    pytest.param("rep_id,revenue\nR1,100\n",
                 "quotas.csv: rep 'R2' has no row (quotas.csv needs one row per rep)",
                 id="missing-rep"),
    pytest.param("rep_id,revenue\nR1,100\nR2,200\nR1,100\n",
                 "quotas.csv, line 4, rep_id: rep 'R1' appears twice", id="duplicate-rep"),
    pytest.param("id,revenue\nR1,100\n",
                 "quotas.csv, line 1: required column 'rep_id' is missing (columns found: id, "
                 "revenue)", id="no-rep-id-column"),
])
def test_quotas_rule(case: Callable[..., Path], text: str, message: str) -> None:
    assert str(load_error(case(files={"quotas.csv": text}))) == message


@pytest.mark.parametrize("cell", ["0", "-3", "0.00", "inf"])
def test_quota_message(case: Callable[..., Path], cell: str) -> None:
    exc = load_error(case(files={"quotas.csv": f"rep_id,revenue\nR1,100\nR2,{cell}\n"}))
    assert (exc.file, exc.row, exc.field) == ("quotas.csv", 3, "revenue")
    assert str(exc) == f"quotas.csv, line 3, revenue: {QUOTA_RULE}, got '{cell}'"


def test_quotas_valid(case: Callable[..., Path]) -> None:
    quotas = load_case(case(files={"quotas.csv": "rep_id,revenue\nR2,200\nR1,100\n"})).quotas
    assert quotas is not None
    np.testing.assert_array_equal(quotas[:, 0], [100.0, 200.0])
    assert np.isnan(quotas[:, 1]).all()


# ------------------------------------------------------------------ current_plan.toml

def plan_toml(*metrics: tuple[str, float]) -> str:
    return "".join(f'[[metrics]]\nid = "{mid}"\nweight = {w}\naccelerator_multiple = 1.5\n'
                   for mid, w in metrics)


@pytest.mark.parametrize(("text", "message"), [
    pytest.param(plan_toml(("revenue", 0.6), ("pipeline", 0.4)),
                 "current_plan.toml, [[metrics]] #2 id: 'pipeline' is not a metric of the case "
                 "(metrics: revenue, margin)", id="unknown-metric"),
    pytest.param(plan_toml(("revenue", 0.5), ("revenue", 0.5)),
                 "current_plan.toml: metric 'revenue' appears twice", id="metric-twice"),
    pytest.param('[[metrics]]\nid = "revenue"\nweight = 1.0\n',
                 "current_plan.toml, [[metrics]] #1: give accelerator_rate or "
                 "accelerator_multiple", id="no-accelerator"),
    pytest.param(plan_toml(("revenue", 1.0)) + "wieght = 1.0\n",
                 "current_plan.toml, [[metrics]] #1 wieght: unknown key; did you mean 'weight'? "
                 "(allowed keys: id, "
                 "label, weight, threshold, cap, base_rate, accelerator_rate, "
                 "accelerator_multiple, curve, gate)", id="unknown-key"),
    pytest.param('[[metrics]]\nid = "revenue"\nweight = "1"\naccelerator_rate = 1.0\n',
                 "current_plan.toml, [[metrics]] #1 weight: must be a number, got '1'",
                 id="string-weight"),
    pytest.param('[[metrics]]\nid = "revenue"\nweight = 1.0\naccelerator_rate = inf\n',
                 "current_plan.toml, [[metrics]] #1 accelerator_rate: must be a finite number, "
                 "got inf", id="inf-rate"),
    pytest.param("[[metrics]\n",
                 "current_plan.toml: is not valid TOML: Expected ']]' at the end of an array "
                 "declaration (at line 1, column 10)", id="invalid-toml"),
])
def test_current_plan_rule(case: Callable[..., Path], text: str, message: str) -> None:
    assert str(load_error(case(files={"current_plan.toml": text}))) == message


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("metrics = []\n",
                 "current_plan.toml, [[metrics]]: a plan needs at least 1 metric, got none",
                 id="no-metrics"),
    pytest.param('[metrics]\nid = "revenue"\nweight = 1.0\naccelerator_rate = 1.0\n',
                 "current_plan.toml, metrics: must be an array of tables, each headed "
                 "[[metrics]], got one table [metrics]", id="single-table"),
    pytest.param('metrics = "revenue"\n',
                 "current_plan.toml, metrics: must be an array of tables, each headed "
                 "[[metrics]], got 'revenue'", id="text"),
])
def test_current_plan_metrics_list(case: Callable[..., Path], text: str, message: str) -> None:
    # In our words, not pydantic's ("List should have at most 3 items after validation").
    assert str(load_error(case(files={"current_plan.toml": text}))) == message


def test_array_of_tables_where_a_table_belongs(case: Callable[..., Path]) -> None:
    path = case()
    text = (path / "case.toml").read_text()
    (path / "case.toml").write_text(text + "\n[[design]]\nmax_metrics = 2\n")
    assert str(load_error(path)) == ("case.toml, design: must be a table, got an array of "
                                     "tables [[design]]")


def test_current_plan_valid(case: Callable[..., Path]) -> None:
    plan = load_case(case(files={"current_plan.toml": plan_toml(("revenue", 0.6),
                                                                ("margin", 0.4))})).current_plan
    assert plan is not None
    assert [(m.id, m.weight) for m in plan.metrics] == [("revenue", 0.6), ("margin", 0.4)]


# ------------------------------------------------------------------ BOM and CRLF

def bom_crlf(path: Path, *names: str) -> None:
    for name in names:
        text = (path / name).read_text(encoding="utf-8")
        (path / name).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())


def test_csv_files_with_bom_and_crlf_load_the_same(case: Callable[..., Path]) -> None:
    plain = load_case(case(files={"quotas.csv": "rep_id,revenue\nR1,100\nR2,200\n"}))
    path = case(files={"quotas.csv": "rep_id,revenue\nR1,100\nR2,200\n"})
    bom_crlf(path, "reps.csv", "attainment.csv", "quotas.csv")
    (path / "case.toml").write_bytes((path / "case.toml").read_bytes().replace(b"\n", b"\r\n"))
    loaded = load_case(path)
    np.testing.assert_array_equal(loaded.attainment, plain.attainment)
    np.testing.assert_array_equal(loaded.quotas, plain.quotas)
    assert list(loaded.reps.index) == ["R1", "R2"]
    assert list(loaded.reps.columns) == list(plain.reps.columns)


@pytest.mark.parametrize(("name", "text", "message"), [
    pytest.param("attainment.csv", attainment_text(*ATT_ROWS[:3], "R2,P02,abc,1.3"),
                 f"attainment.csv, line 5, revenue: {ATT_RULE}, got 'abc'", id="bad-cell"),
    pytest.param("reps.csv", "rep_id,rep_id,target_incentive\nR1,R1,1000\n",
                 "reps.csv, line 1: column 'rep_id' appears twice in the header",
                 id="bom-before-first-column"),
    pytest.param("reps.csv", "rep_id,segment\nR1,North\n",
                 "reps.csv, line 1: required column 'target_incentive' is missing (columns "
                 "found: rep_id, segment)", id="missing-column"),
])
def test_messages_are_the_same_with_bom_and_crlf(case: Callable[..., Path], name: str,
                                                 text: str, message: str) -> None:
    assert str(load_error(case(files={name: text}))) == message
    path = case(files={name: text})
    bom_crlf(path, name)
    assert str(load_error(path)) == message


def test_case_with_bom_and_crlf_everywhere_loads_the_same(case: Callable[..., Path]) -> None:
    files = {"current_plan.toml": plan_toml(("revenue", 0.6), ("margin", 0.4))}
    plain = load_case(case(files=files))
    path = case(files=files)
    bom_crlf(path, "case.toml", "reps.csv", "attainment.csv", "current_plan.toml")
    loaded = load_case(path)
    np.testing.assert_array_equal(loaded.attainment, plain.attainment)
    assert loaded.spec == plain.spec
    assert loaded.current_plan == plain.current_plan


@pytest.mark.parametrize("name", ["case.toml", "current_plan.toml"])
def test_toml_with_bom_keeps_its_messages(case: Callable[..., Path], name: str) -> None:
    # A BOM is dropped before parsing: line and column numbers are those without it.
    text = "[goals]\ngrowth =\n" if name == "case.toml" else "[[metrics]\n"
    path = case(files={name: b"\xef\xbb\xbf" + text.encode()})
    where = "Invalid value (at line 2, column 9)" if name == "case.toml" else (
        "Expected ']]' at the end of an array declaration (at line 1, column 10)")
    assert str(load_error(path)) == f"{name}: is not valid TOML: {where}"
