"""engine.config: diffs, Apply effects (SPEC 10.1), required secrets and warnings."""

import pytest

from engine.config import (
    DEFAULT_TOML,
    NotToml,
    default_config,
    diff_texts,
    effect_of,
    identity_problems,
    parse_config,
    refused_while_open,
    restart_required,
    secret_problems,
    warnings,
)


@pytest.mark.parametrize(
    "key, effect",
    [
        ("grid_strategy.tp_percent", "new_groups"),
        ('grid_strategy.overrides."binance:BTCUSDT:60".tp_percent', "new_groups"),
        ("execution_pool.max_open_groups", "immediate"),
        ("waiting_rule.drop_on_exit", "immediate"),
        ("risk_engine.loss_threshold_percent", "next_cycle"),
        ("precision.strict_mode", "immediate"),
        ("exchange.api_key", "exchange_rebuild"),
        ("exchange.rate_limit_mode", "exchange_rebuild"),
        ("exchange.order_poll_sec", "exchange_rebuild"),
        ("exchange.price_poll_sec", "exchange_rebuild"),
        ("exchange.precision_refresh_sec", "exchange_rebuild"),
        ("exchange.name", "identity"),
        ("exchange.market_type", "identity"),
        ("exchange.testnet", "identity"),
        ("exchange.paper.start_balances.USDT", "identity"),
        ("logging.keep_days", "immediate"),
        ("security.session_timeout_minutes", "immediate"),
        ("ui.theme", "immediate"),
        ("app.log_level", "immediate"),
        ("app.quote_currencies", "immediate"),
        ("app.http_host", "restart"),
        ("app.http_port", "restart"),
        ("app.tls_cert_file", "restart"),
        ("app.tls_key_file", "restart"),
        ("app.data_dir", "restart"),
        ("packaging.auto_update", "restart"),
        ("app.data_dir_extra", "immediate"),  # a prefix of a name is not that name
    ],
)
def test_effect_of(key, effect):
    assert effect_of(key) == effect


def test_restart_and_identity_lists():
    keys = ["app.http_port", "exchange.name", "grid_strategy.tp_mode", "exchange.paper.feed"]
    assert restart_required(keys) == ["app.http_port"]
    assert refused_while_open(keys) == ["exchange.name", "exchange.paper.feed"]
    assert identity_problems(keys, anything_open=False) == []
    refused = identity_problems(keys, anything_open=True)
    assert [p.path for p in refused] == ["exchange.name", "exchange.paper.feed"]
    assert "groups are open" in refused[0].message


def test_diff_of_effective_values():
    new = DEFAULT_TOML.replace("max_open_groups = 10", "max_open_groups = 4").replace(
        '[grid_strategy.overrides]\n', '[grid_strategy.overrides]\n"binance:BTCUSDT:60" = {tp_percent = 1.5}\n'
    )
    assert diff_texts(DEFAULT_TOML, new) == [
        {"key": "execution_pool.max_open_groups", "old": 10, "new": 4},
        {"key": 'grid_strategy.overrides."binance:BTCUSDT:60".tp_percent', "old": None, "new": "1.5"},
    ]


def test_diff_ignores_layout_aliases_and_omitted_defaults():
    assert diff_texts(DEFAULT_TOML, "") == []
    assert diff_texts("[risk]\nmax_winners_to_combine = 2\n", "[risk_engine]\nmax_winners_to_combine = 2\n") == []
    assert diff_texts("[grid_strategy]\ntp_percent = 1\n", "[grid_strategy]\ntp_percent = 1.0\n") == [
        {"key": "grid_strategy.tp_percent", "old": "1", "new": "1.0"}
    ]


def test_diff_with_an_invalid_text_lists_only_what_changed():
    # an unchanged key of an invalid draft is no change ("0" vs the TOML integer 0 was one);
    # the refused value is shown as written
    bad = DEFAULT_TOML.replace("max_open_groups = 10", "max_open_groups = 0")
    assert diff_texts(DEFAULT_TOML, bad) == [
        {"key": "execution_pool.max_open_groups", "old": 10, "new": 0}]
    assert diff_texts("", "[execution_pool]\nmax_open_groups = 0\n") == [
        {"key": "execution_pool.max_open_groups", "old": 10, "new": 0}]
    typo = DEFAULT_TOML.replace("max_open_groups = 10", 'max_open_groups = "ten"\nmax_open_gr = 3')
    assert diff_texts(DEFAULT_TOML, typo) == [
        {"key": "execution_pool.max_open_groups", "old": 10, "new": "ten"},
        {"key": "execution_pool.max_open_gr", "old": None, "new": 3}]
    with pytest.raises(NotToml):
        diff_texts("", "[[")


def test_required_secrets():
    paper = default_config()
    assert [p.path for p in secret_problems(paper, {})] == ["security.webhook_secret"]
    assert secret_problems(paper, {"security.webhook_secret": "x" * 16}) == []
    short = secret_problems(paper, {"security.webhook_secret": "x" * 15})
    assert [(p.path, p.message) for p in short] == [
        ("security.webhook_secret", "must be at least 16 characters, got 15")
    ]
    okx = parse_config('[exchange]\nname = "okx"\n[security]\nwebhook_signature_validation = false\n')
    missing = secret_problems(okx, {"exchange.api_key": "k"})
    assert [p.path for p in missing] == ["exchange.api_secret", "exchange.passphrase"]
    assert "ENGINE_EXCHANGE_API_SECRET" in missing[0].message
    binance = parse_config('[exchange]\nname = "binance"\n')
    present = {"exchange.api_key": "k", "exchange.api_secret": "s", "security.webhook_secret": "w" * 20}
    assert secret_problems(binance, present) == []


def test_warnings():
    assert warnings(default_config()) == []
    cfg = parse_config('[exchange]\nname = "binance"\ntestnet = false\n[security]\nwebhook_signature_validation = false\n'
                       "store_secrets_encrypted = false\n[packaging]\nauto_update = true\n")
    assert [w.path for w in warnings(cfg)] == [
        "security.webhook_signature_validation",
        "security.store_secrets_encrypted",
        "packaging.auto_update",
        "exchange.testnet",
    ]
