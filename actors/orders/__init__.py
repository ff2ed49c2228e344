"""The one road to the exchange for orders: the gateway and the orders rows it keeps.

Owns: the ``orders`` and ``fills`` rows, deterministic client order ids, retries and the
record-before-send rule.
Receives: place / cancel requests from group actors; order updates from the exchange streams.
Sends: requests through the exchange port; order updates and fills back to their group.
"""
