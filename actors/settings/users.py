"""Dashboard users, server-side sessions and the login lockout (SPEC 12.2).

Owns: the ``users``, ``sessions`` and ``login_failures`` tables.
Receives: logins, logouts, session look-ups and user management from the handle (async, through
the group commit); the same management calls synchronously from the CLI (``*_now``).
Sends: ``engine.security`` log events — logins, failed logins, lockouts, user changes.
Fails how: ``UserError`` subclasses for refused management input (the API answers 4xx, the CLI
exits 1); ``LoginRefused`` for a wrong name/password or a locked source; storage errors propagate.

Passwords are argon2id hashes (argon2-cffi), computed in a worker thread so a login never stalls
the webhook. A session token is random and only its SHA-256 is stored; each session carries its
own CSRF token. Five failed logins for one user name or one IP within 15 minutes lock further
attempts from it for 15 minutes; attempts refused while locked are not verified or counted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, Literal
from pathlib import Path

import msgspec
import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from actors.store.writer import Store, wall_clock_ms

Role = Literal["admin", "operator"]
ROLES: tuple[str, ...] = ("admin", "operator")
LOCK_FAILURES = 5
LOCK_WINDOW_MS = 15 * 60_000
LOCK_MS = 15 * 60_000
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
ADMIN_ENV = "ENGINE_ADMIN_PASSWORD"
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")

log = logging.getLogger("engine.security")


class UserError(Exception):
    """Refused user management input; ``field`` names the offending input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class UserExists(UserError):
    pass


class UnknownUser(UserError):
    pass


class LastAdmin(UserError):
    """The change would leave no admin."""


