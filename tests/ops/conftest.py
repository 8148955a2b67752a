"""Shared by the operations tests: cheap password hashes (the load tests create dozens of
users and sign them in; the real argon2 parameters are checked in tests/web)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from assay import users

    fast = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(users, "_hasher", fast)
