"""The user documentation stands on its own: README.md and docs/*.md never send the reader to a
file outside the repository (the specification included), and every relative link names a file
that exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")


def test_no_reference_to_the_specification():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for banned in ("../shared", "SPEC.md", "SPEC §", "§"):
            assert banned not in text, f"{page.name} mentions {banned!r}"


def test_relative_links_stay_in_the_repository_and_exist():
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # http(s)://, mailto:
            path = (page.parent / target).resolve()
            assert path.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
            assert path.exists(), f"{page.name} links to a missing file: {target}"
