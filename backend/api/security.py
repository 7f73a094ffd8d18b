"""Who may do what: bearer tokens, rights per department, CORS, security headers.

Every route declares what it needs (``@needs(Need.READ)``, ...; ``access.rights``), and
one ``before_request`` hook decides each request from that declaration alone: it tells
who the caller is (a service token from ``API_TOKENS``, a company sign-in token when
``OIDC_ISSUER`` is set, or nobody), reads the department's members where the route names
a department and the caller's rights depend on them, and refuses with 401, 403 or 404 as
``access.md`` says. ``create_app`` refuses to start if a route declares nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_cors import CORS

from backend.access.oidc import OidcSettings, OidcVerifier
from backend.access.rights import (
    ANONYMOUS,
    NEED_ATTRIBUTE,
    OPEN,
    Caller,
    Need,
    Role,
    Visibility,
    role_of,
)
from backend.api.context import storage
from backend.api.openapi import AccessMode
from backend.config import Settings
from backend.domain import acting_as
from backend.errors import ConfigError, Forbidden, NotFound, Unauthorized
from backend.storage.departments import DepartmentAccess

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXPOSED_HEADERS = ["ETag", "Location", "X-Request-ID", "Retry-After", "WWW-Authenticate"]
View = TypeVar("View", bound=Callable[..., Any])

GATE_KEY = "calendar.gate"


def needs(need: Need) -> Callable[[View], View]:
    """Declare what a view needs; ``api.security`` checks it before the view runs."""

    def mark(view: View) -> View:
        setattr(view, NEED_ATTRIBUTE, need)
        return view

    return mark


def need_of(view: Callable[..., Any] | None, endpoint: str = "") -> Need | None:
    if endpoint == "static" or endpoint.endswith(".static"):
        return Need.NOTHING  # a blueprint's static files (Swagger UI's)
    return getattr(view, NEED_ATTRIBUTE, None)


def token_is_valid(header: str | None, tokens: tuple[str, ...]) -> bool:
    """Compare in constant time against every configured token."""
    return _service_token(header, tokens) is not None


def _bearer(header: str | None) -> str | None:
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    return given.strip()


def _service_token(header: str | None, tokens: tuple[str, ...]) -> int | None:
    """The position of the service token ``header`` carries, or None."""
    given = _bearer(header)
    if given is None:
        return None
    supplied = given.encode()
    # Check every token, so the time taken does not tell which one came close.
    matches = [hmac.compare_digest(supplied, token.encode()) for token in tokens]
    return matches.index(True) if any(matches) else None


class Gate:
    """The one place where a request's rights are decided."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tokens = settings.api_tokens
        self.verifier = (
            OidcVerifier(
                OidcSettings(
                    settings.oidc_issuer,
                    settings.oidc_audiences,
                    settings.oidc_groups_claim,
                    settings.oidc_admin_group,
                )
            )
            if settings.oidc_issuer
            else None
        )

    @property
    def open(self) -> bool:
        """No sign-in configured: every request holds every right (development, or open
        writes on purpose)."""
        return not self.tokens and self.verifier is None

    @property
    def signs_in(self) -> bool:
        return self.verifier is not None

    def identify(self, header: str | None) -> Caller:
        """Who ``header`` (the Authorization header) stands for; ``Unauthorized`` for a
        bearer that is neither a service token nor a valid sign-in token."""
        if self.open:
            return OPEN
        if not header:
            return ANONYMOUS
        token = _bearer(header)
        if token is None:
            raise Unauthorized(
                "the Authorization header is not Bearer <token>", error="invalid_request"
            )
        position = _service_token(header, self.tokens)
        if position is not None:
            return self._service(position)
        if self.verifier is None:
            raise Unauthorized("the bearer token is not one of API_TOKENS", error="invalid_token")
        return self.verifier.verify(token)

    def check(self, need: Need, view_args: dict[str, Any]) -> Caller:
        """Decide a request; return its caller or raise 401, 403 or 404."""
        if need is Need.NOTHING:
            return ANONYMOUS if not self.open else OPEN
        caller = self._caller_for(need, request.headers.get("Authorization"))
        g.caller = caller
        if need is Need.FEED and "key" in request.args:
            self._check_feed_key(view_args["department_id"], request.args["key"])
        elif not self._decided_without_department(caller, need):
            self._check_department(caller, need, view_args["department_id"])
        return caller

    def _decided_without_department(self, caller: Caller, need: Need) -> bool:
        """Whether ``need`` is settled for ``caller`` without reading a department's
        members (True: let through; a refusal raises), or the department decides."""
        if caller.everything or need is Need.LIST:
            return True  # every right, or a list its view filters for the caller
        if need is Need.SIGNED_IN:
            if not caller.signed_in:
                raise Unauthorized(
                    "creating a department needs a signed-in person or a service token"
                )
            return True
        if self.signs_in:
            return False
        # Service tokens only: reads stay anonymous, anything more needs a token.
        if need.role is not Role.READER or need is Need.SEE_KEY:
            raise Unauthorized(
                "this needs the header Authorization: Bearer <token> with a token from API_TOKENS"
            )
        return True

    def _caller_for(self, need: Need, header: str | None) -> Caller:
        if not self.signs_in and need in (Need.LIST, Need.READ, Need.FEED) and not self.open:
            # Service tokens only: reads are anonymous, as they have always been.
            return ANONYMOUS if not header else self._quietly(header)
        return self.identify(header)

    def _check_department(self, caller: Caller, need: Need, department_id: str) -> None:
        """A signed-in person's (or nobody's) right in the department, by its members."""
        needed = need.role
        assert needed is not None  # noqa: S101 - every other need names a department role
        try:
            access = storage().departments.access(department_id)
        except NotFound:
            if not caller.signed_in:
                raise Unauthorized("sign in to read this department") from None
            raise
        g.department_access = access
        role = role_of(caller, Visibility.of(access.department.visibility), access.members)
        if role is None:
            if not caller.signed_in:
                raise Unauthorized("sign in to read this department")
            raise NotFound("department", department_id)  # members only: not revealed
        if not caller.signed_in and (not role.allows(needed) or need is Need.SEE_KEY):
            raise Unauthorized(f"this needs a signed-in {needed} of the department")
        if not role.allows(needed):
            raise Forbidden(
                f"this needs the {needed} role in department {department_id!r}; "
                f"{caller.principal} is {role}"
            )

    def _quietly(self, header: str) -> Caller:
        """A service token's caller where a read does not need one, else anonymous."""
        position = _service_token(header, self.tokens)
        if position is None:
            return ANONYMOUS
        return self._service(position)

    def _service(self, position: int) -> Caller:
        names = self.settings.api_token_names
        name = names[position] if position < len(names) else f"token-{position + 1}"
        return Caller("service", name, everything=True)

    def _check_feed_key(self, department_id: str, key: str) -> None:
        try:
            access = storage().departments.access(department_id)
        except NotFound:
            raise NotFound("feed", department_id) from None
        stored = access.feed_key
        if stored is None or not hmac.compare_digest(key.encode(), stored.encode()):
            raise NotFound("feed", department_id)  # as Google: a wrong secret address is 404
        g.department_access = access

    def role(self, caller: Caller, access: DepartmentAccess) -> Role | None:
        if caller.everything:
            return Role.OWNER
        if not self.signs_in:
            return Role.READER
        return role_of(caller, Visibility.of(access.department.visibility), access.members)


