"""Commands that explain a plan: audit (incentive conflicts) and explain (for reps)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
