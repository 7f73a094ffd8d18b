"""Items the product keeps for itself next to the resources, and the one rule that hides them.

A GSI cannot enforce uniqueness and DynamoDB has no sequences, so some facts live in items
of their own: the claim on a department name, the report's sent-markers and its daily
quota counter. Their ids start with ``#``, which no resource id may (the API never makes
one, and the migration refuses legacy ids that do), so one rule tells them apart
everywhere: an id starting with ``#`` is never a resource. Every department read refuses
such ids and every department listing leaves them out.
"""

from __future__ import annotations

from typing import Any

BOOKKEEPING_PREFIX = "#"
NAME_CLAIM_PREFIX = "#name#"


def is_bookkeeping_id(ident: str) -> bool:
    return ident.startswith(BOOKKEEPING_PREFIX)


def claim_id(name: str) -> str:
    return NAME_CLAIM_PREFIX + name


def name_claim(name: str, department_id: str) -> dict[str, Any]:
    """The item that reserves ``name`` for ``department_id``.

    It has no ``name`` attribute, so it never appears in ``name-index``.
    """
    return {"id": claim_id(name), "department_id": department_id, "kind": "name-claim"}
