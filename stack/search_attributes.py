"""The case search attributes: what supervisors filter on in the Web UI.

Temporal rejects an upsert of an unregistered custom search attribute and the workflow
task then fails in a loop, so every place a server comes from registers these first:
``temporal server start-dev`` gets :data:`DEV_SERVER_ARGS`, tests pass
:data:`CASE_SEARCH_ATTRIBUTES` to ``WorkflowEnvironment.start_local``, and an existing
cluster is set up with ``python -m stack.search_attributes``.

Search attribute values are indexed in plain text, outside the payload codec: they must
never carry customer data (names, phone numbers, ID numbers). Staff names and case
facts only. The dev server's SQL visibility allows 10 Keyword attributes and 3 of every
other type; this set uses 9 Keyword, 2 Bool, 2 Datetime and 1 Int.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from contracts.search_attributes import CASE_SEARCH_ATTRIBUTES

# The type names ``temporal server start-dev --search-attribute NAME=TYPE`` accepts.
_CLI_TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

# Name -> "Keyword" / "Bool" / ...: the attributes as plain data (docs, checks).
CASE_SEARCH_ATTRIBUTE_TYPES: dict[str, str] = {
    key.name: _CLI_TYPE_NAMES[key.indexed_value_type] for key in CASE_SEARCH_ATTRIBUTES
}

# Arguments for ``temporal server start-dev`` so the dev stack starts with them.
DEV_SERVER_ARGS: list[str] = [
    arg
    for name, type_name in CASE_SEARCH_ATTRIBUTE_TYPES.items()
    for arg in ("--search-attribute", f"{name}={type_name}")
]


class SearchAttributeConflictError(RuntimeError):
    """A case attribute already exists with another type; it cannot be re-typed."""


async def _list_attributes(client: Client, namespace: str) -> dict[str, int]:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    existing: dict[str, int] = dict(response.system_attributes)
    existing.update(response.custom_attributes)
    return existing


def _type_name(value: int) -> str:
    try:
        return _CLI_TYPE_NAMES[SearchAttributeIndexedValueType(value)]
    except (ValueError, KeyError):
        return f"type {value}"


def _check_types(existing: dict[str, int], keys: Sequence[SearchAttributeKey[Any]]) -> None:
    conflicts = [
        f"{key.name} is {_type_name(existing[key.name])}, "
        f"expected {_type_name(key.indexed_value_type)}"
        for key in keys
        if key.name in existing and existing[key.name] != int(key.indexed_value_type)
    ]
    if conflicts:
        raise SearchAttributeConflictError(
            "search attributes registered with the wrong type: " + "; ".join(conflicts)
        )


async def register_search_attributes(
    client: Client,
    namespace: str,
    keys: Sequence[SearchAttributeKey[Any]] = CASE_SEARCH_ATTRIBUTES,
) -> list[str]:
    """Add the case attributes missing from ``namespace``; return the names added.

    Lists first and adds only what is missing, so running it twice (or on a dev server
    started with :data:`DEV_SERVER_ARGS`) adds nothing and raises nothing. An attribute
    that exists with another type is an error: the server cannot change it in place.
    """
    existing = await _list_attributes(client, namespace)
    _check_types(existing, keys)
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in keys
        if key.name not in existing
    }
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as exc:
        # Another process registered them between our list and add: fine if the end
        # state is right.
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
        existing = await _list_attributes(client, namespace)
        _check_types(existing, keys)
        return [name for name in missing if name not in existing]
    return sorted(missing)


async def _main(argv: Sequence[str] | None = None) -> int:
    # Imported here: workflow code imports this module for its keys and must not pull
    # the client, settings and cryptography into the workflow sandbox.
    from codec.converter import connect_client
    from settings.app import get_settings

    parser = argparse.ArgumentParser(
        prog="python -m stack.search_attributes",
        description="Register the case search attributes on an existing Temporal cluster. "
        "The connection comes from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE "
        "and Temporal's config file.",
    )
    parser.add_argument("--namespace", help="namespace (default: the client's namespace)")
    parser.add_argument(
        "--print-dev-args",
        action="store_true",
        help="print the 'temporal server start-dev' arguments and exit",
    )
    args = parser.parse_args(argv)
    if args.print_dev_args:
        print(" ".join(DEV_SERVER_ARGS))
        return 0
    client = await connect_client(get_settings())
    namespace: str = args.namespace or client.namespace
    added = await register_search_attributes(client, namespace)
    if added:
        print(f"added to {namespace}: {', '.join(added)}")
    else:
        print(f"all {len(CASE_SEARCH_ATTRIBUTES)} case search attributes already in {namespace}")
    return 0


if __name__ == "__main__":
    exit_code = asyncio.run(_main())
    sys.stdout.flush()
    sys.stderr.flush()
    # The client's Rust core threads can touch the GIL while a short-lived process is
    # finalising and abort it after the work is done (temporalio/sdk-python issue 300,
    # still open). Everything is flushed and nothing is left to clean up: skip teardown.
    os._exit(exit_code)
