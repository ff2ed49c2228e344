"""``app.public_url``: empty (the console derives the webhook URL) or an http(s) base URL."""

import pytest

from engine.config import ConfigInvalid, parse_config


def problems(url: str) -> list[tuple[str, str]]:
    try:
        parse_config(f'[app]\npublic_url = "{url}"\n')
    except ConfigInvalid as exc:
        return [(p.path, p.message) for p in exc.problems]
    return []


@pytest.mark.parametrize("url", ["", "https://tv.example.com", "https://tv.example.com:8443/",
                                 "http://10.0.0.5:8080/engine"])
def test_accepted(url):
    assert problems(url) == []
    assert parse_config(f'[app]\npublic_url = "{url}"\n').app.public_url == url


@pytest.mark.parametrize("url", ["tv.example.com", "ftp://tv.example.com", "https://",
                                 "https://tv.example.com/webhook?x=1", "https://a b.com"])
def test_refused_with_the_key_and_the_shape(url):
    [(path, message)] = problems(url)
    assert path == "app.public_url" and "https://host[:port][/path]" in message
