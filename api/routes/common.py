"""Pieces the case routers share: the case ID in the path and building action inputs."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.errors import CaseNotFoundError
from api.ids import normalise_case_id

ModelT = TypeVar("ModelT", bound=BaseModel)


def case_id_from_path(
    case_id: Annotated[str, Path(description="The case reference, e.g. C7K2M9Q4X", max_length=40)],
) -> str:
    """The canonical case ID; a reference that cannot be a case is simply unknown (404).

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
