"""actors.settings.secrets: real files in tmp_path, real Fernet encryption, env precedence (SPEC 12.2)."""

import shutil
import socket
import stat
import tomllib
from pathlib import Path

import pytest

from actors.settings.secrets import SecretsError, SecretStore, canonical_name, read_machine_id
from engine.config import SecurityConfig
from engine.masking import Masker

KEY = "abcdefghijklmnopA4B19K"
ENCRYPTED = SecurityConfig()
PLAIN = SecurityConfig(store_secrets_encrypted=False, secrets_file="secrets.toml")


def make(data_dir: Path, security=ENCRYPTED, env=None, machine_id="machine-a") -> SecretStore:
    return SecretStore(data_dir, security, env=env or {}, machine_id=machine_id, use_keyring=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_encrypted_round_trip_and_file_modes(tmp_path):
    store = make(tmp_path / "data")
    assert store.get("exchange.api_key") is None and store.list_masked() == {}
    store.set("exchange.api_key", KEY)
    store.set("webhook_secret", "w" * 20)  # short names are accepted
    raw = (tmp_path / "data" / "secrets.enc").read_bytes()
    assert raw.startswith(b"gAAAAA") and KEY.encode() not in raw
    assert mode(tmp_path / "data" / "secrets.enc") == 0o600
    assert mode(tmp_path / "data" / "master.key") == 0o600
    again = make(tmp_path / "data")
    assert again.get("api_key") == KEY
    assert again.list_masked() == {"exchange.api_key": "****A4B19K", "security.webhook_secret": "****wwwwww"}
    assert sorted(again.all_values()) == sorted([KEY, "w" * 20])
    assert again.source("exchange.api_key") == "file" and again.source("exchange.passphrase") is None


def test_plain_round_trip(tmp_path):
    store = make(tmp_path, PLAIN)
    store.set("exchange.passphrase", "pass phrase with \"quotes\"")
    path = tmp_path / "secrets.toml"
    assert tomllib.loads(path.read_text()) == {"exchange": {"passphrase": 'pass phrase with "quotes"'}}
    assert mode(path) == 0o600
    assert not (tmp_path / "master.key").exists()
    assert make(tmp_path, PLAIN).get("exchange.passphrase") == 'pass phrase with "quotes"'


def test_switching_encryption_reads_either_form(tmp_path):
    make(tmp_path, SecurityConfig(store_secrets_encrypted=False)).set("exchange.api_key", KEY)
    encrypted = make(tmp_path)
    assert encrypted.get("exchange.api_key") == KEY  # plain file still readable
    encrypted.set("exchange.api_secret", "s" * 30)  # rewritten encrypted
    assert (tmp_path / "secrets.enc").read_bytes().startswith(b"gAAAAA")
    assert make(tmp_path, SecurityConfig(store_secrets_encrypted=False)).get("exchange.api_key") == KEY


def test_copied_file_cannot_be_decrypted_with_another_machine_id(tmp_path):
    make(tmp_path / "a", machine_id="3d1219c7c4c5404aaa1f6d2a48adfda4").set("exchange.api_key", KEY)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    other = make(tmp_path / "b", machine_id="0f6b3a8e2c1d4e5f9a7b6c5d4e3f2a1b")
    with pytest.raises(SecretsError, match="another machine"):
        other.get("exchange.api_key")
    same = make(tmp_path / "b", machine_id="3d1219c7c4c5404aaa1f6d2a48adfda4")
    assert same.get("exchange.api_key") == KEY


def test_missing_master_key(tmp_path):
    make(tmp_path).set("exchange.api_key", KEY)
    (tmp_path / "master.key").unlink()
    with pytest.raises(SecretsError, match="master key is missing"):
        make(tmp_path).get("exchange.api_key")


def test_environment_wins(tmp_path):
    make(tmp_path).set("exchange.api_key", "from-the-file-123456")
    store = make(tmp_path, env={"ENGINE_EXCHANGE_API_KEY": KEY, "ENGINE_WEBHOOK_SECRET": ""})
    assert store.get("exchange.api_key") == KEY and store.source("exchange.api_key") == "env"
    assert store.get("security.webhook_secret") is None  # empty variable = not set
    assert store.list_masked() == {"exchange.api_key": "****A4B19K"}
    assert store.delete("exchange.api_key") is True  # removes the stored value only
    assert store.get("exchange.api_key") == KEY
    assert make(tmp_path).get("exchange.api_key") is None


def test_process_environment_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGINE_EXCHANGE_PASSPHRASE", "from-env")
    store = SecretStore(tmp_path, ENCRYPTED, machine_id="m", use_keyring=False)
    assert store.get("exchange.passphrase") == "from-env"


def test_delete_and_errors(tmp_path):
    store = make(tmp_path)
    assert store.delete("exchange.api_key") is False
    store.set("exchange.api_key", KEY)
    assert store.delete("exchange.api_key") is True and store.get("exchange.api_key") is None
    with pytest.raises(SecretsError, match="unknown secret"):
        store.set("password", "x")
    with pytest.raises(SecretsError, match="empty value"):
        store.set("exchange.api_key", "")
    assert canonical_name("passphrase") == "exchange.passphrase"


def test_damaged_files(tmp_path):
    store = make(tmp_path, PLAIN)
    (tmp_path / "secrets.toml").write_text("[exchange\n")
    with pytest.raises(SecretsError, match="damaged"):
        store.get("exchange.api_key")
    (tmp_path / "secrets.toml").write_text('exchange = "flat"\n[security]\nwebhook_secret = 5\n')
    assert store.list_masked() == {}
    (tmp_path / "secrets.toml").unlink()
    (tmp_path / "secrets.toml").mkdir()
    with pytest.raises(SecretsError, match="cannot read"):
        store.get("exchange.api_key")


def test_values_feed_a_masker(tmp_path):
    store = make(tmp_path, env={"ENGINE_WEBHOOK_SECRET": "hook-secret-0123456789"})
    store.set("exchange.api_key", KEY)
    masker = Masker(store.all_values())
    assert masker.scrub(f"key {KEY} hook hook-secret-0123456789") == "key ****A4B19K hook ****456789"


def test_machine_id_sources(tmp_path):
    machine_id = read_machine_id()
    assert machine_id and "\n" not in machine_id
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "dbus").write_text("dbus-id\n")
    assert read_machine_id((tmp_path / "missing", tmp_path / "empty", tmp_path / "dbus")) == "dbus-id"
    assert read_machine_id((tmp_path / "missing",)) == socket.gethostname()


def test_without_a_usable_keyring_the_master_key_is_a_file(tmp_path):
    # this machine has no keyring backend (the package is optional): the file fallback is used
    store = SecretStore(tmp_path, ENCRYPTED, env={}, machine_id="m")
    store.set("exchange.api_key", KEY)
    assert (tmp_path / "master.key").exists()
    assert SecretStore(tmp_path, ENCRYPTED, env={}, machine_id="m").get("exchange.api_key") == KEY
