"""engine.config: the default file, decoding, aliases, secrets in the file, all problems at once."""

import tomllib
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config import (
    DEFAULT_TOML,
    Config,
    ConfigInvalid,
    NotToml,
    Problem,
    default_config,
    flatten,
    parse_config,
    validate,
)
from engine.config.decode import join, split
from engine.types import Level

ROOT = Path(__file__).resolve().parents[2]


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigInvalid) as info:
        parse_config(text)
    return [(p.path, p.message) for p in info.value.problems]


def test_default_file_parses_to_the_model_defaults():
    assert default_config() == Config()
    assert validate(DEFAULT_TOML) == []


def test_root_engine_toml_is_the_default_text():
    assert (ROOT / "engine.toml").read_text(encoding="utf-8") == DEFAULT_TOML


def test_default_file_lists_every_key_with_its_default():
    in_file = flatten(msgspec.to_builtins(tomllib.loads(DEFAULT_TOML, parse_float=Decimal)))
    in_model = flatten(msgspec.to_builtins(Config()))
    assert sorted(in_file) == sorted(in_model)  # the values: test_default_file_parses_...


def test_default_values_are_exact_decimals():
    cfg = default_config()
    assert cfg.precision.fallback_rules.tick_size == Decimal("0.00000001")
    assert cfg.exchange.paper.start_balances == {"USDT": Decimal("10000")}
    assert cfg.exchange.order_poll_sec == Decimal(2) and isinstance(cfg.exchange.order_poll_sec, Decimal)
    assert cfg.grid_strategy.dca_levels[1] == Level(
        gap_percent=Decimal("-0.5"), weight_percent=Decimal(20), tp_percent=Decimal("0.5")
    )
    assert cfg.waiting_rule.selection_priority[-1] == "fifo"


def test_empty_file_means_all_defaults():
    assert parse_config("") == Config()


def test_integers_accepted_for_decimals_and_floats_are_exact():
    cfg = parse_config("[grid_strategy]\ntp_percent = 2\n[exchange.paper]\nmaker_fee_percent = 0.1\n")
    assert cfg.grid_strategy.tp_percent == Decimal(2)
    assert cfg.exchange.paper.maker_fee_percent.as_tuple() == Decimal("0.1").as_tuple()


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[execution_pool]\nmax_open_groups = "3"', ("execution_pool.max_open_groups", "expected int, got str")),
        ("[execution_pool]\nmax_open_groups = 3.0", ("execution_pool.max_open_groups", "expected int, got float")),
        ("[app]\nauto_restart = 1", ("app.auto_restart", "expected bool, got int")),
        ("[app]\nhttp_host = 127", ("app.http_host", "expected str, got int")),
        ('[grid_strategy]\ntp_percent = "1.0"', ("grid_strategy.tp_percent", "expected number, got str")),
        ("[grid_strategy]\ntp_percent = true", ("grid_strategy.tp_percent", "expected number, got bool")),
        ("[grid_strategy]\ntp_percent = nan", ("grid_strategy.tp_percent", "must be a finite number, got NaN")),
        ("[grid_strategy]\ntp_percent = inf", ("grid_strategy.tp_percent", "must be a finite number, got Infinity")),
        ("[app]\nquote_currencies = \"USDT\"", ("app.quote_currencies", "expected array, got str")),
        ("[app]\nquote_currencies = [1]", ("app.quote_currencies[0]", "expected str, got int")),
        ("app = 5", ("app", "expected table, got int")),
        ("[app]\nmode = 2020-01-01", ("app.mode", "expected str, got datetime")),
        ("[app]\nmode = {a = 1}", ("app.mode", "expected str, got table")),
        ("[exchange.paper]\ncsv_files = []", ("exchange.paper.csv_files", "expected table, got array")),
        ("[exchange.paper.start_balances]\nBTC = \"1\"", ("exchange.paper.start_balances.BTC", "expected number, got str")),
        ("[app]\ncolour = 1", ("app.colour", "unknown key")),
        ("[apps]\nmode = 1", ("apps", "unknown key; did you mean app?")),
        ("[execution_pool]\nmax_open_group = 3",
         ("execution_pool.max_open_group", "unknown key; did you mean max_open_groups?")),
        ("[grid_strategy]\ntp_percnt = 1",
         ("grid_strategy.tp_percnt", "unknown key; did you mean tp_percent?")),
        ('[app]\nlog_level = "loud"', ("app.log_level", "must be one of debug, info, warning, error; got 'loud'")),
        ('[grid_strategy]\ntp_mode = "both"', ("grid_strategy.tp_mode", "must be one of leg, aggregate, hybrid; got 'both'")),
        ('[app]\nmode = "daemon"', ("app.mode", "must be one of webapp_self_contained; got 'daemon'")),
        ("[[grid_strategy.dca_levels]]\ngap_percent = 0\nweight_percent = 100",
         ("grid_strategy.dca_levels[0].tp_percent", "missing required key")),
        ('[precision.overrides."binance:BTCUSDT"]\ntick_size = 0.1\nstep_size = 0.1\nmin_qty = 0.1',
         ('precision.overrides."binance:BTCUSDT".min_notional', "missing required key")),
    ],
)
def test_structural_problems_name_the_key(text, expected):
    assert expected in problems(text)


def test_secret_values_in_the_file_are_refused_but_redacted_is_accepted():
    cfg = parse_config('[exchange]\napi_key = "REDACTED"\napi_secret = "REDACTED"\n'
                       '[security]\nwebhook_secret = "REDACTED"\n')
    assert cfg == Config()
    found = problems('[exchange]\napi_key = "abc123"\npassphrase = ""\n[security]\nwebhook_secret = 7\n')
    assert [p for p, _ in found] == ["exchange.api_key", "exchange.passphrase", "security.webhook_secret"]
    assert all("secret values belong in the secret store" in m for _, m in found)


