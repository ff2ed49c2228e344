"""How the analytics answers show their numbers: the project's display rules (engine/display.py)
applied by key, in this one place, after every figure was computed exactly.

| key                       | rule                                                      |
|---------------------------|-----------------------------------------------------------|
| ``*_usd``                 | the account's quote amount rule (cents for dollar assets) |
| ``*_percent``             | percentage: 2 decimals, half-up                           |
| ``sharpe``, ``sortino``, ``profit_factor``, ``rr`` | a ratio: 2 decimals, half-up       |
| any other Decimal         | exact fixed-point text                                    |

An undefined figure (None under one of those keys) is shown as ``"n/a"``.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.display import Display, percent, plain

NA = "n/a"
RATIO_KEYS = frozenset({"sharpe", "sortino", "profit_factor", "rr"})


def _decimal(value: Decimal | float | int) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _ruled(key: str) -> bool:
    return key.endswith(("_usd", "_percent")) or key in RATIO_KEYS


def rule(key: str, display: Display) -> Callable[[Any], Any]:
    """The formatter of one key (for long series: looked up once, applied per value)."""
    if key.endswith("_usd"):
        return lambda v: NA if v is None else display.usd(_decimal(v))
    if key.endswith("_percent") or key in RATIO_KEYS:
        return lambda v: NA if v is None else percent(_decimal(v))
    return lambda v: plain(v) if isinstance(v, Decimal) else v


def present(value: Any, display: Display, key: str = "") -> Any:
    """``value`` with every number shown by its key's rule; the entries of a mapping under a
    ruled key (``realized_by_period_usd: {"day": …}``) follow that key's rule."""
    if isinstance(value, dict):
        return {k: present(v, display, str(k) if _ruled(str(k)) or not _ruled(key) else key)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and not isinstance(value[0], (dict, list, tuple)):
            shown = rule(key, display)
            return [shown(v) for v in value]
        return [present(v, display, key) for v in value]
    return rule(key, display)(value)
