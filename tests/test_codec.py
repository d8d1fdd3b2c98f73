"""Personal data is encrypted before it reaches Temporal, and only authorised callers
can decrypt it through the codec endpoints (docs/architecture.md, rule 7)."""

from __future__ import annotations

import asyncio
import base64
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from temporalio import workflow
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

# The sandbox re-imports this module to run the workflow defined below; the HTTP
# stack and the codec are only used outside it, so they pass through unchanged.
with workflow.unsafe.imports_passed_through():
    import httpx
    import pytest
    import uvicorn
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from google.protobuf import json_format
    from pydantic import BaseModel

    from codec import (
        CodecKeyError,
        EncryptionCodec,
        PayloadDecryptError,
        UnknownKeyError,
        case_data_converter,
        connect_client,
        generate_dev_key,
        generate_key,
        parse_codec_keys,
    )
    from codec.http import CODEC_CORS_HEADERS, add_codec_cors, build_codec_router
    from contracts.case import Customer
    from settings.app import DEV_CODEC_KEY_MARKER, Settings

NAME = "Li Xiaoming"
NAME_ZH = "李晓明"
PHONE = "+86 138 0013 8000"
EMAIL = "li.xiaoming@example.cn"
SECRETS = (NAME, NAME_ZH, PHONE, EMAIL)

OLD_KEY = generate_key("k2025")
NEW_KEY = generate_key("k2026")
ALLOWED_TOKEN = "supervisor-token"
OTHER_TOKEN = "agent-token"
UI_ORIGIN = "http://ui.example.test:8233"


def settings_with(keys: str | None) -> Settings:
    return Settings(environment="test", codec_keys=keys, codec_cors_origins=UI_ORIGIN)


def customer() -> Customer:
    return Customer(id="cust-001", name=f"{NAME} {NAME_ZH}", phone=PHONE, email=EMAIL)


def payload_of(value: object) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([value])[0]


def assert_no_personal_data(raw: bytes) -> None:
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret!r} found in plain text"


# --- keys ------------------------------------------------------------------------------


def test_keys_parse_in_order_and_the_first_is_active() -> None:
    keys = parse_codec_keys(f"{NEW_KEY}, {OLD_KEY}")
    assert [k.kid for k in keys] == ["k2026", "k2025"]
    assert EncryptionCodec(keys).active_key_id == "k2026"
    assert parse_codec_keys(None) == parse_codec_keys("  ") == []


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("nokey", "kid:base64key"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "must be 32 bytes"),
        (f"{OLD_KEY},{OLD_KEY}", "appears twice"),
    ],
)
def test_malformed_keys_are_refused_without_echoing_key_material(raw: str, complaint: str) -> None:
    with pytest.raises(CodecKeyError, match=complaint) as caught:
        parse_codec_keys(raw)
    secret_part = raw.partition(":")[2]
    if len(secret_part) > 8:
        assert secret_part not in str(caught.value)


def test_dev_key_is_usable_and_marked_as_development() -> None:
    dev = generate_dev_key()
    assert dev.startswith(DEV_CODEC_KEY_MARKER)
    assert len(parse_codec_keys(dev)) == 1
    with pytest.raises(ValueError, match="development key"):
        Settings(environment="production", codec_keys=dev, api_tokens_file=Path("t.toml"))


def test_key_repr_hides_the_key() -> None:
    (key,) = parse_codec_keys(OLD_KEY)
    assert OLD_KEY.partition(":")[2] not in repr(key)


# --- the codec ---------------------------------------------------------------------------


async def test_round_trip_hides_personal_data() -> None:
    codec = EncryptionCodec(parse_codec_keys(OLD_KEY))
    original = payload_of(customer())
    (encrypted,) = await codec.encode([original])
    assert encrypted.metadata["encoding"] == b"binary/encrypted"
    assert encrypted.metadata["encryption-key-id"] == b"k2025"
    assert_no_personal_data(encrypted.SerializeToString())
    (decrypted,) = await codec.decode([encrypted])
    assert decrypted == original
    restored = pydantic_data_converter.payload_converter.from_payloads([decrypted], [Customer])
    assert restored == [customer()]


async def test_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(parse_codec_keys(OLD_KEY))
    first, second = await codec.encode([payload_of(EMAIL), payload_of(EMAIL)])
    assert first.data != second.data


async def test_rotation_new_key_encrypts_old_payloads_still_decrypt() -> None:
    before = EncryptionCodec(parse_codec_keys(OLD_KEY))
    (written_before,) = await before.encode([payload_of(customer())])

    after = EncryptionCodec(parse_codec_keys(f"{NEW_KEY},{OLD_KEY}"))
    (written_after,) = await after.encode([payload_of(customer())])
    assert written_after.metadata["encryption-key-id"] == b"k2026"

    assert await after.decode([written_before, written_after]) == [payload_of(customer())] * 2


