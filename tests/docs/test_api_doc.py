"""docs/api.md against the app's routes: every route of the Quart app (created as tests/web
does) — plus ``POST /webhook``, served in front of Quart — has a section, and every section
names a route that exists. A section is a heading ``### `METHOD /path` `` (``WS`` for the live
push); path parameters are written ``{name}``, compared without their names."""

import re
from pathlib import Path

from tests.web.conftest import running_engine
from web.app import create_app
from web.webhook import PATH as WEBHOOK_PATH

PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
HEADING = re.compile(r"^#{2,4} `(GET|POST|PUT|DELETE|PATCH|WS) (/[^`\s]*)`", re.MULTILINE)
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _shape(path: str) -> str:
    """``/api/groups/<int:group_id>`` and ``/api/groups/{id}`` both → ``/api/groups/{}``."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def app_routes(handle) -> set[tuple[str, str]]:
    routes = {("POST", WEBHOOK_PATH)}
    for rule in create_app(handle).url_map.iter_rules():
        if rule.websocket:
            routes.add(("WS", _shape(rule.rule)))
            continue
        for method in rule.methods - IGNORED_METHODS:
            routes.add((method, _shape(rule.rule)))
    return routes


def sections() -> list[tuple[str, str]]:
    return [(m, _shape(p)) for m, p in HEADING.findall(PAGE.read_text(encoding="utf-8"))]


def documented() -> set[tuple[str, str]]:
    return set(sections())


def test_each_route_has_one_section():
    seen = sections()
    twice = sorted({s for s in seen if seen.count(s) > 1})
    assert not twice, f"routes documented twice in docs/api.md: {twice}"


async def test_every_route_is_documented_and_every_section_exists(tmp_path):
    async with running_engine(tmp_path) as eng:
        routes = app_routes(eng.handle)
    docs = documented()
    missing = sorted(routes - docs)
    absent = sorted(docs - routes)
    assert not missing, f"routes without a section in docs/api.md: {missing}"
    assert not absent, f"docs/api.md documents routes the app does not have: {absent}"
