"""The architecture as a test: layers import downward only, and modules stay small.

The package reads bottom-up: shared helpers (errors, atomic files, locks, the
engine), then ``data`` (reading, preparing, storing recordings), ``model`` (the
network and its file format), ``plots`` (figures of arrays), ``evaluation``
(metrics and reports over predictions), ``inference`` (a model file to
probabilities: staging, evaluating), ``gan`` and ``augment`` (synthetic
epochs), ``training`` (fitting, cross-validation), ``api`` (the Python API) and
``cli`` (argument parsing and printing). An import of a higher layer, even a
lazy one inside a function, is a failure; so is a circle of imports among the
modules of one layer, counting imports under ``if TYPE_CHECKING:`` and inside
functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "isatsleepnet"
LAYERS = ["base", "data", "model", "plots", "evaluation", "inference", "gan", "augment", "training", "review", "api",
          "cli"]
MAX_LINES = 430  # "about 400 lines at most"


def layer_of(module: str) -> str:
    """``isatsleepnet.data.store`` -> data; a top-level module (errors, engine, ...) -> base."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in LAYERS:
        return parts[1]
    return "base"


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("isatsleepnet")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("isatsleepnet"):
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_layers(path: Path) -> None:
    name = ".".join(("isatsleepnet", *path.relative_to(PACKAGE).with_suffix("").parts))
    own = LAYERS.index(layer_of(name))
    upward = [f"line {line}: {module} ({layer_of(module)})" for line, module in imports_of(path)
              if module != "isatsleepnet" and LAYERS.index(layer_of(module)) > own]
    assert not upward, f"{name} ({layer_of(name)}) imports a higher layer: {'; '.join(upward)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines; split it by job"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from isatsleepnet.training.fit import train_split\n")
    assert imports_of(bad) == [(2, "isatsleepnet.training.fit")]
    assert LAYERS.index(layer_of("isatsleepnet.training.fit")) > LAYERS.index(layer_of("isatsleepnet.data.store"))


# --------------------------------------------------------------------------- no circle inside a layer
def package_imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every import of the package in ``path``, wherever it stands, as ``(line, "module.name")``.

    Strict on purpose: an import under ``if TYPE_CHECKING:`` still ties the two modules together
    (one cannot be read, or moved, without the other), and an import inside a function is how a
    circle hides until the function runs. ``module`` is the importing module's name, to resolve
    relative imports.
    """
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "isatsleepnet")
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            source = ".".join(part for part in (base, node.module or "") if part)
            if source.split(".")[0] == "isatsleepnet":
                found.extend((node.lineno, f"{source}.{a.name}") for a in node.names)
    return sorted(found)


def module_of(path: Path, package: Path) -> str:
    """``PACKAGE/data/store.py`` -> isatsleepnet.data.store; ``PACKAGE/data/__init__.py`` -> isatsleepnet.data."""
    parts = path.relative_to(package).with_suffix("").parts
    return ".".join(("isatsleepnet", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def layer_graph(package: Path) -> dict[str, dict[str, int]]:
    """Module -> {imported module of the same layer: line of its first import}, for every module of ``package``."""
    paths = {module_of(p, package): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    for name, path in paths.items():
        edges: dict[str, int] = {}
        for line, target in package_imports(path, name):
            # ``from a.b import c``: the module a.b.c when there is one, else a.b (the name c is defined in it)
            while target not in paths and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in paths and target != name and layer_of(target) == layer_of(name):
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One circle of imports as ``[a, b, ..., a]``, or None (depth-first search, modules in sorted order)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, {})):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def test_no_import_circle_inside_a_layer() -> None:
    graph = layer_graph(PACKAGE)
    cycle = find_cycle(graph)
    assert cycle is None, (f"modules of one layer import each other in a circle: {describe_cycle(cycle, graph)}; "
                           "move the shared piece into a lower module, type against a Protocol, pass a function in, "
                           "or move the function to the module that uses it (an import under TYPE_CHECKING or inside "
                           "a function counts too)")


def test_the_checker_sees_a_circle(tmp_path: Path) -> None:
    package = tmp_path / "isatsleepnet"
    (package / "api").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "api" / "__init__.py").write_text("")
    (package / "api" / "model.py").write_text("from isatsleepnet.api.night import Night\n")
    (package / "api" / "night.py").write_text("from isatsleepnet.api import epochs\n")
    (package / "api" / "epochs.py").write_text("import numpy\n\nimport isatsleepnet.api.model\n")
    (package / "api" / "views.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from isatsleepnet.api.model import Model\n"
        "def f():\n    from isatsleepnet.api.model import Model\n    from . import night\n")
    graph = layer_graph(package)
    # an import for annotations and imports inside a function count (the first line is shown), relative ones too
    assert graph["isatsleepnet.api.views"] == {"isatsleepnet.api.model": 3, "isatsleepnet.api.night": 6}
    cycle = find_cycle(graph)
    assert cycle == ["isatsleepnet.api.epochs", "isatsleepnet.api.model", "isatsleepnet.api.night",
                     "isatsleepnet.api.epochs"]
    assert describe_cycle(cycle, graph) == ("isatsleepnet.api.epochs (line 3) -> isatsleepnet.api.model (line 1) -> "
                                            "isatsleepnet.api.night (line 1) -> isatsleepnet.api.epochs")
    (package / "api" / "epochs.py").write_text("X = 1\n")  # the circle broken: nothing found
    assert find_cycle(layer_graph(package)) is None

    # a circle closed by an import under ``if TYPE_CHECKING:``
    (package / "api" / "night.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from isatsleepnet.api.model import Model\n")
    graph = layer_graph(package)
    assert describe_cycle(find_cycle(graph), graph) == (
        "isatsleepnet.api.model (line 1) -> isatsleepnet.api.night (line 4) -> isatsleepnet.api.model")

    # a circle closed by an import inside a function (a lazy import)
    (package / "api" / "night.py").write_text("def stage():\n    import isatsleepnet.api.model\n")
    graph = layer_graph(package)
    assert describe_cycle(find_cycle(graph), graph) == (
        "isatsleepnet.api.model (line 1) -> isatsleepnet.api.night (line 2) -> isatsleepnet.api.model")

    (package / "api" / "night.py").write_text("import numpy\n")  # nothing of the package: no circle
    assert find_cycle(layer_graph(package)) is None
