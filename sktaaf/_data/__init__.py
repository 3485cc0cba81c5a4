"""The data path: validation, row sources, and the datasets training reads."""
