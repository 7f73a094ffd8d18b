"""``GET /``: the calendar page people use in a browser, and the assets it loads.

The page is plain HTML, CSS and one script over the public API; FullCalendar is vendored
under ``static/calendar/fullcalendar`` (``scripts/update-fullcalendar``), so nothing is
built or fetched from elsewhere at run time and the page works offline. With sign-in
configured (``OIDC_ISSUER`` and ``OIDC_CLIENT_ID``) the page also loads oidc-client-ts,
vendored the same way under ``static/calendar/oidc-client-ts``, and talks to the provider.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, render_template, request, url_for

from backend.access.rights import Need
from backend.api.context import settings
from backend.api.page_text import LANGUAGES, PAGE_TEXT, script_data
from backend.api.security import gate, needs
from backend.errors import NotFound

bp = Blueprint("page", __name__, template_folder="templates")

ASSET_DIR = Path(__file__).resolve().parent / "static" / "calendar"
# Versioned asset URLs (?v=<content hash>) never change meaning, so browsers keep them.
IMMUTABLE = "public, max-age=31536000, immutable"
# Worth compressing: text. Tiny files gain nothing from gzip's framing.
_COMPRESSIBLE = ("text/", "application/javascript", "image/svg+xml", "application/json")
_MIN_GZIP_BYTES = 512


def content_security_policy(nonce: str, sign_in_origins: tuple[str, ...] = ()) -> str:
    """The page's policy: everything from this origin, no inline script at all.

    With sign-in on, the script also fetches from the provider (its discovery document and
    token endpoint: ``sign_in_origins``); the provider's own pages are navigations, which
    ``connect-src`` does not govern.

    FullCalendar 6 injects its stylesheet as one ``<style>`` element at run time, which it
    marks with the nonce it reads from ``<meta name="csp-nonce">``; that element is the only
    inline style allowed. Its other styling goes through the CSSOM, which CSP permits. That
    stylesheet embeds its icon font (the prev/next arrows) as a ``data:`` URL, hence
    ``font-src data:``; a font cannot run script.
    """
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self'",
            "font-src data:",
            " ".join(["connect-src 'self'", *sign_in_origins]),
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


@bp.get("/")
@needs(Need.NOTHING)
def calendar_page() -> Response:
    language = request.accept_languages.best_match(LANGUAGES, default=LANGUAGES[0])
    nonce = secrets.token_urlsafe(18)
    sign_in = _sign_in()
    html = render_template(
        "calendar.html",
        lang=language,
        text=PAGE_TEXT[language],
        script_data={**script_data(language), "sign_in": sign_in},
        sign_in=sign_in is not None,
        nonce=nonce,
        asset=asset_url,
    )
    body = html.encode("utf-8")
    response = Response(mimetype="text/html")
    if _accepts_gzip():
        # About 11 KiB of HTML and its text table become about 3.5 KiB.
        body = gzip.compress(body, compresslevel=6)
        response.headers["Content-Encoding"] = "gzip"
    response.set_data(body)
    verifier = gate().verifier
    origins = verifier.browser_origins() if sign_in is not None and verifier else ()
    response.headers["Content-Security-Policy"] = content_security_policy(nonce, origins)
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Accept-Language")
    response.vary.add("Accept-Encoding")
    return response


def _sign_in() -> dict[str, str] | None:
    """What the script needs to sign in with the provider (authorisation code with PKCE, as
    the public client ``OIDC_CLIENT_ID``), or None: no sign-in on this server, or none the
    page can do (``OIDC_ISSUER`` without ``OIDC_CLIENT_ID`` serves API clients only). The
    script sends the provider back to the page's own address, which the provider must have
    registered as the client's redirect and post-logout redirect URI."""
    configured = settings()
    if not configured.oidc_issuer or not configured.oidc_client_id:
        return None
    return {
        "issuer": configured.oidc_issuer,
        "client_id": configured.oidc_client_id,
        "scopes": configured.oidc_scopes,
    }


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    mimetype: str
    digest: str


def asset_url(name: str) -> str:
    return url_for("page.asset", filename=name, v=_assets()[name].digest)


@cache
def _assets() -> dict[str, Asset]:
    """Every file under the asset folder, read once: a few hundred KiB, compressed once."""
    found: dict[str, Asset] = {}
    for path in sorted(ASSET_DIR.rglob("*")):
        if not path.is_file() or path.name in {"LICENSE", "LICENSE.md", "VERSION"}:
            continue
        body = path.read_bytes()
        if path.name == "calendar.js":
            body = _without_comment_lines(body)
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        compressible = mimetype.startswith(_COMPRESSIBLE) and len(body) >= _MIN_GZIP_BYTES
        found[path.relative_to(ASSET_DIR).as_posix()] = Asset(
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0) if compressible else None,
            mimetype=mimetype,
            digest=hashlib.sha256(body).hexdigest()[:16],
        )
    return found


def _without_comment_lines(script: bytes) -> bytes:
    """The page's script without its lines that are only a ``//`` comment.

    Its comments explain it to its readers, not to browsers: they are a quarter of what it
    weighs in gzip (about 5 of 21 KB). Only whole comment lines go, and the script writes no
    line-spanning string whose line starts with ``//``, so nothing else changes.
    """
    kept = [line for line in script.split(b"\n") if not line.lstrip().startswith(b"//")]
    return b"\n".join(kept)


@bp.get("/calendar/<path:filename>")
@needs(Need.NOTHING)
def asset(filename: str) -> Response:
    """A page asset, gzip-compressed when the browser accepts it, cached by content hash."""
    found = _assets().get(filename)
    if found is None:
        raise NotFound("file", filename)
    compressed = found.gzipped is not None and _accepts_gzip()
    response = Response(found.gzipped if compressed else found.body, mimetype=found.mimetype)
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    if found.gzipped is not None:
        response.vary.add("Accept-Encoding")
    # One tag per representation: the gzip and identity bodies differ byte for byte.
    response.set_etag(f"{found.digest}-gz" if compressed else found.digest)
    versioned = request.args.get("v") == found.digest
    response.headers["Cache-Control"] = IMMUTABLE if versioned else "no-cache"
    response.make_conditional(request)
    return response
