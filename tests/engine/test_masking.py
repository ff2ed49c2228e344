"""engine.masking: SPEC 12.2 / D18 masks, scrubbing by value, stored webhook bodies."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.masking import Masker, mask, mask_webhook_body

SECRET = "abcdefghijklmnopA4B19K"


@pytest.mark.parametrize(
    "secret, masked",
    [
        ("abcdefghijklmnopA4B19K", "****A4B19K"),  # D18, 22 characters
        ("short-secret", "****secret"),  # D18, 12 characters
        ("tooshort", "****"),  # D18, 8 characters
        ("elevenchars", "****"),  # 11 characters: nothing revealed
        ("", "****"),
    ],
)
def test_d18_vectors(secret, masked):
    assert mask(secret) == masked


@given(st.text(min_size=12))
def test_mask_reveals_only_the_last_six(secret):
    assert mask(secret) == "****" + secret[-6:]


def test_scrub_replaces_every_occurrence_longest_first():
    inner = "abcdefghijklmnop"
    m = Masker([inner, SECRET, None, ""])
    m.add(SECRET)  # a repeat is harmless
    text = f"key={SECRET} again {SECRET} and {inner}!"
    assert m.scrub(text) == "key=****A4B19K again ****A4B19K and ****klmnop!"
    assert m.scrub("nothing here") == "nothing here"


def test_scrub_obj_walks_nested_values_and_copies():
    m = Masker([SECRET])
    original = {"a": [f"x {SECRET}", 3, (SECRET, None)], SECRET: {"n": 1.5}}
    assert m.scrub_obj(original) == {"a": ["x ****A4B19K", 3, ("****A4B19K", None)], "****A4B19K": {"n": 1.5}}
    assert original["a"][0] == f"x {SECRET}"


def test_webhook_body_json_secret_masked_and_numbers_kept_exactly():
    raw = ('{"secret": "%s", "order_size": 0.10, "nested": {"secret": "tiny"}, "n": 1E-7}' % SECRET).encode()
    out = mask_webhook_body(raw)
    assert out == '{"secret":"****A4B19K","order_size":0.10,"nested":{"secret":"****"},"n":1E-7}'


def test_webhook_body_json_list_and_other_values_scrubbed_by_value():
    raw = json.dumps([{"secret": SECRET}, {"alert_message": f"leaked {SECRET}"}]).encode()
    assert SECRET in mask_webhook_body(raw)  # only the field is known without a Masker
    assert SECRET not in mask_webhook_body(raw, Masker([SECRET]))


def test_webhook_body_not_json():
    raw = b'{"secret": "' + SECRET.encode() + b'", "broken": ' + b"\xff"
    out = mask_webhook_body(raw)
    assert out.startswith('{"secret": "****A4B19K", "broken": ')
    assert mask_webhook_body(b"plain text " + SECRET.encode(), Masker([SECRET])) == "plain text ****A4B19K"
