"""A small case from transactions, computable by hand (tests of MODEL.md section 11)."""

from __future__ import annotations

from pathlib import Path

CASE_TOML = """\
[case]
name = "Mini ledger"

[source]
transactions = "deals.csv"
rep = "owner"
date = "day"
period = "month"
quotas = "quota_plan.csv"

[goals]
growth = 1.0

[metrics.bookings]
sum = "amount"
where = "kind = 'new'"
threshold = 0.5
cap = 2.0
alignment = { growth = 1.0 }

[metrics.deals]
count = true
threshold = 0.3
cap = 2.0
alignment = { growth = 0.5 }

[design]
max_metrics = 2
"""
REPS = "rep_id,segment,target_incentive\nR1,North,1000\nR2,South,2000\n"
# Lines: 2..9. Bookings (kind = 'new'): R1 Jan 600, R2 Jan 1000, R1 Feb 900,
# R2 Feb -200 + 1500 = 1300; X9 is not on the roster; 2026-12-31 is outside every period.
DEALS = """\
owner,day,kind,amount
R1,2027-01-05,new,600
R1,2027-01-20,renewal,50
R2,2027-01-10,new,1000
R1,2027-02-03,new,900
R2,2027-02-14,new,-200
R2,2027-02-15,new,1500
X9,2027-02-01,new,10
R1,2026-12-31,new,5
"""
QUOTAS = """\
rep_id,metric,period,quota
R1,bookings,2027-01,1000
R1,deals,2027-01,2
R2,bookings,2027-01,2000
R2,deals,2027-01,1
R1,bookings,2027-02,1200
R1,deals,2027-02,1
R2,bookings,2027-02,1000
R2,deals,2027-02,4
"""
# x[rep, metric, period] by hand: bookings / quota, deals (every kind) / quota.
EXPECTED = {
    ("R1", "bookings"): [0.6, 0.75], ("R2", "bookings"): [0.5, 1.3],
    ("R1", "deals"): [1.0, 1.0], ("R2", "deals"): [1.0, 0.5],
}


def write_mini(folder: Path, *, case: str = CASE_TOML, reps: str = REPS, deals: str = DEALS,
               quotas: str = QUOTAS) -> Path:
    """Write the mini case into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.toml").write_text(case)
    (folder / "reps.csv").write_text(reps)
    (folder / "deals.csv").write_text(deals)
    (folder / "quota_plan.csv").write_text(quotas)
    return folder
