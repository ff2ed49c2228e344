"""One actor per pair+timeframe group: it owns the group's state and steps its reducer.

Owns: the group's ``GroupState`` and its projection rows (groups, pyramids, legs).
Receives: commands from the pool, order updates from the gateway, prices from market data.
Sends: orders to the gateway; its end to the pool; changes to the UI hub.
"""
