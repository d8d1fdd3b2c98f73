"""The HTTP API: frontline systems open cases, handlers act on them (REQUIREMENTS
"Who uses it"). Run with ``uvicorn api.main:app``; OpenAPI at ``/docs``.

The Temporal client, settings and tokens live in ``app.state``, set up by the
lifespan, so tests can build as many apps as they like with their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from temporalio.client import Client

from api.auth import load_tokens
from api.contract import errors, install_contract, operation_id
from api.deps import codec_caller
from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.routes import actions, cases, crises, departments, health, regulatory, reports
from api.routes.agents import router as people_router
from api.routes.improvement import router as improvement_router
from api.token_check import tokens_problem
from codec.converter import connect_client
from codec.http import add_codec_cors, build_codec_router
from preflight.check import check_configuration
from settings.app import Settings, get_settings
from store.migrate import upgrade_to_head


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    """An API app; ``client`` is connected at startup unless one is given."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Refuse to start on a file that cannot be used, naming the file and the key.
        check_configuration(settings, tokens=tokens_problem)
        app.state.settings = settings
        app.state.tokens = load_tokens(settings.api_tokens_file)
        await run_in_threadpool(upgrade_to_head, settings.database_url)
        app.state.client = client if client is not None else await connect_client(settings)
        yield

    app = FastAPI(
        title="Case engine",
        version="1",
        summary="Bank customer-service inquiries and complaints, each a durable workflow.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(cases.router)
    app.include_router(actions.router)
    app.include_router(departments.router)
    app.include_router(crises.router)
    app.include_router(reports.router)
    app.include_router(people_router)
    app.include_router(improvement_router)
    app.include_router(reports.feedback_router)
    app.include_router(regulatory.router)
    # The Web UI decodes encrypted payloads here; personal data, so supervisors only.
    app.include_router(
        build_codec_router(codec_caller, settings=settings), responses=errors(400, 401, 403)
    )
    add_codec_cors(app, settings)
    install_metrics(app, settings.database_url)
    install_contract(app, settings.channels)
    return app


app = create_app()