def test_aliases_are_read_as_canonical_sections():
    cfg = parse_config('[risk]\nmax_winners_to_combine = 2\n[UI]\ntheme = "light"\n')
    assert cfg.risk_engine.max_winners_to_combine == 2
    assert cfg.ui.theme == "light"


def test_alias_and_canonical_may_repeat_equal_values_and_merge_keys():
    cfg = parse_config("[risk]\nmax_winners_to_combine = 2\nevaluate_interval_sec = 5\n"
                       "[risk_engine]\nmax_winners_to_combine = 2\n")
    assert (cfg.risk_engine.max_winners_to_combine, cfg.risk_engine.evaluate_interval_sec) == (2, 5)


def test_alias_conflict_is_an_error():
    found = problems('[risk]\nmax_winners_to_combine = 2\n[risk_engine]\nmax_winners_to_combine = 3\n'
                     '[UI]\ntheme = "light"\n[ui]\ntheme = "dark"\n')
    assert [p for p, _ in found] == ["risk.max_winners_to_combine", "UI.theme"]
    assert "conflicts with risk_engine.max_winners_to_combine" in found[0][1]


def test_alias_that_is_not_a_table():
    assert ("risk", "expected table") in problems("risk = 3")


def test_legacy_spellings():
    cfg = parse_config('[app]\nmode = "webapp _self_contained"\n[grid_strategy]\ntp_mode = "per_leg"\n'
                       '[grid_strategy.overrides."binance:BTCUSDT:*"]\ntp_mode = "per_leg"\n')
    assert cfg.app.mode == "webapp_self_contained"
    assert cfg.grid_strategy.tp_mode == "leg"
    assert cfg.grid_strategy.overrides["binance:BTCUSDT:*"].tp_mode == "leg"


def test_override_keys_are_normalised_for_lookup():
    cfg = parse_config('[grid_strategy.overrides."Binance:btcusdt:60"]\ntp_percent = 1.5\n'
                       '[precision.overrides."BINANCE:ethusdt"]\ntick_size = 0.01\nstep_size = 0.001\n'
                       "min_qty = 0.001\nmin_notional = 5\n")
    assert list(cfg.grid_strategy.overrides) == ["binance:BTCUSDT:60"]
    override = cfg.grid_strategy.overrides["binance:BTCUSDT:60"]
    assert override.tp_percent == Decimal("1.5") and override.dca_levels is None
    assert cfg.precision.overrides["binance:ETHUSDT"].min_notional == Decimal(5)


def test_every_problem_is_reported_at_once():
    text = """
[app]
http_port = "x"
foo = 1
http_host = "localhost"
[execution_pool]
max_open_groups = 0
queue_limit = "none"
[grid_strategy]
tp_percent = 0
[[grid_strategy.dca_levels]]
gap_percent = 0.5
weight_percent = 60
tp_percent = 0
[[grid_strategy.dca_levels]]
gap_percent = -1
weight_percent = "x"
tp_percent = 1
[risk_engine]
loss_threshold_percent = 5
[security]
webhook_ip_allowlist = ["10.0.0.0/8", "nope"]
"""
    found = problems(text)
    assert found == [
        ("app.http_port", "expected int, got str"),
        ("app.foo", "unknown key"),
        ("execution_pool.queue_limit", "expected int, got str"),
        ("grid_strategy.dca_levels[1].weight_percent", "expected number, got str"),
        ("app.http_host", "must be an IP address, got 'localhost'"),
        ("execution_pool.max_open_groups", "must be >= 1, got 0"),
        ("risk_engine.loss_threshold_percent", "must be < 0, got 5"),
        ("grid_strategy.tp_percent", "must be > 0, got 0"),
        ("grid_strategy.dca_levels[0].tp_percent", "must be > 0, got 0"),
        ("grid_strategy.dca_levels[0].gap_percent", "must satisfy -100 < gap <= 0, got 0.5"),
        ("security.webhook_ip_allowlist[1]", "not an IP address or CIDR range: 'nope'"),
    ]


def test_a_bad_value_does_not_produce_follow_up_problems():
    # max_dca is unreadable: the ladder length is not compared with its default
    found = problems('[grid_strategy]\nmax_dca_per_pyramid = "2"\n')
    assert found == [("grid_strategy.max_dca_per_pyramid", "expected int, got str")]
    found = problems('[exchange]\nname = "kraken"\nmarket_type = "swap"\n')
    assert [p for p, _ in found] == ["exchange.name"]


def test_not_toml():
    with pytest.raises(NotToml) as info:
        parse_config("[app\nmode = 1")
    assert info.value.problems[0].path == ""
    assert info.value.problems[0].message.startswith("not valid TOML")
    assert str(validate("x = = 1")[0]).startswith("not valid TOML")
    assert isinstance(info.value, ConfigInvalid)


def test_problem_text():
    assert str(Problem(path="a.b", message="bad")) == "a.b: bad"
    assert str(Problem(path="", message="bad")) == "bad"
    assert "a.b: bad" in str(ConfigInvalid([Problem(path="a.b", message="bad")]))


_keys = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=99),
)


@given(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.lists(_keys, min_size=0, max_size=4))
def test_join_and_split_are_inverse(first, rest):
    path = first
    for key in rest:
        path = join(path, key)
    assert split(path) == [first, *rest]


@pytest.mark.parametrize("bad", ["", "a.", ".a", "a..b", "a b", 'a."x'])
def test_split_refuses_malformed_paths(bad):
    with pytest.raises(ValueError):
        split(bad)
