"""Codec keys: parsed from ``CASE_CODEC_KEYS`` so keys rotate by configuration alone.

The format is ``kid:base64key`` pairs, comma separated. The first pair is the active key
(it encrypts); the others only decrypt, so payloads written before a rotation still read.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from settings.app import DEV_CODEC_KEY_MARKER

KEY_BYTES = 32  # AES-256
_KID_PATTERN = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class CodecKeyError(ValueError):
    """``CASE_CODEC_KEYS`` is malformed; the message never contains key material."""


@dataclass(frozen=True, repr=False)
class CodecKey:
    """One named AES-256 key. ``repr`` hides the key so it cannot leak into logs."""

    kid: str
    key: bytes

    def __repr__(self) -> str:
        return f"CodecKey(kid={self.kid!r})"


def parse_codec_keys(raw: str | None) -> list[CodecKey]:
    """Parse ``kid:base64key,...``; the active key comes first. Empty means codec off."""
    if raw is None or not raw.strip():
        return []
    keys: list[CodecKey] = []
    seen: set[str] = set()
    for position, item in enumerate(raw.split(","), start=1):
        item = item.strip()
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        kid = kid.strip()
        if not sep or not _KID_PATTERN.match(kid):
            raise CodecKeyError(
                f"codec key #{position}: expected 'kid:base64key' with a kid of "
                "letters, digits, '.', '_' or '-'"
            )
        if kid in seen:
            raise CodecKeyError(f"codec key id {kid!r} appears twice")
        key = _decode_key(encoded.strip(), kid)
        seen.add(kid)
        keys.append(CodecKey(kid=kid, key=key))
    return keys


def _decode_key(encoded: str, kid: str) -> bytes:
    # Accept the URL-safe alphabet too: operators paste keys from many tools.
    normalised = encoded.replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(normalised, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CodecKeyError(f"codec key {kid!r} is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise CodecKeyError(f"codec key {kid!r} must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def format_codec_key(key: CodecKey) -> str:
    """The ``kid:base64key`` form of one key, as ``CASE_CODEC_KEYS`` holds it."""
    return f"{key.kid}:{base64.b64encode(key.key).decode('ascii')}"


def generate_key(kid: str) -> str:
    """A fresh random key under ``kid``, in ``CASE_CODEC_KEYS`` form (for rotation)."""
    if not _KID_PATTERN.match(kid):
        raise CodecKeyError("kid must be 1-64 letters, digits, '.', '_' or '-'")
    return format_codec_key(CodecKey(kid=kid, key=secrets.token_bytes(KEY_BYTES)))


def generate_dev_key() -> str:
    """A throwaway key for the dev stack; its ``dev-`` kid is refused in production."""
    return generate_key(f"{DEV_CODEC_KEY_MARKER}{secrets.token_hex(4)}")
