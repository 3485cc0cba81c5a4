"""Skip the doctests whose optional packages (the ``io`` and ``real`` extras)
are missing."""

import importlib.util

import pytest

_OPTIONAL = {
    "load_gct": ["pandas"],
    "load_gctx": ["h5py", "pandas"],
    "open_gctx": ["h5py", "pandas"],
    "write_gct": ["pandas"],
    "write_gctx": ["h5py", "pandas"],
    "load_l1000_landmarks": ["pandas"],
    "load_hdf": ["pandas", "tables"],
    "load_hdf_pair": ["pandas", "tables"],
    "make_expression": ["pandas"],
    "anndata_to_frames": ["anndata", "pandas"],
    "load_real_example": ["SurvSet", "pandas"],  # the real extra
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not item.name.startswith("sktaaf.datasets."):
            continue
        needed = _OPTIONAL.get(item.name.rsplit(".", 1)[-1], [])
        missing = [name for name in needed if importlib.util.find_spec(name) is None]
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)}"))
