"""actors.settings.config_store / config_edit: real files in tmp_path, comment-preserving atomic edits."""

import json
import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from actors.settings.config_edit import canonical_section_names, set_values
from actors.settings.config_store import ConfigStore, ConfigUnreadable, resolve_config_path
from engine.config import DEFAULT_TOML, Config, ConfigInvalid, NotToml, parse_config
from engine.types import Level

MARKETS = Path(__file__).resolve().parents[1] / "data" / "binance_spot_exchangeinfo.json"


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    (tmp_path / "engine.toml").write_text(DEFAULT_TOML)
    return ConfigStore(tmp_path / "engine.toml")


def test_resolve_config_path_precedence(monkeypatch):
    assert resolve_config_path("a.toml", {"ENGINE_CONFIG": "b.toml"}) == Path("a.toml")
    assert resolve_config_path(None, {"ENGINE_CONFIG": "b.toml"}) == Path("b.toml")
    assert resolve_config_path(None, {}) == Path("engine.toml")
    assert resolve_config_path("~/x.toml", {}) == Path.home() / "x.toml"
    monkeypatch.setenv("ENGINE_CONFIG", "/etc/engine/engine.toml")  # the process environment
    assert resolve_config_path(None) == Path("/etc/engine/engine.toml")


def test_load_and_relative_data_dir(store, tmp_path):
    with pytest.raises(RuntimeError):
        store.running
    cfg = store.load()
    assert cfg == Config() and store.running is cfg and store.running_text == DEFAULT_TOML
    assert store.data_dir == tmp_path / "engine_data"
    assert not store.data_dir.exists()
    assert store.ensure_data_dir() == tmp_path / "engine_data" and store.data_dir.is_dir()


def test_unreadable_and_not_toml(tmp_path):
    missing = ConfigStore(tmp_path / "nope.toml")
    with pytest.raises(ConfigUnreadable):
        missing.load()
    (tmp_path / "bad.toml").write_text("[app\n")
    with pytest.raises(ConfigUnreadable) as info:
        ConfigStore(tmp_path / "bad.toml").load()
    assert "not valid TOML" in info.value.reason
    (tmp_path / "latin.toml").write_bytes(b"# \xff\n")
    with pytest.raises(ConfigUnreadable):
        ConfigStore(tmp_path / "latin.toml").load()


