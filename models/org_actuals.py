"""Actuals of an organisation: one file per role in one folder (MODEL.md sections 7 and 8).

``ACTUALS_DIR/<role id>.csv`` (or ``.parquet``) holds the role's actual attainment in
the form of its ``attainment.csv``, for the elapsed periods of the plan year; every role
of ``org.toml`` has exactly one such file, and every file of the folder ending in
``.csv`` or ``.parquet`` is a role's (a misspelt role id is an error, not a file
silently left out). Every role's file covers the same elapsed periods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from compplan.errors import CaseError, UsageError
from compplan.models.actuals import Actuals, read_actuals
from compplan.models.org import Org
from compplan.models.tables import not_a_file

SUFFIXES = (".csv", ".parquet")


def role_files(folder: str | Path, org: Org) -> dict[str, Path]:
    """The actuals file of every role, by role id.

    Raises
    ------
    UsageError
        ``folder`` is not a folder.
    CaseError
        A role has no file or two (CSV and Parquet), or a file names no role.
    """
    root = Path(folder)
    ids = [r.id for r in org.roles]
    expected = ", ".join(f"{rid}.csv" for rid in ids)
    if not root.is_dir():
        raise UsageError(f"--actuals {folder}: for an organisation give a folder holding one "
                         f"file per role ({expected}; CSV or Parquet), each in the form of "
                         "the role's attainment.csv")
    # Role ids that differ only in case are refused (models/org.py), so SDR.CSV (a
    # Windows export) is role sdr's file, unambiguously.
    by_folded = {rid.casefold(): rid for rid in ids}
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.suffix.lower() not in SUFFIXES:
            continue
        rid = by_folded.get(path.stem.casefold())
        kind = not_a_file(path)
        if rid is not None and kind is not None:
            # A folder, FIFO, link loop or dangling link: named, not "is missing".
            raise CaseError(str(path), f"is {kind}, not a file; role '{rid}' needs its "
                                       "actuals in a regular file (CSV or Parquet)")
        if kind is not None:
            continue
        if rid is None:
            raise CaseError(str(path), f"names no role of the organisation (roles: "
                                       f"{', '.join(ids)}); name each role's actuals "
                                       "<role id>.csv or <role id>.parquet")
        if rid in found:
            raise CaseError(str(path), f"and {found[rid].name} both hold the actuals of "
                                       f"role '{rid}'; keep one of them")
        found[rid] = path
    for rid in ids:
        if rid not in found:
            raise CaseError(str(root / f"{rid}.csv"),
                            f"is missing: every role needs its actuals ({expected}; CSV or "
                            "Parquet) in the folder given to --actuals")
    return {rid: found[rid] for rid in ids}


def read_org_actuals(folder: str | Path, org: Org,
                     needed: Mapping[str, Sequence[str]]) -> dict[str, Actuals]:
    """Read every role's actuals (:func:`compplan.models.actuals.read_actuals`).

    Parameters
    ----------
    folder : str or Path
        The folder holding ``<role id>.csv`` (or ``.parquet``) per role.
    org : Org
        The organisation.
    needed : mapping of str to sequence of str
        Per role id, the metrics that must have a column (the role's plan's).

    Returns
    -------
    dict of str to Actuals
        By role id, in role order.

    Raises
    ------
    CaseError
        As :func:`role_files` and :func:`~compplan.models.actuals.read_actuals`.
    """
    # read_actuals names a file <role id>.csv by its name: the role is in the name.
    return {rid: read_actuals(path, org.role(rid).case, needed[rid])
            for rid, path in role_files(folder, org).items()}
