"""ops.cli_config: check-config, init and secrets through a real argparse parser (SPEC 12.4)."""

import argparse
import io
import stat
import sys

import pytest

from actors.settings.secrets import SecretStore
from engine.config import DEFAULT_TOML, SECRET_ENV, Config
from ops.cli_config import register

HOOK = "hook-secret-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in [*SECRET_ENV.values(), "ENGINE_CONFIG"]:
        monkeypatch.delenv(var, raising=False)


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="engine")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def set_secret(monkeypatch, config, name, value) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(value + "\n"))
    return run("secrets", "set", name, "--config", str(config))


def test_init_writes_the_default_file_and_data_dir(tmp_path, capsys):
    config = tmp_path / "etc" / "engine.toml"
    assert run("init", "--config", str(config)) == 0
    assert config.read_text() == DEFAULT_TOML
    assert (tmp_path / "etc" / "engine_data").is_dir()
    assert run("init", "--config", str(config)) == 1
    assert "already exists" in capsys.readouterr().err
    config.write_text("# mine\n")
    assert run("init", "--config", str(config), "--force") == 0
    assert config.read_text() == DEFAULT_TOML


def test_init_uses_engine_config_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGINE_CONFIG", str(tmp_path / "from-env.toml"))
    assert run("init") == 0
    assert (tmp_path / "from-env.toml").read_text() == DEFAULT_TOML


