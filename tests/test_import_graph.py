"""tools/import_graph.py: the package import graph, and its forbidden edges, as a real process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "import_graph.py"

CLEAN = {
    "__init__.py": '__version__ = "0"\n',
    "__main__.py": "from benchtrail.cli import main\n",
    "cli.py": "import click\nfrom benchtrail import commands\n",
    "console.py": "import click\n",
    "errors.py": "class BenchtrailError(Exception):\n    pass\n",
    "commands/__init__.py": "",
    "commands/compare_runs.py": "from benchtrail.compare import decide\nfrom benchtrail.console import progress\n",
    "results/__init__.py": "",
    "results/record.py": "import jsonschema\nfrom ..errors import BenchtrailError\nfrom . import schema\n",
    "results/schema.py": "",
    "compare/__init__.py": "from .rule import decide\n",
    "compare/rule.py": "import numpy as np\nfrom benchtrail.results.record import Record\n",
    "bench/__init__.py": "",
    "bench/runner.py": "import subprocess\nimport docker\nfrom benchtrail import errors\n",
    "gitlab/__init__.py": "",
    "gitlab/notes.py": "import gitlab\nfrom benchtrail.compare import decide\n",
}


def make_tree(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    root = tmp_path / "src" / "benchtrail"
    for name, text in {**CLEAN, **(extra or {})}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def run_graph(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd=cwd)


def graph_lines(stdout: str) -> dict[str, str]:
    """unit -> what follows its arrow, from the text graph."""
    return {unit.strip(): rest for unit, _, rest in (line.partition(" -> ") for line in stdout.splitlines()[2:])}


def test_clean_tree_exits_0_and_prints_the_graph(tmp_path: Path) -> None:
    make_tree(tmp_path)
    done = run_graph("--root", "src/benchtrail", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    lines = graph_lines(done.stdout)
    assert lines["compare"] == "results | numpy"
    assert lines["results"] == "errors | jsonschema"
    assert lines["bench"] == "errors | docker, subprocess"
    assert lines["gitlab"] == "compare | python-gitlab"
    assert lines["commands"] == "compare, console"
    assert lines["__main__"] == "cli"


def test_forbidden_edge_exits_1_naming_file_line_and_rule(tmp_path: Path) -> None:
    make_tree(tmp_path, {"results/store.py": "import json\n\n\ndef load():\n"
                                             "    from benchtrail.bench.runner import run\n"})
    done = run_graph("--root", "src/benchtrail", cwd=tmp_path)
    assert done.returncode == 1
    assert ("src/benchtrail/results/store.py:5: results imports benchtrail.bench.runner "
            "(forbidden: results may import only deadlines, errors)") in done.stderr
    assert graph_lines(done.stdout)["results"] == "bench!, errors | jsonschema"


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("compare/confirm.py", "from ..console import progress\n",
     "compare/confirm.py:1: compare imports benchtrail.console (forbidden: library packages do not import"),
    ("compare/baseline.py", "from benchtrail.results.history import iter_records\n",
     "compare/baseline.py:1: compare imports benchtrail.results.history (forbidden: compare is pure: it reads no git"),
    ("compare/workflow.py", "import os\nimport git\n",
     "compare/workflow.py:2: compare imports git (forbidden: compare imports none of GitPython, click, subprocess)"),
    ("importers/__init__.py", "import click\n", "importers/__init__.py:1: importers imports click (forbidden:"),
    ("bench/suite.py", "from benchtrail import gitlab\n",
     "bench/suite.py:1: bench imports benchtrail.gitlab (forbidden: bench may import only deadlines, errors, results)"),
    ("console.py", "from benchtrail.cli import main\n", "console.py:1: console imports benchtrail.cli (forbidden: "
                                                        "nothing but __main__ imports cli)"),
])
def test_each_rule_is_enforced(tmp_path: Path, name: str, text: str, expected: str) -> None:
    make_tree(tmp_path, {name: text})
    done = run_graph("--root", "src/benchtrail", cwd=tmp_path)
    assert done.returncode == 1
    assert f"src/benchtrail/{expected}" in done.stderr


def test_type_checking_imports_are_shown_but_not_forbidden(tmp_path: Path) -> None:
    make_tree(tmp_path, {"results/history.py": """\
        from typing import TYPE_CHECKING
        import typing

        if TYPE_CHECKING:
            from benchtrail.bench.runner import Runner
        if typing.TYPE_CHECKING:
            import click
        """})
    done = run_graph("--root", "src/benchtrail", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert graph_lines(done.stdout)["results"] == "bench(type), errors | click(type), jsonschema"


def test_dot_format_marks_the_forbidden_edge_red(tmp_path: Path) -> None:
    make_tree(tmp_path, {"compare/steps.py": "from benchtrail.bench import run\n"})
    done = run_graph("--format", "dot", "--root", "src/benchtrail", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("digraph benchtrail {") and done.stdout.rstrip().endswith("}")
    assert '"compare" -> "bench" [color=red, penwidth=2];' in done.stdout
    assert '"compare" -> "results" [color=black];' in done.stdout


def test_benchtrail_has_no_forbidden_import() -> None:
    done = run_graph(cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
