"""What every command shares: consoles, exit codes, loading a case, progress on stderr."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from rich.console import Console

from compplan.errors import CompplanError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from compplan.models.case import Case
    from compplan.models.plan import Plan

# Markup off: case text such as "[metrics.revenue]" must print as written.
# Piped output gets a fixed width so tables do not wrap at 80 columns.
_WIDTH = None if sys.stdout.isatty() else 110
err_console = Console(stderr=True, highlight=False, markup=False, soft_wrap=True, width=_WIDTH)
out_console = Console(highlight=False, markup=False, soft_wrap=True, width=_WIDTH)


class ExitError(click.ClickException):
    """A domain error at the command-line boundary, with the exit code it maps to."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click types it as a ClassVar


def fail(exc: CompplanError) -> NoReturn:
    """Turn a domain error into its exit code and message."""
    raise ExitError(str(exc), exc.exit_code) from None


def cannot_write(out: Path, exc: OSError, note: str = "") -> NoReturn:
    """Exit 2 for an output folder or file that cannot be written."""
    reason = exc.strerror or str(exc)
    raise ExitError(f"cannot write to {out}: {reason}{note}", 2) from None


def load(case_dir: str | None, budget: float | None = None,
         max_metrics: int | None = None) -> Case:
    """Load a case folder (the bundled default without one), with command-line overrides."""
    from compplan.api import load_case

    try:
        case = load_case(case_dir, budget=budget, max_metrics=max_metrics)
    except CompplanError as exc:
        fail(exc)
    for warning in case.spec.warnings():
        err_console.print(f"warning: {warning}")
    return case


def plan_name(ref: str, taken: set[str]) -> str:
    """``current``, or the file's stem (with its folder when two plans share a stem)."""
    path = Path(ref)
    from compplan.models.case import CURRENT_PLAN

    name = CURRENT_PLAN if ref == CURRENT_PLAN else path.stem
    if name in taken and ref != CURRENT_PLAN:
        name = f"{path.parent.name}/{path.stem}"
    base, n = name, 2
    while name in taken:
        name, n = f"{base} #{n}", n + 1
    return name


def load_plans(case: Case, refs: Sequence[str]) -> list[tuple[str, Plan]]:
    """Load plans to look at (``current``, plan.json, TOML), each with a distinct name."""
    from compplan.models.plan import load_plan

    named: list[tuple[str, Plan]] = []
    for ref in refs:
        try:
            plan = load_plan(case, ref)
        except CompplanError as exc:
            fail(exc)
        named.append((plan_name(ref, {n for n, _ in named}), plan))
    return named


def import_in_background(module: str) -> threading.Thread:
    """Start importing a heavy module (Pyomo) while the case is read; join before use."""
    thread = threading.Thread(target=import_module, args=(module,), daemon=True)
    thread.start()
    return thread


class Reporter:
    """Progress on stderr: a line per step, and a bar for passes over the reps.

    Quiet reporters print nothing; on a terminal the bar redraws in place, elsewhere
    only the step lines are printed so that logs stay readable.
    """

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.live = not quiet and err_console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Reporter:
        if self.live:
            # rich.progress costs 40 ms to import: only a live bar needs it.
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      TextColumn("{task.completed}/{task.total}"),
                                      TimeElapsedColumn(), console=err_console, transient=True)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def step(self, text: str) -> None:
        """Report one step."""
        if not self.quiet:
            err_console.print(text, style="dim")

    def chunks(self, phase: str, done: int, total: int) -> None:
        """Report progress of a pass over chunks of reps."""
        if self._progress is None:
            return
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=total)
        self._progress.update(self._tasks[phase], completed=done)
