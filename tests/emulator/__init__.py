"""A loopback Binance spot emulator: real HTTP + websockets on 127.0.0.1 for the ccxt adapter.

Run it standalone::

    python -m tests.emulator --port 9443

(``--exchange-info FILE`` serves another exchangeInfo, e.g. extra synthetic markets), then
point the engine (or ccxt) at ``http://127.0.0.1:9443/api/v3`` and the streams at
``ws://127.0.0.1:9443``. API key/secret: ``tests.emulator.server.API_KEY``/``API_SECRET``
(or ``--api-key``/``--api-secret``).

What it serves (Binance spot shapes, request weights, error codes):
``GET /api/v3/ping|time|exchangeInfo|ticker/price``, ``POST|DELETE|GET /api/v3/order``,
``GET /api/v3/openOrders|myTrades|account``, ``POST|PUT|DELETE /api/v3/userDataStream``,
websockets ``/ws/<listenKey>`` (``executionReport``) and
``/stream?streams=<symbol>@miniTicker/...`` (combined market stream).
Signed requests are checked like Binance: -2014/-2015 key, -1022 HMAC-SHA256 signature,
-1021 ``timestamp``/``recvWindow``; weights and order counts per fixed window from the served
``rateLimits`` (429 -1003/-1015 with Retry-After). Orders go through the shared matching core
``engine/matching.py`` (filters with Binance codes, fills, fees).

Control endpoints (JSON):
``POST /_emulator/price {symbol, price}`` sets a price (fills resting orders, pushes tickers);
``POST /_emulator/prices {prices: [[symbol, price], ...]}`` sets many, in order (one request
for a benchmark's whole feed step);
``POST /_emulator/fault {kind, count, path, method, msg, delay_s, retry_after_s}`` with kind
``5xx`` (503, nothing done), ``5xx_after`` (500 after the effect), ``timeout`` (effect done,
answer held ``delay_s``), ``429``, ``418``, a Binance code like ``-2010``/``-1013``, or
``drop_ws`` (closes every websocket now);
``POST /_emulator/reset {rate_limits?, balances?, partial_fill_ratio?, enforce_limits?}`` (a
fresh account; ``enforce_limits: false`` counts but never answers 429); ``GET /_emulator/orders`` (every order
request received, in order); ``GET /_emulator/stats`` (weight/order peaks per window, 429
count, per-placement service times in ns, connected websockets, orders resting).
"""
