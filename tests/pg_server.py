"""A real PostgreSQL server for the tests, started in a temporary folder and stopped after.

Debian's binaries (``apt-get install postgresql``; ``make test`` installs them as root
where missing). ``initdb`` refuses to run as root, so as root the server runs as the
unprivileged user ``nobody`` (through ``runuser``); it listens on a unix socket in a
temporary folder only, never on a network port. Where no server can be started,
:func:`start` says why, for ``pytest.skip``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "compplan"
PASSWORD = "pw-7f3a-secret"
DATABASE = "ledger"


@dataclass
class Server:
    """A running server: its socket folder and how to stop it."""

    root: Path
    socket_dir: Path
    bin_dir: Path
    as_user: list[str]

    def url(self, *, password: bool = False, user: str = USER) -> str:
        """A SQLAlchemy url to the test database over the unix socket."""
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{user}{secret}@/{DATABASE}?host={self.socket_dir}"

    def connect(self):  # type: ignore[no-untyped-def]
        """A psycopg connection as the test user."""
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), dbname=DATABASE, user=USER,
                               password=PASSWORD, autocommit=True)

    def stop(self) -> None:
        """Stop the server and remove its folders."""
        subprocess.run([*self.as_user, str(self.bin_dir / "pg_ctl"), "-D",
                        str(self.root / "data"), "-m", "fast", "-w", "stop"],
                       capture_output=True, check=False, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def find_bin() -> Path | None:
    """The folder of Debian's PostgreSQL binaries (the newest), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def start() -> Server | str:
    """Start a server, or say why none can be started."""
    bin_dir = find_bin()
    if bin_dir is None:
        return ("PostgreSQL is not installed (initdb not found; as root: apt-get install -y "
                "postgresql, or make postgres)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            return "running as root and runuser is missing: initdb refuses to run as root"
        as_user = [runuser, "-u", "nobody", "--"]
    root = Path(tempfile.mkdtemp(prefix="cpg"))  # short: a socket path is at most 107 bytes
    (root / "sock").mkdir()
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_user:
        for path in (root, root / "sock", pwfile):
            shutil.chown(path, "nobody", "nogroup")
    try:
        steps = [
            [*as_user, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", USER,
             "-A", "scram-sha-256", f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8"],
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l",
             str(root / "log"), "-w", "-t", "60", "-o",
             f"-k {root / 'sock'} -c listen_addresses='' -c fsync=off", "start"],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False,
                                  timeout=120)
            if done.returncode != 0:
                shutil.rmtree(root, ignore_errors=True)
                return (f"PostgreSQL could not be started ({Path(step[len(as_user)]).name}: "
                        f"{(done.stderr or done.stdout).strip().splitlines()[-1:]})")
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        return f"PostgreSQL could not be started: {exc}"
    server = Server(root, root / "sock", bin_dir, as_user)
    try:
        import psycopg

        with psycopg.connect(host=str(server.socket_dir), dbname="postgres", user=USER,
                             password=PASSWORD, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {DATABASE}")
    except Exception as exc:
        server.stop()
        return f"PostgreSQL started but the test database could not be made: {exc}"
    return server
