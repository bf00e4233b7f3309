"""CSV fast path and Parquet input give the same case as the careful CSV reader."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compplan.errors import CaseError
from compplan.models import case as case_module
from compplan.models.case import load_case

CASE = Path(__file__).parent / "data" / "conformance" / "c2_fairness"


def careful(folder: Path, monkeypatch: pytest.MonkeyPatch) -> case_module.Case:
    with monkeypatch.context() as patch:
        patch.setattr(case_module, "read_attainment_fast", lambda *args, **kwargs: None)
        return load_case(folder)


def test_fast_path_matches_careful_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = load_case(CASE)
    slow = careful(CASE, monkeypatch)
    assert np.array_equal(fast.attainment, slow.attainment)
    assert fast.periods == slow.periods


def test_shuffled_rows_and_columns_read_the_same(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    shutil.copytree(CASE, folder)
    frame = pd.read_csv(folder / "attainment.csv", dtype=str)
    shuffled = frame.sample(frac=1.0, random_state=1)[list(reversed(frame.columns))]
    shuffled.to_csv(folder / "attainment.csv", index=False, lineterminator="\r\n")
    assert np.array_equal(load_case(folder).attainment, load_case(CASE).attainment)


@pytest.mark.parametrize(("line", "value", "message"), [
    (3, "abc", "attainment.csv, line 3, revenue: must be a finite number >= 0 (attainment "
               "as a ratio of quota, 1.0 = 100 %), got 'abc'"),
    (4, "", "attainment.csv, line 4, revenue: must be a finite number >= 0 (attainment "
            "as a ratio of quota, 1.0 = 100 %), got an empty cell"),
])
def test_fast_path_defers_to_careful_messages(tmp_path: Path, line: int, value: str,
                                              message: str) -> None:
    folder = tmp_path / "case"
    shutil.copytree(CASE, folder)
    lines = (folder / "attainment.csv").read_text().splitlines()
    cells = lines[line - 1].split(",")
    cells[2] = value
    lines[line - 1] = ",".join(cells)
    (folder / "attainment.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == message


def parquet_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "pq"
    shutil.copytree(CASE, folder)
    for stem in ("reps", "attainment"):
        frame = pd.read_csv(folder / f"{stem}.csv", dtype={"rep_id": str, "period": str})
        frame.to_parquet(folder / f"{stem}.parquet")
        (folder / f"{stem}.csv").unlink()
    return folder


def test_parquet_case_equals_csv_case(tmp_path: Path) -> None:
    from_parquet = load_case(parquet_copy(tmp_path))
    from_csv = load_case(CASE)
    assert np.array_equal(from_parquet.attainment, from_csv.attainment)
    assert from_parquet.reps.equals(from_csv.reps)


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    folder = parquet_copy(tmp_path)
    frame = pd.read_parquet(folder / "attainment.parquet")
    frame.loc[3, "margin"] = -2.0
    frame.to_parquet(folder / "attainment.parquet")
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == ("attainment.parquet, row 4, margin: must be a finite number "
                               ">= 0 (attainment as a ratio of quota, 1.0 = 100 %), got -2.0")


def test_csv_and_parquet_together_is_an_error(tmp_path: Path) -> None:
    folder = parquet_copy(tmp_path)
    shutil.copy(CASE / "reps.csv", folder / "reps.csv")
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == ("reps.csv: is in the case folder together with reps.parquet; "
                               "keep one")
