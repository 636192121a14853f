"""The architecture as a test: layers import downward only, and modules stay small.

The package reads bottom-up: shared helpers (errors, atomic files, locks, the
engine), then ``data`` (reading, preparing, storing recordings), ``model`` (the
network and its file format), ``plots`` (figures of arrays), ``evaluation``
(metrics and reports over predictions), ``inference`` (a model file to
probabilities: staging, evaluating), ``gan`` and ``augment`` (synthetic
epochs), ``training`` (fitting, cross-validation), ``api`` (the Python API) and
``cli`` (argument parsing and printing). An import of a higher layer, even a
lazy one inside a function, is a failure.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "isatsleepnet"
LAYERS = ["base", "data", "model", "plots", "evaluation", "inference", "gan", "augment", "training", "api", "cli"]
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
