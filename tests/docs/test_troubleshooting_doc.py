"""docs/troubleshooting.md covers every event, alert and refusal the engine can emit: the names
are collected from the sources (tests/docs/catalogue.py), and each must have a row; each row of
the event tables must name an event that exists, and every API error code has its row."""

import re
from pathlib import Path

from tests.docs.catalogue import api_error_codes, event_names

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
HTTP_ERRORS = {"method_not_allowed", "request_entity_too_large", "internal"}


def section(title: str) -> str:
    return PAGE.read_text(encoding="utf-8").split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def first_column(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([^`]+)`", line.split(" | ", 1)[0]))
    return names


def test_every_event_has_a_row():
    documented = first_column(section("Events"))
    missing = sorted(event_names() - documented)
    assert not missing, f"events without a row in docs/troubleshooting.md: {missing}"


def test_every_row_names_an_event_that_exists():
    stale = sorted(first_column(section("Events")) - event_names())
    assert not stale, f"docs/troubleshooting.md documents events the code never logs: {stale}"


def test_every_api_error_code_has_a_row():
    documented = first_column(section("API errors"))
    missing = sorted((api_error_codes() | HTTP_ERRORS) - documented)
    assert not missing, f"API error codes without a row: {missing}"
