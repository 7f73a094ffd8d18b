"""``Idempotency-Key`` on creates: a retried POST gets the first answer, not a duplicate.

Within 24 hours of the first request with a key: the same key and body return the first
response again (status, body, ``Location``), creating nothing; the same key with another
body is 422 ``idempotency-key-reused``; the same key while the first request still runs
is 409 ``idempotency-key-in-use``.

The key's answer is written in the same DynamoDB transaction as the resource it answers
(``Completing``), so a process killed after the create but before it answered leaves the
key done, and the next retry gets the answer instead of a second resource. A create whose
transaction went through but whose answer was lost (a retried, then cancelled attempt) is
answered as created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from backend.errors import CalendarError, Conflict, IdempotencyKeyReused
from backend.storage import Storage
from backend.storage.idempotency import KEEP_HOURS, StoredResponse, fingerprint

if TYPE_CHECKING:
    from backend.storage.dynamo import TransactItem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255  # printable ASCII characters

Resource = TypeVar("Resource")


@dataclass(frozen=True)
class Completing(Generic[Resource]):
    """How a create under a claimed key also completes the key, in its own transaction."""

    storage: Storage
    scope: str
    key: str
    token: str
    render: Callable[[Resource], StoredResponse]

    def writes_for(self, resource: Resource) -> list[TransactItem]:
        """The transaction items that keep the answer to ``resource`` under the key."""
        answer = self.render(resource)
        return [self.storage.idempotency.completion(self.scope, self.key, self.token, answer)]


def run_once(
    storage: Storage,
    scope: str,
    key: str,
    body: Any,
    *,
    create: Callable[[Completing[Resource] | None], Resource],
    render: Callable[[Resource], StoredResponse],
) -> tuple[StoredResponse, bool]:
    """Run ``create`` once per ``key`` and ``body`` within ``scope`` (the route); returns
    the answer (``render`` of what was created) and whether it is replayed from the first
    request. ``create`` writes ``Completing.writes_for`` with the resource it creates."""
    records = storage.idempotency
    claim = records.claim(scope, key, fingerprint(scope, body))
    if claim.other_body:
        raise IdempotencyKeyReused(
            f"{HEADER} {key!r} was used within {KEEP_HOURS} hours for a request with another "
            "body; use a new key for a new request"
        )
    if claim.in_progress:
        raise Conflict(
            f"a request with {HEADER} {key!r} is still being processed; retry shortly",
            code="idempotency-key-in-use",
        )
    if claim.response is not None:
        return claim.response, True
    assert claim.token is not None  # noqa: S101 - claim() sets exactly one outcome
    try:
        resource = create(Completing(storage, scope, key, claim.token, render))
    except CalendarError:
        answered = records.answered(scope, key, claim.token)
        if answered is not None:
            return answered, False  # it was created; only its answer went missing
        records.release(scope, key, claim.token)  # a failed create can be retried as it was
        raise
    return render(resource), False
