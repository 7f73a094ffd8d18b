"""Import jobs: an iCalendar file too big for one request, imported in the background.

A job lives in the events table under its department's partition ``#imports#<department>``
(``id``), with the job id as the range key: one item for the job (its status, progress,
result and lease) and its VEVENTs, as read from the file, in chunks ``<job id>#<n>`` of
at most ``CHUNK_BYTES`` (zlib-compressed JSON, under DynamoDB's 400 KB item limit). Nothing
here has an ``event_date``, so no index holds it, and everything expires a day after the
job was made (``expires_at``: DynamoDB's TTL, and reads treat an expired job as absent).

A runner holds the job by a lease (``lease_owner``, ``lease_until``), taken with a
conditional write: one runner at a time, and a job whose runner died is taken over once
its lease has lapsed, from the progress it had saved.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from backend.storage.batch import BatchIO
from backend.storage.bookkeeping import utc_datetime
from backend.storage.dynamo import error_code, from_item, to_item, to_value, translated_errors
from backend.storage.versioning import usable_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

IMPORTS_PREFIX = "#imports#"
# How long a job, its chunks and its result are kept.
JOB_DAYS = 1
# The most bytes of VEVENTs (JSON, before compression) one chunk item holds: under the
# 400 KB item limit whatever the compression gives.
CHUNK_BYTES = 300_000
# The most VEVENTs a chunk holds: a runner saves its progress after each chunk.
CHUNK_ENTRIES = 500

Status = Literal["queued", "running", "succeeded", "failed"]
UNFINISHED = ("queued", "running")


@dataclass(frozen=True)
class Job:
    """One import job as stored."""

    department_id: str
    id: str
    status: Status
    total: int
    done: int
    chunks: int
    options: dict[str, Any]
    created_at: str
    result: dict[str, Any] | None = None
    error: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    next_chunk: int = 0  # the first chunk not applied yet

    def leased(self, now: datetime) -> bool:
        """Whether a runner holds it now."""
        return self.lease_until is not None and self.lease_until > now


def partition(department_id: str) -> str:
    return IMPORTS_PREFIX + department_id


def _chunk_key(job_id: str, n: int) -> str:
    return f"{job_id}#{n:05d}"


def chunked(entries: Sequence[dict[str, Any]]) -> list[bytes]:
    """``entries`` (plain JSON values) in chunks of at most CHUNK_ENTRIES and CHUNK_BYTES,
    each compressed."""
    chunks: list[bytes] = []
    current: list[str] = []
    size = 0
    for entry in entries:
        text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        length = len(text.encode()) + 1
        if current and (size + length > CHUNK_BYTES or len(current) >= CHUNK_ENTRIES):
            chunks.append(zlib.compress(("[" + ",".join(current) + "]").encode()))
            current, size = [], 0
        current.append(text)
        size += length
    if current:
        chunks.append(zlib.compress(("[" + ",".join(current) + "]").encode()))
    return chunks


def unchunked(data: bytes) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(zlib.decompress(data))
    return entries


class ImportJobs:
    """The import jobs of the events table."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table

    def _key(self, department_id: str, range_key: str) -> dict[str, Any]:
        return to_item({"id": partition(department_id), "department_id": range_key})

    def create(
        self,
        department_id: str,
        job_id: str,
        entries: Sequence[dict[str, Any]],
        options: dict[str, Any],
    ) -> Job:
        """Store a queued job of ``entries``: its chunks first (BatchWriteItem, 25 a call),
        then the job item, so that a job never lacks its chunks."""
        now = utc_datetime()
        expires = int((now + timedelta(days=JOB_DAYS)).timestamp())
        chunks = chunked(entries)
        with translated_errors("store import job"):
            BatchIO(self._client).write(
                self.table,
                [
                    {
                        "id": partition(department_id),
                        "department_id": _chunk_key(job_id, n),
                        "entries": data,
                        "expires_at": expires,
                    }
                    for n, data in enumerate(chunks)
                ],
            )
        job = Job(
            department_id=department_id,
            id=job_id,
            status="queued",
            total=len(entries),
            done=0,
            chunks=len(chunks),
            options=options,
            created_at=now.isoformat(timespec="milliseconds"),
        )
        with translated_errors("store import job"):
            self._client.put_item(
                TableName=self.table,
                Item=to_item(
                    {
                        "id": partition(department_id),
                        "department_id": job_id,
                        "kind": "import-job",
                        "status": job.status,
                        "total": job.total,
                        "done": 0,
                        "chunks": job.chunks,
                        "options": json.dumps(options),
                        "created_at": job.created_at,
                        "expires_at": expires,
                    }
                ),
                ConditionExpression="attribute_not_exists(id)",
            )
        return job

    def find(self, department_id: str, job_id: str) -> Job | None:
        """The job (strongly consistent), or None: unknown, expired, or a malformed id."""
        if not (usable_key(department_id) and usable_key(job_id)) or "#" in job_id:
            return None
        with translated_errors("read import job"):
            response = self._client.get_item(
                TableName=self.table, Key=self._key(department_id, job_id), ConsistentRead=True
            )
        item = response.get("Item")
        if item is None:
            return None
        job = _job(from_item(item))
        if int(from_item(item).get("expires_at", 0)) <= int(utc_datetime().timestamp()):
            return None
        return job

    def chunks(self, job: Job, first: int = 0) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """The job's chunks from ``first`` on, one GetItem each: (index, entries)."""
        for n in range(first, job.chunks):
            with translated_errors("read import job"):
                response = self._client.get_item(
                    TableName=self.table,
                    Key=self._key(job.department_id, _chunk_key(job.id, n)),
                    ConsistentRead=True,
                )
            item = response.get("Item")
            if item is None:
                raise LookupError(f"chunk {n} of import job {job.id} is gone")
            data = from_item(item)["entries"]
            yield n, unchunked(bytes(data.value if hasattr(data, "value") else data))

    def take(self, job: Job, owner: str, until: datetime) -> Job | None:
        """Hold an unfinished job until ``until`` unless another runner holds it now; the
        job as it is then, or None."""
        now = utc_datetime()
        try:
            with translated_errors("take import job"):
                response = self._client.update_item(
                    TableName=self.table,
                    Key=self._key(job.department_id, job.id),
                    UpdateExpression="SET #status = :running, lease_owner = :me, "
                    "lease_until = :until",
                    ConditionExpression="attribute_exists(id) AND #status IN (:queued, :running)"
                    " AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":running": to_value("running"),
                        ":queued": to_value("queued"),
                        ":me": to_value(owner),
                        ":until": to_value(until.isoformat()),
                        ":now": to_value(now.isoformat()),
                    },
                    ReturnValues="ALL_NEW",
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return _job(from_item(response["Attributes"]))

    def progress(
        self, job: Job, owner: str, *, next_chunk: int, done: int, result: dict[str, Any],
        until: datetime,
    ) -> bool:  # fmt: skip
        """Save how far the runner got (chunks before ``next_chunk`` applied, ``done``
        VEVENTs, the result so far), and hold the job longer; False when the lease was
        lost (another runner took the job over)."""
        return self._update(
            job,
            owner,
            "SET done = :done, next_chunk = :next, #result = :result, lease_until = :until",
            {
                ":next": to_value(next_chunk),
                ":done": to_value(done),
                ":result": to_value(_packed(result)),
                ":until": to_value(until.isoformat()),
            },
        )

    def release(self, job: Job, owner: str) -> bool:
        """Give the lease back (the runner stops before the end; the next one goes on)."""
        return self._update(job, owner, "REMOVE lease_owner, lease_until", {})

    def finish(
        self,
        job: Job,
        owner: str,
        status: Status,
        result: dict[str, Any] | None,
        error: str | None = None,
    ) -> bool:
        """Mark the job done (``succeeded`` or ``failed``) and delete its chunks."""
        sets = ["#status = :status"]
        values: dict[str, Any] = {":status": to_value(status)}
        if result is not None:
            sets.append("#result = :result")
            values[":result"] = to_value(_packed(result))
            sets.append("done = :done")
            values[":done"] = to_value(job.total)
        if error is not None:
            sets.append("#error = :error")
            values[":error"] = to_value(error)
        expression = "SET " + ", ".join(sets) + " REMOVE lease_owner, lease_until"
        if not self._update(job, owner, expression, values):
            return False
        with translated_errors("delete import job chunks"):
            BatchIO(self._client).write(
                self.table,
                (),
                [
                    {"id": partition(job.department_id), "department_id": _chunk_key(job.id, n)}
                    for n in range(job.chunks)
                ],
            )
        return True

    def _update(self, job: Job, owner: str, expression: str, values: dict[str, Any]) -> bool:
        try:
            with translated_errors("update import job"):
                self._client.update_item(
                    TableName=self.table,
                    Key=self._key(job.department_id, job.id),
                    UpdateExpression=expression,
                    ConditionExpression="lease_owner = :me",
                    ExpressionAttributeNames={
                        k: v
                        for k, v in (
                            ("#status", "status"),
                            ("#result", "result"),
                            ("#error", "error"),
                        )
                        if k in expression
                    },
                    ExpressionAttributeValues=values | {":me": to_value(owner)},
                )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True


