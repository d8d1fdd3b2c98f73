"""Payload encryption for Temporal (docs/architecture.md, rule 7) and the shared client factory.

``codec.http`` (the Web UI's codec endpoints) is imported separately: the worker does
not need FastAPI.
"""

from codec.converter import case_data_converter, case_payload_codec, connect_client
from codec.encryption import CodecError, EncryptionCodec, PayloadDecryptError, UnknownKeyError
from codec.keys import CodecKey, CodecKeyError, generate_dev_key, generate_key, parse_codec_keys

__all__ = [
    "CodecError",
    "CodecKey",
    "CodecKeyError",
    "EncryptionCodec",
    "PayloadDecryptError",
    "UnknownKeyError",
    "case_data_converter",
    "case_payload_codec",
    "connect_client",
    "generate_dev_key",
    "generate_key",
    "parse_codec_keys",
]
