"""Faults and determinism: kill -9 never leaves a half-written plan; runs repeat exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CASES = Path(__file__).parent.parent / "cases"
CONFORMANCE = Path(__file__).parent / "data" / "conformance"
COMPPLAN = [sys.executable, "-m", "compplan"]


def optimise(case: Path, out: Path) -> dict[str, object]:
    subprocess.run([*COMPPLAN, "optimise", str(case), "--out", str(out), "-q"], check=True,
                   capture_output=True)
    return json.loads((out / "plan.json").read_text())


def without_timings(plan: dict[str, object]) -> dict[str, object]:
    solver = dict(plan["solver"])  # type: ignore[call-overload]
    solver.pop("seconds")
    return {**plan, "solver": solver}


@pytest.mark.parametrize("case", [CONFORMANCE / "c2_fairness", CASES / "cloud_transition"],
                         ids=["historical", "montecarlo"])
def test_the_same_case_gives_the_same_plan(case: Path, tmp_path: Path) -> None:
    one = optimise(case, tmp_path / "one")
    two = optimise(case, tmp_path / "two")
    # Everything but the solver's wall time (the contract asks for it in plan.json).
    assert without_timings(one) == without_timings(two)
    for name in ("plan.csv", "plan.md"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_kill_9_never_leaves_a_half_written_plan(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Kill at increasing delays: before, during and after the files are written.
    for delay in (0.8, 1.6, 2.4, 3.2):
        proc = subprocess.Popen([*COMPPLAN, "optimise", str(CASES / "enterprise_first"),
                                 "--out", str(out), "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for name in ("plan.json", "plan.csv", "plan.md", "rep_rates.csv"):
            path = out / name
            if path.exists() and name == "plan.json":
                # Present means complete: written to a temporary name, then renamed.
                assert json.loads(path.read_text())["schema"] == "compplan.plan/1"
    # A later run completes and leaves only finished files.
    optimise(CASES / "enterprise_first", out)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "plan.csv", "plan.json", "plan.md", "rep_rates.csv"]


def test_outputs_are_readable_like_any_new_file(tmp_path: Path) -> None:
    from compplan.models.output import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644
