"""Opaque, signed list cursors, each bound to the list and filters that issued it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from backend.errors import BadRequest, FieldError, SyncTokenExpired
from backend.services.sync import SyncPoint


class CursorCodec:
    """Signs the position after a page's last item together with the list's scope.

    The signature (HMAC with the app's secret key) makes a cursor unforgeable, and the
    scope (which list, which department, which filters) makes one issued for a list
    useless for any other: both are refused with 400.
    """

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="list-cursor/v1")
        self._tokens = URLSafeSerializer(secret_key, salt="sync-token/v1")

    def sync_token(self, point: SyncPoint) -> str:
        """The sync token of ``point``: signed, so only this service's tokens are read."""
        return self._tokens.dumps(
            {"d": point.department_id, "v": point.version, "t": int(point.issued.timestamp())}
        )

    def read_sync_token(self, token: str, department_id: str) -> SyncPoint:
        """What ``token`` holds, or ``SyncTokenExpired`` (410) when it is not a token this
        service issued for ``department_id``."""
        try:
            data = self._tokens.loads(token)
        except BadSignature:
            raise SyncTokenExpired("the sync token is not one this service issued") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("v"), int)
            or not isinstance(data.get("t"), int)
        ):
            raise SyncTokenExpired("the sync token is malformed")
        if data.get("d") != department_id:
            raise SyncTokenExpired("the sync token belongs to another department")
        return SyncPoint(department_id, data["v"], datetime.fromtimestamp(data["t"], UTC))

    def encode(self, scope: list[Any], position: tuple[str, ...]) -> str:
        """A cursor for the position after ``position`` in the list ``scope`` names."""
        return self._serializer.dumps({"s": scope, "p": list(position)})

    def decode(self, cursor: str, scope: list[Any], width: int) -> tuple[str, ...]:
        """The position a cursor holds: ``width`` strings, issued for exactly ``scope``."""
        try:
            data = self._serializer.loads(cursor)
        except BadSignature:
            raise _bad("is not a cursor this service issued (garbled or forged)") from None
        if not isinstance(data, dict) or data.get("s") != scope:
            raise _bad("belongs to a different list or different filters")
        position = data.get("p")
        if (
            not isinstance(position, list)
            or len(position) != width
            or not all(isinstance(p, str) for p in position)
        ):
            raise _bad("is malformed")
        return tuple(position)


def _bad(message: str) -> BadRequest:
    return BadRequest(
        "the cursor cannot be used here; start again without it",
        [FieldError("cursor", message)],
    )
