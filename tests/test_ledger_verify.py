"""Independent checks of MODEL.md section 11 (cases from transactions), by hand.

Text rep ids that look numeric, a shuffled fiscal calendar, timestamps counted by their date,
split credit with a house account, quota columns in another order, metric ids that are SQL
keywords and column names with spaces: the attainment below is computed by hand, and the
case gives the same plan as its ``attainment.csv`` twin. A glob over too many files is
refused before the walk ends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_exit, invoke
from ledger_helpers import write_mini

from compplan.models import sources
from compplan.models.case import load_case

CASE = """\
[case]
name = "Verify"

[source]
transactions = "deals.csv"
rep = "Owner Id"
date = "Close Date"
calendar = "calendar.csv"
quotas = "quota_plan.csv"
credit = "Share"

[goals]
growth = 1.0

[metrics."select"]
sum = "Amt"
where = "Product IN ('ent')"
threshold = 0.5
cap = 2.0
alignment = { growth = 1.0 }

[metrics."order"]
count = true
where = "Product LIKE 'sm%'"
threshold = 0.3
cap = 2.5
alignment = { growth = 0.5 }

[design]
max_metrics = 2
"""
TWIN = "".join(line for line in (CASE.split("[source]")[0] + "[goals]" + CASE.split("[goals]")[1]
                                  ).splitlines(keepends=True)
               if not line.startswith(("sum =", "count =", "where =")))
REPS = "rep_id,segment,target_incentive\n00123,North,1000\n00456,South,2000\n"
# 123 is not 00123 (text, not numbers); HOUSE is not on the roster; 2027-03-01 is outside.
DEALS = """\
Owner Id,Close Date,Product,Amt,Share
00123,2027-01-05 23:59:59,ent,1000,0.5
HOUSE,2027-01-05 23:59:59,ent,1000,0.5
00123,2027-01-31 00:00:01,ent,600,1
00456,2027-02-01 00:00:00,ent,900,1
00456,2027-02-10 12:00:00,ent,-100,1
00456,2027-01-10 08:00:00,smb,300,1
00123,2027-02-28 23:00:00,smb,50,1
123,2027-02-03 10:00:00,ent,7000,1
00456,2027-03-01 00:00:00,ent,999,1
"""
CALENDAR = "period,start,end\nP2,2027-02-01,2027-02-28\nP1,2027-01-01,2027-01-31\n"
QUOTAS = """\
quota,period,metric,rep_id
1100,P1,select,00123
1,P1,order,00123
500,P2,select,00123
2,P2,order,00123
400,P1,select,00456
0.5,P1,order,00456
1600,P2,select,00456
1,P2,order,00456
"""
# x[rep][metric] = [P1, P2], by hand: select = credited ent amount / quota, order = smb count.
EXPECTED = {
    "00123": {"select": [(500 + 600) / 1100, 0.0], "order": [0.0, 1 / 2]},
    "00456": {"select": [0.0, (900 - 100) / 1600], "order": [1 / 0.5, 0.0]},
}


def _write(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, text in (("case.toml", CASE), ("reps.csv", REPS), ("deals.csv", DEALS),
                       ("calendar.csv", CALENDAR), ("quota_plan.csv", QUOTAS)):
        (folder / name).write_text(text)
    return folder


def test_attainment_by_hand(tmp_path: Path) -> None:
    case = load_case(_write(tmp_path / "case"))
    assert case.periods == ("P1", "P2")
    assert case.metric_ids == ("select", "order")
    for rep, metrics in EXPECTED.items():
        for metric, values in metrics.items():
            got = case.attainment[case.reps.index.get_loc(rep), case.metric_ids.index(metric)]
            assert got.tolist() == values, (rep, metric)


def _twin(folder: Path) -> Path:
    folder.mkdir()
    (folder / "case.toml").write_text(TWIN)
    (folder / "reps.csv").write_text(REPS)
    rows = [f"{rep},{p},{m['select'][s]!r},{m['order'][s]!r}"
            for rep, m in EXPECTED.items() for s, p in enumerate(("P1", "P2"))]
    (folder / "attainment.csv").write_text("rep_id,period,select,order\n" + "\n".join(rows) + "\n")
    return folder


def test_the_attainment_is_laid_out_as_the_twins(tmp_path: Path) -> None:
    # The same numbers in the same memory order: sums over reps and periods then add in the
    # same order, so the optimum agrees to the last bit (not only to 1e-15).
    ledger = load_case(_write(tmp_path / "ledger")).attainment
    twin = load_case(_twin(tmp_path / "twin")).attainment
    assert ledger.tolist() == twin.tolist()
    assert ledger.strides == twin.strides


def test_same_plan_as_the_attainment_twin(tmp_path: Path) -> None:
    ledger = _write(tmp_path / "ledger")
    twin = _twin(tmp_path / "twin")
    plans = []
    for folder in (ledger, twin):
        result = invoke("optimise", str(folder), "--out", str(tmp_path / f"{folder.name}_out"))
        assert_exit(result, 0)
        plan = json.loads((tmp_path / f"{folder.name}_out" / "plan.json").read_text())
        plans.append({k: plan[k] for k in ("status", "objective", "metrics", "evaluation")})
    assert plans[0] == plans[1]


def test_a_glob_over_too_many_files_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_mini(tmp_path / "mini")
    (folder / "case.toml").write_text((folder / "case.toml").read_text().replace(
        'transactions = "deals.csv"', 'transactions = "ledger/**/*.csv"'))
    (folder / "ledger" / "a").mkdir(parents=True)
    for name in ("ledger/1.csv", "ledger/2.csv", "ledger/a/3.csv"):
        (folder / name).write_text((folder / "deals.csv").read_text())
    monkeypatch.setattr(sources, "MAX_GLOB_FILES", 2)
    result = invoke("validate", str(folder))
    assert_exit(result, 2)
    assert result.stderr.strip() == (
        "Error: case.toml, [source] transactions: the glob 'ledger/**/*.csv' matches more "
        "than 2 files (name the ledger's own folder)")


def test_a_ledger_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    folder = write_mini(tmp_path / "mini")
    deals = (folder / "deals.csv").read_text().replace("R1,2027-02-03,new,900",
                                                       "R1,2027-02-03,néw,900")
    (folder / "deals.csv").write_bytes(deals.encode("latin-1"))  # é: byte 0xe9, character 16
    result = invoke("validate", str(folder))
    assert_exit(result, 2)
    assert result.stderr.strip() == (
        "Error: deals.csv, line 5: is not UTF-8 text (byte 0xe9 at character 16; save it as "
        "UTF-8)")
