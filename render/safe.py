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

import re
from typing import TypeVar

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
