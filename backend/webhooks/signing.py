"""Signing a JSON delivery's body with the webhook's secret, as Stripe does, and checking it.

The header is ``Calendar-Signature: t=<unix time>,v1=<hex HMAC-SHA256>``, the MAC taken over
``"<t>." + body`` with the secret's UTF-8 bytes. ``verify`` is the receiver's side, short
enough to copy into a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Calendar-Signature"
DELIVERY_HEADER = "Calendar-Delivery"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes, URL-safe base64."""
    return "whsec_" + secrets.token_urlsafe(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Calendar-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance: int = 300, now: int | None = None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of now.

    Any one of several ``v1=`` entries may match (a sender signing with an old and a new
    secret while they rotate); the comparison takes constant time.
    """
    pairs = [item.strip().partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in pairs if key == "t"]
    macs = [value.encode() for key, _, value in pairs if key == "v1" and value.isascii()]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body).encode()
    return any(hmac.compare_digest(expected, mac) for mac in macs)
