"""Text that reaches a spreadsheet stays text: neutralising formula injection.

A spreadsheet program reads a CSV cell (or an XLSX string cell typed into it)
starting with ``=``, ``+``, ``-`` or ``@`` as a formula, and a leading tab or carriage
return can hide one; a rep id such as ``=HYPERLINK("http://x", "click")`` in a case
file would otherwise run in finance's copy of ``rep_rates.csv``. Every CSV and XLSX
writer passes its text cells and headers through :func:`neutralise`, which prefixes
such a value with a single quote, so that it shows as written.

Numbers stay numbers: a float or int cell is never touched, and neither is text that
is a plain number (``-12.5``, ``+3``, ``-1,250``), which no spreadsheet reads as a
formula.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any, TypeVar

import pandas as pd

#: First characters that make a spreadsheet read a cell as a formula (OWASP's list).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number, optionally signed, with thousands separators or an exponent.
# Digits are required before any exponent: "+e5" is a reference to cell E5.
_NUMBER = re.compile(r"[+-](?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

T = TypeVar("T")


def neutralise(value: T) -> T | str:
    r"""A cell value safe for a spreadsheet: risky text gets a leading single quote.

    Parameters
    ----------
    value : object
        A cell: text is checked, anything else (numbers, None, NaN) is returned as is.

    Returns
    -------
    object
        ``value``, or ``"'" + value`` when it is text starting with ``=``, ``+``, ``-``,
        ``@``, a tab or a carriage return and is not a plain number.

    Examples
    --------
    >>> neutralise('=HYPERLINK("http://x")')
    '\'=HYPERLINK("http://x")'
    >>> neutralise("-12.5"), neutralise(-12.5), neutralise("E0001")
    ('-12.5', -12.5, 'E0001')
    """
    if not isinstance(value, str) or not value.startswith(TRIGGERS):
        return value
    if _NUMBER.fullmatch(value):
        return value
    return "'" + value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell and column name passed through :func:`neutralise`.

    Numeric columns are left as they are (a negative number is not a formula).
    """
    safe = frame.copy()
    safe.columns = pd.Index([neutralise(c) for c in frame.columns])
    for i in range(safe.shape[1]):
        series = safe.iloc[:, i]
        if not pd.api.types.is_numeric_dtype(series):  # bool is numeric too
            safe.isetitem(i, series.map(neutralise).to_numpy())
    return safe


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (no index, newline line ends), its text neutralised."""
    return neutralise_frame(frame).to_csv(index=False, lineterminator="\n")


def records_csv(records: list[dict[str, Any]]) -> str:
    r"""``csv_text(pandas.DataFrame(records))`` for plain records, without pandas.

    Every record must have the same keys in the same order and each column one type
    (text, float, int or bool) with no missing value; otherwise (and for an empty list)
    the text comes from pandas itself.

    Parameters
    ----------
    records : list of dict
        One dictionary per row.

    Returns
    -------
    str
        CSV text: a header, one line per record, text neutralised
        (:func:`compplan.render.safe.neutralise`), ``\n`` line ends.
    """
    columns = _plain_columns(records)
    if columns is None:
        return csv_text(pd.DataFrame(records))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(c) for c in columns])
    kinds = [type(records[0][c]) for c in columns]
    for record in records:
        writer.writerow([neutralise(v) if kind is str else
                         float.__repr__(v) if kind is float else v
                         for v, kind in zip(record.values(), kinds, strict=True)])
    return buffer.getvalue()


def _plain_columns(records: list[dict[str, Any]]) -> list[str] | None:
    """The columns when every record has the same keys and each column one plain type."""
    if not records:
        return None
    columns = list(records[0])
    if not columns or not all(isinstance(c, str) for c in columns):
        return None
    kinds = [type(records[0][c]) for c in columns]
    if any(kind not in (str, float, int, bool) for kind in kinds):
        return None
    for record in records:
        if list(record) != columns:
            return None
        for value, kind in zip(record.values(), kinds, strict=True):
            if type(value) is not kind:
                return None
            if kind is float and not math.isfinite(value):
                return None  # pandas writes NaN empty, infinities as inf
            if kind is int and not -(2 ** 63) <= value < 2 ** 63:
                return None  # beyond int64: an object column in pandas
    return columns
