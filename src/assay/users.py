"""Accounts, roles and API tokens, shared by the CLI (``assay user``) and the web app.

Passwords are hashed with argon2id through pwdlib (``PasswordHash.recommended()``: 64 MiB,
t=3, p=4), never by hand. Verifying costs about 150 ms and 64 MiB, so at most one hash per
CPU runs at a time (a login flood queues instead of exhausting memory), and an unknown user
is checked against a dummy hash so that the answer takes as long as for a known one.

API tokens are random (``secrets.token_urlsafe``); only their SHA-256 is stored, and the token
itself is shown once, when it is created. Changing a password revokes that user's API tokens
(the sessions end too). A token found valid is remembered in the process for
``TOKEN_CACHE_S`` (2 s), so a script writing labels as fast as it can costs no database read
per request; revoking a token or changing or disabling its user forgets every remembered token
of the process at once, and another process (the CLI, another server worker) sees the change
within those 2 s.

Usernames are lower-cased (NFC, trimmed), so ``Alice`` and ``alice`` are one account.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pwdlib import PasswordHash

from assay.errors import AssayError, Conflict, InvalidParameter, NotFound, StoreBusy
from assay.store import Store, queries
from assay.store import schema as t

ROLES = t.ROLES
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_PREFIX = "assay_"
# A token's last use is recorded at most this often (a read should not write every time).
TOKEN_TOUCH_S = 60
# How long a process trusts a token it found valid (see the module's docstring).
TOKEN_CACHE_S = 2.0
_TOKEN_CACHE_MAX = 10_000
HASH_WAIT_S = 10.0
_USERNAME = re.compile(r"[a-z0-9][a-z0-9_.@-]{0,63}")


class UserNotFound(NotFound):
    """No account with that username (or token id)."""


class AuthBusy(AssayError):
    """Too many password checks at once: the caller should retry in a moment."""


@dataclass(frozen=True)
class User:
    """An account as the rest of Assay sees it (never with its password hash)."""

    id: int
    username: str
    role: str
    created_at: datetime
    disabled: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "created_at": self.created_at,
            "disabled": self.disabled,
        }


@dataclass(frozen=True)
class Token:
    """An API token's record (the token itself is only known when it is created)."""

    id: int
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


# -- password hashing -------------------------------------------------------------------------

_hasher = PasswordHash.recommended()
_hash_slots = threading.BoundedSemaphore(os.cpu_count() or 1)
_dummy_hash: str | None = None


