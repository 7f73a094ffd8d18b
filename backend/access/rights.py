"""Rights per department, as Google Calendar's ACL gives them: readers, writers, owners.

A department has a ``visibility`` (who reads it without being a member) and ``members``:
principals (``user:<sub or e-mail>``, ``group:<name>``) with a role each. A caller's role
in a department is the highest that any of its principals holds, raised to ``reader``
where the visibility lets everyone (``public``) or every signed-in person
(``organization``) read. Service tokens and the admin group hold every right.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from backend.domain import Actor

MAX_MEMBERS = 100
PRINCIPAL_MAX = 260  # "group:" / "user:" and up to 254 characters (an e-mail's limit)
# What principal_problem accepts, as a JSON Schema (ECMA) pattern for the OpenAPI document.
_EDGE = r"[^\s\x00-\x1f\x7f-\x9f]"
PRINCIPAL_PATTERN = rf"^(user|group):{_EDGE}([^\x00-\x1f\x7f-\x9f]{{0,252}}{_EDGE})?$"
_NAME_MAX = 254
_PRINCIPAL_KINDS = ("user", "group")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Role(StrEnum):
    READER = "reader"
    WRITER = "writer"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.READER: 1, Role.WRITER: 2, Role.OWNER: 3}


class Visibility(StrEnum):
    ORGANIZATION = "organization"  # every signed-in person reads
    MEMBERS = "members"  # only members read; others are told it does not exist
    PUBLIC = "public"  # anyone reads, signed in or not

    @classmethod
    def of(cls, value: object) -> Visibility:
        """A stored value; anything else (data from before access control) is
        ``organization``."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.ORGANIZATION


# The attribute of a view function that holds its Need (``api.security.needs`` sets it).
NEED_ATTRIBUTE = "__access_need__"


class Need(Enum):
    """What a route needs. Every route of the application declares one."""

    NOTHING = "nothing"  # documentation, health, the page, holidays
    SIGNED_IN = "signed-in"  # create a department (its creator becomes its owner)
    LIST = "list"  # list departments: each caller sees those it may read
    READ = "read"  # a department, its events
    FEED = "feed"  # the iCalendar feed: a reader, or anyone with its secret key
    SEE_KEY = "see-key"  # the feed's secret address: a signed-in reader
    WRITE = "write"  # create, change, delete, import events
    OWN = "own"  # change or delete the department, its members, feed key, webhooks

    @property
    def role(self) -> Role | None:
        """The role it takes in the department named by the route, if any."""
        return _NEED_ROLES.get(self)


_NEED_ROLES = {
    Need.READ: Role.READER,
    Need.FEED: Role.READER,
    Need.SEE_KEY: Role.READER,
    Need.WRITE: Role.WRITER,
    Need.OWN: Role.OWNER,
}


@dataclass(frozen=True)
class Caller:
    """Who sent a request: nobody, a service token, or a signed-in person.

    ``everything`` holds every right: service tokens, the admin group, and every request
    of a server without sign-in configured (development, or open writes on purpose).
    """

    kind: str  # "anonymous", "service" or "user"
    subject: str | None = None  # the token's sub, or the service token's name
    name: str | None = None
    email: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    everything: bool = False

    @property
    def signed_in(self) -> bool:
        return self.kind != "anonymous"

    @property
    def principal(self) -> str | None:
        """The principal that names this caller in logs and ``created_by``."""
        if self.kind == "user":
            return f"user:{self.subject}"
        if self.kind == "service":
            return f"service:{self.subject}"
        return None

    def principals(self) -> frozenset[str]:
        """Every member principal that stands for this caller."""
        if self.kind != "user":
            return frozenset()
        found = {normalise_principal(f"user:{self.subject}")}
        if self.email:
            found.add(normalise_principal(f"user:{self.email}"))
        found.update(normalise_principal(f"group:{group}") for group in self.groups)
        return frozenset(found)

    def actor(self) -> Actor | None:
        """``created_by`` / ``updated_by`` of what this caller writes."""
        principal = self.principal
        if principal is None:
            return None
        return Actor(principal, self.name or self.email or self.subject)


ANONYMOUS = Caller("anonymous")
OPEN = Caller("anonymous", everything=True)  # a server without sign-in: as it always was


def role_of(caller: Caller, visibility: Visibility, members: Mapping[str, str]) -> Role | None:
    """The caller's role in a department, or None where it may not even read it."""
    if caller.everything:
        return Role.OWNER
    best: Role | None = None
    for principal in caller.principals():
        held = members.get(principal)
        if held is not None:
            role = Role(held)
            if best is None or role.rank > best.rank:
                best = role
    if best is None and (
        visibility is Visibility.PUBLIC
        or (visibility is Visibility.ORGANIZATION and caller.signed_in)
    ):
        best = Role.READER
    return best


def principal_problem(principal: str) -> str | None:
    """Why ``principal`` cannot be a member's, or None when it can."""
    kind, colon, value = principal.partition(":")
    if not colon or kind not in _PRINCIPAL_KINDS:
        return "a principal is user:<sub or e-mail> or group:<name>"
    if not value.strip() or value != value.strip():
        return "the principal's name is empty or has surrounding white space"
    if len(value) > _NAME_MAX:
        return f"the principal's name is longer than {_NAME_MAX} characters"
    if _CONTROL.search(value):
        return "the principal's name holds a control character"
    return None


def normalise_principal(principal: str) -> str:
    """The stored form: NFC, and an e-mail address in lower case (as tokens are matched)."""
    principal = unicodedata.normalize("NFC", principal)
    kind, _, value = principal.partition(":")
    if kind == "user" and "@" in value:
        value = value.lower()
    return f"{kind}:{value}"


def owners(members: Mapping[str, str]) -> list[str]:
    return sorted(p for p, role in members.items() if role == Role.OWNER)


def readable_members(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Members as the API lists them: owners first, then writers, then readers, by name."""
    return [
        {"principal": principal, "role": role}
        for principal, role in sorted(items, key=lambda m: (-Role(m[1]).rank, m[0]))
    ]
