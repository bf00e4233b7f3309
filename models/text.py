"""Values from a case, shown in messages so that a person can find and fix them."""

from __future__ import annotations

import unicodedata
from typing import Any

#: Longest value shown in a message; longer ones are cut and end in "...".
LIMIT = 80


def shown(value: Any, limit: int = LIMIT) -> str:
    r"""A value as a message quotes it: quoted, escaped where ambiguous, cut when long.

    Text holding invisible characters (a zero-width space, a control character) or
    not in Unicode normal form NFC (``e`` followed by a combining accent, which looks
    like ``é``) is shown with escapes (``'Jose\u0301'``), so two ids that look the
    same on screen can be told apart. Anything longer than ``limit`` characters is
    cut.

    Parameters
    ----------
    value : object
        Usually a str; other values are shown with ``repr``.
    limit : int
        Characters kept before "...".

    Returns
    -------
    str
        With quotes for text.
    """
    if isinstance(value, str):
        if value.isprintable() and unicodedata.is_normalized("NFC", value):
            text = f"'{value}'"
        else:
            # Escape everything outside ASCII too: the odd character may be a letter
            # that only differs by normal form.
            text = "'" + value.encode("ascii", "backslashreplace").decode("ascii").replace(
                "\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "'"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def one_line(text: str, limit: int = 200) -> str:
    """Text for a heading or a table cell of a document: on one line, cut when long."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit] + "..."
