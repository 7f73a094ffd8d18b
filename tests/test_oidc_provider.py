"""The OpenID provider the sign-in tests run (``tests/oidc.py``, ``tools/oidc-provider``).

Checked over HTTP as a relying party sees it: discovery, the JWKS with the test's own keys,
tokens minted with those keys verifying against that JWKS, and a whole authorization-code
flow with PKCE through the development login form, ending in an ID token with the account's
claims, then RP-initiated logout back to the page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
import requests

from tests.oidc import (
    DEFAULT_ACCOUNTS,
    SCOPES,
    Provider,
    hs256_with_public_key,
    running_provider,
    unsigned_token,
)

PAGE = "http://127.0.0.1:8765"
REDIRECT_URI = f"{PAGE}/"
SIGNED_OUT_URI = f"{PAGE}/?signed-out=1"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider(
        redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[SIGNED_OUT_URI]
    ) as running:
        yield running


@pytest.fixture(scope="module")
def discovery(provider: Provider) -> dict[str, Any]:
    response = requests.get(provider.discovery_url, timeout=10)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def verify(provider: Provider, discovery: dict[str, Any], token: str) -> dict[str, Any]:
    """What a relying party does: key from the JWKS by kid, RS256/ES256 only, aud and iss."""
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256", "ES256"],
        audience=provider.client_id,
        issuer=provider.issuer,
    )
    return claims


def test_discovery_lists_the_endpoints_a_page_needs(
    provider: Provider, discovery: dict[str, Any]
) -> None:
    assert discovery["issuer"] == provider.issuer
    assert discovery["jwks_uri"] == provider.jwks_uri
    for endpoint in ("authorization_endpoint", "token_endpoint", "end_session_endpoint"):
        assert discovery[endpoint].startswith(f"{provider.issuer}/")
    assert "S256" in discovery["code_challenge_methods_supported"]
    assert set(SCOPES.split()) <= set(discovery["scopes_supported"])
    assert {"email", "name", "groups"} <= set(discovery["claims_supported"])
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]


def test_jwks_holds_the_two_public_keys(provider: Provider, discovery: dict[str, Any]) -> None:
    keys = requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]
    by_kid = {key["kid"]: key for key in keys}
    assert set(by_kid) == {provider.keys.rsa_kid, provider.keys.ec_kid}
    assert by_kid[provider.keys.rsa_kid]["kty"] == "RSA"
    assert by_kid[provider.keys.ec_kid]["crv"] == "P-256"
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # public halves only
    public = provider.keys.rsa.public_key().public_numbers()
    n = int.from_bytes(base64.urlsafe_b64decode(by_kid[provider.keys.rsa_kid]["n"] + "=="))
    assert n == public.n


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_minted_tokens_verify_against_the_providers_jwks(
    provider: Provider, discovery: dict[str, Any], alg: str
) -> None:
    token = provider.mint({"sub": "alice", "email": "alice@example.com"}, alg=alg)
    claims = verify(provider, discovery, token)
    assert claims["sub"] == "alice"
    assert claims["aud"] == provider.client_id
    assert claims["exp"] - claims["iat"] == 300
    without_exp = jwt.decode(
        provider.mint({"sub": "alice", "exp": None}), options={"verify_signature": False}
    )
    assert "exp" not in without_exp


def test_attack_tokens_do_not_verify(provider: Provider, discovery: dict[str, Any]) -> None:
    for token in (unsigned_token(provider, {"sub": "alice"}), hs256_with_public_key(provider)):
        with pytest.raises(jwt.InvalidTokenError):
            verify(provider, discovery, token)
    # Really signed, with the public key's PEM as the HMAC secret: a verifier that let the
    # token pick HS256 and used "the key" as the secret would accept it.
    header, claims, signature = hs256_with_public_key(provider, {"sub": "alice"}).split(".")
    mac = hmac.new(provider.keys.rsa_public_pem(), f"{header}.{claims}".encode(), hashlib.sha256)
    assert signature == base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
    assert jwt.get_unverified_header(f"{header}.{claims}.{signature}")["alg"] == "HS256"


def test_another_providers_token_does_not_verify(
    provider: Provider, discovery: dict[str, Any]
) -> None:
    with running_provider() as other:
        assert other.issuer != provider.issuer
        token = other.mint({"sub": "alice", "iss": provider.issuer})
        with pytest.raises(jwt.PyJWKClientError):  # its kid is not in this provider's JWKS
            verify(provider, discovery, token)
        borrowed_kid = other.mint({"sub": "alice"}, kid=provider.keys.rsa_kid)
        with pytest.raises(jwt.InvalidSignatureError):
            verify(provider, discovery, borrowed_kid)


def form(html: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its action and hidden inputs."""
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert action, html
    hidden = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html, re.IGNORECASE)
    )
    return unescape(action.group(1)), {k: unescape(v) for k, v in hidden.items()}