async def test_unknown_key_id_is_a_clear_error() -> None:
    (old,) = await EncryptionCodec(parse_codec_keys(OLD_KEY)).encode([payload_of(NAME)])
    only_new = EncryptionCodec(parse_codec_keys(NEW_KEY))
    with pytest.raises(UnknownKeyError, match=r"key id 'k2025', which is not configured"):
        await only_new.decode([old])


async def test_tampered_key_id_or_ciphertext_fails_authentication() -> None:
    both = EncryptionCodec(parse_codec_keys(f"{NEW_KEY},{OLD_KEY}"))
    (sealed,) = await both.encode([payload_of(NAME)])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata["encryption-key-id"] = b"k2025"
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    for bad in (relabelled, flipped):
        with pytest.raises(PayloadDecryptError):
            await both.decode([bad])


async def test_plain_payloads_from_before_encryption_pass_through_decode() -> None:
    codec = EncryptionCodec(parse_codec_keys(OLD_KEY))
    plain = payload_of({"written": "before encryption"})
    assert await codec.decode([plain]) == [plain]


def test_converter_without_keys_is_plain_pydantic() -> None:
    assert case_data_converter(settings_with(None)) is pydantic_data_converter
    converter = case_data_converter(settings_with(OLD_KEY))
    assert isinstance(converter.payload_codec, EncryptionCodec)


# --- against a real Temporal dev server ------------------------------------------------


class EchoInput(BaseModel):
    customer: Customer
    description: str
    fail: bool = False


@workflow.defn
class EchoCustomerWorkflow:
    """Returns its input's personal data, or fails with it in the error message."""

    @workflow.run
    async def run(self, params: EchoInput) -> str:
        if params.fail:
            raise ApplicationError(f"no account for {params.customer.email}", type="NoAccount")
        return f"{params.customer.name} / {params.customer.phone} / {params.customer.email}"


def dev_server_path() -> str:
    return str(Path(sys.executable).parent / "temporal")


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    # No port given: the SDK picks a free one, never the default 7233.
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=dev_server_path(),
        data_converter=case_data_converter(settings_with(OLD_KEY)),
    ) as environment:
        yield environment


def server_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def test_history_holds_no_personal_data_but_decodes_with_the_codec(
    env: WorkflowEnvironment,
) -> None:
    task_queue = f"codec-{uuid.uuid4()}"
    params = EchoInput(customer=customer(), description=f"Card blocked, call {PHONE}")
    async with Worker(env.client, task_queue=task_queue, workflows=[EchoCustomerWorkflow]):
        handle = await env.client.start_workflow(
            EchoCustomerWorkflow.run,
            params,
            id=f"case-{uuid.uuid4()}",
            task_queue=task_queue,
            static_summary=f"Complaint from {NAME}",
        )
        assert await handle.result() == f"{NAME} {NAME_ZH} / {PHONE} / {EMAIL}"

    plain_client = await Client.connect(
        server_address(env), namespace=env.client.namespace, data_converter=pydantic_data_converter
    )
    history = await plain_client.get_workflow_handle(handle.id).fetch_history()
    assert_no_personal_data(History(events=history.events).SerializeToString())

    started = history.events[0].workflow_execution_started_event_attributes
    (input_payload,) = started.input.payloads
    assert input_payload.metadata["encoding"] == b"binary/encrypted"
    # A codec-less client cannot read the result ...
    with pytest.raises(Exception, match="binary/encrypted"):
        await plain_client.get_workflow_handle(handle.id).result()
    # ... the codec gives the customer back.
    (decoded,) = await case_data_converter(settings_with(OLD_KEY)).decode(
        [input_payload], [EchoInput]
    )
    assert decoded == params


