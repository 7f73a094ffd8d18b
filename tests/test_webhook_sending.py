"""Webhook deliveries against a real receiver on loopback: signatures, formats, failures,
the guard against private targets and the connection pinned to the checked address."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend.webhooks.messages import Delivery, EventChange, Format, Language, render
from backend.webhooks.sending import RETRY_FOR, headers_for, retry_delay, send
from backend.webhooks.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    new_secret,
    sign,
    verify,
)
from backend.webhooks.targets import TargetRefused, check_url, refusal, resolve
from tests.receiver import Receiver

SECRET = "whsec_test-secret"
MEETING = EventChange("created", "e1", "팀 회의", "2024-01-15", None, "14:00")
WHEN = dt.datetime(2024, 1, 15, 5, 0, 0, tzinfo=dt.UTC)


def _delivery(
    *changes: EventChange,
    total: int | None = None,
    name: str = "개발팀",
    calendar_url: str | None = None,
) -> Delivery:
    changes = changes or (MEETING,)
    return Delivery(
        id="dep-1:7",
        department_id="dep-1",
        department_name=name,
        version=7,
        occurred_at=WHEN,
        changes=changes,
        total=len(changes) if total is None else total,
        calendar_url=calendar_url,
    )


def _deliver(
    url: str, fmt: Format = "json", delivery: Delivery | None = None, **kwargs: Any
) -> tuple[bytes, Any]:
    body = render(fmt, "ko", delivery or _delivery())
    headers = headers_for(fmt, SECRET, "dep-1:7", body, int(time.time()))
    return body, send(url, body, headers, **{"allow_private": True, **kwargs})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


# -- signing ---------------------------------------------------------------------------


def test_a_json_delivery_arrives_signed_and_only_its_own_signature_verifies(
    receiver: Receiver,
) -> None:
    body, outcome = _deliver(receiver.url)

    assert outcome.ok, outcome
    assert (outcome.status, outcome.error) == (200, None)
    [(headers, received)] = receiver.requests
    assert received == body
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers[DELIVERY_HEADER] == "dep-1:7"
    assert headers["User-Agent"] == "department-calendar-webhooks/1"
    signature = headers[SIGNATURE_HEADER]
    assert signature is not None
    assert verify(SECRET, signature, received)
    assert not verify(SECRET, signature, received.replace(b"7", b"8"))
    assert not verify("whsec_another", signature, received)
    stamp = int(signature.split(",")[0].removeprefix("t="))
    assert verify(SECRET, signature, received, now=stamp + 300)
    assert not verify(SECRET, signature, received, now=stamp + 301)
    assert not verify(SECRET, signature, received, now=stamp - 301)


def test_the_signature_is_stripes_scheme_and_a_rotation_header_verifies() -> None:
    body = b'{"a":1}'
    header = sign(SECRET, 1700000000, body)
    old = sign("whsec_old", 1700000000, body).split(",")[1]

    mac = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={mac}"
    assert verify(SECRET, f"{header},{old}", body, now=1700000000)
    assert verify(SECRET, f"t=1700000000,{old}, {header.split(',')[1]}", body, now=1700000000)
    assert not verify("whsec_other", f"{header},{old}", body, now=1700000000)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "v1=00",
        "t=1700000000",
        "t=abc,v1=00",
        "t=1700000000,t=1700000000,v1={mac}",
        "t=１７００００００００,v1={mac}",
        "t=1700000000,v1=ü{mac}",
    ],
)
def test_malformed_signature_headers_never_verify(header: str) -> None:
    mac = sign(SECRET, 1700000000, b"x").split("v1=")[1]

    assert not verify(SECRET, header.format(mac=mac), b"x", now=1700000000)


def test_only_json_deliveries_are_signed() -> None:
    for fmt in ("slack", "teams"):
        headers = headers_for(fmt, SECRET, "d:1", b"{}", 1700000000)
        assert SIGNATURE_HEADER not in headers
        assert headers[DELIVERY_HEADER] == "d:1"
    assert headers_for("json", SECRET, "d:1", b"{}", 1700000000)[SIGNATURE_HEADER] == sign(
        SECRET, 1700000000, b"{}"
    )


def test_new_secrets_are_prefixed_and_unguessable() -> None:
    secrets = {new_secret() for _ in range(50)}

    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 6 + 43 for s in secrets)


# -- formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "slack", "teams"])
def test_korean_text_arrives_intact_in_every_format(receiver: Receiver, fmt: Format) -> None:
    _, outcome = _deliver(receiver.url, fmt, _delivery(calendar_url="https://cal.example/d/1"))

    assert outcome.ok, outcome
    [(_, body)] = receiver.requests
    assert "팀 회의".encode() in body  # as UTF-8, not \\u escapes
    document = json.loads(body.decode("utf-8"))
    if fmt == "json":
        assert document["department_name"] == "개발팀"
        assert document["changes"][0]["title"] == "팀 회의"
    elif fmt == "slack":
        assert document["text"] == "[개발팀] 일정 추가: 팀 회의 · 2024-01-15 14:00"
        assert document["blocks"][0] == {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "[개발팀] *일정 추가*: 팀 회의 · 2024-01-15 14:00"},
        }
        assert "<https://cal.example/d/1|캘린더 열기>" in json.dumps(document, ensure_ascii=False)
    else:
        [attachment] = document["attachments"]
        assert document["type"] == "message"
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert attachment["contentUrl"] is None
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard"
        assert card["version"] == "1.4"
        assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
        assert _card_text(card) == "[개발팀] 일정 추가: 팀 회의 · 2024-01-15 14:00"
        assert card["actions"] == [
            {"type": "Action.OpenUrl", "title": "캘린더 열기", "url": "https://cal.example/d/1"}
        ]


def _card_text(card: dict[str, Any]) -> str:
    return "\n".join(
        "".join(run["text"] for run in block["inlines"])
        for block in card["body"]
        if block["type"] == "RichTextBlock"
    )


def test_the_json_format_carries_every_field() -> None:
    series = EventChange("updated", "e2", "주간 회의", "2024-01-16", None, None, recurring=True)
    gone = EventChange("deleted", "e3", None, None, None, None)

    document = json.loads(render("json", "en", _delivery(MEETING, series, gone, total=5)))

    assert document == {
        "id": "dep-1:7",
        "type": "calendar.changed",
        "department_id": "dep-1",
        "department_name": "개발팀",
        "version": 7,
        "occurred_at": "2024-01-15T05:00:00Z",
        "total": 5,
        "changes": [
            {
                "action": "created",
                "id": "e1",
                "title": "팀 회의",
                "event_date": "2024-01-15",
                "end_date": None,
                "time": "14:00",
                "recurring": False,
            },
            {
                "action": "updated",
                "id": "e2",
                "title": "주간 회의",
                "event_date": "2024-01-16",
                "end_date": None,
                "time": None,
                "recurring": True,
            },
            {
                "action": "deleted",
                "id": "e3",
                "title": None,
                "event_date": None,
                "end_date": None,
                "time": None,
                "recurring": False,
            },
        ],
    }


def test_occurred_at_is_written_in_utc_and_must_be_aware() -> None:
    seoul = dt.timezone(dt.timedelta(hours=9))
    at_seoul = Delivery(**{**_delivery().__dict__, "occurred_at": WHEN.astimezone(seoul)})
    naive = Delivery(**{**_delivery().__dict__, "occurred_at": WHEN.replace(tzinfo=None)})

    assert json.loads(render("json", "ko", at_seoul))["occurred_at"] == "2024-01-15T05:00:00Z"
    with pytest.raises(ValueError, match="aware"):
        render("json", "ko", naive)


@pytest.mark.parametrize(
    ("language", "change", "expected"),
    [
        ("ko", MEETING, "[개발팀] 일정 추가: 팀 회의 · 2024-01-15 14:00"),
        ("en", MEETING, "[개발팀] Event added: 팀 회의 · 2024-01-15 14:00"),
        (
            "ko",
            EventChange("updated", "e1", "워크숍", "2024-01-15", "2024-01-17", None),
            "[개발팀] 일정 변경: 워크숍 · 2024-01-15 ~ 2024-01-17",
        ),
        (
            "en",
            EventChange("updated", "e1", "Offsite", "2024-01-15", "2024-01-17", "09:00-18:00"),
            "[개발팀] Event changed: Offsite · 2024-01-15 ~ 2024-01-17 09:00-18:00",
        ),
        (
            "ko",
            EventChange("deleted", "e9", None, None, None, None),
            "[개발팀] 일정 삭제: 일정 e9",
        ),
        (
            "en",
            EventChange("deleted", "e9", None, "2024-01-15", None, None),
            "[개발팀] Event deleted: event e9 · 2024-01-15",
        ),
        (
            "en",
            EventChange("created", "e1", None, "2024-01-15", None, None),
            "[개발팀] Event added: (untitled) · 2024-01-15",
        ),
        (
            "ko",
            EventChange("created", "e1", "주간 회의", "2024-01-15", None, "10:00", recurring=True),
            "[개발팀] 일정 추가: 주간 회의 · 반복 일정, 2024-01-15 10:00부터",
        ),
        (
            "en",
            EventChange("created", "e1", "Weekly", "2024-01-15", None, None, recurring=True),
            "[개발팀] Event added: Weekly · recurring from 2024-01-15",
        ),
    ],
)
def test_a_single_change_reads_naturally(
    language: Language, change: EventChange, expected: str
) -> None:
    slack = json.loads(render("slack", language, _delivery(change)))
    teams = json.loads(render("teams", language, _delivery(change)))

    assert slack["text"] == expected
    assert _card_text(teams["attachments"][0]["content"]) == expected


@pytest.mark.parametrize(
    ("language", "headline", "rest"),
    [("ko", "일정 99건 변경", "… 외 89건"), ("en", "99 events changed", "… and 89 more")],
)
def test_a_large_write_lists_ten_changes_and_counts_the_rest(
    language: Language, headline: str, rest: str
) -> None:
    changes = tuple(
        EventChange("created", f"e{i}", f"회의 {i}", "2024-01-15", None, None) for i in range(99)
    )
    delivery = _delivery(*changes)

    slack = json.loads(render("slack", language, delivery))
    lines = _card_text(json.loads(render("teams", language, delivery))["attachments"][0]["content"])

    assert slack["text"] == f"[개발팀] {headline}"
    listed = "\n".join(block["text"]["text"] for block in slack["blocks"])
    assert listed.count("• ") == 10
    assert "회의 9 " in listed
    assert "회의 10 " not in listed
    assert listed.endswith(rest)
    assert lines.splitlines()[0] == f"[개발팀] {headline}"
    assert len(lines.splitlines()) == 1 + 10 + 1
    assert lines.endswith(rest)


def test_fewer_changes_than_the_total_count_the_ones_not_carried() -> None:
    slack = json.loads(render("slack", "en", _delivery(MEETING, total=3)))

    assert slack["text"] == "[개발팀] 3 events changed"
    assert slack["blocks"][1]["text"]["text"].endswith("… and 2 more")


def test_slack_text_escapes_what_slack_would_read_as_markup() -> None:
    hostile = EventChange(
        "created", "e1", "<!channel> & <https://evil.example|click>", None, None, None
    )

    document = json.loads(render("slack", "en", _delivery(hostile, name="R&D <team>")))

    escaped = "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"
    assert document["text"] == f"[R&amp;D &lt;team&gt;] Event added: {escaped}"
    assert "<" not in json.dumps(document)
    assert (
        document["blocks"][0]["text"]["text"] == f"[R&amp;D &lt;team&gt;] *Event added*: {escaped}"
    )


def test_slack_sections_stay_within_slacks_limit() -> None:
    changes = tuple(
        EventChange("created", f"e{i}", "&" * 200, "2024-01-15", None, None) for i in range(10)
    )

    document = json.loads(render("slack", "ko", _delivery(*changes)))

    assert all(len(block["text"]["text"]) <= 3000 for block in document["blocks"])
    assert sum(b["text"]["text"].count("• ") for b in document["blocks"][1:]) == 10


def test_teams_user_text_is_plain_text_runs_never_markdown() -> None:
    hostile = EventChange(
        "created", "e1", "[click](https://evil.example) **now**", None, None, None
    )

    card = json.loads(render("teams", "en", _delivery(hostile)))["attachments"][0]["content"]

    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}
    assert {run["type"] for block in card["body"] for run in block["inlines"]} == {"TextRun"}
    assert "[click](https://evil.example) **now**" in _card_text(card)
    assert card["actions"] == []


# -- failures --------------------------------------------------------------------------


def test_a_server_error_is_a_failure_with_its_status_and_text() -> None:
    with Receiver([500], response_body=b"database\n down") as failing:
        _, outcome = _deliver(failing.url)

    assert not outcome.ok
    assert outcome.status == 500
    assert outcome.error == "HTTP 500: database down"
    assert len(failing.requests) == 1


def test_a_slow_receiver_times_out_within_the_timeout() -> None:
    with Receiver(delay=1.5) as slow:
        _, outcome = _deliver(slow.url, timeout=0.5)

    assert not outcome.ok
    assert outcome.status is None
    assert outcome.error == "timed out after 0.5 s"
    assert 0.4 < outcome.elapsed < 1.4  # not waiting for the answer due at 1.5 s


def test_a_receiver_answering_a_byte_at_a_time_is_cut_at_the_deadline() -> None:
    """Each byte comes well within the socket timeout; only the clock bounds the whole."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def dribble() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                if stop.wait(0.1):
                    break
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    break

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        body = b"{}"
        outcome = send(
            f"http://127.0.0.1:{listener.getsockname()[1]}/",
            body,
            {},
            allow_private=True,
            timeout=0.5,
        )
    finally:
        stop.set()
        thread.join()
        listener.close()

    assert not outcome.ok
    assert outcome.error == "timed out after 0.5 s"
    assert outcome.elapsed < 2.0  # the whole answer would take 12 s


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    with Receiver([302], response_headers={"Location": receiver.url}) as redirecting:
        _, outcome = _deliver(redirecting.url)

    assert not outcome.ok
    assert outcome.status == 302
    assert outcome.error == f"redirect not followed: {receiver.url}"
    assert receiver.requests == []
    assert receiver.connections == 0


