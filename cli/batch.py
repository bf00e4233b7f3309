"""Batch runs: ``compplan batch SPEC`` and ``compplan sweep CASE --budget FROM:TO:COUNT``."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from compplan.api import (
    FEASIBLE,
    MAX_CANDIDATES,
    Case,
    annual_note,
    fmt,
    prepare_folder,
    read_batch_spec,
    shorten,
)
from compplan.cli.common import (
    POSITIVE,
    ExitError,
    Reporter,
    cannot_write,
    cannot_write_set,
    check_scheduler,
    err_console,
    fail,
    import_in_background,
    load,
    load_source,
    out_console,
)
from compplan.cli.runtime import tune_runtime
from compplan.errors import CompplanError

if TYPE_CHECKING:
    import pandas as pd

    from compplan.api import BatchReport

_BATCH_MODULE = "compplan.batch.store"
#: Exit code after Ctrl-C, as a shell reports a process stopped by SIGINT (128 + 2).
INTERRUPTED = 130


def _run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``batch`` and ``sweep`` share."""
    options = [
        click.option("--workers", type=click.IntRange(min=1),
                     help="Local worker processes (default: one per core; 1 solves in the "
                          "main process)."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="Solve on a Dask cluster: its scheduler's address, "
                          "e.g. tcp://10.0.0.5:8786."),
        click.option("--resume", is_flag=True,
                     help="Continue the batch in --out: finished candidates are kept."),
        click.option("--time-limit", type=POSITIVE,
                     help="Seconds of solver time per candidate."),
        click.option("--no-prices", is_flag=True,
                     help="Skip the guardrail prices (one LP per candidate with a plan)."),
        click.option("--force", is_flag=True,
                     help="Start a batch in a folder holding other files (they are kept)."),
        click.option("-q", "--quiet", is_flag=True,
                     help="No progress bar or frontier table on the terminal."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("batch")
@click.argument("spec_file", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", default="out/batch", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for batch.json, candidates/, results and the frontier chart.")
@_run_options
def batch_command(spec_file: str, out_dir: str, workers: int | None, scheduler: str | None,
                  resume: bool, time_limit: float | None, no_prices: bool, force: bool,
                  quiet: bool) -> None:
    """Solve every candidate of a batch spec and chart the alignment-cost frontier.

    SPEC is a TOML file: case = "path/to/case" (relative to SPEC), then a [grid]
    of values per case.toml key (every combination is a candidate) and/or
    [[candidates]] tables with a name and the keys they change, such as
    "budget.expected_cap" = 2e7 or "metrics.smb_bookings.forbidden" = true.
    When case names an organisation folder (holding org.toml), the keys are
    org.toml's: budget.expected_cap, budget.cvar_cap, budget.cvar_level,
    coherence.no_opposing and coherence.cover_goals; results.csv and batch.json
    hold each candidate's plans (solved one after the other).
    Results go to --out: candidates/<id>/result.json and plan.json, results.csv
    and .parquet, frontier.csv, frontier.png and .svg, summary.md.

    Example:

    \b
        compplan batch runs/fy27-grid.toml --out runs/fy27 --workers 2
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    if scheduler is not None:
        check_scheduler(scheduler)
    # Before numpy loads (cli/runtime.py): a batch solves hundreds of Pyomo models.
    tune_runtime()
    solver_import = import_in_background(_BATCH_MODULE)
    try:
        spec = read_batch_spec(spec_file)
    except CompplanError as exc:
        fail(exc)
    if not spec.case_path.is_dir():
        raise ExitError(f"{spec.source}, case: {spec.case_path} is not a case folder "
                        "(the path is relative to the spec file)", 2)
    again = ["compplan", "batch", spec_file, "--out", out_dir, "--resume"]
    from compplan import api

    source = load_source(str(spec.case_path))
    if api.is_organisation(source):
        # One joint solve per candidate, in this process; the API writes the folder.
        _org_run(lambda progress: api.batch(spec, out_dir, workers=workers or 1,
                                            scheduler=scheduler, resume=resume,
                                            time_limit=time_limit, force=force,
                                            progress=progress), out_dir, quiet, again)
        return
    _run(lambda **kw: api.batch(spec, Path(out_dir), case=source, **kw), source,
         Path(out_dir), solver_import, again, workers=workers, scheduler=scheduler,
         resume=resume, time_limit=time_limit, prices=not no_prices, force=force, quiet=quiet)


@click.command("sweep")
@click.argument("case", required=False, type=click.Path(file_okay=False))
@click.option("--budget", required=True, metavar="FROM:TO:COUNT",
              help="COUNT expected-cost caps from FROM to TO times the case's [budget] "
                   "expected_cap (times the total target incentive if it has none).")
@click.option("--out", "out_dir", default="out/sweep", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for batch.json, candidates/, results and the frontier chart.")
@_run_options
def sweep_command(case: str | None, budget: str, out_dir: str, workers: int | None,
                  scheduler: str | None, resume: bool, time_limit: float | None,
                  no_prices: bool, force: bool, quiet: bool) -> None:
    """Sweep the expected-cost cap of CASE: a batch with one candidate per cap.

    CASE is a case folder (the bundled default case without it). The caps are
    evenly spaced factors of the case's [budget] expected_cap, or of the total
    target incentive when it sets none. Output as for compplan batch.

    For a folder holding org.toml: the organisation's expected-cost cap (org.toml
    [budget] expected_cap, else the total target incentive of all roles) is swept,
    one joint solve per cap, into sweep.json, results.csv (each role's expected
    payout, and where each next dollar goes), frontier.png/.svg and
    budget_split.png/.svg (how the budget splits across roles as the cap grows).

    Example:

    \b
        compplan sweep cases/enterprise_first --budget 0.8:1.1:25 --out runs/budget
        compplan sweep cases/gtm_org --budget 0.95:1.15:5 --out runs/gtm_budget
    """  # noqa: D301 (\b keeps click from rewrapping the example)
    start, stop, count = _parse_range(budget)
    # Before numpy loads (cli/runtime.py): a sweep solves hundreds of Pyomo models; the
    # collector's runs alone were 0.4 s of a 200-candidate sweep of the default case.
    tune_runtime()
    again = ["compplan", "sweep", *([case] if case else []), "--budget", budget,
             "--out", out_dir, "--resume"]
    from compplan import api

    if api.is_organisation(case):
        source = load_source(case)
        # One joint solve per cap, in this process; the API writes the folder.
        _org_run(lambda progress: api.sweep(source, start, stop, count, out_dir,
                                            workers=workers, scheduler=scheduler,
                                            resume=resume, time_limit=time_limit,
                                            force=force, progress=progress),
                 out_dir, quiet, again)
        return
    if scheduler is not None:
        check_scheduler(scheduler)
    solver_import = import_in_background(_BATCH_MODULE)
    loaded = load(case)
    _run(lambda **kw: api.sweep(loaded, start, stop, count, Path(out_dir), **kw), loaded,
         Path(out_dir), solver_import, again, workers=workers, scheduler=scheduler,
         resume=resume, time_limit=time_limit, prices=not no_prices, force=force, quiet=quiet)


def _org_run(solve: Callable[[Callable[[str], None]], Any], out_dir: str, quiet: bool,
             again: list[str]) -> None:
    """An organisation's sweep or batch: solved and written by the API, shown here."""
    from compplan.cli.org_views import show_org_run

    try:
        with Reporter(quiet) as reporter:
            run = solve(reporter.step)
    except CompplanError as exc:
        fail(exc)
    except OSError as exc:
        cannot_write_set(out_dir, exc)
    what = "caps" if run.kind == "sweep" else "candidates"
    if run.left:
        total = len(run.rows)
        raise ExitError(f"interrupted: {total - run.left} of {total} {what} finished and "
                        f"kept in {Path(out_dir)}; continue with: {shlex.join(again)}", 130)
    if not quiet:
        show_org_run(run)
        out_console.print(f"wrote {', '.join(str(p) for p in run.written)}")


def _parse_range(text: str) -> tuple[float, float, int]:
    """``FROM:TO:COUNT`` with factors > 0 and a whole COUNT >= 1."""
    usage = (f"'{text}' is not FROM:TO:COUNT (factors of the expected-cost cap and how many "
             "caps, e.g. 0.8:1.1:25)")
    parts = text.split(":")
    if len(parts) != 3:
        raise click.BadParameter(usage, param_hint="'--budget'")
    try:
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise click.BadParameter(usage, param_hint="'--budget'") from None
    if not (np.isfinite(start) and np.isfinite(stop)) or start <= 0 or stop <= 0 or count < 1:
        raise click.BadParameter(f"'{text}': FROM and TO must be > 0 and COUNT at least 1",
                                 param_hint="'--budget'")
    if count > MAX_CANDIDATES:  # before building a million candidates to say so
        raise click.BadParameter(f"'{text}': COUNT is at most {MAX_CANDIDATES:,} (a batch "
                                 f"holds at most {MAX_CANDIDATES:,} candidates)",
                                 param_hint="'--budget'")
    return start, stop, count


class _Bar:
    """A progress bar on stderr with counts and ETA, on a terminal and without -q."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.live = not quiet and err_console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self.failed = 0
        self.total: int | None = None
        self.done = 0

    def start(self, total: int, done: int, where: str) -> None:
        self.total, self.done = total, done
        if self.quiet:
            return
        err_console.print(f"solving {total - done} of {total} candidates {where}", style="dim")
        if not self.live:
            return
        self._progress = Progress(TextColumn("candidates"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[failed]} without a plan"),
                                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                  console=err_console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task("candidates", total=total, completed=done,
                                             failed=0)

    def advance(self, record: dict[str, Any]) -> None:
        self.done += 1
        if record["status"] not in FEASIBLE:
            self.failed += 1
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, failed=self.failed)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _run(solve: Callable[..., Any], case: Case, out: Path, solver_import: Any,
         again: list[str], *,
         workers: int | None, scheduler: str | None, resume: bool,
         time_limit: float | None, prices: bool, force: bool, quiet: bool) -> None:
    """Open (or resume) the batch, solve what is left, write and show the results."""
    solver_import.join()
    from compplan.api import MANIFEST, default_workers

    _check_batch_folder(out, case, fresh=not resume and not (out / MANIFEST).exists(),
                        force=force)
    try:
        prepare_folder(out)
    except OSError as exc:
        cannot_write(out, exc)
    count = workers or default_workers()
    where = (f"on the Dask cluster at {scheduler}" if scheduler else
             "in this process" if count == 1 else f"on {count} processes")
    bar = _Bar(quiet)
    try:
        report = solve(workers=count, scheduler=scheduler,
                       resume=resume, time_limit=time_limit, prices=prices,
                       on_start=lambda total, done: bar.start(total, done, where),
                       on_result=bar.advance)
    except KeyboardInterrupt:
        bar.stop()
        _stopped(bar, out, again, "interrupted", INTERRUPTED)
    except BrokenProcessPool as exc:
        bar.stop()
        _stopped(bar, out, again, f"a worker process died ({exc})", 1)
    except CompplanError as exc:
        bar.stop()
        fail(exc)
    except OSError as exc:
        bar.stop()
        cannot_write(out, exc)
    except Exception as exc:
        # distributed's, without importing it: a worker died, or every worker was lost
        # (the scheduler cancels the tasks, or the connection to it closes).
        if type(exc).__name__ not in _DASK_LOST:
            raise
        bar.stop()
        _stopped(bar, out, again, f"the Dask cluster lost its workers ({type(exc).__name__}: "
                                  f"{exc})", 1)
    finally:
        bar.stop()
    if not quiet:
        _show(case, out, report)


_DASK_LOST = {"KilledWorker", "FutureCancelledError", "CancelledError", "CommClosedError",
              "FutureCancelled"}


def _check_batch_folder(out: Path, case: Case, *, fresh: bool, force: bool) -> None:
    """A batch folder is resumable, so written in place: never the case, nor others' files."""
    if str(out) in ("", "."):
        raise ExitError("give the batch a folder of its own with --out", 2)
    real, source = out.resolve(), case.path.resolve()
    if real == source or real in source.parents or source in real.parents:
        raise ExitError(f"{out} is or holds the case folder {case.path}: give the batch a "
                        "folder of its own", 2)
    if fresh and not force and out.is_dir():
        other = sorted(p.name for p in out.iterdir())
        if other:
            listed = ", ".join(shorten(n, 40) for n in other[:5])
            more = f" and {len(other) - 5} more" if len(other) > 5 else ""
            raise ExitError(f"{out} holds other files ({listed}{more}); give an empty or new "
                            "folder for the batch, or --force to keep them beside it", 2)


def _stopped(bar: _Bar, out: Path, again: list[str], why: str, code: int) -> NoReturn:
    if bar.total is None:  # stopped while the batch was being opened
        raise ExitError(f"{why} before any candidate was solved", code)
    raise ExitError(f"{why}: {bar.done} of {bar.total} candidates finished and kept in "
                    f"{out}; continue with: {shlex.join(again)}", code)


def _weights(metrics: str) -> str:
    """``enterprise_bookings 46.5%`` per line, from the results' ``id:weight/rate; ...``."""
    lines = []
    for item in metrics.split("; "):
        metric, _, figures = item.rpartition(":")
        lines.append(f"{metric} {float(figures.split('/')[0]):.1%}")
    return "\n".join(lines)


def _frontier_table(case: Case, frontier: pd.DataFrame, narrow: bool) -> Table:
    """The cost frontier as a table.

    On a narrow terminal (80 columns) money is short and the name goes under the id, so
    that no column is cut.
    """
    cur = case.spec.case.currency
    table = Table(title=f"{case.name}: alignment-cost frontier "
                        f"({cur}{annual_note(case)})",
                  title_justify="left")
    # "+7": seven more candidates with the same plan (listed in summary.md).
    columns = ("id / name", "alignment", "cost", "CVaR", "weights") if narrow else (
        "id", "alignment", "expected cost", "CVaR", "weights", "name")
    for col in columns:
        table.add_column(col, justify="right" if col in ("alignment", "expected cost", "cost",
                                                         "CVaR") else "left",
                         no_wrap=col not in ("name", "id / name"), overflow="fold")
    money = (fmt.distinct_money if narrow else
             lambda values: [fmt.money(v) for v in values])
    costs = money(list(frontier["expected_cost"]))
    cvars = money(list(frontier["cvar"]))
    for (_, row), cost, cvar in zip(frontier.iterrows(), costs, cvars, strict=True):
        more = len(row["same_plan"])
        ident = row["id"] + (f" +{more}" if more else "")
        name = row["name"].replace(", ", ",\n")
        cells = [f"{ident}\n{name}" if narrow else ident, fmt.alignment(row["alignment"]),
                 cost, cvar, _weights(row["metrics"])]
        table.add_row(*cells, *([] if narrow else [name]))
    return table


def _show(case: Case, out: Path, report: BatchReport) -> None:
    """The cost frontier as a table, the counts and the files written."""
    cur = case.spec.case.currency
    results = report.table
    if results.empty:
        out_console.print("no candidate finished")
        return
    frontier = report.frontier("cost")
    out_console.print(_frontier_table(case, frontier, narrow=out_console.width < 100))
    counts = dict(results["status"].value_counts())
    on_cvar = report.frontier("cvar")
    out_console.print(
        f"{len(results)} candidates: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f"; {int(results['frontier_cost'].sum())} on the cost frontier ({len(frontier)} "
        f"distinct plans), {int(results['frontier_cvar'].sum())} on the CVaR frontier "
        f"({len(on_cvar)} distinct plans); +N: N more candidates with the same plan")
    if report.current is not None:
        broken = fmt.breaks(report.current.get("broken") or [])
        out_console.print(f"current plan under the base case: alignment "
                          f"{report.current['alignment']:.4f}, expected cost "
                          f"{fmt.money(report.current['expected_cost'], cur)}, CVaR "
                          f"{fmt.money(report.current['cvar'], cur)}"
                          + (f"; it {broken} (so it can sit above the frontier)"
                             if broken else ""))
    out_console.print(f"wrote {out}/: batch.json, candidates/, "
                      + ", ".join(p.name for p in report.written))


COMMANDS: list[click.Command] = [batch_command, sweep_command]
