"""Every example runs as documented: each command's --help example, and each shell
command in README.md and docs/*.md (sqlite-utils keeps such a test).

A documented command runs in a scratch folder holding the repository's ``cases/``, in
the order of its page (later commands use what earlier ones wrote, as a reader's
would), and must exit as its page says: 3 when the output shown says no plan fits, 2
when it shows another ``Error:``, else 0 (3 also where the output points at an
``infeasibility.json``). Files a page refers to but does not make
(``plans/fy27/plan.json``, a batch folder, a spec shown as a TOML block) are made first.
A command with ``--scheduler tcp://...`` runs on a real Dask cluster (a scheduler and
two worker processes) started for the session, its address in place of the page's.
Commands that need an interrupt, a user's own files or ``make`` are skipped with the
reason.
"""

from __future__ import annotations

import atexit
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from compplan.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Commands that cannot run here, by a piece of their text, with the reason.
SKIP = {
    "my_case": "a user's own (broken) case folder, not in the repository",
    "validate joiners": "a user's own case folder (with joiners and leavers), not in the "
                        "repository; tests/test_joiners.py checks the same messages",
    "runs/typo.toml": "the page shows the spec's error, not the spec",
    "runs/bad.toml": "the page shows the spec's error, not the spec",
    "--budget 0.8:1.1:200": "shows Ctrl-C part-way through a 200-candidate sweep",
    "compplan studio": "serves a web page until Ctrl-C; tests/test_studio_*.py run it",
}


@dataclass
class Example:
    """One documented command and the exit code its page implies."""

    page: str
    line: int
    command: str
    expected: int
    skip: str | None = None
    blocks: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _expected_exit(output: list[str]) -> tuple[int, str | None]:
    text = "\n".join(output)
    if "^C" in text:
        return 130, "shows an interrupted run (Ctrl-C)"
    # Exit 3 (nothing fits) always points at its infeasibility.json.
    if "Error: no plan satisfies" in text or "infeasibility.json)" in text:
        return 3, None
    if re.search(r"^\^?C?Error:", text, re.M):
        return 2, None
    return 0, None


