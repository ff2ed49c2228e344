"""The alert template of engine/tradingview.py: once TradingView has filled its placeholders it
is a valid entry for parse_webhook, and it carries every field parse_webhook reads."""

import ast
import inspect

from engine import signals
from engine.tradingview import ALERT_TEMPLATE, PLACEHOLDERS, SECRET_SLOT, alert_template

# what TradingView puts in place of each placeholder for a long entry on a 15-minute chart
FILLED = {
    "{{timenow}}": "2025-11-10T12:00:00Z", "{{exchange}}": "BINANCE", "{{ticker}}": "BTCUSDT",
    "{{interval}}": "15", "{{strategy.order.action}}": "buy",
    "{{strategy.market_position}}": "long", "{{strategy.market_position_size}}": "0.003",
    "{{strategy.prev_market_position}}": "flat", "{{strategy.prev_market_position_size}}": "0",
    "{{strategy.order.price}}": "60000.5", "{{close}}": "60010", 
    "{{strategy.order.contracts}}": "0.003", "{{strategy.order.id}}": "Long",
    "{{strategy.order.comment}}": "",
}


def read_paths() -> set[str]:
    """Every JSON path parse_webhook reads through its FieldReader (and the sections)."""
    tree = ast.parse(inspect.getsource(signals.parse_webhook))
    paths = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("text", "number", "choice", "convert") \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            paths.add(node.args[1].value)
    return paths


def test_template_carries_every_field_the_parser_reads():
    assert read_paths() == set(PLACEHOLDERS)
    for path, placeholder in PLACEHOLDERS.items():
        assert f'"{path.rsplit(".", 1)[-1]}"' in ALERT_TEMPLATE
        assert placeholder in ALERT_TEMPLATE


def test_filled_template_is_a_valid_entry():
    text = alert_template("a-secret-of-some-length")
    assert SECRET_SLOT not in text and '"secret": "a-secret-of-some-length"' in text
    for placeholder, value in FILLED.items():
        text = text.replace(placeholder, value)
    assert "{{" not in text
    sig = signals.parse_webhook(text.encode(), markets=None, quote_currencies=("USDT",),
                                secret_required=True)
    assert (sig.intent, sig.side, sig.symbol, sig.timeframe) == ("signal", "long", "BTCUSDT", 15)
    assert str(sig.order_size) == "0.003" and sig.position_size_type == "contracts"
    assert str(sig.entry_price) == "60000.5" and str(sig.max_slippage_percent) == "0.5"


def test_unfilled_template_is_refused_field_by_field():
    try:
        signals.parse_webhook(alert_template("x" * 20).replace(": {{", ': "{{')
                              .replace("}},", '}}",').replace("}}\n", '}}"\n').encode(),
                              markets=None, quote_currencies=("USDT",), secret_required=True)
    except signals.WebhookRejected as exc:
        refused = {e.field for e in exc.errors if e.message == "unreplaced placeholder"}
        assert refused == {p for p, v in PLACEHOLDERS.items() if v}
    else:
        raise AssertionError("an unfilled template was accepted")
