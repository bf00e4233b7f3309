"""What every command shares: consoles, exit codes, loading a case, progress on stderr."""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console

from compplan.errors import CompplanError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from compplan.api import Case, Plan

# Markup off: case text such as "[metrics.revenue]" must print as written.
# Piped output gets a fixed width so tables do not wrap at 80 columns.
_WIDTH = None if sys.stdout.isatty() else 110


def escaped(text: str) -> str:
    r"""``text`` with every invisible character but the line break escaped (``\x1b``).

    An escape sequence in a path (``--out``), a rep id or a name would otherwise reach
    the terminal (and click strips it from messages, with the letters around it).
    """
    if all(c.isprintable() or c == "\n" for c in text):
        return text
    return "".join(c if c.isprintable() or c == "\n"
                   else c.encode("unicode_escape").decode("ascii") for c in text)


class _Console(Console):
    """A console whose plain-text lines never carry control characters to the terminal."""

    def print(self, *objects: Any, **options: Any) -> None:
        super().print(*(escaped(o) if isinstance(o, str) else o for o in objects), **options)


err_console = _Console(stderr=True, highlight=False, markup=False, soft_wrap=True, width=_WIDTH)
out_console = _Console(highlight=False, markup=False, soft_wrap=True, width=_WIDTH)


class ExitError(click.ClickException):
    """A domain error at the command-line boundary, with the exit code it maps to."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(escaped(message))
        self.exit_code = exit_code  # type: ignore[misc]  # click types it as a ClassVar


def fail(exc: CompplanError) -> NoReturn:
    """Turn a domain error into its exit code and message."""
    raise ExitError(str(exc), exc.exit_code) from None


def cannot_write(out: Path, exc: OSError, note: str = "") -> NoReturn:
    """Exit 2 for an output folder or file that cannot be written."""
    reason = exc.strerror or str(exc)
    raise ExitError(f"cannot write to {out}: {reason}{note}", 2) from None


class PositiveNumber(click.FloatRange):
    """A finite number > 0: ``nan`` and ``inf`` pass click's FloatRange, not this."""

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        """Refuse what is not a finite number, then check the range."""
        number = super().convert(value, param, ctx) if not isinstance(value, float) else value
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number > 0.", param, ctx)
        return super().convert(number, param, ctx)


POSITIVE = PositiveNumber()


def cannot_write_set(out: str | Path, exc: OSError, note: str = "") -> NoReturn:
    """Exit 2 for a set of output files that could not be written: nothing changed."""
    before = ("the files already there are as they were" if os.path.lexists(out)
              else "no file was written")
    cannot_write(Path(out), exc, f"; {before}{note}")


def force_option(command: Any) -> Any:
    """``--force``: write into an output folder holding files compplan did not write."""
    return click.option("--force", is_flag=True,
                        help="Write into an output folder that holds files compplan did "
                             "not write (they are kept).")(command)


@contextmanager
def output_set(out: str | Path, *, force: bool = False, inputs: Iterable[str | Path] = (),
               notes: list[str] | None = None) -> Iterator[Path]:
    """:func:`~compplan.models.transaction.output_folder` with exit 2 messages.

    Yields the staging folder: every file written into it replaces ``out`` at once
    when the block ends without an error; on an error the old files stay. Text
    appended to ``notes`` in the block is added to a write failure's message.
    """
    from compplan.api import OutputError, output_folder

    try:
        with output_folder(out, force=force, inputs=inputs) as folder:
            yield folder
    except OutputError as exc:
        fail(exc)
    except OSError as exc:
        cannot_write_set(out, exc, "".join(f"\n({n})" for n in notes or []))


