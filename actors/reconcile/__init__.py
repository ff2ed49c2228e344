"""Comparing our records with the exchange: once before signals after a start, then periodically.

Owns: the set of orders it could not query yet and the findings of the last pass.
Receives: the start-up call from the engine core; its own period timer.
Sends: missed fills and settled orders through the gateway; write-offs and adoptions to the store.
"""
