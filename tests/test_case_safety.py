"""A case stays inside its folder, and a case too large for memory is refused early."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compplan.errors import CaseError
from compplan.models import tables
from compplan.models.case import load_case

CASE = Path(__file__).parent / "data" / "conformance" / "c1_budget_only"


@pytest.fixture
def case_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    shutil.copytree(CASE, folder)
    return folder


@pytest.mark.parametrize("name", ["reps.csv", "attainment.csv", "case.toml"])
def test_a_link_out_of_the_folder_is_refused(case_copy: Path, tmp_path: Path,
                                              name: str) -> None:
    outside = tmp_path / f"elsewhere-{name}"
    shutil.move(case_copy / name, outside)
    (case_copy / name).symlink_to(outside)
    with pytest.raises(CaseError) as info:
        load_case(case_copy)
    assert str(info.value) == (f"{name}: is a link to {outside}, outside the case folder; "
                               "copy the file into the folder instead")


def test_a_link_inside_the_folder_is_fine(case_copy: Path) -> None:
    shutil.move(case_copy / "reps.csv", case_copy / "reps-2026.csv")
    (case_copy / "reps.csv").symlink_to(case_copy / "reps-2026.csv")
    assert len(load_case(case_copy).reps) == 40


def test_too_large_for_memory_is_refused_with_the_figures(case_copy: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    size = (case_copy / "attainment.csv").stat().st_size
    monkeypatch.setattr(tables, "available_memory", lambda: 2 * size)
    with pytest.raises(CaseError) as info:
        load_case(case_copy)
    message = str(info.value)
    assert message.startswith(f"attainment.csv: is {size / 2**20:,.0f} MiB: reading it needs "
                              "about 0.0 GiB of memory and 0.0 GiB is available")
    assert message.endswith("free memory, use a larger machine or split the case")


def test_memory_check_passes_when_memory_is_unknown(case_copy: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "available_memory", lambda: None)
    assert load_case(case_copy).attainment.shape == (40, 4, 6)
