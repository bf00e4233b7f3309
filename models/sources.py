"""Where a case's tables come from: files, a glob of files, a DataFrame or a SQL database.

One interface (:class:`TableSource`) for every kind of source: it loads its rows into
an embedded DuckDB connection as a table, and says where each row came from (a file and
its line, or the row of a query's result), so that a message about a bad row names it
the way the user can find it. Files are read into the engine *before* any user
expression runs (MODEL.md section 11): the ledger then switches the engine's access to
files and the network off.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from compplan.errors import CaseError

#: Columns every loaded table carries besides the source's own: which part it came
#: from (an index into :attr:`TableSource.parts`) and the row within that part.
PART = "__part"
ROW = "__row"
#: The most files a glob of transactions may match: more is a mistake (a glob over the whole
#: disk), refused before the walk ends.
MAX_GLOB_FILES = 10_000


def engine_message(exc: BaseException) -> str:
    """A DuckDB error in one line, without the engine's error class or the query echoed."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^[A-Za-z ]*Error: ", "", text)
    return text.rstrip(".!")


def connect() -> Any:
    """A fresh in-memory DuckDB connection (times as stored: UTC, no time-zone shift)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


class TableSource(Protocol):
    """A table of rows, and where each one came from."""

    @property
    def label(self) -> str:
        """What a message calls the whole source: a file, a glob, a url without password."""

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts the rows came from (file names), indexed by the ``__part`` column."""

    def load(self, con: Any, table: str) -> None:
        """Create ``table`` in ``con`` with the source's rows plus ``__part`` and ``__row``."""

    def where(self, part: int, row: int) -> tuple[str, int, str]:
        """``(file, row, unit)`` naming one row in a message (``unit``: line or row)."""


