"""The systemd units (``ops/engine.service``, ``ops/engine@.service``) pass
``systemd-analyze verify``, and ``ops/install.sh`` lays out one configuration, environment file
and data directory per account (run under ``--root`` so no user or real path is touched)."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
SHIPPED_BIN = "/usr/local/bin/engine"


def engine_wrapper(directory: Path) -> Path:
    """An ``engine`` executable running this checkout (what pip or the single file would put
    in /usr/local/bin)."""
    path = directory / "engine"
    path.write_text(f"#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m ops.cli \"$@\"\n")
    path.chmod(0o755)
    return path


def verify(unit_dir: Path, *units: str, binary: Path) -> None:
    """``systemd-analyze verify`` of ``units`` (file names in ``unit_dir``); ExecStart is
    pointed at ``binary`` because verify insists the program exists."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd (.ci/run does)"
    work = unit_dir.parent / f"{unit_dir.name}-verify"
    work.mkdir()
    for unit in unit_dir.glob("engine*.service"):
        text = unit.read_text()
        assert SHIPPED_BIN in text, f"{unit.name}: ExecStart no longer runs {SHIPPED_BIN}"
        (work / unit.name).write_text(text.replace(SHIPPED_BIN, str(binary)))
    result = subprocess.run([analyze, "verify", "--man=no", *(str(work / u) for u in units)],
                            capture_output=True, text=True, timeout=120)
    # unknown keys and bad values are only warnings (exit 0): any output is a failure
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), (
        result.stdout + result.stderr)


def test_shipped_units_verify(tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    for name in ("engine.service", "engine@.service"):
        shutil.copy(OPS / name, units / name)
    verify(units, "engine.service", "engine@binance-main.service",
           binary=engine_wrapper(tmp_path))


def test_template_keeps_each_account_apart():
    text = (OPS / "engine@.service").read_text()
    for line in ("ExecStart=/usr/local/bin/engine run --config /etc/engine/%i.toml",
                 "WorkingDirectory=/var/lib/engine/%i", "StateDirectory=engine/%i",
                 "EnvironmentFile=-/etc/engine/%i.env", "ReadWritePaths=/var/lib/engine/%i",
                 "Type=notify", "WatchdogSec=30", "NotifyAccess=all", "StandardOutput=null",
                 "StandardError=journal"):
        assert any(x.startswith(line) for x in text.splitlines()), line


def _install(root: Path, *args: str, binary: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{binary.parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(OPS / "install.sh"), "--root", str(root),
                           "--bin", str(binary), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_install_script_lays_out_two_accounts(tmp_path):
    root = tmp_path / "root"
    binary = engine_wrapper(tmp_path)
    result = _install(root, "binance-main", "bybit:9100", binary=binary)
    assert result.returncode == 0, result.stderr
    installed = root / "usr/local/bin/engine"
    assert os.access(installed, os.X_OK)
    ports = {}
    for name in ("binance-main", "bybit"):
        cfg = parse_config((root / f"etc/engine/{name}.toml").read_text())
        assert cfg.app.data_dir == f"/var/lib/engine/{name}"
        ports[name] = cfg.app.http_port
        data = root / f"var/lib/engine/{name}"
        assert data.is_dir() and stat.S_IMODE(data.stat().st_mode) == 0o700
        env_file = root / f"etc/engine/{name}.env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert f"engine@{name}" in result.stdout
    assert ports == {"binance-main": 8081, "bybit": 9100}
    # the installed units are the shipped ones, and they verify as installed
    verify(root / "etc/systemd/system", "engine@bybit.service", binary=installed)

    # a second run keeps the edited configuration
    toml = root / "etc/engine/bybit.toml"
    toml.write_text(toml.read_text().replace("log_level = \"info\"", "log_level = \"debug\""))
    again = _install(root, "bybit", binary=binary)
    assert again.returncode == 0 and "kept" in again.stdout
    assert parse_config(toml.read_text()).app.log_level == "debug"


@pytest.mark.parametrize("spec, message", [("Bad Name", "account name"),
                                           ("ok:70000", "not a TCP port")])
def test_install_script_refuses_bad_accounts(tmp_path, spec, message):
    result = _install(tmp_path / "root", spec, binary=engine_wrapper(tmp_path))
    assert result.returncode == 2 and message in result.stderr
