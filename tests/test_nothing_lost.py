"""A file in an output folder is compplan's only if compplan wrote it (issue 24).

Once, a file was taken for an output because of its name or its folder:
``OUT/reps/alice.html`` (the folder of ``explain --per-rep``), ``OUT/draft/plan.md`` and
``OUT/draft/report.html`` were deleted by ``optimise --out OUT`` without ``--force``.
Now each committed set records its files in ``OUT/.compplan-outputs.json``; anything
else is someone else's. And an organisation's commands re-run into their own folder
(once refused: "holds files compplan did not write (org_pulse.json, org_pulse.md)").
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import CONFORMANCE, assert_error, invoke

from compplan.models.transaction import MANIFEST, OutputError, foreign_entries, output_folder

C1 = CONFORMANCE / "c1_budget_only"
GTM = Path(__file__).parent.parent / "cases" / "gtm_org"


def refused(out: Path, listed: str) -> str:
    return (f"{out} holds files compplan did not write ({listed}); give an empty or new "
            "folder, or --force to keep them beside the new files")


@pytest.mark.parametrize("mine", ["reps/alice.html", "draft/plan.md", "draft/report.html",
                                  "plan.json", "reps/index.html"])
def test_a_users_file_named_like_an_output_is_never_deleted(tmp_path: Path, mine: str) -> None:
    out = tmp_path / "OUT"
    (out / mine).parent.mkdir(parents=True, exist_ok=True)
    (out / mine).write_text("x")
    result = invoke("optimise", str(C1), "--out", str(out), "-q")
    assert_error(result, 2, refused(out, mine))
    assert (out / mine).read_text() == "x"
    result = invoke("optimise", str(C1), "--out", str(out), "-q", "--force")
    assert result.exit_code == 0, result.output
    assert (out / mine).read_text() == "x" or mine == "plan.json"  # plan.json: the new one
    assert (out / "plan.md").is_file()


def test_force_keeps_a_users_file_inside_a_folder_compplan_also_writes(tmp_path: Path) -> None:
    out = tmp_path / "OUT"
    with output_folder(out) as folder:
        (folder / "reps").mkdir()
        (folder / "reps" / "R1.html").write_text("ours")
    (out / "reps" / "alice.html").write_text("mine")
    assert foreign_entries(out) == ["reps/alice.html"]
    with output_folder(out, force=True) as folder:
        (folder / "reps").mkdir()
        (folder / "reps" / "R2.html").write_text("ours again")
    assert sorted(p.name for p in (out / "reps").iterdir()) == ["R2.html", "alice.html"]
    assert (out / "reps" / "alice.html").read_text() == "mine"
    assert foreign_entries(out) == ["reps/alice.html"]  # still the user's, not ours


def test_an_output_edited_since_is_the_users(tmp_path: Path) -> None:
    out = tmp_path / "OUT"
    assert invoke("optimise", str(C1), "--out", str(out), "-q").exit_code == 0
    assert foreign_entries(out) == []
    (out / "plan.md").write_text("my notes on the plan")
    assert_error(invoke("optimise", str(C1), "--out", str(out), "-q"), 2,
                 refused(out, "plan.md"))
    assert (out / "plan.md").read_text() == "my notes on the plan"


def test_an_empty_folder_of_the_users_is_listed(tmp_path: Path) -> None:
    out = tmp_path / "OUT"
    assert invoke("optimise", str(C1), "--out", str(out), "-q").exit_code == 0
    (out / "draft").mkdir()
    assert foreign_entries(out) == ["draft/"]


def test_the_manifest_lists_what_the_run_wrote(tmp_path: Path) -> None:
    out = tmp_path / "OUT"
    assert invoke("optimise", str(C1), "--out", str(out), "-q").exit_code == 0
    doc = json.loads((out / MANIFEST).read_text())
    assert doc["schema"] == "compplan.outputs/1"
    assert sorted(doc["files"]) == ["plan.csv", "plan.json", "plan.md", "run.json"]
    info = os.stat(out / "plan.json")
    assert doc["files"]["plan.json"] == [info.st_size, info.st_mtime_ns]


def test_explain_per_rep_reruns_into_its_own_folder(tmp_path: Path) -> None:
    plan = tmp_path / "plan"
    assert invoke("optimise", str(C1), "--out", str(plan), "-q").exit_code == 0
    out = tmp_path / "doc"
    for _ in range(2):
        result = invoke("explain", str(plan / "plan.json"), "--case", str(C1), "--per-rep",
                        "--out", str(out), "-q")
        assert result.exit_code == 0, result.output
    assert (out / "reps" / "R00000.html").is_file()


# ----------------------------------------------------- an organisation, into its own folder

@pytest.fixture
def org(tmp_path: Path) -> Path:
    folder = tmp_path / "gtm"
    shutil.copytree(GTM, folder)
    return folder


@pytest.mark.parametrize(("command", "code"), [
    (("optimise", "{org}"), 0),
    (("pulse", "{org}", "current", "--actuals", "{org}/actuals"), 3),
    (("evaluate", "{org}", "current"), 0),
    (("audit", "{org}"), 0),
    (("min-budget", "{org}"), 0),
])
def test_an_organisation_reruns_into_its_own_folder(tmp_path: Path, org: Path,
                                                    command: tuple[str, ...], code: int) -> None:
    out = tmp_path / "out"
    args = [a.format(org=org) for a in command] + ["--out", str(out), "-q"]
    first = invoke(*args)
    assert first.exit_code == code, first.output
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    again = invoke(*args)
    assert again.exit_code == code, again.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before


def test_an_organisation_batch_reruns_into_its_own_folder(tmp_path: Path, org: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('case = "gtm"\n[grid]\n"budget.expected_cap" = [7000000.0, 8000000.0]\n')
    out = tmp_path / "batch"
    for _ in range(2):
        result = invoke("batch", str(spec), "--out", str(out), "-q")
        assert result.exit_code == 0, result.output
    rows = json.loads((out / "batch.json").read_text())["candidates"]
    assert [r["status"] for r in rows] == ["optimal", "optimal"]


def test_an_organisation_batch_resumes(tmp_path: Path, org: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # --resume was refused for organisations; Ctrl-C lost every candidate solved.
    from compplan.optimizer import org_pipeline

    spec = tmp_path / "spec.toml"
    spec.write_text('case = "gtm"\n[grid]\n"budget.expected_cap" = [7000000.0, 8000000.0]\n')
    out = tmp_path / "batch"
    real = org_pipeline.optimise_org
    calls: list[float | None] = []

    def stop_at_the_second(cand: object, **options: object) -> object:
        calls.append(cand.spec.budget.expected_cap)  # type: ignore[attr-defined]
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(cand, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(org_pipeline, "optimise_org", stop_at_the_second)
    result = invoke("batch", str(spec), "--out", str(out), "-q")
    assert_error(result, 130, f"interrupted: 1 of 2 candidates finished and kept in {out}; "
                              f"continue with: compplan batch {spec} --out {out} --resume")
    rows = json.loads((out / "batch.json").read_text())["candidates"]
    assert [r["status"] for r in rows] == ["optimal", "not solved"]
    calls.clear()
    result = invoke("batch", str(spec), "--out", str(out), "-q", "--resume")
    assert result.exit_code == 0, result.output
    assert calls == [8000000.0]  # the first candidate was kept, not solved again
    rows = json.loads((out / "batch.json").read_text())["candidates"]
    assert [r["status"] for r in rows] == ["optimal", "optimal"]
    monkeypatch.undo()
    fresh = tmp_path / "fresh"
    assert invoke("batch", str(spec), "--out", str(fresh), "-q").exit_code == 0
    assert (fresh / "results.csv").read_text() == (out / "results.csv").read_text()


def test_resume_refuses_a_batch_of_another_spec(tmp_path: Path, org: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('case = "gtm"\n[grid]\n"budget.expected_cap" = [7000000.0]\n')
    other = tmp_path / "other.toml"
    other.write_text('case = "gtm"\n[grid]\n"budget.expected_cap" = [8000000.0]\n')
    out = tmp_path / "batch"
    assert invoke("batch", str(spec), "--out", str(out), "-q").exit_code == 0
    result = invoke("batch", str(other), "--out", str(out), "-q", "--resume")
    assert_error(result, 2, f"{out} holds a batch of another spec or organisation "
                            "('spec.toml'); --resume continues the batch of the same spec: "
                            "give its folder, or run without --resume")


def test_another_runs_set_inside_the_folder_is_kept(tmp_path: Path) -> None:
    # --out evaluation/gtm, then --out evaluation (the default): the inner set is another
    # run's, neither this folder's to delete nor someone else's to refuse.
    inner = tmp_path / "evaluation" / "gtm"
    assert invoke("optimise", str(C1), "--out", str(inner), "-q").exit_code == 0
    before = (inner / "plan.json").read_bytes()
    for _ in range(2):
        result = invoke("optimise", str(C1), "--out", str(tmp_path / "evaluation"), "-q")
        assert result.exit_code == 0, result.output
    assert (inner / "plan.json").read_bytes() == before
    assert foreign_entries(tmp_path / "evaluation") == []


def test_a_clash_with_another_runs_set_is_refused_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_folder(out) as folder:
        (folder / "top.txt").write_text("outer")
    with output_folder(out / "a") as folder:
        (folder / "x.txt").write_text("a's")
    with output_folder(out / "b") as folder:
        (folder / "x.txt").write_text("b's")
    with pytest.raises(OutputError) as err, output_folder(out) as folder:
        (folder / "b").mkdir()
        (folder / "b" / "y.txt").write_text("new")
    assert str(err.value) == (f"{out / 'b'} holds the files of another compplan run, and "
                              "this run writes a folder of that name: write the output to "
                              "another folder")
    assert (out / "a" / "x.txt").read_text() == "a's"
    assert (out / "b" / "x.txt").read_text() == "b's"
    assert (out / "top.txt").read_text() == "outer"


def test_an_organisation_sweep_resumes(tmp_path: Path, org: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from compplan.optimizer import org_pipeline

    out = tmp_path / "sweep"
    real = org_pipeline.optimise_org
    calls: list[float | None] = []

    def stop_at_the_second(cand: object, **options: object) -> object:
        calls.append(cand.spec.budget.expected_cap)  # type: ignore[attr-defined]
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(cand, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(org_pipeline, "optimise_org", stop_at_the_second)
    result = invoke("sweep", str(org), "--budget", "1.0:1.1:2", "--out", str(out), "-q")
    assert_error(result, 130, f"interrupted: 1 of 2 caps finished and kept in {out}; continue "
                              f"with: compplan sweep {org} --budget 1.0:1.1:2 --out {out} "
                              "--resume")
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [p["status"] for p in points] == ["optimal", "not solved"]
    calls.clear()
    result = invoke("sweep", str(org), "--budget", "1.0:1.1:2", "--out", str(out), "-q",
                    "--resume")
    assert result.exit_code == 0, result.output
    assert len(calls) == 1  # the first cap was kept
    monkeypatch.undo()
    fresh = tmp_path / "fresh"
    assert invoke("sweep", str(org), "--budget", "1.0:1.1:2", "--out", str(fresh), "-q"
                  ).exit_code == 0
    assert (fresh / "results.csv").read_text() == (out / "results.csv").read_text()
