"""The exchange port and its implementations: paper, ccxt (with Binance streams), the limiter.

Owns: each implementation's connection and rate budget; the paper exchange owns its books
(balances, orders, trades) in ``engine.db``.
Receives: port calls from the gateway, the reconciler, market data and the precision refresher.
Sends: order and trade updates and prices on the streams the market actors read.
"""
