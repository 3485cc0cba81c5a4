"""Private names of scikit-learn, skorch and accelerate are used in one place:
``sktaaf/_utils/_compat.py``, which says the versions each was checked
against. Anywhere else in ``sktaaf/``, this test fails on

- an import from a module path with a private part (``sklearn.utils._tags``)
  or of a private name (``from sklearn.base import _fit_context``), or a
  dotted access through such a module (``sklearn.utils._tags.x``);
- an attribute read or written, a method or class attribute defined, or a
  string (``getattr(net, "_criteria")``) whose name is a private member of
  one of those packages' classes that sktaaf touches: the classes it imports
  from them, the classes of the objects it is handed (``Accelerator``,
  skorch's callbacks), and their bases.

The private members are found by introspection: ``dir`` of each class, and
the ``self._name`` attributes its source reads or writes (instance attributes
such as ``NeuralNet._criteria``), and the private attributes it writes onto
other objects (accelerate's ``_optimizer_original_step_method``). A class
of sktaaf that defines such a name (a method, a class attribute, an
attribute set on ``self``) is flagged whatever its bases, so that a mixin
cannot hide an override. Private names that sktaaf defines for its own
objects are not among them (``_standardization`` of its net), except the few
that happen to share the name of a foreign member: ``OWN_NAMES_SHARED``
lists them with the reason, and a test checks that list against the code.

The class attributes of ``SKLEARN_CLASS_PROTOCOL`` (``_parameter_constraints``)
are data that scikit-learn's validation reads from sktaaf's estimators: they
may be defined in a class body, and are read only in the compat module.

``sktaaf.nn`` imports only torch and numpy (test_architecture.py holds it):
its private names (``torch.nn.Module._modules``) are torch's, out of scope.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from functools import cache
from pathlib import Path

from sktaaf._utils._compat import SKLEARN_CLASS_PROTOCOL

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sktaaf"
FOREIGN = ("sklearn", "skorch", "accelerate")
COMPAT = PACKAGE / "_utils" / "_compat.py"
# Modules that know only torch and numpy (see the module docstring).
TORCH_ONLY = (PACKAGE / "nn",)
# sktaaf's own private names that a class of the foreign packages also has.
OWN_NAMES_SHARED = {
    "_check_params": "the estimators' checks of their parameters beyond "
    "_parameter_constraints; scikit-learn's Interval has a method of that name",
}
# Classes whose instances sktaaf is handed or reaches without importing them.
RECEIVED_CLASSES = (
    "skorch.NeuralNet",
    "skorch.history.History",
    "skorch.dataset.ValidSplit",
    "accelerate.Accelerator",
    "accelerate.optimizer.AcceleratedOptimizer",
)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_foreign(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in FOREIGN


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):  # an optional package absent
        return None


def _sources() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _imported_classes(trees) -> set[type]:
    """The classes ``sktaaf`` imports from the foreign packages."""
    classes = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not node.level:
                if _is_foreign(node.module):
                    for alias in node.names:
                        obj = _resolve(f"{node.module}.{alias.name}")
                        if isinstance(obj, type):
                            classes.add(obj)
    return classes


def _touched_classes(trees) -> set[type]:
    classes = _imported_classes(trees)
    classes |= {cls for cls in map(_resolve, RECEIVED_CLASSES) if isinstance(cls, type)}
    import skorch.callbacks

    classes |= {
        obj
        for obj in vars(skorch.callbacks).values()
        if isinstance(obj, type) and issubclass(obj, skorch.callbacks.Callback)
    }
    return {
        base
        for cls in classes
        for base in cls.__mro__
        if _is_foreign(getattr(base, "__module__", None))
    }


def _source_attributes(cls: type) -> set[str]:
    """Private attributes the source of ``cls`` uses on ``self``, or writes
    onto other objects."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            on_self = isinstance(node.value, ast.Name) and node.value.id == "self"
            if on_self or isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return names


def private_members(cls: type) -> set[str]:
    """The private names of ``cls``: its attributes and its instances'."""
    return {name for name in dir(cls) if _is_private(name)} | _source_attributes(cls)


@cache
def foreign_members() -> dict[str, tuple[str, ...]]:
    """Each private member name of the classes sktaaf touches, and the
    classes that have it."""
    owners: dict[str, list[str]] = {}
    for cls in sorted(
        _touched_classes(_sources().values()),
        key=lambda c: c.__module__ + c.__qualname__,
    ):
        for name in private_members(cls):
            owners.setdefault(name, []).append(f"{cls.__module__}.{cls.__qualname__}")
    return {name: tuple(classes) for name, classes in owners.items()}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _class_members(node: ast.ClassDef) -> set[str]:
    """The private names a class defines: its methods and class attributes,
    and the attributes its methods set on ``self``."""
    names = set()
    for child in node.body:
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(child.name)
        elif isinstance(child, ast.Assign | ast.AnnAssign):
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    for child in ast.walk(node):
        if (
            isinstance(child, ast.Attribute)
            and isinstance(child.ctx, ast.Store)
            and isinstance(child.value, ast.Name)
            and child.value.id == "self"
        ):
            names.add(child.attr)
    return {name for name in names if _is_private(name)}


