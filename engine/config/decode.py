"""Structural decoding of parsed TOML into the config Structs, collecting EVERY problem.

msgspec's ``convert`` stops at the first error, so this walks the Struct type annotations itself
and calls msgspec only at the leaves (int/str/bool), turning its messages into
``Problem(path, message)``. A bad field keeps its default so that the section can still be
built and checked semantically; the bad paths are returned so those checks can skip them.
An array or table with a bad item also keeps its good items (``partial``, with ``BAD`` in place
of the others) so that e.g. the other legs of a ladder are still checked.
"""

import difflib
import re
import types
import typing
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

import msgspec


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One validation problem: the dotted key path and a human message."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


BAD = object()  # marker: the value could not be decoded (a problem was recorded)

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_MSGSPEC = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`")


def join(path: str, key: str | int) -> str:
    """Dotted key path; array indexes as ``[i]``, keys that are not bare TOML keys quoted."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    part = key if _BARE.match(key) else '"' + re.sub(r'(["\\])', r"\\\1", key) + '"'
    return f"{path}.{part}" if path else part


_SEGMENT = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_-]+))\s*((?:\[\d+\])*)\s*(\.|$)')


def split(path: str) -> list[str | int]:
    """The inverse of ``join``: ``a."b:c".d[2]`` -> ``["a", "b:c", "d", 2]``. Raises ValueError."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if not m or (m.group(4) == "." and m.end() == len(path)):
            raise ValueError(f"not a key path: {path!r}")
        quoted, bare, indexes = m.group(1), m.group(2), m.group(3)
        parts.append(bare if quoted is None else re.sub(r"\\(.)", r"\1", quoted))
        parts += [int(i) for i in re.findall(r"\d+", indexes)]
        pos = m.end()
    if not parts:
        raise ValueError("empty key path")
    return parts


def suggest(key: str, known: typing.Iterable[str]) -> str:
    """``"; did you mean x?"`` naming the known keys closest to a mistyped one, or ``""``."""
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def toml_type(value: object) -> str:
    """The TOML type name of a parsed value, for messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, str)):
        return type(value).__name__
    if isinstance(value, Decimal):
        return "float"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "datetime"  # date, time or datetime: the only TOML types left


class Decoder:
    """Decodes one document; ``problems`` and ``bad`` (paths) accumulate across calls."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.bad: set[str] = set()
        self.partial: dict[str, Any] = {}

    def fail(self, path: str, message: str) -> object:
        self.problems.append(Problem(path=path, message=message))
        self.bad.add(path)
        return BAD

    def decode(self, tp: Any, value: object, path: str) -> object:
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            return self.struct(tp, value, path)
        if origin in (Union, types.UnionType):  # ``X | None``: TOML has no null, so decode as X
            return self.decode(next(a for a in get_args(tp) if a is not type(None)), value, path)
        if origin is Literal:
            return self.literal(get_args(tp), value, path)
        if tp is Decimal:
            return self.decimal(value, path)
        if origin is tuple:
            return self.array(get_args(tp)[0], value, path)
        if origin is dict:
            return self.table(get_args(tp)[1], value, path)
        return self.leaf(tp, value, path)

    def struct(self, cls: type[msgspec.Struct], value: object, path: str) -> object:
        if not isinstance(value, dict):
            return self.fail(path, f"expected table, got {toml_type(value)}")
        fields = {f.name: f for f in msgspec.structs.fields(cls)}
        hints = typing.get_type_hints(cls)
        good: dict[str, object] = {}
        complete = True
        for key, item in value.items():
            if key not in fields:
                # not added to ``bad``: a typo must not hide the checks of the keys beside it
                self.problems.append(Problem(path=join(path, key),
                                             message=f"unknown key{suggest(key, fields)}"))
                continue
            decoded = self.decode(hints[key], item, join(path, key))
            if decoded is BAD:
                complete = complete and not fields[key].required
            else:
                good[key] = decoded
        for name, field in fields.items():
            if field.required and name not in value:
                self.fail(join(path, name), "missing required key")
                complete = False
        return cls(**good) if complete else BAD

    def literal(self, choices: tuple[str, ...], value: object, path: str) -> object:
        if not isinstance(value, str):
            return self.fail(path, f"expected str, got {toml_type(value)}")
        if value not in choices:
            return self.fail(path, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def decimal(self, value: object, path: str) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        if not isinstance(value, Decimal):
            return self.fail(path, f"expected number, got {toml_type(value)}")
        if not value.is_finite():
            return self.fail(path, f"must be a finite number, got {value}")
        return value

    def array(self, item_tp: Any, value: object, path: str) -> object:
        if not isinstance(value, list):
            return self.fail(path, f"expected array, got {toml_type(value)}")
        items = tuple(self.decode(item_tp, item, join(path, i)) for i, item in enumerate(value))
        return self._whole(path, items, BAD in items)

    def table(self, item_tp: Any, value: object, path: str) -> object:
        if not isinstance(value, dict):
            return self.fail(path, f"expected table, got {toml_type(value)}")
        items = {k: self.decode(item_tp, v, join(path, k)) for k, v in value.items()}
        return self._whole(path, items, any(v is BAD for v in items.values()))

    def _whole(self, path: str, items: Any, broken: bool) -> object:
        if broken:
            self.partial[path] = items
            return BAD
        return items

    def leaf(self, tp: Any, value: object, path: str) -> object:
        try:
            return msgspec.convert(value, tp, strict=True)
        except msgspec.ValidationError as exc:
            match = _MSGSPEC.match(str(exc))
            want = match.group(1) if match else tp.__name__
            return self.fail(path, f"expected {want}, got {toml_type(value)}")