class LoginRefused(Exception):
    """Wrong user name or password, or (``retry_after_ms`` set) a locked user name or IP."""

    def __init__(self, message: str, retry_after_ms: int | None = None):
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class Session(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    role: Role
    csrf_token: str
    expires_at: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_username(name: str) -> None:
    if not isinstance(name, str) or not _USERNAME.fullmatch(name):
        raise UserError("username", "1-64 characters: letters, digits, _ . @ -")


def check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError("password", f"must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError("role", f"expected admin or operator, got {role!r}")


def check_new_user(name: str, password: str, role: str) -> None:
    check_username(name)
    check_password(password)
    check_role(role)


def locked_until(failure_times: list[int]) -> int | None:
    """End of the lock caused by 5 failures within 15 minutes (times ascending), if any."""
    until = None
    for i in range(len(failure_times) - LOCK_FAILURES + 1):
        fifth = failure_times[i + LOCK_FAILURES - 1]
        if fifth - failure_times[i] <= LOCK_WINDOW_MS:
            until = fifth + LOCK_MS
    return until


# --- write functions (shared by the async API and the synchronous CLI) ------------------------

def _admins(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()[0]


def _user_id(conn: sqlite3.Connection, name: str) -> tuple[int, str]:
    row = conn.execute("SELECT id, role FROM users WHERE username = ?", (name,)).fetchone()
    if row is None:
        raise UnknownUser("username", f"no user {name!r}")
    return row[0], row[1]


def _add_fn(name: str, role: str, pw_hash: str, now: int) -> Callable[[sqlite3.Connection], int]:
    def fn(conn: sqlite3.Connection) -> int:
        if conn.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchone():
            raise UserExists("username", f"user {name!r} already exists")
        return conn.execute(
            "INSERT INTO users (username, role, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)", (name, role, pw_hash, now, now)).lastrowid
    return fn


def _update_fn(name: str, role: str | None, pw_hash: str | None,
               now: int) -> Callable[[sqlite3.Connection], None]:
    def fn(conn: sqlite3.Connection) -> None:
        user_id, current = _user_id(conn, name)
        if role is not None and role != current:
            if current == "admin" and _admins(conn) <= 1:
                raise LastAdmin("role", f"{name!r} is the only admin")
            conn.execute("UPDATE users SET role = ?, updated_at = ? WHERE id = ?",
                         (role, now, user_id))
        if pw_hash is not None:
            conn.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                         (pw_hash, now, user_id))
            # a changed password ends every session opened with the old one
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
    return fn


def _delete_fn(name: str) -> Callable[[sqlite3.Connection], None]:
    def fn(conn: sqlite3.Connection) -> None:
        user_id, role = _user_id(conn, name)
        if role == "admin" and _admins(conn) <= 1:
            raise LastAdmin("username", f"{name!r} is the only admin")
        conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
    return fn


class Users:
    def __init__(self, store: Store, clock_ms: Callable[[], int], *,
                 session_minutes: Callable[[], int], hasher: PasswordHasher | None = None,
                 scrub: Callable[[str], str] = str):
        self.store = store
        # applied to a typed user name before it is stored: people paste secrets in wrong fields
        self.scrub = scrub
        self.clock_ms = clock_ms
        self.session_minutes = session_minutes
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        # verified against when the user does not exist, so both paths cost one verification
        self._dummy_hash: str | None = None
        self._limiter = trio.CapacityLimiter(1)  # one hash at a time: bounded memory and CPU

    async def _hash(self, password: str) -> str:
        return await trio.to_thread.run_sync(self.hasher.hash, password, limiter=self._limiter)

    def _verify(self, pw_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(pw_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # --- management -----------------------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        return self.store.query("SELECT username, role, created_at, updated_at, last_login_at"
                                " FROM users ORDER BY username")

    def count(self) -> int:
        return self.store.query("SELECT count(*) AS n FROM users")[0]["n"]

    def _check_new(self, name: str, password: str, role: str) -> None:
        check_new_user(name, password, role)
        if self.scrub(name) != name:  # a user name is shown everywhere: never a secret value
            raise UserError("username", "must not contain a secret value")

    async def add(self, name: str, password: str, role: str, *, by: str | None = None) -> None:
        self._check_new(name, password, role)
        await self.store.write(_add_fn(name, role, await self._hash(password), self.clock_ms()))
        _logged("user added", "user_added", name, role=role, by=by)

    def add_now(self, name: str, password: str, role: str, *, by: str | None = None) -> None:
        self._check_new(name, password, role)
        self.store.write_now(_add_fn(name, role, self.hasher.hash(password), self.clock_ms()))
        _logged("user added", "user_added", name, role=role, by=by)

    async def update(self, name: str, *, password: str | None = None, role: str | None = None,
                     by: str | None = None) -> None:
        if password is not None:
            check_password(password)
        if role is not None:
            check_role(role)
        pw_hash = None if password is None else await self._hash(password)
        await self.store.write(_update_fn(name, role, pw_hash, self.clock_ms()))
        _logged("user changed", "user_changed", name, role=role,
                password_changed=password is not None, by=by)

    def update_now(self, name: str, *, password: str | None = None, role: str | None = None,
                   by: str | None = None) -> None:
        if password is not None:
            check_password(password)
        if role is not None:
            check_role(role)
        pw_hash = None if password is None else self.hasher.hash(password)
        self.store.write_now(_update_fn(name, role, pw_hash, self.clock_ms()))
        _logged("user changed", "user_changed", name, role=role,
                password_changed=password is not None, by=by)

    async def delete(self, name: str, *, by: str | None = None) -> None:
        await self.store.write(_delete_fn(name))
        _logged("user deleted", "user_deleted", name, by=by)

    def delete_now(self, name: str, *, by: str | None = None) -> None:
        self.store.write_now(_delete_fn(name))
        _logged("user deleted", "user_deleted", name, by=by)

    async def password_matches(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s current one (a user changing their own password
        confirms it first); an unknown user never matches."""
        rows = self.store.query("SELECT password_hash FROM users WHERE username = ?", (name,))
        if not rows:
            return False
        return await trio.to_thread.run_sync(self._verify, rows[0]["password_hash"], password,
                                             limiter=self._limiter)

    # --- logins and sessions ----------------------------------------------------------------
    def _failure_times(self, column: str, value: str | None, now: int) -> list[int]:
        if value is None:
            return []
        rows = self.store.query(f"SELECT ts FROM login_failures WHERE {column} = ? AND ts >= ?"
                                " ORDER BY ts", (value, now - LOCK_WINDOW_MS - LOCK_MS))
        return [r["ts"] for r in rows]

    def lock_end(self, username: str, source_ip: str | None, now: int) -> int | None:
        """When the lock on this user name or IP ends, if one is in force at ``now``."""
        ends = [end for end in (locked_until(self._failure_times("username", username, now)),
                                locked_until(self._failure_times("source_ip", source_ip, now)))
                if end is not None and end > now]
        return max(ends) if ends else None

    async def login(self, username: str, password: str, *, source_ip: str | None,
                    user_agent: str | None = None) -> tuple[str, Session]:
        """A new session (token for the cookie, session facts); raises ``LoginRefused``."""
        now = self.clock_ms()
        typed = self.scrub(username)  # the name as failures record it
        end = self.lock_end(typed, source_ip, now)
        if end is not None:
            log.warning("login refused: locked after repeated failures", extra={
                "event": "login_locked", "data": {"username": typed, "source_ip": source_ip,
                                                  "retry_after_s": (end - now + 999) // 1000}})
            raise LoginRefused("too many failed logins; try again later", end - now)
        rows = self.store.query("SELECT id, role, password_hash FROM users WHERE username = ?",
                                (username,))
        if not rows and self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
        pw_hash = rows[0]["password_hash"] if rows else self._dummy_hash
        ok = await trio.to_thread.run_sync(self._verify, pw_hash, password,
                                           limiter=self._limiter)
        if not (ok and rows):
            await self._record_failure(typed, source_ip, now)
            raise LoginRefused("wrong user name or password")
        user = rows[0]
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + self.session_minutes() * 60_000
        rehash = await self._hash(password) if self.hasher.check_needs_rehash(pw_hash) else None

        def fn(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            conn.execute(
                "INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at,"
                " expires_at, source_ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (token_hash(token), user["id"], csrf, now, now, expires, source_ip,
                 (user_agent or "")[:256]))
            conn.execute("UPDATE users SET last_login_at = ? WHERE id = ?", (now, user["id"]))
            conn.execute("DELETE FROM login_failures WHERE username = ?", (username,))
            if rehash is not None:
                conn.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                             (rehash, user["id"]))

        await self.store.write(fn)
        log.info("login", extra={"event": "login", "data": {
            "username": username, "role": user["role"], "source_ip": source_ip}})
        return token, Session(username=username, role=user["role"], csrf_token=csrf,
                              expires_at=expires)

    async def _record_failure(self, username: str, source_ip: str | None, now: int) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM login_failures WHERE ts < ?",
                         (now - LOCK_WINDOW_MS - LOCK_MS,))
            conn.execute("INSERT INTO login_failures (ts, username, source_ip) VALUES (?, ?, ?)",
                         (now, username, source_ip))

        await self.store.write(fn)
        data = {"username": username, "source_ip": source_ip}
        log.warning("failed login", extra={"event": "login_failed", "data": data})
        end = self.lock_end(username, source_ip, now)
        if end is not None:
            log.warning("login locked for 15 minutes after 5 failures", extra={
                "event": "login_lockout", "data": {**data, "until_ms": end}})

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie token, None if unknown or expired."""
        if not token:
            return None
        rows = self.store.query(
            "SELECT u.username, u.role, s.csrf_token, s.expires_at FROM sessions s"
            " JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.expires_at > ?",
            (token_hash(token), self.clock_ms()))
        return Session(**rows[0]) if rows else None

    async def logout(self, token: str) -> None:
        hashed = token_hash(token)
        await self.store.write(lambda conn: conn.execute("DELETE FROM sessions WHERE id = ?",
                                                         (hashed,)))


def _logged(message: str, event: str, name: str, **data: Any) -> None:
    log.info(message, extra={"event": event, "data": {"username": name, **data}})


INITIAL_PASSWORD_FILE = "initial_admin_password"


def ensure_admin_from_env(store: Store, env: Mapping[str, str] | None = None, *,
                          clock_ms: Callable[[], int] = wall_clock_ms,
                          hasher: PasswordHasher | None = None,
                          data_dir: Path | None = None) -> bool:
    """First start: create user ``admin`` from ``ENGINE_ADMIN_PASSWORD`` when no user exists.

    Without that variable and with ``data_dir`` given, a random password is generated and
    written to ``data_dir/initial_admin_password`` (mode 0600) so that a fresh ``make run`` can
    be logged into; the log names the file, never the password. Returns True if it created
    the user."""
    env = os.environ if env is None else env
    password = env.get(ADMIN_ENV)
    if store.query("SELECT count(*) AS n FROM users")[0]["n"]:
        return False
    if not password and data_dir is not None:
        password = secrets.token_urlsafe(18)
        path = data_dir / INITIAL_PASSWORD_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        log.warning(f"first start: user admin created; its password is in {path} "
                    "(change it with `engine user passwd admin`, then delete the file)",
                    extra={"event": "initial_admin_created"})
        store.write_now(_add_fn("admin", "admin", (hasher or PasswordHasher()).hash(password),
                                clock_ms()))
        return True
    if not password:
        return False
    try:
        check_password(password)
    except UserError as exc:
        log.error(f"{ADMIN_ENV} ignored: the password {exc.message}",
                  extra={"event": "admin_password_refused"})
        return False
    hasher = hasher or PasswordHasher()
    store.write_now(_add_fn("admin", "admin", hasher.hash(password), clock_ms()))
    log.info(f"user admin created from {ADMIN_ENV}", extra={"event": "user_added", "data": {
        "username": "admin", "role": "admin", "by": ADMIN_ENV}})
    return True
