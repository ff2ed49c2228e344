"""``engine user add`` reads the password the way it is given: one line from a pipe (a second,
confirming line is not part of it), twice from a terminal (a real pty)."""

import os
import pty
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from engine.config import DEFAULT_TOML

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
WAIT_S = 60  # a ceiling, not a timing: the CLI starts a Python interpreter


def engine_toml(tmp_path: Path) -> Path:
    config = tmp_path / "engine.toml"
    config.write_text(DEFAULT_TOML)
    return config


def command(config: Path, name: str) -> list[str]:
    return [sys.executable, "-m", "ops.cli", "user", "add", name, "--role", "admin",
            "--config", str(config)]


def stored_hash(config: Path, name: str) -> str:
    conn = sqlite3.connect(config.parent / "engine_data" / "engine.db")
    try:
        return conn.execute("SELECT password_hash FROM users WHERE username = ?",
                            (name,)).fetchone()[0]
    finally:
        conn.close()


def verifies(pw_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(pw_hash, password)
    except VerifyMismatchError:
        return False


def test_a_piped_password_is_its_first_line(tmp_path):
    config = engine_toml(tmp_path)
    done = subprocess.run(command(config, "alice"), input=f"{PASSWORD}\n{PASSWORD}\n".encode(),
                          cwd=ROOT, capture_output=True, timeout=WAIT_S)
    assert done.returncode == 0, done.stderr
    pw_hash = stored_hash(config, "alice")
    assert verifies(pw_hash, PASSWORD)
    assert not verifies(pw_hash, f"{PASSWORD}\n{PASSWORD}")  # what was stored before


def read_until(fd: int, text: bytes, seen: bytearray) -> None:
    deadline = time.monotonic() + WAIT_S
    while text not in seen:
        assert time.monotonic() < deadline, f"waited for {text!r}, got {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal (EIO)
                return
            if not chunk:
                return
            seen += chunk


def drain(fd: int, seen: bytearray) -> None:
    """Everything the child writes until it closes the terminal."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            return
        if not chunk:
            return
        seen += chunk


def on_a_terminal(config: Path, name: str, answers: list[str]) -> tuple[int, bytes]:
    """Run the command on a pseudo-terminal, typing each answer after its prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with the pty as its terminal
        os.chdir(ROOT)
        argv = command(config, name)
        os.execv(argv[0], argv)
    seen = bytearray()
    try:
        for prompt, answer in zip((b"password for", b"again:"), answers):
            read_until(fd, prompt, seen)
            os.write(fd, answer.encode() + b"\n")
        drain(fd, seen)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(seen)


def test_on_a_terminal_the_password_is_asked_twice(tmp_path):
    config = engine_toml(tmp_path)
    code, out = on_a_terminal(config, "bob", [PASSWORD, PASSWORD])
    assert code == 0, out
    assert b"user bob added" in out
    assert verifies(stored_hash(config, "bob"), PASSWORD)


def test_on_a_terminal_two_different_passwords_are_refused(tmp_path):
    config = engine_toml(tmp_path)
    code, out = on_a_terminal(config, "carol", [PASSWORD, PASSWORD + "!"])
    assert code == 1 and b"the two passwords differ" in out