async def test_failure_messages_are_encrypted_too(env: WorkflowEnvironment) -> None:
    task_queue = f"codec-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=task_queue, workflows=[EchoCustomerWorkflow]):
        handle = await env.client.start_workflow(
            EchoCustomerWorkflow.run,
            EchoInput(customer=customer(), description="x", fail=True),
            id=f"case-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    # The client with the codec sees the real message ...
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.message == f"no account for {EMAIL}"
    # ... the stored history does not.
    history = await handle.fetch_history()
    assert_no_personal_data(History(events=history.events).SerializeToString())


async def test_connect_client_reads_temporal_env_config(
    env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", server_address(env))
    monkeypatch.setenv("TEMPORAL_NAMESPACE", env.client.namespace)
    client = await connect_client(settings_with(f"{NEW_KEY},{OLD_KEY}"))
    assert client.service_client.config.target_host == server_address(env)
    codec = client.data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    assert codec.active_key_id == "k2026"
    # It really talks to the server, in the configured namespace.
    await client.count_workflows()
    overridden = await connect_client(settings_with(None), namespace="elsewhere")
    assert overridden.namespace == "elsewhere"
    assert overridden.data_converter is pydantic_data_converter


# --- the codec endpoints over real HTTP --------------------------------------------------

bearer = HTTPBearer(auto_error=False)


async def supervisor_only(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    if credentials is None:
        raise HTTPException(401, "missing token", headers={"WWW-Authenticate": "Bearer"})
    if credentials.credentials != ALLOWED_TOKEN:
        raise HTTPException(403, "supervisors only")


def codec_app(settings: Settings) -> FastAPI:
    app = FastAPI()
    app.include_router(build_codec_router(supervisor_only, settings=settings))

    @app.get("/other")
    async def other() -> dict[str, str]:
        return {"ok": "yes"}

    add_codec_cors(app, settings)
    return app


@pytest.fixture(scope="module")
async def codec_url() -> AsyncIterator[str]:
    # Bind the socket ourselves: port 0 gets a free port with no race.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        codec_app(settings_with(f"{NEW_KEY},{OLD_KEY}")),
        log_level="warning",
        ws="none",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "uvicorn failed to start"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    sock.close()


def as_json(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def from_json(body: str) -> list[Payload]:
    return list(json_format.Parse(body, Payloads()).payloads)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def test_codec_endpoints_encode_and_decode_for_the_allowed_token(codec_url: str) -> None:
    original = payload_of(customer())
    async with httpx.AsyncClient(base_url=codec_url) as http:
        encoded = await http.post(
            "/codec/encode", content=as_json([original]), headers=auth(ALLOWED_TOKEN)
        )
        assert encoded.status_code == 200, encoded.text
        (sealed,) = from_json(encoded.text)
        assert sealed.metadata["encryption-key-id"] == b"k2026"
        assert_no_personal_data(sealed.SerializeToString())

        # Written under the retired key (as an old history would be) and plain ones too.
        (old,) = await EncryptionCodec(parse_codec_keys(OLD_KEY)).encode([original])
        plain = payload_of("plain")
        decoded = await http.post(
            "/codec/decode",
            content=as_json([sealed, old, plain]),
            headers={**auth(ALLOWED_TOKEN), "X-Namespace": "default"},
        )
        assert decoded.status_code == 200, decoded.text
        assert from_json(decoded.text) == [original, original, plain]


async def test_codec_endpoints_refuse_other_tokens_and_anonymous_callers(
    codec_url: str,
) -> None:
    (sealed,) = await EncryptionCodec(parse_codec_keys(NEW_KEY)).encode([payload_of(NAME)])
    body = as_json([sealed])
    async with httpx.AsyncClient(base_url=codec_url) as http:
        for path in ("/codec/decode", "/codec/encode"):
            refused = await http.post(path, content=body, headers=auth(OTHER_TOKEN))
            assert refused.status_code == 403
            anonymous = await http.post(
                path, content=body, headers={"Content-Type": "application/json"}
            )
            assert anonymous.status_code == 401
            assert NAME not in refused.text + anonymous.text


async def test_codec_decode_reports_bad_input_as_400(codec_url: str) -> None:
    unknown_codec = EncryptionCodec(parse_codec_keys(generate_key("k1999")))
    (unknown,) = await unknown_codec.encode([payload_of(NAME)])
    async with httpx.AsyncClient(base_url=codec_url) as http:
        bad_key = await http.post(
            "/codec/decode", content=as_json([unknown]), headers=auth(ALLOWED_TOKEN)
        )
        assert bad_key.status_code == 400
        assert "k1999" in bad_key.json()["detail"]
        not_payloads = await http.post(
            "/codec/decode", content='{"nope": 1}', headers=auth(ALLOWED_TOKEN)
        )
        assert not_payloads.status_code == 400


async def test_cors_preflight_needs_no_auth_and_allows_the_ui_headers(codec_url: str) -> None:
    preflight_headers = {
        "Origin": UI_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    async with httpx.AsyncClient(base_url=codec_url) as http:
        preflight = await http.options("/codec/decode", headers=preflight_headers)
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
        allowed = {h.strip() for h in preflight.headers["access-control-allow-headers"].split(",")}
        assert set(CODEC_CORS_HEADERS) <= {h.lower() for h in allowed}
        assert "POST" in preflight.headers["access-control-allow-methods"]

        stranger = await http.options(
            "/codec/decode", headers={**preflight_headers, "Origin": "https://evil.example"}
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers

        # The actual request from the UI carries the CORS answer too.
        post = await http.post(
            "/codec/decode",
            content=as_json([payload_of("x")]),
            headers={**auth(ALLOWED_TOKEN), "Origin": UI_ORIGIN},
        )
        assert post.headers["access-control-allow-origin"] == UI_ORIGIN
        # CORS is scoped to the codec paths: the rest of the API stays same-origin.
        other = await http.get("/other", headers={"Origin": UI_ORIGIN})
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers
