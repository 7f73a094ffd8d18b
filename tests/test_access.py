"""Sign-in and rights per department (``access.md``), against a real OpenID provider.

The provider (oidc-provider, ``tests/oidc.py``) publishes its discovery document and keys
over HTTP as any company provider does; the tests hold its private keys and mint the tokens
it would issue, for people with the claims each case needs.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from backend import create_app
from backend.access.oidc import REFETCH_INTERVAL, OidcSettings, OidcVerifier
from backend.access.rights import PRINCIPAL_PATTERN, principal_problem
from backend.config import Settings
from backend.errors import SignInUnavailable, Unauthorized
from backend.storage import Storage
from tests.oidc import Provider, hs256_with_public_key, running_provider, unsigned_token

SERVICE_TOKEN = "Zq8vN2xR5tY7uW1aB3cD6eF9gH0jK4mL"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture(scope="module")
def other_provider() -> Iterator[Provider]:
    with running_provider() as running:
        yield running


@pytest.fixture
def signed_in_settings(settings: Settings, provider: Provider) -> Settings:
    return replace(
        settings,
        api_tokens=(SERVICE_TOKEN,),
        api_token_names=("nightly-import",),
        oidc_issuer=provider.issuer,
        oidc_audiences=(provider.client_id,),
    )


@pytest.fixture
def app(signed_in_settings: Settings, storage: Storage) -> Flask:
    return create_app(signed_in_settings, storage)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def person(provider: Provider, sub: str, **claims: Any) -> dict[str, str]:
    defaults: dict[str, Any] = {
        "sub": sub,
        "email": f"{sub}@example.com",
        "email_verified": True,
        "name": sub.capitalize(),
    }
    return bearer(provider.mint({**defaults, **claims}))


@pytest.fixture
def alice(provider: Provider) -> dict[str, str]:
    return person(provider, "alice", groups=["calendar-editors"])


@pytest.fixture
def bob(provider: Provider) -> dict[str, str]:
    return person(provider, "bob")


@pytest.fixture
def admin(provider: Provider) -> dict[str, str]:
    return person(provider, "root", groups=["calendar-admins"])


SERVICE = bearer(SERVICE_TOKEN)


def make_department(
    client: FlaskClient, headers: dict[str, str], name: str = "개발팀", **extra: Any
) -> dict[str, Any]:
    response = client.post("/api/departments", json={"name": name, **extra}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def add_event(
    client: FlaskClient, department_id: str, headers: dict[str, str], day: str = "2024-03-04"
) -> Any:
    return client.post(
        f"/api/events/{department_id}",
        json={"event_date": day, "title": "주간 회의"},
        headers=headers,
    )


def test_a_person_who_creates_a_department_owns_it(
    client: FlaskClient, alice: dict[str, str]
) -> None:
    department = make_department(client, alice)

    assert department["access_role"] == "owner"
    assert department["visibility"] == "organization"
    assert department["created_by"] == {"principal": "user:alice", "name": "Alice"}
    members = client.get(f"/api/departments/{department['id']}/members", headers=alice)
    assert members.get_json() == {"items": [{"principal": "user:alice", "role": "owner"}]}


def test_without_credentials_only_public_departments_are_read(
    client: FlaskClient, alice: dict[str, str]
) -> None:
    closed = make_department(client, alice, "인사팀")
    public = make_department(client, alice, "홍보팀", visibility="public")
    assert add_event(client, public["id"], alice).status_code == 201

    refused = client.get(f"/api/departments/{closed['id']}")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.content_type == "application/problem+json"
    assert client.get(f"/api/departments/{public['id']}").status_code == 200
    listed = client.get(f"/api/events/{public['id']}?month=2024-03").get_json()
    assert [e["title"] for e in listed["items"]] == ["주간 회의"]
    assert [d["name"] for d in client.get("/api/departments").get_json()["items"]] == ["홍보팀"]
    # A department that does not exist is not told apart from one that needs sign-in.
    assert client.get("/api/departments/no-such-department").status_code == 401
    assert add_event(client, public["id"], {}).status_code == 401
    assert client.post("/api/departments", json={"name": "새팀"}).status_code == 401


def test_readers_read_writers_write_owners_manage(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    department = make_department(client, alice)
    path = f"/api/departments/{department['id']}"

    seen = client.get(path, headers=bob)
    assert seen.status_code == 200
    assert seen.get_json()["access_role"] == "reader"  # organization: every signed-in person
    refused = add_event(client, department["id"], bob)
    assert refused.status_code == 403
    assert refused.get_json()["type"].endswith("/problems/forbidden")

    granted = client.put(
        f"{path}/members/user:bob@example.com", json={"role": "writer"}, headers=alice
    )
    assert granted.status_code == 201
    assert granted.get_json() == {"principal": "user:bob@example.com", "role": "writer"}
    again = client.put(
        f"{path}/members/user:BOB@example.com", json={"role": "writer"}, headers=alice
    )
    assert again.status_code == 200  # e-mail principals are matched without case

    created = add_event(client, department["id"], bob)
    assert created.status_code == 201
    assert created.get_json()["created_by"] == {"principal": "user:bob", "name": "Bob"}
    assert client.patch(path, json={"description": "x"}, headers=bob).status_code == 403
    assert client.get(f"{path}/members", headers=bob).status_code == 403
    assert (
        client.put(f"{path}/members/user:eve", json={"role": "owner"}, headers=bob).status_code
        == 403
    )

    changed = client.patch(path, json={"description": "플랫폼"}, headers=alice)
    assert changed.status_code == 200
    assert changed.get_json()["updated_by"]["principal"] == "user:alice"


def test_a_removed_member_loses_the_right_at_once(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    department = make_department(client, alice, visibility="members")
    path = f"/api/departments/{department['id']}"
    client.put(f"{path}/members/user:bob", json={"role": "writer"}, headers=alice)
    assert add_event(client, department["id"], bob).status_code == 201

    assert client.delete(f"{path}/members/user:bob", headers=alice).status_code == 204

    # The same, still unexpired token: a members-only department is now not even there.
    assert add_event(client, department["id"], bob).status_code == 404
    assert client.get(path, headers=bob).status_code == 404
    assert client.delete(f"{path}/members/user:bob", headers=alice).status_code == 404


def test_members_only_departments_are_hidden_from_others(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    hidden = make_department(client, alice, "감사팀", visibility="members")
    make_department(client, alice, "총무팀")

    assert client.get(f"/api/departments/{hidden['id']}", headers=bob).status_code == 404
    assert client.get(f"/api/events/{hidden['id']}?month=2024-03", headers=bob).status_code == 404
    names = [d["name"] for d in client.get("/api/departments", headers=bob).get_json()["items"]]
    assert names == ["총무팀"]
    mine = [d["name"] for d in client.get("/api/departments", headers=alice).get_json()["items"]]
    assert mine == ["감사팀", "총무팀"]
    assert client.get("/api/departments?name=감사팀", headers=bob).get_json()["items"] == []


def test_group_members_hold_the_group_role(
    client: FlaskClient, provider: Provider, bob: dict[str, str]
) -> None:
    department = make_department(client, bob, visibility="members")
    path = f"/api/departments/{department['id']}"
    carol = person(provider, "carol", groups=["design"])
    assert client.get(path, headers=carol).status_code == 404

    client.put(f"{path}/members/group:design", json={"role": "reader"}, headers=bob)

    assert client.get(path, headers=carol).get_json()["access_role"] == "reader"
    assert add_event(client, department["id"], carol).status_code == 403


def test_the_last_owner_stays(client: FlaskClient, alice: dict[str, str]) -> None:
    department = make_department(client, alice)
    path = f"/api/departments/{department['id']}"

    removed = client.delete(f"{path}/members/user:alice", headers=alice)
    assert removed.status_code == 409
    assert removed.get_json()["type"].endswith("/problems/last-owner")
    demoted = client.put(f"{path}/members/user:alice", json={"role": "reader"}, headers=alice)
    assert demoted.status_code == 409

    client.put(f"{path}/members/user:bob", json={"role": "owner"}, headers=alice)
    assert client.delete(f"{path}/members/user:alice", headers=alice).status_code == 204
    # Alice is now an ordinary signed-in person: a reader of an organization department.
    assert client.get(f"{path}/members", headers=alice).status_code == 403


def test_admins_and_service_tokens_hold_every_right(
    client: FlaskClient, alice: dict[str, str], admin: dict[str, str]
) -> None:
    department = make_department(client, alice, visibility="members")
    path = f"/api/departments/{department['id']}"

    assert client.get(path, headers=admin).get_json()["access_role"] == "owner"
    assert client.patch(path, json={"name": "보안팀"}, headers=admin).status_code == 200
    made = add_event(client, department["id"], SERVICE)
    assert made.status_code == 201
    assert made.get_json()["created_by"] == {
        "principal": "service:nightly-import",
        "name": "nightly-import",
    }
    # A service token's department has no members: admins and service tokens manage it.
    scripted = make_department(client, SERVICE, "자동화팀")
    assert client.get(f"/api/departments/{scripted['id']}/members", headers=SERVICE).get_json() == {
        "items": []
    }
    assert (
        client.get(f"/api/departments/{scripted['id']}/members", headers=alice).status_code == 403
    )


def test_the_secret_feed_address_reads_without_signing_in_until_rotated(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    department = make_department(client, alice, visibility="members")
    add_event(client, department["id"], alice, date.today().isoformat())
    path = f"/api/departments/{department['id']}"
    feed = f"{path}/calendar.ics"
    assert client.get(feed).status_code == 401

    address = client.get(f"{path}/feed-key", headers=alice)
    assert address.status_code == 200
    assert address.headers["Cache-Control"] == "no-store"
    key = address.get_json()["key"]
    assert len(key) >= 22  # at least 128 bits, URL-safe base64
    assert address.get_json()["url"].endswith(f"{feed}?key={key}")
    served = client.get(f"{feed}?key={key}")
    assert served.status_code == 200
    assert "주간 회의" in served.get_data(as_text=True)

    assert client.post(f"{path}/feed-key", headers=bob).status_code == 404  # not a member
    client.put(f"{path}/members/user:bob", json={"role": "reader"}, headers=alice)
    assert client.get(f"{path}/feed-key", headers=bob).get_json()["key"] == key
    assert client.post(f"{path}/feed-key", headers=bob).status_code == 403
    rotated = client.post(f"{path}/feed-key", headers=alice).get_json()["key"]

    assert rotated != key
    assert client.get(f"{feed}?key={key}").status_code == 404
    assert client.get(f"{feed}?key={rotated}").status_code == 200
    assert client.get(f"{path}/feed-key").status_code == 401


def test_feed_keys_never_reach_the_logs(
    client: FlaskClient, alice: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    department = make_department(client, alice)
    path = f"/api/departments/{department['id']}"
    key = client.get(f"{path}/feed-key", headers=alice).get_json()["key"]
    with caplog.at_level(logging.DEBUG, logger="backend"):
        client.get(f"{path}/calendar.ics?key={key}")
        client.get(f"{path}/calendar.ics?key=wrong-{key}")
        client.get(path, headers={"Authorization": f"Bearer {SERVICE_TOKEN}x"})
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert key not in text
    assert SERVICE_TOKEN not in text


# -- tokens an attacker would try ---------------------------------------------------------


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p, o: unsigned_token(p, {"sub": "mallory"}), id="alg-none"),
        pytest.param(
            lambda p, o: hs256_with_public_key(p, {"sub": "mallory"}), id="hs256-public-key"
        ),
        pytest.param(lambda p, o: p.mint({"sub": "mallory", "aud": "another-app"}), id="wrong-aud"),
        pytest.param(lambda p, o: o.mint({"sub": "mallory", "iss": p.issuer}), id="other-keys"),
        pytest.param(lambda p, o: o.mint({"sub": "mallory"}), id="other-issuer"),
        pytest.param(
            lambda p, o: p.mint({"sub": "mallory", "exp": int(time.time()) - 120}), id="expired"
        ),
        pytest.param(
            lambda p, o: p.mint({"sub": "mallory", "nbf": int(time.time()) + 600}), id="not-yet"
        ),
        pytest.param(lambda p, o: p.mint({"sub": None}), id="no-sub"),
        pytest.param(lambda p, o: p.mint({"sub": "mallory", "exp": None}), id="no-exp"),
        pytest.param(lambda p, o: p.mint({"sub": "mallory"}, kid="made-up"), id="unknown-kid"),
        pytest.param(lambda p, o: "not.a.jwt", id="garbage"),
    ],
)
def test_forged_and_foreign_tokens_are_refused(
    client: FlaskClient,
    provider: Provider,
    other_provider: Provider,
    alice: dict[str, str],
    forge: Any,
) -> None:
    department = make_department(client, alice, visibility="public")

    token = forge(provider, other_provider)
    answer = client.get(f"/api/departments/{department['id']}", headers=bearer(token))

    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert add_event(client, department["id"], bearer(token)).status_code == 401


def test_es256_tokens_and_the_clock_leeway_are_accepted(
    client: FlaskClient, provider: Provider
) -> None:
    es256 = bearer(provider.mint({"sub": "dana"}, alg="ES256"))
    assert (
        client.post("/api/departments", json={"name": "재무팀"}, headers=es256).status_code == 201
    )
    late = bearer(provider.mint({"sub": "dana", "exp": int(time.time()) - 30}))
    assert client.get("/api/departments", headers=late).status_code == 200


def test_cognito_access_tokens_name_the_client_in_client_id(
    client: FlaskClient, provider: Provider
) -> None:
    token = provider.mint(
        {"sub": "erin", "aud": None, "client_id": provider.client_id, "token_use": "access"}
    )
    assert client.get("/api/departments", headers=bearer(token)).status_code == 200


def test_an_unreachable_provider_is_503_never_a_pass(settings: Settings, storage: Storage) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = replace(
        settings, oidc_issuer=f"http://127.0.0.1:{port}", oidc_audiences=("calendar-page",)
    )
    client = create_app(gone, storage).test_client()
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln"

    answer = client.get("/api/departments", headers=bearer(token))

    assert answer.status_code == 503
    assert answer.get_json()["type"].endswith("/problems/sign-in-unavailable")
    assert int(answer.headers["Retry-After"]) > 0


def test_keys_the_provider_rotates_in_are_fetched_at_most_once_a_minute(
    provider: Provider,
) -> None:
    now = [1000.0]
    verifier = OidcVerifier(
        OidcSettings(provider.issuer, (provider.client_id,)), clock=lambda: now[0]
    )
    assert verifier.verify(provider.mint({"sub": "frank"})).subject == "frank"
    old_token = provider.mint({"sub": "frank"})
    provider.rotate_keys()
    try:
        fresh = provider.mint({"sub": "frank"})
        now[0] += 10
        with pytest.raises(Unauthorized):
            verifier.verify(fresh)  # fetched 10 s ago: an unknown kid waits for the minute
        now[0] += REFETCH_INTERVAL
        assert verifier.verify(fresh).subject == "frank"
        with pytest.raises(Unauthorized):
            verifier.verify(old_token)  # the retired key is gone from the new set
    finally:
        provider.rotate_keys()


def test_idempotency_keys_are_each_persons_own(
    client: FlaskClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    department = make_department(client, alice, visibility="public")
    body = {"event_date": "2024-03-04", "title": "같은 요청"}
    path = f"/api/events/{department['id']}"
    client.put(
        f"/api/departments/{department['id']}/members/user:bob",
        json={"role": "writer"},
        headers=alice,
    )

    first = client.post(path, json=body, headers={**alice, "Idempotency-Key": "k-1"})
    again = client.post(path, json=body, headers={**alice, "Idempotency-Key": "k-1"})
    other = client.post(path, json=body, headers={**bob, "Idempotency-Key": "k-1"})

    assert first.status_code == again.status_code == other.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert "Idempotent-Replayed" not in other.headers
    assert other.get_json()["created_by"]["principal"] == "user:bob"


def test_with_service_tokens_only_reads_stay_open_and_rights_need_a_token(
    settings: Settings, storage: Storage
) -> None:
    client = create_app(replace(settings, api_tokens=(SERVICE_TOKEN,)), storage).test_client()
    department = make_department(client, SERVICE, visibility="members")
    path = f"/api/departments/{department['id']}"

    # No provider: nobody can be a member yet, so reads are anonymous, as they always were.
    assert client.get(path).get_json()["access_role"] == "reader"
    assert client.get(f"/api/events/{department['id']}?month=2024-03").status_code == 200
    for method, route in [
        ("get", f"{path}/members"),
        ("get", f"{path}/feed-key"),
        ("post", f"{path}/feed-key"),
        ("delete", f"{path}/members/user:kim"),
    ]:
        assert getattr(client, method)(route).status_code == 401, route
    granted = client.put(f"{path}/members/user:kim", json={"role": "writer"}, headers=SERVICE)
    assert granted.status_code == 201  # prepared for when sign-in is turned on
    assert client.get(f"{path}/feed-key", headers=SERVICE).status_code == 200


def test_without_any_settings_everything_stays_open(settings: Settings, storage: Storage) -> None:
    open_client = create_app(settings, storage).test_client()
    department = make_department(open_client, {})

    assert department["access_role"] == "owner"
    assert department["created_by"] is None
    path = f"/api/departments/{department['id']}"
    assert open_client.get(f"{path}/members").get_json() == {"items": []}
    assert add_event(open_client, department["id"], {}).get_json()["created_by"] is None


def test_the_openapi_document_says_what_each_route_needs_with_sign_in(
    client: FlaskClient,
) -> None:
    document = client.get("/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    bearer_only: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    optional: list[dict[str, list[str]]] = [{"bearerAuth": []}, {}]
    assert paths["/api/departments"]["post"]["security"] == bearer_only
    assert paths["/api/departments"]["get"]["security"] == optional
    event = paths["/api/events/{department_id}"]
    assert event["get"]["security"] == optional  # public departments read without sign-in
    assert event["post"]["security"] == bearer_only
    assert {"401", "403", "404"} <= set(event["post"]["responses"])
    members = paths["/api/departments/{department_id}/members/{principal}"]
    assert members["put"]["security"] == bearer_only
    assert "403" in members["delete"]["responses"]
    feed = paths["/api/departments/{department_id}/calendar.ics"]["get"]
    assert "key" in [p.get("name") for p in feed["parameters"]]
    assert paths["/api/holidays"]["get"]["security"] == []
    assert "sign in" in document["info"]["description"]


@pytest.mark.parametrize(
    "principal",
    [
        "user:kim@example.com",
        "group:영업본부",
        "group:/realm/admins",
        "user:" + "a" * 254,
        "user:" + "a" * 255,
        "user: kim",
        "user:kim\u3000",
        "user:",
        "kim@example.com",
        "role:owner",
        "user:ki\x00m",
        "user:kim\x85",
    ],
)
def test_the_documented_principal_pattern_is_the_rule(principal: str) -> None:
    documented = re.fullmatch(PRINCIPAL_PATTERN, principal) is not None
    assert documented == (principal_problem(principal) is None)


def test_a_provider_that_is_down_is_asked_at_most_once_a_minute() -> None:
    """Tokens keep arriving while the provider is away: each is a 503, and the provider
    is not asked again for each of them (made-up key ids cannot make a flood either)."""
    accepted = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def refuse() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            connection.close()  # no answer: the provider is broken

    threading.Thread(target=refuse, daemon=True).start()
    now = [0.0]
    verifier = OidcVerifier(
        OidcSettings(f"http://127.0.0.1:{port}", ("calendar-page",)), clock=lambda: now[0]
    )
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln"
    try:
        for _ in range(5):
            with pytest.raises(SignInUnavailable):
                verifier.verify(token)
        assert len(accepted) == 1
        now[0] += REFETCH_INTERVAL
        with pytest.raises(SignInUnavailable):
            verifier.verify(token)
        assert len(accepted) == 2
    finally:
        listener.close()
