"""The one boto3 DynamoDB client of a process, and what its errors mean to us."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from backend.errors import FieldError, Invalid, StorageUnavailable
from backend.storage.item_limits import LARGEST_ATTRIBUTE, is_size_refusal
from backend.storage.wire import ReadParserFactory, plain_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

    # One item of a TransactWriteItems request, for the layers above storage to pass along
    # without knowing DynamoDB's types.
    TransactItem = TransactWriteItemTypeDef

logger = logging.getLogger(__name__)

# Codes that mean "try again shortly": DynamoDB is throttling or briefly unwell. botocore's
# standard retry mode has already retried these with backoff before we see them.
_RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "AccessDeniedException",
        "MissingAuthenticationTokenException",
    }
)

_serializer = TypeSerializer()


def make_client(
    *,
    region: str,
    endpoint_url: str | None,
    access_key: str | None,
    secret_key: str | None,
    session_token: str | None = None,
    profile: str | None = None,
    max_pool_connections: int = 10,
    max_attempts: int = 3,
) -> DynamoDBClient:
    """Build the process's DynamoDB client: retries, timeouts and pool size set here only.

    Low-level clients are thread-safe, so one is shared by every thread of a worker; its
    connection pool is sized to the worker's concurrency so threads never queue for one.
    """
    config = Config(
        # Standard mode retries throttling and transient errors with backoff; past that
        # the API answers 503 with Retry-After rather than holding the client.
        # total_max_attempts counts the first try (botocore's max_attempts would not).
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        # DynamoDB answers in milliseconds; these bound a request's worst case (3 attempts
        # × (2 + 5) s plus at most 1 + 2 s of backoff, 24 s) inside gunicorn's 30 s timeout.
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=max_pool_connections,
        user_agent_extra="department-calendar/1",
    )
    with _SESSION_LOCK:
        # A session of its own (credentials, profile and environment are read afresh, as
        # boto3 always does), sharing only the loaded service model: a second client in a
        # process (a job's, a test's) then costs about 6 ms rather than 35.
        botocore_session = botocore.session.Session()
        botocore_session.register_component("data_loader", _shared_loader())
        # Items of reads are taken off the wire as they come (storage/wire.py).
        botocore_session.register_component("response_parser_factory", ReadParserFactory())
        session = boto3.session.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token,
            profile_name=profile,
            region_name=region,
            botocore_session=botocore_session,
        )
        return session.client("dynamodb", endpoint_url=endpoint_url, config=config)


_SESSION_LOCK = threading.Lock()


@functools.cache
def _shared_loader() -> Any:
    """botocore's loader of service models and its cache, shared by every session."""
    return botocore.session.get_session().get_component("data_loader")


