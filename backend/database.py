"""``DynamoDBDatabase``: the setup guide's entry point for creating the tables (Step 4)."""

from __future__ import annotations

import sys
from typing import TextIO

from backend.config import Settings
from backend.connection import Target, connect
from backend.storage import Storage


class DynamoDBDatabase:
    """The guide's ``db = DynamoDBDatabase(); db.create_tables()``, over our storage layer.

    It targets the same DynamoDB as the server: the embedded local engine with no AWS
    settings, otherwise AWS or ``AWS_ENDPOINT_URL_DYNAMODB``.
    """

    def __init__(self, settings: Settings | None = None, *, out: TextIO | None = None) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        self.storage: Storage
        self.target: Target
        self.storage, self.target = connect(self.settings)
        self._out = out

    def create_tables(self) -> None:
        """Create both tables with their GSIs and wait until ACTIVE; safe to run again."""
        out = self._out if self._out is not None else sys.stdout

        def report(table: str, created: bool) -> None:
            if created:
                print(f"✓ {table} 테이블이 생성되었습니다.", file=out)
            else:
                print(f"✓ {table} 테이블이 이미 있습니다. (already exists)", file=out)

        self.storage.create_tables(report)
