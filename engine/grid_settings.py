"""Grid settings of a ladder (SPEC 3.3, 3.4, 3.9 step 1, 10.2): the ``grid_strategy`` keys,
per-symbol overrides merged over them, and the ladder rules every leg table must satisfy."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal

import msgspec

from engine.decimals import HUNDRED, ZERO, dec
from engine.errors import InvalidInput
from engine.types import Level, TpMode

EntryOrderType = Literal["limit", "market"]
WEIGHT_TOLERANCE = Decimal("0.01")


def _level(gap: str, weight: str, tp: str) -> Level:
    return Level(gap_percent=Decimal(gap), weight_percent=Decimal(weight), tp_percent=Decimal(tp))


# SPEC 3.4 default ladder (V1)
DEFAULT_LEVELS: tuple[Level, ...] = (
    _level("0", "20", "1"),
    _level("-0.5", "20", "0.5"),
    _level("-1.0", "20", "2"),
    _level("-1.5", "20", "1.5"),
    _level("-2.0", "20", "1"),
)

OVERRIDABLE = (
    "dca_levels",
    "pyramid_specific_levels",
    "tp_mode",
    "tp_percent",
    "entry_order_type",
    "capital_per_pyramid_usd",
    "cancel_dca_beyond_percent",
)


class GridSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The ``grid_strategy`` keys of SPEC 10.2 that shape a ladder (same names as the config)."""

    max_pyramids_per_group: int = 5
    max_dca_per_pyramid: int = 7
    tp_mode: TpMode = "leg"
    tp_percent: Decimal = Decimal("1.0")
    entry_order_type: EntryOrderType = "limit"
    capital_per_pyramid_usd: Decimal = ZERO
    cancel_dca_beyond_percent: Decimal = ZERO
    dca_levels: tuple[Level, ...] = DEFAULT_LEVELS
    pyramid_specific_levels: dict[str, tuple[Level, ...]] = {}

    @classmethod
    def from_config(cls, grid: object) -> "GridSettings":
        """From any object with these attribute names (the config's ``grid_strategy`` section)."""
        values = {f: getattr(grid, f) for f in cls.__struct_fields__ if hasattr(grid, f)}
        if "tp_mode" in values:
            values["tp_mode"] = _tp_mode(values["tp_mode"], "tp_mode")
        return cls(**values)


def _tp_mode(value: object, field: str) -> TpMode:
    if value == "per_leg":  # accepted alias (SPEC 4.1)
        return "leg"
    if value not in ("leg", "aggregate", "hybrid"):
        raise InvalidInput(field, f"must be leg, aggregate or hybrid, got {value!r}")
    return value  # type: ignore[return-value]


def _as_levels(value: object, field: str) -> tuple[Level, ...]:
    """A ladder given as Levels or as plain tables ({gap_percent, weight_percent, tp_percent})."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInput(field, "must be a list of levels")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, Level):
            out.append(item)
        elif isinstance(item, Mapping):
            parts = {k: dec(item.get(k), f"{field}[{i}].{k}") for k in Level.__struct_fields__}
            out.append(Level(**parts))
        else:
            raise InvalidInput(f"{field}[{i}]", "must be a level table")
    return tuple(out)


def _override_items(override: object, field: str) -> dict[str, object]:
    """The keys an override sets: a dict's keys, or a config Struct's non-None attributes."""
    if isinstance(override, Mapping):
        items = dict(override)
        for key in items:
            if key not in OVERRIDABLE:
                raise InvalidInput(f"{field}.{key}", "may not be overridden per symbol")
    else:
        items = {k: getattr(override, k, None) for k in OVERRIDABLE}
    return {k: v for k, v in items.items() if v is not None}


def effective_grid(
    base: GridSettings,
    overrides: Mapping[str, object],
    *,
    exchange: str,
    symbol: str,
    timeframe: int,
) -> GridSettings:
    """Global settings with ``<exchange>:<SYMBOL>:*`` then ``<exchange>:<SYMBOL>:<TF>`` merged
    over them key by key (SPEC 3.9 step 1, 10.2): the exact key wins over ``*``; keys match
    case-insensitively. An override setting ``pyramid_specific_levels`` replaces the whole table.
    """
    star = f"{exchange}:{symbol}:*".lower()
    exact = f"{exchange}:{symbol}:{timeframe}".lower()
    by_key = {k.lower(): (k, v) for k, v in overrides.items()}
    merged = base
    for wanted in (star, exact):
        if wanted not in by_key:
            continue
        key, override = by_key[wanted]
        field = f"grid_strategy.overrides.{key}"
        changes = _override_items(override, field)
        if "tp_mode" in changes:
            changes["tp_mode"] = _tp_mode(changes["tp_mode"], f"{field}.tp_mode")
        if "dca_levels" in changes:
            changes["dca_levels"] = _as_levels(changes["dca_levels"], f"{field}.dca_levels")
        if "pyramid_specific_levels" in changes:
            table = changes["pyramid_specific_levels"]
            if not isinstance(table, Mapping):
                raise InvalidInput(f"{field}.pyramid_specific_levels", "must be a table")
            changes["pyramid_specific_levels"] = {
                str(k): _as_levels(v, f"{field}.pyramid_specific_levels.{k}")
                for k, v in table.items()
            }
        for name in ("tp_percent", "capital_per_pyramid_usd", "cancel_dca_beyond_percent"):
            if name in changes:
                changes[name] = dec(changes[name], f"{field}.{name}")
        merged = msgspec.structs.replace(merged, **changes)
    return merged


def validate_levels(levels: Sequence[Level], *, max_dca: int, field: str = "dca_levels") -> None:
    """SPEC 3.4: 1..max_dca legs, weights > 0 summing to 100 (±0.01), TP > 0, and
    −100 < gap ≤ 0 with gaps non-increasing. Raises InvalidInput naming the offending value."""
    if not 1 <= len(levels) <= max_dca:
        raise InvalidInput(field, f"must have 1 to {max_dca} legs, got {len(levels)}")
    total = ZERO
    previous_gap: Decimal | None = None
    for i, lv in enumerate(levels):
        if not lv.weight_percent > 0:
            raise InvalidInput(
                f"{field}[{i}].weight_percent", f"must be > 0, got {lv.weight_percent}"
            )
        if not lv.tp_percent > 0:
            raise InvalidInput(f"{field}[{i}].tp_percent", f"must be > 0, got {lv.tp_percent}")
        gap = lv.gap_percent
        if not -HUNDRED < gap <= 0:
            raise InvalidInput(f"{field}[{i}].gap_percent", f"must be in (-100, 0], got {gap}")
        if previous_gap is not None and gap > previous_gap:
            raise InvalidInput(
                f"{field}[{i}].gap_percent", f"gaps must not increase: {gap} after {previous_gap}"
            )
        previous_gap = gap
        total += lv.weight_percent
    if abs(total - HUNDRED) > WEIGHT_TOLERANCE:
        raise InvalidInput(f"{field}.weight_percent", f"weights sum to {total}, expected 100")


def ladder_for_pyramid(settings: GridSettings, pyramid: int) -> tuple[Level, ...]:
    """Pyramid p's ladder: ``pyramid_specific_levels[str(p)]`` when present, else ``dca_levels``."""
    if isinstance(pyramid, bool) or not 0 <= pyramid < settings.max_pyramids_per_group:
        raise InvalidInput(
            "pyramid", f"must be 0..{settings.max_pyramids_per_group - 1}, got {pyramid}"
        )
    return settings.pyramid_specific_levels.get(str(pyramid), settings.dca_levels)
