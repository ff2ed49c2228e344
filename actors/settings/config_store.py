"""Owns: the engine.toml file and the running configuration (SPEC 10.1).

Receives: load / validate / set_values / write calls from the root, the web layer and the CLI.
Sends: nothing; callers broadcast ``ConfigChanged`` on Apply.
Fails how: ``ConfigUnreadable`` when the file cannot be read or is not TOML (CLI exit 2);
``ConfigInvalid`` with every problem (CLI exit 1); ``OSError`` from writes propagates, and an
atomic write leaves the old file intact.

The pure rules are in ``engine/config``; this module adds what needs the file system or the
time-zone database: relative paths resolved against the file's directory, readable files, a
writable data directory and IANA zone names.
"""

import json
import os
import zoneinfo
from pathlib import Path
from typing import Any, Mapping

from actors.settings import config_edit
from actors.settings.atomic_file import write_atomic
from engine.config import (
    Config,
    ConfigInvalid,
    NotToml,
    Problem,
    diff_texts,
    load_toml,
    parse_config,
)
from engine.config.decode import join
from engine.config.parse import problems_of

ENV_CONFIG = "ENGINE_CONFIG"
DEFAULT_PATH = "engine.toml"


class ConfigUnreadable(Exception):
    """The configuration file cannot be read or is not TOML."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def resolve_config_path(
    arg: str | os.PathLike | None, env: Mapping[str, str] | None = None
) -> Path:
    """``--config PATH``, else ``$ENGINE_CONFIG``, else ``./engine.toml`` (SPEC 10.1)."""
    env = os.environ if env is None else env
    chosen = arg if arg else env.get(ENV_CONFIG) or DEFAULT_PATH
    return Path(chosen).expanduser()


class ConfigStore:
    def __init__(self, path: Path):
        self.path = Path(path).absolute()
        self.base_dir = self.path.parent
        self._running: Config | None = None
        self.running_text: str | None = None

    # --- reading ----------------------------------------------------------------------------
    @property
    def running(self) -> Config:
        """The configuration the engine runs with: the last ``load()``."""
        if self._running is None:
            raise RuntimeError("configuration not loaded yet: call ConfigStore.load() first")
        return self._running

    def text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigUnreadable(self.path, f"cannot read: {exc}") from None

    def parse(self, text: str) -> Config:
        """Validate ``text`` completely (pure rules + file system); raises ConfigInvalid."""
        try:
            cfg = parse_config(text)
        except NotToml as exc:
            raise ConfigUnreadable(self.path, exc.problems[0].message) from None
        problems = self.environment_problems(cfg)
        if problems:
            raise ConfigInvalid(problems)
        return cfg

    def load(self) -> Config:
        """Read, validate and adopt the file as the running configuration (start-up and Apply)."""
        text = self.text()
        cfg = self.parse(text)
        self._running, self.running_text = cfg, text
        return cfg

    def validate_text(self, text: str) -> list[Problem]:
        """Every problem of ``text`` (empty = valid), a TOML syntax error included."""
        try:
            cfg, problems = problems_of(load_toml(text))
        except NotToml as exc:
            return exc.problems
        seen = {p.path for p in problems}
        return problems + [p for p in self.environment_problems(cfg) if p.path not in seen]

    # --- paths ------------------------------------------------------------------------------
    def resolve(self, path: str) -> Path:
        """A path from the file, relative to the file's directory (SPEC 10.1)."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def data_dir_of(self, cfg: Config) -> Path:
        return self.resolve(cfg.app.data_dir)

    @property
    def data_dir(self) -> Path:
        return self.data_dir_of(self.running)

    def ensure_data_dir(self, cfg: Config | None = None) -> Path:
        """Create the data directory (mode 0700) if missing; returns it."""
        path = self.data_dir_of(cfg or self.running)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def environment_problems(self, cfg: Config) -> list[Problem]:
        """Checks that need the file system or the zone database."""
        problems: list[Problem] = []
        try:
            zoneinfo.ZoneInfo(cfg.app.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            message = f"unknown IANA time zone {cfg.app.timezone!r}"
            problems.append(Problem(path="app.timezone", message=message))
        data_dir_problem = _writable_dir_problem(self.data_dir_of(cfg))
        if data_dir_problem:
            problems.append(Problem(path="app.data_dir", message=data_dir_problem))
        app = cfg.app
        files = [("app.tls_cert_file", app.tls_cert_file), ("app.tls_key_file", app.tls_key_file)]
        csv = cfg.exchange.paper.csv_files
        files += [(join("exchange.paper.csv_files", s), f) for s, f in csv.items()]
        for key, name in files:
            if name and not _readable_file(self.resolve(name)):
                problems.append(Problem(path=key, message=f"not a readable file: {self.resolve(name)}"))
        if cfg.exchange.paper.markets_file:
            message = _markets_file_problem(self.resolve(cfg.exchange.paper.markets_file))
            if message:
                problems.append(Problem(path="exchange.paper.markets_file", message=message))
        return problems

    # --- writing ----------------------------------------------------------------------------
    def write_text_atomic(self, text: str) -> None:
        """Replace the file atomically (temp file in the same directory, fsync, rename)."""
        try:
            mode = self.path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, text.encode("utf-8"), mode)

    def set_values(self, changes: dict[str, Any]) -> str:
        """Change dotted keys in the file (comments kept), validate the whole result and write it
        atomically. Returns the new text; the running configuration changes only on Apply."""
        try:
            new_text = config_edit.set_values(self.text(), changes)
        except NotToml as exc:
            raise ConfigUnreadable(self.path, exc.problems[0].message) from None
        problems = self.validate_text(new_text)
        if problems:
            raise ConfigInvalid(problems)
        self.write_text_atomic(new_text)
        return new_text

    def diff(self, old_text: str, new_text: str) -> list[dict[str, Any]]:
        """``[{key, old, new}]`` between two texts (effective values, decimals as text)."""
        return diff_texts(old_text, new_text)


def _readable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)


def _writable_dir_problem(path: Path) -> str | None:
    if path.exists():
        if not path.is_dir():
            return f"{path} exists and is not a directory"
        return None if os.access(path, os.W_OK | os.X_OK) else f"{path} is not writable"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return None
    return f"{path} does not exist and cannot be created ({parent} is not a writable directory)"


def _markets_file_problem(path: Path) -> str | None:
    if not _readable_file(path):
        return f"not a readable file: {path}"
    try:
        info = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"not JSON: {exc}"
    if not isinstance(info, dict) or not isinstance(info.get("symbols"), list):
        return 'not Binance exchange-info JSON (no "symbols" list)'
    return None
