"""The catalogue of everything the engine can log, refuse or answer as an error, collected from
the sources by walking their syntax trees — the list the troubleshooting page must cover.

- **Events**: every ``"event": ...`` entry of a dict literal in ``actors/``, ``web/`` and
  ``ops/`` (the ``extra=`` of a log call). A constant is an event; a parameter is resolved to
  the constants its callers pass; an f-string or a computed name must have its values listed
  in ``FAMILIES`` (from the code that decides them), else the walk fails and says so.
- **API errors**: the code (second argument) of every ``ApiError(status, "code", ...)`` in
  ``web/`` and of the refusals the handle raises (``ActionRefused``/``RiskRefused``).
- **Webhook answers**: every ``{"status": "..."}`` the webhook answers with.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import get_args

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("actors", "web", "ops")
LEVELS = {"debug", "info", "warning", "error", "critical", "exception"}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _group_events() -> list[str]:
    from actors.group.actor import _QUIET
    from engine.group.messages import GroupEvent
    return [_snake(c.__name__) for c in get_args(GroupEvent) if c.__name__ not in _QUIET]


def _queue_events() -> list[str]:
    from engine.queue.entries import QueueEvent
    return [f"queue_{c.__name__}" for c in get_args(QueueEvent)]


def _signal_states() -> list[str]:
    from actors.pool.inbox import INBOX_STATES
    return [f"signal_{s}" for s in INBOX_STATES]


def _risk_controls() -> list[str]:
    from actors.risk.actor import CONTROLS
    return [f"risk_{op.replace('-', '_')}" for op in CONTROLS]


# (file, source of the event expression) → the names it can take, read from the deciding code
FAMILIES: dict[tuple[str, str], Callable[[], list[str]]] = {
    ("actors/group/actor.py", "_snake(kind)"): _group_events,
    ("actors/pool/queue_actor.py", "f'queue_{kind}'"): _queue_events,
    ("actors/pool/outcomes.py", "f'signal_{state}'"): _signal_states,
    ("actors/risk/actor.py", "f\"risk_{op.replace('-', '_')}\""): _risk_controls,
}


class Site:
    """One place an event is logged: its file, line, level (None: computed) and names."""

    def __init__(self, path: str, line: int, level: str | None, names: list[str]):
        self.path, self.line, self.level, self.names = path, line, level, names

    def __repr__(self) -> str:
        return f"{self.path}:{self.line} {self.level} {self.names}"


def _files() -> Iterator[Path]:
    for package in SOURCES:
        yield from sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _level(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in LEVELS:
                return "error" if node.func.attr == "exception" else node.func.attr
            if node.func.attr == "log" and node.args:
                level = node.args[0]
                if isinstance(level, ast.Attribute) and level.attr.lower() in LEVELS:
                    return level.attr.lower()
                return None
    return None


def _function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.FunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node  # type: ignore[return-value]
    return None


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _argument_constants(function: ast.FunctionDef, param: str,
                        tree: ast.Module) -> list[str] | None:
    """The string constants every caller of ``function`` in its own module passes as
    ``param``; None if one caller passes something else (the helpers that take an event name
    are private to their module)."""
    params = [a.arg for a in function.args.args]
    if param not in params:
        return None
    index = params.index(param) - (1 if params and params[0] in ("self", "cls") else 0)
    found: list[str] = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or _call_name(call) != function.name:
            continue
        value = next((k.value for k in call.keywords if k.arg == param), None)
        if value is None and index < len(call.args):
            value = call.args[index]
        names = _constants(value)
        if names is None:
            return None
        found += names
    return found or None


def _constants(value: ast.AST | None) -> list[str] | None:
    """A string constant, or both branches of ``a if c else b`` when they are constants."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, ast.IfExp):
        body, orelse = _constants(value.body), _constants(value.orelse)
        return None if body is None or orelse is None else body + orelse
    return None


def events() -> list[Site]:
    """Every event site; raises AssertionError for a computed name nobody can resolve."""
    trees = {p.relative_to(ROOT).as_posix(): ast.parse(p.read_text(encoding="utf-8"))
             for p in _files()}
    sites: list[Site] = []
    unresolved: list[str] = []
    for path, tree in trees.items():
        parents = _parents(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values):
                if not (isinstance(key, ast.Constant) and key.value == "event"):
                    continue
                if isinstance(value, ast.Subscript):
                    continue  # a read model copying a stored event's name
                level = _level(node, parents)
                names = _constants(value)
                family = FAMILIES.get((path, ast.unparse(value)))
                if names is not None:
                    pass
                elif family is not None:
                    names = family()
                elif isinstance(value, ast.Name):
                    function = _function(node, parents)
                    if function is not None:
                        names = _argument_constants(function, value.id, tree)
                elif isinstance(value, ast.JoinedStr):
                    names = _fstring_by_callers(value, node, parents, tree)
                if names is None:
                    unresolved.append(f"{path}:{node.lineno}: {ast.unparse(value)}")
                else:
                    sites.append(Site(path, node.lineno, level, names))
    assert not unresolved, ("event names computed where the catalogue cannot see them; list "
                            "their values in tests/docs/catalogue.py FAMILIES: "
                            + "; ".join(unresolved))
    return sites


def _fstring_by_callers(value: ast.JoinedStr, node: ast.AST, parents: dict[ast.AST, ast.AST],
                        tree: ast.Module) -> list[str] | None:
    """``f"prefix_{param}"`` where ``param`` is a parameter its callers pass as constants."""
    parts = value.values
    if len(parts) != 2 or not isinstance(parts[0], ast.Constant) \
            or not isinstance(parts[1], ast.FormattedValue) \
            or not isinstance(parts[1].value, ast.Name):
        return None
    function = _function(node, parents)
    if function is None:
        return None
    values = _argument_constants(function, parts[1].value.id, tree)
    return None if values is None else [f"{parts[0].value}{v}" for v in values]


def event_names() -> set[str]:
    return {name for site in events() for name in site.names}


def api_error_codes() -> set[str]:
    """The ``error`` codes of the API's JSON error answers."""
    codes: set[str] = set()
    for path in _files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _call_name(node) in (
                    "ApiError", "ActionRefused", "RiskRefused", "error_response") \
                    and len(node.args) >= 2:
                code = node.args[1] if _call_name(node) != "ActionRefused" else node.args[0]
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    codes.add(code.value)
    return codes


def webhook_statuses() -> set[str]:
    """Every ``status`` the webhook answers with (``{"status": ...}`` in web/webhook.py)."""
    tree = ast.parse((ROOT / "web" / "webhook.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "status" \
                        and isinstance(value, ast.Constant):
                    found.add(value.value)
        if isinstance(node, ast.Call) and _call_name(node) == "refuse" and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant):
            found.add(node.args[1].value)
    return found
