"""``CASE_WORKER_CACHED_WORKFLOWS`` sizes the worker's cache of open cases and nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from settings.app import Settings
from worker import SIZING, sizing_from


def test_unset_keeps_the_default_sizing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASE_WORKER_CACHED_WORKFLOWS", raising=False)
    assert sizing_from(Settings()) == SIZING


def test_the_variable_sets_the_cache_size_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASE_WORKER_CACHED_WORKFLOWS", "4000")
    sizing = sizing_from(Settings())
    assert sizing.cached_workflows == 4000 != SIZING.cached_workflows
    assert (sizing.activities, sizing.local_activities) == (
        SIZING.activities,
        SIZING.local_activities,
    )


def test_a_cache_of_nothing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASE_WORKER_CACHED_WORKFLOWS", "0")
    with pytest.raises(ValidationError, match="CASE_WORKER_CACHED_WORKFLOWS"):
        Settings()