def output_file(path: str, *, suffixes: tuple[str, ...] = (),
                inputs: Iterable[str | Path] = (), stdout: bool = False) -> Path | None:
    """Check a single output file (exit 2 with the reason); None means standard output."""
    from compplan.api import OutputError, check_output_file

    try:
        return check_output_file(path, suffixes=suffixes, inputs=inputs, stdout=stdout)
    except OutputError as exc:
        fail(exc)


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect Python warnings (numpy) and solver log warnings; summarise them at the end.

    Without this they leak to the terminal one by one, between progress lines, in
    the words of the library that raised them. Every plan is checked with numpy after
    the solve regardless, so they are a note, not an error.
    """
    seen: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(f"{record.name}: {record.getMessage()}")

    class _Say(logging.Handler):  # compplan's own warnings: printed as they come
        def emit(self, record: logging.LogRecord) -> None:
            err_console.print(record.getMessage())

    handler = _Collect(level=logging.WARNING)
    loggers = [logging.getLogger(name) for name in ("pyomo", "highspy", "compplan")]
    saved = [(log.propagate, list(log.handlers)) for log in loggers]
    for log in loggers[:-1]:
        log.handlers, log.propagate = [handler], False
    loggers[-1].handlers, loggers[-1].propagate = [_Say(level=logging.WARNING)], False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            yield seen
        finally:
            for log, (propagate, handlers) in zip(loggers, saved, strict=True):
                log.handlers, log.propagate = handlers, propagate
            seen[:0] = [f"{w.category.__name__}: {w.message}" for w in caught]
            if seen:
                first = " ".join(seen[0].split())[:160]
                more = f" and {len(seen) - 1} more" if len(seen) > 1 else ""
                err_console.print(f"note: {len(seen)} warning{'s' if len(seen) > 1 else ''} "
                                  f"from numpy or the solver, kept off the screen: {first}"
                                  f"{more}")


def load(case_dir: str | None, budget: float | None = None,
         max_metrics: int | None = None) -> Case:
    """Load a case folder (the bundled default without one), with command-line overrides."""
    from compplan.api import load_case

    try:
        case = load_case(case_dir, budget=budget, max_metrics=max_metrics)
    except CompplanError as exc:
        fail(exc)
    from compplan.api import plausibility_warnings

    for warning in [*case.spec.warnings(), *plausibility_warnings(case)]:
        err_console.print(f"warning: {warning}")
    return case


def load_source(path: str | None, budget: float | None = None,
                max_metrics: int | None = None) -> Any:
    """A case or an organisation folder, loaded through the API, its warnings printed.

    The one place the command line tells them apart: each command then hands what it
    got to one API function, which handles both. ``budget`` replaces the case's (or the
    organisation's) cap; ``max_metrics`` applies to a case only.
    """
    from compplan import api

    if not api.is_organisation(path):
        return load(path, budget, max_metrics)
    assert path is not None
    try:
        org = api.load_org(path, budget=budget)
    except CompplanError as exc:
        fail(exc)
    for warning in org.warnings:
        err_console.print(f"warning: {warning}")
    return org


def plan_name(ref: str, taken: set[str]) -> str:
    """``current``, or the file's stem (with its folder when two plans share a stem).

    A file called ``plan`` (``optimise`` always writes ``plan.json``) is named after its
    folder: ``plans/fy27/plan.json`` is ``fy27``, never "plan plan". The API's rule
    (one place for the names of plans in every view).
    """
    from compplan.api import _plan_name

    return _plan_name(ref, taken)


def load_plans(case: Case, refs: Sequence[str]) -> list[tuple[str, Plan]]:
    """Load plans to look at (``current``, plan.json, TOML), each with a distinct name."""
    from compplan.api import load_plan

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


def elasticities(text: str | None) -> list[float] | None:
    """``--elasticity E1,E2,...``: the elasticities (None without it), or exit 2 saying why."""
    if text is None:
        return None
    from compplan.api import parse_elasticities

    try:
        values: list[float] = parse_elasticities(text)
    except CompplanError as exc:
        fail(exc)
    return values


_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z0-9+]+)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^\s/:\[\]]+)"
                      r":(?P<port>\d{1,5})/?$")
#: Seconds to try a TCP connection to the scheduler before any work.
PROBE_SECONDS = 5.0


def check_scheduler(address: str) -> None:
    """Fail fast on a scheduler address that is malformed or does not answer (exit 2).

    Checked before the case is read and anything solved: ``tcp://HOST:PORT`` (or
    ``HOST:PORT``); other schemes (``tls://``, ``ucx://``, ``http://``) are refused with
    the reason. The Dask handshake itself has a deadline (``batch.executors``).
    """
    from compplan.api import scheduler_problem, shown

    problem = scheduler_problem(address)
    if problem is not None:
        raise ExitError(problem, 2)
    found = _ADDRESS.match(address)
    if found is None or not 0 < int(found["port"]) < 65536:
        raise ExitError(f"--scheduler {shown(address)} is not the address of a Dask scheduler "
                        "(tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786)", 2)
    if found["scheme"] not in (None, "tcp"):
        return
    host = found["host"].strip("[]")
    try:
        socket.create_connection((host, int(found["port"])), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ExitError(f"cannot reach the Dask scheduler at {address}: {reason}", 2) from None
