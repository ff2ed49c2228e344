"""Owns: nothing (text in, text out). Comment-preserving edits of engine.toml with tomlkit.

Receives: the current file text and ``{dotted key: value}`` changes. Sends: the new text.
Fails how: ``ConfigInvalid`` naming the key for a malformed key path, a path through a value
that is not a table/array, an index out of range or a value TOML cannot hold; ``NotToml`` if
the text is not TOML.
Canonical section names are written (``[risk]`` -> ``[risk_engine]``, ``[UI]`` -> ``[ui]``,
SPEC 10.1). Values: bool/int/str/Decimal, lists, dicts and msgspec Structs (e.g. ``Level``);
``None`` removes the key ("unset", TOML has no null).
"""

import re
import tomllib
from decimal import Decimal
from typing import Any

import msgspec
import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Array, Table

from engine.config import ALIASES, ConfigInvalid, Problem, load_toml
from engine.config.decode import split


def canonical_section_names(text: str) -> str:
    """Rename alias sections to their canonical names, keeping comments where possible."""
    data = load_toml(text)
    for alias, canonical in ALIASES.items():
        if alias not in data:
            continue
        if canonical not in data:
            # rename the headers in place: keeps every comment and the key order
            pattern = re.compile(rf"^(\s*\[\[?\s*){alias}(\s*[\].])", re.MULTILINE)
            renamed = pattern.sub(rf"\g<1>{canonical}\g<2>", text)
            expected = {k: v for k, v in data.items() if k != alias} | {canonical: data[alias]}
            if _loads(renamed) == expected:
                text, data = renamed, expected
                continue
        text = _merge_alias(text, alias, canonical)
        data = load_toml(text)
    return text


def _loads(text: str) -> dict:
    # only ever called on text derived from valid TOML by edits that keep it valid
    return tomllib.loads(text, parse_float=Decimal)


def _merge_alias(text: str, alias: str, canonical: str) -> str:
    """Both names present (or an unusual layout): move the alias keys into the canonical table."""
    doc = tomlkit.parse(text)
    if canonical not in doc:
        doc[canonical] = tomlkit.table()
    target = doc[canonical]
    for key, value in doc[alias].items():
        if key not in target:  # a conflicting duplicate is a validation error reported elsewhere
            target[key] = value
    del doc[alias]
    return tomlkit.dumps(doc)


def set_values(text: str, changes: dict[str, Any]) -> str:
    """Apply ``changes`` to ``text``; everything not named keeps its text and comments."""
    doc = tomlkit.parse(canonical_section_names(text))
    problems: list[Problem] = []
    for key, value in changes.items():
        try:
            parts = split(key)
        except ValueError as exc:
            problems.append(Problem(path=key, message=str(exc)))
            continue
        if isinstance(parts[0], str):
            parts[0] = ALIASES.get(parts[0], parts[0])
        try:
            message = _set(doc, parts, value)
        except (ValueError, TypeError) as exc:  # a value TOML cannot hold
            message = str(exc)
        if message:
            problems.append(Problem(path=key, message=message))
    if problems:
        raise ConfigInvalid(problems)
    return _blank_line_before_headers(tomlkit.dumps(doc))


_CRAMPED_HEADER = re.compile(r"^([^#\s\n][^\n]*)\n(\[)", re.MULTILINE)


def _blank_line_before_headers(text: str) -> str:
    """tomlkit drops the blank line before a table it appended to or created; put it back (only
    after a value line, never between a comment and its table) unless that changes the data."""
    spaced = _CRAMPED_HEADER.sub(r"\1\n\n\2", text)
    return spaced if _loads(spaced) == _loads(text) else text


def _set(doc: Container, parts: list[str | int], value: Any) -> str | None:
    node: Any = doc
    for part in parts[:-1]:
        if isinstance(part, int):
            if not isinstance(node, (AoT, Array, list)) or not 0 <= part < len(node):
                return f"no element [{part}] to set"
            node = node[part]
            continue
        if not isinstance(node, (Container, Table, dict)):
            return f"{part!r} is inside a value that is not a table"
        if part not in node:
            if value is None:
                return None  # removing what does not exist: nothing to do
            node[part] = tomlkit.table()
        node = node[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, (AoT, Array, list)) or not 0 <= last < len(node):
            return f"no element [{last}] to set"
        if value is None:
            del node[last]
        else:
            node[last] = to_item(value)
        return None
    if not isinstance(node, (Container, Table, dict)):
        return "the parent of this key is not a table"
    if value is None:
        if last in node:
            del node[last]
    else:
        node[last] = to_item(value)
    return None


def to_item(value: Any) -> Any:
    """A tomlkit item for a Python value; Decimals keep their exact digits."""
    if isinstance(value, msgspec.Struct):
        value = {f: getattr(value, f) for f in value.__struct_fields__ if getattr(value, f) is not None}
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return tomlkit.parse(f"v = {_decimal_text(value)}")["v"]
    if isinstance(value, dict):
        table = tomlkit.table()
        for k, v in value.items():
            table[k] = to_item(v)
        return table
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (dict, msgspec.Struct)) for v in value):
            aot = tomlkit.aot()
            for v in value:
                aot.append(to_item(v))
            return aot
        array = tomlkit.array()
        for v in value:
            array.append(to_item(v))
        return array
    return tomlkit.item(value)


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return text if "." in text else text + ".0"