def to_item(record: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    """Serialise a plain mapping; ``None`` values are left out (absent, not NULL)."""
    return {k: _serializer.serialize(v) for k, v in record.items() if v is not None}


def to_value(value: Any) -> AttributeValueTypeDef:
    return _serializer.serialize(value)


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Deserialise an item as boto3's ``TypeDeserializer`` does, but whole numbers at the
    top level come back as ``int`` instead of ``Decimal`` (``wire.plain_item``)."""
    return plain_item(item)


def pages(
    call: Callable[..., Any], params: Mapping[str, Any], *, growing_to: int | None = None
) -> Iterator[dict[str, Any]]:
    """Each response of a Query or Scan, following ``LastEvaluatedKey`` to the end.

    The one loop over DynamoDB's pagination: a page holds at most 1 MB, so every read of
    more than one item goes through here (or stops early on purpose, as a list page does).
    With ``growing_to``, each page's ``Limit`` doubles up to that many items, so a read
    that has to go on costs a few calls rather than one per small page.
    """
    request = dict(params)
    while True:
        response: dict[str, Any] = call(**request)
        yield response
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        if growing_to is not None and "Limit" in request:
            request["Limit"] = max(request["Limit"], min(request["Limit"] * 2, growing_to))


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# Why a transaction was cancelled when no condition failed: another transaction touched
# one of its items, or the table throttled it. The SDK retries none of these.
_CONTENTION_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)


def cancellation_reasons(exc: ClientError) -> list[str]:
    reasons = exc.response.get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]


def cancelled_by(exc: ClientError, index: int) -> bool:
    """Whether a cancelled transaction failed the condition of its item number ``index``."""
    if error_code(exc) != "TransactionCanceledException":
        return False
    reasons = cancellation_reasons(exc)
    return len(reasons) > index and reasons[index] == "ConditionalCheckFailed"


def is_contention(exc: ClientError) -> bool:
    """A write that lost a race or was throttled, not refused: worth retrying as it was.

    On AWS, overlapping transactions cancel with ``TransactionConflict``, a plain write to
    an item inside a running transaction fails with ``TransactionConflictException``, and a
    throttled transaction is cancelled with throttling reasons.
    """
    code = error_code(exc)
    if code in {"TransactionConflictException", "TransactionInProgressException"}:
        # In progress: an attempt with the same ClientRequestToken still runs; a new
        # attempt (a new token) is safe, as every transaction here is conditional.
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = set(cancellation_reasons(exc))
    return "ConditionalCheckFailed" not in reasons and bool(reasons & _CONTENTION_REASONS)


def busy(what: str) -> StorageUnavailable:
    """The answer when contention outlasts our retries: 503, try again in a moment."""
    logger.warning("DynamoDB contention outlasted the retries of %s", what)
    return StorageUnavailable(
        "the table is busy with concurrent writes; retry shortly", retry_after=1
    )


TOO_LARGE = (
    "the stored item would pass DynamoDB's limit of 400 KB (in UTF-8: a Korean character "
    "counts 3 bytes), and this is its largest field written: shorten it"
)


def oversized_field(exc: ClientError) -> str | None:
    """The attribute to blame when DynamoDB refused a write for an item past 400 KB (see
    ``item_limits``), or None when it refused it for something else."""
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    reasons = exc.response.get("CancellationReasons") or []
    refused = is_size_refusal(code, message) or (
        code == "TransactionCanceledException"
        and any(is_size_refusal(str(r.get("Code", "")), str(r.get("Message", ""))) for r in reasons)
    )
    if not refused:
        return None
    return str(error.get(LARGEST_ATTRIBUTE) or "body")


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Turn botocore failures that are not the caller's fault into ``StorageUnavailable``.

    Errors a repository understands (conditional check failures, cancelled transactions)
    are caught by the repository inside this block and never reach it.
    """
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in _RETRYABLE:
            logger.warning("DynamoDB is throttling or unavailable during %s: %s", what, code)
            # An endpoint that says why it is unavailable (the embedded engine: "starting:
            # loading 100000 items") is quoted, so /readyz names the state.
            reason = exc.response.get("Error", {}).get("Message")
            raise StorageUnavailable(
                f"DynamoDB is unavailable: {reason}"
                if code == "ServiceUnavailable" and reason
                else "DynamoDB is throttling requests or briefly unavailable; retry shortly",
                retry_after=2,
            ) from exc
        if code == "ResourceNotFoundException":
            logger.error("DynamoDB table missing during %s: %s", what, exc)
            raise StorageUnavailable(
                "a DynamoDB table this service needs does not exist; see /readyz",
                retry_after=30,
            ) from exc
        if code in _CREDENTIAL_CODES:
            logger.error("DynamoDB refused our credentials during %s: %s", what, code)
            raise StorageUnavailable(
                "the service's AWS credentials were refused by DynamoDB", retry_after=30
            ) from exc
        if (field := oversized_field(exc)) is not None:
            logger.warning("DynamoDB refused %s: an item past 400 KB (%s)", what, field)
            raise Invalid([FieldError(field, TOO_LARGE)]) from exc
        raise
    except (NoCredentialsError, PartialCredentialsError) as exc:
        logger.error("no AWS credentials for %s: %s", what, exc)
        raise StorageUnavailable(
            "the service has no AWS credentials for DynamoDB", retry_after=30
        ) from exc
    except NoRegionError as exc:
        raise StorageUnavailable("no AWS region is configured", retry_after=30) from exc
    except (EndpointConnectionError, ConnectionError, ReadTimeoutError) as exc:
        logger.warning("DynamoDB unreachable during %s: %s", what, exc)
        raise StorageUnavailable(
            "DynamoDB cannot be reached; retry shortly", retry_after=5
        ) from exc
    except BotoCoreError as exc:
        logger.exception("unexpected botocore failure during %s", what)
        raise StorageUnavailable("DynamoDB request failed; retry shortly", retry_after=5) from exc
