"""The bank's departments, as configuration (R3.4: complex cases go to the one in charge).

A TOML file named by ``CASE_DEPARTMENTS_FILE`` lists them as ``[departments.<code>]``
tables; without one, the built-in list below is used. The file replaces the list:
departments it leaves out cannot receive transfers. A built-in code may leave out its
names to keep the built-in ones (e.g. to add only a webhook).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from settings.app import get_settings

__all__ = [
    "BUILT_IN_DEPARTMENTS",
    "Department",
    "DepartmentsError",
    "configured_departments",
    "load_departments",
]

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
DepartmentName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)
]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]


class DepartmentsError(ValueError):
    """A departments file that cannot be used; the message names the file and the key."""


class Department(BaseModel):
    """One department that takes transferred cases; ``webhook_url`` receives them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    name_zh: DepartmentName
    name_en: DepartmentName
    webhook_url: Url | None = None


def _built_in(code: str, name_zh: str, name_en: str) -> Department:
    return Department(code=code, name_zh=name_zh, name_en=name_en)


BUILT_IN_DEPARTMENTS: dict[str, Department] = {
    d.code: d
    for d in (
        _built_in("cards", "信用卡中心", "Card Services"),
        _built_in("loans", "个人贷款部", "Personal Loans"),
        _built_in("deposits", "储蓄存款部", "Deposits"),
        _built_in("payments", "支付结算部", "Payments and Settlement"),
        _built_in("digital", "电子银行部", "Digital Banking"),
        _built_in("branch_ops", "网点运营部", "Branch Operations"),
        _built_in("compliance", "合规与消费者权益保护部", "Compliance and Consumer Protection"),
    )
}


def load_departments(path: Path | None) -> dict[str, Department]:
    """The departments in ``path`` by code, or the built-in ones when ``path`` is None.

    Cached by path and modification time, so an edited file is picked up without a
    restart.
    """
    if path is None:
        return dict(BUILT_IN_DEPARTMENTS)
    try:
        stat = path.stat()
    except OSError as err:
        raise DepartmentsError(f"departments file {path}: cannot be read: {err.strerror}") from err
    return dict(_load_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size))


def configured_departments() -> dict[str, Department]:
    """The departments named by the settings (``CASE_DEPARTMENTS_FILE``)."""
    return load_departments(get_settings().departments_file)


@lru_cache(maxsize=8)
def _load_file(path: str, mtime_ns: int, size: int) -> dict[str, Department]:
    source = f"departments file {path}"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise DepartmentsError(f"{source}: cannot be read: {err.strerror}") from err
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise DepartmentsError(f"{source}: not valid TOML: {err}") from err
    unknown = sorted(set(data) - {"departments"})
    if unknown:
        raise DepartmentsError(f"{source}: {unknown[0]}: unknown key")
    tables = data.get("departments")
    if not isinstance(tables, dict) or not tables:
        raise DepartmentsError(f"{source}: departments: no [departments.<code>] tables")
    departments: dict[str, Department] = {}
    for code, table in tables.items():
        where = f"departments.{code}"
        if not isinstance(table, dict):
            raise DepartmentsError(f"{source}: {where}: not a table")
        built_in = BUILT_IN_DEPARTMENTS.get(code)
        defaults = {"name_zh": built_in.name_zh, "name_en": built_in.name_en} if built_in else {}
        try:
            departments[code] = Department.model_validate({**defaults, **table, "code": code})
        except ValidationError as err:
            error = err.errors()[0]
            key = ".".join(str(part) for part in error["loc"])
            problem = "missing" if error["type"] == "missing" else error["msg"]
            if error["type"] == "extra_forbidden":
                problem = "unknown key"
            raise DepartmentsError(f"{source}: {where}.{key}: {problem}") from err
    return departments
