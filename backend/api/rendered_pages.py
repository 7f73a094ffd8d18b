"""Pages of department calendars as rendered, kept by the calendar state they show.

A list page is a function of its department's calendar at one version (``listing``
builds it so that its body shows what its ``ETag`` vouches for) and of the request: the
window, search, cursor, limit and today's date. Every list reads the calendar item first
(one strongly consistent GetItem), so a page rendered for the same request at the same
calendar state is the page, and can be answered without its index Query, item conversion
and JSON encoding. Every product write moves the version (and the change time), so a
write in any process is seen by the next list in every process, as the ETag poll sees it.

Writes by other programs (the console, the AWS CLI) do not move the version: the ETag
already vouches over them, and a kept page shows them once it has aged out
(``KEEP_SECONDS``), as a list shows them once the index has them. Pages are per process,
bounded in bytes (``LIST_CACHE_MB``; 0 keeps none), least recently used first out.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from cachetools import TTLCache

# How long a page is kept at most: what other programs write to a department whose
# version does not move shows within this, as a write shows in the index (INDEX_SETTLE).
KEEP_SECONDS = 60.0
# A page larger than this share of the whole store is not kept (it would push out many).
LARGEST_SHARE = 16
# What a kept page costs beyond its body: its key, the store's own records (measured:
# about 550 bytes), so that many small pages cannot outgrow the bound.
ENTRY_OVERHEAD = 600


def _footprint(body: bytes) -> int:
    return len(body) + ENTRY_OVERHEAD


class RenderedPages:
    """A byte-bounded store of rendered pages, safe to share between threads."""

    def __init__(self, max_bytes: int, *, keep_seconds: float = KEEP_SECONDS) -> None:
        self.max_bytes = max_bytes
        self._largest = max_bytes // LARGEST_SHARE
        self._pages: TTLCache[Hashable, bytes] | None = None
        if max_bytes > 0:
            self._pages = TTLCache(maxsize=max_bytes, ttl=keep_seconds, getsizeof=_footprint)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        if self._pages is None:
            return None
        with self._lock:
            return self._pages.get(key)

    def keep(self, key: Hashable, body: bytes) -> None:
        if self._pages is None or _footprint(body) > self._largest:
            return
        with self._lock:
            self._pages[key] = body

    @property
    def size(self) -> int:
        """The bytes kept now."""
        if self._pages is None:
            return 0
        with self._lock:
            self._pages.expire()
            return int(self._pages.currsize)
