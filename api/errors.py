"""What can go wrong with a case request, and the HTTP status each one means.

Temporal's exceptions are translated here once, so every route answers the same way:
a case that does not exist is 404, an action the case's stage refuses is 409 with the
workflow's reason, a value wrong for this case is 422, and an engine that does not
answer is 503 - never a 500 for a caller's mistake.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from temporalio.client import (
    RPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

# The error types the case workflow's validators raise (``RejectionError.kind``).
ACTION_REJECTED = "ActionRejected"
INVALID_ACTION = "InvalidAction"
WRONG_DEPARTMENT = "WrongDepartment"


class CaseError(Exception):
    """An outcome the API reports to the caller, with its status code."""

    status_code: int = status.HTTP_409_CONFLICT

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail}


class CaseNotFoundError(CaseError):
    status_code = status.HTTP_404_NOT_FOUND

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id}")


class CaseClosedError(CaseError):
    """The case's workflow has completed: it keeps its record but takes no action."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"case {case_id} is closed for good and takes no more actions")


class ActionRejectedError(CaseError):
    """The action does not fit the case as it stands (wrong stage, already done...)."""


class InvalidActionError(CaseError):
    """A value the workflow found wrong for this case; shaped like FastAPI's 422s."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT

    def __init__(self, detail: str, loc: Sequence[str] = ("body",)) -> None:
        super().__init__(detail)
        self.loc = list(loc)

    def body(self) -> dict[str, Any]:
        return {"detail": [{"loc": self.loc, "msg": self.detail, "type": "invalid_action"}]}


class WrongDepartmentError(CaseError):
    """A department acted on a case another department holds (checked by the workflow
    itself, so it cannot race a transfer)."""

    status_code = status.HTTP_403_FORBIDDEN


class EngineUnavailableError(CaseError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class ActionPendingError(CaseError):
    """The engine took the action in but did not finish it in time.

    The update stays queued on the case and applies when a worker picks it up;
    repeating the request with the same ``Idempotency-Key`` returns its result.
    """

    status_code = status.HTTP_504_GATEWAY_TIMEOUT


# The workflow starts an InvalidAction's reason with the input field it is about
# ("department: unknown department ..."); these fields come from the URL, not the body.
_PATH_FIELDS = frozenset({"remedy_id", "clock"})
_FIELD_PREFIX = re.compile(r"^([a-z_]+): ")


def _location(reason: str) -> tuple[str, ...]:
    """Where the offending value was in the request, as FastAPI's ``loc`` says it."""
    match = _FIELD_PREFIX.match(reason)
    if match is None or match.group(1) == "actor":  # the actor is the token, not a field
        return ("body",)
    field = match.group(1)
    if field in _PATH_FIELDS:
        return ("path", "name" if field == "clock" else field)
    return ("body", field)


def from_update_failure(err: WorkflowUpdateFailedError) -> CaseError:
    """The workflow's refusal of an action, as the caller should see it."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        if cause.type == INVALID_ACTION:
            return InvalidActionError(cause.message, _location(cause.message))
        if cause.type == WRONG_DEPARTMENT:
            return WrongDepartmentError(cause.message)
        if cause.type == ACTION_REJECTED:
            return ActionRejectedError(cause.message)
    # Anything else is the engine failing (a calendar that cannot be read, a timeout
    # inside the update), not the case refusing: the caller may retry.
    return EngineUnavailableError(f"the case could not complete the action: {cause}")


@asynccontextmanager
async def temporal_errors(case_id: str, *, reading: bool = False) -> AsyncIterator[None]:
    """Translate Temporal's exceptions for one case into ``CaseError``.

    A write that times out may still apply (504, retry with the key); a read that times
    out means no worker answered (503).
    """
    try:
        yield
    except WorkflowUpdateFailedError as err:
        raise from_update_failure(err) from err
    except (RPCTimeoutOrCancelledError, TimeoutError) as err:
        if reading:
            raise EngineUnavailableError(f"case {case_id} did not answer in time") from err
        raise ActionPendingError(
            f"case {case_id} did not answer in time; the request may still apply - "
            "repeat it with the same Idempotency-Key to get its outcome"
        ) from err
    except WorkflowQueryRejectedError as err:
        raise CaseClosedError(case_id) from err
    except WorkflowQueryFailedError as err:
        raise EngineUnavailableError(f"case {case_id} could not be read: {err.message}") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFoundError(case_id) from err
        if err.status in (
            RPCStatusCode.UNAVAILABLE,
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.RESOURCE_EXHAUSTED,
        ):
            raise EngineUnavailableError("the case engine is not reachable; try again") from err
        raise


async def _case_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CaseError)
    headers = {"Retry-After": "5"} if isinstance(exc, EngineUnavailableError) else None
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CaseError, _case_error_handler)
