"""Print benchtrail's package import graph and fail on a forbidden edge (issue 10).

Reads ``src/benchtrail/**/*.py`` as text (nothing is imported or run) and finds every import:
module level or inside a function, ``from x import y`` and relative ones. An import under
``if TYPE_CHECKING:`` is type-only: shown with ``(type)``, never a violation. A unit is a
top-level module or subpackage (``cli``, ``bench``, ``results``...); the package's own
``__init__.py`` is ``__init__``. Forbidden edges are marked ``!`` and listed, one a line, as
``src/benchtrail/path.py:LINE: results imports benchtrail.bench (forbidden: ...)``.
Imports by computed name (``importlib.import_module(name)``) are not seen.

The rules (../shared/STYLE.md section 1, issue 10 "What to build"):
  - library packages (bench, results, compare, report, gitlab, importers) import no
    cli, commands, console, nor click;
  - errors and deadlines are leaves that any package may import (below, "errors" means both);
  - results imports only errors; compare only results and errors (and no git, no
    subprocess, none of results' git modules: gitrepo, store, history); bench, gitlab, importers only results and errors (gitlab also compare);
    report only compare, results and errors;
  - nothing but __main__ imports cli.

Usage: python tools/import_graph.py [--format text|dot] [--root src/benchtrail]
Exit status: 0 when no edge is forbidden, 1 when one is.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "benchtrail"
# Third-party packages worth seeing in the graph (and subprocess, which compare must not run);
# display names where the import name is ambiguous.
NOTABLE = {"click": "click", "git": "GitPython", "docker": "docker", "gitlab": "python-gitlab",
           "matplotlib": "matplotlib", "numpy": "numpy", "jsonschema": "jsonschema",
           "requests": "requests", "aiohttp": "aiohttp", "psutil": "psutil", "pynvml": "pynvml",
           "tabulate": "tabulate", "jinja2": "jinja2", "subprocess": "subprocess"}
LIBRARY = ("bench", "results", "compare", "report", "gitlab", "importers")
# Which benchtrail units each library package may import, besides itself and __init__.
# errors and deadlines are leaves (deadlines imports only errors): every package may use them.
_LEAVES = {"errors", "deadlines"}
ALLOWED = {"results": _LEAVES, "compare": {"results"} | _LEAVES, "bench": {"results"} | _LEAVES,
           "importers": {"results"} | _LEAVES, "gitlab": {"compare", "results"} | _LEAVES,
           "report": {"compare", "results"} | _LEAVES}
FORBIDDEN_EXTERNAL = {unit: {"click"} for unit in LIBRARY} | {"compare": {"click", "git", "subprocess"}}
# compare is pure: it reads records, never the results branch
IMPURE_RESULTS = ("benchtrail.results.gitrepo", "benchtrail.results.store", "benchtrail.results.history")


@dataclass(frozen=True)
class Edge:
    path: Path
    line: int
    source: str  # the importing unit
    target: str  # a benchtrail unit, or a NOTABLE display name
    module: str  # as imported, for the message: "benchtrail.bench.runner", "click"
    internal: bool
    type_only: bool


def unit_of(parts: list[str], units: set[str]) -> str:
    """The unit a dotted benchtrail name lies in (``__init__`` for the package itself)."""
    return parts[1] if len(parts) > 1 and parts[1] in units else "__init__"


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(node: ast.AST, package: list[str]) -> list[list[str]]:
    """Dotted names an import statement loads, relative ones made absolute."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".") for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = package[: len(package) - node.level + 1] if node.level else []
    head = base + (node.module.split(".") if node.module else [])
    # `from benchtrail import errors` names a submodule: count that, not the package.
    return [head + [alias.name] for alias in node.names] if len(head) == 1 else [head]


def file_edges(path: Path, root: Path, units: set[str]) -> list[Edge]:
    name = root.name
    rel = path.relative_to(root).with_suffix("").parts
    package = [name, *rel[:-1]]  # what a relative import with one dot starts from
    source = unit_of([name, *rel], units)
    edges: list[Edge] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for parts in imported_names(node, package):
                module = ".".join(parts)
                if parts[0] == name:
                    target = unit_of(parts, units)
                    if target != source:
                        edges.append(Edge(path, node.lineno, source, target, module, True, type_only))
                elif parts[0] in NOTABLE and not (isinstance(node, ast.ImportFrom) and node.level):
                    edges.append(Edge(path, node.lineno, source, NOTABLE[parts[0]], parts[0], False, type_only))
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False)
    return edges