# A result's rejections past this many are counted, not listed: a job's item stays far
# under DynamoDB's 400 KB (a rejection is a UID, a line and a sentence).
RESULT_REJECTIONS = 1000


def _packed(result: dict[str, Any]) -> bytes:
    rejected = list(result.get("rejected", []))
    kept = result | {"rejected": rejected[:RESULT_REJECTIONS]}
    if len(rejected) > RESULT_REJECTIONS:
        kept["rejected_not_listed"] = (
            len(rejected) - RESULT_REJECTIONS + int(result.get("rejected_not_listed", 0))
        )
    return zlib.compress(json.dumps(kept, ensure_ascii=False).encode())


def _unpacked(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    data: dict[str, Any] = json.loads(
        zlib.decompress(bytes(value.value if hasattr(value, "value") else value))
    )
    return data


def _job(data: dict[str, Any]) -> Job:
    lease = data.get("lease_until")
    return Job(
        department_id=str(data["id"]).removeprefix(IMPORTS_PREFIX),
        id=str(data["department_id"]),
        status=data.get("status", "queued"),
        total=int(data.get("total", 0)),
        done=int(data.get("done", 0)),
        chunks=int(data.get("chunks", 0)),
        options=json.loads(data.get("options", "{}")),
        created_at=str(data.get("created_at", "")),
        result=_unpacked(data.get("result")),
        error=data.get("error"),
        lease_owner=data.get("lease_owner"),
        lease_until=datetime.fromisoformat(lease) if lease else None,
        next_chunk=int(data.get("next_chunk", 0)),
    )