def test_a_closed_port_and_an_unknown_host_are_failures_not_exceptions() -> None:
    with socket.create_server(("127.0.0.1", 0)) as bound:
        closed = bound.getsockname()[1]
    refused = send(f"http://127.0.0.1:{closed}/", b"{}", {}, allow_private=True, timeout=1)
    unknown = send("https://no-such-host.invalid/", b"{}", {}, allow_private=False, timeout=1)

    assert (refused.ok, refused.status, refused.error) == (False, None, "connection refused")
    assert not unknown.ok
    assert unknown.error is not None
    assert unknown.error.startswith("cannot resolve no-such-host.invalid: ")


# -- private targets -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("localhost", "localhost resolves to 127.0.0.1, a loopback address"),
        ("[::1]", "::1 is a loopback address"),
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("169.254.169.254", "the address of the cloud metadata service"),
        ("[fd00:ec2::254]", "the address of the cloud metadata service"),
        ("[::ffff:127.0.0.1]", "which carries 127.0.0.1, a loopback address"),
        ("2130706433", "2130706433 resolves to 127.0.0.1, a loopback address"),
        ("0x7f.1", "0x7f.1 resolves to 127.0.0.1, a loopback address"),
    ],
)
def test_private_targets_are_refused_before_anything_is_sent(
    receiver: Receiver, host: str, reason: str
) -> None:
    url = f"https://{host}:{receiver.port}/hook"

    outcome = send(url, b"{}", {}, allow_private=False, timeout=1)

    assert not outcome.ok
    assert outcome.status is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused: ")
    assert reason in outcome.error
    assert receiver.connections == 0
    with pytest.raises(TargetRefused, match=reason.replace("[", r"\[").replace(".", r"\.")):
        resolve(url, allow_private=False)


