"""Leaf utilities: they import nothing else of the package."""
