"""A small in-process cache of inventories, so the overview page does not rescan every time.

An inventory is reused while the dataset's data version (largest item and label ids: both are
append-only) is unchanged, so any import or label write makes the next request recompute.
Concurrent requests for the same inventory wait for one computation instead of each
scanning the dataset.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class StatsCache:
    """Least-recently-used results keyed by (dataset, filter, data version)."""

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value for ``key``, computing (once) on a miss."""
        with self._guard:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._entries:
                    return self._entries[key]
            value = compute()
            with self._guard:
                self._entries[key] = value
                self._locks.pop(key, None)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return value
