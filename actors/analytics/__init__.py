"""Performance analytics in the shell: roll-ups kept with each close, equity snapshots, reads.

Owns: the ``trade_analytics``, ``daily_stats`` and ``equity_snapshots`` rows.
Receives: a closed trade inside the group's own transaction; the engine clock's ticks.
Sends: ``touch("analytics")`` to the UI hub when a figure changed.
"""