def follow_to_page(session: requests.Session, response: requests.Response) -> str:
    """Follows redirects inside the provider; returns the first one back to the page."""
    for _ in range(10):
        assert response.status_code in (302, 303), response.text
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(PAGE):
            return location
        response = session.get(location, allow_redirects=False, timeout=10)
    raise AssertionError("too many redirects")


def test_code_flow_with_pkce_signs_in_through_the_login_form(
    provider: Provider, discovery: dict[str, Any]
) -> None:
    session = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {
        "client_id": provider.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPES,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    login_page = session.get(discovery["authorization_endpoint"], params=query, timeout=10)
    assert login_page.status_code == 200
    assert "/interaction/" in login_page.url
    action, fields = form(login_page.text)
    assert fields["prompt"] == "login"
    submitted = session.post(
        urljoin(login_page.url, action),
        data={**fields, "login": "alice", "password": "anything"},
        allow_redirects=False,
        timeout=10,
    )
    back = urlsplit(follow_to_page(session, submitted))  # no consent page on the way
    params = parse_qs(back.query)
    assert "error" not in params, params
    assert params["state"] == [state]
    assert params["iss"] == [provider.issuer]

    tokens = requests.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": REDIRECT_URI,
            "client_id": provider.client_id,
            "code_verifier": verifier,
        },
        headers={"Origin": PAGE},
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["Access-Control-Allow-Origin"] == PAGE  # the page may call it
    id_token = tokens.json()["id_token"]
    assert jwt.get_unverified_header(id_token)["alg"] == "RS256"
    assert jwt.get_unverified_header(id_token)["kid"] == provider.keys.rsa_kid
    claims = verify(provider, discovery, id_token)
    alice = DEFAULT_ACCOUNTS["alice"]
    assert claims["sub"] == "alice"
    assert claims["nonce"] == nonce
    assert claims["email"] == alice["email"]
    assert claims["email_verified"] is True
    assert claims["name"] == alice["name"]
    assert claims["groups"] == alice["groups"]

    # Signing out: the end-session page confirms itself and returns to the page.
    end = session.get(
        discovery["end_session_endpoint"],
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": SIGNED_OUT_URI,
            "state": "bye",
        },
        timeout=10,
    )
    assert end.status_code == 200, end.text
    action, fields = form(end.text)
    assert fields["logout"] == "yes"
    assert ".submit()" in end.text
    confirmed = session.post(
        urljoin(end.url, action), data=fields, allow_redirects=False, timeout=10
    )
    assert follow_to_page(session, confirmed) == f"{SIGNED_OUT_URI}&state=bye"


def test_a_login_name_that_is_no_account_is_refused(
    provider: Provider, discovery: dict[str, Any]
) -> None:
    session = requests.Session()
    query = {
        "client_id": provider.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPES,
        "state": "s1",
        "code_challenge": "A" * 43,
        "code_challenge_method": "S256",
    }
    login_page = session.get(discovery["authorization_endpoint"], params=query, timeout=10)
    action, fields = form(login_page.text)
    submitted = session.post(
        urljoin(login_page.url, action),
        data={**fields, "login": "mallory", "password": "x"},
        allow_redirects=False,
        timeout=10,
    )
    params = parse_qs(urlsplit(follow_to_page(session, submitted)).query)
    assert params["error"] == ["access_denied"]
    assert params["state"] == ["s1"]
    assert "code" not in params


def test_rotate_keys_keeps_the_issuer_and_replaces_the_jwks() -> None:
    with running_provider() as rotating:
        issuer, old = rotating.issuer, {rotating.keys.rsa_kid, rotating.keys.ec_kid}
        rotating.rotate_keys()
        keys = requests.get(rotating.jwks_uri, timeout=10).json()["keys"]
        assert rotating.issuer == issuer
        assert {key["kid"] for key in keys} == {rotating.keys.rsa_kid, rotating.keys.ec_kid}
        assert not old & {key["kid"] for key in keys}
