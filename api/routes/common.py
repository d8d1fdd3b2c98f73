"""Pieces the case routers share: the case ID in the path and building action inputs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ValidationError

from api.errors import CaseNotFoundError
from api.ids import normalise_case_id

ModelT = TypeVar("ModelT", bound=BaseModel)


async def case_id_from_path(
    case_id: Annotated[str, Path(description="The case reference, e.g. C7K2M9Q4X", max_length=40)],
) -> str:
    """The canonical case ID; a reference that cannot be a case is simply unknown (404).
    A coroutine, as it does no I/O: FastAPI runs a plain function in its thread pool.

    Read-out variants are accepted: lower case, hyphens, ``O`` for ``0``, ``I``/``L``
    for ``1``.
    """
    canonical = normalise_case_id(case_id)
    if canonical is None:
        raise CaseNotFoundError(case_id)
    return canonical


CaseId = Annotated[str, Depends(case_id_from_path)]


def build(model: type[ModelT], **fields: Any) -> ModelT:
    """Build a workflow input; a value its model refuses is a 422 naming the field."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from exc


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}.*)?$")


def _iso_text(value: object) -> object:
    """A query's date is ISO 8601 text: pydantic alone would also take ``0.5`` as a Unix
    time, which no caller means."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("an ISO 8601 date or date-time, e.g. 2026-12-01T09:00:00+08:00")
    return value


QueryDateTime = Annotated[datetime, BeforeValidator(_iso_text)]
