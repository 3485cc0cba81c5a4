"""Local Sphinx extension of the sktaaf documentation.

1. **Intersphinx without a network.** Sphinx logs an unreachable intersphinx
   inventory as an untyped warning, which ``suppress_warnings`` cannot silence
   and ``-W`` turns into a failed build. This extension demotes that one
   message to an informational line, and leaves references to a project whose
   inventory is missing as plain text instead of broken references. References
   to projects whose inventory *was* loaded, and every reference to sktaaf
   itself, still fail the build when they do not resolve (``nitpicky``).
2. **A complete API reference.** After reading, every name in the ``__all__``
   of sktaaf's public modules must have been documented, and every public class
   and function must have an Examples section; otherwise a warning fails the
   build.
3. **Only sktaaf's members.** Class pages list the methods sktaaf defines
   (``fit``, ``predict``, ``save``, ...), not the dozens inherited from
   scikit-learn's or PyTorch's base classes, whose docstrings are theirs.
4. **Types that name fitted attributes.** In a numpydoc type such as
   ``ndarray of shape (n_features_in_,)``, reST reads ``n_features_in_`` as a
   link target and fails; such names are quoted before numpydoc renders them.
5. **Docstrings of public data.** ``ACTIVATIONS`` is defined in a private
   module and re-exported, so autodoc misses its ``#:`` comment and would show
   the docstring of ``dict``; the comment is looked up where the object is
   defined, and public data without one is an error.
6. **Gallery order.** :class:`QuickstartFirstSortKey` puts the quickstart first.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import logging
import re
import sys
from pathlib import Path

from sphinx.util import logging as sphinx_logging

logger = sphinx_logging.getLogger(__name__)

PUBLIC_MODULES = (
    "sktaaf",
    "sktaaf.nn",
    "sktaaf.baselines",
    "sktaaf.metrics",
    "sktaaf.plotting",
    "sktaaf.preprocessing",
    "sktaaf.datasets",
    "sktaaf.exceptions",
)
_UNREACHABLE = "failed to reach any of the inventories"


# ---------------------------------------------------------------- intersphinx
class _DemoteUnreachableInventory(logging.Filter):
    """Turn intersphinx's "failed to reach any of the inventories" warning into
    an informational message; every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and str(record.msg).startswith(
            _UNREACHABLE
        ):
            message = record.getMessage()
            urls = re.findall(r"intersphinx inventory '([^']+)'", message)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = (
                "intersphinx: %s unreachable (offline?); references to that "
                "project stay plain text"
            )
            record.args = (", ".join(urls) or "an inventory",)
            record.nonl = False
        return True


def _install_inventory_filter() -> None:
    # Logger-level filters run before any handler, in particular before the
    # handler that turns warnings into errors under -W.
    intersphinx_logger = logging.getLogger("sphinx.sphinx.ext.intersphinx")
    if not any(
        isinstance(f, _DemoteUnreachableInventory) for f in intersphinx_logger.filters
    ):
        intersphinx_logger.addFilter(_DemoteUnreachableInventory())


def _python_names() -> frozenset[str]:
    return frozenset(dir(builtins)) | frozenset(sys.stdlib_module_names)


def _project_of(target: str, domain: str, roots: dict[str, str]) -> str | None:
    """The external project a reference target belongs to, if any."""
    if ":" in target:  # an explicit "project:target" reference
        prefix = target.split(":", 1)[0]
        return prefix if prefix in roots.values() else None
    if domain != "py":  # labels, documents, terms: sktaaf's own
        return None
    root = target.lstrip("~.!").split(".", 1)[0]
    if root in roots:
        return roots[root]
    if root in _python_names():
        return "python"
    return None


def _unlinked_external_reference(app, env, node, contnode):
    """Leave a reference to a project whose inventory is missing as text."""
    target = node.get("reftarget", "")
    project = _project_of(
        target, node.get("refdomain", ""), app.sktaaf_external_roots
    )
    if project is None:
        return None  # sktaaf's own, or unknown: let Sphinx report it
    loaded = getattr(env, "intersphinx_named_inventory", {}) or {}
    if project in loaded:
        return None  # the inventory is there: a miss is a real broken reference
    app.sktaaf_unlinked.add(f"{project}: {target}")
    return contnode


def _report_unlinked(app, exception) -> None:
    if exception is None and app.sktaaf_unlinked:
        projects = sorted({entry.split(":", 1)[0] for entry in app.sktaaf_unlinked})
        logger.info(
            "sktaaf_docs: %d references to %s left unlinked (inventories not "
            "loaded): %s",
            len(app.sktaaf_unlinked),
            ", ".join(projects),
            "; ".join(sorted(app.sktaaf_unlinked)),
        )


