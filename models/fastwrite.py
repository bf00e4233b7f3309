"""Fast paths for the small files written per candidate of a batch: JSON and CSV text.

A batch writes ``plan.json``, ``plan.csv``, ``plan.md`` and ``result.json`` for each of
up to 10,000 candidates. ``json.dumps(..., indent=2)`` runs the pure-Python encoder
(the C one only serves compact output) and ``DataFrame.to_csv`` sets up a frame per
two-row table: together more than a warm re-solve costs. The functions here give the
same text, byte for byte, from plain Python (the C string quoting of the ``json``
module, ``repr`` of floats as both ``json`` and pandas write them); on any value they
are not sure of they return what the reference writer returns, by calling it
(``tests/test_fastwrite.py`` compares both on every kind of value).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from compplan.render.safe import neutralise

#: The ``json`` module's own string quoting (its C version where built).
_quote = json.encoder.encode_basestring_ascii
_INDENT = "  "


class _Unsure(Exception):
    """A value the fast JSON path does not write: the ``json`` module writes it."""


def json_text(data: Any) -> str:
    r"""``json.dumps(data, indent=2, allow_nan=False) + "\n"`` with NaN and infinities null.

    Parameters
    ----------
    data : object
        A JSON-ready document (dicts with text keys, lists, text, numbers, bools, None).

    Returns
    -------
    str
        The text :func:`compplan.models.output.write_json` writes: non-finite floats
        written as ``null`` (JSON has no NaN), two-space indents.

    Examples
    --------
    >>> print(json_text({"a": [1, 2.5, float("nan")], "b": {}}), end="")
    {
      "a": [
        1,
        2.5,
        null
      ],
      "b": {}
    }
    """
    chunks: list[str] = []
    try:
        _encode(data, 0, chunks)
    except _Unsure:
        from compplan.models.output import _finite

        return json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"
    chunks.append("\n")
    return "".join(chunks)


def _encode(value: Any, level: int, out: list[str]) -> None:
    # The json module's order of checks (JSONEncoder._iterencode).
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(float.__repr__(value) if math.isfinite(value) else "null")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        inner = "\n" + _INDENT * (level + 1)
        out.append("[")
        first = True
        for item in value:
            out.append(inner if first else "," + inner)
            first = False
            _encode(item, level + 1, out)
        out.append("\n" + _INDENT * level + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = "\n" + _INDENT * (level + 1)
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Unsure  # numbers, bools and None as keys: the json module's rules
            out.append((inner if first else "," + inner) + _quote(key) + ": ")
            first = False
            _encode(item, level + 1, out)
        out.append("\n" + _INDENT * level + "}")
    else:
        # Tuples (which _finite leaves alone), objects json refuses, ...
        raise _Unsure


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
        import pandas as pd

        from compplan.render.safe import csv_text

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
