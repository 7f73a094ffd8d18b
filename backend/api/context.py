"""What ``create_app`` injects and views read back: the storage and the cursor codec."""

from __future__ import annotations

from flask import current_app

from backend.api.cursors import CursorCodec
from backend.storage import Storage

STORAGE_KEY = "calendar.storage"
CURSORS_KEY = "calendar.cursors"


def storage() -> Storage:
    result: Storage = current_app.extensions[STORAGE_KEY]
    return result


def cursors() -> CursorCodec:
    result: CursorCodec = current_app.extensions[CURSORS_KEY]
    return result