def test_http_is_refused_in_production_before_any_lookup(receiver: Receiver) -> None:
    outcome = send("http://2130706433/hook", b"{}", {}, allow_private=False)

    assert outcome.error == "refused: the URL must start with https://, not http://"
    assert receiver.connections == 0


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - an address judged, not bound
        "224.0.0.1",
        "240.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
    ],
)
def test_special_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "64:ff9b::101:101"]
)
def test_global_addresses_are_allowed(address: str) -> None:
    parsed = ipaddress.ip_address(address)
    host = f"[{address}]" if parsed.version == 6 else address

    assert refusal(parsed) is None
    assert resolve(f"https://{host}/hook", allow_private=False) == [parsed]
    check_url(f"https://{host}/hook", allow_private=False)


@pytest.mark.parametrize(
    ("url", "allow_private", "message"),
    [
        ("http://example.com/hook", False, "must start with https://"),
        ("ftp://example.com/hook", True, "must start with https:// or http://, not ftp://"),
        ("example.com/hook", False, "not nothing"),
        ("https://user:pw@example.com/hook", False, "user name or password"),
        ("https://@example.com/hook", False, "user name or password"),
        ("https:///hook", False, "no host"),
        ("https://example.com/hook#part", False, "fragment"),
        ("https://example.com:99999/hook", False, "cannot be read"),
        ("https://exa mple.com/hook", False, "spaces"),
        ("https://example.com/hook\r\nX-Injected: 1", False, "control"),
        ("https://한국.kr/hook", False, "xn--"),
        ("https://example.com/" + "a" * 2040, False, "longer than 2048"),
        ("https://10.1.2.3/hook", False, "10.1.2.3 is a private address"),
    ],
)
def test_check_url_refuses_what_can_never_be_a_webhook(
    url: str, allow_private: bool, message: str
) -> None:
    with pytest.raises(TargetRefused, match=message) as refused:
        check_url(url, allow_private=allow_private)
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    ("url", "allow_private"),
    [
        ("https://hooks.slack.com/services/T0/B0/xyz", False),
        ("https://example.com:8443/a/b?token=1&x=%ED%8C%80", False),
        ("https://xn--3e0b707e.kr/hook", False),
        ("http://localhost:8000/hook", True),
        ("http://10.1.2.3/hook", True),
    ],
)
def test_check_url_accepts_webhook_urls(url: str, allow_private: bool) -> None:
    check_url(url, allow_private=allow_private)


