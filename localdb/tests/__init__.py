"""The embedded engine's own tests, run with the suite (pyproject's testpaths)."""