def _overridden(module: str, node: ast.ClassDef, names: set[str], members) -> set:
    """Those of ``names`` that class ``node`` of ``module`` inherits from a
    class of the foreign packages (its own definition overrides them)."""
    cls = getattr(importlib.import_module(module), node.name, None)
    if not isinstance(cls, type):
        return set()
    foreign = [base for base in cls.__mro__ if _is_foreign(base.__module__)]
    return {name for name in names if any(name in members(base) for base in foreign)}


def own_names(trees: dict[str, ast.Module]) -> set[str]:
    """Private names sktaaf defines for its own objects: not overrides, nor
    scikit-learn's class protocol, nor in the compat module."""
    names = set()
    for module, tree in trees.items():
        if module == _module_name(COMPAT):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                defined = _class_members(node)
                names |= defined - _overridden(module, node, defined, private_members)
    return names - set(SKLEARN_CLASS_PROTOCOL)


def _import_uses(tree: ast.Module):
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_foreign(alias.name):
                    aliases[(alias.asname or alias.name).split(".")[0]] = alias.name
                    if any(map(_is_private, alias.name.split("."))):
                        yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and _is_foreign(node.module):
            for alias in node.names:
                if any(map(_is_private, node.module.split("."))) or _is_private(
                    alias.name
                ):
                    yield node.lineno, f"from {node.module} import {alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            root = node
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                yield node.lineno, f"{ast.unparse(node)}"


def private_uses(path: Path, tree, members, shared=OWN_NAMES_SHARED) -> list[str]:
    """``file:line what`` for each use of a foreign private name in ``tree``
    (``members``: the foreign private names; ``shared``: those sktaaf also
    defines for its own objects)."""
    flagged = set(members) - set(shared)
    uses = list(_import_uses(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            defined = _class_members(node) - set(SKLEARN_CLASS_PROTOCOL)
            for name in sorted(defined & flagged):
                uses.append((node.lineno, f"{node.name} defines {name}"))
        elif isinstance(node, ast.Attribute) and node.attr in flagged:
            uses.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Constant) and node.value in flagged:
            uses.append((node.lineno, repr(node.value)))
    shown = path.relative_to(ROOT) if ROOT in path.parents else path.name
    return [f"{shown}:{line} {what}" for line, what in sorted(set(uses))]


def all_uses(skip=(COMPAT,)) -> list[str]:
    members = foreign_members()
    return sorted(
        use
        for path, tree in _sources().items()
        if path not in skip and not any(folder in path.parents for folder in TORCH_ONLY)
        for use in private_uses(path, tree, members)
    )


def test_private_names_of_sklearn_skorch_accelerate_only_in_compat():
    assert all_uses() == []


def test_the_own_names_shared_with_foreign_members_are_listed():
    trees = {_module_name(path): tree for path, tree in _sources().items()}
    assert own_names(trees) & set(foreign_members()) == set(OWN_NAMES_SHARED)


def test_the_compat_module_holds_the_uses():
    uses = private_uses(COMPAT, _sources()[COMPAT], foreign_members())
    assert len(uses) >= 15, uses


def test_the_members_found_include_the_known_ones():
    members = foreign_members()
    for name in ("_criteria", "_sink", "_initialize_accelerator", "_get_param_names"):
        assert name in members, name


PLANTED = """
import sklearn.utils._param_validation
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from skorch import NeuralNet
from skorch.hf import AccelerateMixin


class Net(AccelerateMixin, NeuralNet):
    _standardization = None

    def _initialize_accelerator(self):
        return self._criteria

    def standard(self):
        return self._standardization


def stop(stopping, accelerator, estimator):
    stopping._sink("Stopping.", verbose=True)
    getattr(accelerator, "_models")
    estimator._validate_params()
    sklearn.utils._param_validation.Interval


class Estimator(BaseEstimator):
    _parameter_constraints: dict = {}


def constraints(estimator):
    return estimator._parameter_constraints


class QuietSink:  # a mixin: no base of those packages
    def _sink(self, text, verbose):
        pass
"""


def test_a_planted_use_is_caught():
    path = PACKAGE / "planted_private_use.py"
    uses = private_uses(path, ast.parse(PLANTED), foreign_members())
    assert [use.split(":", 1)[1] for use in uses] == [
        "2 import sklearn.utils._param_validation",
        "3 from sklearn.base import _fit_context",
        "4 from sklearn.utils._param_validation import Interval",
        "9 Net defines _initialize_accelerator",
        "13 ._criteria",
        "20 ._sink",
        "21 '_models'",
        "22 ._validate_params",
        "23 sklearn.utils._param_validation",
        "31 ._parameter_constraints",
        "34 QuietSink defines _sink",
    ]
