"""Benchmarks of sktaaf (not part of the installed package)."""
