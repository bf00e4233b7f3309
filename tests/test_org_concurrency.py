"""Organisations read and reduced role by role side by side give the same plans (issue 23).

Roles are read in threads (``models.org.ROLE_READERS``) and their coefficients computed
in threads (``optimizer.org.ROLE_WORKERS``); the attainment columns are copied into
``x`` a block of rows at a time. None of it may change a bit of the coefficients
(compared exactly, side by side against one after the other). The plans of the bundled
organisation and of the conformance case are compared, number for number, with the ones
commit cab00a8 wrote before this work (``tests/data/org_plans_cab00a8.json``): text and
integers exactly, figures within 1e-12 relative, since the tie-break now starts from the
first solve's plan (HiGHS takes another path to the same optimum: the last bits move).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CONFORMANCE, DATA
from threadpoolctl import threadpool_info

from compplan.cli.main import main
from compplan.errors import CaseError
from compplan.models import case as case_module
from compplan.models import org as org_module
from compplan.models.case import load_case
from compplan.models.fastcsv import read_attainment_fast
from compplan.models.limits import MAX_ATTAINMENT
from compplan.models.org import load_org
from compplan.optimizer import org as org_optimizer
from compplan.optimizer.coefficients import single_blas_thread
from compplan.optimizer.org import org_coefficients

REPO = Path(__file__).resolve().parent.parent
GOLDEN = json.loads((DATA / "org_plans_cab00a8.json").read_text())
ORGS = [name for name in GOLDEN if name != "about"]


#: Figures of a plan may differ from cab00a8's by this much, relative (see above).
FIGURE_TOLERANCE = 1e-12


def same(got: Any, want: Any, where: str) -> None:
    """Every key of ``want`` is in ``got`` with the same value (figures to 1e-12 relative)."""
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        for key, value in want.items():
            assert key in got, f"{where}.{key} is missing"
            same(got[key], value, f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert isinstance(got, float), f"{where}: {got!r} != {want!r}"
        assert abs(got - want) <= FIGURE_TOLERANCE * max(1.0, abs(want)), \
            f"{where}: {got!r} != {want!r}"
    else:
        assert got == want and type(got) is type(want), f"{where}: {got!r} != {want!r}"


@pytest.mark.parametrize("name", ORGS)
def test_plans_are_those_main_wrote(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["optimise", str(REPO / name), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "org_plan.json").read_text())
    want = GOLDEN[name]
    same(doc, want["org"], "org_plan.json")
    assert [r["id"] for r in doc["roles"]] == list(want["roles"])
    for rid, role in want["roles"].items():
        same(json.loads((out / rid / "plan.json").read_text()), role, f"{rid}/plan.json")


def sequential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(org_module, "ROLE_READERS", 1)
    monkeypatch.setattr(org_optimizer, "ROLE_WORKERS", 1)


@pytest.mark.parametrize("name", ORGS)
def test_side_by_side_equals_one_after_the_other(name: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(org_module, "ROLE_READERS", 4)
    monkeypatch.setattr(org_optimizer, "ROLE_WORKERS", 4)
    side = load_org(REPO / name)
    side_coeffs = org_coefficients(side)
    sequential(monkeypatch)
    alone = load_org(REPO / name)
    alone_coeffs = org_coefficients(alone)
    assert [r.id for r in side.roles] == [r.id for r in alone.roles]
    for a, b in zip(side.roles, alone.roles, strict=True):
        assert a.case.attainment.tobytes() == b.case.attainment.tobytes()
        assert a.case.attainment.strides == b.case.attainment.strides
        assert a.case.periods == b.case.periods
        assert a.case.reps.equals(b.case.reps)
    for a, b in zip(side_coeffs, alone_coeffs, strict=True):
        for item in dataclasses.fields(a):
            x, y = getattr(a, item.name), getattr(b, item.name)
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), item.name
            else:
                assert x == y, item.name
    assert side.warnings == alone.warnings


def broken_c5(tmp_path: Path, sales: bool, marketing: bool) -> Path:
    folder = tmp_path / "org"
    shutil.copytree(CONFORMANCE / "c5_org", folder)
    for role, value, broken in (("sales", "-1.0", sales), ("marketing", "abc", marketing)):
        if broken:
            path = folder / role / "attainment.csv"
            lines = path.read_text().splitlines()
            cells = lines[2].split(",")
            cells[-1] = value
            lines[2] = ",".join(cells)
            path.write_text("\n".join(lines) + "\n")
    return folder


SALES_ERROR = ("sales/attainment.csv, line 3, pipeline: must be a finite number >= 0 "
               "(attainment as a ratio of quota, 1.0 = 100 %), got '-1.0'")
MARKETING_ERROR = ("marketing/attainment.csv, line 3, cost_per_lead: must be a finite "
                   "number >= 0 (attainment as a ratio of quota, 1.0 = 100 %), got 'abc'")


@pytest.mark.parametrize(("sales", "marketing", "message"), [
    (True, True, SALES_ERROR),          # both broken: the first role in org.toml order
    (False, True, MARKETING_ERROR),
    (True, False, SALES_ERROR),
])
@pytest.mark.parametrize("readers", [1, 4])
def test_the_first_broken_role_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        sales: bool, marketing: bool, message: str,
                                        readers: int) -> None:
    monkeypatch.setattr(org_module, "ROLE_READERS", readers)
    folder = broken_c5(tmp_path, sales, marketing)
    with pytest.raises(CaseError) as info:
        load_org(folder)
    assert str(info.value) == message
    result = CliRunner().invoke(main, ["optimise", str(folder), "--out",
                                       str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: {message}\n")
    assert not (tmp_path / "out").exists()


def test_roles_not_started_are_not_read_once_one_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(org_module, "ROLE_READERS", 2)
    folder = tmp_path / "org"
    shutil.copytree(CONFORMANCE / "c5_org", folder)
    spec = org_module.read_org_spec(folder)
    wide = spec.model_copy(update={"roles": {f"r{i}": spec.roles["sales"] for i in range(8)}})
    read: list[str] = []

    def load_role(_folder: Path, _spec: Any, rid: str) -> Any:
        read.append(rid)
        if rid != "r0":
            threading.Event().wait(0.2)  # still reading when r0 fails
        raise CaseError(f"{rid}/case.toml", "broken")

    monkeypatch.setattr(org_module, "_load_role", load_role)
    with pytest.raises(CaseError, match=r"^r0/case\.toml: broken$"):
        org_module._load_roles(folder, wide)
    # Two threads: r0 and r1 start, the first thread may take r2; the rest are cancelled.
    assert "r0" in read and set(read) <= {"r0", "r1", "r2"}


@pytest.mark.parametrize(("cores", "load", "threads"), [
    (2, 0.6, 2),    # a quiet two-core machine: both
    (2, 1.2, 1),    # one core busy elsewhere: one at a time
    (2, 9.0, 1),
    (8, 0.0, 4),    # at most four
    (1, 0.0, 1),
    (2, None, 2),   # no load average on this system
])
def test_idle_cores(monkeypatch: pytest.MonkeyPatch, cores: int, load: float | None,
                    threads: int) -> None:
    def loadavg() -> tuple[float, float, float]:
        if load is None:
            raise OSError("no load average")
        return load, load, load

    monkeypatch.setattr(org_module.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(org_module.os, "getloadavg", loadavg)
    assert org_module.idle_cores() == threads


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_single_blas_thread_holds_until_the_last_caller_leaves() -> None:
    before = blas_threads()
    first, second = single_blas_thread(), single_blas_thread()
    first.__enter__()
    assert set(blas_threads()) <= {1}
    second.__enter__()
    first.__exit__(None, None, None)   # left in the other order than entered
    assert set(blas_threads()) <= {1}
    second.__exit__(None, None, None)
    assert blas_threads() == before


def big_case(tmp_path: Path, shuffle: bool) -> Path:
    """c2_fairness with its reps repeated: more rows than one block of the fast path."""
    source = CONFORMANCE / "c2_fairness"
    folder = tmp_path / ("shuffled" if shuffle else "sorted")
    shutil.copytree(source, folder)
    reps = pd.read_csv(source / "reps.csv", dtype={"rep_id": str})
    att = pd.read_csv(source / "attainment.csv", dtype={"rep_id": str, "period": str})
    copies = 80
    reps = pd.concat([reps.assign(rep_id=reps["rep_id"] + f"-{k}") for k in range(copies)])
    att = pd.concat([att.assign(rep_id=att["rep_id"] + f"-{k}") for k in range(copies)])
    rng = np.random.default_rng(7)
    metrics = [c for c in att.columns if c not in ("rep_id", "period")]
    att[metrics] = rng.uniform(0.0, 2.0, size=(len(att), len(metrics))).round(4)
    if shuffle:
        att = att.sample(frac=1.0, random_state=3)
    reps.to_csv(folder / "reps.csv", index=False)
    att.to_csv(folder / "attainment.csv", index=False)
    return folder


def fast_read(folder: Path) -> Any:
    spec = load_case(CONFORMANCE / "c2_fairness").spec
    reps = case_module.read_reps(folder / "reps.csv", spec)
    return read_attainment_fast(folder / "attainment.csv", pd.Index(reps.index),
                                tuple(spec.metrics))


@pytest.mark.parametrize("shuffle", [False, True])
def test_fast_path_over_many_blocks_equals_careful_reader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shuffle: bool) -> None:
    folder = big_case(tmp_path, shuffle)
    assert fast_read(folder) is not None   # the fast path reads it
    fast = load_case(folder)
    assert fast.attainment.shape[0] * fast.attainment.shape[2] > 2 * 8192
    with monkeypatch.context() as patch:
        patch.setattr(case_module, "read_attainment_fast", lambda *args, **kwargs: None)
        careful = load_case(folder)
    assert fast.attainment.tobytes() == careful.attainment.tobytes()
    assert fast.periods == careful.periods


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-0.5", repr(MAX_ATTAINMENT * 2)])
def test_fast_path_refuses_what_the_careful_reader_refuses(tmp_path: Path, value: str) -> None:
    folder = big_case(tmp_path, False)
    path = folder / "attainment.csv"
    lines = path.read_text().splitlines()
    cells = lines[9000].split(",")
    cells[-1] = value
    lines[9000] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    assert fast_read(folder) is None
    with pytest.raises(CaseError, match=r"^attainment.csv, line 9001, "):
        load_case(folder)


def test_tune_runtime_sets_glibc_or_says_it_cannot(monkeypatch: pytest.MonkeyPatch,
                                                   request: pytest.FixtureRequest) -> None:
    import ctypes

    from compplan.cli import runtime

    monkeypatch.delenv("MIMALLOC_PURGE_DELAY", raising=False)
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    threshold = gc.get_threshold()
    request.addfinalizer(lambda: gc.set_threshold(*threshold))
    assert runtime.tune_runtime() is sys.platform.startswith("linux")
    runtime.tune_runtime()
    assert runtime._AT_EXIT.count(gc.freeze) == 1   # frozen at exit: registered once
    assert gc.get_threshold()[0] == runtime.GC_THRESHOLD
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "-1"
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "4"
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "100")   # the user's own is kept
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert runtime.tune_runtime() is False
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "100"
    monkeypatch.setattr(runtime.sys, "platform", "linux")

    def no_libc(_name: object) -> object:
        raise OSError("no C library")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert runtime.tune_runtime() is False


def joiners_org(folder: Path) -> Path:
    """Two roles of 12,000 reps (more than BLAS computes in one thread), one with joiners."""
    from org_helpers import metric, role_case, write_org

    rng = np.random.default_rng(11)
    for rid, extra in (("a", {"scenarios": {"allow_absent": True}}), ("b", None)):
        case = role_case(folder / rid, rid, {"m1": metric({"g": 1.0}), "m2": metric({"g": 0.5})},
                         {"m1": 1.5, "m2": 1.0}, extra=extra)
        reps = [f"{rid}{i}" for i in range(12_000)]
        ti = rng.uniform(500.0, 1500.0, len(reps)).round(2)
        (case / "reps.csv").write_text("rep_id,target_incentive\n" + "".join(
            f"{r},{t}\n" for r, t in zip(reps, ti, strict=True)))
        rows = ["rep_id,period,m1,m2"]
        for i, r in enumerate(reps):
            for p in ("P01", "P02"):
                if rid == "a" and p == "P02" and i % 3 == 0:
                    continue  # joined later: off the plan in P02
                rows.append(f"{r},{p},{rng.uniform(0, 2):.4f},{rng.uniform(0, 2):.4f}")
        (case / "attainment.csv").write_text("\n".join(rows) + "\n")
    return write_org(folder, {"g": 1.0}, {"a": {"path": "a"}, "b": {"path": "b"}})


def test_coefficients_of_joiners_do_not_depend_on_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org = load_org(joiners_org(tmp_path / "org"))
    assert org.roles[0].case.present is not None
    runs = []
    for workers in (1, 2):
        monkeypatch.setattr(org_optimizer, "ROLE_WORKERS", workers)
        runs.append(org_coefficients(org))
    for a, b in zip(*runs, strict=True):
        assert a.on_plan == b.on_plan
        for item in dataclasses.fields(a):
            x, y = getattr(a, item.name), getattr(b, item.name)
            if isinstance(x, np.ndarray):
                assert x.tobytes() == y.tobytes(), item.name


def test_none_reads_and_reduces_on_the_idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    load_role, compute = org_module._load_role, org_optimizer.compute_coefficients

    def spy_load(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return load_role(*args)

    def spy_compute(case: Any) -> Any:
        threads.append(threading.current_thread().name)
        return compute(case)

    monkeypatch.setattr(org_module, "ROLE_READERS", None)
    monkeypatch.setattr(org_optimizer, "ROLE_WORKERS", None)
    monkeypatch.setattr(org_module, "idle_cores", lambda most=4: 2)
    monkeypatch.setattr(org_optimizer, "idle_cores", lambda most=4: 2)
    monkeypatch.setattr(org_module, "_load_role", spy_load)
    monkeypatch.setattr(org_optimizer, "compute_coefficients", spy_compute)
    org_coefficients(load_org(CONFORMANCE / "c5_org"))
    assert len(threads) == 4 and all(t.startswith("compplan-role") for t in threads)
    threads.clear()
    monkeypatch.setattr(org_module, "idle_cores", lambda most=4: 1)
    monkeypatch.setattr(org_optimizer, "idle_cores", lambda most=4: 1)
    org_coefficients(load_org(CONFORMANCE / "c5_org"))
    assert threads == ["MainThread"] * 4
