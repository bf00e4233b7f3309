"""Plausibility warnings: allowed data that is probably wrong, named by column and figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import write_case

from compplan.cli.main import main
from compplan.models.case import load_case
from compplan.models.plausibility import plausibility_warnings

TABLES: dict[str, dict[str, Any]] = {
    "case": {"name": "Plausible"}, "goals": {"g": 1.0},
    "metrics.a": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 1.0}},
    "metrics.b": {"threshold": 0.5, "cap": 2.0, "alignment": {"g": 0.5}}}


def reps(*targets: float) -> list[dict[str, Any]]:
    return [{"rep_id": f"R{i}", "segment": "North", "target_incentive": t}
            for i, t in enumerate(targets, 1)]


def test_sound_data_has_no_warning(tmp_path: Path) -> None:
    folder = write_case(tmp_path, TABLES, reps(1000, 1200, 900),
                        {"a": [[1.0, 1.2], [0.8, 0.9], [1.1, 1.3]],
                         "b": [[0.9, 1.0], [1.0, 1.1], [1.2, 0.7]]})
    assert plausibility_warnings(load_case(folder)) == []


def test_percent_no_spread_and_a_target_in_the_wrong_unit(tmp_path: Path) -> None:
    # a in percent: its eight values' median is (100 + 100.6) / 2 = 100.3.
    # b is 1.0 everywhere. R4's 1,000,000 is over 100x the segment median (1,100).
    folder = write_case(tmp_path, TABLES, reps(1000, 1200, 900, 1_000_000),
                        {"a": [[101.6, 95.0], [110.2, 99.0], [87.5, 104.0], [100.0, 100.6]],
                         "b": [[1.0, 1.0]] * 4})
    assert plausibility_warnings(load_case(folder)) == [
        "attainment.csv, column 'a': median attainment 100.3 looks like percent; attainment "
        "is a ratio of quota (1.0 = 100 %): divide the column by 100",
        "attainment.csv, column 'b': every rep and period holds 1, so the metric has no "
        "spread: its step (the spread, as [metrics.b] step is not set) is 0 and paying for "
        "it buys no alignment; check the column or set a step",
        "reps.csv, column 'target_incentive': 'R4' 1,000,000 is over 100x off the median "
        "of segment 'North' (segment), 1,100 USD; is it in another unit (cents, thousands, "
        "per period instead of per year)?"]


def test_validate_and_optimise_print_warnings_not_errors(tmp_path: Path) -> None:
    folder = write_case(tmp_path, TABLES, reps(1000, 1200, 5),
                        {"a": [[1.0, 1.2], [0.8, 0.9], [1.1, 1.3]],
                         "b": [[0.9, 1.0], [1.0, 1.1], [1.2, 0.7]]})
    warning = ("warning: reps.csv, column 'target_incentive': 'R3' 5 is over 100x off the "
               "median of segment 'North' (segment), 1,000 USD; is it in another unit "
               "(cents, thousands, per period instead of per year)?\n")
    runner = CliRunner()
    checked = runner.invoke(main, ["validate", str(folder)])
    assert checked.exit_code == 0 and checked.stderr == warning
    solved = runner.invoke(main, ["optimise", str(folder), "--out", str(tmp_path / "out"),
                                  "-q"])
    assert solved.exit_code == 0, solved.output
    assert solved.stderr.startswith(warning)
