"""Masking of secrets for the UI, the API, logs and exports (SPEC 12.2, D18)."""

import re
from decimal import Decimal
from typing import Any

import msgspec

MASK = "****"
MIN_REVEAL_LENGTH = 12  # shorter secrets show no characters at all (Appendix A 75)
REVEAL = 6

_SECRET_FIELD = re.compile(r'("secret"\s*:\s*")((?:[^"\\]|\\.)*)(")')
_JSON_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_JSON_ENCODER = msgspec.json.Encoder(decimal_format="number")


def mask(secret: str) -> str:
    """``****`` + the last 6 characters; ``****`` alone for secrets shorter than 12 characters."""
    if len(secret) < MIN_REVEAL_LENGTH:
        return MASK
    return MASK + secret[-REVEAL:]


class Masker:
    """Replaces every known secret value by its masked form, wherever it appears."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()):
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            # longest first: a secret containing another must be replaced as a whole
            self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, mask(secret))
        return text

    def scrub_obj(self, obj: Any) -> Any:
        """A copy of a JSON-like value (dict/list/tuple/str, nested) with every string scrubbed."""
        if isinstance(obj, str):
            return self.scrub(obj)
        if isinstance(obj, dict):
            return {self.scrub_obj(k): self.scrub_obj(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.scrub_obj(v) for v in obj)
        return obj


def _mask_secret_fields(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            k: mask(v) if k == "secret" and isinstance(v, str) else _mask_secret_fields(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_mask_secret_fields(v) for v in obj]
    return obj


def mask_webhook_body(raw: bytes, masker: Masker | None = None) -> str:
    """A stored/displayed webhook body: JSON with every ``secret`` field masked; a body that is
    not JSON gets ``"secret": "..."`` masked textually. Known secrets are scrubbed by value."""
    try:
        body = _mask_secret_fields(_JSON_DECODER.decode(raw))
        # scrub the decoded values: in the JSON text a secret holding " \ control characters or
        # \uXXXX escapes appears escaped, where a match on the raw value would miss it
        text = _JSON_ENCODER.encode(masker.scrub_obj(body) if masker else body).decode()
    except (msgspec.DecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        text = raw.decode("utf-8", errors="replace")
        text = _SECRET_FIELD.sub(lambda m: m.group(1) + mask(m.group(2)) + m.group(3), text)
    return masker.scrub(text) if masker else text
