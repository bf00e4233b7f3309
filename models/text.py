"""Values from a case, shown in messages so that a person can find and fix them."""

from __future__ import annotations

import re
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


_TAG_START = re.compile(r"(?<!\\)<(?=[A-Za-z/!?])")


def markdown_safe(document: str) -> str:
    r"""A Markdown document with every ``<`` that could open an HTML tag escaped.

    Markdown passes raw HTML through: a case name, label or goal name holding
    ``<script>`` or ``<img onerror=...>`` would reach the page a Git host or an editor
    renders from ``plan.md``, ``pulse.md``, ``compare.md`` or ``audit_org.md``. Text
    inside code spans (between backticks) is shown as written and left alone. ``<``
    before a space or a digit (``a < 0``) cannot open a tag and stays, as does one
    already escaped (``\<``, as the plan document for reps writes it).
    """
    if "<" not in document:
        return document
    out = []
    for line in document.split("\n"):
        parts = line.split("`")
        # Even parts are outside code spans (an unpaired backtick leaves the rest as text).
        if len(parts) % 2 == 0:
            parts = [*parts[:-2], parts[-2] + "`" + parts[-1]]
        out.append("`".join(_TAG_START.sub("&lt;", p) if i % 2 == 0 else p
                            for i, p in enumerate(parts)))
    return "\n".join(out)
