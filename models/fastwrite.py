"""A fast path for the small JSON files written per candidate of a batch.

A batch writes ``plan.json``, ``plan.csv``, ``plan.md`` and ``result.json`` for each of
up to 10,000 candidates. ``json.dumps(..., indent=2)`` runs the pure-Python encoder
(the C one only serves compact output) and ``DataFrame.to_csv`` sets up a frame per
two-row table: together more than a warm re-solve costs. :func:`json_text` gives the
same text, byte for byte, from plain Python (the C string quoting of the ``json``
module, ``repr`` of floats as ``json`` writes them); on any value it is not sure of it
calls ``json.dumps`` itself (``tests/test_fastwrite.py`` compares both on every kind
of value). Its CSV counterpart is :func:`compplan.render.safe.records_csv`.
"""

from __future__ import annotations

import json
import math
from typing import Any

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
