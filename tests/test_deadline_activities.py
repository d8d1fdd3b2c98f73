"""The intake activities that fix a case's policy and deadlines, run in an activity
context with the configuration taken from the environment, as the worker runs them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deadlines import compute_deadline, resolve_case_intake, resolve_case_policy
from contracts.activities import (
    ComputeDeadlineInput,
    DeadlineResult,
    ResolveIntakeInput,
    ResolvePolicyInput,
)
from contracts.case import CaseKind, Priority
from contracts.policy import ClockName, ResolvedPolicy
from settings.app import get_settings
from settings.departments import (
    BUILT_IN_DEPARTMENTS,
    Department,
    DepartmentsError,
    load_departments,
)

POLICIES = Path(__file__).parent / "policies"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No policy or departments file unless the test sets one; settings read afresh."""
    monkeypatch.delenv("CASE_POLICY_FILE", raising=False)
    monkeypatch.delenv("CASE_DEPARTMENTS_FILE", raising=False)
    monkeypatch.setenv("CASE_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def resolve(kind: CaseKind, priority: Priority) -> ResolvedPolicy:
    return ActivityEnvironment().run(
        resolve_case_policy, ResolvePolicyInput(kind=kind, priority=priority)
    )


# --- resolve_case_policy ---------------------------------------------------------------


def test_without_configuration_the_plan_and_built_in_departments_apply(
    environment: pytest.MonkeyPatch,
) -> None:
    policy = resolve(CaseKind.COMPLAINT, Priority.NORMAL)

    assert policy.version.startswith("plan-2026.1+")
    assert policy.clocks[ClockName.FIRST_RESPONSE].duration == timedelta(minutes=5)
    assert policy.clocks[ClockName.FINAL_REPLY].working_days == 7
    assert policy.departments == [
        "cards",
        "loans",
        "deposits",
        "payments",
        "digital",
        "branch_ops",
        "compliance",
    ]


def test_policy_file_from_the_environment_is_used(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("CASE_POLICY_FILE", str(POLICIES / "overrides.toml"))
    environment.setenv("CASE_DEPARTMENTS_FILE", str(POLICIES / "departments.toml"))

    policy = resolve(CaseKind.COMPLAINT, Priority.URGENT)

    assert policy.version.startswith("test-overrides-1+")
    assert policy.clocks[ClockName.FIRST_RESPONSE].duration == timedelta(minutes=1)
    assert policy.departments == ["cards", "wealth"]


def test_bad_policy_file_fails_intake_without_retrying(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text(
        (POLICIES / "overrides.toml")
        .read_text(encoding="utf-8")
        .replace('first_response = "PT5M"', 'first_response = "5 minutes"'),
        encoding="utf-8",
    )
    environment.setenv("CASE_POLICY_FILE", str(bad))

    with pytest.raises(ApplicationError) as failed:
        resolve(CaseKind.INQUIRY, Priority.NORMAL)

    assert failed.value.type == "InvalidPolicy"
    assert failed.value.non_retryable
    assert "clocks.first_response: not an ISO-8601 duration: '5 minutes'" in str(failed.value)


def test_bad_departments_file_fails_intake_without_retrying(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "departments.toml"
    bad.write_text('[departments.wealth]\nname_en = "Wealth Management"\n', encoding="utf-8")
    environment.setenv("CASE_DEPARTMENTS_FILE", str(bad))

    with pytest.raises(ApplicationError) as failed:
        resolve(CaseKind.INQUIRY, Priority.NORMAL)

    assert failed.value.type == "InvalidDepartments"
    assert failed.value.non_retryable
    assert "departments.wealth.name_zh: missing" in str(failed.value)


def test_resolved_policy_survives_the_trip_through_history(
    environment: pytest.MonkeyPatch,
) -> None:
    """What the workflow reads back from history is what the activity returned."""
    policy = resolve(CaseKind.COMPLAINT, Priority.URGENT)
    converter = pydantic_data_converter.payload_converter

    payload = converter.to_payloads([policy])
    (decoded,) = converter.from_payloads(payload, [ResolvedPolicy])

    assert decoded == policy


# --- compute_deadline ------------------------------------------------------------------


def deadline_of(**fields: object) -> DeadlineResult:
    arguments: dict[str, object] = {
        "start": datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI),
        "working_days": 7,
        "timezone": "Asia/Shanghai",
        "calendar": "CN",
    }
    arguments.update(fields)
    return ActivityEnvironment().run(
        compute_deadline, ComputeDeadlineInput.model_validate(arguments)
    )


def test_final_reply_deadline_crosses_national_day() -> None:
    # Mon 2026-09-28 + 7 working days (09-29, 09-30, 10-08, 10-09, Sat 10-10 make-up,
    # 10-12, 10-13) ends at 2026-10-14 00:00 Beijing time.
    result = deadline_of()

    assert result.deadline == datetime(2026, 10, 13, 16, 0, tzinfo=UTC)


# --- resolve_case_intake: both at once -------------------------------------------------


def test_intake_resolves_the_policy_and_counts_only_the_working_day_clocks(
    environment: pytest.MonkeyPatch,
) -> None:
    start = datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI)
    clocks = [ClockName.FIRST_RESPONSE, ClockName.INVESTIGATION, ClockName.FINAL_REPLY]
    resolution = ActivityEnvironment().run(
        resolve_case_intake,
        ResolveIntakeInput(
            kind=CaseKind.COMPLAINT, priority=Priority.NORMAL, start=start, clocks=clocks
        ),
    )

    assert resolution.policy == resolve(CaseKind.COMPLAINT, Priority.NORMAL)
    # The plan's complaint: 5 minutes and 48 hours are durations, the workflow's sum;
    # the 7 working days of the final reply are counted here, across National Day as
    # in the hand-worked case above.
    assert set(resolution.deadlines) == {ClockName.FINAL_REPLY}
    assert resolution.deadlines[ClockName.FINAL_REPLY].deadline == datetime(
        2026, 10, 13, 16, 0, tzinfo=UTC
    )


def test_intake_with_a_broken_calendar_fails_without_retrying(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    default = (Path(__file__).parent.parent / "policy" / "default.toml").read_text("utf-8")
    assert 'calendar = "CN"' in default
    broken = tmp_path / "policy.toml"
    broken.write_text(default.replace('calendar = "CN"', 'calendar = "ZZ"'), "utf-8")
    environment.setenv("CASE_POLICY_FILE", str(broken))
    get_settings.cache_clear()
    with pytest.raises(ApplicationError) as failed:
        ActivityEnvironment().run(
            resolve_case_intake,
            ResolveIntakeInput(
                kind=CaseKind.COMPLAINT,
                priority=Priority.NORMAL,
                start=datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI),
                clocks=[ClockName.FINAL_REPLY],
            ),
        )
    assert failed.value.non_retryable
    assert failed.value.type in {"InvalidCalendar", "InvalidPolicy"}
    assert "ZZ" in str(failed.value)


@pytest.mark.parametrize(
    ("fields", "error_type", "message"),
    [
        ({"calendar": "ZZ"}, "InvalidCalendar", "unknown calendar: 'ZZ'"),
        ({"calendar": "US", "subdivision": "ZZ"}, "InvalidCalendar", "unknown subdivision"),
        ({"timezone": "Asia/Beijing"}, "InvalidTimezone", "unknown time zone: 'Asia/Beijing'"),
        ({"start": datetime(2026, 9, 28, 10, 0)}, "InvalidDeadlineInput", "timezone-aware"),
    ],
)
def test_deadline_that_cannot_be_computed_fails_without_retrying(
    fields: dict[str, object], error_type: str, message: str
) -> None:
    with pytest.raises(ApplicationError) as failed:
        deadline_of(**fields)

    assert failed.value.type == error_type
    assert failed.value.non_retryable
    assert message in str(failed.value)


# --- departments as configuration ------------------------------------------------------


def test_built_in_departments_carry_both_names_and_no_webhook() -> None:
    departments = load_departments(None)

    assert departments["compliance"] == Department(
        code="compliance",
        name_zh="合规与消费者权益保护部",
        name_en="Compliance and Consumer Protection",
    )
    assert departments["cards"].name_zh == "信用卡中心"
    assert all(d.webhook_url is None for d in departments.values())
    assert len(departments) == 7


def test_departments_file_replaces_the_list_and_keeps_built_in_names() -> None:
    departments = load_departments(POLICIES / "departments.toml")

    assert list(departments) == ["cards", "wealth"]
    assert departments["cards"].name_en == BUILT_IN_DEPARTMENTS["cards"].name_en
    assert departments["cards"].webhook_url == "https://cards.bank.example/hooks/cases"
    assert departments["wealth"] == Department(
        code="wealth", name_zh="财富管理部", name_en="Wealth Management"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[departments.cards]\nwebhook = "https://x.example"\n',
            "departments.cards.webhook: unknown key",
        ),
        ('[departments.cards]\nwebhook_url = "ftp://x"\n', "departments.cards.webhook_url:"),
        ('[departments.Cards]\nname_zh = "卡"\nname_en = "Cards"\n', "departments.Cards.code:"),
        ('[department.cards]\nname_zh = "卡"\n', "department: unknown key"),
        ("", "no [departments.<code>] tables"),
        ("[departments\n", "not valid TOML"),
    ],
)
def test_bad_departments_file_is_refused_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "departments.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(DepartmentsError) as refused:
        load_departments(path)

    assert message in str(refused.value)
