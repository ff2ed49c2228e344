"""Row patches of the live push: what changed in a list topic, row by row and field by field.

Owns: nothing; the hub keeps the previous rows (``Rows``) and calls ``row_patch`` per build.
Receives: a topic's new payload ``{list_name: [row, ...]}`` and the rows of the previous one.
Sends: the new ``Rows`` and the patch that turns the previous payload into the new one:
``{"list": name, "changes": [{"fields": [f, ...], "rows": {key: [v, ...]}}], "removed":
[key, ...], "order": [key, ...]}`` — ``changes`` groups the changed rows by the set of fields
that changed (a price move changes the same three fields of hundreds of rows, so their names
are sent once), a new row is a change of all its fields, ``removed`` lists rows that left and
``order`` (only when it changed) is the new order of every key. A row's key is ``g<id>``, or
``q<queue_id>`` for a waiting row (``id`` null), as the console's table keys them.
Fails how: a payload that is not one list of rows with ids gives no patch (None): the hub
then sends the whole payload, as for any other topic.
"""

from __future__ import annotations

from typing import Any

# the topics sent as patches after their snapshot, and the name of their list of rows
ROW_TOPICS = {"groups": "groups"}
_MISSING = object()

Rows = dict[str, dict[str, Any]]  # key → row, in the payload's order


def row_key(row: dict[str, Any]) -> str:
    return f"q{row['queue_id']}" if row.get("id") is None else f"g{row['id']}"


def _rows(name: str, payload: Any) -> Rows | None:
    if not isinstance(payload, dict) or set(payload) != {name}:
        return None
    rows = payload[name]
    if not isinstance(rows, list) or not all(
            isinstance(r, dict) and (r.get("id") is not None or r.get("queue_id") is not None)
            for r in rows):
        return None
    return {row_key(r): r for r in rows}


def row_patch(name: str, before: Rows | None, payload: Any) -> tuple[Rows | None, dict | None]:
    """(the new rows, the patch from ``before``); no patch without previous rows."""
    after = _rows(name, payload)
    if after is None or before is None:
        return after, None
    changes: dict[tuple[str, ...], dict[str, list]] = {}
    removed = [key for key in before if key not in after]
    for key, row in after.items():
        old = before.get(key)
        if old == row:
            continue
        if old is not None and old.keys() != row.keys():
            removed.append(key)  # a row whose fields differ is replaced, not merged
            old = None
        fields = tuple(f for f, v in row.items() if old is None or old.get(f, _MISSING) != v)
        changes.setdefault(fields, {})[key] = [row[f] for f in fields]
    patch: dict[str, Any] = {"list": name, "changes": [
        {"fields": list(fields), "rows": rows} for fields, rows in changes.items()],
        "removed": removed}
    if list(before) != list(after):
        patch["order"] = list(after)
    return after, patch


def apply_patch(payload: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The payload a patch turns ``payload`` into: what the console's live.js does (tests and
    other clients use this one)."""
    name = patch["list"]
    rows = {row_key(r): r for r in payload[name]}
    for key in patch["removed"]:
        rows.pop(key, None)
    for change in patch["changes"]:
        for key, values in change["rows"].items():
            rows[key] = {**rows.get(key, {}), **dict(zip(change["fields"], values))}
    order = patch.get("order") or [k for k in (row_key(r) for r in payload[name]) if k in rows]
    return {**payload, name: [rows[k] for k in order]}
