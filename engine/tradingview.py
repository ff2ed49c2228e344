"""The TradingView alert message the engine expects, and what fills each of its fields.

One text serves the console's TradingView page (``GET /api/tradingview``) and
``docs/tradingview.md`` (a test keeps the page's copy identical). Numeric placeholders stand
unquoted so that they arrive as JSON numbers; the text is valid JSON only once TradingView has
replaced them. ``SECRET_SLOT`` is where the webhook secret goes: the engine never puts the real
one there (the page shows its masked form and says where to type it).
"""

SECRET_SLOT = "<SECRET>"

ALERT_TEMPLATE = """{
  "secret": "<SECRET>",
  "source": "tradingview",
  "timestamp": "{{timenow}}",
  "tv": {
    "exchange": "{{exchange}}",
    "symbol": "{{ticker}}",
    "timeframe": "{{interval}}",
    "action": "{{strategy.order.action}}",
    "market_position": "{{strategy.market_position}}",
    "market_position_size": {{strategy.market_position_size}},
    "prev_market_position": "{{strategy.prev_market_position}}",
    "prev_market_position_size": {{strategy.prev_market_position_size}},
    "entry_price": {{strategy.order.price}},
    "close_price": {{close}},
    "order_size": {{strategy.order.contracts}}
  },
  "strategy_info": {
    "trade_id": "{{strategy.order.id}}",
    "alert_name": "My strategy",
    "alert_message": "{{strategy.order.comment}}"
  },
  "execution_intent": {
    "type": "signal",
    "side": "{{strategy.order.action}}",
    "position_size_type": "contracts",
    "precision_mode": "auto"
  },
  "risk": {
    "stop_loss": null,
    "take_profit": null,
    "max_slippage_percent": 0.5
  }
}
"""

# JSON path → the TradingView placeholder the template puts there ("" = a typed value)
PLACEHOLDERS: dict[str, str] = {
    "secret": "",
    "source": "",
    "timestamp": "{{timenow}}",
    "tv.exchange": "{{exchange}}",
    "tv.symbol": "{{ticker}}",
    "tv.timeframe": "{{interval}}",
    "tv.action": "{{strategy.order.action}}",
    "tv.market_position": "{{strategy.market_position}}",
    "tv.market_position_size": "{{strategy.market_position_size}}",
    "tv.prev_market_position": "{{strategy.prev_market_position}}",
    "tv.prev_market_position_size": "{{strategy.prev_market_position_size}}",
    "tv.entry_price": "{{strategy.order.price}}",
    "tv.close_price": "{{close}}",
    "tv.order_size": "{{strategy.order.contracts}}",
    "strategy_info.trade_id": "{{strategy.order.id}}",
    "strategy_info.alert_name": "",
    "strategy_info.alert_message": "{{strategy.order.comment}}",
    "execution_intent.type": "",
    "execution_intent.side": "{{strategy.order.action}}",
    "execution_intent.position_size_type": "",
    "execution_intent.precision_mode": "",
    "risk.stop_loss": "",
    "risk.take_profit": "",
    "risk.max_slippage_percent": "",
}


def alert_template(secret_shown: str) -> str:
    """The template with ``secret_shown`` (a masked secret or a hint) in the secret's place."""
    return ALERT_TEMPLATE.replace(SECRET_SLOT, secret_shown, 1)