# -- pinning ---------------------------------------------------------------------------


class _FakeDns:
    """Answers names of ``answers`` (then ``later`` for each next lookup); counts lookups."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in self.answers:
            return self._real(host, port, *args, **kwargs)
        self.lookups.append(host)
        addresses = self.answers[host]
        # A rebinding resolver: the first answer passes the check, later ones point inside.
        self.answers[host] = ["10.255.255.1"]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (a, port),
            )
            for a in addresses
        ]


def test_the_connection_goes_to_the_checked_address_with_the_original_host(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns = _FakeDns(monkeypatch, {"rebind.test": ["127.0.0.1"]})

    _, outcome = _deliver(f"http://rebind.test:{receiver.port}/hook?x=1", timeout=2)

    assert outcome.ok, outcome
    assert dns.lookups == ["rebind.test"]  # once: the connection never asks again
    [(headers, _)] = receiver.requests
    assert headers["Host"] == f"rebind.test:{receiver.port}"
    assert receiver.paths == ["/hook?x=1"]


def test_localhost_reaches_the_receiver_in_development(receiver: Receiver) -> None:
    _, outcome = _deliver(f"http://localhost:{receiver.port}/hook")

    assert outcome.ok, outcome
    [(headers, _)] = receiver.requests
    assert headers["Host"] == f"localhost:{receiver.port}"


def test_an_address_that_does_not_answer_falls_through_to_the_next(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.2", 0)) as bound:
        closed = bound.getsockname()[1]
    assert closed  # a port nothing listens on, on another loopback address
    _FakeDns(monkeypatch, {"two.test": ["::1", "127.0.0.1"]})

    _, outcome = _deliver(f"http://two.test:{receiver.port}/hook", timeout=2)

    assert outcome.ok, outcome
    assert len(receiver.requests) == 1


def _certificates(directory: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A CA's certificate file, and a server context with a certificate for ``name`` it signed."""
    now = dt.datetime.now(dt.UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: Any, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            ).add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            ).add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Test webhook CA", ca_key, "Test webhook CA", ca_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate(name, leaf_key, "Test webhook CA", ca_key, ca=False)
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return ca_file, context