@dataclass(frozen=True)
class FileSource:
    """CSV or Parquet files (one, or every file a glob matches), read by DuckDB."""

    label: str
    paths: tuple[Path, ...]

    @property
    def parts(self) -> tuple[str, ...]:
        """The files' names."""
        return tuple(p.name for p in self.paths)

    @classmethod
    def resolve(cls, pattern: str, folder: Path | None, key: str) -> FileSource:
        """The files ``pattern`` names (relative to ``folder``), or a CaseError naming ``key``.

        Parameters
        ----------
        pattern : str
            A path or a glob (``deals/*.parquet``); absolute, or relative to the folder.
        folder : Path or None
            The case folder (None: relative to the working directory).
        key : str
            The case.toml key named in errors.
        """
        path = Path(pattern).expanduser()
        if not path.is_absolute() and folder is not None:
            path = folder / path
        if glob.has_magic(pattern):
            found: list[Path] = []
            for name in glob.iglob(str(path), recursive=True):
                if Path(name).is_file():
                    found.append(Path(name))
                    if len(found) > MAX_GLOB_FILES:
                        raise CaseError("case.toml", f"the glob '{pattern}' matches more than "
                                                     f"{MAX_GLOB_FILES} files (name the "
                                                     "ledger's own folder)", field=key)
            found.sort()
            if not found:
                raise CaseError("case.toml", f"the glob '{pattern}' matches no file "
                                             f"(looked in {path.parent})", field=key)
        else:
            if not path.exists():
                raise CaseError("case.toml", f"the file '{pattern}' does not exist "
                                             f"(looked for {path})", field=key)
            if not path.is_file():
                raise CaseError("case.toml", f"'{pattern}' is not a file", field=key)
            found = [path]
        for p in found:
            if p.suffix.lower() not in (".csv", ".parquet"):
                raise CaseError("case.toml", f"'{p.name}' is neither a .csv nor a .parquet "
                                             "file", field=key)
        return cls(pattern, tuple(found))

    def load(self, con: Any, table: str) -> None:
        """Read every file into ``table`` (columns by name across files)."""
        if all(p.suffix.lower() == ".parquet" for p in self.paths) and self._parquet(con, table):
            return
        selects = []
        for i, path in enumerate(self.paths):
            part = f"{table}__{i}"
            reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv"
            if path.stat().st_size == 0:
                raise CaseError(path.name, "is empty (a header, then one row per transaction)")
            try:
                if reader == "read_csv":
                    con.execute(f"CREATE TEMP TABLE {part} AS SELECT * FROM read_csv(?, "
                                "header = true, sample_size = -1)", [str(path)])
                else:
                    con.execute(f"CREATE TEMP TABLE {part} AS SELECT * FROM read_parquet(?)",
                                [str(path)])
            except Exception as exc:
                if reader == "read_csv" and (bad := _not_utf8(path)) is not None:
                    raise CaseError(path.name, f"is not UTF-8 text ({bad[1]}; save it as "
                                               "UTF-8)", row=bad[0]) from None
                raise CaseError(path.name, f"cannot be read as "
                                           f"{'Parquet' if reader == 'read_parquet' else 'CSV'}"
                                           f": {engine_message(exc)}") from None
            selects.append(f"SELECT *, {i} AS {PART}, rowid AS {ROW} FROM {part}")
        try:
            con.execute(f"CREATE TEMP TABLE {table} AS "
                        + " UNION ALL BY NAME ".join(selects))
        except Exception as exc:
            raise CaseError(self.label, "the files cannot be read as one table (a column "
                                        f"with different types?): {engine_message(exc)}"
                            ) from None
        for i in range(len(self.paths)):
            con.execute(f"DROP TABLE {table}__{i}")

    def _parquet(self, con: Any, table: str) -> bool:
        """Parquet files in one read, each row numbered within its file (no copy)."""
        files = [str(p) for p in self.paths]
        for path in self.paths:
            if path.stat().st_size == 0:
                raise CaseError(path.name, "is empty (a header, then one row per transaction)")
        try:
            columns = {str(r[0]) for r in con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)", [files]
            ).fetchall()}
        except Exception:
            return False  # read file by file below, for a message naming the file
        if columns & {"file_row_number", "__file", PART, ROW}:
            return False
        try:
            con.execute(f"""CREATE TEMP TABLE {table} AS
                SELECT * EXCLUDE (file_row_number, __file),
                       CAST(list_position(?, __file) - 1 AS INTEGER) AS {PART},
                       file_row_number AS {ROW}
                FROM read_parquet(?, union_by_name = true, filename = '__file',
                                  file_row_number = true)""", [files, files])
        except Exception:
            return False
        return True

    def where(self, part: int, row: int) -> tuple[str, int, str]:
        """The file and its line (CSV, header on line 1) or row (Parquet, from 1)."""
        path = self.paths[part]
        if path.suffix.lower() == ".parquet":
            return path.name, row + 1, "row"
        return path.name, row + 2, "line"


@dataclass(frozen=True)
class FrameSource:
    """Rows given as a pandas DataFrame (the API: :meth:`compplan.Case.from_frames`)."""

    label: str
    frame: pd.DataFrame

    @property
    def parts(self) -> tuple[str, ...]:
        """One part: the frame."""
        return (self.label,)

    def load(self, con: Any, table: str) -> None:
        """Register the frame and copy it into ``table``."""
        frame = self.frame.reset_index(drop=True).copy()
        frame[PART] = 0
        frame[ROW] = np.arange(len(frame), dtype=np.int64)
        con.register(f"{table}__frame", frame)
        try:
            con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {table}__frame")
        except Exception as exc:
            raise CaseError(self.label, f"cannot be read: {engine_message(exc)}") from None
        finally:
            con.unregister(f"{table}__frame")

    def where(self, part: int, row: int) -> tuple[str, int, str]:
        """The frame's row, from 1."""
        return self.label, row + 1, "row"


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and reports)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


