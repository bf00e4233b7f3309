"""Read the CSV files of a case with checks that name the file, the line and the column.

Line numbers are those a person sees in a text editor: the header is line 1, the
first data row line 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import os
import stat
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from compplan.errors import CaseError
from compplan.models.limits import too_large
from compplan.models.text import shown

_FIRST_DATA_LINE = 2


#: Reading a table takes about this many times its size on disk in memory, at peak.
MEMORY_PER_BYTE = 4


def inside_folder(folder: Path, path: Path) -> Path:
    """``path`` if it stays inside ``folder`` once links are followed; else a CaseError.

    A case is a folder: a file that is a link to somewhere else (another user's data,
    a system file) is refused rather than read.
    """
    real = path.resolve()
    if not real.is_relative_to(folder.resolve()):
        raise CaseError(path.name, f"is a link to {real}, outside the case folder; copy the "
                                   "file into the folder instead")
    return path


def not_a_file(path: Path) -> str | None:
    """What ``path`` is when it exists but is not a regular file (links followed), else None.

    A folder, a FIFO, a device or a link that loops named ``reps.csv`` is named for
    what it is, rather than reported missing (or a FIFO read for ever).
    """
    if not os.path.lexists(path):
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops"
        if exc.errno == errno.ENOENT:
            return "a symbolic link to nothing (its target is missing)"
        return None  # permission and the like: reported when the file is read
    for test, words in ((stat.S_ISREG, None), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                        (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return words
    return "not a regular file"


def check_file(path: Path) -> None:
    """A CaseError when ``path`` exists but is not a regular file."""
    kind = not_a_file(path)
    if kind is not None:
        raise CaseError(path.name, f"is {kind}, not a file; the case needs a regular file "
                                   "here")


def find_table(folder: Path, stem: str) -> Path | None:
    """``STEM.csv`` or ``STEM.parquet`` in ``folder`` (not both), or None."""
    for ext in ("csv", "parquet"):
        check_file(folder / f"{stem}.{ext}")
    found = [folder / f"{stem}.{ext}" for ext in ("csv", "parquet")
             if (folder / f"{stem}.{ext}").is_file()]
    if len(found) > 1:
        raise CaseError(f"{stem}.csv", f"is in the case folder together with {stem}.parquet; "
                                        "keep one")
    return inside_folder(folder, found[0]) if found else None


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(path: Path) -> None:
    """Refuse early a table too large for the memory available, with the figures."""
    free = available_memory()
    if free is None:
        return
    needed = path.stat().st_size * MEMORY_PER_BYTE
    if needed > free:
        raise CaseError(path.name, f"is {path.stat().st_size / 2**20:,.0f} MiB: reading it "
                                   f"needs about {needed / 2**30:,.1f} GiB of memory and "
                                   f"{free / 2**30:,.1f} GiB is available; free memory, use "
                                   "a larger machine or split the case")


def _parquet_columns(path: Path) -> list[str]:
    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CaseError(path.name, f"is not a readable Parquet file: {exc}") from None


def check_utf16(name: str, start: bytes) -> None:
    """Refuse UTF-16 text, with or without a byte-order mark, naming the encoding.

    Without a mark, UTF-16 text reads as UTF-8 with a NUL byte beside every ASCII
    letter: column names and messages would be full of invisible characters.
    """
    bom = start[:2] in (b"\xff\xfe", b"\xfe\xff")
    if bom or (len(start) >= 4 and start.count(b"\x00") * 4 >= len(start)):
        raise CaseError(name, f"is UTF-16 text ({'with' if bom else 'without'} a byte-order "
                              "mark); save it as UTF-8 (in Excel: CSV UTF-8)")


def read_header(path: Path) -> list[str]:
    """Read and check the header row: present, no empty or repeated column names."""
    name = path.name
    if path.suffix.lower() == ".parquet":
        return _check_header(name, _parquet_columns(path))
    with path.open("rb") as raw:
        check_utf16(name, raw.read(4096))
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise CaseError(name, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise CaseError(name, f"is not valid CSV: {exc}", row=1) from None
    if not header or all(not h.strip() for h in header):
        raise CaseError(name, "is empty: a header row is required", row=1)
    if len(header) == 1:
        _check_delimiter(name, header[0])
    return _check_header(name, [h.strip() for h in header])


#: Separators a spreadsheet may write in place of the comma, by name.
_DELIMITERS = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}


def _check_delimiter(name: str, header: str) -> None:
    """A header that is one column holding ``;`` or tabs: the file is not comma-separated.

    Once "required column 'rep_id' is missing (columns found: rep_id;period;...)".
    """
    for sep, words in _DELIMITERS.items():
        if header.count(sep) >= 1 and len([p for p in header.split(sep) if p.strip()]) >= 2:
            why = ("; Excel writes semicolons where the comma is the decimal mark"
                   if sep == ";" else "")
            raise CaseError(name, f"is separated by {words}, not commas: save it as CSV with "
                                  f"commas (in Excel: CSV UTF-8 (Comma delimited){why})",
                            row=1)


def _check_header(name: str, columns: list[str]) -> list[str]:
    for i, col in enumerate(columns):
        if not col:
            raise CaseError(name, f"column {i + 1} has no name", row=header_row(name))
        if col in columns[:i]:
            raise CaseError(name, f"column '{col}' appears twice in the header",
                            row=header_row(name))
    return columns


def read_table(path: Path, required: list[str], text_columns: list[str]) -> pd.DataFrame:
    """Read a CSV file with every cell kept as text, as written.

    Numbers are converted by :func:`numeric_column`, so a message can quote a cell
    exactly as the user wrote it.

    Parameters
    ----------
    path : Path
        The CSV file.
    required : list of str
        Columns that must be present.
    text_columns : list of str
        Columns that must hold a value (ids, grouping columns); stripped of blanks.

    Returns
    -------
    pandas.DataFrame
        One row per line of the file; the index is the file's line number.
    """
    name = path.name
    columns = read_header(path)
    for col in required:
        if col not in columns:
            raise CaseError(name, f"required column '{col}' is missing "
                                  f"(columns found: {', '.join(columns)})",
                            row=header_row(name))
    text = [c for c in text_columns if c in columns]
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path, text)
    lines = _check_field_counts(path, len(columns))
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, header=0, names=columns,
                            index_col=False, skip_blank_lines=False, keep_default_na=False,
                            na_values=[""], skipinitialspace=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise CaseError(name, f"cannot be read as CSV: {exc}") from None
    frame.index = (pd.Index(lines) if lines is not None and len(lines) == len(frame)
                   else pd.RangeIndex(_FIRST_DATA_LINE, _FIRST_DATA_LINE + len(frame)))
    frame = frame.dropna(how="all")
    if frame.empty:
        raise CaseError(name, "has a header but no data rows")
    for col in text:
        frame[col] = _text_column(frame[col], name, col)
    return frame


def _check_field_counts(path: Path, expected: int) -> list[int] | None:
    """Name the first data line whose number of fields differs from the header's.

    pandas would otherwise take a longer first row as holding an index and shift
    every column, or pad a shorter row with empty cells. Blank lines are allowed.
    Without quotes or bare carriage returns the fields are counted on the bytes
    (fast); otherwise with the csv module. A file the csv module cannot split (an
    unterminated quote) is left to pandas, whose message says where.

    Returns
    -------
    list of int or None
        With the csv module, the file line each data row starts on (a quoted cell
        may hold line breaks, so rows and lines differ); None when they are the same.
    """
    data = path.read_bytes()
    if b'"' in data or data.count(b"\r") != data.count(b"\r\n"):
        return _check_field_counts_csv(path, expected)
    raw = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(raw == ord("\n")) + 1, [len(raw)]))
    commas = np.searchsorted(np.flatnonzero(raw == ord(",")), starts)
    fields = np.diff(commas) + 1
    for i in np.flatnonzero(fields[1:] != expected) + 1:
        if data[starts[i]:starts[i + 1]].strip():  # blank lines are allowed
            _too_many_or_few(path.name, int(i) + 1, int(fields[i]), expected)
    return None


def _check_field_counts_csv(path: Path, expected: int) -> list[int] | None:
    starts = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, skipinitialspace=True, strict=True)
            next(reader, None)
            end = reader.line_num
            for row in reader:
                line, end = end + 1, reader.line_num  # a row may span lines
                starts.append(line)
                blank = not row or (len(row) == 1 and not row[0].strip())
                if len(row) != expected and not blank:
                    _too_many_or_few(path.name, line, len(row), expected)
    except UnicodeDecodeError as exc:
        raise CaseError(path.name, f"is not UTF-8 text ({exc.reason} at byte {exc.start})"
                        ) from None
    except csv.Error:
        return None
    return starts


def _too_many_or_few(file: str, line: int, fields: int, expected: int) -> NoReturn:
    raise CaseError(file, f"has {fields} field{'s' if fields != 1 else ''} but the header "
                          f"has {expected}", row=line)


def _read_parquet(path: Path, text: Iterable[str]) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise CaseError(path.name, f"is not a readable Parquet file: {exc}") from None
    frame.index = pd.RangeIndex(1, 1 + len(frame))
    if frame.empty:
        raise CaseError(path.name, "has no data rows")
    for col in text:
        values = frame[col]
        if values.isna().any():
            row = int(values.index[int(np.argmax(values.isna().to_numpy()))])
            raise CaseError(path.name, "is empty; a value is required", row=row, field=col,
                            unit="row")
        frame[col] = values.astype(str).str.strip()
    return frame


def row_unit(file: str) -> str:
    """How rows are counted in messages: lines of a CSV file, rows of a Parquet file."""
    return "row" if file.lower().endswith(".parquet") else "line"


def header_row(file: str) -> int | None:
    """The header's line number in messages (a Parquet file has no header line)."""
    return None if file.lower().endswith(".parquet") else 1


