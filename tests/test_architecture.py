"""The package's layering, checked on its source (see
doc/developers/architecture.rst): which module may import which, no import
cycles, and no module or function too long to read at once.

Imports are read with ``ast``, at module level and inside functions alike, so
an import moved into a function to dodge a cycle still counts.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sktaaf"
BENCHMARKS = ROOT / "benchmarks"

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100
# Offenders of the size rules, each with the reason it is allowed for now;
# the lead shrinks this list as they are split.
ALLOWED_LONG_MODULES: dict[str, str] = {}
ALLOWED_LONG_FUNCTIONS: dict[str, str] = {}

# The estimator layer (``_params`` and ``_save_load`` are mixins of the base
# class).
ESTIMATOR_MODULES = {
    "sktaaf._base",
    "sktaaf._dgex_regressor",
    "sktaaf._params",
    "sktaaf._save_load",
    "sktaaf._target_blocks",
    "sktaaf._taaf_regressor",
}
# What the package root may hold besides its subpackages: the public modules,
# the estimators, and the version (read by pyproject.toml).
PUBLIC_MODULES = {
    "sktaaf.exceptions",
    "sktaaf.export",
    "sktaaf.measure",
    "sktaaf.metrics",
    "sktaaf.plotting",
    "sktaaf.preprocessing",
}
ROOT_MODULES = {
    "sktaaf",
    "sktaaf.__main__",
    "sktaaf._version",
    *PUBLIC_MODULES,
    *ESTIMATOR_MODULES,
}
SUBPACKAGES = {
    # public
    "sktaaf.baselines",
    "sktaaf.datasets",
    "sktaaf.nn",
    # private: the layers under the estimators, lowest first
    "sktaaf._utils",
    "sktaaf._data",
    "sktaaf._engine",
    "sktaaf._persistence",
    # applications
    "sktaaf._cli",
    "sktaaf._compare",
}
# The private layers under the estimators, lowest first: each imports only
# the layers below it (and never an estimator).
LAYERS = ("sktaaf._utils", "sktaaf._data", "sktaaf._engine", "sktaaf._persistence")
# Modules that know no model: they work on arrays and files.
MODEL_FREE = (
    "sktaaf.measure",
    "sktaaf.metrics",
    "sktaaf.preprocessing",
    "sktaaf.datasets",
)
ENGINE = ("sktaaf._engine", "skorch")
MODEL_IMPORTS = (*sorted(ESTIMATOR_MODULES), *ENGINE)
# Applications on top of the library: the ``sktaaf`` command and the comparison
# harness behind ``sktaaf compare``; no library module imports them.
APPLICATION_MODULES = ("sktaaf._cli", "sktaaf._compare", "sktaaf.__main__")
STDLIB = set(sys.stdlib_module_names)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules(folder: Path) -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(folder.rglob("*.py"))}


MODULES = _modules(PACKAGE)


def _within(name: str, prefixes) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _imports(name: str, path: Path) -> set[str]:
    """The absolute names that module ``name`` imports, anywhere in it; for
    ``from X import Y``, ``X.Y`` when that is a module of the package, else X."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                if node.module:
                    base.append(node.module)
                module = ".".join(base)
            else:
                module = node.module
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.add(submodule if submodule in MODULES else module)
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}
# The modules under the estimators: they serve them and never import them.
UTILITY_MODULES = {name for name in MODULES if _within(name, LAYERS)} | {
    "sktaaf._version",
    "sktaaf.exceptions",
}


def _violations(modules, forbidden) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name in modules
        for target in IMPORTS[name]
        if _within(target, forbidden)
    )


def test_nn_knows_only_torch_numpy_and_itself():
    allowed_roots = {"torch", "numpy", "__future__"} | STDLIB
    offenders = sorted(
        f"{name} imports {target}"
        for name in MODULES
        if _within(name, ["sktaaf.nn"])
        for target in IMPORTS[name]
        if not (_within(target, ["sktaaf.nn"]) or target.split(".")[0] in allowed_roots)
    )
    assert offenders == []


def test_metrics_preprocessing_and_datasets_know_no_model():
    modules = [name for name in MODULES if _within(name, MODEL_FREE)]
    assert _violations(modules, MODEL_IMPORTS) == []


def test_utilities_never_import_estimators():
    assert UTILITY_MODULES <= set(MODULES)
    assert _violations(UTILITY_MODULES, ESTIMATOR_MODULES) == []


