"""Property tests over output folders: nothing lost, nothing mixed.

- random interleavings of two runs writing one folder (each step one file, begin or
  commit), a reader looking after every step;
- a process committing sets in a loop, killed with SIGKILL at random moments, with
  the atomic exchange and with the two-rename fallback;
- a full disk on a small tmpfs (mounted here when the machine allows it, as root).

After every step a reader finds no folder (before the first commit), or exactly one
complete set: every file of one run and nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CONFORMANCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compplan.models import transaction
from compplan.models.output import write_atomic
from compplan.models.transaction import OutputFolder, output_folder, recover

EXAMPLES = int(os.environ.get("COMPPLAN_FUZZ_EXAMPLES", "25"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = ["plan.json", "plan.csv", "plan.md", "rep_rates.csv", "run.json",
         "infeasibility.json"]


def files_of(run: int) -> list[str]:
    """Run ``run`` writes a set of its own: which files depends on the run."""
    return [n for i, n in enumerate(NAMES) if (run >> i) & 1 or i == 0]


def write_set(folder: Path, run: int, size: int = 10) -> None:
    for name in files_of(run):
        write_atomic(folder / name, json.dumps({"run": run, "pad": "x" * size}))


def assert_one_set(out: Path, runs: set[int]) -> int | None:
    """The folder is absent, or holds exactly the complete set of one of ``runs``."""
    if not out.exists():
        return None
    names = sorted(p.name for p in out.iterdir() if p.name != transaction.MANIFEST)
    tags = {json.loads((out / n).read_text())["run"] for n in names}
    assert len(tags) == 1, f"mixed sets: {names} from runs {tags}"
    (run,) = tags
    assert run in runs
    assert names == sorted(files_of(run)), f"incomplete set of run {run}: {names}"
    return run


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------ interleavings

def steps(out: Path, run: int) -> Iterator[None]:
    """One run as steps: begin, one file at a time, commit."""
    transaction_ = OutputFolder(out)
    staging = transaction_.begin()
    yield
    for name in files_of(run):
        write_atomic(staging / name, json.dumps({"run": run}))
        yield
    transaction_.commit()


@PROPERTY
@given(a=st.integers(1, 63), b=st.integers(1, 63), existing=st.booleans(),
       order=st.lists(st.booleans(), min_size=20, max_size=20))
def test_two_runs_interleaved_never_mix(tmp_path_factory: Any, a: int, b: int,
                                        existing: bool, order: list[bool]) -> None:
    parent = tmp_path_factory.mktemp("interleave")
    out = parent / "out"
    runs = {a + 100, b + 200}
    if existing:
        with output_folder(out) as folder:
            write_set(folder, 0)
        runs.add(0)
    pending = {a + 100: steps(out, a + 100), b + 200: steps(out, b + 200)}
    committed = []
    choices = iter(order)
    while pending:
        run = sorted(pending)[0 if next(choices, True) or len(pending) == 1 else 1]
        try:
            next(pending[run])
        except StopIteration:
            del pending[run]
            committed.append(run)
        assert_one_set(out, runs)
    # The last run to commit wins; no staging or old folder is left.
    assert assert_one_set(out, runs) == committed[-1]
    assert leftovers(parent) == []


# -------------------------------------------------------------------------- kills

# Only the transaction module: the writer starts in a tenth of a second.
WRITER = """
import json, sys
from pathlib import Path
from compplan.models.transaction import output_folder
out = Path(sys.argv[1])
run = int(sys.argv[2])
print("ready", flush=True)
while True:
    run += 1
    with output_folder(out) as folder:
        for i, name in enumerate(%r):
            if (run >> i) & 1 or i == 0:
                (folder / name).write_text(json.dumps({"run": run, "pad": "x" * 3000}))
"""


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
@settings(max_examples=max(6, EXAMPLES // 3), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(delay=st.floats(0.0, 0.25))
def test_kill_9_at_any_moment_leaves_one_set(tmp_path_factory: Any, exchange: bool,
                                             delay: float) -> None:
    parent = tmp_path_factory.mktemp("kill")
    out = parent / "out"
    env = {**os.environ, "COMPPLAN_NO_RENAME_EXCHANGE": "" if exchange else "1"}
    proc = subprocess.Popen([sys.executable, "-c", WRITER % (NAMES,), str(out), "0"],
                            stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    # A reader may find the old set hidden only after a kill between the fallback's two
    # renames; recovering (what every commit does first) brings it back.
    recover(out)
    run = assert_one_set(out, set(range(100_000)))
    assert leftovers(parent) == []
    # The next run commits over it.
    with output_folder(out) as folder:
        write_set(folder, 5)
    assert assert_one_set(out, {5}) == 5 or run is None


# ---------------------------------------------------------------------- full disk

@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: Any) -> Iterator[Path]:
    """A 64 KiB tmpfs, where mounting works (root on Linux); skipped elsewhere."""
    mount = tmp_path_factory.mktemp("disk")
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


FULL: list[int] = []  # runs that met a full disk (some must: see the test below)


def _clear(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir():
            import shutil
            shutil.rmtree(entry)
        else:
            entry.unlink()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 40_000), min_size=1, max_size=6))
def test_full_disk_keeps_the_old_set(small_disk: Path, sizes: list[int]) -> None:
    _clear(small_disk)
    out = small_disk / "out"
    with output_folder(out) as folder:
        write_set(folder, 1)
    current = 1
    for i, size in enumerate(sizes):
        run = 10 + i
        try:
            with output_folder(out) as folder:
                write_set(folder, run, size)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            FULL.append(run)
        else:
            current = run
        # Written whole or not at all; the old set is intact after a failure.
        assert assert_one_set(out, {current}) == current
        assert leftovers(small_disk) == []


def test_full_disk_from_the_command_line(small_disk: Path) -> None:
    from compplan.cli.main import main

    if EXAMPLES >= 10:  # the property above did meet a full disk
        assert FULL
    _clear(small_disk)
    out = small_disk / "plan"
    case = CONFORMANCE / "c1_budget_only"
    assert CliRunner().invoke(main, ["optimise", str(case), "--out", str(out), "-q"]
                              ).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    filler = small_disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as handle:
        while True:
            handle.write(b"x" * 4096)
            handle.flush()
    os.truncate(filler, max(0, filler.stat().st_size - 8192))
    result = CliRunner().invoke(main, ["optimise", str(case), "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"Error: cannot write to {out}: No space left on device; the "
                             "files already there are as they were\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert leftovers(small_disk) == []
    assert transaction.KNOWN_OUTPUTS  # the module under test was imported


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("moment", ["staged", "between-renames", "after-swap"])
def test_each_moment_of_a_killed_commit_is_recovered(tmp_path: Path, moment: str) -> None:
    """The states a commit passes through, left by a dead process, then recovered."""
    out = tmp_path / "out"
    with output_folder(out) as folder:
        write_set(folder, 1)
    pid = _dead_pid()
    new = tmp_path / f".out.compplan-new-{pid}-abc"
    old = tmp_path / f".out.compplan-old-{pid}-abc"
    new.mkdir()
    write_set(new, 2)
    if moment == "between-renames":  # the fallback moved the old set aside, then died
        out.rename(old)
    elif moment == "after-swap":  # swapped in, died before deleting the old set
        out.rename(old)
        new.rename(out)
    recover(out)
    assert assert_one_set(out, {1, 2}) == (2 if moment == "after-swap" else 1)
    assert leftovers(tmp_path) == []