def _text_column(values: pd.Series, file: str, column: str) -> pd.Series:
    stripped = values.fillna("").astype(str).str.strip()
    empty = stripped == ""
    if empty.any():
        line = int(stripped.index[int(np.argmax(empty.to_numpy()))])
        raise CaseError(file, "is empty; a value is required", row=line, field=column)
    return stripped


def numeric_column(frame: pd.DataFrame, file: str, column: str, *, allowed: str,
                   minimum: float, strict: bool, maximum: float | None = None,
                   what: str = "value") -> np.ndarray:
    """Return a column as finite float64, naming the first line that breaks the rule.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows indexed by their line number in the file.
    file : str
        File name for messages.
    column : str
        The column to convert.
    allowed : str
        What a valid value is, in words, for the message.
    minimum : float
        The smallest valid value.
    strict : bool
        If true the value must be above ``minimum``; otherwise at least ``minimum``.
    maximum : float, optional
        The largest valid value (MODEL.md section 1's limits, :mod:`compplan.models.limits`).
    what : str
        What the column holds, for the message on ``maximum`` ("amount of money").

    Returns
    -------
    numpy.ndarray
        The values as float64.
    """
    raw = frame[column]
    kind = _refused_kind(raw)
    if kind is not None:  # a Parquet column of another type
        raise CaseError(file, f"must be {allowed}, but the column holds {kind}", field=column)
    if pd.api.types.is_numeric_dtype(raw.dtype):  # a Parquet column
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        raw = raw.str.strip()
        values = _parse_numbers(raw)
    else:  # Parquet: decimals (SQL NUMERIC), or values of mixed types
        values = np.array([_number(v) for v in raw], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & ((values > minimum) if strict else (values >= minimum))
    if not ok.all():
        i = int(np.argmin(ok))
        got = _got(raw.iloc[i])
        raise CaseError(file, f"must be {allowed}, got {got}", row=int(frame.index[i]),
                        field=column, unit=row_unit(file))
    if maximum is not None and (values > maximum).any():
        i = int(np.argmax(values > maximum))
        message = too_large(float(values[i]), maximum, what)
        raise CaseError(file, str(message), row=int(frame.index[i]), field=column,
                        unit=row_unit(file))
    return values


def _refused_kind(raw: pd.Series) -> str | None:
    """A whole column of a type that is never a number: true/false values, dates."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return "true/false values (a boolean column); store numbers"
    if pd.api.types.is_datetime64_any_dtype(raw.dtype) or isinstance(
            raw.dtype, pd.PeriodDtype):
        return "dates or times (a timestamp column); store numbers"
    if pd.api.types.is_timedelta64_dtype(raw.dtype):
        return "durations (a timedelta column); store numbers"
    return None


def _number(value: object) -> float:
    """One cell of a Parquet column of objects as a float; NaN where it is not a number."""
    if isinstance(value, bool | np.bool_) or value is None:
        return np.nan
    if isinstance(value, int | float | Decimal | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        return float(_parse_numbers(pd.Series([value.strip()]))[0])
    return np.nan


def _got(value: object) -> str:
    """A bad cell as a message quotes it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "an empty cell"
    if isinstance(value, str):
        return shown(value) if value else "an empty cell"
    if isinstance(value, bool | np.bool_):
        return f"the true/false value {value}"
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return f"the date {value}"
    if isinstance(value, list | tuple | np.ndarray | dict):
        items = value.tolist() if isinstance(value, np.ndarray) else value
        return f"a list {shown(items if isinstance(items, dict) else list(items))}"
    if isinstance(value, Decimal | int | float | np.number):
        return repr(float(value))
    return f"{type(value).__name__} {shown(value)}"


def _parse_numbers(text: pd.Series) -> np.ndarray:
    """Text to float64, NaN where a cell is empty or not a number.

    pyarrow's cast is quick and accepts the same numbers as ``pd.to_numeric`` (and as
    the fast attainment reader); it fails as a whole on any other cell, and then
    ``pd.to_numeric`` marks the cells that are not numbers.
    """
    try:
        parsed = pc.cast(pa.array(text, type=pa.string(), from_pandas=True), pa.float64())
        return np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64,
                                                             na_value=np.nan)


def first_duplicate(values: pd.Series) -> tuple[int, int] | None:
    """Line numbers of the first repeated value and of its first occurrence, if any."""
    dup = values.duplicated(keep="first")
    if not dup.any():
        return None
    line = int(values.index[int(np.argmax(dup.to_numpy()))])
    first = int(values.index[int(np.argmax((values == values.loc[line]).to_numpy()))])
    return line, first
