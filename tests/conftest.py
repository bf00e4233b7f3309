"""Shared fixtures: the conformance cases (copied from the spec), tiny case builders, and
the command-line helpers every CLI test uses."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from compplan.cli.main import main

DATA = Path(__file__).parent / "data"
CONFORMANCE = DATA / "conformance"


@pytest.fixture(autouse=True)
def _collector_as_python_sets_it() -> Iterator[None]:
    """The garbage collector's threshold back after a command run in this process.

    A command raises it for its own short process (cli/runtime.py); run in pytest's
    process it would stay raised, and garbage of one test (a file some library left
    in a reference cycle) would be collected, with its ResourceWarning, in another.
    """
    threshold = gc.get_threshold()
    yield
    if gc.get_threshold() != threshold:
        gc.set_threshold(*threshold)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def write_case(folder: Path, tables: dict[str, dict[str, Any]], reps: list[dict[str, Any]],
               attainment: dict[str, np.ndarray | list[list[float]]]) -> Path:
    """Write a case folder.

    ``tables`` maps a TOML table header (``goals``, ``metrics.revenue``, ...) to its keys;
    ``reps`` is one dict per rep (``rep_id``, ``target_incentive``, grouping columns);
    ``attainment`` maps a metric id to an array (reps x periods).
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for header, keys in tables.items():
        lines.append(f"[{header}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in keys.items()]
        lines.append("")
    (folder / "case.toml").write_text("\n".join(lines))
    columns = list(reps[0])
    rows = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in reps]
    (folder / "reps.csv").write_text("\n".join(rows) + "\n")
    metrics = list(attainment)
    arrays = {m: np.asarray(v, dtype=float) for m, v in attainment.items()}
    n_periods = arrays[metrics[0]].shape[1]
    out = ["rep_id,period," + ",".join(metrics)]
    for i, rep in enumerate(reps):
        for t in range(n_periods):
            values = ",".join(repr(float(arrays[m][i, t])) for m in metrics)
            out.append(f"{rep['rep_id']},P{t + 1:02d},{values}")
    (folder / "attainment.csv").write_text("\n".join(out) + "\n")
    return folder


@pytest.fixture
def make_case(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing a case folder under the test's temporary directory."""
    counter = iter(range(1000))

    def factory(tables: dict[str, dict[str, Any]], reps: list[dict[str, Any]],
                attainment: dict[str, Any]) -> Path:
        return write_case(tmp_path / f"case{next(counter)}", tables, reps, attainment)

    return factory


def invoke(*args: str) -> Result:
    """Run ``compplan ARGS...`` in process; stdout and stderr apart."""
    return CliRunner().invoke(main, list(args))


def assert_exit(result: Result, code: int) -> None:
    """The exit code, and no exception escaped (CliRunner hides tracebacks otherwise)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def assert_error(result: Result, code: int, message: str) -> None:
    """The exit code, no traceback, and stderr ending in click's ``Error: MESSAGE``."""
    assert_exit(result, code)
    assert result.stderr.endswith(f"Error: {message}\n"), result.stderr
