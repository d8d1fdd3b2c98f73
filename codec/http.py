"""Temporal's remote codec protocol over HTTP, so the Web UI and CLI can show cases.

The Web UI and the CLI (``temporal workflow show --codec-endpoint <api>/codec
--codec-auth "Bearer <token>"``) POST ``{"payloads": [...]}`` in protobuf JSON to
``<endpoint>/encode`` and ``<endpoint>/decode`` and expect the same shape back. The UI
also sends ``X-Namespace`` (one keyring serves every namespace here, so it is ignored)
and, when set to pass the user's access token, ``Authorization``.

Wiring in the API app::

    app.include_router(build_codec_router(SupervisorOnly))
    add_codec_cors(app, settings)

then point the Web UI's codec endpoint at ``<api-base-url>/codec`` (the dev server:
``temporal server start-dev --ui-codec-endpoint http://localhost:8000/codec``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from codec.converter import case_payload_codec
from codec.encryption import CodecError
from settings.app import Settings, get_settings

CODEC_PREFIX = "/codec"
CODEC_PATHS = (f"{CODEC_PREFIX}/encode", f"{CODEC_PREFIX}/decode")
# What the Web UI sends with codec requests; a preflight asks for exactly these.
CODEC_CORS_HEADERS = ("content-type", "x-namespace", "authorization")

_PAYLOADS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "payloads": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "metadata": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "format": "byte"},
                    },
                    "data": {"type": "string", "format": "byte"},
                },
            },
        }
    },
    "required": ["payloads"],
}
_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _PAYLOADS_SCHEMA}},
    },
    "responses": {
        "200": {
            "description": "The payloads, encoded or decoded",
            "content": {"application/json": {"schema": _PAYLOADS_SCHEMA}},
        }
    },
}


def build_codec_router(
    authorise: Callable[..., Any],
    *,
    settings: Settings | None = None,
    codec: PayloadCodec | None = None,
) -> APIRouter:
    """``POST /codec/encode`` and ``/codec/decode``, each guarded by ``authorise``.

    ``authorise`` is a FastAPI dependency that raises (401/403) for callers who may not
    read personal data; the API passes its supervisor-only dependency. The codec is the
    one built from ``settings`` (default: the process settings) unless ``codec`` is
    given. With no keys configured (development only) both endpoints echo their input.
    """
    active = codec if codec is not None else case_payload_codec(settings or get_settings())
    router = APIRouter(prefix=CODEC_PREFIX, tags=["codec"], dependencies=[Depends(authorise)])

    @router.post(
        "/encode", openapi_extra=_OPENAPI_BODY, summary="Encrypt payloads", name="encode_payloads"
    )
    async def encode(request: Request) -> Response:
        payloads = await _read_payloads(request)
        if active is not None:
            await active.encode_wrapper(payloads)
        return _payloads_response(payloads)

    @router.post(
        "/decode", openapi_extra=_OPENAPI_BODY, summary="Decrypt payloads", name="decode_payloads"
    )
    async def decode(request: Request) -> Response:
        payloads = await _read_payloads(request)
        if active is not None:
            try:
                await active.decode_wrapper(payloads)
            except CodecError as exc:
                # The message names the key id only, never data: safe to return.
                raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
        return _payloads_response(payloads)

    return router


async def _read_payloads(request: Request) -> Payloads:
    body = await request.body()
    try:
        # Parse decodes the bytes as UTF-8 itself: bytes that are not are the caller's
        # mistake as much as JSON that is not protobuf JSON.
        return json_format.Parse(body, Payloads())
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            'body must be {"payloads": [...]} in protobuf JSON form',
        ) from exc


def _payloads_response(payloads: Payloads) -> Response:
    # Print the empty list too: the answer always has its "payloads", as its schema says.
    text = json_format.MessageToJson(payloads, always_print_fields_with_no_presence=True)
    return Response(content=text, media_type="application/json")


def codec_cors_origins(settings: Settings) -> list[str]:
    """The origins allowed to call the codec endpoints: the Web UI's URL(s)."""
    return [o.strip().rstrip("/") for o in settings.codec_cors_origins.split(",") if o.strip()]


class CodecCORSMiddleware:
    """CORS for the codec paths only; every other API route stays same-origin.

    The browser's preflight (OPTIONS) carries no Authorization header, so it must be
    answered here, before routing and before the router's auth dependency runs.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_origins: Collection[str],
        paths: Collection[str] = CODEC_PATHS,
    ) -> None:
        self._app = app
        self._paths = tuple(p.rstrip("/") for p in paths)
        wildcard = "*" in allow_origins
        self._cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_methods=("POST",),
            allow_headers=CODEC_CORS_HEADERS,
            # The UI's "include cross-origin credentials" option needs this; browsers
            # forbid credentials with a wildcard origin, so only for named origins.
            allow_credentials=not wildcard,
            max_age=3600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # endswith: the router may be mounted under a prefix (or behind a root_path).
        if scope["type"] == "http" and str(scope["path"]).rstrip("/").endswith(self._paths):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def add_codec_cors(app: Starlette, settings: Settings) -> None:
    """Let the Web UI (``CASE_CODEC_CORS_ORIGINS``) call the codec endpoints.

    Call before the app starts serving (Starlette builds its middleware stack then).
    """
    app.add_middleware(CodecCORSMiddleware, allow_origins=codec_cors_origins(settings))
