"""The engine's files tell when they were damaged, and a start says what was lost.

Each case writes through the engine (in this process, against its own region of moto),
stops it as a crash would (no snapshot) or cleanly, damages the folder as a disk, a sync
tool or a hand might, and starts again: the start loads the last good state, names the
file and the last good sequence number, and keeps the damaged journal aside. Also: the
engine snapshots as it goes, so a start after a crash replays a bounded journal.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from localdb import server, store
from localdb.server import JournalingApp, LoadReport

REGION = "eu-north-1"  # these tests' own moto region, emptied before each start
TABLE = "damage"
_AUTH = (
    f"AWS4-HMAC-SHA256 Credential=local-engine/20240101/{REGION}/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


_started: list[JournalingApp] = []


@pytest.fixture(autouse=True)
def _close_journals() -> Iterator[None]:
    yield
    _close_started()


def _close_started() -> None:
    while _started:
        journal = _started.pop().journal
        if journal is not None and not journal._file.closed:
            journal.close()


def _forget_tables() -> None:
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables.clear()


def _start(folder: Path) -> tuple[JournalingApp, LoadReport]:
    _forget_tables()
    folder.mkdir(mode=0o700, exist_ok=True)
    app = JournalingApp()
    _started.append(app)
    return app, app.load(folder)


def _call(app: JournalingApp, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    answer = Client(app).post(
        "/",
        data=json.dumps(payload),
        headers={"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Authorization": _AUTH},
        content_type="application/x-amz-json-1.0",
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    result: dict[str, Any] = answer.get_json(force=True)
    return result


def _create(app: JournalingApp) -> None:
    _call(
        app,
        "CreateTable",
        {
            "TableName": TABLE,
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def _put(app: JournalingApp, *names: str) -> None:
    for name in names:
        _call(app, "PutItem", {"TableName": TABLE, "Item": {"id": {"S": name}}})


def _stored(app: JournalingApp) -> list[str]:
    items = _call(app, "Scan", {"TableName": TABLE})["Items"]
    return sorted(item["id"]["S"] for item in items)


def _crash(app: JournalingApp) -> None:
    """Stop as a killed engine does: the journal as it is, no snapshot."""
    assert app.journal is not None
    app.journal.close()


def _stop(app: JournalingApp, folder: Path) -> None:
    app.compact(folder)
    _crash(app)


def _newest_journal(folder: Path) -> Path:
    return store.journal_path(folder, max(store.generations(folder)[1]))


def _written(tmp_path: Path) -> tuple[Path, Path]:
    """A folder whose newest journal holds a table and the items a..e (seq 1 to 6)."""
    folder = tmp_path / "localdb"
    app, _ = _start(folder)
    _create(app)
    _put(app, "a", "b", "c", "d", "e")
    _crash(app)
    return folder, _newest_journal(folder)


def test_an_undamaged_folder_loads_without_problems(tmp_path: Path) -> None:
    folder, _ = _written(tmp_path)
    app, report = _start(folder)
    _put(app, "f")
    _crash(app)
    app, again = _start(folder)

    assert report.problems == []
    assert again.problems == []
    assert _stored(app) == ["a", "b", "c", "d", "e", "f"]


def test_a_value_edited_in_the_journal_is_found_and_what_follows_it_kept_aside(
    tmp_path: Path,
) -> None:
    folder, journal = _written(tmp_path)
    journal.write_bytes(journal.read_bytes().replace(b'\\"c\\"', b'\\"x\\"'))

    app, report = _start(folder)

    text = "\n".join(report.problems)
    assert f"{journal.name} line 4: seq 4 does not match its checksum" in text
    assert "loaded up to seq 3" in text
    assert f"kept as {journal.with_suffix('.damaged').name}" in text
    assert journal.with_suffix(".damaged").exists()
    assert _stored(app) == ["a", "b"]
    health = Client(app).get("/_engine/health").get_json()
    assert "3 acknowledged writes are lost (with the damaged journal)" in text
    assert health["problems"] == len(report.problems) == 3  # counted; the log says what


def test_a_line_left_out_of_the_journal_is_found(tmp_path: Path) -> None:
    folder, journal = _written(tmp_path)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:2] + lines[3:]))  # b's line cut out at its ends

    app, report = _start(folder)

    text = "\n".join(report.problems)
    assert f"{journal.name} line 3: seq 4 where seq 3 was due" in text
    assert "loaded up to seq 2" in text
    assert _stored(app) == ["a"]


def test_a_journal_cut_short_at_a_line_boundary_is_found(tmp_path: Path) -> None:
    folder, journal = _written(tmp_path)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:4]))

    app, report = _start(folder)

    text = "\n".join(report.problems)
    assert f"up to seq 6 (in {journal.name})" in text
    assert "the data ends at seq 4: 2 acknowledged writes are lost" in text
    assert _stored(app) == ["a", "b", "c"]


def test_a_journal_emptied_is_found(tmp_path: Path) -> None:
    folder, journal = _written(tmp_path)
    journal.write_bytes(b"")

    _, report = _start(folder)

    assert "the data ends at seq 0: 6 acknowledged writes are lost" in "\n".join(report.problems)


def test_a_journal_deleted_after_a_snapshot_is_found(tmp_path: Path) -> None:
    folder, _ = _written(tmp_path)
    app, _ = _start(folder)  # replays, and snapshots the state at seq 6
    _put(app, "f", "g")
    _crash(app)
    journal = _newest_journal(folder)
    journal.unlink()

    app, report = _start(folder)

    text = "\n".join(report.problems)
    assert f"up to seq 8 (in {journal.name}, which is missing)" in text
    assert "the data ends at seq 6: 2 acknowledged writes are lost" in text
    assert _stored(app) == ["a", "b", "c", "d", "e"]


def test_an_older_snapshot_put_back_is_found_and_the_generation_before_it_used(
    tmp_path: Path,
) -> None:
    folder, _ = _written(tmp_path)
    app, _ = _start(folder)
    _put(app, "f")
    _stop(app, folder)
    snapshots = store.generations(folder)[0]
    older, newest = (store.snapshot_path(folder, g) for g in snapshots[-2:])
    shutil.copyfile(older, newest)

    app, report = _start(folder)

    text = "\n".join(report.problems)
    assert f"{newest.name}: holds generation {snapshots[-2]}, not {snapshots[-1]}" in text
    assert _stored(app) == ["a", "b", "c", "d", "e", "f"]  # the way back holds it all


def test_an_older_folder_put_back_is_found(tmp_path: Path) -> None:
    folder, _ = _written(tmp_path)
    backup = tmp_path / "backup"
    shutil.copytree(folder, backup)
    app, _ = _start(folder)
    _put(app, "f", "g")
    _stop(app, folder)
    witness = (folder / store.WITNESS).read_bytes()
    shutil.rmtree(folder)
    shutil.copytree(backup, folder)
    (folder / store.WITNESS).write_bytes(witness)  # the data put back, not the witness

    _, report = _start(folder)

    assert "the data ends at seq 6: 2 acknowledged writes are lost" in "\n".join(report.problems)


def test_a_journal_written_before_sequence_numbers_still_loads(tmp_path: Path) -> None:
    folder = tmp_path / "localdb"
    folder.mkdir(mode=0o700)
    create = {
        "TableName": TABLE,
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    lines = [
        {"op": "CreateTable", "region": REGION, "body": json.dumps(create)},
        {
            "op": "PutItem",
            "region": REGION,
            "body": json.dumps({"TableName": TABLE, "Item": {"id": {"S": "old"}}}),
        },
    ]
    store.journal_path(folder, 0).write_text("".join(json.dumps(line) + "\n" for line in lines))

    app, report = _start(folder)
    _put(app, "new")
    _crash(app)
    app, again = _start(folder)

    assert report.problems == []
    assert again.problems == []
    assert _stored(app) == ["new", "old"]


def test_snapshots_are_taken_as_writes_go_so_a_restart_replays_little(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "SNAPSHOT_EVERY", 10)
    folder = tmp_path / "localdb"
    app, _ = _start(folder)
    _create(app)
    names = [f"n{n:03d}" for n in range(45)]
    _put(app, *names)
    assert app.journal is not None
    behind = app.journal.entries
    _crash(app)

    app, report = _start(folder)

    assert behind < 10
    assert report.journal_entries == behind
    assert report.problems == []
    assert _stored(app) == names
    assert len(store.generations(folder)[0]) <= 2  # older generations are removed


def test_a_write_served_before_a_restart_is_refused_after_it_even_in_the_same_second(
    tmp_path: Path,
) -> None:
    from botocore.auth import SigV4Auth  # noqa: PLC0415
    from botocore.awsrequest import AWSRequest  # noqa: PLC0415
    from botocore.credentials import Credentials  # noqa: PLC0415

    folder = tmp_path / "localdb"
    app, _ = _start(folder)
    _create(app)
    _crash(app)
    secret = "s" * 64
    request = AWSRequest(
        method="POST",
        url="http://localhost/",
        data=json.dumps({"TableName": TABLE, "Item": {"id": {"S": "once"}}}).encode(),
        headers={
            "X-Amz-Target": "DynamoDB_20120810.PutItem",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    SigV4Auth(Credentials("local-engine", secret), "dynamodb", REGION).add_auth(request)
    signed = dict(request.headers.items())

    def send(app: JournalingApp) -> int:
        return Client(app).post("/", data=request.data, headers=signed).status_code

    _close_started()
    _forget_tables()
    first = JournalingApp(secret=secret)
    _started.append(first)
    first.load(folder)
    served = send(first)
    _crash(first)
    _forget_tables()
    second = JournalingApp(secret=secret)
    _started.append(second)
    second.replays.not_before -= dt.timedelta(seconds=5)  # started in the same second
    second.load(folder)

    assert served == 200
    assert send(second) == 400
