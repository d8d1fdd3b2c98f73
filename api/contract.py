"""The API's contract as a client generator reads it.

One error model for every answer that is not a success, the answers each family of
routes can give, and what the schema cannot learn from the code alone: the configured
channels, and the links from an opened case (or incident) to the actions on it, which
generated clients and stateful fuzzers follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict


class FieldError(BaseModel):
    """One wrong value: where it was (``["body", "channel"]``), what is wrong, its kind.

    FastAPI adds the offending ``input`` (and ``ctx`` for a constraint) when it has it."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ApiError(BaseModel):
    """Every error answer: a sentence for the caller, or (422) the fields that were wrong."""

    detail: str | list[FieldError]


_MEANING: dict[int, str] = {
    400: "The body is not JSON (or, for the codec, not protobuf JSON payloads)",
    401: "No bearer token, or an unknown one",
    403: "The caller's role, or department, may not do this",
    404: "There is no such case, incident, report or finding",
    409: "The case as it stands refuses the action (its stage, closed for good), or the"
    " Idempotency-Key already opened other cases",
    422: "A value is wrong; ``detail`` names each field",
    503: "The case engine or the register is not answering; retry after ``Retry-After``",
    504: "Taken in but not finished in time; repeat with the same Idempotency-Key",
}

Responses = dict[int | str, dict[str, Any]]


def errors(*codes: int) -> Responses:
    """The ``responses`` of a route (or router) that can answer ``codes``."""
    return {code: {"model": ApiError, "description": _MEANING[code]} for code in codes}


# The answers of each family of routes, besides its success.
AUTHENTICATED = (401, 403, 422)
READ_CASE = errors(*AUTHENTICATED, 404, 409, 503)
CASE_ACTION = errors(400, *AUTHENTICATED, 404, 409, 503, 504)
OPEN_CASE = errors(400, *AUTHENTICATED, 409, 503, 504)
REGISTER = errors(*AUTHENTICATED, 503)


def operation_id(route: APIRoute) -> str:
    """A route's operation ID is its name (``open_case``, ``acknowledge_case``): short,
    stable, and what a generated client calls its function."""
    return route.name


def install_contract(app: FastAPI, channels: Sequence[str]) -> None:
    """Finish the generated schema once, when it is first asked for."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _document_channels(schema, list(channels))
            _link_actions(schema, "/v1/cases", "open_case", "case_id")
            _link_actions(schema, "/v1/crises", "open_crisis", "incident_id")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_channels(schema: dict[str, Any], channels: list[str]) -> None:
    """Intake refuses a channel outside the configured list; the schema says which."""
    case_create = schema["components"]["schemas"].get("CaseCreate")
    if case_create is not None:
        case_create["properties"]["channel"]["enum"] = channels


def _link_actions(schema: dict[str, Any], collection: str, creator: str, key: str) -> None:
    """Links from the creating operation's answers to every operation on the one it
    created, filling ``{key}`` from the answer's body."""
    item = f"{collection}/{{{key}}}"
    targets = [
        op["operationId"]
        for path, ops in schema["paths"].items()
        if path == item or path.startswith(f"{item}/")
        for op in ops.values()
    ]
    for ops in schema["paths"].values():
        for op in ops.values():
            if op.get("operationId") != creator:
                continue
            for code, answer in op["responses"].items():
                if code.startswith("2"):
                    answer["links"] = {
                        target: {
                            "operationId": target,
                            "parameters": {key: f"$response.body#/{key}"},
                        }
                        for target in targets
                    }
