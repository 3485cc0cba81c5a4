"""Model files: their format, their checks, and the model card."""
