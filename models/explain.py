"""The plan document for reps: why the plan exists, what it pays for and what it pays.

Every text from a case file reaches a Markdown document through :func:`md_escape`, so
a label such as ``<script>`` is shown as written and never runs.
"""

from __future__ import annotations

import re
from typing import Any

# CommonMark: backslash-escape what could start markup; "_" only at a word boundary
# (intraword underscores, as in metric ids, never emphasise) and "&" only before an
# entity name, so that ordinary text stays readable in the raw file.
_MD_SPECIAL = re.compile(r"[\\`*{}\[\]<>|#!~]|(?<!\w)_|_(?!\w)|&(?=#?\w+;)")
_MD_LEADING = re.compile(r"^([-+=])")


def md_escape(value: Any) -> str:
    """Text shown literally in Markdown, on one line (table cells cannot span lines)."""
    text = " ".join(str(value).split())
    return _MD_LEADING.sub(r"\\\1", _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text))


def join_words(words: list[str] | tuple[str, ...]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
