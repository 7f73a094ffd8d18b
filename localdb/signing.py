"""The data folder's secret, and what is proved with it: requests (SigV4) and the engine.

Every tool of a data folder signs its DynamoDB requests with the folder's secret as the
secret access key, as boto3 does for AWS; the engine checks that signature before moto
sees anything, and serves a signed write once only (``Replays``): a signature is good for
``MAX_CLOCK_SKEW`` either side of its date, and the engine remembers the writes it served
for that long, so a captured request cannot be played again. A tool's client (the
launcher's ``attach``) signs a fresh nonce into every attempt, so its own retries are
never mistaken for replays.

The engine in turn proves it holds the secret: an HMAC of a nonce the tool chose and, for
a DynamoDB answer, of the answer's status, headers and body, so a tool never mistakes
another process on the engine's port for its engine, nor takes an answer altered on its
way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

ACCESS_KEY_ID = "local-engine"  # names the key; the secret is what is checked
ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "dynamodb"
# A signature's life either side of its date: tools and engine share one clock, so this is
# the time a request may take to arrive, far less than the 15 minutes AWS allows.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
MAX_REMEMBERED = 200_000  # writes remembered against replay at most (then "busy")
# Headers an answer's proof leaves out: those the HTTP layers add or change on their way.
UNPROVED_HEADERS = frozenset(
    {"server", "date", "connection", "keep-alive", "transfer-encoding", "content-length"}
)
# Headers a signature must cover: the target binds the operation, the date the time.
REQUIRED_SIGNED = frozenset({"host", "x-amz-date", "x-amz-target"})


class SignatureError(Exception):
    """The request is not signed with the data folder's secret."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Signed:
    region: str
    signature: str
    expires: dt.datetime  # when the signature's date is too old for any check to pass


def proof(secret: str, purpose: str, data: str) -> str:
    """What only a holder of ``secret`` can answer for ``data``."""
    message = f"{purpose}\n{data}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def response_proof(
    secret: str,
    nonce: str,
    status: int | str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    proof_header: str = "",
) -> str:
    """The engine's proof of one answer: the tool's nonce, the status code, the headers
    (but ``UNPROVED_HEADERS`` and the proof's own) and the SHA-256 of the body, so that an
    answer altered on its way (or given by another process) fails."""
    joined: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.lower()
        if key not in UNPROVED_HEADERS and key != proof_header.lower():
            joined.setdefault(key, []).append(" ".join(str(value).split()))
    canonical = "".join(f"{k}:{', '.join(v)}\n" for k, v in sorted(joined.items()))
    digest = hashlib.sha256(body).hexdigest()
    head = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return proof(secret, "response-v2", f"{nonce}\n{status}\n{head}\n{digest}")


class Replays:
    """The signatures of the writes served while they are still good: a write whose
    signature was served before is a replay. Used under the engine's request lock.

    An engine knows what it served itself and what the journal it replayed says (each line
    keeps its request's signature); a write signed before it started (``not_before``, to
    the second) is refused too: it may have been served by the engine before it, and a
    tool's client signs each attempt anew anyway."""

    def __init__(self, limit: int = MAX_REMEMBERED, not_before: dt.datetime | None = None) -> None:
        self.limit = limit
        self.not_before = (not_before or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        self._seen: dict[str, dt.datetime] = {}  # signature -> when it expires, in arrival order

    def seen(self, signed: Signed, now: dt.datetime | None = None) -> bool:
        """Whether this signature was (or may have been) served before; if not, it is
        from now on."""
        if signed.expires - MAX_CLOCK_SKEW < self.not_before:
            return True
        self._expire(now or dt.datetime.now(dt.UTC))
        if signed.signature in self._seen:
            return True
        self._seen[signed.signature] = signed.expires
        return False

    def remember(self, signature: str, expires: dt.datetime) -> None:
        """A signature a write was served with before this engine started (its journal
        says so), so that it is refused in the second the engine started in too."""
        if expires > dt.datetime.now(dt.UTC):
            self._seen[signature] = expires

    def forget(self, signed: Signed) -> None:
        """Let a signature be served again: its write was refused before it ran (503), and
        the client is asked to send it again."""
        self._seen.pop(signed.signature, None)

    def full(self, now: dt.datetime | None = None) -> bool:
        self._expire(now or dt.datetime.now(dt.UTC))
        return len(self._seen) >= self.limit

    def _expire(self, now: dt.datetime) -> None:
        # Arrival order is nearly expiry order (dates are within the skew of arrival):
        # drop from the front while expired, and let a late one go with the next sweep.
        while self._seen:
            signature, expires = next(iter(self._seen.items()))
            if expires > now:
                return
            del self._seen[signature]

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class Claimed:
    """What a request's headers claim of its signature, checked as far as they allow."""

    date: str
    amz_date: str
    region: str
    signed_headers: list[str]
    signature: str


def check_headers(headers: Mapping[str, str], now: dt.datetime | None = None) -> Claimed:
    """Check all of a SigV4 signature that needs neither the secret nor the body.

    The engine runs this before it reads a body, so a request that cannot be signed with
    the folder's secret (none, another key id, headers left unsigned, a stale date) is
    refused for the price of its headers. ``headers`` keys are lower case.
    """
    authorization = headers.get("authorization", "")
    if not authorization:
        raise SignatureError(
            "MissingAuthenticationTokenException", "Request is missing Authentication Token"
        )
    try:
        algorithm, rest = authorization.split(" ", 1)
        parts = dict(p.strip().split("=", 1) for p in rest.split(","))
        key_id, date, region, service, terminal = parts["Credential"].split("/")
        signed_headers = parts["SignedHeaders"].split(";")
        signature = parts["Signature"]
    except (ValueError, KeyError) as exc:
        raise SignatureError("IncompleteSignatureException", "Malformed Authorization") from exc
    if algorithm != ALGORITHM or service != SERVICE or terminal != "aws4_request":
        raise SignatureError("IncompleteSignatureException", "Unsupported credential scope")
    if key_id != ACCESS_KEY_ID:
        raise SignatureError(
            "UnrecognizedClientException", "The security token included in the request is invalid"
        )
    if not set(signed_headers) >= REQUIRED_SIGNED or any(h not in headers for h in signed_headers):
        raise SignatureError("IncompleteSignatureException", "Required headers are not signed")
    amz_date = headers["x-amz-date"]
    try:
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise SignatureError("IncompleteSignatureException", "Malformed X-Amz-Date") from exc
    current = now or dt.datetime.now(dt.UTC)
    if abs(current - when) > MAX_CLOCK_SKEW or date != amz_date[:8]:
        raise SignatureError("InvalidSignatureException", "Signature expired or misdated")
    return Claimed(date, amz_date, region, signed_headers, signature)


def verify(
    secret: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: dt.datetime | None = None,
) -> Signed:
    """Check a SigV4 signature made with ``secret``; ``headers`` keys are lower case."""
    claimed = check_headers(headers, now)
    date, region, signed_headers = claimed.date, claimed.region, claimed.signed_headers
    payload = hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        [
            method,
            path or "/",
            query,
            "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed_headers),
            ";".join(signed_headers),
            payload,
        ]
    )
    scope = f"{date}/{region}/{SERVICE}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, claimed.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    expected = hmac.new(_signing_key(secret, date, region), to_sign.encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), claimed.signature):
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided",
        )
    when = dt.datetime.strptime(claimed.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    return Signed(region, claimed.signature, when + MAX_CLOCK_SKEW)


@lru_cache(maxsize=16)
def _signing_key(secret: str, date: str, region: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
