"""One way down (DESIGN.md, "Layout"): the apps stand on each other in one direction, with no
circle between them and no import hidden inside a function to dodge one.

The contracts are import-linter's, in pyproject.toml (`[tool.importlinter]`); this test runs
them, and checks what they cannot see: project imports inside functions, and the edges that
are not Python imports (a template's `{% load %}`, `{% include %}`, `{% extends %}` and
`{% url %}`, a `reverse("app:name")`). The only place a function-level import belongs is an
`AppConfig.ready()` (models are not loaded before it runs), where an app registers what it adds
to the pages of the apps below it (trial.registry).

`pytest -s tests/test_layers.py` prints the figures of the layout."""

from __future__ import annotations

import ast
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grimp
from django.template import engines
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES: list[str] = CONFIG["root_packages"]
# From the top down, as the layers contract lists them (the project first).
LAYERS: list[str] = next(c for c in CONFIG["contracts"] if c["type"] == "layers")["layers"]
PROJECT = "imrtrial"


def source_files(package: str) -> Iterator[Path]:
    """The package's own code: no migrations (generated, and they may name any app)."""
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.relative_to(ROOT).parts:
            yield path


def function_level_imports() -> list[str]:
    """Project imports inside a function body, other than in an AppConfig.ready()."""
    found: list[str] = []
    for package in PACKAGES:
        for path in source_files(package):
            tree = ast.parse(path.read_text(), filename=str(path))
            found.extend(_hidden_imports(tree, path))
    return found


def _hidden_imports(tree: ast.AST, path: Path) -> Iterator[str]:
    def visit(node: ast.AST, function: str | None) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            inner = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = child.name
            elif isinstance(child, ast.Import | ast.ImportFrom) and function is not None:
                if function == "ready" and path.name == "apps.py":
                    continue
                names = (
                    [child.module or ""]
                    if isinstance(child, ast.ImportFrom)
                    else [alias.name for alias in child.names]
                )
                if any(name.split(".")[0] in PACKAGES for name in names):
                    where = path.relative_to(ROOT)
                    yield f"{where}:{child.lineno} in {function}(): {', '.join(names)}"
            yield from visit(child, inner)

    yield from visit(tree, None)


