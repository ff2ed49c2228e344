"""Where a signal goes: the inbox, the pool of group slots, routing, the waiting queue.

Owns: the inbox rows and idempotency window, the registry of live groups and their slots, the
waiting queue, promotion and the operator's pool actions (promote, force-add, remove, close).
Receives: ``SignalAccepted`` from the handle; group-ended and operator commands.
Sends: commands to group actors (open, pyramid, reduce, exit); signal outcomes to the inbox.
"""
