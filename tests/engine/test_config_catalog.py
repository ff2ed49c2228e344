"""The configuration catalogue (engine/config/catalog.py): complete, consistent with the model,
the validator and the Apply effects — a key added to the model without metadata fails here."""

import copy
from decimal import Decimal

import pytest

from engine.config import DEFAULT_TOML, SECRET_KEYS, effect_of, load_toml
from engine.config.catalog import ALIASES, catalogue, metadata_path, schema, walk
from engine.config.fields import FIELDS
from engine.config.fields_types import SECTIONS
from engine.config.parse import problems_of

ENTRIES = catalogue()
BY_PATH = {e["path"]: e for e in ENTRIES}


def test_every_key_of_the_model_has_a_catalogue_entry():
    missing = [k.path for k in walk() if metadata_path(k.path) is None]
    assert missing == [], f"add these keys to engine/config/fields*.py: {missing}"


def test_every_metadata_entry_names_a_key():
    used = {metadata_path(k.path) for k in walk()} | set(SECRET_KEYS)
    assert sorted(set(FIELDS) - used) == []


def test_every_key_is_listed_once_with_a_known_section_label_and_help():
    paths = [e["path"] for e in ENTRIES]
    assert len(paths) == len(set(paths))
    assert set(paths) == {k.path for k in walk()} | set(SECRET_KEYS)
    for e in ENTRIES:
        assert e["section"] in SECTIONS, e["path"]
        assert e["label"].strip() and len(e["help"]) > 15, e["path"]
    assert {e["section"] for e in ENTRIES} == set(SECTIONS)  # no empty section on the page


def test_types_defaults_and_enums_come_from_the_model():
    pool = BY_PATH["execution_pool.max_open_groups"]
    assert (pool["type"], pool["default"], pool["min"], pool["range"]) == ("int", 10, "1", "≥ 1")
    assert BY_PATH["exchange.order_poll_sec"]["type"] == "dec"
    assert BY_PATH["exchange.order_poll_sec"]["default"] == "2"  # decimals travel as text
    assert BY_PATH["grid_strategy.tp_mode"]["enum"] == ["leg", "aggregate", "hybrid"]
    assert BY_PATH["grid_strategy.dca_levels"]["type"] == "ladder"
    assert len(BY_PATH["grid_strategy.dca_levels"]["default"]) == 5
    leg = BY_PATH["grid_strategy.dca_levels[].gap_percent"]
    assert leg["parent"] == "grid_strategy.dca_levels" and leg["required"]
    assert leg["range"] == "> -100 and ≤ 0" and leg["unit"] == "%"
    assert BY_PATH["grid_strategy.pyramid_specific_levels"]["item"] == {"type": "ladder"}
    assert BY_PATH["precision.overrides"]["item"]["fields"] == [
        "tick_size", "step_size", "min_qty", "min_notional"]
    assert BY_PATH["waiting_rule.selection_priority"]["choices"][-1] == "fifo"


def test_override_keys_reuse_the_global_metadata():
    entry = BY_PATH["grid_strategy.overrides.*.tp_percent"]
    glob = BY_PATH["grid_strategy.tp_percent"]
    assert entry["override_of"] == "grid_strategy.tp_percent"
    assert (entry["label"], entry["min"], entry["optional"], entry["default"]) == (
        glob["label"], glob["min"], True, None)
    nested = BY_PATH["grid_strategy.overrides.*.pyramid_specific_levels.*[].weight_percent"]
    assert nested["override_of"] == "grid_strategy.dca_levels[].weight_percent"
    assert all(not p.startswith(prefix) for p in FIELDS for prefix, _ in ALIASES)


def test_secrets_are_write_only_entries_without_a_value():
    for name in SECRET_KEYS:
        assert BY_PATH[name]["type"] == "secret" and BY_PATH[name]["default"] is None
    assert BY_PATH["security.webhook_secret"]["min_length"] == 16


def test_apply_effects_are_the_ones_apply_uses():
    for e in ENTRIES:
        assert e["apply"] == effect_of(e["path"])
    assert BY_PATH["app.http_port"]["apply_class"] == "restart"
    assert BY_PATH["grid_strategy.dca_levels"]["apply_class"] == "new_groups"
    assert BY_PATH["execution_pool.max_open_groups"]["apply_class"] == "now"
    assert set(schema()["effects"]) == set(schema()["effect_classes"]) >= {
        e["apply"] for e in ENTRIES}


def _problem_paths(path: str, value: object) -> set[str]:
    data = load_toml(DEFAULT_TOML)
    node = data
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return {p.path for p in problems_of(copy.deepcopy(data))[1]}


def _bounded_scalars() -> list[dict]:
    return [e for e in ENTRIES if e["parent"] is None and e["type"] in ("int", "dec")
            and (e["min"] is not None or e["max"] is not None)]


@pytest.mark.parametrize("entry", _bounded_scalars(), ids=lambda e: e["path"])
def test_bounds_are_the_ones_the_validator_enforces(entry):
    """Each bound accepted where the catalogue says it is inclusive, refused just beyond it."""
    path = entry["path"]
    step = Decimal(1) if entry["type"] == "int" else Decimal("0.001")
    convert = int if entry["type"] == "int" else Decimal
    for bound, exclusive, outward in (("min", "min_exclusive", -1), ("max", "max_exclusive", 1)):
        if entry[bound] is None:
            continue
        edge = Decimal(entry[bound])
        inside = edge - outward * step if entry[exclusive] else edge
        outside = edge if entry[exclusive] else edge + outward * step
        assert path not in _problem_paths(path, convert(inside)), (path, inside)
        assert path in _problem_paths(path, convert(outside)), (path, outside)


def test_schema_lists_the_sections_in_page_order():
    body = schema()
    assert body["sections"][0] == "Exchange API" and body["sections"][-1] == "Theme & UI"
    assert len(body["fields"]) == len(ENTRIES)
