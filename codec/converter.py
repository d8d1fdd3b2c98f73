"""The one data converter and client factory the worker, the API and the tests share.

Every process that talks to Temporal must use the same converter: a worker without the
codec cannot read a case an API with the codec started, and the reverse.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime

from codec.encryption import EncryptionCodec
from codec.keys import parse_codec_keys
from settings.app import Settings

DEFAULT_TARGET_HOST = "localhost:7233"


def case_payload_codec(settings: Settings) -> EncryptionCodec | None:
    """The codec for ``settings``, or ``None`` when no keys are configured.

    ``Settings`` refuses to load without keys in production, so ``None`` only happens
    in development and tests.
    """
    keys = parse_codec_keys(settings.codec_keys)
    return EncryptionCodec(keys) if keys else None


def case_data_converter(settings: Settings) -> DataConverter:
    """Pydantic JSON payloads, encrypted by the case codec when keys are configured."""
    codec = case_payload_codec(settings)
    if codec is None:
        return pydantic_data_converter
    # Failure messages and stack traces are plain strings on the failure proto, outside
    # any payload, and pydantic validation errors quote the offending input. The
    # encoded-attributes failure converter moves them into a payload so the codec
    # encrypts them too; clients with this converter see the original message.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect_client(
    settings: Settings, *, runtime: Runtime | None = None, **overrides: Any
) -> Client:
    """Connect with Temporal's own client config and the case data converter.

    The connection (address, namespace, TLS, API key) comes from Temporal's env config:
    ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
    ``TEMPORAL_PROFILE`` and the config file, so a local dev server, a self-hosted
    cluster and Temporal Cloud differ by environment alone. With nothing set it is
    ``localhost:7233``, namespace ``default``. ``overrides`` go to ``Client.connect``
    last (tests pass ``target_host`` and ``namespace``). ``runtime`` is the SDK runtime
    the client and its workers run on (the worker's carries its metrics endpoint);
    without one, the SDK's default runtime.
    """
    connect_config: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    connect_config.setdefault("target_host", DEFAULT_TARGET_HOST)
    connect_config["data_converter"] = case_data_converter(settings)
    if runtime is not None:
        connect_config["runtime"] = runtime
    connect_config.update(overrides)
    return await Client.connect(**connect_config)
