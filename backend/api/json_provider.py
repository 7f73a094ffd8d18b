"""JSON responses with Korean (and all other) text as UTF-8 rather than ``\\uXXXX``."""

from __future__ import annotations

from flask.json.provider import DefaultJSONProvider


class KoreanJSONProvider(DefaultJSONProvider):
    """``"개발팀"`` reads as itself in curl; key order is the order fields are written in."""

    ensure_ascii = False
    sort_keys = False
