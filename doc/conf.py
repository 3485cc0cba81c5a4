"""Sphinx configuration of the sktaaf documentation.

Build with ``python -m sphinx -W --keep-going -b html doc doc/_build/html`` (or
``make -C doc html``). Environment switches:

``SKTAAF_DOCS_OFFLINE=1``
    Do not try to download the intersphinx inventories (scikit-learn, skorch,
    PyTorch, NumPy, ...); references to those projects stay plain text. Without
    it, an unreachable inventory has the same effect, with a note in the log,
    so the build passes with ``-W`` offline as well as online.
``SKTAAF_DOCS_QUICK=1``
    Run the gallery's examples in their seconds-long quick mode (they set
    ``SKTAAF_EXAMPLE_QUICK``); for drafts only: the figures are then
    meaningless. ``make html-noplot`` skips running them altogether.
"""

import os
import sys
from pathlib import Path

DOC_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(DOC_DIR / "sphinxext"))
sys.path.insert(0, str(DOC_DIR.parent))  # document the working tree's sktaaf

import sktaaf  # noqa: E402

# The examples run in full (their figures are the gallery's point), unless a
# quick draft is asked for; a stray SKTAAF_EXAMPLE_QUICK must not leak in.
if os.environ.get("SKTAAF_DOCS_QUICK") == "1":
    os.environ["SKTAAF_EXAMPLE_QUICK"] = "1"
else:
    os.environ.pop("SKTAAF_EXAMPLE_QUICK", None)
os.environ.setdefault("MPLBACKEND", "Agg")

# -- Project -----------------------------------------------------------------
project = "sktaaf"
author = "The sktaaf developers"
copyright = "The sktaaf developers"
release = sktaaf.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sktaaf_docs",  # doc/sphinxext: offline intersphinx, API completeness
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"
# Every cross-reference must resolve: a broken one fails the -W build.
nitpicky = True

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters section gives the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # the templates list members themselves
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# numpydoc validation: an undocumented, unknown or misordered parameter, a
# parameter or return value without description, a missing Returns section or
# a malformed docstring fails the build. (Every public class and function must
# also have an Examples section: checked by doc/sphinxext/sktaaf_docs.py.)
numpydoc_validation_checks = {
    "GL06",  # unknown section
    "GL07",  # sections in the wrong order
    "PR01",  # parameter not documented
    "PR02",  # documented parameter that does not exist
    "PR03",  # parameters in the wrong order
    "PR07",  # parameter without description
    "PR10",  # "name: type" without a space before the colon
    "RT01",  # no Returns section
    "RT03",  # return value without description
    "SS01",  # no summary
}
# Data entries: numpydoc would validate the docstring of their type (dict, str).
numpydoc_validation_exclude = {
    r"^sktaaf\.nn\.ACTIVATIONS$",
    r"^sktaaf\.metrics\.per_gene_pearson_scorer$",
    r"^sktaaf\.__version__$",
}
# An undocumented override (e.g. TAAF.forward) stays undocumented rather than
# borrowing torch's docstring.
autodoc_inherit_docstrings = False

# -- intersphinx -------------------------------------------------------------
# Project name -> (documentation URL, top-level names whose references it
# resolves). sktaaf_docs reads the roots to leave references to a project
# unlinked, rather than broken, when its inventory could not be loaded.
INTERSPHINX_PROJECTS = {
    "python": ("https://docs.python.org/3", ()),
    "numpy": ("https://numpy.org/doc/stable", ("numpy",)),
    "scipy": ("https://docs.scipy.org/doc/scipy", ("scipy",)),
    "sklearn": ("https://scikit-learn.org/stable", ("sklearn",)),
    "skorch": ("https://skorch.readthedocs.io/en/stable", ("skorch",)),
    "torch": ("https://docs.pytorch.org/docs/stable", ("torch",)),
    "pandas": ("https://pandas.pydata.org/docs", ("pandas",)),
    "matplotlib": ("https://matplotlib.org/stable", ("matplotlib", "mpl_toolkits")),
}
if os.environ.get("SKTAAF_DOCS_OFFLINE") == "1":
    intersphinx_mapping = {}
else:
    intersphinx_mapping = {
        name: (url, None) for name, (url, _) in INTERSPHINX_PROJECTS.items()
    }
intersphinx_timeout = 15
sktaaf_external_projects = {
    name: roots for name, (_, roots) in INTERSPHINX_PROJECTS.items()
}

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "sktaaf_docs.QuickstartFirstSortKey",
    # "Examples using ..." mini-galleries on the API pages.
    "doc_module": ("sktaaf",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "min_reported_time": 1,
    # A failing example fails the build.
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sktaaf {release}"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": []}
html_show_sourcelink = False
html_last_updated_fmt = None
