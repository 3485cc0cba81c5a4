"""Doctest collection of the package's modules (``testpaths`` holds ``sktaaf``).

It lives at the repository's root, not inside ``sktaaf/``, so that no test
helper ships in the wheel: the doctests of optional features are skipped when
their extra is missing, and the figures module of ``sktaaf compare`` is not
collected without matplotlib.
"""

import importlib.util

import pytest

# The optional packages each doctest of sktaaf.datasets needs.
_OPTIONAL = {
    "load_gctx": ["h5py"],
    "open_gctx": ["h5py"],
    "write_gctx": ["h5py"],
    "load_hdf": ["tables"],
    "load_hdf_pair": ["tables"],
    "anndata_to_frames": ["anndata"],
    "load_real_example": ["SurvSet"],  # the real extra
}

collect_ignore = (
    [] if importlib.util.find_spec("matplotlib") else ["sktaaf/_compare/_plots.py"]
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not item.name.startswith("sktaaf.datasets."):
            continue
        needed = _OPTIONAL.get(item.name.rsplit(".", 1)[-1], [])
        missing = [name for name in needed if importlib.util.find_spec(name) is None]
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)}"))
