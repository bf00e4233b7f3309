"""The Makefile's set-up steps, run with stand-in tools (no root, no network, no apt)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
MAKE = shutil.which("make")
LOCKED = "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)"


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
@pytest.mark.parametrize(("target", "name", "purpose"), [
    ("spreadsheet", "LibreOffice", "the workbook's recalculation test"),
    ("postgres", "PostgreSQL", "the database tests"),
])
def test_apt_get_failing_says_why(tmp_path: Path, target: str, name: str, purpose: str) -> None:
    """Issue 19: 'make test' hid why apt-get failed (another apt-get holding the lock
    showed only "could not install"); now apt-get's own error lines are shown, by every
    set-up step (one script, tools/need.sh)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("mktemp", "grep", "awk", "tail", "sed", "rm"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} is not installed")
        (bin_dir / tool).symlink_to(found)
    # Root, none of the tools on PATH, and an apt-get that finds the lock held.
    (bin_dir / "id").write_text("#!/bin/sh\necho 0\n")
    (bin_dir / "apt-get").write_text(f"#!/bin/sh\necho 'Reading package lists...'\n"
                                     f"echo '{LOCKED}' >&2\nexit 100\n")
    for tool in ("id", "apt-get"):
        os.chmod(bin_dir / tool, 0o755)
    assert MAKE is not None
    done = subprocess.run([MAKE, "-s", "-C", str(ROOT), target], capture_output=True,
                          text=True, env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
                          timeout=60)
    assert done.returncode == 0, done.stderr  # never fails the build
    assert done.stdout == (
        f"installing {name} for {purpose} (apt-get)\n"
        f"note: apt-get could not install {name} (its own words below); {purpose} will be "
        "skipped\n"
        f"  apt-get: {LOCKED}\n")
