"""The setup guide's ``from models import DynamoDBDatabase`` (Step 4), run from backend/."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Loaded as a top-level module from inside backend/: make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.database import DynamoDBDatabase

__all__ = ["DynamoDBDatabase"]