def test_init_failure(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert run("init", "--config", str(tmp_path / "file" / "engine.toml")) == 1
    assert "error:" in capsys.readouterr().err


def test_check_config_exit_codes(tmp_path, monkeypatch, capsys):
    config = tmp_path / "engine.toml"
    assert run("check-config", "--config", str(config)) == 2  # missing file
    config.write_text("[app\n")
    assert run("check-config", "--config", str(config)) == 2
    assert "not valid TOML" in capsys.readouterr().err
    config.write_text(DEFAULT_TOML)
    assert run("check-config", "--config", str(config)) == 1  # the webhook secret is required
    out = capsys.readouterr().out
    assert "error: security.webhook_secret: missing secret" in out and "invalid (1 problem(s))" in out
    assert set_secret(monkeypatch, config, "security.webhook_secret", HOOK) == 0
    capsys.readouterr()
    assert run("check-config", "--config", str(config)) == 0
    assert capsys.readouterr().out.strip().endswith(": valid")


def test_check_config_reports_every_problem_and_warnings(tmp_path, capsys):
    config = tmp_path / "engine.toml"
    config.write_text('[app]\ntimezone = "Nowhere/City"\n[exchange]\nname = "okx"\napi_key = "oops"\n'
                      "[execution_pool]\nmax_open_groups = 0\n"
                      "[security]\nwebhook_signature_validation = false\n")
    assert run("check-config", "--config", str(config)) == 1
    out = capsys.readouterr().out
    for expected in [
        "error: exchange.api_key: secret values belong in the secret store",
        "error: execution_pool.max_open_groups: must be >= 1, got 0",
        "error: app.timezone: unknown IANA time zone 'Nowhere/City'",
        "error: exchange.api_key: missing secret: required for exchange 'okx'",
        "error: exchange.api_secret: missing secret",
        "error: exchange.passphrase: missing secret",
        "warning: security.webhook_signature_validation: webhook secret validation is off",
    ]:
        assert expected in out
    assert "security.webhook_secret" not in out


def test_check_config_with_an_undecryptable_secrets_file(tmp_path, capsys):
    config = tmp_path / "engine.toml"
    config.write_text(DEFAULT_TOML)
    (tmp_path / "engine_data").mkdir()
    (tmp_path / "engine_data" / "secrets.enc").write_bytes(b"gAAAAAgarbage")
    (tmp_path / "engine_data" / "master.key").write_bytes(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    assert run("check-config", "--config", str(config)) == 1
    assert "error: security.secrets_file: the secrets file" in capsys.readouterr().out


def test_secrets_set_list_delete(tmp_path, monkeypatch, capsys):
    config = tmp_path / "engine.toml"
    assert run("init", "--config", str(config)) == 0
    assert set_secret(monkeypatch, config, "api_key", "abcdefghijklmnopA4B19K") == 0
    secrets_file = tmp_path / "engine_data" / "secrets.enc"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert b"A4B19K" not in secrets_file.read_bytes()
    capsys.readouterr()
    assert run("secrets", "list", "--config", str(config)) == 0
    out = capsys.readouterr().out
    assert "exchange.api_key = ****A4B19K  (file)" in out and "security.webhook_secret: not set" in out
    assert "abcdefghijklmnop" not in out
    monkeypatch.setenv("ENGINE_EXCHANGE_API_KEY", "environment-key-XYZ123")
    assert set_secret(monkeypatch, config, "exchange.api_key", "abcdefghijklmnopA4B19K") == 0
    assert "ENGINE_EXCHANGE_API_KEY is set and takes precedence" in capsys.readouterr().out
    assert run("secrets", "list", "--config", str(config)) == 0
    assert "exchange.api_key = ****XYZ123  (environment)" in capsys.readouterr().out
    assert run("secrets", "delete", "exchange.api_key", "--config", str(config)) == 0
    assert run("secrets", "delete", "exchange.api_key", "--config", str(config)) == 1
    assert "not stored" in capsys.readouterr().err


def test_secrets_errors(tmp_path, monkeypatch, capsys):
    config = tmp_path / "engine.toml"
    assert set_secret(monkeypatch, config, "password", "x") == 1  # unknown name
    assert "unknown secret" in capsys.readouterr().err
    assert set_secret(monkeypatch, config, "api_key", "") == 1
    assert "empty value" in capsys.readouterr().err
    config.write_text('[security]\nsecrets_file = "/abs/path"\n')
    assert run("secrets", "list", "--config", str(config)) == 1
    assert "security.secrets_file: must be a path relative" in capsys.readouterr().err
    config.write_text("[[")
    assert run("secrets", "list", "--config", str(config)) == 1


def test_secrets_without_a_config_file_use_the_defaults(tmp_path, monkeypatch):
    config = tmp_path / "engine.toml"
    assert set_secret(monkeypatch, config, "webhook_secret", HOOK) == 0
    assert (tmp_path / "engine_data" / "secrets.enc").exists()


def test_secrets_without_a_config_file_and_without_config_are_refused(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(HOOK + "\n"))
    assert run("secrets", "set", "webhook_secret") == 1
    err = capsys.readouterr().err
    assert f"no configuration file at {tmp_path / 'engine.toml'}" in err and "--config" in err
    assert not (tmp_path / "engine_data").exists()  # nothing written where no engine reads
    assert run("secrets", "list") == 1


def test_a_webhook_secret_shorter_than_16_characters_is_refused(tmp_path, monkeypatch, capsys):
    config = tmp_path / "engine.toml"
    config.write_text(DEFAULT_TOML)
    assert set_secret(monkeypatch, config, "webhook_secret", "short") == 1
    assert "must be at least 16 characters, got 5" in capsys.readouterr().err
    store = SecretStore(tmp_path / "engine_data", Config().security)
    assert store.get("security.webhook_secret") is None


def test_a_piped_secret_is_its_first_line(tmp_path, monkeypatch):
    config = tmp_path / "engine.toml"
    config.write_text(DEFAULT_TOML)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{HOOK}\r\n{HOOK}\n"))  # value + confirm
    assert run("secrets", "set", "webhook_secret", "--config", str(config)) == 0
    store = SecretStore(tmp_path / "engine_data", Config().security)
    assert store.get("security.webhook_secret") == HOOK


def test_secret_from_a_prompt(tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts = []
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or HOOK)
    assert run("secrets", "set", "webhook_secret", "--config", str(tmp_path / "engine.toml")) == 0
    assert prompts == ["security.webhook_secret: "]
