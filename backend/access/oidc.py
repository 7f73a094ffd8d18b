"""Bearer tokens of the company's OpenID Connect provider, checked as RFC 9068 / OIDC say.

The provider is found at ``<issuer>/.well-known/openid-configuration``; its ``jwks_uri``
gives the public keys. Keys are cached: a token naming a key the cache lacks makes one new
fetch, at most once a minute, so rotated keys are picked up and a flood of made-up key ids
does not become a flood of requests to the provider. Signatures are checked by PyJWT with
``cryptography``, for RS256 and ES256 only: never ``none``, never an HMAC algorithm (a
token "signed" with the provider's public key as an HMAC secret proves nothing). ``iss``,
``aud`` (or Cognito's ``client_id``), ``exp`` and ``nbf`` are checked with 60 s of leeway.

A provider that cannot be reached makes the check fail as ``SignInUnavailable`` (503),
never a pass; keys fetched before keep working for a day while it is away.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt
import urllib3

from backend.access.rights import Caller
from backend.errors import SignInUnavailable, Unauthorized

logger = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")
_KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
LEEWAY_SECONDS = 60
REFETCH_INTERVAL = 60.0  # an unknown key id fetches the key set again at most this often
KEYS_MAX_AGE = 3600.0  # the key set is fetched again after an hour, on the next token
KEYS_STALE_LIMIT = 86_400.0  # how long cached keys serve while the provider is away
_MAX_DOCUMENT = 1024 * 1024
_NAME_CLAIMS = ("name", "preferred_username", "cognito:username", "email")


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audiences: tuple[str, ...]
    groups_claim: str = "groups"
    admin_group: str = "calendar-admins"


def _invalid(detail: str) -> Unauthorized:
    return Unauthorized(detail, error="invalid_token")


class OidcVerifier:
    """Checks a provider's tokens and tells who they stand for."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        http: urllib3.PoolManager | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._http = http or urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=5.0), retries=False
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._jwks_uri: str | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # when the key set was last fetched
        self._attempted_at: float | None = None  # when the provider was last asked
        # Origins the page's browser calls (token endpoint and the like), from discovery.
        self._endpoint_origins: tuple[str, ...] | None = None
        self._origins_failed_at: float | None = None

    # -- the token ----------------------------------------------------------------------

    def verify(self, token: str) -> Caller:
        """The person ``token`` stands for; ``Unauthorized`` (invalid_token) when it is not
        a valid token of this provider for this service, ``SignInUnavailable`` when the
        provider cannot be asked for its keys."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("the bearer token is neither a service token nor a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise _invalid(f"tokens signed with {algorithm!s} are not accepted (RS256, ES256)")
        key = self._key_for(header.get("kid"), str(algorithm))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[str(algorithm)],
                issuer=self.settings.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _invalid("the token is not valid yet (nbf)") from None
        except jwt.InvalidIssuerError:
            raise _invalid("the token was issued by another provider") from None
        except jwt.InvalidSignatureError:
            raise _invalid("the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid(f"the token has no {exc.claim} claim") from None
        except jwt.PyJWTError:
            raise _invalid("the token cannot be read") from None
        self._check_audience(claims)
        return self._caller(claims)

    def _check_audience(self, claims: dict[str, Any]) -> None:
        audience = claims.get("aud")
        given = [audience] if isinstance(audience, str) else audience or []
        wanted = set(self.settings.audiences)
        if isinstance(given, list) and wanted.intersection(a for a in given if isinstance(a, str)):
            return
        # Amazon Cognito's access tokens name the app client in client_id, not aud.
        if audience is None and claims.get("client_id") in wanted:
            return
        raise _invalid("the token was issued for another audience")

    def _caller(self, claims: dict[str, Any]) -> Caller:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise _invalid("the token's sub is not a string")
        groups = _groups(claims.get(self.settings.groups_claim))
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is False:
            email = None  # an unverified address names nobody
        name = next((v for c in _NAME_CLAIMS if isinstance(v := claims.get(c), str) and v), None)
        return Caller(
            "user",
            subject,
            name=name,
            email=email,
            groups=groups,
            everything=self.settings.admin_group in groups,
        )

    # -- the provider's keys ----------------------------------------------------------------

    def _key_for(self, kid: object, algorithm: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= KEYS_MAX_AGE:
                self._refresh(now)
            found = self._match(kid, algorithm)
            if found is None and self._may_fetch(now):
                self._refresh(now)  # a new key the provider rotated in?
                found = self._match(kid, algorithm)
        if found is None:
            raise _invalid("the token is signed with a key the provider does not publish")
        return found

    def _may_fetch(self, now: float) -> bool:
        """At most one request to the provider a minute, whatever tokens arrive: made-up
        key ids, or a provider that is down, never become a flood of requests to it."""
        return self._attempted_at is None or now - self._attempted_at >= REFETCH_INTERVAL

    def _match(self, kid: object, algorithm: str) -> jwt.PyJWK | None:
        if isinstance(kid, str):
            candidates: Iterable[jwt.PyJWK] = [k for k in [self._keys.get(kid)] if k]
        else:
            candidates = self._keys.values()  # a token without kid: its type must single one out
        usable = [k for k in candidates if _fits(k, algorithm)]
        return usable[0] if len(usable) == 1 else None

    def _refresh(self, now: float) -> None:
        """Fetch the key set, if a minute has passed since the last attempt. Keys fetched
        before keep serving for a day while the provider cannot be reached; without any,
        the provider's absence is ``SignInUnavailable``."""
        age = None if self._fetched_at is None else now - self._fetched_at
        usable = age is not None and age < KEYS_STALE_LIMIT
        if not self._may_fetch(now):
            if usable:
                return
            raise SignInUnavailable(
                f"the sign-in provider {self.settings.issuer} could not be reached a moment "
                "ago; it is asked again within a minute",
                retry_after=int(REFETCH_INTERVAL),
            )
        self._attempted_at = now
        try:
            if self._jwks_uri is None:
                self._jwks_uri = self._discover()
            document = self._get_json(self._jwks_uri)
            key_set = jwt.PyJWKSet.from_dict(document)
        except (SignInUnavailable, jwt.PyJWTError) as exc:
            if usable:
                logger.warning("keeping the provider's cached keys (%.0f s old): %s", age, exc)
                return
            if isinstance(exc, SignInUnavailable):
                raise
            raise SignInUnavailable(
                f"the sign-in provider's key set at {self._jwks_uri} cannot be read: {exc}"
            ) from None
        self._keys = {k.key_id: k for k in key_set.keys if k.key_id}
        self._keys.update({f"#{n}": k for n, k in enumerate(key_set.keys) if not k.key_id})
        self._fetched_at = now
        logger.info("read %d signing keys of %s", len(self._keys), self.settings.issuer)

    def browser_origins(self) -> tuple[str, ...]:
        """The origins a browser signing in with this provider fetches from: the issuer's
        (discovery), and those of its token, userinfo and key endpoints, which some providers
        serve elsewhere (Cognito's token endpoint is on its hosted sign-in domain). The page's
        ``connect-src`` lists them. Until the discovery document has been read (a provider
        away: tried again a minute later), the issuer's origin alone."""
        issuer = _origin(self.settings.issuer)
        if self._endpoint_origins is None:
            now = self._clock()
            failed = self._origins_failed_at
            if failed is None or now - failed >= REFETCH_INTERVAL:
                try:
                    self._discover()
                except SignInUnavailable as exc:
                    self._origins_failed_at = now
                    logger.warning("the page's sign-in origins are the issuer's only: %s", exc)
        found = self._endpoint_origins or ()
        return (issuer, *(o for o in found if o != issuer))

    def _discover(self) -> str:
        issuer = self.settings.issuer
        document = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
            raise SignInUnavailable(
                f"the provider at {issuer} says its issuer is {document.get('issuer')!r}: "
                "OIDC_ISSUER must be exactly the issuer its tokens carry"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise SignInUnavailable(f"the provider at {issuer} publishes no jwks_uri")
        endpoints = [document.get(name) for name in _BROWSER_ENDPOINTS]
        origins = (_origin(url) for url in endpoints if isinstance(url, str))
        self._endpoint_origins = tuple(dict.fromkeys(o for o in origins if o))
        return jwks_uri

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.request(
                "GET",
                url,
                headers={"Accept": "application/json"},
                redirect=False,
                preload_content=False,
            )
            try:
                body = response.read(_MAX_DOCUMENT + 1)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise SignInUnavailable(
                f"the sign-in provider at {url} cannot be reached: {exc}"
            ) from None
        if response.status != 200 or len(body) > _MAX_DOCUMENT:
            raise SignInUnavailable(
                f"the sign-in provider answered {url} with HTTP {response.status}"
            )
        try:
            document = json.loads(body)
        except ValueError:
            raise SignInUnavailable(f"the sign-in provider's {url} is not JSON") from None
        if not isinstance(document, dict):
            raise SignInUnavailable(f"the sign-in provider's {url} is not a JSON object")
        return document


_BROWSER_ENDPOINTS = ("token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint")


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL, or "" for anything else."""
    parts = urllib3.util.parse_url(url)
    if parts.scheme not in ("https", "http") or not parts.host:
        return ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.host}{port}"


def _fits(key: jwt.PyJWK, algorithm: str) -> bool:
    stated = key._jwk_data.get("alg")
    use = key.public_key_use
    return (
        key.key_type == _KEY_TYPES[algorithm]
        and stated in (None, algorithm)
        and use in (None, "sig")
    )


def _groups(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()
