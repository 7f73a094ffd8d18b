"""WSGI middleware in front of the Flask app."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class RawQueryFix:
    """Undo Werkzeug's development server double-decoding raw UTF-8 in a query string.

    curl sends ``?name=개발팀`` unencoded. The dev server decodes those bytes as Latin-1
    and then encodes them once more, so ``request.args`` would see mojibake; undoing one
    step restores the PEP 3333 form. Percent-encoded queries are ASCII and pass through.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        if not query.isascii() and str(environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug"):
            with contextlib.suppress(UnicodeError):
                environ["QUERY_STRING"] = query.encode("latin-1").decode("utf-8")
        return self.app(environ, start_response)
