"""The house's rooms: import direction between the packages, and every command documented.

Layers, lowest first: the errors and version (``compplan``), ``models`` (the domain and
loading), ``optimizer`` (model, solve, analytics), ``render`` (everything that formats),
``batch`` (many candidates), ``compplan.api`` (the public API), ``studio`` (the web page,
above the API) and ``cli`` (click only; ``compplan studio`` starts the studio).
A module may import its own layer and the layers below, never one above.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest
from conftest import assert_exit, invoke

from compplan.cli.lazy import discover
from compplan.cli.main import main

ROOT = Path(__file__).parent.parent
FOLDERS = {"common": "compplan", "models": "compplan.models",
           "optimizer": "compplan.optimizer", "render": "compplan.render",
           "batch": "compplan.batch", "studio": "compplan.studio", "cli": "compplan.cli"}
LAYERS = ["compplan", "compplan.models", "compplan.optimizer", "compplan.render",
          "compplan.batch", "compplan.api", "compplan.studio", "compplan.cli"]
# Known wrong-way arrows, each with its reason; the list must only shrink.
ALLOWED = {
    # plan.csv and rep_rates.csv are written formula-safe; the writer stays in models/ until
    # the output transactions (issue 10) settle.
    ("compplan.models.output", "compplan.render.safe"),
    # compplan.batch is both the package and the API function batch(); the package, which
    # shadows the function once imported, is callable and calls it (imported on call).
    ("compplan.batch", "compplan.api"),
}


def layer(module: str) -> int:
    """The layer of a module: the longest prefix in LAYERS."""
    if module in ("compplan.errors", "compplan", "compplan.__main__"):
        return 0 if module != "compplan.__main__" else LAYERS.index("compplan.cli")
    return max(i for i, name in enumerate(LAYERS)
               if module == name or module.startswith(name + "."))


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """Every compplan module the file imports, at run time or for type checking."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("compplan")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("compplan"):
            base = node.module or ""
            known = modules()
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return found


def test_the_layers_cover_every_module() -> None:
    assert {"compplan.api", "compplan.render.figures", "compplan.batch.run",
            "compplan.studio.app"} <= set(modules())


def test_imports_point_down_the_layers() -> None:
    wrong = sorted((module, target) for module, path in modules().items()
                   for target in imports(path)
                   if layer(target) > layer(module) and (module, target) not in ALLOWED)
    assert wrong == []


def test_allowed_exceptions_still_exist() -> None:
    every = {(m, t) for m, path in modules().items() for t in imports(path)}
    assert every >= ALLOWED, "an allowed wrong-way import is gone: drop it from ALLOWED"


# ------------------------------------------------------------------------ commands

def commands() -> list[str]:
    """Every command by its own name (``optimize`` is an alias of ``optimise``)."""
    ctx = click.Context(main)
    return sorted(n for n in main.list_commands(ctx)
                  if getattr(main.get_command(ctx, n), "name", None) == n)


DOCS = "\n".join(p.read_text(encoding="utf-8")
                 for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


@pytest.mark.parametrize("name", commands())
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = invoke(name, "--help")
    assert_exit(result, 0)
    assert "Example" in result.stdout
    assert f"compplan {name}" in result.stdout.split("Example", 1)[1]


@pytest.mark.parametrize("name", commands())
def test_every_command_appears_in_the_readme_or_docs(name: str) -> None:
    assert re.search(rf"compplan {re.escape(name)}\b", DOCS), name


def test_lazy_listing_matches_the_commands() -> None:
    """What --help lists without importing is what the imported commands say."""
    ctx = click.Context(main)
    for name, lazy in discover().items():
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        assert click.Command(name, help=lazy.help).get_short_help_str() == \
            command.get_short_help_str()


def test_bench_scripts_shadow_no_module_the_standard_library_imports() -> None:
    # bench/ is the first entry of sys.path when a script there runs: a script named like
    # a module the standard library imports (``org``: copy.py tries ``org.python.core``)
    # breaks every other script of the folder at import time.
    import sys

    root = Path(__file__).parent.parent / "bench"
    taken = set(sys.stdlib_module_names) | {"org", "compplan", "numpy", "pandas", "pyomo"}
    assert sorted(p.stem for p in root.glob("*.py") if p.stem in taken) == []


@pytest.mark.parametrize("name", commands())
def test_default_outputs_land_under_the_ignored_out_folder(name: str) -> None:
    """Issue 19: defaults such as 'batch' (beside the batch/ package) or 'evaluation'
    landed in a checkout unnoticed; every default --out is under out/, which
    .gitignore leaves out."""
    command = main.get_command(click.Context(main), name)
    assert command is not None
    for param in command.params:
        if "--out" in getattr(param, "opts", []) and isinstance(param.default, str):
            assert str(param.default).startswith("out/"), (name, param.default)
    assert "out/" in (ROOT / ".gitignore").read_text().splitlines()
    assert not (ROOT / "evaluation").exists()


def test_render_modules_import_without_cycles() -> None:
    """Issue 19: report.py <-> report_pulse.py and workbook.py <-> workbook_pulse.py
    imported each other (one way inside a function); a pulse view is now handed in by
    its caller. No module of render/ reaches itself through its imports."""
    graph = {m: {t for t in imports(p) if t.startswith("compplan.render")}
             for m, p in modules().items() if m.startswith("compplan.render")}

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph.get(start, ()))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return seen

    assert sorted(m for m in graph if m in reach(m)) == []


#: What the command line may import besides its own modules (issue 19): the API, the
#: errors and the package; ``compplan studio`` starts the studio, which sits beside it.
CLI_MAY_IMPORT = {"compplan", "compplan.api", "compplan.errors"}


def test_the_command_line_imports_only_the_api() -> None:
    """cli/ is a thin layer: it parses, calls one API function and prints (issue 19)."""
    wrong = sorted((module, target) for module, path in modules().items()
                   if module.startswith("compplan.cli")
                   for target in imports(path)
                   if target not in CLI_MAY_IMPORT and not target.startswith("compplan.cli")
                   and not (module == "compplan.cli.studio"
                            and target.startswith("compplan.studio")))
    assert wrong == []
    assert not {(m, t) for m, t in ALLOWED if m.startswith("compplan.cli")}
