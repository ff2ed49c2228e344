"""The functional core: pure, synchronous, Decimal-exact trading decisions.

Rules of this package (enforced by tests/test_architecture.py): standard library and msgspec only;
no trio, ccxt, sqlite, clock reads, randomness or ``async def``. Time arrives as an argument.
"""
