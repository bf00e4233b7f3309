"""Every Dask cluster operation has a deadline and a message (issue 24).

A scheduler address where something accepts the connection and never answers made
``batch --scheduler`` run for ever, silently, and ignore Ctrl-C for 40 s and more;
``tls://`` and ``ucx://`` addresses were a TypeError, ``http://`` a TimeoutError
traceback after 20 s and a stray ``batch.json`` that blocked the next run.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import assert_error, invoke
from test_batch import hand_case, write_spec

import compplan
from compplan.batch import executors
from compplan.errors import UsageError

MakeCase = Callable[..., Path]


#: Connections the silent listener accepted (the CLI's probe, then Dask's handshake).
ACCEPTED: list[socket.socket] = []


@pytest.fixture
def silent() -> Iterator[int]:
    """A port where something accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    held = ACCEPTED
    held.clear()
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    done.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def spec_of(make_case: MakeCase, tmp_path: Path) -> Path:
    hand_case(make_case)
    return write_spec(tmp_path / "specs",
                      'case = "../case0"\n[grid]\n"budget.expected_cap" = [1500.0, 1600.0]\n')


def test_a_scheduler_that_never_answers_ends_the_batch(make_case: MakeCase, tmp_path: Path,
                                                       silent: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executors, "CONNECT_SECONDS", 1.0)
    spec, out = spec_of(make_case, tmp_path), tmp_path / "out"
    result = invoke("batch", str(spec), "--out", str(out), "-q", "--scheduler",
                    f"tcp://127.0.0.1:{silent}")
    assert_error(result, 2, f"the Dask scheduler at tcp://127.0.0.1:{silent} did not answer "
                 "within 1 s: something accepts connections there but does not answer as a "
                 "Dask scheduler (check the address and the port, 8786 by default)")
    assert not (out / "batch.json").exists()  # the next run is not blocked
    again = invoke("batch", str(spec), "--out", str(out), "-q")
    assert again.exit_code == 0, again.output


def test_ctrl_c_ends_a_batch_waiting_for_a_silent_scheduler(make_case: MakeCase,
                                                             tmp_path: Path,
                                                             silent: int) -> None:
    spec = spec_of(make_case, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "compplan", "batch", str(spec), "--out", str(tmp_path / "out"),
         "--scheduler", f"tcp://127.0.0.1:{silent}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Waiting on the handshake (15 s deadline) once the second connection is in (the
    # first is the command line's 5 s probe).
    for _ in range(600):
        if len(ACCEPTED) >= 2 or proc.poll() is not None:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    # Well before the handshake's own deadline: Ctrl-C ends it at once.
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert err.endswith("Error: interrupted before any candidate was solved\n"), err
    assert "Traceback" not in err


@pytest.mark.parametrize(("address", "reason"), [
    ("tls://127.0.0.1:8786", "tls:// needs certificates (a Dask security configuration), "
     "which compplan does not take; reach the scheduler over tcp:// (in a private network "
     "or an SSH tunnel)"),
    ("ucx://127.0.0.1:8786", "ucx:// needs the ucx-py package and UCX hardware, which "
     "compplan does not support; use the scheduler's tcp:// address"),
    ("http://127.0.0.1:8787", "this is a web address (the Dask dashboard?); the scheduler's "
     "own address is tcp://HOST:PORT (port 8786 by default)"),
    ("udp://127.0.0.1:8786", "udp:// is not a transport compplan supports; give "
     "tcp://HOST:PORT"),
])
def test_other_transports_are_refused_at_once(make_case: MakeCase, tmp_path: Path,
                                              address: str, reason: str) -> None:
    spec, out = spec_of(make_case, tmp_path), tmp_path / "out"
    result = invoke("batch", str(spec), "--out", str(out), "--scheduler", address)
    assert_error(result, 2, f"--scheduler '{address}': {reason}")
    assert not out.exists()
    with pytest.raises(UsageError) as err:
        compplan.batch(spec, tmp_path / "api", scheduler=address)
    assert str(err.value) == f"--scheduler '{address}': {reason}"
    assert not (tmp_path / "api").exists()


def test_within_gives_the_message_at_the_deadline() -> None:
    with pytest.raises(UsageError, match=r"^too late$"):
        executors.within(lambda: time.sleep(5), 0.2, threading.Event(), "too late")
    stop = threading.Event()
    stop.set()
    with pytest.raises(KeyboardInterrupt):
        executors.within(lambda: time.sleep(5), 60, stop, "too late")
    assert executors.within(lambda: 7, 1, threading.Event(), "") == 7


def test_a_cluster_without_workers_ends_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    class Client:
        def scheduler_info(self) -> dict[str, object]:
            return {"workers": {}}

    monkeypatch.setattr(executors, "HEARTBEAT_SECONDS", 0.0)
    monkeypatch.setattr(executors, "NO_WORKERS_SECONDS", 0.0)
    watch = executors.Heartbeat(Client(), "tcp://h:1", threading.Event())
    with pytest.raises(UsageError) as err:
        watch.check()
        watch.check()
    assert str(err.value) == ("the Dask cluster at tcp://h:1 has had no worker for 0 s; start "
                              "workers (dask worker tcp://h:1) and continue with --resume")


def test_a_scheduler_that_stops_answering_ends_the_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Client:
        def scheduler_info(self) -> dict[str, object]:
            time.sleep(5)
            return {}

    monkeypatch.setattr(executors, "HEARTBEAT_SECONDS", 0.0)
    monkeypatch.setattr(executors, "ANSWER_SECONDS", 0.2)
    watch = executors.Heartbeat(Client(), "tcp://h:1", threading.Event())
    with pytest.raises(UsageError) as err:
        watch.check()
    assert str(err.value) == ("the Dask scheduler at tcp://h:1 stopped answering (no answer "
                              "within 0.2 s); the finished candidates are kept: continue with "
                              "--resume")
