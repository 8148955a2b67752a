"""Browser sessions kept in the store (table ``web_sessions``), behind a signed cookie.

The cookie holds a random token signed with the project's secret key (itsdangerous); the store
holds only the token's SHA-256, the user and the session's CSRF token. So a session can be
ended for good (logout, a disabled user, a new password), and a cookie signed with another
install's key, or forged without the key, is refused before the store is asked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, Signer

from assay.store import Store
from assay.store import schema as t
from assay.users import User

COOKIE = "assay_session"
LOGIN_COOKIE = "assay_login"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, and the CSRF token its forms must carry."""

    token_hash: str
    user: User
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Creates, finds and ends sessions; signs and checks the cookie values."""

    def __init__(self, store: Store, secret_key: str, ttl: timedelta) -> None:
        self.store = store
        self.ttl = ttl
        self._signer = Signer(secret_key, salt="assay.session")

    def create(self, user: User) -> tuple[str, Session]:
        """A new session for ``user``: returns the cookie value and the session."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.store.write() as conn:
            conn.execute(t.web_sessions.delete().where(t.web_sessions.c.expires_at < now))
            conn.execute(
                t.web_sessions.insert().values(
                    id=_hash(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        return self._signer.sign(token).decode(), Session(_hash(token), user, csrf)

    def find(self, cookie: str) -> Session | None:
        """The live session of an enabled user that the cookie names, else None."""
        try:
            token = self._signer.unsign(cookie).decode()
        except (BadSignature, UnicodeError):
            return None
        s, u = t.web_sessions.c, t.users.c
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(t.users, s.csrf_token, s.expires_at)
                .join(t.web_sessions, s.user_id == u.id)
                .where(s.id == _hash(token))
            ).first()
        if row is None or row.disabled or row.expires_at <= datetime.now(UTC):
            return None
        user = User(row.id, row.username, row.role, row.created_at, bool(row.disabled))
        return Session(_hash(token), user, row.csrf_token)

    def end(self, session: Session) -> None:
        """End the session (its cookie is worthless from now on)."""
        with self.store.write() as conn:
            conn.execute(t.web_sessions.delete().where(t.web_sessions.c.id == session.token_hash))


class LoginTokens:
    """CSRF tokens for the login form, before there is a session (double-submit, signed).

    ``GET /login`` sets a cookie with a signed random value and puts the value in the form;
    ``POST /login`` must send both, and they must match. A foreign site can neither read the
    cookie nor set one, so it cannot sign a visitor in to an account of its choosing.
    """

    def __init__(self, secret_key: str) -> None:
        self._signer = Signer(secret_key, salt="assay.login")

    def issue(self) -> tuple[str, str]:
        """A new token and the cookie value that vouches for it."""
        token = secrets.token_urlsafe(32)
        return token, self._signer.sign(token).decode()

    def check(self, cookie: str | None, token: str | None) -> bool:
        """Whether ``token`` is the one the cookie was issued with."""
        if not cookie or not token:
            return False
        try:
            expected = self._signer.unsign(cookie).decode()
        except (BadSignature, UnicodeError):
            return False
        return secrets.compare_digest(expected, token)
