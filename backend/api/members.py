"""A department's members (``/members``) and its secret feed address (``/feed-key``)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for

from backend.access.rights import (
    PRINCIPAL_MAX,
    Need,
    Role,
    normalise_principal,
    principal_problem,
    readable_members,
)
from backend.api.context import storage
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
from backend.api.security import checked_access, needs
from backend.errors import FieldError, Invalid
from backend.services import members

bp = Blueprint("members", __name__, url_prefix="/api/departments/<department_id>")

_MEMBER = {"principal": "user:kim@example.com", "role": "writer"}


@bp.get("/members")
@describe(
    operation(
        "listMembers",
        "access",
        "List the department's members",
        "Who holds which role: user:<sub or e-mail> and group:<name> principals, owners "
        "first. Owners (and admins, and service tokens) see it.",
        {
            "200": json_response(
                "The members",
                "MemberList",
                {"items": [{"principal": "user:lee@example.com", "role": "owner"}, _MEMBER]},
            )
        },
        errors=("404", *READ_ERRORS),
    )
)
@needs(Need.OWN)
def list_members(department_id: str) -> Response:
    access = checked_access(department_id) or storage().departments.access(department_id)
    return jsonify({"items": readable_members(access.members.items())})


@bp.put("/members/<path:principal>")
@describe(
    operation(
        "putMember",
        "access",
        "Grant a role",
        "Makes principal a member with role (owner, writer or reader): 201 when it was "
        "not one, 200 when its role changed or stayed. The last owner cannot be made "
        f"writer or reader (409 last-owner); at most 100 members (409). Principals are "
        f"user:<sub or e-mail> or group:<name>, at most {PRINCIPAL_MAX} characters.",
        {
            "200": json_response(
                "The member's role changed (or was already this)", "Member", _MEMBER
            ),
            "201": json_response("A new member", "Member", _MEMBER),
        },
        errors=("404", "409", *BODY_ERRORS),
        body=json_body("MemberGrant", "The role to hold", {"role": "writer"}),
        write=True,
    )
)
@needs(Need.OWN)
def put_member(department_id: str, principal: str) -> Response:
    body = json_object()
    errors = [
        FieldError(name, "is not a field of a member") for name in sorted(set(body) - {"role"})
    ]
    role = body.get("role")
    if role not in [str(r) for r in Role]:
        errors.append(FieldError("role", "must be one of owner, writer, reader"))
    if problem := principal_problem(principal):
        errors.append(FieldError("principal", problem))
    if errors:
        raise Invalid(errors)
    created = members.set_member(storage(), department_id, principal, Role(str(role)))
    response = jsonify({"principal": _stored(principal), "role": role})
    if created:
        response.status_code = 201
        response.headers["Location"] = url_for(
            ".put_member", department_id=department_id, principal=_stored(principal)
        )
    return response


@bp.delete("/members/<path:principal>")
@describe(
    operation(
        "deleteMember",
        "access",
        "Remove a member",
        "Removes principal's role. The last owner cannot be removed (409 last-owner).",
        {"204": empty_response("Removed")},
        errors=("404", "409", *READ_ERRORS),
        write=True,
    )
)
@needs(Need.OWN)
def delete_member(department_id: str, principal: str) -> Response:
    members.remove_member(storage(), department_id, principal)
    return Response(status=204)


_FEED_KEY_EXAMPLE = {
    "key": "q3Vb0cUJ8mW1xN4pRz7tY2aKfLhD9sEo",
    "url": "https://calendar.example.com/api/departments/0b6c3a52-6c2e-4c7e-9f2a-3d1e5b7a9c10/"
    "calendar.ics?key=q3Vb0cUJ8mW1xN4pRz7tY2aKfLhD9sEo",
}


@bp.get("/feed-key")
@describe(
    operation(
        "getFeedKey",
        "access",
        "The secret address of the department's feed",
        "As Google's secret address in iCal format: calendar apps, which cannot sign in, "
        "read the feed at url. Every signed-in reader sees it; keep it secret. An owner "
        "rotates it (POST).",
        {"200": json_response("The feed's secret address", "FeedKey", _FEED_KEY_EXAMPLE)},
        errors=("404", *READ_ERRORS),
    )
)
@needs(Need.SEE_KEY)
def get_feed_key(department_id: str) -> Response:
    return _feed_key_response(department_id, members.feed_key(storage(), department_id))


@bp.post("/feed-key")
@describe(
    operation(
        "rotateFeedKey",
        "access",
        "Rotate the feed's secret address",
        "A new key: the old address stops working at once (404).",
        {"200": json_response("The new secret address", "FeedKey", _FEED_KEY_EXAMPLE)},
        errors=("404", *READ_ERRORS),
        write=True,
    )
)
@needs(Need.OWN)
def rotate_feed_key(department_id: str) -> Response:
    return _feed_key_response(department_id, members.rotate_feed_key(storage(), department_id))


def _feed_key_response(department_id: str, key: str) -> Response:
    url = url_for("calendar.calendar_feed", department_id=department_id, key=key, _external=True)
    response = jsonify({"key": key, "url": url})
    response.headers["Cache-Control"] = "no-store"
    return response


def _stored(principal: str) -> str:
    return normalise_principal(principal)
