"""Bearer tokens and the roles they carry.

Tokens live in a TOML file named by ``CASE_API_TOKENS_FILE`` and never in code::

    [tokens."<token>"]
    role = "department"
    user = "zhang.wei"
    department = "cards"

The token's ``user`` is the actor every action records (R2.2): a request body cannot
claim to be someone else.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.case import Name


class Role(StrEnum):
    """Who may do what (REQUIREMENTS "Who uses it")."""

    FRONTLINE = "frontline"
    AGENT = "agent"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"


class Principal(BaseModel):
    """The caller behind a token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    user: Name
    department: Name | None = None

    @model_validator(mode="after")
    def _department_tokens_name_their_department(self) -> Principal:
        if (self.role is Role.DEPARTMENT) != (self.department is not None):
            raise ValueError("department tokens, and only they, name a department")
        return self


class _TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: dict[str, Principal] = Field(default_factory=dict)


@dataclass(frozen=True)
class TokenTable:
    """Tokens kept as SHA-256 digests and compared in constant time.

    Every entry is compared on every lookup, so the time taken says nothing about
    which token, or how much of one, matched.
    """

    entries: tuple[tuple[bytes, Principal], ...] = ()

    @classmethod
    def from_mapping(cls, tokens: dict[str, Principal]) -> TokenTable:
        for token in tokens:
            if len(token) < 16:
                raise ValueError("API tokens must be at least 16 characters long")
        return cls(tuple((_digest(token), who) for token, who in tokens.items()))

    def lookup(self, token: str) -> Principal | None:
        wanted = _digest(token)
        found: Principal | None = None
        for digest, who in self.entries:
            if hmac.compare_digest(digest, wanted):
                found = who
        return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def load_tokens(path: Path | None) -> TokenTable:
    """Read the tokens file; without one, no request is authorised."""
    if path is None:
        return TokenTable()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return TokenTable.from_mapping(_TokenFile.model_validate(raw).tokens)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ValueError(f"cannot read API tokens from {path}: {exc}") from exc
