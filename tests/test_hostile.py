"""Hostile input and faults that once gave a traceback, a hang or an unclear message.

Each test failed before issue 10: exit 2 with one clear ``Error:`` line now.
"""

from __future__ import annotations

import csv
import decimal
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import CONFORMANCE, assert_error, invoke

from compplan.cli.main import main
from compplan.models.text import shown

C1 = CONFORMANCE / "c1_budget_only"


@pytest.fixture
def case(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    shutil.copytree(C1, folder)
    return folder


# ------------------------------------------------------------ files that are not files

def test_a_folder_named_reps_csv_is_named_for_what_it_is(case: Path) -> None:
    (case / "reps.csv").unlink()
    (case / "reps.csv").mkdir()
    assert_error(invoke("validate", str(case)), 2,
                 "reps.csv: is a folder, not a file; the case needs a regular file here")


def test_a_link_loop_named_reps_csv(case: Path) -> None:
    (case / "reps.csv").unlink()
    (case / "loop").symlink_to(case / "reps.csv")
    (case / "reps.csv").symlink_to(case / "loop")
    assert_error(invoke("validate", str(case)), 2, "reps.csv: is a symbolic link that loops, "
                 "not a file; the case needs a regular file here")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_case_toml_is_not_read(case: Path) -> None:
    (case / "case.toml").unlink()
    os.mkfifo(case / "case.toml")  # reading it would wait for a writer for ever
    assert_error(invoke("validate", str(case)), 2, "case.toml: is a named pipe (FIFO), not a "
                 "file; the case needs a regular file here")


def test_an_unreadable_file_is_named(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.open

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == "reps.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", denied)
    assert_error(invoke("validate", str(case)), 2, "reps.csv: cannot be read: Permission denied")


def test_deeply_nested_toml(case: Path) -> None:
    (case / "case.toml").write_text("[case]\nname = 'x'\nvalue = " + "[" * 5000 + "]" * 5000)
    assert_error(invoke("validate", str(case)), 2, "case.toml: is not valid TOML here: its "
                 "tables or arrays are nested too deeply")


# ------------------------------------------------------------------ degenerate data

def _rewrite(path: Path, change: dict[str, object]) -> None:
    rows = list(csv.DictReader(path.open()))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, **{k: v for k, v in change.items() if k in r}} for r in rows)


def test_all_attainment_zero_is_refused_by_validate(case: Path) -> None:
    _rewrite(case / "attainment.csv", {m: "0" for m in ("revenue", "margin", "new_logos",
                                                       "activity")})
    message = ("attainment.csv: every attainment value is 0: no plan can pay for any result; "
               "check that the file holds attainment as a ratio of quota (1.0 = 100 %)")
    assert_error(invoke("validate", str(case)), 2, message)
    with (case / "case.toml").open("a") as handle:  # once a Pyomo traceback
        handle.write('\n[fairness]\ngroup_by = "segment"\nparity_tolerance = 0.1\n')
    assert_error(invoke("optimise", str(case), "--out", str(case.parent / "o"), "-q"), 2,
                 message)


def test_group_by_the_id_column(case: Path) -> None:
    with (case / "case.toml").open("a") as handle:
        handle.write('\n[fairness]\ngroup_by = "rep_id"\nparity_tolerance = 0.1\n')
    assert_error(invoke("validate", str(case)), 2, "case.toml, [fairness] group_by: 'rep_id' "
                 "cannot group reps: name a grouping column of reps.csv (segment, region, ...)")


def test_group_by_a_column_with_one_value(case: Path) -> None:
    _rewrite(case / "reps.csv", {"region": "West"})
    with (case / "case.toml").open("a") as handle:
        handle.write('\n[fairness]\ngroup_by = "region"\nparity_tolerance = 0.1\n')
    assert_error(invoke("validate", str(case)), 2, "case.toml, [fairness] group_by: 'region' "
                 "has the one value 'West' for every rep in reps.csv: there are no groups to "
                 "compare; group by another column or leave group_by out")


# --------------------------------------------------------------------- Parquet types

def _parquet_reps(case: Path, target: pa.Array) -> None:
    reps = pd.read_csv(case / "reps.csv")
    (case / "reps.csv").unlink()
    pq.write_table(pa.table({"rep_id": reps["rep_id"], "segment": reps["segment"],
                             "region": reps["region"], "target_incentive": target}),
                   case / "reps.parquet")


