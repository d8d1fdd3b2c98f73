"""Liveness and readiness for the load balancer and the process supervisor."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ClientDep, SettingsDep
from api.models import Health, Readiness
from api.token_check import tokens_problem
from preflight.check import configuration_problems
from settings.app import Settings
from store.db import get_engine

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = timedelta(seconds=3)


@router.get("/healthz", response_model=Health, name="check_health")
async def healthz() -> Health:
    """The process is up and serving; says nothing about its dependencies."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "Temporal or the register is down, or a configured file is broken",
        }
    },
    name="check_ready",
)
async def readyz(client: ClientDep, settings: SettingsDep) -> JSONResponse:
    """200 only when Temporal and the register both answer and every configured file
    is usable; 503 names what failed."""
    temporal, database, configuration = await asyncio.gather(
        _temporal(client), _database(settings.database_url), _configuration(settings)
    )
    checks = {"temporal": temporal, "database": database, "configuration": configuration}
    ready = all(result == "ok" for result in checks.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=checks)
    return JSONResponse(
        body.model_dump(),
        status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE,
    )


async def _temporal(client: ClientDep) -> str:
    try:
        healthy = await client.service_client.check_health(timeout=CHECK_TIMEOUT)
    except Exception as exc:  # any failure means "not ready", and says which
        return f"failed: {type(exc).__name__}: {exc}"
    return "ok" if healthy else "failed: not serving"


async def _configuration(settings: Settings) -> str:
    # Cheap: each file is parsed again only when its modification time or size changed.
    problems = await run_in_threadpool(configuration_problems, settings, tokens=tokens_problem)
    return "ok" if not problems else "failed: " + "; ".join(problems)


def _select_one(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        connection.execute(text("SELECT 1"))


async def _database(database_url: str) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT.total_seconds()):
            await run_in_threadpool(_select_one, database_url)
    except Exception as exc:  # any failure means "not ready", and says which
        return f"failed: {type(exc).__name__}: {exc}"
    return "ok"
