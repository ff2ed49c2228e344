"""Market data and market rules: prices, exchange streams, precision, exchange health.

Owns: the latest price per symbol and who wants to hear it, the stream connections, the cached
market rules, the exchange connection state.
Receives: ticker and user-data streams from the exchange; subscriptions from group actors.
Sends: price ticks to group actors; order updates to the gateway; status to the UI hub.
"""
