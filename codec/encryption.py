"""AES-GCM payload codec: personal data never sits in plain text in Temporal history.

Temporal stores every workflow input, result, update, signal, query answer, memo,
summary and (with the case failure converter) failure message as payloads. The SDK runs
every payload through the codec on its way to the server and back, so encrypting here
covers all of them. Search attribute values are *not* payloads and are never encrypted:
they must hold no personal data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from codec.keys import CodecKey

ENCODING = b"binary/encrypted"
METADATA_ENCODING = "encoding"
METADATA_KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class CodecError(Exception):
    """A payload cannot be decrypted; the message says why without showing data."""


class UnknownKeyError(CodecError):
    """The payload names a key id that is not configured (a key was dropped too soon)."""


class PayloadDecryptError(CodecError):
    """The ciphertext does not authenticate under the key it names."""


class EncryptionCodec(PayloadCodec):
    """Encrypts with the first (active) key; decrypts with whichever key a payload names.

    The whole inner payload (metadata and data) is encrypted, so even its encoding and
    message type are hidden. The key id is bound as associated data: a payload whose
    key-id metadata was altered fails authentication instead of decrypting wrongly.
    """

    def __init__(self, keys: Sequence[CodecKey]) -> None:
        if not keys:
            raise ValueError("EncryptionCodec needs at least one key")
        self._active_kid = keys[0].kid
        self._ciphers = {k.kid: AESGCM(k.key) for k in keys}

    @property
    def active_key_id(self) -> str:
        return self._active_kid

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        kid = self._active_kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[kid].encrypt(nonce, payload.SerializeToString(), kid.encode())
        return Payload(
            metadata={METADATA_ENCODING: ENCODING, METADATA_KEY_ID: kid.encode()},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        # Payloads written before encryption was switched on (or by a codec-less
        # client) carry a plain encoding: pass them through so old histories still
        # replay and read.
        if payload.metadata.get(METADATA_ENCODING) != ENCODING:
            return payload
        raw_kid = payload.metadata.get(METADATA_KEY_ID)
        if raw_kid is None:
            raise CodecError("encrypted payload has no encryption-key-id metadata")
        kid = raw_kid.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKeyError(
                f"payload was encrypted with key id {kid!r}, which is not configured "
                f"(configured: {', '.join(self._ciphers)}); keep retired keys in "
                "CASE_CODEC_KEYS until no history needs them"
            )
        data = payload.data
        if len(data) <= NONCE_BYTES:
            raise PayloadDecryptError(f"encrypted payload under key {kid!r} is truncated")
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], raw_kid)
        except InvalidTag as exc:
            raise PayloadDecryptError(
                f"encrypted payload does not authenticate under key {kid!r}"
            ) from exc
        return Payload.FromString(plain)
