"""The configuration API behind the handle: view, save, preview, apply, versions (SPEC 10.1).

Owns: the ``config_versions`` rows and the boot configuration text (what this process started
with, for the "restart required" flags). The file and the running configuration belong to the
ConfigStore; this module only drives it.
Receives: calls from the handle (web admin routes).
Sends: a ``ConfigChanged`` through the ``publish`` callback after a successful Apply, and
``engine.config`` log events for every save, apply and refusal.
Fails how: ``ConfigRefused(problems, conflict=False)`` for an invalid or unreadable text
(HTTP 422) and ``ConfigRefused(..., conflict=True)`` for an exchange-identity change while
anything is open (HTTP 409); nothing is written or adopted then. Storage errors propagate.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import msgspec

from actors.settings import config_edit
from actors.settings.config_store import ConfigStore, ConfigUnreadable
from actors.settings.secrets import SecretStore
from actors.store.writer import Store
from engine.config import (
    ConfigInvalid,
    Problem,
    effect_of,
    identity_problems,
    refused_while_open,
    restart_required,
)
from engine.masking import Masker
from engine.messages import ConfigChanged

log = logging.getLogger("engine.config")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class ConfigRefused(Exception):
    def __init__(self, problems: list[Problem], *, conflict: bool = False):
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems
        self.conflict = conflict


def problem_dicts(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message} for p in problems]


class ConfigService:
    def __init__(self, store: Store, config_store: ConfigStore, secrets: SecretStore,
                 masker: Masker, clock_ms: Callable[[], int],
                 publish: Callable[[ConfigChanged], None]):
        self.store = store
        self.config_store = config_store
        self.secrets = secrets
        self.masker = masker
        self.clock_ms = clock_ms
        self.publish = publish
        self.boot_text = config_store.running_text or ""
        self._view: tuple[tuple, dict[str, Any]] | None = None  # (its inputs, the answer)

    # --- reading ----------------------------------------------------------------------------
    def file_text(self) -> str:
        try:
            return self.config_store.text()
        except ConfigUnreadable as exc:
            raise ConfigRefused([Problem(path="", message=exc.reason)]) from None

    def diff(self, old: str, new: str) -> list[dict[str, Any]]:
        try:
            return self.config_store.diff(old, new)
        except ConfigInvalid:  # NotToml: nothing to compare, the problems say why
            return []

    def view(self) -> dict[str, Any]:
        """Running and file configuration, whether they differ, the file's problems and the
        keys that need a process restart; secrets only masked."""
        running_text = self.config_store.running_text or ""
        try:
            file_text: str | None = self.config_store.text()
        except ConfigUnreadable as exc:
            file_text, unreadable = None, exc.reason
        else:
            unreadable = None
        secrets = self.secrets.list_masked()
        # the live push asks every second: parse and compare only when a text changed
        key = (running_text, file_text, unreadable, repr(secrets))
        if self._view is not None and self._view[0] == key:
            return self._view[1]
        view = self._build_view(running_text, file_text, unreadable, secrets)
        self._view = (key, view)
        return view

    def _build_view(self, running_text: str, file_text: str | None, unreadable: str | None,
                    secrets: Any) -> dict[str, Any]:
        if file_text is None:
            problems = [Problem(path="", message=unreadable or "")]
        else:
            problems = self.config_store.validate_text(file_text)
        file_cfg = None
        if file_text is not None and not problems:
            file_cfg = msgspec.to_builtins(self.config_store.parse(file_text))
        diff = self.diff(running_text, file_text) if file_text is not None else []
        boot_diff = self.diff(self.boot_text, file_text or running_text)
        return self.masker.scrub_obj({
            "path": str(self.config_store.path),
            "running": msgspec.to_builtins(self.config_store.running),
            "running_text": running_text,
            "file": file_cfg,
            "file_text": file_text,
            "differs": bool(diff or problems),
            "diff": diff,
            "problems": problem_dicts(problems),
            "restart_required": restart_required(d["key"] for d in boot_diff),
            "secrets": secrets,
        })

    def draft_text(self, *, text: str | None, changes: dict[str, Any] | None) -> str:
        """The full text of a draft: given as is, or the file with ``changes`` applied."""
        if text is not None:
            return text
        try:
            return config_edit.set_values(self.file_text(), changes or {})
        except ConfigInvalid as exc:  # NotToml included
            raise ConfigRefused(exc.problems) from None

    def preview(self, *, text: str | None, changes: dict[str, Any] | None) -> dict[str, Any]:
        try:
            draft = self.draft_text(text=text, changes=changes)
        except ConfigRefused as exc:
            return {"valid": False, "problems": problem_dicts(exc.problems), "diff": [],
                    "diff_running": [], "restart_required": [], "refused_while_open": []}
        problems = self.config_store.validate_text(draft)
        running = self.diff(self.config_store.running_text or "", draft)
        keys = [d["key"] for d in running]
        return self.masker.scrub_obj({
            "valid": not problems,
            "problems": problem_dicts(problems),
            "diff": self.diff(self.file_text(), draft),
            "diff_running": running,
            "restart_required": restart_required(keys),
            "refused_while_open": refused_while_open(keys),
            "text": draft,
        })

    def versions(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT id, ts, user, action, diff FROM config_versions"
                                " ORDER BY id DESC LIMIT ?", (max(1, min(limit, 1000)),))
        return [{**r, "diff": _decode(r["diff"])} for r in rows]

    def version(self, version_id: int) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM config_versions WHERE id = ?", (version_id,))
        return {**rows[0], "diff": _decode(rows[0]["diff"])} if rows else None

    # --- writing ----------------------------------------------------------------------------
    async def _record(self, action: str, user: str | None, text: str,
                      diff: list[dict[str, Any]], journal: object | None = None) -> int:
        now = self.clock_ms()
        text = self.masker.scrub(text)  # the file never holds secrets; a typed-in one is refused
        diff_json = _encode(self.masker.scrub_obj(diff)).decode()

        def fn(conn: sqlite3.Connection) -> int:
            version_id = conn.execute(
                "INSERT INTO config_versions (ts, user, action, text, diff) VALUES (?, ?, ?, ?, ?)",
                (now, user, action, text, diff_json)).lastrowid
            if journal is not None:
                self.store.journal(conn, actor="config", kind="ConfigApplied", key=None,
                                   body={"version_id": version_id, **journal})  # type: ignore
            return version_id

        return await self.store.write(fn)

    async def save(self, *, text: str | None, changes: dict[str, Any] | None,
                   user: str | None, action: str = "save") -> dict[str, Any]:
        """Validate the draft and write the file atomically (comments kept); not applied.
        ``action`` names the version: save, import, reset or restore."""
        old = self.file_text()
        new = self.draft_text(text=text, changes=changes)
        problems = self.config_store.validate_text(new)
        if problems:
            log.warning("configuration not saved: invalid", extra={
                "event": "config_invalid", "data": {"user": user,
                                                    "problems": problem_dicts(problems)}})
            raise ConfigRefused(problems)
        self.config_store.write_text_atomic(new)
        diff = self.diff(old, new)
        version_id = await self._record(action, user, new, diff)
        log.info("configuration saved", extra={"event": "config_saved", "data": {
            "user": user, "action": action, "version_id": version_id,
            "keys": [d["key"] for d in diff]}})
        return {"version_id": version_id, "diff": self.masker.scrub_obj(diff)}

    async def apply(self, *, user: str | None, anything_open: bool) -> dict[str, Any]:
        """Adopt the file as the running configuration and broadcast ``ConfigChanged``."""
        text = self.file_text()
        try:
            self.config_store.parse(text)
        except ConfigInvalid as exc:
            raise ConfigRefused(exc.problems) from None
        except ConfigUnreadable as exc:
            raise ConfigRefused([Problem(path="", message=exc.reason)]) from None
        previous = self.config_store.running_text or ""
        diff = self.diff(previous, text)
        changed = [d["key"] for d in diff]
        refusals = identity_problems(changed, anything_open=anything_open)
        if refusals:
            log.warning("apply refused: exchange change while groups are open or queued",
                        extra={"event": "config_apply_refused",
                               "data": {"user": user, "keys": refused_while_open(changed)}})
            raise ConfigRefused(refusals, conflict=True)
        # Nothing awaits between the read above and this re-read, so only a hand edit landing in
        # the same instant could differ from the text checked; the watcher then reports it.
        cfg = self.config_store.load()
        for value in self.secrets.all_values():
            self.masker.add(value)
        restart = restart_required(changed)
        version_id = await self._record("apply", user, text, diff, journal={
            "user": user, "changed": changed, "restart_required": restart})
        log.info("configuration applied", extra={"event": "config_applied", "data": {
            "user": user, "version_id": version_id, "changed": changed,
            "restart_required": restart}})
        self.publish(ConfigChanged(version_id=version_id, config=cfg, changed=tuple(changed),
                                   restart_required=tuple(restart), user=user,
                                   applied_ms=self.clock_ms()))
        return {"version_id": version_id, "changed": changed, "restart_required": restart,
                "effects": {key: effect_of(key) for key in changed}}
