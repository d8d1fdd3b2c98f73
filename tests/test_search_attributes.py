"""The case search attributes register on any server, and registering twice is safe."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.search_attributes import (
    CASE_BREACHED,
    CASE_ESCALATION_LEVEL,
    CASE_KIND,
    CASE_NEXT_DEADLINE,
    CASE_SEARCH_ATTRIBUTES,
    CASE_STAGE,
)
from stack.search_attributes import (
    CASE_SEARCH_ATTRIBUTE_TYPES,
    DEV_SERVER_ARGS,
    SearchAttributeConflictError,
    register_search_attributes,
)

EXPECTED = {
    "CaseKind": "Keyword",
    "CaseChannel": "Keyword",
    "CaseStage": "Keyword",
    "CaseDepartment": "Keyword",
    "CaseOwner": "Keyword",
    "CasePriority": "Keyword",
    "CaseCategory": "Keyword",
    "CasePolicyVersion": "Keyword",
    "CaseBreached": "Bool",
    "CaseNextDeadline": "Datetime",
    "CaseEscalationLevel": "Int",
    "ImprovementStatus": "Keyword",
    "ImprovementOverdue": "Bool",
    "ImprovementDue": "Datetime",
}
# What the workflow uses, with the indexed types the server reports.
SERVER_TYPES = {"Keyword": 2, "Int": 3, "Bool": 5, "Datetime": 6}


def dev_server_path() -> str:
    return str(Path(sys.executable).parent / "temporal")


@workflow.defn
class UpsertCaseAttributesWorkflow:
    """Upserts every case attribute: fails in a loop if any is unregistered."""

    @workflow.run
    async def run(self) -> None:
        workflow.upsert_search_attributes(
            [
                CASE_STAGE.value_set("acknowledged"),
                CASE_BREACHED.value_set(True),
                CASE_ESCALATION_LEVEL.value_set(2),
                CASE_NEXT_DEADLINE.value_set(workflow.now()),
            ]
        )


@pytest.fixture(scope="module")
async def bare_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh dev server started WITHOUT the case attributes."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=dev_server_path()
    ) as env:
        yield env


def test_the_attributes_as_data() -> None:
    assert CASE_SEARCH_ATTRIBUTE_TYPES == EXPECTED
    assert [k.name for k in CASE_SEARCH_ATTRIBUTES] == list(EXPECTED)
    assert DEV_SERVER_ARGS[:2] == ["--search-attribute", "CaseKind=Keyword"]
    assert len(DEV_SERVER_ARGS) == 2 * len(EXPECTED)


def test_the_set_fits_the_dev_servers_sql_visibility() -> None:
    """SQL visibility (the dev server, small clusters) has 10 Keyword slots, 3 of others."""
    per_type = Counter(CASE_SEARCH_ATTRIBUTE_TYPES.values())
    assert per_type["Keyword"] <= 10
    assert all(count <= 3 for type_name, count in per_type.items() if type_name != "Keyword")


async def test_register_adds_all_then_nothing(bare_env: WorkflowEnvironment) -> None:
    client = bare_env.client
    namespace = client.namespace
    added = await register_search_attributes(client, namespace)
    assert added == sorted(EXPECTED)

    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert {name: listed.custom_attributes[name] for name in EXPECTED} == {
        name: SERVER_TYPES[type_name] for name, type_name in EXPECTED.items()
    }

    assert await register_search_attributes(client, namespace) == []

    # And a workflow can now upsert them, and be found by them.
    task_queue = f"sa-{uuid.uuid4()}"
    workflow_id = f"case-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[UpsertCaseAttributesWorkflow]):
        await client.execute_workflow(
            UpsertCaseAttributesWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            # An unregistered upsert fails the task in a loop: end it instead of hanging.
            execution_timeout=timedelta(seconds=10),
            search_attributes=TypedSearchAttributes([SearchAttributePair(CASE_KIND, "complaint")]),
        )
    query = (
        "CaseKind = 'complaint' AND CaseStage = 'acknowledged' AND CaseBreached = true "
        f"AND CaseEscalationLevel = 2 AND WorkflowId = '{workflow_id}'"
    )
    found = 0
    for _ in range(100):  # visibility lags the workflow slightly
        found = (await client.count_workflows(query)).count
        if found == 1:
            break
        await asyncio.sleep(0.05)
    assert found == 1


async def test_cli_on_an_existing_cluster_is_safe_to_rerun(bare_env: WorkflowEnvironment) -> None:
    await register_search_attributes(bare_env.client, bare_env.client.namespace)
    env_vars = {
        **os.environ,
        "TEMPORAL_ADDRESS": bare_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": bare_env.client.namespace,
        "CASE_ENVIRONMENT": "test",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stack.search_attributes",
        env=env_vars,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert "already in" in stdout.decode()


async def test_an_attribute_with_the_wrong_type_is_an_error(
    bare_env: WorkflowEnvironment,
) -> None:
    await register_search_attributes(bare_env.client, bare_env.client.namespace)
    with pytest.raises(SearchAttributeConflictError, match="CaseStage is Keyword, expected Int"):
        await register_search_attributes(
            bare_env.client, bare_env.client.namespace, [SearchAttributeKey.for_int("CaseStage")]
        )


async def test_dev_server_args_register_the_same_attributes() -> None:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=dev_server_path(), dev_server_extra_args=DEV_SERVER_ARGS
    ) as env:
        assert await register_search_attributes(env.client, env.client.namespace) == []
