"""Users without HTTP: the lockout rule, the first admin from the environment, the inbox's
state changes and the ``engine user`` CLI on a real data directory."""

import io
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from actors.pool.inbox import set_state
from actors.store.writer import Store
from actors.settings.users import (
    LOCK_MS,
    LOCK_WINDOW_MS,
    LastAdmin,
    UserExists,
    Users,
    ensure_admin_from_env,
    locked_until,
)
from engine.config import DEFAULT_TOML
from ops.cli import main

MIN = 60_000
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "engine.db")
    yield s
    s.close()


@pytest.mark.parametrize("times, until", [
    ([], None),
    ([0, 1, 2, 3], None),                                   # four failures: no lock
    ([0, MIN, 2 * MIN, 3 * MIN, 4 * MIN], 4 * MIN + LOCK_MS),
    ([0, MIN, 2 * MIN, 3 * MIN, LOCK_WINDOW_MS], LOCK_WINDOW_MS + LOCK_MS),  # exactly 15 min
    ([0, MIN, 2 * MIN, 3 * MIN, LOCK_WINDOW_MS + 1], None),  # the first fell out
    ([0, 16 * MIN, 17 * MIN, 18 * MIN, 19 * MIN, 20 * MIN], 20 * MIN + LOCK_MS),
])
def test_locked_until(times, until):
    assert locked_until(times) == until


def test_first_admin_from_the_environment_only_once(store: Store):
    assert ensure_admin_from_env(store, {}, hasher=FAST) is False
    assert ensure_admin_from_env(store, {"ENGINE_ADMIN_PASSWORD": "short"}, hasher=FAST) is False
    env = {"ENGINE_ADMIN_PASSWORD": "first admin pw"}
    assert ensure_admin_from_env(store, env, hasher=FAST) is True
    [row] = store.query("SELECT username, role, password_hash FROM users")
    assert (row["username"], row["role"]) == ("admin", "admin")
    assert row["password_hash"].startswith("$argon2id$")
    assert ensure_admin_from_env(store, {"ENGINE_ADMIN_PASSWORD": "another pw!"},
                                 hasher=FAST) is False


def test_management_rules(store: Store):
    users = Users(store, lambda: 1, session_minutes=lambda: 60, hasher=FAST)
    users.add_now("ann", "password-1", "admin")
    with pytest.raises(UserExists):
        users.add_now("ann", "password-2", "operator")
    with pytest.raises(LastAdmin):
        users.update_now("ann", role="operator")
    users.add_now("bob", "password-2", "admin")
    users.update_now("ann", role="operator")
    with pytest.raises(LastAdmin):
        users.delete_now("bob")
    users.delete_now("ann")
    assert [u["username"] for u in users.list()] == ["bob"]


def test_inbox_set_state_rejects_unknown_rows_and_states(store: Store):
    with pytest.raises(LookupError):
        store.write_now(lambda conn: set_state(conn, 99, "processed"))
    with pytest.raises(ValueError):
        store.write_now(lambda conn: set_state(conn, 1, "lost"))


def run_cli(monkeypatch, config: Path, stdin: str, *args: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))  # the password typed in
    return main(["user", *args, "--config", str(config)])


def test_cli_add_passwd_delete(tmp_path: Path, monkeypatch, capsys):
    config = tmp_path / "engine.toml"
    config.write_text(DEFAULT_TOML)
    assert run_cli(monkeypatch, config, "s3cret-pass\n", "add", "alice", "--role", "admin") == 0
    assert run_cli(monkeypatch, config, "s3cret-pass\n", "add", "alice", "--role",
                   "operator") == 1
    assert run_cli(monkeypatch, config, "short\n", "add", "bob", "--role", "operator") == 1
    assert run_cli(monkeypatch, config, "bob-password\n", "add", "bob", "--role",
                   "operator") == 0
    assert run_cli(monkeypatch, config, "new-password\n", "passwd", "bob") == 0
    assert run_cli(monkeypatch, config, "new-password\n", "passwd", "nobody") == 1
    assert run_cli(monkeypatch, config, "", "delete", "alice") == 1  # the only admin
    assert run_cli(monkeypatch, config, "", "delete", "bob") == 0
    assert run_cli(monkeypatch, config, "", "delete", "bob") == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "only admin" in err and "8-1024" in err
    s = Store.open(tmp_path / "engine_data" / "engine.db")
    try:
        assert [r["username"] for r in s.query("SELECT username FROM users")] == ["alice"]
    finally:
        s.close()


def test_first_start_without_env_writes_a_one_time_admin_password(tmp_path):
    """A fresh `make run` can be logged into: the password goes to a 0600 file, not the log."""
    from actors.store.writer import Store
    from actors.settings.users import INITIAL_PASSWORD_FILE, ensure_admin_from_env

    store = Store.open(tmp_path / "engine.db")
    assert ensure_admin_from_env(store, env={}, data_dir=tmp_path) is True
    path = tmp_path / INITIAL_PASSWORD_FILE
    password = path.read_text().strip()
    assert len(password) >= 20 and (path.stat().st_mode & 0o777) == 0o600
    row = store.query("SELECT username, role, password_hash FROM users")[0]
    assert (row["username"], row["role"]) == ("admin", "admin")
    assert password not in row["password_hash"]
    # a second start changes nothing
    assert ensure_admin_from_env(store, env={}, data_dir=tmp_path) is False
    assert path.read_text().strip() == password
