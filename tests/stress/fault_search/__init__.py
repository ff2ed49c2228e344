"""Seeded fault search: random valid scenarios, exchange faults and kills, invariants after
every step. Replay a seed with ``python -m tests.stress.fault_search --seed N``."""