def _config_inited(app, config) -> None:
    app.sktaaf_external_roots = {
        root: project
        for project, roots in config.sktaaf_external_projects.items()
        for root in roots
    }
    app.sktaaf_unlinked = set()


# ----------------------------------------------------------- API completeness
def _public_names() -> list[tuple[str, object]]:
    names = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            names.append((f"{module_name}.{name}", getattr(module, name)))
    return names


_EXAMPLES_SECTION = re.compile(r"^Examples\n-{8,}$", flags=re.M)


def _check_api_reference(app, env) -> None:
    documented = env.get_domain("py").objects
    for full_name, obj in _public_names():
        if full_name not in documented:
            logger.warning(
                "%s is public (in __all__) but not in the API reference; add it to "
                "doc/api.rst.",
                full_name,
                type="sktaaf",
                subtype="api",
            )
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not _EXAMPLES_SECTION.search(inspect.getdoc(obj) or ""):
                logger.warning(
                    "%s has no Examples section in its docstring.",
                    full_name,
                    type="sktaaf",
                    subtype="examples",
                )


# -------------------------------------------------------------------- members
def _skip_foreign_member(app, what, name, obj, skip, options):
    """Skip class members defined outside sktaaf (scikit-learn's get_params,
    score, set_output, ...; torch's nn.Module methods)."""
    if what not in ("class", "exception") or skip:
        return None
    function = getattr(obj, "fget", obj)  # a property's getter
    module = getattr(function, "__module__", None) or ""
    if module.split(".")[0] != "sktaaf":
        return True
    return None


# ---------------------------------------------------------------- docstrings
# "name : type" lines of numpydoc sections, and names ending in "_" in the type.
_TYPE_LINE = re.compile(r"^(\s*[\w*][\w*, ]* : )(.+)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def _quote_attribute_names(app, what, name, obj, options, lines) -> None:
    """Quote ``n_features_in_``-like names in parameter and attribute types."""
    for index, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match:
            head, type_spec = match.groups()
            lines[index] = head + _TRAILING_UNDERSCORE.sub(r"`\1`", type_spec)


def _attribute_doc(module_name: str, attribute: str, obj) -> list[str] | None:
    """The ``#:`` comment of ``attribute`` in ``module_name`` or in the
    submodule that defines the same object (a re-export)."""
    from sphinx.pycode import ModuleAnalyzer

    candidates = [module_name] + sorted(
        name
        for name, module in list(sys.modules.items())
        if name.startswith(module_name + ".")
        and getattr(module, attribute, None) is obj
    )
    for candidate in candidates:
        try:
            docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        except Exception:  # no source: a compiled or namespace module
            continue
        if ("", attribute) in docs:
            return list(docs[("", attribute)])
    return None


def _data_docstring(app, what, name, obj, options, lines) -> None:
    """Document public data by their ``#:`` comment, never by their type's
    docstring (``str``'s for ``__version__``, ``dict``'s for ``ACTIVATIONS``)."""
    if what != "data" or not name.startswith("sktaaf."):
        return
    module_name, _, attribute = name.rpartition(".")
    doc = _attribute_doc(module_name, attribute, obj)
    if doc is None:
        logger.warning(
            "%s is public data without a '#:' comment to document it.",
            name,
            type="sktaaf",
            subtype="data",
        )
        doc = []
    lines[:] = doc


# -------------------------------------------------------------------- gallery
class QuickstartFirstSortKey:
    """sphinx-gallery sort key: ``plot_quickstart.py`` first, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename: str):
        name = Path(filename).name
        return (name != "plot_quickstart.py", name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def setup(app):
    _install_inventory_filter()
    app.add_config_value("sktaaf_external_projects", {}, "env", types=(dict,))
    app.connect("config-inited", _config_inited)
    # After intersphinx's own handler (priority 500) had its chance.
    app.connect("missing-reference", _unlinked_external_reference, priority=900)
    app.connect("build-finished", _report_unlinked)
    app.connect("env-check-consistency", _check_api_reference)
    app.connect("autodoc-skip-member", _skip_foreign_member)
    # Before numpydoc (priority 500) turns the sections into reST.
    app.connect("autodoc-process-docstring", _quote_attribute_names, priority=400)
    app.connect("autodoc-process-docstring", _data_docstring, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
