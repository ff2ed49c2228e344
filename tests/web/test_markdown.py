"""The Markdown subset of docs/: what each construct renders to, and that nothing in a page's
text can become markup of its own."""

import re

from hypothesis import given, strategies as st

from web.markdown import inline, render, slug


def test_blocks():
    html = render("# Title `x`\n\nSome *text* and **bold**, a [link](quickstart.md#2-log-in).\n"
                  "\n- one\n- two\n  continued\n  - nested\n\n1. first\n\n> quoted\n\n---\n")
    assert '<h1 id="title-x">Title <code>x</code></h1>' in html
    assert "<em>text</em>" in html and "<strong>bold</strong>" in html
    assert '<a href="quickstart.md#2-log-in">link</a>' in html
    assert "<li>two continued\n<ul>\n<li>nested\n</li>\n</ul>\n</li>" in html
    assert "<ol>\n<li>first" in html and "<blockquote>" in html and "<hr>" in html


def test_code_and_tables():
    html = render("```sh\ncurl -d '{\"a\": 1}' <url> && echo\n```\n\n| A | B |\n|---|---|\n"
                  "| `a|b` | x \\| y |\n")
    assert '<pre><code class="language-sh">curl -d &#x27;{&quot;a&quot;: 1}&#x27; &lt;url&gt; ' \
           "&amp;&amp; echo</code></pre>" in html
    assert "<td><code>a|b</code></td><td>x | y</td>" in html


def test_identifiers_keep_their_underscores():
    assert inline("tv.order_size and webhook_replay_enabled") == \
        "tv.order_size and webhook_replay_enabled"
    assert slug("4. Every field") == "4-every-field"


def test_unsafe_links_stay_text():
    assert "<a" not in inline("[x](javascript:alert(1))")


ALLOWED = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "pre", "code", "ul", "ol", "li", "blockquote",
           "hr", "table", "thead", "tbody", "tr", "th", "td", "strong", "em", "a"}


@given(st.text(alphabet=st.sampled_from("<>&\"'`*_[]()#|-> \nabc:/=.1"), max_size=200))
def test_no_markup_from_text(text):
    html = render(text)
    assert set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", html)) <= ALLOWED
    assert not re.search(r"<[a-z]+[^>]*\son\w+=", html)  # no event handler attributes
    assert 'href="javascript' not in html.lower()
