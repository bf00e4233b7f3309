"""Start-up stays cheap: --version and --help load no pandas, numpy, Pyomo or pydantic.

Timings are measured by bench/startup.py (docs/benchmarks.md); this test guards the
cause of a slow start, the imports, which do not depend on the machine's load.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "pyomo", "pydantic", "pyarrow", "matplotlib", "jinja2",
         "compplan.models.case", "compplan.api")


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_start_up_imports_nothing_heavy(args: list[str]) -> None:
    code = ("import sys\n"
            "from compplan.cli.main import main\n"
            f"main({args!r}, standalone_mode=False)\n"
            f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.splitlines()[-1] == "LOADED []"
