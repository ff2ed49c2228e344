"""The shape of one catalogue entry's metadata and the Settings page sections (SPEC 11.5 F)."""

from decimal import Decimal

import msgspec

EXCHANGE = "Exchange API"
PRECISION = "Precision"
POOL = "Execution Pool"
GRID = "Grid & TP"
QUEUE = "Waiting Queue"
RISK = "Risk Engine"
LOGGING = "Logging"
SECURITY = "Security"
STORAGE = "Local Storage"
THEME = "Theme & UI"
SECTIONS: tuple[str, ...] = (
    EXCHANGE, PRECISION, POOL, GRID, QUEUE, RISK, LOGGING, SECURITY, STORAGE, THEME,
)

Bound = int | Decimal | None


class Field(msgspec.Struct, frozen=True):
    """Metadata of one key. ``unit`` is shown next to the input (``%``, ``s``, ``USD`` …);
    ``ge``/``gt``/``le``/``lt`` bound a number (every item of an array or table);
    ``choices`` lists the allowed items of a list of names; ``min_length`` bounds a secret."""

    section: str
    label: str
    help: str
    unit: str | None = None
    ge: Bound = None
    gt: Bound = None
    le: Bound = None
    lt: Bound = None
    choices: tuple[str, ...] | None = None
    min_length: int | None = None
