"""From settings to a connected ``Storage``: local engine, AWS or another endpoint."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backend.config import Mode, Settings, is_loopback_url
from backend.errors import ConfigError, StartupError
from backend.storage import Storage
from backend.storage.dynamo import make_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger(__name__)

ENGINE_NOT_INSTALLED = (
    "The embedded local DynamoDB (used when no AWS settings are given) is a development "
    "tool that this installation does not include: run from a checkout (./scripts/serve), "
    "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or "
    "DYNAMODB_MODE=aws with an instance role) for Amazon DynamoDB, or "
    "AWS_ENDPOINT_URL_DYNAMODB for another DynamoDB endpoint."
)
CREATE_TABLES_HINT = (
    'cd backend && python -c "from models import DynamoDBDatabase; '
    'DynamoDBDatabase().create_tables()"'
)


@dataclass(frozen=True)
class Target:
    """Which DynamoDB a process talks to, in words for its first log line."""

    mode: Mode
    endpoint_url: str | None
    region: str

    def describe(self) -> str:
        if self.mode is Mode.LOCAL:
            return f"the embedded local DynamoDB at {self.endpoint_url}"
        if self.mode is Mode.ENDPOINT:
            return f"the DynamoDB endpoint {self.endpoint_url} (region {self.region})"
        return f"Amazon DynamoDB in {self.region}"


def connect(
    settings: Settings, *, max_pool_connections: int | None = None
) -> tuple[Storage, Target]:
    """Open storage for ``settings``, starting the embedded engine in local mode."""
    client, target = connect_client(settings, max_pool_connections=max_pool_connections)
    return Storage(client, settings.departments_table, settings.events_table), target


def connect_client(
    settings: Settings, *, max_pool_connections: int | None = None
) -> tuple[DynamoDBClient, Target]:
    """The DynamoDB client ``connect`` builds its storage on (tools that load data raw, such
    as the benchmarks, use it directly)."""
    endpoint = settings.endpoint_url
    access, secret = settings.aws_access_key_id, settings.aws_secret_access_key
    token, profile = settings.aws_session_token, settings.aws_profile
    if settings.mode is Mode.LOCAL:
        endpoint = local_endpoint(settings)
        from localdb import credentials  # noqa: PLC0415 - a development tool, imported lazily

        # Requests are signed with the data folder's own secret: the engine serves no one else.
        (access, secret), token, profile = credentials(settings.local_dir), None, None
    elif (
        settings.mode is Mode.ENDPOINT
        and endpoint
        and access is None
        and profile is None
        and is_loopback_url(endpoint)
    ):
        # DynamoDB Local, LocalStack and moto accept any signature; real AWS would not be
        # on a loopback address, so no real credentials are needed or sent.
        access, secret = "local", "local"
    client = make_client(
        region=settings.region,
        endpoint_url=endpoint,
        access_key=access,
        secret_key=secret,
        session_token=token,
        profile=profile,
        max_pool_connections=max_pool_connections or settings.max_pool_connections,
    )
    if settings.mode is Mode.LOCAL:
        from localdb import attach  # noqa: PLC0415 - a development tool, imported lazily

        attach(client, settings.local_dir)  # starts the engine again should it die
    return client, Target(settings.mode, endpoint, settings.region)


def local_endpoint(settings: Settings) -> str:
    """The embedded engine's URL for ``settings.local_dir``, started if needed.

    The engine is the top-level ``localdb`` package of a checkout, a development tool: a
    production install (the wheel, the Lambda package) has none, and says so in one line.
    """
    try:
        import localdb  # noqa: PLC0415 - a development tool, imported lazily
    except ModuleNotFoundError as exc:
        if exc.name != "localdb":
            raise
        raise ConfigError(ENGINE_NOT_INSTALLED) from exc
    try:
        return localdb.ensure_running(settings.local_dir)
    except (localdb.EngineError, OSError) as exc:
        raise StartupError(f"the embedded local DynamoDB could not start: {exc}") from exc


def missing_tables_message(target: Target, problems: list[str]) -> str:
    lines = [f"The DynamoDB tables on {target.describe()} are not ready:"]
    lines += [f"  - {p}" for p in problems]
    lines += [
        "Create them (as an administrator) with:",
        f"  {CREATE_TABLES_HINT}",
        "or with the AWS CLI commands of the setup guide (Step 4, way 2). This server "
        "never creates or alters tables itself.",
    ]
    return "\n".join(lines)
