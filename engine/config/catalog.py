"""The configuration catalogue: every key of engine.toml — walked from the model's own Structs —
with its type, default, allowed values, unit, label, help, Settings section and what Apply does
with a change (SPEC 10.1, 10.2, 11.5 F). The Settings page builds its form from it
(``GET /api/config/schema``) and the configuration reference in docs/ is generated from it.

Paths are dotted; ``[]`` stands for any item of an array of tables (a ladder leg) and ``*`` for
any key of a table with free keys (an override rule, a pyramid index). Keys nested in an
override repeat a global key: they take its metadata through ``ALIASES`` and name it in
``override_of``. Secrets are not part of the model (they live in the secret store) but are
listed too, as write-only entries of type ``secret``.
"""

import types
import typing
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

import msgspec

from engine.config.changes import effect_of
from engine.config.fields import FIELDS
from engine.config.fields_types import SECTIONS, Field
from engine.config.model import Config
from engine.config.parse import SECRET_KEYS

# (prefix, replacement): where a nested key's metadata comes from when it has no entry of its own
ALIASES: tuple[tuple[str, str], ...] = (
    ("grid_strategy.overrides.*.", "grid_strategy."),
    ("grid_strategy.pyramid_specific_levels.*[].", "grid_strategy.dca_levels[]."),
    ("precision.overrides.*.", "precision.fallback_rules."),
)
# what Apply does (engine/config/changes.py ``Effect``) in the words the page shows, and the
# three outcomes the Apply answer is sorted into: now, new groups only, after a restart
EFFECT_TEXT: dict[str, str] = {
    "immediate": "takes effect at once",
    "next_cycle": "takes effect from the next risk cycle",
    "exchange_rebuild": "takes effect at once; the exchange client reconnects",
    "identity": "takes effect at once, but is refused while a group is open or queued",
    "new_groups": "applies to new groups and pyramids; open groups keep their settings",
    "restart": "saved now, active after the engine restarts",
}
EFFECT_CLASS: dict[str, str] = {
    "immediate": "now", "next_cycle": "now", "exchange_rebuild": "now", "identity": "now",
    "new_groups": "new_groups", "restart": "restart",
}


class Key(msgspec.Struct, frozen=True):
    """One key found by walking the model."""

    path: str
    tp: Any
    default: Any  # NODEFAULT: required
    parent: str | None  # the array or table this key is an item field of