def _with_slot(fn: Any, *args: Any) -> Any:
    """Run one argon2 computation, at most one per CPU at a time (bounded memory)."""
    if not _hash_slots.acquire(timeout=HASH_WAIT_S):
        raise AuthBusy("Too many sign-ins at once; try again in a few seconds.")
    try:
        return fn(*args)
    finally:
        _hash_slots.release()


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` after checking it is acceptable."""
    check_password(password)
    return str(_with_slot(_hasher.hash, password))


def check_password(password: str) -> None:
    """Refuse empty, blank, too short or absurdly long passwords (InvalidParameter)."""
    if not isinstance(password, str) or not password.strip():
        raise InvalidParameter("The password is empty: give a password.")
    if len(password) < MIN_PASSWORD:
        raise InvalidParameter(
            f"The password is too short: use at least {MIN_PASSWORD} characters."
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidParameter(f"The password is longer than {MAX_PASSWORD} characters.")


def _verify(password: str, password_hash: str) -> tuple[bool, str | None]:
    result: tuple[bool, str | None] = _with_slot(_hasher.verify_and_update, password, password_hash)
    return result


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = str(_with_slot(_hasher.hash, secrets.token_urlsafe(16)))
    return _dummy_hash


# -- names and rows ---------------------------------------------------------------------------


def clean_username(value: str) -> str:
    """Normalize a username (NFC, trimmed, lower case) and check its characters."""
    name = unicodedata.normalize("NFC", str(value)).strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InvalidParameter(
            f"The username {value!r} is not valid: use 1-64 letters, digits, '.', '_', '-' "
            "or '@', starting with a letter or digit."
        )
    return name


def check_role(role: str) -> str:
    """The role if it is one of ``ROLES``, else InvalidParameter listing them."""
    if role not in ROLES:
        raise InvalidParameter(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    return role


def _user(row: Any) -> User:
    return User(row.id, row.username, row.role, row.created_at, bool(row.disabled))


def _now() -> datetime:
    return datetime.now(UTC)


def _get_row(conn: Any, username: str) -> Any:
    row = conn.execute(sa.select(t.users).where(t.users.c.username == username)).first()
    if row is None:
        raise UserNotFound(f"No user {username!r}. List them with `assay user list`.")
    return row


# -- accounts ---------------------------------------------------------------------------------


def create_user(store: Store, username: str, password: str, *, role: str = "annotator") -> User:
    """Create an account; Conflict when the username is taken.

    Parameters
    ----------
    store : Store
    username : str
        1-64 characters among letters, digits and ``._-@`` (stored lower-cased).
    password : str
        At least 8 characters; stored as an argon2id hash.
    role : {"admin", "reviewer", "annotator"}
    """
    name = clean_username(username)
    check_role(role)
    password_hash = hash_password(password)
    with store.write() as conn:
        if conn.execute(sa.select(t.users.c.id).where(t.users.c.username == name)).first():
            raise Conflict(f"There is already a user {name!r}.")
        new_id = conn.execute(
            t.users.insert().values(
                username=name, password_hash=password_hash, role=role, created_at=_now()
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        return _user(conn.execute(sa.select(t.users).where(t.users.c.id == new_id)).one())


def get_user(store: Store, username: str) -> User:
    """The account of that name (UserNotFound when there is none)."""
    with store.read() as conn:
        return _user(_get_row(conn, clean_username(username)))


def list_users(store: Store) -> list[User]:
    """Every account, oldest first."""
    with store.read() as conn:
        return [_user(r) for r in conn.execute(sa.select(t.users).order_by(t.users.c.id))]


def count_users(store: Store) -> int:
    """How many accounts exist (``assay serve`` creates the first admin when there are none)."""
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.users)).scalar_one())


def update_user(
    store: Store,
    username: str,
    *,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User:
    """Change an account's role, disabled flag or password.

    Disabling a user or changing their password ends their browser sessions. Changing the
    password also revokes the user's API tokens (whoever changes a password because it leaked
    must not leave a token made with it working); a disabled user's tokens are refused too
    (every way in checks the flag).
    """
    name = clean_username(username)
    values: dict[str, Any] = {}
    if role is not None:
        values["role"] = check_role(role)
    if disabled is not None:
        values["disabled"] = bool(disabled)
    if password is not None:
        values["password_hash"] = hash_password(password)
    with store.write() as conn:
        row = _get_row(conn, name)
        demoted = values.get("role", row.role) != "admin" or values.get("disabled", False)
        if (
            row.role == "admin"
            and not row.disabled
            and demoted
            and _other_admins(conn, row.id) == 0
        ):
            raise Conflict(
                f"{name!r} is the last enabled admin: make another user admin first, or nobody "
                "could manage users any more."
            )
        if values:
            conn.execute(t.users.update().where(t.users.c.id == row.id).values(**values))
        if disabled or password is not None:
            conn.execute(t.web_sessions.delete().where(t.web_sessions.c.user_id == row.id))
        if password is not None:
            _revoke_all_tokens(conn, row.id)
        user = _user(conn.execute(sa.select(t.users).where(t.users.c.id == row.id)).one())
    _tokens.forget()
    return user


def _revoke_all_tokens(conn: Any, user_id: int) -> None:
    """Revoke every API token of the user that is not revoked yet."""
    a = t.api_tokens.c
    conn.execute(
        t.api_tokens.update()
        .where(a.user_id == user_id, a.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


def _other_admins(conn: Any, user_id: int) -> int:
    u = t.users.c
    query = sa.select(sa.func.count()).where(
        u.role == "admin", u.disabled == sa.false(), u.id != user_id
    )
    return int(conn.execute(query).scalar_one())


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user if the password is theirs and the account is enabled, else None.

    Takes about as long for an unknown user as for a known one (a dummy hash is checked),
    and upgrades a hash made with weaker parameters than today's.
    """
    try:
        name = clean_username(username)
    except InvalidParameter:
        name = None
    with store.read() as conn:
        row = (
            conn.execute(sa.select(t.users).where(t.users.c.username == name)).first()
            if name
            else None
        )
    if row is None or not isinstance(password, str) or len(password) > MAX_PASSWORD:
        _verify("not the password", _dummy())
        return None
    ok, new_hash = _verify(password, row.password_hash)
    if not ok or row.disabled:
        return None
    if new_hash is not None:
        with store.write() as conn:
            conn.execute(
                t.users.update().where(t.users.c.id == row.id).values(password_hash=new_hash)
            )
    return _user(row)


# -- API tokens -------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(store: Store, username: str, name: str) -> tuple[str, Token]:
    """A new API token for ``username``: returns the token (shown once) and its record."""
    label = unicodedata.normalize("NFC", str(name)).strip()
    if not label or len(label) > 200:
        raise InvalidParameter("Give the token a name of 1-200 characters (what it is for).")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.write() as conn:
        user = _get_row(conn, clean_username(username))
        token_id = conn.execute(
            t.api_tokens.insert().values(
                user_id=user.id, name=label, token_hash=token_hash(token), created_at=_now()
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        record = Token(token_id, user.username, label, _now(), None, None)
    return token, record


def list_tokens(store: Store, username: str | None = None) -> list[Token]:
    """API tokens (of one user, or everyone's), oldest first; never the tokens themselves."""
    a, u = t.api_tokens.c, t.users.c
    query = (
        sa.select(a.id, u.username, a.name, a.created_at, a.last_used_at, a.revoked_at)
        .join(t.users, u.id == a.user_id)
        .order_by(a.id)
    )
    if username is not None:
        query = query.where(u.username == clean_username(username))
    with store.read() as conn:
        return [Token(*row) for row in conn.execute(query)]


def revoke_token(store: Store, token_id: int, *, username: str | None = None) -> Token:
    """Revoke a token (only among ``username``'s when given); revoking twice is harmless."""
    a, u = t.api_tokens.c, t.users.c
    if not 0 <= token_id <= queries.MAX_ID:
        raise UserNotFound(f"No API token {token_id}.")
    with store.write() as conn:
        query = (
            sa.select(a.id, u.username, a.revoked_at)
            .join(t.users, u.id == a.user_id)
            .where(a.id == token_id)
        )
        if username is not None:
            query = query.where(u.username == clean_username(username))
        row = conn.execute(query).first()
        if row is None:
            raise UserNotFound(f"No API token {token_id}.")
        if row.revoked_at is None:
            conn.execute(t.api_tokens.update().where(a.id == token_id).values(revoked_at=_now()))
    _tokens.forget()
    return next(tok for tok in list_tokens(store) if tok.id == token_id)


def _touch_token(store: Store, token_id: int, when: datetime) -> None:
    """Record a token's use: now if the store's write lock is free, else in the background.

    Bookkeeping only, so a request never waits for it: waiting for the lock behind a busy
    label committer made the first request of a new token take seconds.
    """

    def touch(wait: bool) -> None:
        with store.write(wait=wait) as conn:
            conn.execute(
                t.api_tokens.update().where(t.api_tokens.c.id == token_id).values(last_used_at=when)
            )

    try:
        touch(wait=False)
    except StoreBusy:
        # A thread of its own that ends with the write (a pool's idle worker would stay, and
        # a threaded process may no longer fork: assay.processes.can_fork).
        threading.Thread(
            target=_quietly, args=(touch, True), name="assay-bookkeeping", daemon=True
        ).start()


def _quietly(fn: Any, *args: Any) -> None:
    with contextlib.suppress(AssayError):  # bookkeeping only: never fail over it
        fn(*args)


class _TokenCache:
    """Tokens found valid in the last ``TOKEN_CACHE_S``, by (store URL, token hash).

    A generation number makes :meth:`forget` win over a lookup that was already under way: a
    lookup started before a revocation never stores its (now stale) answer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, User]] = {}
        self.generation = 0

    def get(self, key: tuple[str, str]) -> User | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: tuple[str, str], user: User, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= _TOKEN_CACHE_MAX:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + TOKEN_CACHE_S, user)

    def forget(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


_tokens = _TokenCache()


def cached_user_for_token(store: Store, token: str) -> User | None:
    """The user of a token this process found valid in the last ``TOKEN_CACHE_S``, without
    touching the database; None means "not known": ask :func:`user_for_token`."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return _tokens.get((store.url, token_hash(token)))


def user_for_token(store: Store, token: str) -> User | None:
    """The enabled user an unrevoked token belongs to, else None (records the token's use)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    key = (store.url, token_hash(token))
    generation = _tokens.generation
    a = t.api_tokens.c
    with store.read() as conn:
        row = conn.execute(
            sa.select(t.users, a.id.label("token_id"), a.last_used_at, a.revoked_at)
            .join(t.api_tokens, a.user_id == t.users.c.id)
            .where(a.token_hash == token_hash(token))
        ).first()
    if row is None or row.revoked_at is not None or row.disabled:
        return None
    now = _now()
    if row.last_used_at is None or now - row.last_used_at > timedelta(seconds=TOKEN_TOUCH_S):
        _touch_token(store, int(row.token_id), now)
    user = _user(row)
    _tokens.put(key, user, generation)
    return user
