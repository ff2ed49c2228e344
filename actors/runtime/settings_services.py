"""Attaches the Settings page services to the handle, one attribute each, where it is built.

Owns: nothing after it returns — each service lives on the handle.
Receives: the freshly built ``EngineHandle`` (from the root, and from the web test kit).
Sends: nothing.
Fails how: it only constructs; the services fail as their modules say.
"""

from __future__ import annotations

from typing import Any

from actors.settings.backup_download import BackupDownload
from actors.settings.config_files import ConfigFiles
from actors.settings.ladder_previewer import LadderPreviewer
from actors.settings.secret_admin import SecretAdmin


def attach_settings_services(handle: Any) -> None:
    def core() -> Any:
        return getattr(handle, "core", None)  # set by the runtime once the core runs

    handle.config_files = ConfigFiles(handle.configuration)
    handle.ladder_preview = LadderPreviewer(handle.configuration, handle.markets, core,
                                            handle.clock_ms)
    handle.secret_admin = SecretAdmin(handle.secrets, handle.masker, handle.configuration, core)
    handle.backups = BackupDownload(handle.config_store, handle.clock_ms)