def test_https_checks_the_certificate_against_the_urls_host_not_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file, server = _certificates(tmp_path, "hooks.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    _FakeDns(monkeypatch, {"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})

    with Receiver(tls=server) as secure:
        _, good = _deliver(f"https://hooks.test:{secure.port}/hook", timeout=3)
        _, wrong = _deliver(f"https://other.test:{secure.port}/hook", timeout=3)
        _, by_address = _deliver(f"https://127.0.0.1:{secure.port}/hook", timeout=3)

    assert good.ok, good
    assert [r.headers["Host"] for r in secure.requests] == [f"hooks.test:{secure.port}"]
    assert "other.test" in str(wrong.error)
    assert "127.0.0.1" in str(by_address.error)
    for refused in (wrong, by_address):
        assert not refused.ok
        assert refused.error is not None
        assert "certificate verify failed" in refused.error


# -- retries ---------------------------------------------------------------------------


def test_retries_back_off_then_continue_hourly_for_a_day() -> None:
    seconds = [retry_delay(n).total_seconds() for n in range(1, 40)]

    assert seconds[:8] == [30, 60, 120, 300, 600, 1800, 3600, 3600]
    assert set(seconds[6:]) == {3600}
    waited, attempts = dt.timedelta(), 0
    while waited < RETRY_FOR:
        attempts += 1
        waited += retry_delay(attempts)
    assert attempts == 30  # 7 backing off, then 23 hourly: a day and 48 minutes in all
    assert dt.timedelta(hours=24) == RETRY_FOR


def test_retry_jitter_stays_within_its_bounds_and_attempts_count_from_one() -> None:
    delays = {retry_delay(3, jitter=0.1).total_seconds() for _ in range(200)}

    assert all(108 <= d <= 132 for d in delays)
    assert len(delays) > 1
    with pytest.raises(ValueError, match="from 1"):
        retry_delay(0)
