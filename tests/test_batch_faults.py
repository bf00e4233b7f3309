"""Batch faults that once gave a traceback or a hang (issue 10).

Uses the hand case of test_batch.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_error, invoke
from test_batch import hand_case, write_spec

from compplan.batch import store as batch_module

MakeCase = Callable[..., Path]
COMPPLAN = [sys.executable, "-m", "compplan"]


def grid_spec(folder: Path, count: int) -> Path:
    caps = ", ".join(f"{1500.0 + 50.0 * i}" for i in range(count))
    return write_spec(folder, f'case = "../case0"\n[grid]\n"budget.expected_cap" = [{caps}]\n')


def test_a_sweep_too_large_is_a_message(make_case: MakeCase) -> None:
    result = invoke("sweep", str(hand_case(make_case)), "--budget", "0.8:1.1:1000000")
    assert_error(result, 2, "Invalid value for '--budget': '0.8:1.1:1000000': COUNT is at "
                 "most 100,000 (a batch holds at most 100,000 candidates)")


@pytest.mark.parametrize("address", ["not an address", "tcp://host", "tcp://h:99999"])
def test_a_malformed_scheduler_address_fails_at_once(make_case: MakeCase, tmp_path: Path,
                                                     address: str) -> None:
    started = time.monotonic()
    result = invoke("sweep", str(hand_case(make_case)), "--budget", "0.8:1.1:3", "--out",
                    str(tmp_path / "out"), "--scheduler", address)
    assert_error(result, 2, f"--scheduler '{address}' is not the address of a Dask scheduler "
                 "(tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786)")
    assert time.monotonic() - started < 5  # was 23 s, then a traceback
    assert not (tmp_path / "out").exists()


def test_a_corrupt_result_is_solved_again_and_said(make_case: MakeCase, tmp_path: Path) -> None:
    hand_case(make_case)
    spec = grid_spec(tmp_path / "specs", 4)
    out = tmp_path / "out"
    assert invoke("batch", str(spec), "--out", str(out), "-q", "--workers", "1").exit_code == 0
    good = (out / "candidates/c0003/result.json").read_text()
    (out / "candidates/c0003/result.json").write_text('{"schema": "compp')
    result = invoke("batch", str(spec), "--out", str(out), "-q", "--workers", "1", "--resume")
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"warning: {out}/candidates/c0003/result.json could not be read "
                             "(JSONDecodeError: Unterminated string starting at: line 1 column "
                             "12 (char 11)): solving candidate c0003 again\n")
    again = json.loads((out / "candidates/c0003/result.json").read_text())
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in json.loads(good).items() if k != "seconds"}


def test_losing_every_dask_worker_is_a_message(make_case: MakeCase, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    hand_case(make_case)
    spec = grid_spec(tmp_path / "specs", 3)
    lost = type("FutureCancelledError", (Exception,), {})

    def cancelled(*args: Any) -> Generator[Any, None, None]:
        raise lost("every worker left")
        yield  # a generator, like the real one

    monkeypatch.setattr(batch_module, "run_dask", cancelled)
    # The listener below accepts and never answers: skip the handshake (its deadline is
    # test_dask_deadlines.py's).
    monkeypatch.setattr(batch_module, "connect_dask", lambda scheduler, stop: object())
    with socket.socket() as listener:  # something that answers at the address
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        out = tmp_path / "out"
        result = invoke("batch", str(spec), "--out", str(out), "-q", "--scheduler",
                        f"tcp://127.0.0.1:{port}")
    assert_error(result, 1, "the Dask cluster lost its workers (FutureCancelledError: every "
                 f"worker left): 0 of 3 candidates finished and kept in {out}; continue with: "
                 f"compplan batch {spec} --out {out} --resume")


def test_no_hang_when_the_batch_dies_while_piped(make_case: MakeCase, tmp_path: Path) -> None:
    """kill -9 of a batch whose parent reads its output: the reader gets end-of-file.

    The killed batch stays a zombie until its parent has read to the end; workers that
    held the pipe, and took the zombie for alive, made the reader wait for ever.
    """
    hand_case(make_case)
    spec = grid_spec(tmp_path / "specs", 60)
    out = tmp_path / "out"
    proc = subprocess.Popen([*COMPPLAN, "batch", str(spec), "--out", str(out), "-q",
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob("candidates/*/result.json"))) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)  # TimeoutExpired before the fix
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # leave nothing behind, even on failure
        proc.wait()


def test_a_new_batch_needs_a_folder_of_its_own(make_case: MakeCase, tmp_path: Path) -> None:
    case = hand_case(make_case)
    spec = grid_spec(tmp_path / "specs", 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert_error(invoke("batch", str(spec), "--out", str(out), "-q", "--workers", "1"), 2,
                 f"{out} holds other files (notes.txt); give an empty or new folder for the "
                 "batch, or --force to keep them beside it")
    assert_error(invoke("sweep", str(case), "--budget", "1:2:2", "--out", str(case), "-q"), 2,
                 f"{case} is or holds the case folder {case}: give the batch a folder of its "
                 "own")
    result = invoke("batch", str(spec), "--out", str(out), "-q", "--workers", "1", "--force")
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "mine"
