"""Whole-file operations of the Settings page (SPEC 10.1, 11.5 F "Local Storage"): the field
catalogue, export, import, reset to default and restoring a saved version.

Owns: nothing — the file and its versions belong to ``ConfigService``/``ConfigStore``; this
module decides what text would replace the file and asks ``ConfigService.save`` to write it.
Receives: calls from the handle (``handle.config_files``; admin routes of web/api_settings.py).
Sends: ``engine.config`` log events through ``ConfigService.save`` (saved / invalid).
Fails how: ``ConfigRefused`` listing every problem by key path (HTTP 422) for a text that is
not UTF-8, not TOML or not valid — including a secret written in clear text — and for an
unknown version (``ActionRefused("not_found")``, HTTP 404). Nothing on disk changes then. Every
replacement is previewed first: without ``confirm`` the answer says what would change.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.settings.config_edit import set_values
from actors.settings.config_service import ConfigRefused, ConfigService
from actors.settings.controls import ActionRefused
from engine.config import (
    DEFAULT_TOML,
    ConfigInvalid,
    Problem,
    flatten,
    load_toml,
    refused_while_open,
    restart_required,
)
from engine.config.catalog import schema

log = logging.getLogger("engine.config")
MAX_IMPORT_BYTES = 1024 * 1024
# kept by a reset: where the data lives is not a preference (a reset must not point the next
# start at an empty database)
KEPT_BY_RESET = ("app.data_dir",)


class ConfigFiles:
    def __init__(self, service: ConfigService):
        self.service = service
        self.config_store = service.config_store

    def schema(self) -> dict[str, Any]:
        """Every key with its label, unit, bounds, help, section and Apply effect."""
        return schema()

    def export(self) -> str:
        """The file as it is on disk (it never holds secrets; known values scrubbed anyway)."""
        return self.service.masker.scrub(self.service.file_text())

    # --- replacing the file -----------------------------------------------------------------
    def decode(self, raw: bytes) -> str:
        """An uploaded file as text; ``ConfigRefused`` when it is too large or not UTF-8."""
        if len(raw) > MAX_IMPORT_BYTES:
            raise ConfigRefused([Problem(path="", message=f"the file is {len(raw)} bytes; "
                                         f"at most {MAX_IMPORT_BYTES} are accepted")])
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigRefused([Problem(path="", message=f"not UTF-8 text: {exc}")]) from None

    def preview(self, text: str) -> dict[str, Any]:
        """What writing ``text`` would change; ``ConfigRefused`` listing every problem."""
        problems = self.config_store.validate_text(text)
        if problems:
            raise ConfigRefused(problems)
        running = self.service.diff(self.config_store.running_text or "", text)
        keys = [d["key"] for d in running]
        return self.service.masker.scrub_obj({
            "valid": True,
            "diff": self.service.diff(self.service.file_text(), text),
            "diff_running": running,
            "restart_required": restart_required(keys),
            "refused_while_open": refused_while_open(keys),
        })

    async def replace(self, text: str, *, action: str, user: str | None,
                      confirm: bool) -> dict[str, Any]:
        """Preview ``text`` and, when ``confirm``, write it (validated again, atomically) and
        record the version under ``action`` (import, reset, restore). Not applied."""
        preview = self.preview(text)
        if not confirm:
            return {"confirmed": False, **preview}
        saved = await self.service.save(text=text, changes=None, user=user, action=action)
        return {"confirmed": True, **preview, **saved}

    def reset_text(self) -> str:
        """The default file with the keys of ``KEPT_BY_RESET`` as they are now."""
        try:
            current = flatten(load_toml(self.service.file_text()))
        except (ConfigRefused, ConfigInvalid):  # unreadable or not TOML: nothing to keep
            current = {}
        kept = {key: current[key] for key in KEPT_BY_RESET if key in current}
        return set_values(DEFAULT_TOML, kept)

    def version_text(self, version_id: int) -> str:
        row = self.service.version(version_id)
        if row is None:
            raise ActionRefused("not_found", f"no configuration version {version_id}")
        return row["text"]
