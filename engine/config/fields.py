"""What the Settings page and the docs say about each key: label, help, unit, bounds, section.

One ``Field`` per dotted path of the model (``engine/config/model.py``); paths inside arrays of
tables use ``[]`` and paths inside tables with free keys use ``*``. ``catalog.py`` walks the
model and joins it with this table; ``tests/engine/test_config_catalog.py`` fails on any key
of the model without an entry here (and on any entry naming no key). Nested keys that repeat
another key (a per-symbol grid override, a precision override, a pyramid-specific ladder) take
that key's entry through ``catalog.ALIASES`` instead of a copy here.

Bounds (``ge``/``gt``/``le``/``lt``) are the ranges ``rules.py`` enforces; for arrays and
tables they bound every item. The catalogue test checks each bound against the validator.
"""

from decimal import Decimal

from engine.config.fields_operations import OPERATIONS_FIELDS
from engine.config.fields_risk_ops import RISK_OPS_FIELDS
from engine.config.fields_types import EXCHANGE, GRID, POOL, PRECISION, QUEUE, Field
from engine.config.model import SELECTION_RULES

D = Decimal

_TRADING: dict[str, Field] = {
    # --- Exchange API ---------------------------------------------------------------------
    "exchange.name": Field(EXCHANGE, "Exchange", "Where orders go. paper simulates an exchange "
                           "in this process; the others are real accounts reached through ccxt."),
    "exchange.market_type": Field(EXCHANGE, "Market type", "spot trades long only; swap and "
                                  "future also open short groups. The paper exchange is spot."),
    "exchange.testnet": Field(EXCHANGE, "Testnet", "Trade on the exchange's sandbox instead of "
                              "the live account. Ignored by the paper exchange."),
    "exchange.rate_limit_mode": Field(EXCHANGE, "Rate-limit mode", "auto sizes the request "
                                      "budget from the exchange's published limits; "
                                      "conservative keeps a wider margin."),
    "exchange.order_poll_sec": Field(EXCHANGE, "Order poll interval", "How often order states "
                                     "are fetched when no stream reports them.", "s",
                                     ge=D("0.5"), le=60),
    "exchange.price_poll_sec": Field(EXCHANGE, "Price poll interval", "How often prices are "
                                     "fetched when no stream reports them.", "s",
                                     ge=D("0.5"), le=60),
    "exchange.order_priority": Field(EXCHANGE, "Order priority", "When orders wait for the "
                                     "exchange's rate budget, take-profits, closes and cancels "
                                     "leave first, then first legs, then deeper legs; off: in "
                                     "arrival order. Takes effect at the next start."),
    "exchange.protective_wait_alert_sec": Field(EXCHANGE, "Protective wait alert", "An alert "
                                                "fires when a take-profit, close or cancel has "
                                                "waited longer than this for the rate budget.",
                                                "s", ge=D("0.1"), le=600),
    "exchange.paper.markets_file": Field(EXCHANGE, "Paper markets file", "Binance exchange-info "
                                         "JSON with the symbols and filters to simulate; empty "
                                         "uses the snapshot shipped with the engine."),
    "exchange.paper.feed": Field(EXCHANGE, "Paper price feed", "api: prices arrive through "
                                 "POST /api/paper/price; csv: candle files are replayed; live: "
                                 "a real exchange's public prices (no API key)."),
    "exchange.paper.csv_files": Field(EXCHANGE, "Replay files", "Symbol → candle CSV file to "
                                      "replay (needed when the feed is csv)."),
    "exchange.paper.replay_interval_ms": Field(EXCHANGE, "Replay interval", "Wall time between "
                                               "two replayed candles; 0 replays as fast as "
                                               "possible.", "ms", ge=0),
    "exchange.paper.replay_loop": Field(EXCHANGE, "Loop replay", "Start the candle files again "
                                        "when they end."),
    "exchange.paper.clock": Field(EXCHANGE, "Paper clock", "wall: the engine keeps real time; "
                                  "feed: its clock follows the replayed candle times."),
    "exchange.paper.start_balances": Field(EXCHANGE, "Start balances", "Asset → amount the "
                                           "paper account starts with (and returns to on a "
                                           "paper reset).", ge=0),
    "exchange.paper.maker_fee_percent": Field(EXCHANGE, "Maker fee", "Fee charged on paper "
                                              "orders that rest on the book.", "%", ge=0, le=5),
    "exchange.paper.taker_fee_percent": Field(EXCHANGE, "Taker fee", "Fee charged on paper "
                                              "orders that fill at once.", "%", ge=0, le=5),
    "exchange.paper.partial_fill_ratio": Field(EXCHANGE, "Partial fill ratio", "Share of an "
                                               "order's quantity filled each time the price "
                                               "crosses it; 1 fills it whole.", gt=0, le=1),
    "exchange.paper.live.exchange": Field(EXCHANGE, "Live feed exchange", "Real exchange whose "
                                          "public prices drive the paper account (feed live; "
                                          "no API key needed)."),
    "exchange.paper.live.stream": Field(EXCHANGE, "Live feed stream", "bookTicker: middle of "
                                        "the best bid and ask in real time; ticker: last trade "
                                        "about once a second."),
    "exchange.paper.live.poll_sec": Field(EXCHANGE, "Live feed poll interval", "REST polling "
                                          "interval when no price socket is available.", "s",
                                          ge=D("0.5"), le=60),
    "exchange.paper.live.stale_sec": Field(EXCHANGE, "Live feed stale after", "A symbol "
                                           "without a price for this long raises an alert.",
                                           "s", ge=5, le=3600),
    "exchange.paper.live.rest_url": Field(EXCHANGE, "Live feed REST URL", "Another REST "
                                          "endpoint for the public data; empty uses the "
                                          "exchange's own."),
    "exchange.paper.live.ws_url": Field(EXCHANGE, "Live feed socket URL", "Another websocket "
                                        "endpoint for the public data; empty uses the "
                                        "exchange's own."),
    # --- Precision ------------------------------------------------------------------------
    "exchange.precision_refresh_sec": Field(PRECISION, "Metadata refresh interval", "How often "
                                            "tick size, step size and the other market filters "
                                            "are fetched again.", "s", ge=10),
    "precision.enforce_tick_size": Field(PRECISION, "Round prices to tick", "Round every order "
                                         "price down to the market's tick size."),
    "precision.enforce_step_size": Field(PRECISION, "Round quantities to step", "Round every "
                                         "quantity down to the step size and check the "
                                         "minimum and maximum quantity."),
    "precision.enforce_min_notional": Field(PRECISION, "Check min notional", "Refuse orders "
                                            "worth less than the market's minimum notional."),
    "precision.strict_mode": Field(PRECISION, "Strict mode", "Hold signals for a symbol whose "
                                   "market rules are unknown; off uses the fallback rules."),
    "precision.fallback_rules.tick_size": Field(PRECISION, "Fallback tick size", "Price "
                                                "increment used when a symbol's rules are "
                                                "unknown and strict mode is off.", gt=0),
    "precision.fallback_rules.step_size": Field(PRECISION, "Fallback step size", "Quantity "
                                                "increment used without market rules.", gt=0),
    "precision.fallback_rules.min_qty": Field(PRECISION, "Fallback min quantity", "Smallest "
                                              "quantity used without market rules.", gt=0),
    "precision.fallback_rules.min_notional": Field(PRECISION, "Fallback min notional",
                                                   "Smallest order value used without market "
                                                   "rules.", "quote", gt=0),
    "precision.overrides": Field(PRECISION, "Precision overrides", '"<exchange>:<SYMBOL>" → a '
                                 "complete rule set (tick, step, min qty, min notional) used by "
                                 'signals sent with precision_mode "force".'),
    # --- Execution Pool -------------------------------------------------------------------
    "execution_pool.max_open_groups": Field(POOL, "Max open groups", "How many position groups "
                                            "may be live at once; further entries wait in the "
                                            "queue.", "groups", ge=1),
    "execution_pool.count_pyramids_toward_pool": Field(POOL, "Pyramids use slots", "Count every "
                                                       "pyramid of a group as a pool slot."),
    "execution_pool.count_dca_toward_pool": Field(POOL, "DCA legs use slots", "Count every DCA "
                                                  "leg as a pool slot."),
    "execution_pool.queue_limit": Field(POOL, "Queue size limit", "Most entries the waiting "
                                        "queue holds; 0 means no limit.", "entries", ge=0),
    # --- Grid & TP ------------------------------------------------------------------------
    "grid_strategy.max_pyramids_per_group": Field(GRID, "Max pyramids per group", "Entries a "
                                                  "group accepts, the first one included.",
                                                  "pyramids", ge=1, le=10),
    "grid_strategy.max_dca_per_pyramid": Field(GRID, "Max legs per ladder", "Most DCA legs one "
                                               "ladder may have.", "legs", ge=1, le=10),
    "grid_strategy.tp_mode": Field(GRID, "TP mode", "leg: each leg has its own take-profit; "
                                   "aggregate: one target on the average entry; hybrid: both, "
                                   "first hit wins."),
    "grid_strategy.tp_percent": Field(GRID, "Default TP", "Target above the average entry for "
                                      "the aggregate and hybrid modes.", "%", gt=0),
    "grid_strategy.entry_order_type": Field(GRID, "Entry order type", "Order type of the first "
                                            "leg (DCA0); the other legs are always limits."),
    "grid_strategy.capital_per_pyramid_usd": Field(GRID, "Capital per pyramid", "Notional of a "
                                                   "pyramid when the alert carries no size; 0 "
                                                   "means the alert must carry one.", "USD",
                                                   ge=0),
    "grid_strategy.cancel_dca_beyond_percent": Field(GRID, "Stale-ladder cancel", "Cancel the "
                                                     "unfilled legs once the price has moved "
                                                     "this far into profit; 0 never cancels.",
                                                     "%", ge=0),
    "grid_strategy.dca_levels": Field(GRID, "Ladder", "The legs of every pyramid: gap below "
                                      "the reference price, share of the notional and "
                                      "take-profit. Weights must add up to 100."),
    "grid_strategy.dca_levels[].gap_percent": Field(GRID, "Gap", "Distance of the leg from the "
                                                    "reference price; 0 for the first leg, then "
                                                    "more negative leg by leg.", "%",
                                                    gt=-100, le=0),
    "grid_strategy.dca_levels[].weight_percent": Field(GRID, "Weight", "Share of the pyramid's "
                                                       "notional this leg buys.", "%", gt=0),
    "grid_strategy.dca_levels[].tp_percent": Field(GRID, "TP", "Take-profit of this leg above "
                                                   "its own fill price.", "%", gt=0),
    "grid_strategy.pyramid_specific_levels": Field(GRID, "Pyramid-specific ladders", "Pyramid "
                                                   'index ("0" to "9") → a ladder used for that '
                                                   "pyramid instead of the default one."),
    "grid_strategy.overrides": Field(GRID, "Per-symbol overrides", '"<exchange>:<SYMBOL>:<TF>" '
                                     "(TF in minutes or *) → grid keys that replace the global "
                                     "ones for that symbol; the exact timeframe wins over *."),
    # --- Waiting Queue --------------------------------------------------------------------
    "waiting_rule.queue_replace_same_symbol": Field(QUEUE, "Replace queued signal", "A newer "
                                                    "signal for a queued symbol replaces the "
                                                    "waiting one."),
    "waiting_rule.selection_priority": Field(QUEUE, "Priority rules", "Order of the rules that "
                                             "rank the queue when a pool slot frees; the first "
                                             "rule decides, the next breaks ties.",
                                             choices=SELECTION_RULES),
    "waiting_rule.drop_on_exit": Field(QUEUE, "Drop on exit", "An exit signal removes the "
                                       "queued entries of its symbol and timeframe."),
}

FIELDS: dict[str, Field] = {**_TRADING, **RISK_OPS_FIELDS, **OPERATIONS_FIELDS}
