"""Owns: the secrets file ``data_dir/<security.secrets_file>`` and its master key (SPEC 12.2).

Receives: get / set / delete / list calls (CLI, Settings panel, start-up).
Sends: nothing; values go back to the caller only (the UI and logs see them masked).
Fails how: ``SecretsError`` for an unknown name, an empty value, or a file that cannot be read
or decrypted (for example one copied from another machine); ``OSError`` from writes propagates.

Sources, highest precedence first: the ``ENGINE_*`` environment variables, then the file. The
encrypted file is a Fernet token; its key is HKDF-SHA256(master key, info = machine id), so the
file is useless without both. The master key is kept in the OS keyring when the optional
``keyring`` package has a working backend, otherwise in ``data_dir/master.key`` (mode 0600).
With ``store_secrets_encrypted = false`` the file is plain TOML (mode 0600). Reading accepts
either form, so toggling the setting takes effect at the next write.
"""

import base64
import os
import socket
import tomllib
from pathlib import Path
from typing import Mapping

import tomlkit
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from actors.settings.atomic_file import write_atomic
from engine.config import SECRET_ENV, SECRET_KEYS, SecurityConfig
from engine.masking import mask

ENV_VARS = SECRET_ENV
KEYRING_SERVICE = "execution-engine"
MASTER_KEY_FILE = "master.key"
_FERNET_PREFIX = b"gAAAAA"  # every Fernet token starts with version 0x80 + a timestamp
_HKDF_SALT = b"execution-engine secrets v1"
_MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


class SecretsError(Exception):
    """A secret operation that cannot succeed; the message says what to do."""


def read_machine_id(candidates: tuple[Path, ...] = _MACHINE_ID_FILES) -> str:
    """``/etc/machine-id``, else the D-Bus copy, else the host name."""
    for candidate in candidates:
        try:
            value = candidate.read_text().strip()
        except OSError:
            continue
        if value:
            return value
    return socket.gethostname()


def canonical_name(name: str) -> str:
    """``exchange.api_key`` or a short form (``api_key``, ``webhook_secret``)."""
    for full in SECRET_KEYS:
        if name in (full, full.split(".")[1]):
            return full
    raise SecretsError(f"unknown secret {name!r}; names: {', '.join(SECRET_KEYS)}")


class SecretStore:
    def __init__(
        self,
        data_dir: Path,
        security_cfg: SecurityConfig,
        *,
        env: Mapping[str, str] | None = None,
        machine_id: str | None = None,
        use_keyring: bool = True,
    ):
        self.data_dir = Path(data_dir)
        self.encrypted = security_cfg.store_secrets_encrypted
        self.path = self.data_dir / security_cfg.secrets_file
        self._env = os.environ if env is None else env
        self._machine_id = machine_id if machine_id is not None else read_machine_id()
        self._use_keyring = use_keyring

    # --- public API -------------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        name = canonical_name(name)
        from_env = self._env.get(ENV_VARS[name])
        if from_env:
            return from_env
        return self._read().get(name)

    def source(self, name: str) -> str | None:
        """Where the effective value comes from: ``"env"``, ``"file"`` or None (unset)."""
        name = canonical_name(name)
        if self._env.get(ENV_VARS[name]):
            return "env"
        return "file" if name in self._read() else None

    def set(self, name: str, value: str) -> None:
        name = canonical_name(name)
        if not value:
            raise SecretsError(f"{name}: an empty value cannot be stored (use delete)")
        values = self._read()
        values[name] = value
        self._write(values)

    def delete(self, name: str) -> bool:
        """Remove the stored value; True if there was one. Environment variables are untouched."""
        name = canonical_name(name)
        values = self._read()
        if name not in values:
            return False
        del values[name]
        self._write(values)
        return True

    def list_masked(self) -> dict[str, str]:
        """Every secret that has a value, masked (SPEC 12.2)."""
        return {n: mask(v) for n in SECRET_KEYS if (v := self.get(n))}

    def all_values(self) -> list[str]:
        """Every effective secret value, for the log/UI Masker."""
        return [v for n in SECRET_KEYS if (v := self.get(n))]

    # --- the file ---------------------------------------------------------------------------
    def _read(self) -> dict[str, str]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretsError(f"cannot read the secrets file {self.path}: {exc}") from None
        if raw.startswith(_FERNET_PREFIX):
            raw = self._decrypt(raw)
        try:
            doc = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SecretsError(f"the secrets file {self.path} is damaged: {exc}") from None
        values: dict[str, str] = {}
        for name in SECRET_KEYS:
            section, key = name.split(".")
            table = doc.get(section)
            value = table.get(key) if isinstance(table, dict) else None
            if isinstance(value, str) and value:
                values[name] = value
        return values

    def _write(self, values: dict[str, str]) -> None:
        doc: dict[str, dict[str, str]] = {}
        for name, value in values.items():
            section, key = name.split(".")
            doc.setdefault(section, {})[key] = value
        data = tomlkit.dumps(doc).encode("utf-8")
        if self.encrypted:
            data = self._fernet(create=True).encrypt(data)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, data, 0o600)

    def _decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet(create=False).decrypt(token)
        except InvalidToken:
            raise SecretsError(
                f"the secrets file {self.path} cannot be decrypted: it was written on another "
                "machine or with another master key; set the secrets again (engine secrets set)"
            ) from None

    # --- keys -------------------------------------------------------------------------------
    def _fernet(self, *, create: bool) -> Fernet:
        master = self._master_key(create=create)
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=_HKDF_SALT,
            info=self._machine_id.encode("utf-8"),
        )
        return Fernet(base64.urlsafe_b64encode(hkdf.derive(master)))

    def _master_key(self, *, create: bool) -> bytes:
        key_file = self.data_dir / MASTER_KEY_FILE
        if key_file.exists():
            return base64.urlsafe_b64decode(key_file.read_bytes().strip())
        from_keyring = self._keyring(create=create)
        if from_keyring is not None:
            return from_keyring
        if not create:
            raise SecretsError(
                f"the secrets file {self.path} is encrypted but its master key is missing "
                f"({key_file} / OS keyring); set the secrets again (engine secrets set)"
            )
        master = os.urandom(32)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(key_file, base64.urlsafe_b64encode(master) + b"\n", 0o600)
        return master

    def _keyring(self, *, create: bool) -> bytes | None:
        """The master key from the OS keyring (created there if asked), None if unavailable."""
        if not self._use_keyring:
            return None
        try:
            import keyring  # optional dependency (SPEC 12.4)
        except ImportError:
            return None
        account = str(self.data_dir.resolve())
        try:
            stored = keyring.get_password(KEYRING_SERVICE, account)
            if stored is None and create:
                stored = base64.urlsafe_b64encode(os.urandom(32)).decode()
                keyring.set_password(KEYRING_SERVICE, account, stored)
        except Exception:  # noqa: BLE001 - backends raise their own types (D-Bus, locked vault, none)
            return None
        return base64.urlsafe_b64decode(stored) if stored else None
