"""The test suite's own layout (doc/developers/testing.rst): every test file
named by the scheme ``test_<area>.py`` or ``test_<area>_<topic>.py``, none too
long to read at once, and the shared estimator settings defined in
``tests/conftest.py`` only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sktaaf

TESTS = Path(__file__).resolve().parent
PACKAGE = Path(sktaaf.__file__).resolve().parent

MAX_TEST_FILE_LINES = 800
# Offenders of the size rule, each with the reason it is allowed for now.
ALLOWED_LONG_TEST_FILES: dict[str, str] = {}

#: The estimators' areas: ``estimators`` for TAAFRegressor and DGEXRegressor
#: (they share their behaviour and are tested together); any other estimator
#: by its public name (TargetBlockRegressor -> ``target_block_regressor``).
ESTIMATOR_AREAS = {"estimators"} | {
    re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    for name in sktaaf.__all__
    if name.endswith("Regressor")
}
#: The areas of the project as a whole: its layering, the README's claims and
#: snippets, the examples and the benchmark scripts.
PROJECT_AREAS = {"architecture", "readme", "examples", "benchmarks"}


def _package_areas() -> set[str]:
    """The public modules and subpackages by their name, the private
    subpackages (layers and applications) by their name without the
    underscore: ``metrics``, ``datasets``, ``engine``, ``cli``..."""
    areas = set()
    for path in PACKAGE.iterdir():
        name = path.stem if path.suffix == ".py" else path.name
        is_package = path.is_dir() and (path / "__init__.py").exists()
        if is_package:
            areas.add(name.lstrip("_"))
        elif path.suffix == ".py" and not name.startswith("_"):
            areas.add(name)
    return areas


AREAS = _package_areas() | ESTIMATOR_AREAS | PROJECT_AREAS
TEST_FILES = sorted(TESTS.glob("test_*.py"))


def _area(file_name: str) -> str | None:
    """The longest area that ``file_name`` is named after, if any."""
    stem = file_name.removeprefix("test_").removesuffix(".py")
    matches = [area for area in AREAS if stem == area or stem.startswith(area + "_")]
    return max(matches, key=len, default=None)


def test_areas_are_found():
    assert {"metrics", "datasets", "nn", "utils", "data", "engine"} <= AREAS
    assert {"persistence", "cli", "compare", "target_block_regressor"} <= AREAS
    assert _area("test_engine_linear_path.py") == "engine"
    assert _area("test_target_block_regressor.py") == "target_block_regressor"
    assert _area("test_fuzz.py") is None
    assert _area("test_training_state.py") is None


def test_test_files_are_named_by_the_scheme():
    unnamed = [path.name for path in TEST_FILES if _area(path.name) is None]
    assert not unnamed, (
        f"{unnamed}: name a test file test_<area>.py or test_<area>_<topic>.py, "
        f"the area one of {sorted(AREAS)} (doc/developers/testing.rst)"
    )


def test_helper_modules_are_private():
    """Any module of tests/ that is not a test file is conftest.py or a
    private helper (``_fuzzing.py``), so that pytest never collects it as
    tests and the scheme above covers every test."""
    others = [
        path.name
        for path in TESTS.glob("*.py")
        if not path.name.startswith(("test_", "_")) and path.name != "conftest.py"
    ]
    assert not others, others


def test_test_files_are_short():
    long = {
        path.name: n_lines
        for path in TEST_FILES
        if (n_lines := len(path.read_text(encoding="utf-8").splitlines()))
        > MAX_TEST_FILE_LINES
    }
    assert set(long) == set(ALLOWED_LONG_TEST_FILES), long


#: The estimator settings every test file takes from conftest.
SHARED_SETTINGS = {"FAST", "NO_STOP", "SHORT", "QUICK", "TINY", "CHECK_PARAMS"}


def _module_level_settings(path: Path) -> set[str]:
    """The names bound to a dict (``{...}`` or ``dict(...)``) at module level:
    estimator settings (``TINY``, a list of command-line arguments in
    test_compare.py, is not)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        value = node.value
        is_dict = isinstance(value, ast.Dict) or (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "dict"
        )
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if is_dict:
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_shared_settings_are_defined_once_in_conftest():
    assert SHARED_SETTINGS <= _module_level_settings(TESTS / "conftest.py")
    redefined = {
        path.name: sorted(SHARED_SETTINGS & _module_level_settings(path))
        for path in TESTS.glob("*.py")
        if path.name != "conftest.py"
    }
    redefined = {name: names for name, names in redefined.items() if names}
    assert not redefined, (
        f"{redefined}: import the shared settings from conftest; name a "
        "module's own settings SETTINGS"
    )
