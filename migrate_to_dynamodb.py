"""Move the legacy JSON files (backend/data/ by default) into DynamoDB.

Run ``python migrate_to_dynamodb.py --help`` for the options. It writes to the same
DynamoDB as the server: the embedded local engine with no AWS settings, otherwise AWS or
``AWS_ENDPOINT_URL_DYNAMODB``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backend.migration.cli import main

if __name__ == "__main__":
    sys.exit(main())
