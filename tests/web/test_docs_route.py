"""The user documentation under /docs, served by the running app: every page of docs/ rendered
to HTML with working links, the raw Markdown on request, nothing outside docs/."""

import re

from tests.web.conftest import Engine
from web.docs_route import docs_dir, page_names


async def test_index_and_every_page_render(eng: Engine):
    c = eng.client()
    r = await c.get("/docs")
    assert r.status_code == 308 and r.headers["location"].endswith("/docs/")
    index = await c.get("/docs/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert "<h1" in index.text and 'href="quickstart.md"' in index.text
    assert set(page_names()) >= {"README.md", "quickstart.md", "tradingview.md", "api.md",
                                 "configuration.md", "troubleshooting.md", "service.md",
                                 "paper.md"}
    for name in page_names():
        page = await c.get(f"/docs/{name}")
        assert page.status_code == 200, name
        assert "<main>" in page.text and "</html>" in page.text
        # every link between pages names a page that exists
        for target in re.findall(r'href="([\w-]+\.md)(?:#[\w-]*)?"', page.text):
            assert target in page_names(), f"{name} links to missing {target}"


async def test_raw_markdown_and_stylesheet(eng: Engine):
    c = eng.client()
    raw = await c.get("/docs/quickstart.md", params={"raw": "1"})
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/markdown")
    assert raw.text == (docs_dir() / "quickstart.md").read_text(encoding="utf-8")
    css = await c.get("/docs/docs.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_no_page_outside_docs(eng: Engine):
    c = eng.client()
    for path in ("/docs/nope.md", "/docs/.hidden.md", "/docs/README.txt", "/docs/docs"):
        r = await c.get(path)
        assert r.status_code == 404, path
        assert r.json()["details"]["pages"] == page_names()
    outside = ("/docs/..%2FREADME.md", "/docs/../README.md", "/docs/%2e%2e%2fpyproject.toml",
               "/docs/sub/quickstart.md")
    for path in outside:  # never a file: a 404, or the console's app shell for a client route
        r = await c.get(path)
        assert "[project]" not in r.text and "make run" not in r.text, path