def test_parquet_decimals_are_numbers(case: Path, tmp_path: Path) -> None:
    before = invoke("optimise", str(case), "--out", str(tmp_path / "csv"), "-q")
    assert before.exit_code == 0
    values = pd.read_csv(case / "reps.csv")["target_incentive"]
    _parquet_reps(case, pa.array([decimal.Decimal(f"{v:.2f}") for v in values],
                                 pa.decimal128(14, 2)))
    result = invoke("optimise", str(case), "--out", str(tmp_path / "pq"), "-q")
    assert result.exit_code == 0, result.output
    assert ((tmp_path / "csv" / "plan.json").read_bytes()
            == (tmp_path / "pq" / "plan.json").read_bytes())


@pytest.mark.parametrize(("array", "holds"), [
    (pa.array([True] * 40), "true/false values (a boolean column); store numbers"),
    (pa.array(pd.to_datetime(["2026-01-01"] * 40)),
     "dates or times (a timestamp column); store numbers"),
], ids=["boolean", "timestamp"])
def test_parquet_types_that_are_not_amounts(case: Path, array: pa.Array, holds: str) -> None:
    _parquet_reps(case, array)
    assert_error(invoke("validate", str(case)), 2, "reps.parquet, target_incentive: must be a "
                 f"number > 0 (currency), but the column holds {holds}")


def test_parquet_lists(case: Path) -> None:
    _parquet_reps(case, pa.array([[1.0, 2.0]] * 40))
    assert_error(invoke("validate", str(case)), 2, "reps.parquet, row 1, target_incentive: "
                 "must be a number > 0 (currency), got a list [1.0, 2.0]")


# --------------------------------------------------------------------- plans and limits

def test_a_plan_with_two_accelerators_that_disagree(case: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\naccelerator_rate = 3.0\n'
                    "accelerator_multiple = 1.0\n")
    assert_error(invoke("evaluate", str(case), str(plan), "--out", str(tmp_path / "e"), "-q"),
                 2, "plan.toml, [[metrics]] #1 (revenue) accelerator_multiple: "
                 "accelerator_rate 3 and accelerator_multiple 1 disagree (the multiple x base "
                 "rate 2 is 2); give one of them")
    plan.write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\naccelerator_rate = 2.0\n'
                    "accelerator_multiple = 1.0\n")  # the same accelerator twice is fine
    assert invoke("evaluate", str(case), str(plan), "--out", str(tmp_path / "e"),
                  "-q").exit_code == 0


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_time_limit_must_be_a_finite_number(case: Path, value: str) -> None:
    result = invoke("optimise", str(case), "--time-limit", value, "-q")
    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: Invalid value for '--time-limit': {value!r} is not "
                                  "a finite number > 0.\n")


# ---------------------------------------------------------------------------- messages

@pytest.mark.parametrize(("value", "expected"), [
    ("R1", "'R1'"),
    ("R\u200b1", "'R\\u200b1'"),            # a zero-width space
    ("Jose\u0301", "'Jose\\u0301'"),        # not NFC: looks like José
    ("Jos\u00e9", "'Jos\u00e9'"),           # NFC: shown as is
    ("a\nb", "'a\\nb'"),
    ("x" * 200, "'" + "x" * 79 + "..."),
])
def test_ids_are_shown_escaped_and_cut(value: str, expected: str) -> None:
    assert shown(value) == expected


def test_an_id_with_a_zero_width_space_is_visible(case: Path) -> None:
    rows = (case / "attainment.csv").read_text().splitlines()
    rows[3] = rows[3].replace(",", "\u200b,", 1)  # R00001 followed by a zero-width space
    (case / "attainment.csv").write_text("\n".join(rows) + "\n")
    assert_error(invoke("validate", str(case)), 2, "attainment.csv, line 4, rep_id: rep "
                 "'R00000\\u200b' is not in reps.csv")


def test_warnings_are_captured_and_summarised(case: Path) -> None:
    import logging
    import warnings

    import click
    import numpy as np

    @click.command("warn-demo")
    def demo() -> None:
        np.array([1.0]) / np.array([0.0])
        warnings.warn("boom", RuntimeWarning, stacklevel=1)
        logging.getLogger("pyomo.core").warning("odd status")

    main.add_command(demo)
    try:
        result = invoke("warn-demo")
    finally:
        main.commands.pop("warn-demo")
    assert result.exit_code == 0
    assert result.stderr == ("note: 3 warnings from numpy or the solver, kept off the "
                             "screen: RuntimeWarning: divide by zero encountered in divide "
                             "and 2 more\n")


def test_a_case_name_cannot_inject_headings(case: Path) -> None:
    text = (case / "case.toml").read_text().replace('name = "Budget only"',
                                                    'name = "Budget\\n# Injected"')
    (case / "case.toml").write_text(text)
    assert_error(invoke("validate", str(case)), 2, "case.toml, [case] name: must be one line of "
                 "text (no line breaks, tabs or control characters), got 'Budget\\n# Injected'")