def _optional(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _items(tp: Any) -> tuple[str, Any] | None:
    """For an array or table type: the path suffix of its items and the item type."""
    origin = get_origin(tp)
    if origin is tuple:
        return "[]", get_args(tp)[0]
    if origin is dict:
        return ".*", get_args(tp)[1]
    return None


def _default(field: msgspec.structs.FieldInfo) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return msgspec.NODEFAULT


def walk(cls: type[msgspec.Struct] = Config, prefix: str = "",
         parent: str | None = None) -> list[Key]:
    """Every key of ``cls``: sections are descended into, containers are keys themselves and
    the fields of the tables they hold are keys too (with ``parent`` set)."""
    hints = typing.get_type_hints(cls)
    keys: list[Key] = []
    for field in msgspec.structs.fields(cls):
        path = f"{prefix}.{field.name}" if prefix else field.name
        tp, _ = _optional(hints[field.name])
        if _is_struct(tp) and parent is None and _default(field) is not msgspec.NODEFAULT:
            keys += walk(tp, path)  # a section or sub-section such as exchange.paper
            continue
        keys.append(Key(path=path, tp=hints[field.name], default=_default(field), parent=parent))
        item_path, item_tp = path, tp
        while (items := _items(item_tp)) is not None:  # a table of ladders: ".*" then "[]"
            item_path, item_tp = item_path + items[0], _optional(items[1])[0]
            if _is_struct(item_tp):
                keys += walk(item_tp, item_path, parent=path)
                break
    return keys


def metadata_path(path: str) -> str | None:
    """The entry of ``FIELDS`` describing ``path`` (itself or through ``ALIASES``)."""
    seen = set()
    while path not in FIELDS and path not in seen:
        seen.add(path)
        for prefix, replacement in ALIASES:
            if path.startswith(prefix):
                path = replacement + path[len(prefix):]
                break
        else:
            return None
    return path if path in FIELDS else None


def _type_of(tp: Any) -> dict[str, Any]:
    tp, _ = _optional(tp)
    if get_origin(tp) is Literal:
        return {"type": "enum", "enum": list(get_args(tp))}
    simple = {bool: "bool", int: "int", Decimal: "dec", str: "str"}
    if tp in simple:
        return {"type": simple[tp]}
    if _is_struct(tp):
        return {"type": "table", "fields": [f.name for f in msgspec.structs.fields(tp)]}
    items = _items(tp)
    assert items is not None, f"no catalogue type for {tp!r}"
    item = _type_of(items[1])
    if items[0] == "[]":
        return {"type": "ladder"} if item["type"] == "table" else {"type": "list", "item": item}
    return {"type": "map", "item": item}


def _bounds(meta: Field) -> dict[str, Any]:
    low, high = (meta.ge if meta.gt is None else meta.gt), (meta.le if meta.lt is None else meta.lt)
    parts = []
    if low is not None and high is not None and meta.gt is None and meta.lt is None:
        parts.append(f"{low}–{high}")
    else:
        if low is not None:
            parts.append(f"{'>' if meta.gt is not None else '≥'} {low}")
        if high is not None:
            parts.append(f"{'<' if meta.lt is not None else '≤'} {high}")
    return {
        "min": None if low is None else str(low), "min_exclusive": meta.gt is not None,
        "max": None if high is None else str(high), "max_exclusive": meta.lt is not None,
        "range": " and ".join(parts) or None,
    }


def _entry(path: str, meta_path: str, type_info: dict[str, Any]) -> dict[str, Any]:
    meta = FIELDS[meta_path]
    effect = effect_of(path)
    return {
        "path": path, "section": meta.section, "label": meta.label, "help": meta.help,
        **type_info, "unit": meta.unit, **_bounds(meta),
        "choices": None if meta.choices is None else list(meta.choices),
        "apply": effect, "apply_class": EFFECT_CLASS[effect], "apply_text": EFFECT_TEXT[effect],
        "override_of": None if meta_path == path else meta_path,
    }


def catalogue() -> list[dict[str, Any]]:
    """Every key as a plain dict: ``path, section, label, help, type`` (bool, int, dec, str,
    enum, list, map, ladder, table, secret) with ``enum`` / ``item`` / ``fields`` as the type
    needs, ``default`` (decimals as text; None when required or unset), ``required``,
    ``optional`` (unset = the global value), ``parent``, ``unit``, ``min``/``max`` with their
    ``*_exclusive`` flags and a ``range`` text, ``choices``, ``min_length``, ``secret``,
    ``apply`` (the Effect), ``apply_class`` (now / new_groups / restart), ``apply_text`` and
    ``override_of``. Raises LookupError naming a key that has no metadata."""
    out = []
    for key in walk():
        meta_path = metadata_path(key.path)
        if meta_path is None:
            raise LookupError(f"{key.path}: no catalogue entry (add it to engine/config/fields)")
        entry = _entry(key.path, meta_path, _type_of(key.tp))
        required = key.default is msgspec.NODEFAULT
        entry.update({
            "default": None if required else msgspec.to_builtins(key.default),
            "required": required, "optional": _optional(key.tp)[1], "parent": key.parent,
            "secret": False, "min_length": None,
        })
        out.append(entry)
    for name in SECRET_KEYS:
        entry = _entry(name, name, {"type": "secret"})
        entry.update({"default": None, "required": False, "optional": True, "parent": None,
                      "secret": True, "min_length": FIELDS[name].min_length})
        out.append(entry)
    return out


def schema() -> dict[str, Any]:
    """What ``GET /api/config/schema`` answers: the sections in page order, the Apply effects
    in words and sorted into now / new_groups / restart, and the catalogue."""
    return {"sections": list(SECTIONS), "effects": dict(EFFECT_TEXT),
            "effect_classes": dict(EFFECT_CLASS), "fields": catalogue()}
