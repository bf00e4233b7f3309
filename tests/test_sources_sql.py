"""A case from a SQL database (MODEL.md section 11), against a real PostgreSQL server.

The server is started by the fixture below (tests/pg_server.py) in a temporary folder,
on a unix socket, and stopped afterwards; without PostgreSQL the tests are skipped, saying
why. The same rows give the same plan.json, byte for byte, as from the CSV file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CONFORMANCE, invoke
from pg_server import PASSWORD, Server, start

C9 = CONFORMANCE / "c9_ledger"
ENV = "COMPPLAN_TEST_PGPASSWORD"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    started = start()
    if isinstance(started, str):
        pytest.skip(started)
    try:
        with started.connect() as con:
            con.execute("CREATE TABLE deals (txn_id text, owner text, closed_on date, "
                        "product text, amount numeric(20, 10), margin_pct double precision, "
                        "share numeric)")
            with con.cursor().copy("COPY deals FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
                cp.write((C9 / "transactions.csv").read_bytes())
        yield started
    finally:
        started.stop()


def db_case(tmp_path: Path, transactions: str, *, password_env: bool = True) -> Path:
    folder = tmp_path / "case"
    shutil.copytree(C9, folder)
    (folder / "transactions.csv").unlink()
    toml = (folder / "case.toml").read_text()
    extra = f'\npassword_env = "{ENV}"' if password_env else ""
    toml = toml.replace('transactions = "transactions.csv"', f"transactions = {transactions}"
                        + extra)
    (folder / "case.toml").write_text(toml)
    return folder


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)


def optimise(folder: Path, out: Path) -> bytes:
    result = invoke("optimise", str(folder), "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    return (out / "plan.json").read_bytes()


@pytest.mark.usefixtures("password")
def test_same_plan_json_from_postgresql_as_from_the_file(server: Server, tmp_path: Path) -> None:
    from_file = optimise(C9, tmp_path / "file")
    query = f'{{ url = "{server.url()}", query = "SELECT * FROM deals WHERE amount IS NOT NULL" }}'
    folder = db_case(tmp_path, query)
    assert optimise(folder, tmp_path / "db") == from_file
    table = db_case(tmp_path / "t", f'{{ url = "{server.url()}", table = "deals" }}')
    assert optimise(table, tmp_path / "db_table") == from_file
    for out in ("db", "db_table"):
        for path in (tmp_path / out).iterdir():
            assert PASSWORD.encode() not in path.read_bytes()


@pytest.mark.usefixtures("password")
def test_validate_names_the_url_without_a_password(server: Server, tmp_path: Path) -> None:
    folder = db_case(tmp_path, f'{{ url = "{server.url()}", table = "deals" }}')
    result = invoke("validate", str(folder))
    assert result.exit_code == 0, result.output
    assert f"transactions from {server.url()}: 1,590" in result.stdout


def test_password_from_a_pgpass_file(server: Server, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"*:*:*:compplan:{PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    folder = db_case(tmp_path, f'{{ url = "{server.url()}", table = "deals" }}',
                     password_env=False)
    assert optimise(folder, tmp_path / "out") == optimise(C9, tmp_path / "file")


def test_a_refused_password_exits_2_naming_the_url(server: Server, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "wrong-password-123")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    folder = db_case(tmp_path, f'{{ url = "{server.url()}", table = "deals" }}')
    result = invoke("optimise", str(folder), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "Error: case.toml, [source] transactions.table: the database at "
        f"{server.url()} refused the source: ")
    assert 'password authentication failed for user "compplan"' in result.stderr
    assert "wrong-password-123" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_password_in_the_url_is_never_shown(server: Server, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    url = server.url(password=True).replace(PASSWORD, "not-the-password")
    folder = db_case(tmp_path, f'{{ url = "{url}", table = "deals" }}', password_env=False)
    result = invoke("validate", str(folder))
    assert result.exit_code == 2
    shown = url.replace(":not-the-password@", ":***@")
    assert result.stderr.startswith(
        f"Error: case.toml, [source] transactions.table: the database at {shown} refused "
        "the source: ")
    assert "not-the-password" not in result.stderr


def test_a_database_that_is_down_exits_2_naming_the_url(tmp_path: Path) -> None:
    os.environ.setdefault(ENV, "x")
    sock = tmp_path / "nosock"
    sock.mkdir()
    url = f"postgresql://compplan@/ledger?host={sock}"
    folder = db_case(tmp_path, f'{{ url = "{url}", table = "deals" }}')
    result = invoke("optimise", str(folder), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: case.toml, [source] transactions.table: the database at {url} refused the "
        "source: ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("password")
@pytest.mark.parametrize(("transactions", "message"), [
    ('{{ url = "{url}", query = "SELEC * FROM deals" }}',
     "case.toml, [source] transactions.query: the database at {url} refused the source: "
     'syntax error at or near "SELEC"'),
    ('{{ url = "{url}", table = "no_such_table" }}',
     "case.toml, [source] transactions.table: the database at {url} refused the source: "
     'relation "no_such_table" does not exist'),
    ('{{ url = "{url}", query = "SELECT owner, closed_on FROM deals" }}',
     "case.toml, [source] credit: column 'share' is not in the transactions ({url}; "
     "columns: owner, closed_on)"),
    ('{{ url = "nosuchdialect://x@y/z", table = "deals" }}',
     "case.toml, [source] transactions.url: no driver for 'nosuchdialect://x@y/z' is "
     "installed (Can't load plugin: sqlalchemy.dialects:nosuchdialect)"),
])
def test_bad_database_source(server: Server, tmp_path: Path, transactions: str,
                             message: str) -> None:
    folder = db_case(tmp_path, transactions.format(url=server.url()))
    result = invoke("validate", str(folder))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "Error: " + message.format(url=server.url())


def test_password_env_not_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    folder = db_case(tmp_path, '{ url = "postgresql://compplan@/ledger", table = "deals" }')
    result = invoke("validate", str(folder))
    assert result.exit_code == 2
    assert result.stderr == (f"Error: case.toml, [source] password_env: the environment "
                             f"variable '{ENV}' is not set (it holds the database password)\n")


def test_not_a_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "x")
    folder = db_case(tmp_path, '{ url = "not a url", table = "deals" }')
    result = invoke("validate", str(folder))
    assert result.exit_code == 2
    assert result.stderr == ("Error: case.toml, [source] transactions.url: 'not a url' is not "
                             "a database url: Could not parse SQLAlchemy URL from given URL "
                             "string\n")
