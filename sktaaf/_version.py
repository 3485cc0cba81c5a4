"""The version of sktaaf, in a leaf module that imports nothing.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``sktaaf``
re-exports it, and model files record it; none of them has to import the
estimators to know it.
"""

#: The version of sktaaf (a PEP 440 string); saved in every model file.
__version__ = "0.1.0.dev0"
