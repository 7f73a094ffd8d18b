"""Bookkeeping items (ids starting with #) are never departments, whatever their kind."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from backend.errors import QuotaReached
from backend.report.job import ReportJob
from backend.report.mail import Message
from backend.storage import Storage
from tests.helpers import assert_problem, create_department

DAY = date(2024, 1, 20)


class _Outbox:
    """A mailer that accepts every message, as a transport that works would."""

    name = "outbox"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> str:
        self.sent.append(message)
        return f"<{len(self.sent)}@outbox>"


@pytest.fixture
def bookkeeping_ids(client: FlaskClient, storage: Storage) -> dict[str, str]:
    """One real item of each kind, written by the product itself."""
    department = create_department(client, "개발팀", notify_emails=["lead@example.com"])
    outbox = _Outbox()
    ReportJob(storage, outbox, "calendar@example.com", 100).run(DAY, 7)
    assert len(outbox.sent) == 1  # the report really ran and left its markers
    return {
        "name claim": "#name#개발팀",
        "report marker": f"#mail-sent#{DAY.isoformat()}#{department['id']}",
        "quota counter": f"#mail-quota#{DAY.isoformat()}",
    }


KINDS = ["name claim", "report marker", "quota counter"]


def _url(ident: str) -> str:
    return "/api/departments/" + quote(ident, safe="")


@pytest.mark.parametrize("kind", KINDS)
def test_a_bookkeeping_item_is_not_found_through_every_department_verb(
    client: FlaskClient, bookkeeping_ids: dict[str, str], kind: str
) -> None:
    url = _url(bookkeeping_ids[kind])

    assert_problem(client.get(url), 404)
    assert_problem(client.patch(url, json={"description": "x"}), 404)
    assert_problem(client.patch(url, json={"name": "새 이름"}), 404)
    assert_problem(client.delete(url), 404)
    assert_problem(client.delete(url + "?cascade=true"), 404)
    assert_problem(
        client.post(
            f"/api/events/{quote(bookkeeping_ids[kind], safe='')}",
            json={"event_date": "2024-01-20", "title": "x"},
        ),
        404,
    )
    assert_problem(client.get(f"/api/events/{quote(bookkeeping_ids[kind], safe='')}"), 404)


def test_refused_writes_leave_every_bookkeeping_item_doing_its_job(
    client: FlaskClient, storage: Storage, bookkeeping_ids: dict[str, str]
) -> None:
    for ident in bookkeeping_ids.values():
        client.patch(_url(ident), json={"name": "딴이름", "description": "x"})
        client.delete(_url(ident) + "?cascade=true")

    department_id = bookkeeping_ids["report marker"].rsplit("#", 1)[-1]
    assert client.post("/api/departments", json={"name": "개발팀"}).status_code == 409
    assert storage.mailings.already_sent(DAY, department_id)
    with pytest.raises(QuotaReached):  # the one message already sent still counts
        storage.mailings.reserve(DAY, 100, 100)


def test_listings_never_show_bookkeeping_items(
    client: FlaskClient, storage: Storage, bookkeeping_ids: dict[str, str]
) -> None:
    listed = client.get("/api/departments").get_json()["items"]
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = "/api/departments?limit=1" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url).get_json()
        paged += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert [d["name"] for d in listed] == ["개발팀"]
    assert [d["name"] for d in paged] == ["개발팀"]
    assert [d.name for d in storage.departments.list_all()] == ["개발팀"]
    for ident in bookkeeping_ids.values():
        assert all(d["id"] != ident for d in listed)


def test_find_by_name_never_returns_a_bookkeeping_item(
    client: FlaskClient, bookkeeping_ids: dict[str, str]
) -> None:
    found = client.get("/api/departments", query_string={"name": "개발팀"}).get_json()["items"]

    assert [d["name"] for d in found] == ["개발팀"]
    assert all(not d["id"].startswith("#") for d in found)
