"""How a server starts on its DynamoDB: the policy of each mode, in one place.

In local mode the embedded engine is started and missing tables are created. Against AWS
or another endpoint the tables are only described (``DescribeTable``): missing ones stop
the start with a message saying how to create them, and an unreachable DynamoDB is
logged and served anyway, so that ``/readyz`` says why until it returns.
"""

from __future__ import annotations

import logging

from backend.config import Mode, Settings
from backend.errors import StartupError, StorageUnavailable
from backend.storage import Storage
from backend.storage.connection import connect, missing_tables_message

logger = logging.getLogger(__name__)


def open_storage(settings: Settings) -> Storage:
    """The storage a server for ``settings`` serves from, ready or explained."""
    storage, target = connect(settings)
    if settings.mode is Mode.LOCAL:
        created: list[str] = []
        storage.create_tables(lambda table, new: created.append(table) if new else None)
        from localdb import keep_alive  # noqa: PLC0415 - a development tool, imported lazily

        keep_alive(str(target.endpoint_url))
        logger.info(
            "Using %s (no AWS settings found; data kept in %s). Tables %s, %s: %s.",
            target.describe(),
            settings.local_dir,
            settings.departments_table,
            settings.events_table,
            f"created {', '.join(created)}" if created else "ready",
        )
        return storage
    try:
        problems = [str(p) for p in storage.check_tables()]
    except StorageUnavailable as exc:
        if "credentials" in str(exc):
            raise StartupError(
                f"{exc} (DYNAMODB_MODE={settings.mode}, boto3's default credential chain: "
                "environment, AWS_PROFILE, container or instance role). Give the host an "
                "instance role, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                "AWS_PROFILE) in backend/.env; for the embedded development engine use "
                "DYNAMODB_MODE=local without FLASK_ENV=production"
            ) from exc
        logger.warning("Using %s, which does not answer yet: %s", target.describe(), exc)
        return storage
    if problems:
        raise StartupError(missing_tables_message(target, problems))
    logger.info(
        "Using %s; tables %s and %s are ready.",
        target.describe(),
        settings.departments_table,
        settings.events_table,
    )
    return storage
