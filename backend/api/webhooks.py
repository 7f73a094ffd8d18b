"""``/api/departments/<department_id>/webhooks``: change notifications to a team chat or
any HTTPS receiver."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, url_for

from backend.access.rights import Need
from backend.api.context import settings, storage
from backend.api.inputs import json_object
from backend.api.openapi import (
    BODY_ERRORS,
    READ_ERRORS,
    describe,
    empty_response,
    json_body,
    json_response,
    operation,
)
from backend.api.responses import list_response
from backend.api.security import needs
from backend.domain import Webhook
from backend.errors import FieldError, Invalid
from backend.services import notifications
from backend.services.notifications import FORMATS, LANGUAGES, MAX_WEBHOOKS

bp = Blueprint("webhooks", __name__, url_prefix="/api/departments/<department_id>/webhooks")

URL_MAX = 2048
WEBHOOK_EXAMPLE = {
    "id": "5f2b9c1e7a3d4e60",
    "department_id": "0b6c3a52-6c2e-4c7e-9f2a-3d1e5b7a9c10",
    "url": "https://hooks.slack.com/…pQ7x",
    "format": "slack",
    "language": "ko",
    "status": "active",
    "created_at": "2024-01-15T09:00:00.000Z",
    "delivered_version": 42,
    "attempts": 0,
    "failing_since": None,
    "next_attempt_at": None,
    "last_error": None,
    "last_delivered_at": "2024-01-15T09:30:12.345Z",
}


def webhook_json(webhook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    """A webhook as served: its URL shown by host and last characters only (chat webhook
    URLs are credentials), its secret only when it is created."""
    body = {
        "id": webhook.id,
        "department_id": webhook.department_id,
        "url": shown_url(webhook.url),
        "format": webhook.format,
        "language": webhook.language,
        "status": webhook.status,
        "created_at": webhook.created_at,
        "delivered_version": webhook.delivered_version,
        "attempts": webhook.attempts,
        "failing_since": webhook.failing_since,
        "next_attempt_at": webhook.next_attempt_at,
        "last_error": webhook.last_error,
        "last_delivered_at": webhook.last_delivered_at,
    }
    if with_secret:
        body["secret"] = webhook.secret
    return body


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    rest = (parts.path + ("?" + parts.query if parts.query else "")).lstrip("/")
    tail = rest[-4:] if len(rest) > 8 else ""
    return f"{parts.scheme}://{parts.netloc}/" + (f"…{tail}" if rest else "")


@bp.post("")
@describe(
    operation(
        "createWebhook",
        "webhooks",
        "Announce the department's changes to a URL",
        "Registers a webhook: every later change of the department's events is "
        "POSTed to url, in the department's order, at least once, each delivery with "
        "the id in Calendar-Delivery to de-duplicate by. format json is this service's "
        "own (signed: Calendar-Signature t=<unix time>,v1=<hex HMAC-SHA256 of "
        "'<t>.<body>' with the secret, which this answer shows once); slack and teams "
        "are their incoming-webhook messages, in language ko or en. Failed deliveries "
        "are retried with backoff; after 24 hours the webhook is marked failing and "
        f"tried hourly. At most {MAX_WEBHOOKS} per department; in production the url "
        "must be https and reach a public address.",
        {
            "201": json_response(
                "Created, with its secret (shown this once)",
                "WebhookCreated",
                {**WEBHOOK_EXAMPLE, "secret": "whsec_…"},
            )
        },
        errors=("404", "409", *BODY_ERRORS),
        body=json_body(
            "WebhookCreate",
            "Where to deliver, and in which format",
            {"url": "https://hooks.slack.com/services/T000/B000/XXXX", "format": "slack"},
        ),
        write=True,
    )
)
@needs(Need.OWN)
def create_webhook(department_id: str) -> Response:
    body = json_object()
    errors: list[FieldError] = []
    unknown = sorted(set(body) - {"url", "format", "language"})
    errors += [FieldError(name, "is not a field of a webhook") for name in unknown]
    url, fmt, language = body.get("url"), body.get("format"), body.get("language", "ko")
    if not isinstance(url, str) or not url.strip():
        errors.append(FieldError("url", "is required: the https URL to deliver to"))
    elif len(url) > URL_MAX:
        errors.append(FieldError("url", f"must be at most {URL_MAX} characters"))
    if fmt not in FORMATS:
        errors.append(FieldError("format", f"must be one of {', '.join(FORMATS)}"))
    if language not in LANGUAGES:
        errors.append(FieldError("language", f"must be one of {', '.join(LANGUAGES)}"))
    if errors:
        raise Invalid(errors)
    webhook = notifications.register(
        storage(),
        department_id,
        str(url).strip(),
        str(fmt),
        str(language),
        allow_private=not settings().is_production,
    )
    response = jsonify(webhook_json(webhook, with_secret=True))
    response.status_code = 201
    response.headers["Location"] = url_for(
        ".get_webhook", department_id=department_id, webhook_id=webhook.id
    )
    return response


@bp.get("")
@describe(
    operation(
        "listWebhooks",
        "webhooks",
        "List the department's webhooks",
        "Each with the state of its deliveries (status active or failing, the last "
        "error). Needs the bearer token where writes do: webhook URLs are credentials.",
        {
            "200": json_response(
                "The webhooks", "WebhookList", {"items": [WEBHOOK_EXAMPLE], "next_cursor": None}
            )
        },
        errors=("404", *READ_ERRORS),
        write=True,
    )
)
@needs(Need.OWN)
def list_webhooks(department_id: str) -> Response:
    storage().events.calendar_state(department_id)  # 404 for a missing department
    hooks = storage().webhooks.of_department(department_id)
    return list_response([webhook_json(w) for w in hooks], None)


@bp.get("/<webhook_id>")
@describe(
    operation(
        "getWebhook",
        "webhooks",
        "Get a webhook",
        "The webhook and the state of its deliveries.",
        {"200": json_response("The webhook", "Webhook", WEBHOOK_EXAMPLE)},
        errors=("404", *READ_ERRORS),
        write=True,
    )
)
@needs(Need.OWN)
def get_webhook(department_id: str, webhook_id: str) -> Response:
    return jsonify(webhook_json(storage().webhooks.get(department_id, webhook_id)))


@bp.delete("/<webhook_id>")
@describe(
    operation(
        "deleteWebhook",
        "webhooks",
        "Delete a webhook",
        "No delivery starts after this answer.",
        {"204": empty_response("Deleted")},
        errors=("404", *READ_ERRORS),
        write=True,
    )
)
@needs(Need.OWN)
def delete_webhook(department_id: str, webhook_id: str) -> Response:
    notifications.unregister(storage(), department_id, webhook_id)
    return Response(status=204)
