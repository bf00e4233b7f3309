"""Number and text formatting shared by every renderer: one percent, one Markdown escaper."""

from __future__ import annotations

import math
import re
from typing import Any

# CommonMark: backslash-escape what could start markup; "_" only at a word boundary
# (intraword underscores, as in metric ids, never emphasise) and "&" only before an
# entity name, so that ordinary text stays readable in the raw file.
_MD_SPECIAL = re.compile(r"[\\`*{}\[\]<>|#!~]|(?<!\w)_|_(?!\w)|&(?=#?\w+;)")
_MD_LEADING = re.compile(r"^([-+=])")

#: What a missing figure shows.
MISSING = "\u2014"


def md_escape(value: Any) -> str:
    """Text shown literally in Markdown, on one line (table cells cannot span lines)."""
    text = " ".join(str(value).split())
    return _MD_LEADING.sub(r"\\\1", _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text))


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage: ``0.465`` reads ``46.5%``; an em dash for a missing figure."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:.{digits}%}"