def gate() -> Gate:
    found: Gate = current_app.extensions[GATE_KEY]
    return found


def access_mode(app: Flask) -> AccessMode:
    found: Gate = app.extensions[GATE_KEY]
    if found.signs_in:
        return AccessMode.SIGN_IN
    return AccessMode.OPEN if found.open else AccessMode.TOKENS


def role_name(role: Role | None) -> str | None:
    return None if role is None else str(role)


def caller() -> Caller:
    """The caller of the current request (decided before its view ran)."""
    found: Caller = g.get("caller", ANONYMOUS)
    return found


def checked_access(department_id: str) -> DepartmentAccess | None:
    """The department read while deciding this request, if it was (saves a read)."""
    access: DepartmentAccess | None = g.get("department_access")
    if access is not None and access.department.id == department_id:
        return access
    return None


def check_routes(app: Flask) -> None:
    """Every route declares what it needs: a route that does not cannot be served."""
    missing = sorted(
        endpoint for endpoint, view in app.view_functions.items() if need_of(view, endpoint) is None
    )
    if missing:
        raise ConfigError(f"routes without a declared access need: {', '.join(missing)}")


def install(app: Flask, settings: Settings) -> None:
    the_gate = Gate(settings)
    app.extensions[GATE_KEY] = the_gate
    if settings.is_production and the_gate.open:
        if not settings.allow_open_writes:
            raise ConfigError(
                "FLASK_ENV=production needs API_TOKENS or OIDC_ISSUER (or ALLOW_OPEN_WRITES=true "
                "to serve open writes on purpose)"
            )
        logger.warning(
            "WRITES ARE OPEN, as ALLOW_OPEN_WRITES=true asks: neither API_TOKENS nor "
            "OIDC_ISSUER is set, so anyone who can reach this server can create, change and "
            "delete departments and events."
        )

    @app.before_request
    def authorise() -> None:
        if request.method == "OPTIONS":
            return  # CORS preflight and Allow: no rights involved
        endpoint = request.endpoint or ""
        need = need_of(app.view_functions.get(endpoint), endpoint)
        if need is None:
            return  # no route: 404 or 405 follows
        try:
            found = the_gate.check(need, request.view_args or {})
        except (Unauthorized, Forbidden) as exc:
            logger.warning(
                "refused %s %s: %s (%s)",
                request.method,
                request.path,
                exc,
                g.get("caller", ANONYMOUS).principal or "anonymous",
                extra={"request_id": g.get("request_id"), "status": exc.problem.status},
            )
            raise
        acting = acting_as(found.actor())
        acting.__enter__()
        g.acting = acting

    @app.teardown_request
    def stop_acting(_exc: BaseException | None) -> None:
        acting = g.pop("acting", None)
        if acting is not None:
            acting.__exit__(None, None, None)

    if settings.cors_origins:
        CORS(
            app,
            origins=list(settings.cors_origins),
            expose_headers=EXPOSED_HEADERS,
            allow_headers=[
                "Content-Type",
                "Authorization",
                "If-Match",
                "If-None-Match",
                "X-Request-ID",
            ],
            methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            max_age=600,
        )

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(("/docs", "/static/")):
            # Swagger UI: our own scripts and styles only (it sets inline styles).
            headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "frame-ancestors 'none'",
            )
        else:
            headers.setdefault(
                "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
            )
            headers.setdefault(
                "Cache-Control", "no-store" if request.method != "GET" else "no-cache"
            )
        if settings.is_production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
