"""The login rate limit: failed sign-ins counted in memory, per process.

5 failures per username and address and 20 per address within a minute, then 429. In-process
counting needs no table and no write per failed attempt; with N server processes an attacker
gets at most N times the budget, which argon2's cost per attempt still keeps slow.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from assay.web.errors import TooManyRequests


class LoginLimiter:
    """Counts failed logins per key in a sliding window; bounded in memory.

    Parameters
    ----------
    per_user : int
        Failures allowed per (username, address) within ``window_s``.
    per_address : int
        Failures allowed per address (whatever the usernames) within ``window_s``.
    max_keys : int
        Keys remembered at most; the least recently failed are forgotten first.
    """

    def __init__(
        self,
        per_user: int = 5,
        per_address: int = 20,
        window_s: float = 60.0,
        max_keys: int = 10_000,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str) -> list[tuple[tuple[str, ...], int]]:
        by_user = (username.strip().lower(), address)
        return [(by_user, self.per_user), ((address,), self.per_address)]

    def check(self, username: str, address: str) -> None:
        """Raise TooManyRequests while either budget is spent."""
        now = time.monotonic()
        with self._lock:
            for key, limit in self._keys(username, address):
                times = self._failures.get(key)
                while times and now - times[0] > self.window_s:
                    times.popleft()
                if times and len(times) >= limit:
                    wait = int(self.window_s - (now - times[0])) + 1
                    raise TooManyRequests(
                        f"Too many failed sign-ins; try again in {wait} s.",
                        headers={"Retry-After": str(wait)},
                    )

    def failed(self, username: str, address: str) -> None:
        """Record one failure."""
        now = time.monotonic()
        with self._lock:
            for key, limit in self._keys(username, address):
                times = self._failures.pop(key, None) or deque(maxlen=limit)
                times.append(now)
                self._failures[key] = times  # most recent last
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str) -> None:
        """Forget the (username, address) failures after a good login."""
        with self._lock:
            self._failures.pop(self._keys(username, address)[0][0], None)
