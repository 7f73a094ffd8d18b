"""The setup guide's ``from models import DynamoDBDatabase`` (Step 4), run from backend/.

``db = DynamoDBDatabase(); db.create_tables()`` creates both tables with their GSIs over
our storage layer, against the same DynamoDB as the server: the embedded local engine
with no AWS settings, otherwise AWS or ``AWS_ENDPOINT_URL_DYNAMODB``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

if __package__ in (None, ""):
    # Loaded as a top-level module from inside backend/: make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.exceptions import BotoCoreError, ClientError

from backend.config import Settings
from backend.errors import CalendarError
from backend.storage import Storage
from backend.storage.connection import Target, connect

__all__ = ["DynamoDBDatabase"]


class DynamoDBDatabase:
    """The guide's ``db = DynamoDBDatabase(); db.create_tables()``, over our storage layer."""

    def __init__(self, settings: Settings | None = None, *, out: TextIO | None = None) -> None:
        self.storage: Storage
        self.target: Target
        with _one_line_errors():
            self.settings = settings if settings is not None else Settings.from_env()
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

        with _one_line_errors():
            self.storage.create_tables(report)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Bad keys, no network, no permission: one line saying so, not a traceback (this is
    what an operator runs by hand from the setup guide)."""
    try:
        yield
    except CalendarError as exc:
        raise SystemExit(
            f"❌ 테이블을 만들 수 없습니다 (cannot create the tables): {exc}"
        ) from None
    except (BotoCoreError, ClientError) as exc:
        raise SystemExit(
            f"❌ 테이블을 만들 수 없습니다 (cannot create the tables): DynamoDB said: {exc}"
        ) from None
