"""The fast JSON and CSV writers (models/fastwrite.py, render/safe.py) write as the reference.

``json_text`` against ``json.dumps(_finite(x), indent=2, allow_nan=False) + "\\n"`` and
``records_csv`` against ``csv_text(pandas.DataFrame(records))``, byte for byte, on
values of every kind (seeded random documents and hand-picked awkward ones); then a
batch written with the fast writers against the same batch written with the
reference ones: every file the same.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from compplan.batch.spec import budget_sweep
from compplan.batch.store import run_batch
from compplan.models import output
from compplan.models.case import load_case
from compplan.models.fastwrite import json_text
from compplan.models.output import _finite
from compplan.render.safe import csv_text, records_csv

CASES = Path(__file__).resolve().parent.parent / "cases"

AWKWARD_TEXT = ["", "plain", "=HYPERLINK(\"http://x\")", "-12.5", "+3", "@sum", "\tx", "\rx",
                "a,b", 'say "hi"', "two\nlines", "cr\rhere", "ünïcødé €", "\u2028", "\x00\x1f",
                "emoji 🎉", "back\\slash", "-", "+e5", "1e5", " leading"]
AWKWARD_FLOATS = [0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 1e16, 1e15, 123456789012345678.0,
                  1e-4, 1e-5, 5e-324, 1.7976931348623157e308, 2.5e-10, 19614072.02422577,
                  float("nan"), float("inf"), float("-inf")]


def reference_json(data: Any) -> str:
    return json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"


def random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(AWKWARD_TEXT)
    if kind == 1:
        return rng.choice([*AWKWARD_FLOATS, rng.uniform(-1e9, 1e9), rng.random()])
    if kind == 2:
        return rng.choice([0, -7, 2 ** 70, 12])
    if kind == 3:
        return rng.choice([True, False])
    if kind == 4:
        return None
    if kind == 5:
        return rng.expovariate(1e-3)
    if kind in (6, 7):
        return {rng.choice(AWKWARD_TEXT) + str(i): random_value(rng, depth + 1)
                for i in range(rng.randrange(4))}
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_json_text_equals_json_dumps_on_random_documents() -> None:
    rng = random.Random(23)
    for _ in range(2000):
        doc = {"root": random_value(rng, 0), "more": [random_value(rng, 1)]}
        assert json_text(doc) == reference_json(doc)


@pytest.mark.parametrize("doc", [
    {}, [], {"a": {}}, {"a": []}, [[]], {"x": (1, float("nan"))}, {1: "int key"},
    {None: 1, True: 2, 2.5: 3}, {"n": float("nan"), "i": [float("inf"), -0.0]},
    {"big": 2 ** 80, "t": True, "f": False, "z": None},
])
def test_json_text_equals_json_dumps_on_edge_cases(doc: Any) -> None:
    try:
        expected = reference_json(doc)
    except ValueError:  # a NaN inside a tuple: _finite leaves tuples alone
        with pytest.raises(ValueError):
            json_text(doc)
        return
    assert json_text(doc) == expected


def test_json_text_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        json_text({"a": {1, 2}})


def random_records(rng: random.Random) -> list[dict[str, Any]]:
    columns = {f"col{i}" if rng.random() < 0.7 else rng.choice(AWKWARD_TEXT) + str(i):
               rng.choice([str, float, int, bool]) for i in range(rng.randrange(1, 6))}
    draw = {str: lambda: rng.choice(AWKWARD_TEXT),
            float: lambda: rng.choice([*AWKWARD_FLOATS[:-3], rng.uniform(-1e7, 1e7),
                                                  rng.random() * 1e-7]),
            int: lambda: rng.choice([0, -3, 10 ** 12, 7]),
            bool: lambda: rng.random() < 0.5}
    return [{name: draw[kind]() for name, kind in columns.items()}
            for _ in range(rng.randrange(1, 5))]


def test_records_csv_equals_pandas_on_random_tables() -> None:
    rng = random.Random(7)
    for _ in range(500):
        records = random_records(rng)
        assert records_csv(records) == csv_text(pd.DataFrame(records)), records


@pytest.mark.parametrize("records", [
    [],
    [{"a": 1.0, "b": "x"}, {"a": 2, "b": "y"}],             # int and float in one column
    [{"a": 1.0}, {"a": float("nan")}],                       # NaN: empty in pandas
    [{"a": float("inf"), "b": "=x"}],
    [{"a": 1.0, "b": None}],
    [{"a": 1.0}, {"b": 2.0}],                                # different keys
    [{"a": [1, 2], "b": "list"}],
    [{"a": 2 ** 70}],
    [{"curve": [[0.5, 0.0], [1.0, 1.0]], "id": "m"}],
])
def test_records_csv_equals_pandas_on_edge_cases(records: list[dict[str, Any]]) -> None:
    assert records_csv(records) == csv_text(pd.DataFrame(records))


def batch_files(out: Path) -> dict[str, bytes]:
    """Every file of a batch folder but its chart's SVG (matplotlib draws random ids)."""
    files = {}
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name == "frontier.svg":
            continue
        data = path.read_bytes()
        if path.name in ("result.json", "batch.json"):  # wall times and dates
            doc = json.loads(data)
            doc.pop("seconds", None)
            doc.pop("created", None)
            data = json.dumps(doc).encode()
        files[str(path.relative_to(out))] = data
    return files


def test_a_batch_writes_the_same_files_as_with_the_reference_writers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = load_case(CASES / "enterprise_first")
    spec = budget_sweep(case, 0.8, 1.1, 12)  # candidates with a plan and without
    run_batch(spec, case, tmp_path / "fast")
    monkeypatch.setattr(output, "json_text", reference_json)
    monkeypatch.setattr(output, "records_csv", lambda rows: csv_text(pd.DataFrame(rows)))
    run_batch(spec, case, tmp_path / "reference")
    fast, reference = batch_files(tmp_path / "fast"), batch_files(tmp_path / "reference")
    assert fast.keys() == reference.keys()
    assert sum(name.endswith("plan.csv") for name in fast) >= 5
    assert sum(name.endswith("infeasibility.json") for name in fast) >= 2
    for name in fast:
        assert fast[name] == reference[name], name
