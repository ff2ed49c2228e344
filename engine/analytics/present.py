"""How the analytics answers show their numbers: the project's display rules (engine/display.py)
applied by key, in this one place, after every figure was computed exactly.

| key                       | rule                                                      |
|---------------------------|-----------------------------------------------------------|
| ``*_usd``                 | the account's quote amount rule (cents for dollar assets) |
| ``*_percent``             | percentage: 2 decimals, half-up                           |
| ``sharpe``, ``sortino``, ``profit_factor``, ``rr`` | a ratio: 2 decimals, half-up (as percentages) |
| any other Decimal         | exact fixed-point text                                    |

An undefined figure (None under one of those keys) is shown as ``"n/a"``.
"""

from decimal import Decimal
from typing import Any

from engine.display import Display, percent, plain

NA = "n/a"
RATIO_KEYS = frozenset({"sharpe", "sortino", "profit_factor", "rr"})


def _decimal(value: Decimal | float | int) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _ruled(key: str) -> bool:
    return key.endswith(("_usd", "_percent")) or key in RATIO_KEYS


def present(value: Any, display: Display, key: str = "") -> Any:
    """``value`` with every number shown by its key's rule; the entries of a mapping under a
    ruled key (``realized_by_period_usd: {"day": …}``) follow that key's rule."""
    if isinstance(value, dict):
        return {k: present(v, display, str(k) if _ruled(str(k)) or not _ruled(key) else key)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [present(v, display, key) for v in value]
    if key.endswith("_usd"):
        return NA if value is None else display.usd(_decimal(value))
    if key.endswith("_percent") or key in RATIO_KEYS:
        return NA if value is None else percent(_decimal(value))
    if isinstance(value, Decimal):
        return plain(value)
    return value
