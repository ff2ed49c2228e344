"""The read side: every panel's answer, the live push hub and log queries. Writes nothing.

Owns: the latest published payload per topic and the live-push subscribers.
Receives: reads from the handle; ``touch(topic)`` from actors that recorded a change.
Sends: coalesced snapshots and deltas to the console's web socket.
"""