def test_persistence_reads_no_private_attribute_of_another_object():
    # Persistence takes and returns plain descriptions (SavedModel): it never
    # reaches into an estimator (nor anything else) through private names,
    # which the import rules above cannot see (duck typing needs no import).
    offenders = sorted(
        f"{name}:{node.lineno} {ast.unparse(node)}"
        for name, path in MODULES.items()
        if _within(name, ["sktaaf._persistence"])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
    )
    assert offenders == []


def test_atomic_writes_import_nothing_from_the_package():
    assert [
        name for name in IMPORTS["sktaaf._utils._atomic"] if _within(name, ["sktaaf"])
    ] == []


def test_the_root_holds_public_modules_estimators_and_subpackages():
    top_level = {
        name for name in MODULES if name.count(".") <= 1
    }  # sktaaf and sktaaf.x, modules and packages alike
    assert top_level - ROOT_MODULES - SUBPACKAGES == set()
    packages = {
        name for name, path in MODULES.items() if path.name == "__init__.py"
    } - {"sktaaf"}
    top_packages = {name for name in packages if name.count(".") == 1}
    assert top_packages == SUBPACKAGES


def test_each_layer_imports_only_the_layers_below_it():
    offenders = [
        violation
        for level, layer in enumerate(LAYERS)
        for violation in _violations(
            [name for name in MODULES if _within(name, [layer])],
            [*LAYERS[level + 1 :], *ESTIMATOR_MODULES, *APPLICATION_MODULES],
        )
    ]
    assert offenders == []


def test_leaf_utilities_never_import_the_training_engine():
    # The data path and the utilities know no model and no skorch: the
    # engine reads their datasets, never the other way round.
    leaves = [name for name in MODULES if _within(name, LAYERS[:2])]
    assert _violations(leaves, ENGINE) == []


def test_the_library_never_imports_the_applications():
    library = [name for name in MODULES if not _within(name, APPLICATION_MODULES)]
    assert _violations(library, APPLICATION_MODULES) == []
    assert {"sktaaf._compare._run", "sktaaf._compare._args"} <= set(MODULES)


def test_nothing_imports_benchmarks():
    assert _violations(MODULES, ["benchmarks"]) == []


def test_benchmarks_use_the_public_api_only():
    offenders = sorted(
        f"{name} imports {target}"
        for name, path in _modules(BENCHMARKS).items()
        for target in _imports(name, path)
        if _within(target, ["sktaaf"])
        and any(part.startswith("_") for part in target.split(".")[1:])
    )
    assert offenders == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    # The package __init__ files count: they import their modules, so a module
    # that imports its package back (``from . import __version__``) is a cycle.
    graph = {
        name: {target for target in targets if target in MODULES and target != name}
        for name, targets in IMPORTS.items()
    }
    assert _cycles(graph) == []


def test_cycle_detection_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]


def test_modules_are_short():
    long = {
        name: n_lines
        for name, path in MODULES.items()
        if (n_lines := len(path.read_text(encoding="utf-8").splitlines()))
        > MAX_MODULE_LINES
    }
    assert set(long) == set(ALLOWED_LONG_MODULES), long


def function_lengths(path: Path):
    """(lines, qualified name) of every function of ``path``, its docstring
    not counted."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lengths = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                qualname = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    n_lines = child.end_lineno - child.lineno + 1
                    first = child.body[0]
                    if (
                        isinstance(first, ast.Expr)
                        and isinstance(first.value, ast.Constant)
                        and isinstance(first.value.value, str)
                    ):
                        n_lines -= first.end_lineno - first.lineno + 1
                    lengths.append((n_lines, qualname))
                walk(child, qualname + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return lengths


def test_functions_are_short():
    long = {
        f"{name}.{qualname}": n_lines
        for name, path in MODULES.items()
        for n_lines, qualname in function_lengths(path)
        if n_lines > MAX_FUNCTION_LINES
    }
    assert set(long) == set(ALLOWED_LONG_FUNCTIONS), long


def test_the_network_base_class_is_abstract():
    from sklearn.base import clone

    from sktaaf import TAAFRegressor
    from sktaaf._base import BaseNetworkRegressor

    with pytest.raises(TypeError, match="abstract"):
        BaseNetworkRegressor()
    assert clone(TAAFRegressor(max_epochs=3)).get_params()["max_epochs"] == 3
