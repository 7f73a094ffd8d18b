"""The setup guide's ``cd backend && python migrate_to_dynamodb.py`` (Step 5)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run from inside backend/: make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.migration.cli import main

if __name__ == "__main__":
    sys.exit(main())
