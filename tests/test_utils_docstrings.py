"""Tests of sktaaf._utils._docstrings, the parameter docs shared by the estimators."""

import re

import pytest

from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf._utils._docstrings import (
    ATTRIBUTE_DOCS,
    PARAMETER_DOCS,
    fill_doc,
    fill_docstring,
)

SHARED = [name for name in PARAMETER_DOCS if name != "training_parameters"]


def _parameter_entries(docstring):
    """numpydoc entries of the Parameters section, by name, dedented."""
    section = docstring.split("Parameters\n    ----------\n")[1]
    section = section.split("\n    Attributes\n")[0]
    entries, name = {}, None
    for line in section.split("\n"):
        match = re.match(r"    (\w+) : ", line)
        if match:
            name = match[1]
            entries[name] = []
        if name is not None:
            entries[name].append(line[4:])
    return {key: "\n".join(lines).rstrip() for key, lines in entries.items()}


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
def test_fragments_match_the_estimators_docs(Estimator):
    entries = _parameter_entries(Estimator.__doc__)
    for name in SHARED:  # the same words (a backslash continues a line there)
        assert PARAMETER_DOCS[name].split() == entries[name].split(), name


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
def test_attribute_fragments_are_in_the_attributes(Estimator):
    attributes = Estimator.__doc__.split("\n    Attributes\n")[1]
    for name in ATTRIBUTE_DOCS:
        assert f"\n    {name} : " in attributes, name
        assert "{" + name + "}" not in Estimator.__doc__


def test_fragments_render_indented_in_place():
    def documented():
        pass

    documented.__doc__ = """Something.

    Parameters
    ----------
    {batch_size}
    {training_parameters}
    other : {"a", "b"}
        Braces of other text stay, as does an unknown {placeholder}.
    {unknown}

    Attributes
    """
    doc = fill_doc(documented).__doc__
    assert "\n    batch_size : int, default=64\n        Samples per mini-batch." in doc
    assert 'other : {"a", "b"}' in doc and "{placeholder}" in doc
    assert "{unknown}" in doc and "{training_parameters}" not in doc
    names = re.findall(r"^    (\w+) : ", doc, flags=re.MULTILINE)
    assert names == ["batch_size", *SHARED, "other"]
    entries = _parameter_entries(doc)
    for name in SHARED:
        assert entries[name] == PARAMETER_DOCS[name]


def test_fill_docstring_with_own_fragments():
    assert fill_docstring("a\n  {x}\nb", {"x": "x : int\n    X."}) == (
        "a\n  x : int\n      X.\nb"
    )
