"""Two tiny workflows for the sandbox runner's tests, in a module of their own: the
sandbox re-imports a workflow's module, and this one imports nothing but the SDK."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow


@workflow.defn(sandboxed=True)
class Echo:
    @workflow.run
    async def run(self, text: str) -> str:
        await workflow.sleep(timedelta(seconds=1))
        return text.upper()


@workflow.defn(sandboxed=True)
class ReadsTheClock:
    """Reads the wall clock at run time: the sandbox must refuse it."""

    @workflow.run
    async def run(self) -> None:
        datetime.now()
