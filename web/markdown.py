"""A small Markdown → HTML renderer for the user documentation served under ``/docs``.

It covers what ``docs/*.md`` uses and no more: ATX headings (with ``id`` anchors), paragraphs,
fenced code blocks, pipe tables, ``-``/``*``/``1.`` lists (nested by indentation), block quotes,
rules, and inline code, bold, italics and links. Everything else is text: every character of the
source is HTML-escaped, so a page can never carry markup of its own. Pure: text in, text out.
"""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EM = re.compile(r"(?<![\w*])[*_](?![\s*_])(.+?)(?<![\s*_])[*_](?![\w*])")
_SAFE_URL = re.compile(r"^(https?://|mailto:|#|/|\.{0,2}[\w./-]*(#[\w-]*)?$)")


def slug(text: str) -> str:
    """The anchor of a heading, as GitHub makes it (lower case, punctuation dropped)."""
    plain = re.sub(r"[`*_\[\]()]", "", text).strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", plain))


def inline(text: str) -> str:
    """Escape ``text`` and apply the inline rules; code spans are left untouched."""
    parts: list[str] = []
    last = 0
    for match in _CODE.finditer(text):
        parts.append(_inline_text(text[last:match.start()]))
        parts.append(f"<code>{html.escape(match.group(2).strip())}</code>")
        last = match.end()
    parts.append(_inline_text(text[last:]))
    return "".join(parts)


def _inline_text(text: str) -> str:
    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), html.unescape(match.group(2))
        if not _SAFE_URL.match(url):
            return match.group(0)
        return f'<a href="{html.escape(url, quote=True)}">{label}</a>'

    out = html.escape(text, quote=False)
    out = _LINK.sub(link, out)
    out = _STRONG.sub(r"<strong>\1</strong>", out)
    return _EM.sub(r"<em>\1</em>", out)


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    # a pipe inside a code span or escaped as \| belongs to the cell
    cells, current, in_code = [], "", False
    for i, char in enumerate(line):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code and (i == 0 or line[i - 1] != "\\"):
            cells.append(current)
            current = ""
        else:
            current += char
    cells.append(current)
    return [c.strip().replace("\\|", "|") for c in cells]


class _Renderer:
    def __init__(self, lines: list[str]):
        self.lines = lines
        self.i = 0
        self.out: list[str] = []

    def run(self) -> str:
        while self.i < len(self.lines):
            self.block()
        return "\n".join(self.out) + "\n"

    def block(self) -> None:
        line = self.lines[self.i]
        if not line.strip():
            self.i += 1
        elif _FENCE.match(line):
            self.fence()
        elif heading := _HEADING.match(line):
            level, text = len(heading.group(1)), heading.group(2)
            self.out.append(f'<h{level} id="{slug(text)}">{inline(text)}</h{level}>')
            self.i += 1
        elif _RULE.match(line):
            self.out.append("<hr>")
            self.i += 1
        elif line.lstrip().startswith(">"):
            self.quote()
        elif _ITEM.match(line):
            self.list_(len(_ITEM.match(line).group(1)))  # type: ignore[union-attr]
        elif "|" in line and self.i + 1 < len(self.lines) \
                and _TABLE_SEP.match(self.lines[self.i + 1]):
            self.table()
        else:
            self.paragraph()

    def fence(self) -> None:
        opening = _FENCE.match(self.lines[self.i])
        assert opening is not None
        marker, language = opening.group(2), opening.group(3)
        self.i += 1
        body: list[str] = []
        while self.i < len(self.lines) and not self.lines[self.i].strip().startswith(marker):
            body.append(self.lines[self.i])
            self.i += 1
        self.i += 1  # the closing fence (or the end of the text)
        css = f' class="language-{html.escape(language)}"' if language else ""
        self.out.append(f"<pre><code{css}>{html.escape(chr(10).join(body))}</code></pre>")

    def quote(self) -> None:
        body: list[str] = []
        while self.i < len(self.lines) and self.lines[self.i].lstrip().startswith(">"):
            body.append(self.lines[self.i].lstrip()[1:].removeprefix(" "))
            self.i += 1
        self.out.append(f"<blockquote>\n{_Renderer(body).run()}</blockquote>")

    def list_(self, indent: int) -> None:
        first = _ITEM.match(self.lines[self.i])
        assert first is not None
        tag = "ol" if first.group(2)[0].isdigit() else "ul"
        self.out.append(f"<{tag}>")
        while self.i < len(self.lines):
            item = _ITEM.match(self.lines[self.i])
            if item is None or len(item.group(1)) != indent:
                break
            text = [item.group(3)]
            self.i += 1
            # continuation lines: indented deeper than the marker, not a new item
            while self.i < len(self.lines) and self.lines[self.i].strip() \
                    and not _ITEM.match(self.lines[self.i]) \
                    and len(self.lines[self.i]) - len(self.lines[self.i].lstrip()) > indent:
                text.append(self.lines[self.i].strip())
                self.i += 1
            self.out.append(f"<li>{inline(' '.join(text))}")
            nested = _ITEM.match(self.lines[self.i]) if self.i < len(self.lines) else None
            if nested is not None and len(nested.group(1)) > indent:
                self.list_(len(nested.group(1)))
            self.out.append("</li>")
        self.out.append(f"</{tag}>")

    def table(self) -> None:
        head = _cells(self.lines[self.i])
        self.i += 2
        self.out.append("<table>\n<thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head)
                        + "</tr></thead>\n<tbody>")
        while self.i < len(self.lines) and "|" in self.lines[self.i] \
                and self.lines[self.i].strip():
            cells = _cells(self.lines[self.i])
            self.out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in cells) + "</tr>")
            self.i += 1
        self.out.append("</tbody>\n</table>")

    def paragraph(self) -> None:
        text: list[str] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not line.strip() or _HEADING.match(line) or _FENCE.match(line) \
                    or _ITEM.match(line) or line.lstrip().startswith(">") or _RULE.match(line):
                break
            text.append(line.strip())
            self.i += 1
        self.out.append(f"<p>{inline(' '.join(text))}</p>")


def render(markdown: str) -> str:
    """The HTML body of a Markdown text (no ``<html>`` wrapper)."""
    return _Renderer(markdown.replace("\r\n", "\n").split("\n")).run()
