"""The ``[exchange.paper.live]`` keys and ``ui.chart_history_days`` are checked like every key."""

import pytest

from engine.config import ConfigInvalid, parse_config


def problems(text: str) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        parse_config(text)
    return {p.path: p.message for p in info.value.problems}


def test_live_feed_settings_are_validated():
    found = problems('[exchange.paper]\nfeed = "live"\nclock = "feed"\n'
                     '[exchange.paper.live]\nexchange = "kraken"\nstale_sec = 1\n'
                     'poll_sec = 0.1\nrest_url = "api.binance.com"\nws_url = "https://x"\n'
                     '[ui]\nchart_history_days = 0\n')
    assert set(found) == {"exchange.paper.clock", "exchange.paper.live.exchange",
                          "exchange.paper.live.stale_sec", "exchange.paper.live.poll_sec",
                          "exchange.paper.live.rest_url", "exchange.paper.live.ws_url",
                          "ui.chart_history_days"}
    assert "wall" in found["exchange.paper.clock"]
    assert "http://" in found["exchange.paper.live.rest_url"]


def test_a_live_feed_configuration_parses():
    cfg = parse_config('[exchange.paper]\nfeed = "live"\n[exchange.paper.live]\n'
                       'exchange = "okx"\nstream = "ticker"\nrest_url = "https://www.okx.com"\n')
    assert (cfg.exchange.paper.feed, cfg.exchange.paper.live.exchange,
            cfg.exchange.paper.live.stream) == ("live", "okx", "ticker")
