"""Request dependencies as ``Annotated`` aliases: the client, settings, a register
session, and the caller with the roles each route allows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from temporalio.client import Client

from api.auth import Principal, Role, TokenTable
from codec.http import codec_cors_origins
from settings.app import Settings
from store.db import session_scope

# The dependencies that do no I/O are coroutines: FastAPI runs a plain ``def``
# dependency in its thread pool, a hand-off to another thread and back for each one on
# every request (a sixth of the API's interpreter time under load, ``bench/README.md``).


async def get_client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A read transaction on the register (FastAPI runs this in its thread pool)."""
    settings: Settings = request.app.state.settings
    with session_scope(settings.database_url) as session:
        yield session


ClientDep = Annotated[Client, Depends(get_client)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="Token from CASE_API_TOKENS_FILE")


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def get_current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind the bearer token; 401 without one or with an unknown one."""
    return _principal(request, credentials)


def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised("a bearer token is required")
    tokens: TokenTable = request.app.state.tokens
    principal = tokens.lookup(credentials.credentials)
    if principal is None:
        raise _unauthorised("unknown token")
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only ``roles`` through (403 for any other role)."""
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> Principal:
        return _in_roles(user, allowed)

    return check


def _in_roles(user: Principal, allowed: frozenset[Role]) -> Principal:
    if user.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"only {names} may do this")
    return user


# Who may do what (REQUIREMENTS "Who uses it").
Reader = Annotated[
    Principal, Depends(require_roles(Role.FRONTLINE, Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR))
]
Opener = Annotated[Principal, Depends(require_roles(Role.FRONTLINE, Role.AGENT, Role.SUPERVISOR))]
FeedbackTaker = Opener
Handler = Annotated[Principal, Depends(require_roles(Role.AGENT, Role.SUPERVISOR))]
DepartmentActor = Annotated[
    Principal, Depends(require_roles(Role.AGENT, Role.DEPARTMENT, Role.SUPERVISOR))
]
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]


async def codec_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """Who may decode personal data: supervisors, by bearer token.

    One development-only exception: the dev stack's Web UI runs without single sign-on,
    so it cannot send a token. In ``development`` a token-less call from a configured
    Web UI origin is let through; a wrong or non-supervisor token is still refused, and
    outside development a token is always required (put the UI behind SSO that passes
    the supervisor's access token).
    """
    settings: Settings = request.app.state.settings
    origin = request.headers.get("origin")
    if (
        credentials is None
        and settings.environment == "development"
        and origin is not None
        and origin in codec_cors_origins(settings)
    ):
        return None
    return _in_roles(_principal(request, credentials), frozenset({Role.SUPERVISOR}))


def ensure_department_scope(user: Principal, department: str | None) -> None:
    """A department sees and acts on its own cases only: 403 for any other."""
    if user.role is Role.DEPARTMENT and department != user.department:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this case is not with department {user.department}"
        )


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Repeat a request with the same key and it applies once.",
    ),
]