def _code_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """Code blocks of a Markdown page (fenced, or indented by four spaces)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            start, i = i + 1, i + 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            yield start + 1, lines[start:i]
        elif lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            start = i
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                i += 1
            yield start + 1, [line[4:] for line in lines[start:i]]
            continue
        i += 1


def _toml_blocks(text: str) -> dict[str, str]:
    """TOML blocks introduced by a line naming their file (`` `runs/x.toml`: ``)."""
    found = re.finditer(r"^`([\w./-]+\.toml)`:\s*\n+```toml\n(.*?)```", text, re.M | re.S)
    return {m.group(1): m.group(2) for m in found}


def page_examples(page: Path) -> list[Example]:
    text = page.read_text()
    name = page.relative_to(ROOT).as_posix()
    blocks = _toml_blocks(text)
    found = []
    for first, block in _code_lines(text):
        i = 0
        while i < len(block):
            line = block[i].strip()
            number = first + i
            i += 1
            if line.startswith("make "):
                found.append(Example(name, number, line.split("#")[0].strip(), 0,
                                     "make sets up its own environment (the suite runs in it)"))
                continue
            if not line.startswith("$ "):
                continue
            command = line[2:]
            while command.endswith("\\") and i < len(block):
                command = command[:-1] + " " + block[i].strip()
                i += 1
            output = []
            while i < len(block) and not block[i].strip().startswith("$ "):
                output.append(block[i])
                i += 1
            expected, skip = _expected_exit(output)
            if not command.startswith("compplan "):
                skip = skip or "not a compplan command"
            skip = skip or next((why for key, why in SKIP.items() if key in command), None)
            found.append(Example(name, number, command, expected, skip, blocks))
    return found


def _commands() -> dict[str, click.Command]:
    """Every command, the lazily loaded ones included (``main.commands`` has only those
    imported so far)."""
    ctx = click.Context(main)
    found = {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
    return {name: command for name, command in found.items() if command is not None}


def help_examples() -> list[Example]:
    # A spec an example names is the one the docs show.
    blocks = {k: v for page in PAGES for k, v in _toml_blocks(page.read_text()).items()}
    found = []
    assert isinstance(main, click.Group)
    for name, command in sorted(_commands().items()):
        lines = (command.help or "").splitlines()
        marks = [n for n, line in enumerate(lines) if line.strip().startswith("Example")]
        for n in marks:
            rest = lines[n + 1:]
            for i, line in enumerate(rest):
                if not line.strip().startswith("compplan "):
                    continue
                command = line.strip()
                for more in rest[i + 1:]:  # a command continued with a backslash
                    if not command.endswith("\\"):
                        break
                    command = command[:-1].rstrip() + " " + more.strip()
                found.append(Example(f"compplan {name} --help", 0, command, 0,
                                     next((why for key, why in SKIP.items()
                                           if key in command), None), blocks))
    return found


DOCUMENTED = [e for page in PAGES for e in page_examples(page)]
HELP = help_examples()


# ------------------------------------------------------------------------ running them

class Workspace:
    """A scratch folder holding ``cases/``, where a page's commands run in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cases").symlink_to(ROOT / "cases", target_is_directory=True)
        self.done: set[str] = set()

    def run(self, command: str) -> tuple[int, str]:
        args = shlex.split(_on_a_cluster(command))[1:]
        result = CliRunner().invoke(main, args, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    def prepare(self, example: Example) -> None:
        """Make the files the command names that its page did not make before it."""
        for path, text in example.blocks.items():
            if path in example.command and not (self.folder / path).exists():
                (self.folder / path).parent.mkdir(parents=True, exist_ok=True)
                (self.folder / path).write_text(text)
        for plan in re.findall(r"(plans/[\w-]+)/plan\.json", example.command):
            if not (self.folder / plan / "plan.json").exists():
                self.run(f"compplan optimise cases/enterprise_first --out {plan} -q")
        for plan in re.findall(r"(plans/[\w-]+)/org_plan\.json", example.command):
            if not (self.folder / plan / "org_plan.json").exists():
                self.run(f"compplan optimise cases/gtm_org --out {plan} -q")
        batch = re.search(r"--batch (\S+)", example.command)
        if batch and not (self.folder / batch.group(1) / "batch.json").exists():
            # A small batch stands in for the page's (same files, fewer candidates).
            self.run(f"compplan sweep cases/enterprise_first --budget 0.9:1.0:3 "
                     f"--out {batch.group(1)} -q --workers 1")


_WORKSPACES: dict[str, Workspace] = {}


@pytest.fixture
def workspace(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    example: Example = request.node.callspec.params["example"]
    key = example.page
    if key not in _WORKSPACES:
        folder = tmp_path_factory.mktemp(re.sub(r"\W+", "_", key))
        _WORKSPACES[key] = Workspace(folder)
    space = _WORKSPACES[key]
    monkeypatch.chdir(space.folder)
    yield space


_CLUSTER: list[object] = []


def _on_a_cluster(command: str) -> str:
    """``command`` with its ``--scheduler`` address replaced by a live local cluster's."""
    if "--scheduler tcp://" not in command:
        return command
    if not _CLUSTER:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        _CLUSTER.append(cluster)
        atexit.register(cluster.close)
    address = _CLUSTER[0].scheduler_address  # type: ignore[attr-defined]
    return re.sub(r"--scheduler tcp://\S+", f"--scheduler {address}", command)


def _check(space: Workspace, example: Example) -> None:
    if example.skip:
        pytest.skip(example.skip)

    # A page's earlier commands first (when this one runs alone, e.g. with -k).
    for earlier in DOCUMENTED:
        if earlier is example:
            break
        if earlier.page == example.page and not earlier.skip and earlier.id not in space.done:
            space.prepare(earlier)
            space.run(earlier.command)
            space.done.add(earlier.id)
    space.prepare(example)
    code, output = space.run(example.command)
    space.done.add(example.id)
    assert code == example.expected, (
        f"{example.id}: `{example.command}` exited {code}, documented {example.expected}\n"
        f"{output[-2000:]}")


@pytest.mark.parametrize("example", DOCUMENTED, ids=[e.id for e in DOCUMENTED])
def test_documented_command(workspace: Workspace, example: Example) -> None:
    _check(workspace, example)


@pytest.mark.parametrize("example", HELP, ids=[e.command for e in HELP])
def test_help_example(workspace: Workspace, example: Example) -> None:
    _check(workspace, example)


def test_examples_found() -> None:
    """The parser sees every page's commands and every command's example."""
    pages = {e.page for e in DOCUMENTED}
    assert {"README.md", "docs/views.md", "docs/batch.md", "docs/documents.md",
            "docs/reports.md"} <= pages
    with_help = {e.page for e in HELP}
    assert len(with_help) == len([c for c in _commands().values()
                                  if "Example" in (c.help or "")])
    assert sum(e.skip is None for e in DOCUMENTED) >= 20
