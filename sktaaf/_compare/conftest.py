"""Skip collecting the figures module when matplotlib (optional) is absent."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("matplotlib") else ["_plots.py"]
