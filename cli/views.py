"""Commands that look at plans: evaluate (with what-ifs) and compare."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
