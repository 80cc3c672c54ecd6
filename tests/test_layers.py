"""The library's three layers, one folder each, with imports flowing one way: the science
(``adcrnn_lib/``) <- the experiments (``adcrnn_lib/experiments/``) <- the chapters
(``adcrnn_lib/chapters/``) <- the command line (``adcrnn_lib/cli.py``). Every import counts, those
inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "adcrnn_lib"
LAYERS = ("science", "experiments", "chapters", "cli")
#: Science modules the augmenters may use: a worker that only augments never loads the configuration, training or run code.
AUGMENT_MAY_USE = {"augment", "data", "exceptions", "features", "models", "profiles", "storage"}


def _module(path: Path) -> tuple[str, ...]:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def layer(module: tuple[str, ...]) -> str:
    """``("adcrnn_lib", "experiments", "cv")`` -> "experiments"; the package's top modules are the science, but cli."""
    inner = module[1:]
    if not inner:
        return "science"
    if inner[0] in ("experiments", "chapters"):
        return inner[0]
    return "cli" if inner[0] == "cli" else "science"


def imports(path: Path) -> list[tuple[int, tuple[str, ...]]]:
    """``(line, module)`` of every import of ``adcrnn_lib`` in ``path``, relative ones resolved;
    ``from . import a`` counts as importing module ``a``."""
    here = _module(path)
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, tuple(a.name.split("."))) for a in node.names if a.name.split(".")[0] == "adcrnn_lib"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + tuple(node.module.split(".")) if node.module else base
            else:
                target = tuple((node.module or "").split("."))
            if target[0] != "adcrnn_lib":
                continue
            found += [(node.lineno, target + (a.name,)) for a in node.names] if node.module is None else [(node.lineno, target)]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    mine = LAYERS.index(layer(_module(path)))
    upward = [f"line {line}: {'.'.join(target)} ({layer(target)})" for line, target in imports(path) if LAYERS.index(layer(target)) > mine]
    assert not upward, f"{path.relative_to(PACKAGE)} ({LAYERS[mine]}) imports a layer above it: {upward}"


def test_the_layers_are_folders_and_the_rule_is_not_empty():
    """Each layer has modules, and the checker sees imports (one known upward import would be caught)."""
    by_layer = {name: [p for p in MODULES if layer(_module(p)) == name] for name in LAYERS}
    assert all(by_layer.values()), {k: len(v) for k, v in by_layer.items()}
    cv = PACKAGE / "experiments" / "cv.py"
    assert ("adcrnn_lib", "train") in {t for _, t in imports(cv)}  # a relative import, resolved
    assert layer(("adcrnn_lib", "chapters", "facts")) == "chapters" and layer(("adcrnn_lib", "train")) == "science"


def test_augmenters_use_only_what_a_worker_that_augments_needs():
    for path in sorted((PACKAGE / "augment").glob("*.py")):
        used = {target[1] for _, target in imports(path) if len(target) > 1}
        assert used <= AUGMENT_MAY_USE, f"augment/{path.name} imports {sorted(used - AUGMENT_MAY_USE)}"
