"""Cases from transactions (MODEL.md section 11): attainment from a ledger, by hand.

The mini case (tests/ledger_helpers.py) is small enough to compute by hand; c9_ledger is
c1_budget_only built from a ledger. Every bad source below exits 2 with a message naming
the file and row, or the metric and key, and leaves no output behind.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CONFORMANCE, invoke
from ledger_helpers import CASE_TOML, DEALS, EXPECTED, QUOTAS, REPS, write_mini

from compplan.errors import CaseError
from compplan.models.case import load_case

C = CASE_TOML
QP = 'quotas = "quota_plan.csv"'
TX = 'transactions = "deals.csv"'


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_mini_attainment_by_hand(tmp_path: Path) -> None:
    case = load_case(write_mini(tmp_path / "mini"))
    assert case.periods == ("2027-01", "2027-02")
    assert case.present is None
    for (rep, metric), values in EXPECTED.items():
        got = case.attainment[case.reps.index.get_loc(rep), case.metric_ids.index(metric)]
        np.testing.assert_allclose(got, values, rtol=0, atol=1e-15)
    # Each period's own quota, kept for per-unit rates.
    assert case.period_quotas is not None
    assert case.period_quotas[0, 0].tolist() == [1000.0, 1200.0]
    assert case.period_quotas[1, 1].tolist() == [1.0, 4.0]


def test_mini_report_counts_every_transaction(tmp_path: Path) -> None:
    report = load_case(write_mini(tmp_path / "mini")).ledger.report
    assert report.rows == 8
    assert report.metrics["bookings"].matched == (2, 3)       # R1, R2 in Jan; R1, R2 x2 in Feb
    assert report.metrics["bookings"].matched_unknown_rep == 1  # X9
    assert report.metrics["deals"].matched == (3, 3)
    assert (report.unknown_rep_rows, report.unknown_reps) == (1, ("X9",))
    assert (report.outside_rows, report.outside_range) == (1, ("2026-12-31", "2026-12-31"))
    assert report.off_plan_rows == 0
    assert report.reps_with_quota == (2, 2)


def test_off_the_plan_without_a_quota_row(tmp_path: Path) -> None:
    quotas = sub(sub(QUOTAS, "R1,bookings,2027-02,1200\n", ""), "R1,deals,2027-02,1\n", "")
    case_toml = C + "\n[scenarios]\nallow_absent = true\n"
    case = load_case(write_mini(tmp_path / "m", case=case_toml, quotas=quotas))
    assert case.present is not None
    assert case.present.tolist() == [[True, False], [True, True]]
    assert case.attainment[0, :, 1].tolist() == [0.0, 0.0]
    report = case.ledger.report
    assert report.off_plan_rows == 1                 # R1's 900 on 2027-02-03: counted
    assert report.metrics["bookings"].matched == (2, 2)
    assert report.metrics["bookings"].matched_off_plan == 1
    assert report.reps_without_quota == ((), ("R1",))


def test_a_quota_and_no_deals_is_zero(tmp_path: Path) -> None:
    deals = sub(DEALS, "R1,2027-02-03,new,900\n", "")
    case = load_case(write_mini(tmp_path / "m", deals=deals))
    assert case.present is None
    assert case.attainment[0, :, 1].tolist() == [0.0, 0.0]


def test_split_credit_multiplies(tmp_path: Path) -> None:
    deals = ("owner,day,kind,amount,share\nR1,2027-01-05,new,1000,0.6\n"
             "R2,2027-01-05,new,1000,0.4\nR1,2027-02-05,new,600,1\nR2,2027-02-05,new,500,1\n")
    case_toml = sub(C, QP, QP + '\ncredit = "share"')
    case = load_case(write_mini(tmp_path / "m", case=case_toml, deals=deals))
    bookings = case.attainment[:, 0, :]
    np.testing.assert_allclose(bookings, [[600 / 1000, 600 / 1200], [400 / 2000, 500 / 1000]],
                               rtol=0, atol=1e-15)
    deals_x = case.attainment[:, 1, :]   # counts times credit: 0.6, 0.4, then 1, 1
    np.testing.assert_allclose(deals_x, [[0.6 / 2, 1 / 1], [0.4 / 1, 1 / 4]], rtol=0, atol=1e-15)


def test_c9_reproduces_c1_attainment() -> None:
    ledger = load_case(CONFORMANCE / "c9_ledger")
    table = load_case(CONFORMANCE / "c1_budget_only")
    assert ledger.periods == table.periods
    assert ledger.metric_ids == table.metric_ids
    assert np.abs(ledger.attainment - table.attainment).max() <= 1e-11
    report = ledger.ledger.report
    assert report.unknown_reps == ("HOUSE",)
    assert report.outside_rows == 2


def test_exact_sums_whatever_the_order_and_the_files(tmp_path: Path) -> None:
    folder = tmp_path / "c9"
    shutil.copytree(CONFORMANCE / "c9_ledger", folder)
    base = load_case(folder).attainment
    rows = pd.read_csv(folder / "transactions.csv", dtype={"txn_id": str})
    shuffled = rows.sample(frac=1.0, random_state=3).reset_index(drop=True)
    (folder / "transactions.csv").unlink()
    (folder / "parts").mkdir()
    for i in range(5):
        part = shuffled.iloc[i * 400:(i + 1) * 400]
        part.to_parquet(folder / "parts" / f"p{i}.parquet", index=False)
    toml = (folder / "case.toml").read_text()
    (folder / "case.toml").write_text(toml.replace('"transactions.csv"', '"parts/*.parquet"'))
    again = load_case(folder).attainment
    assert again.tobytes() == base.tobytes()


def test_attainment_file_and_source_are_exclusive(tmp_path: Path) -> None:
    folder = write_mini(tmp_path / "m")
    (folder / "attainment.csv").write_text("rep_id,period,bookings,deals\nR1,P1,1,1\n")
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == (
        "case.toml, [source]: has a [source] table, but the case folder also holds "
        "attainment.csv: attainment comes from one of them; remove the file or the [source] "
        "table")


BAD = [
    pytest.param(
        dict(case=sub(C, 'sum = "amount"', 'sum = "amout"')),
      "case.toml, [metrics.bookings] sum: unknown column 'amout' in 'amout' (the "
      "transactions' columns: owner, day, kind, amount)",
        id='unknown-column-sum'),
    pytest.param(
        dict(case=sub(C, "where = \"kind = 'new'\"", 'where = "kind ="')),
      "case.toml, [metrics.bookings] where: 'kind =' is not valid SQL: syntax error "
      'at or near ")"',
        id='syntax-where'),
    pytest.param(
        dict(case=sub(C, 'sum = "amount"', 'sum = "amount; DROP TABLE txn"')),
      "case.toml, [metrics.bookings] sum: 'amount; DROP TABLE txn' is not one "
      "expression (';' ends a statement; only an expression over the transactions' "
      'columns is allowed)',
        id='statement'),
    pytest.param(
        dict(case=sub(C, "where = \"kind = 'new'\"", 'where = "amount > (SELECT 1)"')),
      "case.toml, [metrics.bookings] where: 'amount > (SELECT 1)' holds a subquery "
      "(only an expression over the transactions' columns is allowed)",
        id='subquery'),
    pytest.param(
        dict(case=sub(C, 'sum = "amount"', 'sum = "amount) AS v FROM txn WHERE (true"')),
      "case.toml, [metrics.bookings] sum: 'amount) AS v FROM txn WHERE (true' is not "
      'valid SQL: syntax error at or near "AS"',
        id='not-one-expression'),
    pytest.param(
        dict(case=sub(C, 'sum = "amount"', "sum = \"length(read_text('/etc/passwd'))\"")),
      'case.toml, [metrics.bookings] sum: "length(read_text(\'/etc/passwd\'))" cannot '
      'be computed: Function "read_text" is a table function but it was used as a '
      'scalar function. This function has to be called in a FROM clause (similar to '
      'a table)',
        id='file-function'),
    pytest.param(
        dict(case=sub(C, 'sum = "amount"', 'sum = "kind"')),
      "deals.csv, line 2, kind: 'new' is not a number ([metrics.bookings] sum = 'kind')",
        id='sum-text'),
    pytest.param(
        dict(case=sub(C, 'sum = "amount"', "sum = \"kind || 'x'\"")),
      "case.toml, [metrics.bookings] sum: \"kind || 'x'\" is VARCHAR, not a number (a sum "
      'needs a numeric expression)',
        id='sum-text-expression'),
    pytest.param(
        dict(case=sub(C, "where = \"kind = 'new'\"", 'where = "amount"')),
      "case.toml, [metrics.bookings] where: 'amount' is BIGINT, not a condition "
      '(true or false for each transaction)',
        id='where-number'),
    pytest.param(
        dict(case=sub(C, "where = \"kind = 'new'\"", "where = \"kind = 'nwe'\"")),
      'case.toml, [metrics.bookings] where: matches no transaction in any period '
      '(check the condition and the values it compares with)',
        id='where-nothing'),
    pytest.param(
        dict(case=sub(C, "where = \"kind = 'new'\"", "where = \"kind = 1\"")),
      'case.toml, [metrics.bookings] where: cannot be computed: Could not convert '
      "string 'new' to INT32 when casting from source column kind",
        id='where-type'),
    pytest.param(
        dict(case=sub(C, 'sum = "amount"', 'sum = "amount / 0"')),
      'case.toml, [metrics.bookings] sum: gives no finite value for the transaction '
      'at deals.csv, line 2 (an empty cell, or a division by 0?)',
        id='sum-division-by-zero'),
    pytest.param(
        dict(deals=sub(DEALS, "R1,2027-02-03,new,900", "R1,2027-02-03,new,")),
      'case.toml, [metrics.bookings] sum: gives no finite value for the transaction '
      'at deals.csv, line 5 (an empty cell, or a division by 0?)',
        id='sum-empty-cell'),
    pytest.param(
        dict(case=sub(C, 'rep = "owner"', 'rep = "seller"')),
      "case.toml, [source] rep: column 'seller' is not in the transactions "
      '(deals.csv; columns: owner, day, kind, amount)',
        id='rep-column'),
    pytest.param(
        dict(case=sub(C, 'date = "day"', 'date = "dya"')),
      "case.toml, [source] date: column 'dya' is not in the transactions (deals.csv; "
      'columns: owner, day, kind, amount)',
        id='date-column'),
    pytest.param(
        dict(case=sub(C, 'date = "day"', 'date = "amount"')),
      "case.toml, [source] date: column 'amount' holds BIGINT, not dates (a date or "
      'a timestamp, or text as YYYY-MM-DD)',
        id='date-not-dates'),
    pytest.param(
        dict(deals=sub(DEALS, "R1,2027-02-03", "R1,2027-13-45")),
      "deals.csv, line 5, day: '2027-13-45' is not a date (YYYY-MM-DD)",
        id='date-bad-text'),
    pytest.param(
        dict(deals=sub(DEALS, "R1,2027-02-03", "R1,")),
      'deals.csv, line 5, day: the date is empty (every transaction is dated)',
        id='date-empty'),
    pytest.param(
        dict(deals=sub(DEALS, "R1,2027-02-03", ",2027-02-03")),
      'deals.csv, line 5, owner: the rep is empty (every transaction names its rep)',
        id='rep-empty'),
    pytest.param(
        dict(case=sub(C, QP, QP + '\ncredit = "share"')),
      "case.toml, [source] credit: column 'share' is not in the transactions "
      '(deals.csv; columns: owner, day, kind, amount)',
        id='credit-column'),
    pytest.param(
        dict(case=sub(C, QP, QP + '\ncredit = "amount"')),
      "deals.csv, line 2, amount: credit '600' is not a share in [0, 1]",
        id='credit-range'),
    pytest.param(
        dict(case=sub(C, QP, QP + '\ncredit = "kind"')),
      "case.toml, [source] credit: column 'kind' holds VARCHAR, not numbers (a share "
      'in [0, 1])',
        id='credit-text'),
    pytest.param(
        dict(quotas=sub(QUOTAS, "R1,deals,2027-02,1", "R1,deals,2027-02,0")),
      'quota_plan.csv, line 7, quota: must be a number > 0 (the quota in the '
      "metric's unit), got '0'",
        id='quota-zero'),
    pytest.param(
        dict(quotas=sub(QUOTAS, "R1,deals,2027-02,1", "R1,deals,2027-02,one")),
      'quota_plan.csv, line 7, quota: must be a number > 0 (the quota in the '
      "metric's unit), got 'one'",
        id='quota-text'),
    pytest.param(
        dict(quotas=QUOTAS + "R7,deals,2027-02,1\n"),
      "quota_plan.csv, line 10, rep_id: rep 'R7' is not in reps.csv",
        id='quota-unknown-rep'),
    pytest.param(
        dict(quotas=QUOTAS + "R1,margin,2027-02,1\n"),
      "quota_plan.csv, line 10, metric: 'margin' is not a metric of the case "
      '(metrics: bookings, deals)',
        id='quota-unknown-metric'),
    pytest.param(
        dict(quotas=QUOTAS + "R1,deals,2027-02,3\n"),
      "quota_plan.csv, line 10, period: rep 'R1' has two quotas for metric 'deals' "
      "in period '2027-02'",
        id='quota-duplicate'),
    pytest.param(
        dict(quotas=sub(QUOTAS, "R1,deals,2027-02,1\n", "")),
      "quota_plan.csv: rep 'R1' has a quota for period '2027-02' for some metrics "
      "but not for 'deals' (a rep on the plan in a period needs a quota for every "
      'metric; no row at all means off the plan)',
        id='quota-partial'),
    pytest.param(
        dict(quotas=sub(sub(QUOTAS, "R1,deals,2027-02,1\n", ""), "R1,bookings,2027-02,1200\n", "")),
      "quota_plan.csv: rep 'R1' has no quota for period '2027-02' (every rep of "
      'reps.csv needs a quota row per metric and period; if reps joined or left, set '
      '[scenarios] allow_absent = true in case.toml: no quota row then means off the '
      'plan that period)',
        id='quota-missing-rep-period'),
    pytest.param(
        dict(quotas=sub(QUOTAS, "R1,deals,2027-02,1", "R1,deals,2027-2,1")),
      "quota_plan.csv, line 7, period: period '2027-2' is not a month label "
      '(YYYY-MM, e.g. 2027-01; [source] period = "month")',
        id='quota-bad-month'),
    pytest.param(
        dict(quotas=QUOTAS.replace("quota\n", "target\n", 1)),
      "quota_plan.csv: required column 'quota' is missing (columns found: rep_id, "
      'metric, period, target; a quota table has rep_id, metric, period, quota)',
        id='quota-no-column'),
    pytest.param(
        dict(deals=DEALS + "R1,2027-02-20,new,-1000\n"),
      "case.toml, [metrics.bookings]: the attainment of rep 'R1' on metric "
      "'bookings' in period '2027-02' is below 0: -100 / quota 1200 = -0.0833333 "
      '(refunds and clawbacks net within the period; attainment is >= 0)',
        id='refund-below-zero'),
    pytest.param(
        dict(case=sub(C, 'transactions = "deals.csv"', 'transactions = "missing.csv"')),
      "case.toml, [source] transactions: the file 'missing.csv' does not exist "
      '(looked for {folder}/missing.csv)',
        id='missing-file'),
    pytest.param(
        dict(case=sub(C, 'transactions = "deals.csv"', 'transactions = "ledger/*.parquet"')),
      "case.toml, [source] transactions: the glob 'ledger/*.parquet' matches no file "
      '(looked in {folder}/ledger)',
        id='glob-nothing'),
    pytest.param(
        dict(case=sub(C, 'transactions = "deals.csv"', 'transactions = "case.toml"')),
      "case.toml, [source] transactions: 'case.toml' is neither a .csv nor a "
      '.parquet file',
        id='not-csv'),
    pytest.param(
        dict(case=sub(C, 'quotas = "quota_plan.csv"', 'quotas = "plan.csv"')),
      "case.toml, [source] quotas: the file 'plan.csv' does not exist in the case "
      'folder {folder}',
        id='quotas-missing'),
    pytest.param(
        dict(case=sub(C, 'quotas = "quota_plan.csv"', 'quotas = "quotas.csv"')),
      'case.toml, [source]: quotas may not be quotas.csv, which keeps its section 1 '
      'meaning (one quota per rep and metric); name the per-period quota table '
      'otherwise, e.g. quota_plan.csv',
        id='quotas-named-quotas'),
    pytest.param(
        dict(case=C.split("[source]")[0] + C.split('quotas = "quota_plan.csv"\n')[1]),
      'case.toml: [metrics.bookings] sum needs a [source] table (metrics over '
      'transactions, MODEL.md section 11); without it attainment comes from '
      'attainment.csv',
        id='sum-without-source'),
    pytest.param(
        dict(case=sub(C, "count = true\n", "")),
      'case.toml: [metrics.deals] needs exactly one of sum (an expression over the '
      "transactions' columns) and count = true, since the case has a [source]",
        id='neither-sum-nor-count'),
    pytest.param(
        dict(case=sub(C, "count = true\n", "count = true\nsum = \"amount\"\n")),
      'case.toml: [metrics.deals] needs exactly one of sum (an expression over the '
      "transactions' columns) and count = true, since the case has a [source]",
        id='sum-and-count'),
    pytest.param(
        dict(case=sub(C, "count = true\n", "count = false\n")),
      'case.toml: [metrics.deals] count = false counts nothing: give count = true '
      '(the number of transactions) or a sum',
        id='count-false'),
    pytest.param(
        dict(case=sub(C, 'period = "month"', 'period = "month"\ncalendar = "cal.csv"')),
      'case.toml, [source]: give exactly one of period ("month" or "quarter") and '
      'calendar (a CSV file with columns period, start, end)',
        id='period-and-calendar'),
    pytest.param(
        dict(case=sub(C, 'period = "month"', 'period = "week"')),
      "case.toml, [source] period: must be one of 'month' or 'quarter', got 'week'",
        id='period-week'),
    pytest.param(
        dict(case=sub(C, 'period = "month"', 'period = "month"\npassword_env = "PGPASSWORD"')),
      'case.toml, [source]: password_env applies only to a database source '
      '(transactions = { url, query })',
        id='password-env-file'),
    pytest.param(
        dict(case=sub(C, TX, 'transactions = { url = "postgresql://u@h/db" }')),
      'case.toml, [source] transactions: a database source needs exactly one of '
      'query (a SELECT the database runs) and table (a whole table)',
        id='db-without-query'),
    pytest.param(
        dict(reps=REPS + "R1,West,500\n"),
      "reps.csv, line 4, rep_id: rep 'R1' appears twice (first on line 2); rep ids "
      'must be unique',
        id='duplicate-rep-ids'),
]


@pytest.mark.parametrize(("files", "message"), BAD)
def test_bad_source(tmp_path: Path, files: dict[str, str], message: str) -> None:
    folder = write_mini(tmp_path / "case", **files)
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == message.replace("{folder}", str(folder))


@pytest.mark.parametrize(("files", "message"), [BAD[0], BAD[9], BAD[21], BAD[30]])
def test_bad_source_exits_2_and_writes_nothing(tmp_path: Path, files: dict[str, str],
                                               message: str) -> None:
    folder = write_mini(tmp_path / "case", **files)
    out = tmp_path / "out"
    result = invoke("optimise", str(folder), "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {message.replace('{folder}', str(folder))}\n"
    assert not out.exists()



def test_rates_per_unit_use_each_periods_quota(tmp_path: Path) -> None:
    folder = write_mini(tmp_path / "m")
    out = tmp_path / "out"
    result = invoke("optimise", str(folder), "--out", str(out))
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text())
    rates = pd.read_csv(out / "rep_rates.csv")
    assert list(rates.columns) == ["rep_id", "metric", "period", "quota", "base_rate_per_unit",
                                   "accelerator_rate_per_unit"]
    ti = {"R1": 1000.0, "R2": 2000.0}
    quota = {("R1", "bookings", "2027-01"): 1000.0, ("R1", "bookings", "2027-02"): 1200.0,
             ("R2", "bookings", "2027-01"): 2000.0, ("R2", "bookings", "2027-02"): 1000.0,
             ("R1", "deals", "2027-01"): 2.0, ("R1", "deals", "2027-02"): 1.0,
             ("R2", "deals", "2027-01"): 1.0, ("R2", "deals", "2027-02"): 4.0}
    chosen = {m["id"]: m for m in plan["metrics"]}
    assert len(rates) == 4 * len(chosen)
    for row in rates.itertuples(index=False):
        q = quota[(row.rep_id, row.metric, row.period)]
        assert row.quota == q
        assert row.base_rate_per_unit == pytest.approx(
            ti[row.rep_id] * chosen[row.metric]["base_rate"] / q, rel=1e-12)
        assert row.accelerator_rate_per_unit == pytest.approx(
            ti[row.rep_id] * chosen[row.metric]["accelerator_rate"] / q, rel=1e-12)


def test_workbook_rates_per_period(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    folder = write_mini(tmp_path / "m")
    assert invoke("optimise", str(folder), "--out", str(tmp_path / "out")).exit_code == 0
    xlsx = tmp_path / "plan.xlsx"
    result = invoke("export", str(folder), str(tmp_path / "out" / "plan.json"), "--xlsx",
                    str(xlsx))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(xlsx)["Rep rates"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["rep_id", "metric", "period", "quota"]
    assert [sheet["A2"].value, sheet["C2"].value, sheet["D2"].value] == ["R1", "2027-01", 1000]
    assert str(sheet["E2"].value).startswith("=G2*") and sheet["E2"].value.endswith("/D2")
    assert sheet["G2"].value == 1000
    assert [sheet["A5"].value, sheet["C5"].value, sheet["D5"].value,
            sheet["G5"].value] == ["R2", "2027-02", 1000, 2000]


def test_revenue_from_each_periods_quota(tmp_path: Path) -> None:
    toml = sub(C, 'name = "Mini ledger"', 'name = "Mini ledger"\nrevenue_metric = "bookings"')
    folder = write_mini(tmp_path / "m", case=toml)
    out = tmp_path / "out"
    assert invoke("optimise", str(folder), "--out", str(out)).exit_code == 0
    evaluation = json.loads((out / "plan.json").read_text())["evaluation"]
    # Bookings recorded on the plan: Jan 600 + 1000, Feb 900 - 200 + 1500: 1,900 a period.
    assert evaluation["expected_revenue"] == pytest.approx(1900.0, rel=1e-12)


def test_validate_shows_where_the_transactions_went(tmp_path: Path) -> None:
    quotas = sub(sub(QUOTAS, "R1,bookings,2027-02,1200\n", ""), "R1,deals,2027-02,1\n", "")
    folder = write_mini(tmp_path / "m", case=C + "\n[scenarios]\nallow_absent = true\n",
                        quotas=quotas)
    result = invoke("validate", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "transactions from deals.csv: 8",
        "  period            2027-01  2027-02",
        "  bookings matched        2        2",
        "  deals matched           3        2",
        "  reps with quota       2/2      1/2",
        "  reps without quota in 2027-02: R1",
        "  1 transaction of a rep not in reps.csv (X9): counted, not paid",
        "  1 transaction of a rep in a period without quota (off the plan): counted, not paid",
        "  1 transaction dated outside every period (2026-12-31 to 2026-12-31): counted, "
        "not paid",
        "  roster rule: a rep-period without a quota row is off the plan (its transactions "
        "are counted here, never paid); a rep-period with a quota and no transactions is on "
        "the plan at attainment 0",
    ]


CASES = Path(__file__).parent.parent / "cases"


def test_bundled_ledger_reproduces_enterprise_first_exactly() -> None:
    ledger = load_case(CASES / "enterprise_first_ledger")
    table = load_case(CASES / "enterprise_first")
    assert ledger.periods == table.periods
    assert ledger.reps.equals(table.reps)
    assert ledger.attainment.tobytes() == table.attainment.tobytes()
    report = ledger.ledger.report
    assert (report.unknown_reps, report.unknown_rep_rows, report.outside_rows) == (
        ("HOUSE",), 40, 12)


def test_bundled_ledger_generator_is_reproducible(tmp_path: Path) -> None:
    import filecmp
    import subprocess
    import sys

    subprocess.run([sys.executable, str(CASES / "generate_ledger.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    folder = CASES / "enterprise_first_ledger"
    files = sorted(p.name for p in folder.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    _match, mismatch, errors = filecmp.cmpfiles(folder, tmp_path, files, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_same_plan_json_as_the_attainment_file(tmp_path: Path) -> None:
    ledger = write_mini(tmp_path / "ledger")
    table = tmp_path / "table"
    table.mkdir()
    (table / "case.toml").write_text(
        "\n".join(line for line in C.split("[source]")[0].splitlines()) + "\n"
        + C.split(QP + "\n")[1].replace('sum = "amount"\n', "")
        .replace("where = \"kind = 'new'\"\n", "").replace("count = true\n", ""))
    (table / "reps.csv").write_text(REPS)
    lines = ["rep_id,period,bookings,deals"]
    for rep in ("R1", "R2"):
        for s, period in enumerate(("2027-01", "2027-02")):
            lines.append(f"{rep},{period},{EXPECTED[(rep, 'bookings')][s]!r},"
                         f"{EXPECTED[(rep, 'deals')][s]!r}")
    (table / "attainment.csv").write_text("\n".join(lines) + "\n")
    for folder in (ledger, table):
        result = invoke("optimise", str(folder), "--out", str(tmp_path / f"out_{folder.name}"))
        assert result.exit_code == 0, result.output
    assert ((tmp_path / "out_ledger" / "plan.json").read_bytes()
            == (tmp_path / "out_table" / "plan.json").read_bytes())


def test_case_from_frames_ledger(tmp_path: Path) -> None:
    import tomllib

    import compplan

    spec = tomllib.loads(C)
    del spec["source"]["transactions"], spec["source"]["quotas"]
    deals = pd.read_csv(write_mini(tmp_path / "m") / "deals.csv")
    deals["day"] = pd.to_datetime(deals["day"])
    case = compplan.Case.from_frames(
        spec, pd.read_csv(tmp_path / "m" / "reps.csv"), transactions=deals,
        quota_plan=pd.read_csv(tmp_path / "m" / "quota_plan.csv"))
    assert case.path is None
    folder = load_case(tmp_path / "m")
    assert case.attainment.tobytes() == folder.attainment.tobytes()
    assert case.periods == folder.periods
    assert case.ledger.report.unknown_reps == ("X9",)
    result = compplan.optimise(case)
    assert result.status == compplan.Status.OPTIMAL
    result.write(tmp_path / "out")
    assert (tmp_path / "out" / "rep_rates.csv").is_file()


def test_case_from_frames_attainment_is_the_folder_case() -> None:
    import compplan

    folder = CONFORMANCE / "c1_budget_only"
    case = compplan.Case.from_frames((folder / "case.toml").read_text(),
                                     pd.read_csv(folder / "reps.csv"),
                                     pd.read_csv(folder / "attainment.csv"))
    loaded = load_case(folder)
    assert case.path is None
    assert case.attainment.tobytes() == loaded.attainment.tobytes()
    assert case.reps.equals(loaded.reps)
    assert case.spec == loaded.spec


def test_case_from_frames_errors_name_the_table(tmp_path: Path) -> None:
    import compplan

    folder = CONFORMANCE / "c1_budget_only"
    reps = pd.read_csv(folder / "reps.csv")
    reps.loc[2, "target_incentive"] = -5.0
    with pytest.raises(CaseError) as info:
        compplan.Case.from_frames((folder / "case.toml").read_text(), reps,
                                  pd.read_csv(folder / "attainment.csv"))
    assert str(info.value) == ("reps.csv, line 4, target_incentive: must be a number > 0 "
                               "(currency), got '-5.0'")
    with pytest.raises(CaseError) as info:
        compplan.Case.from_frames("[goals]\ng = 1\n", reps, None)
    assert str(info.value).startswith("case.toml")
    spec = tomllib_loads(C)
    with pytest.raises(CaseError) as info:
        compplan.Case.from_frames(spec, pd.read_csv(folder / "reps.csv"), None)
    assert str(info.value) == ("case.toml, [source]: a case from frames with [source] needs "
                               "the transactions and quota_plan frames")


def tomllib_loads(text: str) -> dict[str, object]:
    import tomllib

    return tomllib.loads(text)


# March 2027, the plan year's first period: R1 books 1,100 (and a renewal), R2 books 800.
MARCH_DEALS = "R1,2027-03-02,new,1100\nR1,2027-03-09,renewal,70\nR2,2027-03-30,new,800\n"
MARCH_QUOTAS = ("R1,bookings,2027-03,1000\nR1,deals,2027-03,2\n"
                "R2,bookings,2027-03,1600\nR2,deals,2027-03,2\n")


def test_pulse_from_the_source_is_the_pulse_from_files(tmp_path: Path) -> None:
    ledger = write_mini(tmp_path / "ledger", deals=DEALS + MARCH_DEALS,
                        quotas=QUOTAS + MARCH_QUOTAS)
    table = tmp_path / "table"
    table.mkdir()
    (table / "case.toml").write_text(
        C.split("[source]")[0] + C.split(QP + "\n")[1].replace('sum = "amount"\n', "")
        .replace("where = \"kind = 'new'\"\n", "").replace("count = true\n", ""))
    (table / "reps.csv").write_text(REPS)
    lines = ["rep_id,period,bookings,deals"]
    for rep in ("R1", "R2"):
        for s, period in enumerate(("2027-01", "2027-02")):
            lines.append(f"{rep},{period},{EXPECTED[(rep, 'bookings')][s]!r},"
                         f"{EXPECTED[(rep, 'deals')][s]!r}")
    (table / "attainment.csv").write_text("\n".join(lines) + "\n")
    # By hand: bookings 1100 / 1000 and 800 / 1600; deals 2 / 2 and 1 / 2.
    (tmp_path / "march.csv").write_text(
        "rep_id,period,bookings,deals\nR1,2027-03,1.1,1.0\nR2,2027-03,0.5,0.5\n")
    plan = tmp_path / "plan.toml"
    plan.write_text('[[metrics]]\nid = "bookings"\nweight = 0.7\naccelerator_rate = 2.0\n'
                    '[[metrics]]\nid = "deals"\nweight = 0.3\naccelerator_rate = 0.6\n')
    a = invoke("pulse", str(ledger), str(plan), "--from", "2027-03-01", "--out",
               str(tmp_path / "a"), "-q")
    assert a.exit_code == 0, a.output
    b = invoke("pulse", str(table), str(plan), "--actuals", str(tmp_path / "march.csv"),
               "--out", str(tmp_path / "b"), "-q")
    assert b.exit_code == 0, b.output
    doc = json.loads((tmp_path / "a" / "pulse.json").read_text())
    assert (doc["periods_elapsed"], doc["periods_in_year"]) == (1, 2)
    assert ((tmp_path / "a" / "pulse.json").read_bytes()
            == (tmp_path / "b" / "pulse.json").read_bytes())


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2027-02-10"], "case.toml, [source] quotas: period '2027-02' (2027-02-01 to "
     "2027-02-28) straddles the plan year's start 2027-02-10 (--from): give the first day of "
     "a period"),
    (["--from", "2027-01-01"], "case.toml, [source] quotas: no period ends before 2027-01-01 "
     "(--from): the case needs history before the plan year (periods: 2027-01, 2027-02)"),
    (["--from", "2027-04-01"], "case.toml, [source] quotas: no period starts on or after "
     "2027-04-01 (--from): the quota table has no period of the plan year yet (periods: "
     "2027-01, 2027-02)"),
    ([], "give --actuals FILE, or --from DATE for a case from transactions ([source] in "
     "case.toml)"),
])
def test_pulse_from_errors(tmp_path: Path, args: list[str], message: str) -> None:
    folder = write_mini(tmp_path / "m")
    plan = tmp_path / "plan.toml"
    plan.write_text('[[metrics]]\nid = "bookings"\nweight = 1.0\naccelerator_rate = 2.0\n')
    result = invoke("pulse", str(folder), str(plan), *args, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {message}\n"
    assert not (tmp_path / "o").exists()


def test_pulse_from_needs_a_source(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('[[metrics]]\nid = "revenue"\nweight = 1.0\naccelerator_rate = 2.0\n')
    result = invoke("pulse", str(CONFORMANCE / "c1_budget_only"), str(plan), "--from",
                    "2027-01-01", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.stderr == ("Error: --from reads the actuals from the case's [source] "
                             "(MODEL.md section 11), but this case has attainment.csv; give "
                             "--actuals FILE\n")


def test_the_python_example_of_the_docs_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    page = (Path(__file__).parent.parent / "docs" / "data-sources.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/data-sources.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out == ["[[0.6  0.75]", " [0.5  1.3 ]]", "optimal"]


def test_a_batch_notices_a_changed_ledger(tmp_path: Path) -> None:
    from compplan.batch.store import case_fingerprint

    folder = write_mini(tmp_path / "m")
    before = case_fingerprint(load_case(folder))
    assert case_fingerprint(load_case(folder)) == before
    (folder / "deals.csv").write_text(DEALS.replace("R1,2027-02-03,new,900",
                                                    "R1,2027-02-03,new,950"))
    assert case_fingerprint(load_case(folder)) != before


def test_a_sweep_over_a_ledger_case(tmp_path: Path) -> None:
    folder = write_mini(tmp_path / "m")
    result = invoke("sweep", str(folder), "--budget", "0.5:1.0:3", "--out",
                    str(tmp_path / "sweep"), "-q", "--workers", "1")
    assert result.exit_code == 0, result.output
    batch = json.loads((tmp_path / "sweep" / "batch.json").read_text())
    assert len(batch["candidates"]) == 3
    assert batch["case_name"] == "Mini ledger"


MORE_BAD = [
    (dict(deals="owner,day,kind,amount\n"),
     "deals.csv: holds no transactions (a header, then one row per transaction)"),
    (dict(deals=""), "deals.csv: is empty (a header, then one row per transaction)"),
    (dict(deals=DEALS.replace("R1,2027-02-03,new,900", "R1,2027-02-03,new,nine hundred")),
     "deals.csv, line 5, amount: 'nine hundred' is not a number ([metrics.bookings] sum = "
     "'amount')"),
    (dict(deals=DEALS.replace("R1,2027-02-03,new,900", "R1,2027-02-03,new,9e12")),
     "case.toml, [metrics.bookings]: the attainment of rep 'R1' on metric 'bookings' in "
     "period '2027-02' is above 1e+06: 9e+12 / quota 1200 = 7.5e+09 (check the quota's unit "
     "against the metric's)"),
    (dict(deals=DEALS.replace("R1,2027-02-03,new,900", "R1,2027-02-03,new,inf")),
     "case.toml, [metrics.bookings] sum: gives no finite value for the transaction at "
     "deals.csv, line 5 (an empty cell, or a division by 0?)"),
    (dict(case=sub(C, TX, 'transactions = "/nonexistent/deals.csv"')),
     "case.toml, [source] transactions: the file '/nonexistent/deals.csv' does not exist "
     "(looked for /nonexistent/deals.csv)"),
]


@pytest.mark.parametrize(("files", "message"), MORE_BAD)
def test_more_bad_sources(tmp_path: Path, files: dict[str, str], message: str) -> None:
    folder = write_mini(tmp_path / "case", **files)
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == message


def test_a_glob_of_files_names_the_file_and_line(tmp_path: Path) -> None:
    folder = write_mini(tmp_path / "case", case=sub(C, TX, 'transactions = "parts/*.csv"'))
    (folder / "parts").mkdir()
    (folder / "parts" / "a.csv").write_text(DEALS)
    (folder / "parts" / "b.csv").write_text("owner,day,kind,amount\nR1,2027-01-07,new,10\n"
                                            "R2,2027-01-32,new,5\n")
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == "b.csv, line 3, day: '2027-01-32' is not a date (YYYY-MM-DD)"
    (folder / "parts" / "b.csv").write_text("owner,day,kind,amount\nR1,2027-01-07,new,10\n")
    case = load_case(folder)
    assert case.attainment[0, 0, 0] == (600 + 10) / 1000
    assert case.ledger.report.rows == 9


def test_a_broken_parquet_file(tmp_path: Path) -> None:
    folder = write_mini(tmp_path / "case", case=sub(C, TX, 'transactions = "deals.parquet"'))
    (folder / "deals.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value).startswith("deals.parquet: cannot be read as Parquet: ")


def test_metric_by_metric_gives_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    from compplan.models import ledger

    together = load_case(CONFORMANCE / "c9_ledger")
    monkeypatch.setattr(ledger, "_all_metrics", lambda *args, **kwargs: None)
    one_by_one = load_case(CONFORMANCE / "c9_ledger")
    assert one_by_one.attainment.tobytes() == together.attainment.tobytes()
    assert one_by_one.ledger.report == together.ledger.report


def test_an_empty_amount_of_a_rep_off_the_plan_is_named_too(tmp_path: Path) -> None:
    quotas = sub(sub(QUOTAS, "R1,bookings,2027-02,1200\n", ""), "R1,deals,2027-02,1\n", "")
    folder = write_mini(tmp_path / "m", case=C + "\n[scenarios]\nallow_absent = true\n",
                        quotas=quotas,
                        deals=DEALS.replace("R1,2027-02-03,new,900", "R1,2027-02-03,new,"))
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == ("case.toml, [metrics.bookings] sum: gives no finite value for "
                               "the transaction at deals.csv, line 5 (an empty cell, or a "
                               "division by 0?)")


def test_parquet_files_name_the_file_and_row(tmp_path: Path) -> None:
    folder = write_mini(tmp_path / "case", case=sub(C, TX, 'transactions = "parts/*.parquet"'))
    (folder / "parts").mkdir()
    deals = pd.read_csv(folder / "deals.csv", dtype={"day": str})
    deals.iloc[:4].to_parquet(folder / "parts" / "a.parquet", index=False)
    rest = deals.iloc[4:].reset_index(drop=True)
    rest.loc[1, "day"] = "2027-02-30"
    rest.to_parquet(folder / "parts" / "b.parquet", index=False)
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == "b.parquet, row 2, day: '2027-02-30' is not a date (YYYY-MM-DD)"
    rest.loc[1, "day"] = "2027-02-15"
    rest.to_parquet(folder / "parts" / "b.parquet", index=False)
    assert load_case(folder).attainment.tobytes() == load_case(
        write_mini(tmp_path / "csv")).attainment.tobytes()


@pytest.mark.parametrize("where", ["/etc/quota_plan.csv", "../quota_plan.csv"])
def test_the_quota_table_stays_in_the_case_folder(tmp_path: Path, where: str) -> None:
    folder = write_mini(tmp_path / "case", case=sub(C, QP, f'quotas = "{where}"'))
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == (f"case.toml, [source] quotas: '{where}' is outside the case "
                               "folder: give a file in it (only [source] transactions may be "
                               "elsewhere)")


def test_a_calendar_in_the_case_folder(tmp_path: Path) -> None:
    cal = "period,start,end\nJan,2027-01-01,2027-01-31\nFeb,2027-02-01,2027-02-28\n"
    quotas = QUOTAS.replace("2027-01", "Jan").replace("2027-02", "Feb")
    folder = write_mini(tmp_path / "case", case=sub(C, 'period = "month"',
                                                     'calendar = "cal.csv"'), quotas=quotas)
    (folder / "cal.csv").write_text(cal)
    case = load_case(folder)
    assert case.periods == ("Jan", "Feb")
    assert case.attainment.tobytes() == load_case(write_mini(tmp_path / "m")).attainment.tobytes()
    (folder / "cal.csv").write_text(cal.replace("2027-02-01", "2027-01-31"))
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == ("cal.csv, line 3, start: period 'Feb' starts on 2027-01-31, "
                               "inside period 'Jan' (2027-01-01 to 2027-01-31): periods may "
                               "not overlap")
    (folder / "cal.csv").write_text(cal.replace("2027-02-28", "2027-01-20"))
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == ("cal.csv, line 3, end: period 'Feb' ends (2027-01-20) before it "
                               "starts (2027-02-01)")
    (folder / "cal.csv").write_text(cal + "Mar,2027-03-01,2027-03-31\n")
    with pytest.raises(CaseError) as info:
        load_case(folder)
    assert str(info.value) == ("cal.csv, line 4, period: period 'Mar' has no quota row in "
                               "quota_plan.csv (the case's periods are those of the quota "
                               "table and must be the calendar's)")


def test_quarters(tmp_path: Path) -> None:
    quotas = ("rep_id,metric,period,quota\nR1,bookings,2027-Q1,3000\nR1,deals,2027-Q1,4\n"
              "R2,bookings,2027-Q1,2000\nR2,deals,2027-Q1,5\n")
    toml = sub(C, 'period = "month"', 'period = "quarter"')
    case = load_case(write_mini(tmp_path / "q", case=toml, quotas=quotas))
    assert case.periods == ("2027-Q1",)
    # R1: bookings 600 + 900, deals 3 (two new, one renewal); R2: 1000 - 200 + 1500, 3 deals.
    assert case.attainment[:, :, 0].tolist() == [[1500 / 3000, 3 / 4], [2300 / 2000, 3 / 5]]
    assert case.ledger.report.outside_rows == 1      # 2026-12-31
    bad = write_mini(tmp_path / "bad", case=toml, quotas=quotas.replace("2027-Q1,4", "2027-Q5,4"))
    with pytest.raises(CaseError) as info:
        load_case(bad)
    assert str(info.value) == ("quota_plan.csv, line 3, period: period '2027-Q5' is not a "
                               "quarter label (YYYY-Qn, e.g. 2027-Q1; [source] period = "
                               "\"quarter\")")


def test_timestamps_count_by_their_date_as_stored(tmp_path: Path) -> None:
    # Each date as a timestamp of that day (midnight, late evening): no time-zone shift.
    stamps = {"2027-01-05": "2027-01-31 23:30:00", "2027-01-20": "2027-01-20 08:00:00",
              "2027-01-10": "2027-01-10 00:00:00", "2027-02-03": "2027-02-01 00:00:00",
              "2027-02-14": "2027-02-14 12:00:00", "2027-02-15": "2027-02-15 23:59:59",
              "2027-02-01": "2027-02-01 09:00:00", "2026-12-31": "2026-12-31 23:59:59"}
    lines = DEALS.splitlines()
    for i, line in enumerate(lines[1:], start=1):
        owner, day, rest = line.split(",", 2)
        lines[i] = f"{owner},{stamps[day]},{rest}"
    case = load_case(write_mini(tmp_path / "ts", deals="\n".join(lines) + "\n"))
    assert case.attainment.tobytes() == load_case(write_mini(tmp_path / "d")).attainment.tobytes()
    assert case.ledger.report.outside_rows == 1


def test_a_sweep_of_a_case_from_frames_needs_a_folder(tmp_path: Path) -> None:
    import compplan
    from compplan.errors import UsageError

    folder = CONFORMANCE / "c1_budget_only"
    case = compplan.Case.from_frames((folder / "case.toml").read_text(),
                                     pd.read_csv(folder / "reps.csv"),
                                     pd.read_csv(folder / "attainment.csv"))
    with pytest.raises(UsageError) as info:
        compplan.sweep(case, 0.8, 1.0, 2, out=tmp_path / "sweep")
    assert str(info.value) == (
        "a sweep needs a case folder (a sweep is a batch: it records the case's files and "
        "resumes from them); this case was built from DataFrames: write its tables to a "
        "folder and load that")
    assert not (tmp_path / "sweep").exists()
