"""Complaint taxonomies as data files (R9.2, R9.3): ``policy/taxonomies/<id>.toml``.

A taxonomy is a few coded axes (JR/T 0169-2018: channel, business type, reason; the
FCA: product group, cause). A new one (the FCA's PS25/19 taxonomy from 2027) is a new
file, not new code: a policy's ``[regulator]`` names it by id, and it is looked up
beside the policy file first (``<policy dir>/taxonomies/<id>.toml``), then among the
built-in ones.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from contracts.policy import TaxonomyCodes

__all__ = [
    "Taxonomy",
    "TaxonomyAxis",
    "TaxonomyCode",
    "TaxonomyError",
    "built_in_taxonomies",
    "load_taxonomy",
    "load_taxonomy_file",
]

TaxonomyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]{1,60}$")]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TaxonomyError(ValueError):
    """A taxonomy that cannot be used; the message names the file and the key."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaxonomyCode(_Table):
    code: Code
    label_en: Label
    label_zh: Label


class TaxonomyAxis(_Table):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,39}$")]
    label_en: Label
    label_zh: Label
    codes: Annotated[list[TaxonomyCode], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_codes(self) -> TaxonomyAxis:
        seen: set[str] = set()
        for code in self.codes:
            if code.code in seen:
                raise ValueError(f"code {code.code!r} appears twice")
            seen.add(code.code)
        return self


class Taxonomy(_Table):
    """The whole file: its id and version, where it comes from, and its axes."""

    taxonomy: TaxonomyId
    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    title: Label
    source: Label
    axes: Annotated[list[TaxonomyAxis], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_axes(self) -> Taxonomy:
        names = [axis.name for axis in self.axes]
        if len(set(names)) != len(names):
            raise ValueError("axes: two axes share a name")
        return self

    def codes(self) -> TaxonomyCodes:
        """The codes alone, as a case carries them in its policy."""
        return TaxonomyCodes(
            taxonomy=self.taxonomy,
            version=self.version,
            axes={axis.name: [c.code for c in axis.codes] for axis in self.axes},
        )

    def label(self, axis: str, code: str, language: str = "en") -> str:
        for each in self.axes:
            if each.name == axis:
                for item in each.codes:
                    if item.code == code:
                        return item.label_zh if language == "zh" else item.label_en
        return code


def _describe(err: ValidationError) -> str:
    problems = []
    for error in err.errors():
        where = ""
        for part in error["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f"{'.' if where else ''}{part}"
        problem = "missing" if error["type"] == "missing" else error["msg"]
        if error["type"] == "extra_forbidden":
            problem = "unknown key"
        problems.append(f"{where}: {problem}" if where else problem)
    return "; ".join(problems)


@lru_cache(maxsize=32)
def _parse(content: bytes, source: str) -> Taxonomy:
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise TaxonomyError(f"{source}: not valid UTF-8 TOML: {err}") from err
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as err:
        raise TaxonomyError(f"{source}: {_describe(err)}") from err


def load_taxonomy_file(path: Path) -> Taxonomy:
    """One taxonomy file, checked completely."""
    try:
        content = path.read_bytes()
    except OSError as err:
        raise TaxonomyError(f"taxonomy file {path}: cannot be read: {err.strerror}") from err
    return _parse(content, f"taxonomy file {path}")


def built_in_taxonomies() -> list[str]:
    """The ids of the taxonomies shipped with the engine."""
    folder = resources.files("policy").joinpath("taxonomies")
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load_taxonomy(taxonomy_id: str, search: Sequence[Path] = ()) -> Taxonomy:
    """The taxonomy ``taxonomy_id``: the first ``<dir>/<id>.toml`` of ``search``, else
    the built-in one; its own ``taxonomy`` key must agree with the id."""
    for folder in search:
        candidate = folder / f"{taxonomy_id}.toml"
        if candidate.is_file():
            found = load_taxonomy_file(candidate)
            break
    else:
        built_in = resources.files("policy").joinpath("taxonomies", f"{taxonomy_id}.toml")
        if not built_in.is_file():
            known = ", ".join(built_in_taxonomies())
            raise TaxonomyError(f"no taxonomy {taxonomy_id!r} (built in: {known})")
        found = _parse(built_in.read_bytes(), f"built-in taxonomy {taxonomy_id}.toml")
    if found.taxonomy != taxonomy_id:
        raise TaxonomyError(
            f"taxonomy {taxonomy_id!r}: the file's taxonomy key says {found.taxonomy!r}"
        )
    return found
