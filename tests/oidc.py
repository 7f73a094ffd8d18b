"""A real OpenID Connect provider for the sign-in tests, and tokens made with its keys.

``running_provider()`` starts panva's oidc-provider (npm, pinned in ``tools/oidc-provider``,
installed by ``scripts/_setup.sh``) on 127.0.0.1 with a fresh RS256 and ES256 key, one public
client (PKCE required, as oidc-provider requires it of public clients) and the given accounts.
Its sign-in is oidc-provider's development login form: the login name is the account id, the
password anything; consent is never asked; RP-initiated logout confirms itself.

The tests hold the provider's private keys too, so ``Provider.mint()`` makes tokens the
provider could have issued, and the functions below make the tokens an attacker would try:
unsigned, HS256 keyed with the public key, or signed by another provider (start a second one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "oidc-provider"
SCRIPT = TOOL / "provider.mjs"
CLIENT_ID = "calendar-page"
SCOPES = "openid email profile groups"
READY_TIMEOUT = 20.0

DEFAULT_ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice Kim",
        "groups": ["calendar-editors"],
    },
    "bob": {
        "email": "bob@example.com",
        "email_verified": True,
        "name": "Bob Lee",
        "groups": [],
    },
}


@dataclass(frozen=True)
class Keys:
    """The provider's signing keys: RSA 2048 for RS256 (signs ID tokens) and P-256 for ES256."""

    rsa: rsa.RSAPrivateKey
    rsa_kid: str
    ec: ec.EllipticCurvePrivateKey
    ec_kid: str

    @classmethod
    def generate(cls) -> Keys:
        return cls(
            rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa_kid=f"rs-{uuid.uuid4().hex[:12]}",
            ec=ec.generate_private_key(ec.SECP256R1()),
            ec_kid=f"es-{uuid.uuid4().hex[:12]}",
        )

    def private_jwks(self) -> dict[str, Any]:
        # PyJWT marks a private RSA JWK key_ops ["sign"]; oidc-provider then would not use it
        # to verify (id_token_hint at logout), so the keys carry only "use": "sig".
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa, as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self.ec, as_dict=True)
        rsa_jwk.pop("key_ops", None)
        ec_jwk.pop("key_ops", None)
        return {
            "keys": [
                {**rsa_jwk, "kid": self.rsa_kid, "alg": "RS256", "use": "sig"},
                {**ec_jwk, "kid": self.ec_kid, "alg": "ES256", "use": "sig"},
            ]
        }

    def rsa_public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class Provider:
    """A running oidc-provider; ``stop()`` ends it (``running_provider`` does so on exit)."""

    issuer: str
    port: int
    keys: Keys
    client_id: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    accounts: dict[str, dict[str, Any]]
    ttl: dict[str, int] | None
    _process: subprocess.Popen[bytes]
    _folder: Path
    _log: Path

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    def stderr(self) -> str:
        """What the provider has written to stderr (warnings, server errors)."""
        return self._log.read_text(errors="replace")

    def mint(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        alg: str = "RS256",
        kid: str | None = None,
        key: Any = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A JWT signed with the provider's own key for ``alg`` (RS256 or ES256), or with ``key``.

        Claims default to iss=issuer, aud=client_id, iat=nbf=now, exp=now+300; ``claims``
        overrides them, and a None value removes a claim. ``kid`` defaults to the key's kid
        (the provider's key of that alg); ``headers`` adds or overrides header fields.
        """
        body = _claims_with_defaults(self, claims or {})
        if key is None:
            if alg.startswith("RS") or alg.startswith("PS"):
                key, default_kid = self.keys.rsa, self.keys.rsa_kid
            elif alg == "ES256":
                key, default_kid = self.keys.ec, self.keys.ec_kid
            else:
                raise ValueError(f"the provider has no key for {alg}; pass key=")
            kid = kid or default_kid
        header: dict[str, Any] = {"kid": kid} if kid else {}
        header.update(headers or {})
        return jwt.encode(body, key, algorithm=alg, headers=header)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)

    def rotate_keys(self) -> None:
        """Restarts on the same port (same issuer) with a new key set in ``keys``; the old
        keys leave the JWKS, and the old process's sessions and codes are gone."""
        self.stop()
        restarted = start_provider(
            accounts=self.accounts,
            redirect_uris=self.redirect_uris,
            post_logout_redirect_uris=self.post_logout_redirect_uris,
            client_id=self.client_id,
            port=self.port,
            folder=self._folder,
            ttl=self.ttl,
        )
        self.keys, self._process, self._log = restarted.keys, restarted._process, restarted._log


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims_with_defaults(provider: Provider, claims: Mapping[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": provider.issuer,
        "aud": provider.client_id,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    for name, value in claims.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def _compact(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    return ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )


def unsigned_token(provider: Provider, claims: Mapping[str, Any] | None = None) -> str:
    """``alg: none`` with an empty signature, the provider's claims otherwise."""
    header = {"alg": "none", "typ": "JWT", "kid": provider.keys.rsa_kid}
    return _compact(header, _claims_with_defaults(provider, claims or {})) + "."


def hs256_with_public_key(provider: Provider, claims: Mapping[str, Any] | None = None) -> str:
    """HS256 keyed with the provider's RSA public key (PEM) — the algorithm-confusion attack.
    PyJWT refuses a PEM key as an HMAC secret, so this is signed by hand."""
    header = {"alg": "HS256", "typ": "JWT", "kid": provider.keys.rsa_kid}
    signing_input = _compact(header, _claims_with_defaults(provider, claims or {}))
    mac = hmac.new(provider.keys.rsa_public_pem(), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64(mac.digest())}"


def node_command() -> list[str]:
    """``node provider.mjs``, or a test failure that says how to install it (never a skip)."""
    node = shutil.which("node")
    if node is None or not (TOOL / "node_modules" / "oidc-provider").exists():
        pytest.fail(
            f"node and {TOOL}/node_modules are needed: ./scripts/test installs them "
            f"(npm ci in tools/oidc-provider; Node.js 20.19+ and npm)"
        )
    return [node, str(SCRIPT)]


def start_provider(
    *,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    redirect_uris: Sequence[str] = ("http://127.0.0.1/callback",),
    post_logout_redirect_uris: Sequence[str] = (),
    client_id: str = CLIENT_ID,
    port: int = 0,
    folder: Path | None = None,
    keys: Keys | None = None,
    ttl: Mapping[str, int] | None = None,
) -> Provider:
    """Starts the provider and waits (20 s at most) for it to listen; the caller stops it."""
    command = node_command()
    folder = folder or Path(tempfile.mkdtemp(prefix="oidc-provider-"))
    keys = keys or Keys.generate()
    account_map = {name: dict(claims) for name, claims in (accounts or DEFAULT_ACCOUNTS).items()}
    config: dict[str, Any] = {
        "jwks": keys.private_jwks(),
        "clients": [
            {
                "client_id": client_id,
                "token_endpoint_auth_method": "none",
                "redirect_uris": list(redirect_uris),
                "post_logout_redirect_uris": list(post_logout_redirect_uris),
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            }
        ],
        "accounts": account_map,
    }
    if ttl:
        config["ttl"] = dict(ttl)
    config_path = folder / f"config-{uuid.uuid4().hex[:8]}.json"
    config_path.write_text(json.dumps(config))
    out_path = folder / f"{config_path.stem}.stdout"
    log_path = folder / f"{config_path.stem}.stderr"
    # Files, not pipes: nobody reads the provider's output while it runs, and a full pipe
    # would stall it.
    with out_path.open("wb") as out, log_path.open("wb") as err:
        process = subprocess.Popen(
            [*command, str(config_path), str(port)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=TOOL,
            env={**os.environ, "NODE_ENV": "test"},
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        line = out_path.read_text().partition("\n")
        if line[1]:
            ready = json.loads(line[0])
            break
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
            raise RuntimeError(
                f"oidc-provider did not start (exit code {process.returncode}):\n"
                f"{log_path.read_text(errors='replace')}"
            )
        time.sleep(0.05)
    return Provider(
        issuer=str(ready["issuer"]),
        port=int(ready["port"]),
        keys=keys,
        client_id=client_id,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_redirect_uris),
        accounts=account_map,
        _process=process,
        _folder=folder,
        _log=log_path,
        ttl=dict(ttl) if ttl else None,
    )


@contextmanager
def running_provider(
    *,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    redirect_uris: Sequence[str] = ("http://127.0.0.1/callback",),
    post_logout_redirect_uris: Sequence[str] = (),
    client_id: str = CLIENT_ID,
    port: int = 0,
    ttl: Mapping[str, int] | None = None,
) -> Iterator[Provider]:
    """A provider for the duration of the ``with`` block; see ``start_provider``."""
    with tempfile.TemporaryDirectory(prefix="oidc-provider-") as folder:
        provider = start_provider(
            accounts=accounts,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            client_id=client_id,
            port=port,
            folder=Path(folder),
            ttl=ttl,
        )
        try:
            yield provider
        finally:
            provider.stop()
