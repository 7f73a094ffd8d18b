"""Import jobs run from a shell (``python -m backend.imports``)."""