def test_invalid_file_lists_problems(store):
    store.path.write_text('[app]\ntimezone = "Mars/Olympus"\n[execution_pool]\nmax_open_groups = 0\n')
    with pytest.raises(ConfigInvalid) as info:
        store.load()
    assert [p.path for p in info.value.problems] == ["execution_pool.max_open_groups"]
    assert [str(p) for p in store.validate_text(store.text())] == [
        "execution_pool.max_open_groups: must be >= 1, got 0",
        "app.timezone: unknown IANA time zone 'Mars/Olympus'",
    ]
    store.path.write_text('[app]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigInvalid) as info:
        store.load()
    assert [p.path for p in info.value.problems] == ["app.timezone"]
    assert store.validate_text("[[") [0].message.startswith("not valid TOML")


def test_environment_checks(store, tmp_path):
    (tmp_path / "cert.pem").write_text("x")
    (tmp_path / "plain").write_text("x")
    (tmp_path / "notjson.json").write_text("{")
    (tmp_path / "empty.json").write_text("{}")
    text = ('[app]\ntimezone = "Europe/Berlin"\ndata_dir = "plain"\ntls_cert_file = "cert.pem"\n'
            'tls_key_file = "missing.pem"\n[exchange.paper]\nmarkets_file = "notjson.json"\n'
            '[exchange.paper.csv_files]\n"BTC/USDT" = "missing.csv"\n')
    found = {p.path: p.message for p in store.validate_text(text)}
    assert found == {
        "app.data_dir": f"{tmp_path / 'plain'} exists and is not a directory",
        "app.tls_key_file": f"not a readable file: {tmp_path / 'missing.pem'}",
        'exchange.paper.csv_files."BTC/USDT"': f"not a readable file: {tmp_path / 'missing.csv'}",
        "exchange.paper.markets_file": found["exchange.paper.markets_file"],
    }
    assert found["exchange.paper.markets_file"].startswith("not JSON")
    empty = store.validate_text('[exchange.paper]\nmarkets_file = "empty.json"\n')
    assert [p.message for p in empty] == ['not Binance exchange-info JSON (no "symbols" list)']
    gone = store.validate_text('[exchange.paper]\nmarkets_file = "gone.json"\n')
    assert [p.message for p in gone] == [f"not a readable file: {tmp_path / 'gone.json'}"]
    good = f'[exchange.paper]\nmarkets_file = "{MARKETS}"\n[app]\ndata_dir = "a/b/c"\n'
    assert store.validate_text(good) == []


def test_data_dir_that_cannot_be_created(store, tmp_path):
    (tmp_path / "file").write_text("x")
    found = store.validate_text('[app]\ndata_dir = "file/sub"\n')
    assert [(p.path, p.message) for p in found] == [
        ("app.data_dir", f"{tmp_path / 'file' / 'sub'} does not exist and cannot be created "
                         f"({tmp_path / 'file'} is not a writable directory)")
    ]
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        found = store.validate_text('[app]\ndata_dir = "locked/sub/dir"\n')
        assert [p.path for p in found] == ["app.data_dir"]
        assert "cannot be created" in found[0].message
        assert "is not writable" in store.validate_text('[app]\ndata_dir = "locked"\n')[0].message
    finally:
        locked.chmod(0o700)


def test_set_values_preserves_comments_and_order(store):
    new = store.set_values({
        "execution_pool.max_open_groups": 4,
        'grid_strategy.overrides."binance:BTCUSDT:60".tp_percent': Decimal("1.5"),
        "exchange.paper.start_balances.BTC": Decimal("0.5"),
        "grid_strategy.cancel_dca_beyond_percent": None,
        "risk.max_winners_to_combine": 2,
    })
    assert store.text() == new
    assert "max_open_groups = 4\n" in new
    assert 'name = "paper"                 # paper | binance | bybit | okx | kucoin | mexc | gateio' in new
    assert "# api_key / api_secret / passphrase: from the secret store only" in new
    assert "cancel_dca_beyond_percent" not in new.split("[[grid_strategy.dca_levels]]")[0]
    assert '[grid_strategy.overrides."binance:BTCUSDT:60"]\ntp_percent = 1.5\n' in new
    assert "USDT = 10000.0\nBTC = 0.5\n\n[execution_pool]" in new
    untouched = [line for line in DEFAULT_TOML.splitlines() if "max_open_groups" not in line
                 and "cancel_dca_beyond" not in line and "max_winners" not in line]
    lines = iter(new.splitlines())
    assert all(line in lines for line in untouched)  # every other line kept, in the same order
    cfg = parse_config(new)
    assert cfg.execution_pool.max_open_groups == 4 and cfg.risk_engine.max_winners_to_combine == 2
    assert cfg.grid_strategy.overrides["binance:BTCUSDT:60"].tp_percent == Decimal("1.5")
    assert cfg.exchange.paper.start_balances == {"USDT": Decimal(10000), "BTC": Decimal("0.5")}


def test_set_values_round_trip_of_a_ladder(store):
    legs = (Level(gap_percent=Decimal(0), weight_percent=Decimal(60), tp_percent=Decimal("0.75")),
            Level(gap_percent=Decimal("-1.25"), weight_percent=Decimal(40), tp_percent=Decimal(1)))
    new = store.set_values({"grid_strategy.dca_levels": legs,
                            'grid_strategy.pyramid_specific_levels."4"': legs,
                            "app.quote_currencies": ["USDT", "USDC"]})
    cfg = parse_config(new)
    assert cfg.grid_strategy.dca_levels == legs
    assert cfg.grid_strategy.pyramid_specific_levels == {"4": legs}
    assert cfg.app.quote_currencies == ("USDT", "USDC")
    assert "# Ladder for pyramid index 4 (the fifth entry), for example:" in new
    again = store.set_values({"grid_strategy.dca_levels[1].gap_percent": Decimal("-2")})
    assert parse_config(again).grid_strategy.dca_levels[1].gap_percent == Decimal(-2)


def test_set_values_refuses_invalid_results_and_leaves_the_file(store):
    with pytest.raises(ConfigInvalid) as info:
        store.set_values({"execution_pool.max_open_groups": 0, "app.colour": "red"})
    assert [p.path for p in info.value.problems] == ["app.colour", "execution_pool.max_open_groups"]
    with pytest.raises(ConfigInvalid) as info:
        store.set_values({"exchange.api_key": "abc"})
    assert info.value.problems[0].path == "exchange.api_key"
    bad_paths = {"a..b": 1, "app.mode.x": 1, "app.mode.x.y": 1, "grid_strategy.dca_levels[9].gap_percent": 1,
                 "grid_strategy.dca_levels[9]": None, "app.http_port[0]": 1, "app.x": Decimal("NaN"),
                 "app.y": object()}
    with pytest.raises(ConfigInvalid) as info:
        store.set_values(bad_paths)
    assert [p.path for p in info.value.problems] == list(bad_paths)
    assert store.text() == DEFAULT_TOML


def test_set_values_removing_and_replacing(store):
    text = set_values(DEFAULT_TOML, {"nothing.here": None, "grid_strategy.dca_levels[4]": None,
                                     "grid_strategy.dca_levels[3]": {"gap_percent": Decimal("-1.5"),
                                                                     "weight_percent": Decimal(40),
                                                                     "tp_percent": Decimal("1.5")}})
    assert len(parse_config(text).grid_strategy.dca_levels) == 4
    assert "nothing" not in text


def test_unreadable_file_cannot_be_edited(tmp_path):
    (tmp_path / "e.toml").write_text("[[")
    with pytest.raises(ConfigUnreadable):
        ConfigStore(tmp_path / "e.toml").set_values({"app.log_level": "debug"})


def test_alias_sections_are_written_canonically():
    text = '# mine\n[risk]   # old name\nmax_winners_to_combine = 2\n\n[UI]\ntheme = "light"\n\n[UI.column_visibility]\n'
    out = canonical_section_names(text)
    assert out == ('# mine\n[risk_engine]   # old name\nmax_winners_to_combine = 2\n\n[ui]\ntheme = "light"\n\n'
                   "[ui.column_visibility]\n")
    assert canonical_section_names(DEFAULT_TOML) == DEFAULT_TOML


def test_alias_beside_canonical_is_merged():
    out = canonical_section_names("[risk]\nmax_winners_to_combine = 2\nevaluate_interval_sec = 5\n"
                                  "[risk_engine]\nmax_winners_to_combine = 2\n")
    cfg = parse_config(out)
    assert "[risk]" not in out
    assert (cfg.risk_engine.max_winners_to_combine, cfg.risk_engine.evaluate_interval_sec) == (2, 5)
    inline = canonical_section_names('risk = {max_winners_to_combine = 4}\nUI = {theme = "light"}\n')
    assert parse_config(inline).risk_engine.max_winners_to_combine == 4
    assert "risk =" not in inline and "UI" not in inline
    with pytest.raises(NotToml):
        canonical_section_names("[[")


def test_atomic_write_keeps_mode_and_leaves_no_temp_files(store, tmp_path):
    store.path.chmod(0o640)
    store.write_text_atomic(DEFAULT_TOML.replace("max_open_groups = 10", "max_open_groups = 3"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine.toml"]
    fresh = ConfigStore(tmp_path / "sub" / "new.toml")
    fresh.write_text_atomic("")
    assert fresh.text() == ""


def test_failed_atomic_write_leaves_no_temp_file(tmp_path):
    target = tmp_path / "engine.toml"
    (target / "occupied").mkdir(parents=True)  # a non-empty directory cannot be replaced
    with pytest.raises(OSError):
        ConfigStore(target).write_text_atomic(DEFAULT_TOML)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine.toml"]
    assert sorted(p.name for p in target.iterdir()) == ["occupied"]


def test_diff(store):
    new = DEFAULT_TOML.replace('theme = "dark"', 'theme = "light"')
    assert store.diff(DEFAULT_TOML, new) == [{"key": "ui.theme", "old": "dark", "new": "light"}]
    assert json.dumps(store.diff(DEFAULT_TOML, "[grid_strategy]\ntp_percent = 2\n"))