def violation(edge: Edge) -> str | None:
    """Why an edge is forbidden, or None."""
    if edge.type_only:
        return None
    if edge.internal and edge.target == "cli" and edge.source != "__main__":
        return "nothing but __main__ imports cli"
    if edge.source not in LIBRARY:
        return None
    if not edge.internal:
        if edge.module in FORBIDDEN_EXTERNAL[edge.source]:
            banned = ", ".join(sorted(NOTABLE[m] for m in FORBIDDEN_EXTERNAL[edge.source]))
            return f"{edge.source} imports none of {banned}"
        return None
    if edge.target in ("cli", "commands", "console"):
        return "library packages do not import cli, commands or console"
    if edge.target not in ALLOWED[edge.source] | {"__init__"}:
        return f"{edge.source} may import only {', '.join(sorted(ALLOWED[edge.source]))}"
    if edge.source == "compare" and edge.module.startswith(IMPURE_RESULTS):
        return "compare is pure: it reads no git (results.gitrepo, results.store, results.history)"
    return None


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def grouped(edges: list[Edge], bad: set[Edge]) -> dict[tuple[str, str], str]:
    """(source, target) -> "!" when any import site is forbidden, "(type)" when all are
    type-only, else ""."""
    sites: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        sites.setdefault((edge.source, edge.target), []).append(edge)
    return {key: "!" if any(e in bad for e in group) else "(type)" if all(e.type_only for e in group) else ""
            for key, group in sites.items()}


def text_graph(units: list[str], edges: list[Edge], bad: set[Edge], root: Path, files: int) -> str:
    marks = grouped(edges, bad)
    lines = [f"import graph of {shown(root)} ({files} files); ! forbidden, (type) under TYPE_CHECKING only",
             "unit -> benchtrail units | third-party (and subprocess)"]
    width = max(map(len, units))
    for unit in units:
        inside = sorted(t + m for (s, t), m in marks.items() if s == unit and t in units)
        outside = sorted((t + m for (s, t), m in marks.items() if s == unit and t not in units), key=str.lower)
        lines.append(f"{unit:<{width}} -> {', '.join(inside) or '-'}" + (f" | {', '.join(outside)}" if outside else ""))
    return "\n".join(lines)


def dot_graph(units: list[str], edges: list[Edge], bad: set[Edge]) -> str:
    styles = {"!": "color=red, penwidth=2", "(type)": "style=dashed", "": "color=black"}
    lines = ["digraph benchtrail {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    lines += [f'  "{unit}";' for unit in units]
    lines += [f'  "{name}" [shape=ellipse, color=gray50, fontcolor=gray30];'
              for name in sorted({e.target for e in edges if not e.internal})]
    lines += [f'  "{s}" -> "{t}" [{styles[m] if m or t in units else "color=gray60"}];'
              for (s, t), m in sorted(grouped(edges, bad).items())]
    return "\n".join(lines + ["}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=("text", "dot"), default="text")
    parser.add_argument("--root", type=Path, default=ROOT, help="the package folder (default: %(default)s)")
    args = parser.parse_args(argv)
    root: Path = args.root
    files = sorted(root.rglob("*.py"))
    if not (root / "__init__.py").is_file():
        print(f"error: {root}: not a package (no __init__.py)", file=sys.stderr)
        return 2
    units = {p.relative_to(root).parts[0].removesuffix(".py") for p in files} - {"__init__"}
    edges = [edge for path in files for edge in file_edges(path, root, units)]
    bad = {edge for edge in edges if violation(edge)}
    ordered = sorted(units | {"__init__"}, key=lambda u: (u not in ("__init__", "__main__"), u))
    print(dot_graph(ordered, edges, bad) if args.format == "dot" else text_graph(ordered, edges, bad, root, len(files)))
    for edge in sorted(bad, key=lambda e: (str(e.path), e.line, e.module)):
        print(f"{shown(edge.path)}:{edge.line}: {edge.source} imports {edge.module} "
              f"(forbidden: {violation(edge)})", file=sys.stderr)
    if bad:
        print(f"{len(bad)} forbidden import(s)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