def app_edges() -> Counter[tuple[str, str]]:
    """(importer app, imported app) -> number of module-to-module imports."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges: Counter[tuple[str, str]] = Counter()
    for module in graph.modules:
        importer = module.split(".")[0]
        for imported in graph.find_modules_directly_imported_by(module):
            target = imported.split(".")[0]
            if target != importer:
                edges[(importer, target)] += 1
    return edges


def cycles(edges: Counter[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected groups of more than one app (Tarjan)."""
    graph: dict[str, set[str]] = {app: set() for app in PACKAGES}
    for importer, imported in edges:
        graph[importer].add(imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(app: str) -> None:
        index[app] = low[app] = len(index)
        stack.append(app)
        for other in graph[app]:
            if other not in index:
                connect(other)
                low[app] = min(low[app], low[other])
            elif other in stack:
                low[app] = min(low[app], index[other])
        if low[app] == index[app]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == app:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for app in PACKAGES:
        if app not in index:
            connect(app)
    return groups


def upward(edges: Counter[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in edges if LAYERS.index(a) > LAYERS.index(b)]


# What names another app in a template or in code, without a Python import.
TEMPLATE_EDGE = re.compile(
    r"""\{%\s*load\s+(?P<libraries>[\w ]+?)\s*%\}"""
    r"""|\{%\s*(?:include|extends)\s+["'](?P<template>\w+)/"""
    r"""|\{%\s*url\s+["'](?P<url>\w+):"""
)
CODE_EDGE = re.compile(r"""(?:reverse|reverse_lazy|redirect)\(\s*["'](?P<url>\w+):""")


def _owner_of_library(name: str) -> str:
    """The package that defines a template tag library (`{% load name %}`)."""
    return engines["django"].engine.template_libraries[name].__module__.split(".")[0]  # type: ignore[attr-defined]


def _template_files() -> Iterator[tuple[str, Path]]:
    """(owning app, path) of every template of an app: templates/<app>/... or <app>/templates/."""
    for path in sorted((ROOT / "templates").rglob("*.html")):
        yield path.relative_to(ROOT / "templates").parts[0], path
    for package in PACKAGES:
        for path in sorted((ROOT / package / "templates").rglob("*.html")):
            yield package, path


def name_edges() -> list[str]:
    """Edges from an app to another that go through names, not imports: templates that load,
    include, extend or link to another app's, and code that reverses another app's URL."""
    found: list[tuple[str, str, Path]] = []
    for app, path in _template_files():
        for match in TEMPLATE_EDGE.finditer(path.read_text()):
            if match["libraries"]:
                for library in match["libraries"].split():
                    found.append((app, _owner_of_library(library), path))
            else:
                found.append((app, match["template"] or match["url"], path))
    for package in PACKAGES:
        for path in source_files(package):
            for match in CODE_EDGE.finditer(path.read_text()):
                found.append((package, match["url"], path))
    return [
        f"{path.relative_to(ROOT)}: {app} -> {target}"
        for app, target, path in found
        if app in LAYERS and target in LAYERS and LAYERS.index(app) > LAYERS.index(target)
    ]


def test_the_import_contracts_are_kept() -> None:
    # import-linter prints its report; on a broken contract it names every offending chain.
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_app_imports_one_above_it_and_no_apps_import_each_other() -> None:
    edges = app_edges()
    assert upward(edges) == []
    assert cycles(edges) == []


def test_no_project_import_hides_inside_a_function() -> None:
    assert function_level_imports() == []


def test_no_template_or_url_name_points_to_an_app_above() -> None:
    assert name_edges() == []


def test_the_name_edges_are_seen(tmp_path: Path) -> None:
    """The scanner finds each kind of edge (so that an empty list above means something)."""
    text = (
        '{% load randomization_tags i18n %}{% include "exports/x.html" %}'
        '{% extends "fidelity/y.html" %}{% url "reports:home" %}'
    )
    kinds = [(m["libraries"], m["template"], m["url"]) for m in TEMPLATE_EDGE.finditer(text)]
    assert kinds == [
        ("randomization_tags i18n", None, None),
        (None, "exports", None),
        (None, "fidelity", None),
        (None, None, "reports"),
    ]
    assert CODE_EDGE.search('redirect("randomization:result", pk=1)')["url"] == "randomization"  # type: ignore[index]
    assert _owner_of_library("i18n") == "django"


def test_the_figures_of_the_layout() -> None:
    """The figures of the issue's closing note (printed with `pytest -s`)."""
    edges = app_edges()
    lines = {
        package: sum(len(path.read_text().splitlines()) for path in source_files(package))
        for package in PACKAGES
    }
    apps = [p for p in PACKAGES if p != PROJECT]
    total = sum(lines[app] for app in apps)
    biggest = max(apps, key=lambda app: lines[app])
    print()
    print(f"apps: {len(apps)} ({', '.join(reversed([a for a in LAYERS if a != PROJECT]))})")
    print(
        f"import edges between apps: {len([e for e in edges if PROJECT not in e])} "
        f"({sum(n for e, n in edges.items() if PROJECT not in e)} module imports)"
    )
    print(f"upward edges: {len(upward(edges))}; cycles: {len(cycles(edges))}")
    print(f"function-level project imports: {len(function_level_imports())}")
    print(f"upward template and URL-name edges: {len(name_edges())}")
    for app in sorted(apps, key=lambda app: -lines[app]):
        print(f"  {app:<14} {lines[app]:>6} lines  {lines[app] / total:6.1%}")
    print(f"biggest app: {biggest}, {lines[biggest] / total:.1%} of {total} lines")
    # Every package of the project has its place in the layers.
    assert set(LAYERS) == set(PACKAGES)