@dataclass(frozen=True)
class SqlSource:
    """The rows of a query (or a whole table) of a database, through SQLAlchemy.

    The password comes from the environment variable ``password_env`` or from the
    client's own password file (``~/.pgpass`` for PostgreSQL); it is never part of a
    message, a report or an output.
    """

    url: str
    query: str | None
    table: str | None
    password_env: str | None

    @property
    def label(self) -> str:
        """The url without its password."""
        return hide_password(self.url)

    @property
    def parts(self) -> tuple[str, ...]:
        """One part: the query's result."""
        return (self.label,)

    def _engine(self) -> Any:
        try:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError, NoSuchModuleError
        except ImportError:  # pragma: no cover - a dependency of compplan
            raise CaseError("case.toml", "a database source needs SQLAlchemy "
                                         "(pip install sqlalchemy)",
                            field="[source] transactions.url") from None
        try:
            url = make_url(self.url)
            if self.password_env is not None:
                password = os.environ.get(self.password_env)
                if password is None:
                    raise CaseError("case.toml", f"the environment variable "
                                                 f"'{self.password_env}' is not set (it holds "
                                                 "the database password)",
                                    field="[source] password_env")
                url = url.set(password=password)
            if url.drivername in ("postgresql", "postgres"):
                url = url.set(drivername="postgresql+psycopg")
            return create_engine(url)
        except (NoSuchModuleError, ImportError) as exc:
            raise CaseError("case.toml", f"no driver for '{self.label}' is installed "
                                         f"({_no_password(str(exc), self)})",
                            field="[source] transactions.url") from None
        except (ArgumentError, ValueError) as exc:
            raise CaseError("case.toml", f"'{self.label}' is not a database url: "
                                         f"{_no_password(str(exc), self)}",
                            field="[source] transactions.url") from None

    def load(self, con: Any, table: str) -> None:
        """Run the query in the database and copy its rows into ``table``."""
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        engine = self._engine()
        if self.query is not None:
            statement = self.query
        else:
            assert self.table is not None
            quote = engine.dialect.identifier_preparer.quote
            statement = "SELECT * FROM " + ".".join(quote(p) for p in self.table.split("."))
        try:
            with engine.connect() as connection:
                result = connection.execute(text(statement))
                columns = list(result.keys())
                rows = result.fetchall()
        except SQLAlchemyError as exc:
            detail = _no_password(str(getattr(exc, "orig", None) or exc), self)
            detail = detail.strip().splitlines()[0] if detail.strip() else type(exc).__name__
            raise CaseError("case.toml", f"the database at {self.label} refused the source: "
                                         f"{detail}",
                            field=f"[source] transactions.{'query' if self.query else 'table'}"
                            ) from None
        finally:
            engine.dispose()
        frame = _typed_frame(pd.DataFrame.from_records(rows, columns=columns))
        FrameSource(self.label, frame).load(con, table)

    def where(self, part: int, row: int) -> tuple[str, int, str]:
        """The row of the query's result, from 1."""
        return f"the query at {self.label}", row + 1, "row"


def _no_password(text: str, source: SqlSource) -> str:
    text = hide_password(text)
    if source.password_env is not None:
        secret = os.environ.get(source.password_env)
        if secret:
            text = text.replace(secret, "***")
    return text


def _typed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Database values as the file readers type them: decimals as float64, dates as dates."""
    import datetime as dt
    from decimal import Decimal

    for col in frame.columns:
        values = frame[col]
        if values.dtype != object:
            continue
        sample = values.dropna()
        if sample.empty:
            continue
        if all(isinstance(v, Decimal | int | float) and not isinstance(v, bool)
               for v in sample):
            frame[col] = pd.to_numeric(values.map(lambda v: None if v is None else float(v)))
        elif all(isinstance(v, dt.datetime) for v in sample):
            frame[col] = pd.to_datetime(values)
        elif all(isinstance(v, dt.date) for v in sample):
            frame[col] = pd.to_datetime(values).dt.date.astype("date32[pyarrow]")
    return frame


def transactions_source(spec: Any, folder: Path | None) -> TableSource:
    """The source ``[source] transactions`` names (a path or glob, or a database)."""
    tx = spec.transactions
    if isinstance(tx, str):
        return FileSource.resolve(tx, folder, "[source] transactions")
    return SqlSource(tx.url, tx.query, tx.table, spec.password_env)


def _not_utf8(path: Path) -> tuple[int, str] | None:
    """The first line of ``path`` that is not UTF-8, and why; None when all of it is."""
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return line, f"byte 0x{raw[exc.start]:02x} at character {exc.start + 1}"
    return None
