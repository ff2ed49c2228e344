"""Process lifetime: the data-dir lock, logging, the engine clock, start order and shutdown.

Owns: the root nursery (root.py), the engine core's start-up sequence (core.py), the engine
clock, the systemd notifier and the JSON-lines log sink.
Receives: the CLI's ``engine run``; OS signals; the store's and the core's failures.
Sends: ``READY=1`` / watchdog / ``STOPPING=1`` to systemd; the engine status to the handle.
"""
