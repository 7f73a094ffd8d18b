"""A department's members and its secret feed key.

Members live on the department's own item (a map of principal to role), so the right to
a department is read with the department, in one strongly consistent read. Each change is
conditioned on what it read: on the member's role, and, where an owner is removed or
made writer or reader, on another owner still being one. Two owners removing each other
at once therefore cannot leave the department without one: the second change finds its
condition broken, reads again, and is refused as the last owner.
"""

from __future__ import annotations

from collections.abc import Mapping

from backend.access.rights import MAX_MEMBERS, Role, normalise_principal, owners
from backend.errors import Conflict, NotFound
from backend.storage import Storage
from backend.storage.departments import new_feed_key
from backend.storage.dynamo import busy
from backend.storage.versioning import VersionMoved, write_attempts


def set_member(storage: Storage, department_id: str, principal: str, role: Role) -> bool:
    """Give ``principal`` ``role`` in the department; True when it was not a member."""
    principal = normalise_principal(principal)
    departments = storage.departments
    for _ in write_attempts():
        members = departments.access(department_id).members
        current = members.get(principal)
        if current == role:
            return False
        other_owner = _another_owner(members, principal) if current == Role.OWNER else None
        if current is None and len(members) >= MAX_MEMBERS:
            raise Conflict(
                f"the department already has {MAX_MEMBERS} members, the most it may",
                code="too-many-members",
            )
        try:
            departments.set_member(
                department_id,
                principal,
                str(role),
                expected=current,
                has_members=bool(members),
                other_owner=other_owner,
                max_members=MAX_MEMBERS,
            )
        except VersionMoved:
            continue
        return current is None
    raise busy("change members")


def remove_member(storage: Storage, department_id: str, principal: str) -> None:
    """Remove ``principal`` from the department; ``NotFound`` when it is not a member,
    ``last-owner`` when it is the last owner."""
    principal = normalise_principal(principal)
    departments = storage.departments
    for _ in write_attempts():
        members = departments.access(department_id).members
        current = members.get(principal)
        if current is None:
            raise NotFound("member", principal)
        other_owner = _another_owner(members, principal) if current == Role.OWNER else None
        try:
            departments.remove_member(
                department_id, principal, expected=current, other_owner=other_owner
            )
        except VersionMoved:
            continue
        return
    raise busy("change members")


def feed_key(storage: Storage, department_id: str) -> str:
    """The department's feed key; a department from before feed keys gets one now."""
    departments = storage.departments
    for _ in range(3):
        key = departments.access(department_id).feed_key
        if key is not None:
            return key
        if departments.set_feed_key(department_id, new_feed_key(), only_if_missing=True):
            continue  # read it back: the key is whichever write came first
    raise busy("store feed key")


def rotate_feed_key(storage: Storage, department_id: str) -> str:
    """A new feed key; the old one stops working at once."""
    key = new_feed_key()
    if not storage.departments.set_feed_key(department_id, key, only_if_missing=False):
        raise NotFound("department", department_id)
    return key


def _another_owner(members: Mapping[str, str], principal: str) -> str:
    """An owner other than ``principal``, on whom the change of an owner is conditioned;
    ``last-owner`` when there is none."""
    others = [p for p in owners(members) if p != principal]
    if not others:
        raise Conflict(
            f"{principal} is the department's last owner: make someone else owner first",
            code="last-owner",
        )
    return others[0]