def test_a_plan_json_name_cannot_inject_headings(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    assert invoke("optimise", str(case), "--out", str(out), "-q").exit_code == 0
    doc = (out / "plan.json").read_text().replace('"case": "Budget only"',
                                                  '"case": "Budget\\n# Injected"')
    (tmp_path / "edited.json").write_text(doc)
    assert invoke("explain", str(tmp_path / "edited.json"), "--out", str(tmp_path / "x"),
                  "-q").exit_code == 0
    text = (tmp_path / "x" / "plan_explained.md").read_text()
    assert "\n# Injected" not in text
    assert "Budget \\# Injected" in text  # on one line, the # escaped


def test_typo_suggestion(case: Path) -> None:
    text = (case / "case.toml").read_text().replace("threshold = 0.5", "treshold = 0.5", 1)
    (case / "case.toml").write_text(text)
    assert_error(invoke("validate", str(case)), 2, "case.toml, [metrics.revenue] treshold: "
                 "unknown key; did you mean 'threshold'? (allowed keys: label, threshold, cap, "
                 "alignment, responsiveness, step, min_weight, max_weight, required, forbidden, "
                 "elasticity, value, sum, count, where)")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16"], ids=["no-bom", "bom"])
def test_utf16_is_named(case: Path, encoding: str) -> None:
    text = (case / "reps.csv").read_text()
    (case / "reps.csv").write_bytes(text.encode(encoding))
    mark = "with" if encoding == "utf-16" else "without"
    assert_error(invoke("validate", str(case)), 2, f"reps.csv: is UTF-16 text ({mark} a "
                 "byte-order mark); save it as UTF-8 (in Excel: CSV UTF-8)")


def test_line_numbers_are_the_file_lines(case: Path) -> None:
    lines = (case / "reps.csv").read_text().splitlines()
    lines[1] = lines[1].replace("South", '"So\nuth"')  # a quoted cell over two lines
    lines[3] = lines[3].rsplit(",", 1)[0] + ",abc"
    (case / "reps.csv").write_text("\n".join(lines) + "\n")
    assert_error(invoke("validate", str(case)), 2, "reps.csv, line 5, target_incentive: must "
                 "be a number > 0 (currency), got 'abc'")


def test_a_long_value_is_cut(case: Path) -> None:
    lines = (case / "reps.csv").read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + "," + "9x" * 100_000
    (case / "reps.csv").write_text("\n".join(lines) + "\n")
    result = invoke("validate", str(case))
    assert_error(result, 2, "reps.csv, line 2, target_incentive: must be a number > 0 "
                 f"(currency), got '{'9x' * 39}9...")


def test_a_long_toml_value_is_cut(case: Path) -> None:
    text = (case / "case.toml").read_text().replace("threshold = 0.5",
                                                    f"threshold = '{'y' * 100_000}'", 1)
    (case / "case.toml").write_text(text)
    assert_error(invoke("validate", str(case)), 2, "case.toml, [metrics.revenue] threshold: "
                 f"must be a number, got '{'y' * 79}...")


def test_an_unreadable_or_too_deep_plan_file(case: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert_error(invoke("evaluate", str(case), str(deep), "--out", str(tmp_path / "e")), 2,
                 "deep.json: is not a JSON plan: nested too deeply")
    assert_error(invoke("explain", str(deep), "--out", str(tmp_path / "x")), 2,
                 "deep.json: is not a JSON plan: nested too deeply")
    real = Path.read_text

    def denied(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == "deep.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", denied)
    assert_error(invoke("evaluate", str(case), str(deep), "--out", str(tmp_path / "e")), 2,
                 "deep.json: cannot be read: Permission denied")


def test_highs_own_warnings_are_summarised(case: Path, tmp_path: Path) -> None:
    # One metric at 0.7 for everyone, the others 0: HiGHS drops a 1e-15 coefficient
    # and says so on the process's stdout, outside Pyomo's capture.
    _rewrite(case / "attainment.csv", {"revenue": "0.7", "margin": "0", "new_logos": "0",
                                       "activity": "0"})
    done = subprocess.run([sys.executable, "-m", "compplan", "optimise", str(case), "--out",
                           str(tmp_path / "o"), "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.endswith("note: 1 warning from numpy or the solver, kept off the screen: "
                           "highspy: WARNING: HighsSparseMatrix local_ar_matrix matrix "
                           "contains 1 |value| in [1.4e-15, 1.4e-15] at/below tolerance of "
                           "1e-09: ignored\n")


# ------------------------------------------------- the new entry points: orgs and pulse

C5 = CONFORMANCE / "c5_org"
C6 = CONFORMANCE / "c6_pulse"


@pytest.mark.parametrize("value", ["nan", "inf"])
@pytest.mark.parametrize("folder", [C1, C5], ids=["case", "org"])
def test_budget_must_be_a_finite_number(tmp_path: Path, folder: Path, value: str) -> None:
    # An organisation with --budget nan was a Pyomo traceback; inf was taken as no cap.
    result = invoke("optimise", str(folder), "--budget", value, "--out", str(tmp_path / "o"))
    assert_error(result, 2, f"Invalid value for '--budget': {value!r} is not a finite "
                            "number > 0.")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_pulse_time_limit_must_be_a_finite_number(tmp_path: Path, value: str) -> None:
    result = invoke("pulse", str(C1), str(C6 / "plan.toml"), "--actuals",
                    str(C6 / "actuals.csv"), "--out", str(tmp_path / "p"), "--time-limit", value)
    assert_error(result, 2, f"Invalid value for '--time-limit': {value!r} is not a finite "
                            "number > 0.")
    assert not (tmp_path / "p").exists()


def test_pulse_on_an_organisation_folder_says_what_plan_it_takes(tmp_path: Path) -> None:
    # A pulse of an organisation takes the organisation's plans, not one case's plan file.
    result = invoke("pulse", str(C5), str(C6 / "plan.toml"), "--actuals",
                    str(C6 / "actuals.csv"), "--out", str(tmp_path / "p"))
    assert_error(result, 2, f"{C6 / 'plan.toml'}: give 'current' or an org_plan.json written "
                            "by compplan optimise ORG_DIR (with its role folders beside it)")


@pytest.mark.parametrize("command", ["optimise", "min-budget", "audit"])
@pytest.mark.parametrize(("target", "message"), [
    ("{org}", "{org} holds an input of this run ({org}): write the output to another folder"),
    ("{org}/sales", "{org}/sales is a case folder: write the output to another folder"),
], ids=["org folder", "role folder"])
def test_org_outputs_never_land_on_inputs(tmp_path: Path, command: str, target: str,
                                          message: str) -> None:
    org = tmp_path / "org"
    shutil.copytree(C5, org)
    before = sorted(p.relative_to(org) for p in org.rglob("*"))
    result = invoke(command, str(org), "--out", target.format(org=org), "-q")
    assert_error(result, 2, message.format(org=org))
    assert sorted(p.relative_to(org) for p in org.rglob("*")) == before


def test_org_output_with_no_plan_leaves_no_stale_plans(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("optimise", str(C5), "--out", str(out), "-q").exit_code == 0
    assert (out / "sales" / "plan.json").is_file()
    result = invoke("optimise", str(C5), "--out", str(out), "--budget", "1", "-q")
    assert result.exit_code == 3
    assert sorted(p.name for p in out.iterdir()
           if not p.name.startswith(".")) == ["infeasibility.json"]


@pytest.mark.parametrize("holds", ["plan", "actuals"])
def test_pulse_output_never_holds_its_plan_or_actuals(tmp_path: Path, holds: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(C6 / "plan.toml", folder / "plan.toml")
    shutil.copy(C6 / "actuals.csv", folder / "actuals.csv")
    plan = folder / "plan.toml" if holds == "plan" else C6 / "plan.toml"
    actuals = folder / "actuals.csv" if holds == "actuals" else C6 / "actuals.csv"
    result = invoke("pulse", str(C1), str(plan), "--actuals", str(actuals), "--out",
                    str(folder), "-q")
    name = plan if holds == "plan" else actuals
    assert_error(result, 2, f"{folder} holds an input of this run ({name}): write the output "
                            "to another folder")
    assert sorted(p.name for p in folder.iterdir()) == ["actuals.csv", "plan.toml"]


@pytest.mark.parametrize("where", ["plan", "actuals"])
def test_a_path_the_os_refuses_is_a_message(tmp_path: Path, where: str) -> None:
    # A name too long for the file system was an OSError traceback from Path.is_file().
    long = str(tmp_path / ("a" * 5000))
    plan = long if where == "plan" else str(C6 / "plan.toml")
    actuals = long if where == "actuals" else str(C6 / "actuals.csv")
    result = invoke("pulse", str(C1), plan, "--actuals", actuals, "--out", str(tmp_path / "p"))
    shown_name = long[:77] + "..."
    assert_error(result, 2, f"{shown_name}: cannot be used: File name too long")
    assert not (tmp_path / "p").exists()


def test_a_long_round_value_is_cut(case: Path, tmp_path: Path) -> None:
    result = invoke("optimise", str(case), "--out", str(tmp_path / "o"), "--round",
                    "weights=" + "9" * 5000)
    assert_error(result, 2, "--round: weights=" + "9" * 37 + "... must be a step in (0, 1]")
