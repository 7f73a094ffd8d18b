"""What both benchmarks share: fresh, uniquely named tables on a DynamoDB endpoint."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.config import Mode, Settings  # noqa: E402
from backend.storage import Storage  # noqa: E402
from backend.storage.connection import connect  # noqa: E402
from backend.storage.dynamo import make_client  # noqa: E402

_keys: dict[str, str] = {}  # the key pair of the benchmark's own embedded engine, if any


def sign_with(folder: Path) -> None:
    """Sign requests with an embedded engine's folder secret: it serves nobody else."""
    from localdb import credentials  # noqa: PLC0415

    _keys["access"], _keys["secret"] = credentials(folder)


def key_env() -> dict[str, str]:
    """The environment that gives a subprocess the same key pair."""
    if not _keys:
        return {}
    return {"AWS_ACCESS_KEY_ID": _keys["access"], "AWS_SECRET_ACCESS_KEY": _keys["secret"]}


def fresh_tables(endpoint: str, pool: int = 16) -> tuple[Settings, Storage]:
    """Create both tables under new names on ``endpoint``; returns their settings and storage."""
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(
        mode=Mode.ENDPOINT,
        endpoint_url=endpoint,
        aws_access_key_id=_keys.get("access"),
        aws_secret_access_key=_keys.get("secret"),
        departments_table=f"bench-departments-{suffix}",
        events_table=f"bench-events-{suffix}",
        secret_key=uuid.uuid4().hex,
    )
    storage, _ = connect(settings, max_pool_connections=pool)
    storage.create_tables()
    return settings, storage


def raw_client(settings: Settings) -> Any:
    """A plain client of the benchmark's endpoint, for loading and dropping tables directly."""
    return make_client(
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        access_key=settings.aws_access_key_id or "local",
        secret_key=settings.aws_secret_access_key or "local",
    )
