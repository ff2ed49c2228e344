"""docs/tradingview.md against the code it describes: the template is the engine's own, the
field table lists every field with the placeholder the template uses, the timeframe examples
normalise as the page says, and the webhook answers are the ones web/webhook.py gives."""

import re
from pathlib import Path

from engine.signals import normalise_timeframe
from engine.tradingview import ALERT_TEMPLATE, PLACEHOLDERS
from tests.docs.catalogue import webhook_statuses

PAGE = Path(__file__).resolve().parents[2] / "docs" / "tradingview.md"


def text() -> str:
    return PAGE.read_text(encoding="utf-8")


def field_rows() -> dict[str, list[str]]:
    rows = {}
    for line in text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 7 and cells[0].startswith("`") and cells[1] != "Type":
            rows[cells[0].strip("`")] = cells
    return rows


def test_template_is_the_engines():
    blocks = re.findall(r"^```json\n(.*?)^```", text(), re.MULTILINE | re.DOTALL)
    assert ALERT_TEMPLATE in blocks


def test_every_field_has_a_row_with_its_placeholder():
    rows = field_rows()
    assert set(PLACEHOLDERS) <= set(rows)
    for path, placeholder in PLACEHOLDERS.items():
        if placeholder:
            assert f"`{placeholder}`" in rows[path][5], path
        else:
            assert rows[path][5].startswith("none"), path


def test_timeframe_table_matches_the_parser():
    section = text().split("## Timeframes", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 3 or not cells[0].startswith('`"'):
            continue
        sent = re.findall(r'`"([^"`]+)"`', cells[0])
        minutes = [int(m.replace(",", "")) for m in re.findall(r"[\d,]+", cells[2])]
        assert [normalise_timeframe(s) for s in sent] == minutes, line


def test_every_webhook_answer_is_listed():
    answers = text().split("## When something goes wrong", 1)[1]
    for status in webhook_statuses() | {"accepted", "duplicate"}:
        assert f"`{status}`" in answers, status
