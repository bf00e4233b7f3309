"""Messages a person can act on, and nothing hostile reaching a terminal or a page (issue 24).

Unclear messages and security findings of the adversarial pass over the new entry points:
actuals file names and kinds, delimiters, rep ids and goal names escaped, goal names with
control characters refused, HTML escaped in Markdown outputs, a role folder named for
what it is, an infeasible pulse's diagnosis kept on a full disk.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import Result
from conftest import CONFORMANCE, assert_error, invoke
from test_pulse import hand_case, pulse_cli

from compplan.cli.common import escaped
from compplan.models.text import markdown_safe

C1 = CONFORMANCE / "c1_budget_only"
C6 = CONFORMANCE / "c6_pulse"
GTM = Path(__file__).parent.parent / "cases" / "gtm_org"


def c1_pulse(tmp_path: Path, actuals: Path) -> Result:
    return invoke("pulse", str(C1), str(C6 / "plan.toml"), "--actuals", str(actuals), "--out",
                  str(tmp_path / "out"))


# ------------------------------------------------------------------- delimiters

@pytest.mark.parametrize(("sep", "words", "why"), [
    (";", "semicolons (;)", "; Excel writes semicolons where the comma is the decimal mark"),
    ("\t", "tabs", ""),
])
def test_a_csv_with_another_delimiter_names_it(tmp_path: Path, sep: str, words: str,
                                               why: str) -> None:
    # Once: required column 'rep_id' is missing (columns found: rep_id;period;...).
    actuals = tmp_path / "actuals.csv"
    actuals.write_text((C6 / "actuals.csv").read_text().replace(",", sep))
    assert_error(c1_pulse(tmp_path, actuals), 2,
                 f"actuals.csv, line 1: is separated by {words}, not commas: save it as CSV "
                 f"with commas (in Excel: CSV UTF-8 (Comma delimited){why})")
    case = tmp_path / "case"
    shutil.copytree(C1, case)
    (case / "reps.csv").write_text((C1 / "reps.csv").read_text().replace(",", sep))
    assert_error(invoke("validate", str(case)), 2,
                 f"reps.csv, line 1: is separated by {words}, not commas: save it as CSV "
                 f"with commas (in Excel: CSV UTF-8 (Comma delimited){why})")


# ------------------------------------------------------------ organisation actuals files

@pytest.fixture
def org(tmp_path: Path) -> Path:
    folder = tmp_path / "gtm"
    shutil.copytree(GTM, folder)
    return folder


def org_pulse(org: Path, tmp_path: Path) -> Result:
    return invoke("pulse", str(org), "current", "--actuals", str(org / "actuals"), "--out",
                  str(tmp_path / "out"), "-q")


def test_actuals_named_in_upper_case_are_read(org: Path, tmp_path: Path) -> None:
    # SDR.CSV (a Windows export) once read "sdr.csv: is missing".
    first = org_pulse(org, tmp_path)
    (org / "actuals" / "sdr.csv").rename(org / "actuals" / "SDR.CSV")
    shutil.rmtree(tmp_path / "out")
    again = org_pulse(org, tmp_path)
    assert (first.exit_code, again.exit_code) == (3, 3)
    error = first.stderr[first.stderr.index("Error:"):]  # after any note: line
    assert again.stderr[again.stderr.index("Error:"):] == error


def fifo(path: Path) -> None:
    os.mkfifo(path)


def loop(path: Path) -> None:
    (path.parent / "other").symlink_to(path)
    path.symlink_to(path.parent / "other")


def dangling(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.csv")


@pytest.mark.parametrize(("make", "kind"), [
    (Path.mkdir, "a folder"), (fifo, "a named pipe (FIFO)"),
    (loop, "a symbolic link that loops"),
    (dangling, "a symbolic link to nothing (its target is missing)"),
])
def test_a_roles_actuals_that_are_not_a_file_are_named(org: Path, tmp_path: Path, make: object,
                                                       kind: str) -> None:
    path = org / "actuals" / "sdr.csv"
    path.unlink()
    make(path)  # type: ignore[operator]
    assert_error(org_pulse(org, tmp_path), 2,
                 f"{path}: is {kind}, not a file; role 'sdr' needs its actuals in a regular "
                 "file (CSV or Parquet)")


def test_single_case_actuals_that_are_a_fifo(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    os.mkfifo(path)
    assert_error(c1_pulse(tmp_path, path), 2,
                 f"{path}: is a named pipe (FIFO), not a file (give actuals in the form of "
                 "attainment.csv, CSV or Parquet)")


# ---------------------------------------------------------------- ids escaped

@pytest.mark.parametrize(("rep", "shown"), [
    ("R\n99", "'R\\n99'"), ("R99\u200b", "'R99\\u200b'"), ("R\x1b[31m99", "'R\\x1b[31m99'"),
    ("Jose\u0301", "'Jose\\u0301'"),
])
def test_rep_ids_in_actuals_are_escaped(tmp_path: Path, rep: str, shown: str) -> None:
    # Once printed raw: a newline split the error, an escape sequence reached the terminal.
    actuals = tmp_path / "actuals.csv"
    text = (C6 / "actuals.csv").read_text()
    actuals.write_text(text.replace("R00001,Y1,", f'"{rep}",Y1,', 1))
    assert_error(c1_pulse(tmp_path, actuals), 2,
                 f"actuals.csv, line 3, rep_id: rep {shown} is not in reps.csv")


def test_an_escape_sequence_in_out_is_escaped(tmp_path: Path) -> None:
    out = tmp_path / "o\x1b[31mR"
    out.mkdir()
    (out / "n.txt").write_text("mine")
    result = invoke("optimise", str(C1), "--out", str(out), "-q")
    assert_error(result, 2, f"{escaped(str(out))} holds files compplan did not write (n.txt); "
                            "give an empty or new folder, or --force to keep them beside the "
                            "new files")
    assert "\x1b" not in result.output
    assert escaped(str(out)).endswith("o\\x1b[31mR")
    done = invoke("optimise", str(C1), "--out", str(tmp_path / "p\x1b[0m"))
    assert done.exit_code == 0, done.output
    assert "\x1b" not in done.output and "p\\x1b[0m/plan.json" in done.stdout


# ------------------------------------------------------------- goal names

@pytest.mark.parametrize(("name", "shown"), [
    ("line1\\nINJECTED line2", "'line1\\nINJECTED line2'"),
    ("g\\u001b[31m", "'g\\x1b[31m'"),
    ("growth\\u200b", "'growth\\u200b'"),
])
def test_goal_names_with_control_characters_are_refused(tmp_path: Path, name: str,
                                                        shown: str) -> None:
    case = tmp_path / "case"
    shutil.copytree(C1, case)
    toml = case / "case.toml"
    toml.write_text(toml.read_text().replace("margin = 0.3", f'"{name}" = 0.3', 1))
    assert_error(invoke("validate", str(case)), 2,
                 f"case.toml, [goals]: goal name {shown} must be one line of visible text (no "
                 "line breaks, tabs, control or invisible characters)")


# ------------------------------------------------------------ HTML in Markdown outputs

def test_markdown_safe_escapes_tags_only() -> None:
    assert markdown_safe("# <script>x</script> & a < 0, `<role>`, \\<i\\>") == (
        "# &lt;script>x&lt;/script> & a < 0, `<role>`, \\<i\\>")
    assert markdown_safe("| <img src=x onerror=alert(1)> |") == (
        "| &lt;img src=x onerror=alert(1)> |")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    case = tmp_path / "case"
    shutil.copytree(C1, case)
    toml = case / "case.toml"
    toml.write_text(toml.read_text()
                    .replace('name = "Budget only"', 'name = "<script>alert(1)</script>"')
                    .replace('label = "revenue"', 'label = "<img src=x onerror=alert(2)>"'))
    return case


def assert_no_tags(path: Path) -> None:
    """No tag a Markdown renderer would pass through (escaped as &lt; or \\<)."""
    text = path.read_text()
    assert not re.search(r"(?<!\\)<(script|img|/script)", text), text
    assert re.search(r"(&lt;|\\<)(script|img)", text), text


def test_html_is_escaped_in_plan_md_pulse_md_and_compare_md(hostile: Path,
                                                            tmp_path: Path) -> None:
    assert invoke("optimise", str(hostile), "--out", str(tmp_path / "plan"), "-q"
                  ).exit_code == 0
    assert_no_tags(tmp_path / "plan" / "plan.md")
    result = invoke("pulse", str(hostile), str(C6 / "plan.toml"), "--actuals",
                    str(C6 / "actuals.csv"), "--out", str(tmp_path / "pulse"), "-q")
    assert result.exit_code == 0, result.output
    assert_no_tags(tmp_path / "pulse" / "pulse.md")
    result = invoke("compare", str(hostile), str(C6 / "plan.toml"),
                    str(tmp_path / "plan" / "plan.json"), "--out", str(tmp_path / "cmp"), "-q")
    assert result.exit_code == 0, result.output
    assert_no_tags(tmp_path / "cmp" / "compare.md")
    result = invoke("audit", str(hostile), str(C6 / "plan.toml"), "--out",
                    str(tmp_path / "audit"), "-q")
    assert result.exit_code == 0, result.output
    assert_no_tags(tmp_path / "audit" / "audit.md")


def test_html_is_escaped_in_audit_org_md(org: Path, tmp_path: Path) -> None:
    toml = org / "org.toml"
    toml.write_text(toml.read_text().replace('name = "FY27 go-to-market"',
                                             'name = "<script>alert(1)</script>"'))
    result = invoke("audit", str(org), "--out", str(tmp_path / "a"), "-q")
    assert result.exit_code == 0, result.output
    assert_no_tags(tmp_path / "a" / "audit_org.md")


# ---------------------------------------------------------------- a role folder

def test_a_single_case_command_on_a_role_folder_says_it_is_a_role(tmp_path: Path) -> None:
    # Once: "case.toml, goals: is required but missing", with no hint.
    result = invoke("pulse", str(GTM / "sdr"), "current", "--actuals",
                    str(GTM / "actuals" / "sdr.csv"), "--out", str(tmp_path / "o"))
    assert_error(result, 2, f"case.toml, [goals]: has no [goals] table: {GTM / 'sdr'} looks "
                            f"like a role of the organisation in {GTM.resolve()} (its org.toml "
                            "holds the goals); give the organisation folder instead")


# ---------------------------------------------------- an infeasible pulse on a full disk

def test_an_infeasible_pulse_on_a_full_disk_keeps_its_diagnosis(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compplan.models import output

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "write_atomic", full)
    import compplan.render.pulse as render_pulse

    monkeypatch.setattr(render_pulse, "write_atomic", full)
    folder = hand_case(tmp_path, 3400.0)
    result = pulse_cli(folder, "-q")
    assert result.exit_code == 2, result.output
    out = folder / "out"
    assert result.stderr == (
        f"Error: cannot write to {out}: No space left on device; no file was written\n"
        "(no re-tune with the plan's metrics saves the year: paid to date 9,950.00 USD "
        "leaves 1,825.00 USD per period of expected payout for the 2 remaining period(s); "
        "the cheapest plan with these metrics that meets every other guardrail and design "
        "rule is expected to pay 6,000.00 USD per period. The smallest [budget] expected_cap "
        "that saves the year is 5,487.50 USD, a budget of 21,950.00 USD for the year (the "
        "case's is 3,400.00); allowing new metrics (--allow-new-metrics) would save the "
        "year)\n")
