"""engine.config semantic rules (SPEC 10.2, 3.4): ranges, enums, ladders, overrides, cross-field."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config import ConfigInvalid, parse_config, validate


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigInvalid) as info:
        parse_config(text)
    return [(p.path, p.message) for p in info.value.problems]


def ladder(*legs: tuple[str, str, str], at: str = "grid_strategy.dca_levels") -> str:
    return "".join(
        f"[[{at}]]\ngap_percent = {g}\nweight_percent = {w}\ntp_percent = {t}\n" for g, w, t in legs
    )


RANGE_CASES = [
    ("app", "http_port", "0", "must be between 1 and 65535, got 0"),
    ("app", "http_port", "65536", "must be between 1 and 65535, got 65536"),
    ("app", "capital_base_usd", "-1", "must be >= 0, got -1"),
    ("app", "data_dir", '" "', "must not be empty"),
    ("app", "timezone", '""', "must not be empty"),
    ("app", "quote_currencies", "[]", "must list at least one quote currency"),
    ("exchange", "precision_refresh_sec", "9", "must be >= 10, got 9"),
    ("exchange", "order_poll_sec", "0.4", "must be between 0.5 and 60, got 0.4"),
    ("exchange", "price_poll_sec", "61", "must be between 0.5 and 60, got 61"),
    ("exchange.paper", "replay_interval_ms", "-1", "must be >= 0, got -1"),
    ("exchange.paper", "maker_fee_percent", "5.01", "must be between 0 and 5, got 5.01"),
    ("exchange.paper", "taker_fee_percent", "-0.1", "must be between 0 and 5, got -0.1"),
    ("exchange.paper", "partial_fill_ratio", "0", "must satisfy 0 < ratio <= 1, got 0"),
    ("exchange.paper", "partial_fill_ratio", "1.01", "must satisfy 0 < ratio <= 1, got 1.01"),
    ("execution_pool", "max_open_groups", "0", "must be >= 1, got 0"),
    ("execution_pool", "queue_limit", "-1", "must be >= 0, got -1"),
    ("grid_strategy", "max_pyramids_per_group", "11", "must be between 1 and 10, got 11"),
    ("grid_strategy", "max_dca_per_pyramid", "0", "must be between 1 and 10, got 0"),
    ("grid_strategy", "tp_percent", "0", "must be > 0, got 0"),
    ("grid_strategy", "capital_per_pyramid_usd", "-5", "must be >= 0, got -5"),
    ("grid_strategy", "cancel_dca_beyond_percent", "-0.1", "must be >= 0, got -0.1"),
    ("risk_engine", "post_full_wait_minutes", "-1", "must be >= 0, got -1"),
    ("risk_engine", "loss_threshold_percent", "0", "must be < 0, got 0"),
    ("risk_engine", "age_threshold_minutes", "-1", "must be >= 0, got -1"),
    ("risk_engine", "max_winners_to_combine", "11", "must be between 1 and 10, got 11"),
    ("risk_engine", "min_close_notional", "-1", "must be >= 0, got -1"),
    ("risk_engine", "offset_slippage_percent", "6", "must be between 0 and 5, got 6"),
    ("risk_engine", "evaluate_interval_sec", "3601", "must be between 1 and 3600, got 3601"),
    ("risk_engine", "max_slippage_percent", "100", "must satisfy 0 < x < 100, got 100"),
    ("risk_engine", "max_slippage_percent", "0", "must satisfy 0 < x < 100, got 0"),
    ("precision.fallback_rules", "tick_size", "0", "must be > 0, got 0"),
    ("logging", "keep_days", "0", "must be >= 1, got 0"),
    ("logging", "max_file_mb", "0", "must be >= 1, got 0"),
    ("security", "session_timeout_minutes", "4", "must be between 5 and 10080, got 4"),
    ("security", "secrets_file", '""', "must not be empty"),
    ("security", "secrets_file", '"/etc/secrets"', "must be a path relative to app.data_dir"),
    ("ui", "realtime_update_ms", "99", "must be between 100 and 10000, got 99"),
    ("ui", "font_size", "25", "must be between 10 and 24, got 25"),
]


@pytest.mark.parametrize("section, key, value, message", RANGE_CASES)
def test_ranges(section, key, value, message):
    assert problems(f"[{section}]\n{key} = {value}\n") == [(f"{section}.{key}", message)]


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("app", "http_port", "1"), ("app", "http_port", "65535"), ("app", "http_host", '"::1"'),
        ("exchange", "order_poll_sec", "0.5"), ("exchange", "order_poll_sec", "60"),
        ("exchange.paper", "partial_fill_ratio", "0.01"), ("exchange.paper", "maker_fee_percent", "0"),
        ("grid_strategy", "max_pyramids_per_group", "10"), ("risk_engine", "max_slippage_percent", "99.99"),
        ("risk_engine", "offset_slippage_percent", "5"), ("security", "secrets_file", '"sub/s.enc"'),
        ("ui", "framework", '"anything"'), ("execution_pool", "queue_limit", "0"),
    ],
)
def test_range_edges_accepted(section, key, value):
    assert validate(f"[{section}]\n{key} = {value}\n") == []


def test_app_rules():
    assert problems('[app]\ntls_cert_file = "c.pem"\n') == [
        ("app.tls_cert_file", "tls_cert_file and tls_key_file must both be set or both be empty")
    ]
    assert validate('[app]\ntls_cert_file = "c.pem"\ntls_key_file = "k.pem"\n') == []
    assert problems('[app]\nquote_currencies = ["USDT", ""]\n') == [("app.quote_currencies[1]", "must not be empty")]
    assert problems('[app]\nhttp_host = "0.0.0.300"\n') == [("app.http_host", "must be an IP address, got '0.0.0.300'")]


def test_exchange_rules():
    assert problems('[exchange]\nmarket_type = "swap"\n') == [
        ("exchange.market_type", "the paper exchange supports only spot, got 'swap'")
    ]
    assert validate('[exchange]\nname = "binance"\nmarket_type = "swap"\n') == []
    assert problems('[exchange.paper]\nfeed = "csv"\n') == [
        ("exchange.paper.csv_files", 'feed = "csv" needs at least one symbol = "file.csv" entry')
    ]
    assert validate('[exchange.paper]\nfeed = "csv"\ncsv_files = {BTCUSDT = "b.csv"}\n') == []
    assert problems('[exchange.paper.csv_files]\nBTCUSDT = ""\n') == [("exchange.paper.csv_files.BTCUSDT", "must not be empty")]
    assert problems("[exchange.paper.start_balances]\nUSDT = -1\n") == [
        ("exchange.paper.start_balances.USDT", "must be >= 0, got -1")
    ]


def test_selection_priority_and_platforms():
    found = problems('[waiting_rule]\nselection_priority = ["fifo", "random", "fifo"]\n'
                     '[packaging]\ntarget_platforms = ["linux", "bsd", "linux"]\n')
    assert found == [
        ("waiting_rule.selection_priority[1]", "must be one of pyramid_continuation, highest_loss_percent, "
         "highest_replacement_count, highest_expected_profit, fifo; got 'random'"),
        ("waiting_rule.selection_priority[2]", "'fifo' is listed twice"),
        ("packaging.target_platforms[1]", "must be one of linux, win, mac; got 'bsd'"),
        ("packaging.target_platforms[2]", "'linux' is listed twice"),
    ]
    assert validate('[waiting_rule]\nselection_priority = ["highest_loss_percent"]\n') == []


def test_ip_allowlist():
    assert validate('[security]\nwebhook_ip_allowlist = ["52.89.214.238", "10.0.0.0/8", "2001:db8::/32"]\n') == []
    assert problems('[security]\nwebhook_ip_allowlist = ["10.0.0.0/33"]\n') == [
        ("security.webhook_ip_allowlist[0]", "not an IP address or CIDR range: '10.0.0.0/33'")
    ]


def test_ladder_rules():
    text = ladder(("0", "30", "1"), ("-1", "0", "0"), ("-0.5", "30", "1"), ("-100", "30", "1"))
    assert problems(text) == [
        ("grid_strategy.dca_levels[1].weight_percent", "must be > 0, got 0"),
        ("grid_strategy.dca_levels[1].tp_percent", "must be > 0, got 0"),
        ("grid_strategy.dca_levels[2].gap_percent", "gaps must not increase: -0.5 is above the previous leg's -1"),
        ("grid_strategy.dca_levels[3].gap_percent", "must satisfy -100 < gap <= 0, got -100"),
        ("grid_strategy.dca_levels", "weights sum to 90, expected 100 (±0.01)"),
    ]
    assert problems("[grid_strategy]\ndca_levels = []\n") == [("grid_strategy.dca_levels", "a ladder needs at least one leg")]


def test_weight_tolerance_is_one_hundredth():
    assert validate(ladder(("0", "33.33", "1"), ("-1", "33.33", "1"), ("-2", "33.33", "1"))) == []
    assert problems(ladder(("0", "50", "1"), ("-1", "49.98", "1"))) == [
        ("grid_strategy.dca_levels", "weights sum to 99.98, expected 100 (±0.01)")
    ]


def test_legs_limited_by_max_dca_per_pyramid():
    text = "[grid_strategy]\nmax_dca_per_pyramid = 2\n" + ladder(("0", "50", "1"), ("-1", "25", "1"), ("-2", "25", "1"))
    assert problems(text) == [("grid_strategy.dca_levels", "has 3 legs, more than max_dca_per_pyramid (2)")]


def test_pyramid_specific_levels():
    text = "[grid_strategy]\nmax_pyramids_per_group = 3\n" + ladder(("0", "100", "1"), at='grid_strategy.pyramid_specific_levels."2"')
    assert validate(text) == []
    text = ("[grid_strategy]\nmax_pyramids_per_group = 3\n"
            + ladder(("0", "100", "1"), at='grid_strategy.pyramid_specific_levels."3"')
            + ladder(("0", "100", "1"), at='grid_strategy.pyramid_specific_levels."10"')
            + ladder(("0", "90", "1"), at='grid_strategy.pyramid_specific_levels."1"'))
    assert problems(text) == [
        ("grid_strategy.pyramid_specific_levels.3", "pyramid index 3 is not below max_pyramids_per_group (3)"),
        ("grid_strategy.pyramid_specific_levels.10", 'keys must be pyramid indexes "0" to "9"'),
        ("grid_strategy.pyramid_specific_levels.1", "weights sum to 90, expected 100 (±0.01)"),
    ]


def test_partly_bad_ladders_still_have_their_good_legs_checked():
    text = (ladder(("0", "50", "0"), ("-1", '"x"', "1"), ("-0.5", "50", "1"))
            + "[grid_strategy.pyramid_specific_levels]\n"
              '"1" = [{gap_percent = 0, weight_percent = 90, tp_percent = 1, colour = 1}]\n'
              '"2" = 5\n')
    assert problems(text) == [
        ("grid_strategy.dca_levels[1].weight_percent", "expected number, got str"),
        ("grid_strategy.pyramid_specific_levels.1[0].colour", "unknown key"),
        ("grid_strategy.pyramid_specific_levels.2", "expected array, got int"),
        ("grid_strategy.dca_levels[0].tp_percent", "must be > 0, got 0"),
        ("grid_strategy.pyramid_specific_levels.1", "weights sum to 90, expected 100 (±0.01)"),
    ]


def test_overrides():
    good = ('[grid_strategy.overrides."binance:BTCUSDT:60"]\ntp_mode = "hybrid"\ntp_percent = 1.5\n'
            "capital_per_pyramid_usd = 500\n"
            '[grid_strategy.overrides."okx:ETHUSDT:*"]\nentry_order_type = "market"\n'
            "cancel_dca_beyond_percent = 2\n" + ladder(("0", "100", "2"), at='grid_strategy.overrides."okx:ETHUSDT:*".dca_levels'))
    assert validate(good) == []
    bad = ('[grid_strategy.overrides."kraken:BTCUSDT:60"]\ntp_percent = 0\n'
           '[grid_strategy.overrides."binance:BTC/USDT:1D"]\nmax_open_groups = 1\n'
           '[grid_strategy.overrides."binance:XRPUSDT:0"]\ncapital_per_pyramid_usd = -1\ncancel_dca_beyond_percent = -1\n'
           '[grid_strategy.overrides."BINANCE:ethusdt:15"]\ndca_levels = [{gap_percent = 1, weight_percent = 100, tp_percent = 1}]\n'
           '[grid_strategy.overrides."binance:ETHUSDT:15"]\npyramid_specific_levels = {"7" = [{gap_percent = 0, weight_percent = 100, tp_percent = 1}]}\n'
           '[grid_strategy.overrides."binance:SOLUSDT:5"]\nx = 1\n')
    key_msg = 'key must look like "<exchange>:<SYMBOL>:<minutes or *>", e.g. "binance:BTCUSDT:60"'
    assert problems(bad) == [
        ('grid_strategy.overrides."binance:BTC/USDT:1D".max_open_groups', "unknown key"),
        ('grid_strategy.overrides."binance:SOLUSDT:5".x', "unknown key"),
        ('grid_strategy.overrides."kraken:BTCUSDT:60"', key_msg),
        ('grid_strategy.overrides."kraken:BTCUSDT:60".tp_percent', "must be > 0, got 0"),
        ('grid_strategy.overrides."binance:BTC/USDT:1D"', key_msg),
        ('grid_strategy.overrides."binance:XRPUSDT:0"', key_msg),
        ('grid_strategy.overrides."binance:XRPUSDT:0".capital_per_pyramid_usd', "must be >= 0, got -1"),
        ('grid_strategy.overrides."binance:XRPUSDT:0".cancel_dca_beyond_percent', "must be >= 0, got -1"),
        ('grid_strategy.overrides."BINANCE:ethusdt:15".dca_levels[0].gap_percent', "must satisfy -100 < gap <= 0, got 1"),
        ('grid_strategy.overrides."binance:ETHUSDT:15".pyramid_specific_levels.7',
         "pyramid index 7 is not below max_pyramids_per_group (5)"),
        ('grid_strategy.overrides."binance:ETHUSDT:15"', "same key as 'BINANCE:ethusdt:15' (keys are case-insensitive)"),
    ]


def test_override_that_is_not_a_table_keeps_the_others_checked():
    text = ('[grid_strategy.overrides]\n"binance:BTCUSDT:60" = 3\n'
            '[grid_strategy.overrides."binance:ETHUSDT:60"]\ntp_percent = -1\n')
    assert problems(text) == [
        ('grid_strategy.overrides."binance:BTCUSDT:60"', "expected table, got int"),
        ('grid_strategy.overrides."binance:ETHUSDT:60".tp_percent', "must be > 0, got -1"),
    ]


def test_precision_overrides():
    text = ('[precision.overrides."binance:BTCUSDT"]\ntick_size = 0\nstep_size = 0.1\nmin_qty = 0.1\nmin_notional = 5\n'
            '[precision.overrides."binance-BTCUSDT"]\ntick_size = 1\nstep_size = 1\nmin_qty = 1\nmin_notional = 1\n'
            '[precision.overrides."Binance:btcusdt"]\ntick_size = 1\nstep_size = 1\nmin_qty = 1\nmin_notional = 1\n'
            '[precision.overrides."okx:X"]\ntick_size = 1\n')
    found = problems(text)
    assert found[0] == ('precision.overrides."okx:X".step_size', "missing required key")
    assert found[3:] == [
        ('precision.overrides."binance:BTCUSDT".tick_size', "must be > 0, got 0"),
        ("precision.overrides.binance-BTCUSDT", 'key must look like "<exchange>:<SYMBOL>", e.g. "binance:BTCUSDT"'),
        ('precision.overrides."Binance:btcusdt"', "same key as 'binance:BTCUSDT' (keys are case-insensitive)"),
    ]


@st.composite
def valid_ladders(draw):
    n = draw(st.integers(min_value=1, max_value=7))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=n - 1, max_size=n - 1, unique=True)))
    bounds = [0, *cuts, 10000]
    weights = [Decimal(b - a) / 100 for a, b in zip(bounds, bounds[1:])]
    gaps = sorted((Decimal(-draw(st.integers(0, 9999))) / 100 for _ in range(n)), reverse=True)
    tps = [Decimal(draw(st.integers(1, 1000))) / 100 for _ in range(n)]
    return list(zip(gaps, weights, tps))


@given(valid_ladders())
def test_any_well_formed_ladder_is_valid(legs):
    assert validate(ladder(*[(str(g), str(w), str(t)) for g, w, t in legs])) == []


@given(valid_ladders(), st.integers(min_value=2, max_value=10_000))
def test_moving_weight_off_100_is_refused(legs, cents):
    g, w, t = legs[0]
    legs[0] = (g, w + Decimal(cents) / 100, t)
    paths = [p.path for p in validate(ladder(*[(str(g), str(w), str(t)) for g, w, t in legs]))]
    assert paths == ["grid_strategy.dca_levels"]
