"""Outputs: a folder is one transaction, and outputs never land on inputs or special files.

Each test here failed before ``models/transaction.py`` (issue 10).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import CONFORMANCE

from compplan.cli.main import main
from compplan.models.output import write_json
from compplan.models.transaction import (
    MANIFEST,
    OutputError,
    check_output_file,
    output_folder,
)

C1 = CONFORMANCE / "c1_budget_only"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_error(result: Result, code: int, message: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert result.stderr.endswith(f"Error: {message}\n"), result.stderr


def listing(folder: Path) -> list[str]:
    """The names in an output folder but compplan's manifest of its own files."""
    return sorted(p.name for p in folder.iterdir() if p.name != MANIFEST)


@pytest.fixture
def case(tmp_path: Path) -> Path:
    """A copy of c1 with a plan file of its own (current_plan.toml)."""
    folder = tmp_path / "case"
    shutil.copytree(C1, folder)
    (folder / "current_plan.toml").write_text(
        '[[metrics]]\nid = "revenue"\nweight = 1.0\naccelerator_multiple = 1.0\n')
    return folder


# ------------------------------------------------------------- one set, never a mix

def test_no_stale_plan_beside_a_new_infeasibility(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("optimise", str(case), "--out", str(out), "-q").exit_code == 0
    assert (out / "plan.json").is_file()
    result = invoke("optimise", str(case), "--out", str(out), "--budget", "1", "-q")
    assert result.exit_code == 3
    # The earlier run's plan went with the old set.
    assert listing(out) == ["infeasibility.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_no_stale_rep_rates_beside_a_new_plan(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_folder(out) as folder:  # an earlier run's (c1 has no quotas)
        (folder / "rep_rates.csv").write_text("rep_id\nold\n")
    assert invoke("optimise", str(case), "--out", str(out), "-q").exit_code == 0
    assert listing(out) == ["plan.csv", "plan.json", "plan.md", "run.json"]


def test_a_folder_with_other_files_is_refused_unless_force(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("optimise", str(case), "--out", str(out), "-q")
    assert_error(result, 2, f"{out} holds files compplan did not write (notes.txt); give an "
                 "empty or new folder, or --force to keep them beside the new files")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert invoke("optimise", str(case), "--out", str(out), "--force", "-q").exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "plan.json").is_file()


def test_full_disk_keeps_the_old_set(case: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert invoke("optimise", str(case), "--out", str(out), "-q").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from compplan.models import output

    real = output.write_atomic

    def full(path: Path, content: str | bytes) -> None:
        if path.name == "plan.md":  # half-way through the set
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, content)

    monkeypatch.setattr(output, "write_atomic", full)
    result = invoke("optimise", str(case), "--out", str(out), "--budget", "2e6", "-q")
    assert_error(result, 2, f"cannot write to {out}: No space left on device; the files "
                 "already there are as they were")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["case", "out"]


def test_an_input_folder_is_never_the_output(case: Path) -> None:
    result = invoke("optimise", str(case), "--out", str(case), "-q")
    assert_error(result, 2, f"{case} holds an input of this run ({case}): write the output "
                 "to another folder")
    result = invoke("audit", str(case), "--out", str(case.parent), "-q")
    assert_error(result, 2, f"{case.parent} holds an input of this run ({case}): write the "
                 "output to another folder")


@pytest.mark.parametrize("option", ["--out"])
def test_empty_output_names_are_refused(case: Path, option: str) -> None:
    assert_error(invoke("optimise", str(case), option, "", "-q"), 2,
                 "the output folder is empty ('--out \"\"'): name a folder")
    assert_error(invoke("report", str(case), "current", "--out", "", "-q"), 2,
                 "the output file name is empty: name a file")


# ------------------------------------------------------------ never over an input

def test_report_never_overwrites_a_case_input(case: Path) -> None:
    before = (case / "reps.csv").read_bytes()
    result = invoke("report", str(case), "current", "--out", str(case / "reps.csv"), "-q")
    assert_error(result, 2, f"{case / 'reps.csv'}: the file name must end in .html or .htm")
    result = invoke("report", str(case), "current", "--out", str(case / "reps.html"), "-q")
    assert result.exit_code == 0  # a new file in the case folder is fine
    assert (case / "reps.csv").read_bytes() == before


def test_export_never_overwrites_a_case_input(case: Path) -> None:
    before = (case / "attainment.csv").read_bytes()
    result = invoke("export", str(case), "current", "--xlsx", str(case / "attainment.csv"))
    assert_error(result, 2, f"{case / 'attainment.csv'}: the file name must end in .xlsx")
    assert (case / "attainment.csv").read_bytes() == before


def test_write_plan_never_overwrites_the_case_or_the_plan_read(case: Path,
                                                                tmp_path: Path) -> None:
    before = (case / "case.toml").read_bytes()
    result = invoke("evaluate", str(case), "current", "--out", str(tmp_path / "ev"),
                    "--write-plan", str(case / "case.toml"), "-q")
    assert_error(result, 2, f"{case / 'case.toml'} is an input file of the case in {case}: "
                 "name another file")
    assert (case / "case.toml").read_bytes() == before
    plan = tmp_path / "plan.toml"
    plan.write_text((case / "current_plan.toml").read_text())
    result = invoke("evaluate", str(case), str(plan), "--out", str(tmp_path / "ev"),
                    "--write-plan", str(plan), "-q")
    assert_error(result, 2, f"{plan} is an input of this run: writing it would overwrite it; "
                 "name another file")


def test_write_plan_to_standard_output(case: Path, tmp_path: Path) -> None:
    result = invoke("evaluate", str(case), "current", "--out", str(tmp_path / "ev"),
                    "--write-plan", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("[[metrics]]\n")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_special_files_are_refused(case: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "report.html"
    os.mkfifo(fifo)
    result = invoke("report", str(case), "current", "--out", str(fifo), "-q")
    assert_error(result, 2, f"{fifo} is a named pipe (FIFO), not a regular file; name a new "
                 "file (or - for standard output)")
    link = tmp_path / "link.html"
    link.symlink_to(tmp_path / "elsewhere.html")
    result = invoke("report", str(case), "current", "--out", str(link), "-q")
    assert_error(result, 2, f"{link} is a symbolic link, not a regular file; name a new file "
                 "(or - for standard output)")
    assert not link.exists()  # the link's target was not made either
    folder = tmp_path / "x.xlsx"
    folder.mkdir()
    result = invoke("export", str(case), "current", "--xlsx", str(folder))
    assert_error(result, 2, f"{folder} is a folder, not a regular file; name a new file "
                 "(or - for standard output)")
    assert_error(invoke("optimise", str(case), "--out", "/dev/null", "-q"), 2,
                 "/dev/null is a character device, not a folder: give a folder for the "
                 "output files")


def test_report_to_standard_output(case: Path) -> None:
    result = invoke("report", str(case), "current", "--out", "-", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().lower().startswith("<!doctype html>")


# ------------------------------------------------------------------ the API itself

def test_api_swaps_the_whole_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_folder(out) as folder:
        write_json(folder / "plan.json", {"run": 1})
        (folder / "role").mkdir()
        write_json(folder / "role" / "plan.json", {"run": 1})
        assert not out.exists()  # nothing visible until the block ends
    with output_folder(out) as folder:
        write_json(folder / "pulse.json", {"run": 2})
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [MANIFEST, "pulse.json"]
    with pytest.raises(RuntimeError), output_folder(out) as folder:
        write_json(folder / "plan.json", {"run": 3})
        raise RuntimeError
    assert json.loads((out / "pulse.json").read_text()) == {"run": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_api_refuses_a_file_and_the_current_folder(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError, match="is a file, not a folder"), \
            output_folder(tmp_path / "f"):
        pass
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").unlink()
    with pytest.raises(OutputError, match="is the current folder"), output_folder("."):
        pass


def test_check_output_file_allows_a_new_file(tmp_path: Path) -> None:
    assert check_output_file(tmp_path / "a.xlsx", suffixes=(".xlsx",)) == tmp_path / "a.xlsx"
    assert check_output_file("-", stdout=True) is None
    with pytest.raises(OutputError, match="standard output"):
        check_output_file("-")
