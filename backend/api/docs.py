"""The API described: ``/openapi.json``, the Swagger UI page at ``/docs`` (offline), and a
page per problem type at ``/problems/<slug>``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template_string, url_for

from backend.access.rights import Need
from backend.api.openapi import document
from backend.api.problems import PROBLEM_BASE
from backend.api.security import access_mode, needs
from backend.errors import PROBLEM_TYPES, NotFound

bp = Blueprint("docs", __name__, static_folder="static", static_url_path="/static")


_DOCUMENT_KEY = "backend.openapi"


@bp.get("/openapi.json")
@needs(Need.NOTHING)
def openapi() -> Response:
    """This server's document: built once per app, from its routes and its settings."""
    built = current_app.extensions.get(_DOCUMENT_KEY)
    if built is None:
        built = document(current_app, mode=access_mode(current_app))
        current_app.extensions[_DOCUMENT_KEY] = built
    return jsonify(built)


@bp.get("/problems/<slug>")
@needs(Need.NOTHING)
def problem_type(slug: str) -> Response:
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        raise NotFound("problem type", slug)
    return jsonify(
        {
            "type": PROBLEM_BASE + slug,
            "title": kind.title,
            "status": kind.status,
            "description": kind.description,
        }
    )


_DOCS = """<!doctype html>
<html lang="ko">
<head>
  <meta charset="utf-8">
  <title>Department Calendar API</title>
  <link rel="icon" href="{{ static('favicon-32x32.png') }}">
  <link rel="stylesheet" href="{{ static('swagger-ui.css') }}">
</head>
<body>
  <div id="swagger-ui" data-spec="{{ url_for('docs.openapi') }}"></div>
  <script src="{{ static('swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('docs.static', filename='docs.js') }}"></script>
</body>
</html>
"""


@bp.get("/docs")
@needs(Need.NOTHING)
def docs() -> str:
    """Swagger UI, served from this package's own copy so it works with no network."""
    return render_template_string(
        _DOCS, static=lambda name: url_for("docs.static", filename=f"swagger-ui/{name}")
    )
