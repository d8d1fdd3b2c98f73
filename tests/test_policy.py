"""The deadline policy file: the plan's figures by default, overrides, and refusals."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from contracts.case import CaseKind, Priority
from contracts.policy import ClockName, ClockRule, ResolvedPolicy
from policy.loader import (
    ClockTable,
    PolicyError,
    load_policy_document,
    parse_iso_duration,
    resolve_policy,
    resolve_policy_cached,
)

POLICIES = Path(__file__).parent / "policies"
DEFAULT_TEXT = resources.files("policy").joinpath("default.toml").read_text(encoding="utf-8")

PLAN_CLOCKS = {
    ClockName.FIRST_RESPONSE: ClockRule(duration=timedelta(minutes=5)),  # R3.2
    ClockName.DEPARTMENT_PLAN: ClockRule(duration=timedelta(hours=24)),  # R3.5
    ClockName.DEPARTMENT_RESULT: ClockRule(duration=timedelta(hours=48)),  # R3.6
    ClockName.CUSTOMER_UPDATE: ClockRule(duration=timedelta(hours=4)),  # R3.7
    ClockName.INVESTIGATION: ClockRule(duration=timedelta(hours=48)),  # R4.3
    ClockName.FINAL_REPLY: ClockRule(working_days=7),  # R4.4
    ClockName.SURVEY: ClockRule(duration=timedelta(days=7)),  # R6.1
}


def default_policy(kind: CaseKind, priority: Priority) -> ResolvedPolicy:
    return resolve_policy(load_policy_document(None), kind, priority, [])


def write_policy(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited_default(old: str, new: str) -> str:
    assert old in DEFAULT_TEXT, f"default.toml no longer contains {old!r}"
    return DEFAULT_TEXT.replace(old, new, 1)


# --- the plan's figures are the defaults -----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "priority"),
    [(k, p) for k in CaseKind for p in Priority if (k, p) != ("complaint", "urgent")],
)
def test_default_policy_is_the_plan(kind: CaseKind, priority: Priority) -> None:
    policy = default_policy(kind, priority)

    assert policy.clocks == PLAN_CLOCKS
    assert policy.version.startswith("plan-2026.1+")
    assert (policy.timezone, policy.calendar, policy.subdivision) == ("Asia/Shanghai", "CN", None)
    assert policy.warning_share == 0.8
    assert policy.reopen_window == timedelta(days=14)
    assert policy.remedy_approval_threshold == Decimal("500.00")
    assert policy.currency == "CNY"
    assert policy.escalation_ladder == ["team_lead", "supervisor", "branch_manager"]
    assert policy.escalation_interval == timedelta(hours=2)


def test_default_urgent_complaints_are_answered_within_three_minutes() -> None:
    policy = default_policy(CaseKind.COMPLAINT, Priority.URGENT)

    assert policy.clocks[ClockName.FIRST_RESPONSE] == ClockRule(duration=timedelta(minutes=3))
    assert policy.escalation_interval == timedelta(hours=1)
    others = {n: r for n, r in policy.clocks.items() if n != ClockName.FIRST_RESPONSE}
    assert others == {n: r for n, r in PLAN_CLOCKS.items() if n != ClockName.FIRST_RESPONSE}


def test_clock_table_knows_every_clock_of_the_plan() -> None:
    # The regulator's clock is set by a preset's [regulator] table, not by [clocks]
    # (PLAN_CLOCKS above holds the plan's clocks).
    assert set(ClockTable.model_fields) == {name.value for name in PLAN_CLOCKS}
    assert set(ClockName) - set(PLAN_CLOCKS) == {ClockName.REGULATOR_REPLY}


def test_departments_are_carried_into_the_resolved_policy() -> None:
    doc = load_policy_document(None)

    policy = resolve_policy(doc, "inquiry", "normal", ["cards", "loans"])

    assert policy.departments == ["cards", "loans"]


def test_unknown_case_kind_has_no_policy() -> None:
    with pytest.raises(PolicyError, match="case kind 'grievance'"):
        resolve_policy(load_policy_document(None), "grievance", "normal", [])


# --- overrides by kind and priority, in file order -------------------------------------


def resolved_sample(kind: str, priority: str) -> ResolvedPolicy:
    return resolve_policy(load_policy_document(POLICIES / "overrides.toml"), kind, priority, [])


def first_response(policy: ResolvedPolicy) -> timedelta | None:
    return policy.clocks[ClockName.FIRST_RESPONSE].duration


def test_an_override_without_priority_applies_to_every_case_of_its_kind() -> None:
    for priority in Priority:
        policy = resolved_sample("complaint", priority)
        assert policy.clocks[ClockName.INVESTIGATION].duration == timedelta(hours=24)
        assert policy.clocks[ClockName.FINAL_REPLY].working_days == 5
    inquiry = resolved_sample("inquiry", "normal")
    assert inquiry.clocks[ClockName.INVESTIGATION].duration == timedelta(hours=48)
    assert inquiry.clocks[ClockName.FINAL_REPLY].working_days == 7


def test_an_override_without_kind_applies_to_every_case_of_its_priority() -> None:
    inquiry = resolved_sample("inquiry", "urgent")

    assert first_response(inquiry) == timedelta(minutes=2)
    assert inquiry.warning_share == 0.5
    assert resolved_sample("inquiry", "normal").warning_share == 0.8


def test_an_override_for_kind_and_priority_applies_to_those_cases_only() -> None:
    urgent_complaint = resolved_sample("complaint", "urgent")

    assert first_response(urgent_complaint) == timedelta(minutes=1)
    assert urgent_complaint.escalation_ladder == ["supervisor", "branch_manager"]
    assert urgent_complaint.escalation_interval == timedelta(minutes=30)
    # and the earlier overrides that also matched still count where it is silent
    assert urgent_complaint.warning_share == 0.5
    assert urgent_complaint.clocks[ClockName.FINAL_REPLY].working_days == 5
    assert resolved_sample("inquiry", "urgent").escalation_interval == timedelta(hours=2)


def test_overrides_apply_in_file_order_so_a_later_one_wins() -> None:
    # [3] says 3 minutes for high complaints; [4], later and broader, says 4 for all high.
    assert first_response(resolved_sample("complaint", "high")) == timedelta(minutes=4)
    assert resolved_sample("complaint", "high").remedy_approval_threshold == Decimal("1000")
    assert first_response(resolved_sample("complaint", "normal")) == timedelta(minutes=5)


def test_version_carries_the_declared_version_and_a_content_hash() -> None:
    version = resolved_sample("inquiry", "normal").version

    declared, _, content_hash = version.partition("+")
    assert declared == "test-overrides-1"
    assert len(content_hash) == 10
    assert int(content_hash, 16) >= 0


# --- the version follows the content --------------------------------------------------


def test_a_copy_of_the_built_in_file_has_the_built_in_version(tmp_path: Path) -> None:
    copy = write_policy(tmp_path, DEFAULT_TEXT)

    assert load_policy_document(copy).version == load_policy_document(None).version


def test_an_edited_value_changes_the_version_without_a_bump(tmp_path: Path) -> None:
    original = load_policy_document(write_policy(tmp_path, DEFAULT_TEXT, "a.toml"))
    edited_text = edited_default('first_response = "PT5M"', 'first_response = "PT6M"')
    edited = load_policy_document(write_policy(tmp_path, edited_text, "b.toml"))

    assert original.version != edited.version
    assert original.version.split("+")[0] == edited.version.split("+")[0] == "plan-2026.1"


def test_an_edited_comment_keeps_the_version(tmp_path: Path) -> None:
    original = load_policy_document(write_policy(tmp_path, DEFAULT_TEXT, "a.toml"))
    commented = load_policy_document(
        write_policy(tmp_path, "# reviewed by the service team\n" + DEFAULT_TEXT, "b.toml")
    )

    assert commented.version == original.version


def test_a_file_edited_in_place_is_read_again(tmp_path: Path) -> None:
    path = write_policy(tmp_path, DEFAULT_TEXT)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = load_policy_document(path)
    assert load_policy_document(path) is before  # unchanged file: served from the cache

    path.write_text(edited_default('survey = "P7D"', 'survey = "P10D"'), encoding="utf-8")
    os.utime(path, ns=(1_700_000_001_000_000_000, 1_700_000_001_000_000_000))
    after = load_policy_document(path)

    assert after.version != before.version
    survey = resolve_policy(after, "inquiry", "normal", []).clocks[ClockName.SURVEY]
    assert survey.duration == timedelta(days=10)


def test_a_cached_resolution_follows_the_file(tmp_path: Path) -> None:
    """Cases of a kind share one resolved policy until the file changes."""
    path = write_policy(tmp_path, DEFAULT_TEXT)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = load_policy_document(path)
    first = resolve_policy_cached(before, "inquiry", "normal", ("cards",))
    assert resolve_policy_cached(before, "inquiry", "normal", ("cards",)) is first
    assert resolve_policy_cached(before, "inquiry", "urgent", ("cards",)) is not first
    assert first == resolve_policy(before, "inquiry", "normal", ["cards"])

    path.write_text(edited_default('survey = "P7D"', 'survey = "P10D"'), encoding="utf-8")
    os.utime(path, ns=(1_700_000_001_000_000_000, 1_700_000_001_000_000_000))
    after = resolve_policy_cached(load_policy_document(path), "inquiry", "normal", ("cards",))

    assert first.clocks[ClockName.SURVEY].duration == timedelta(days=7)
    assert after.clocks[ClockName.SURVEY].duration == timedelta(days=10)


# --- bad files are refused, naming the key at fault ------------------------------------

BAD_EDITS = [
    pytest.param(
        'first_response = "PT5M"',
        'first_response = "5 minutes"',
        "clocks.first_response: not an ISO-8601 duration: '5 minutes'",
        id="duration-in-words",
    ),
    pytest.param(
        'survey = "P7D"',
        'survay = "P7D"',
        "clocks.survay: unknown clock (known: first_response,",
        id="unknown-clock",
    ),
    pytest.param('survey = "P7D"', "", "clocks: missing survey", id="missing-clock"),
    pytest.param(
        "final_reply = { working_days = 7 }",
        "final_reply = { working_days = 0 }",
        "clocks.final_reply.working_days: Input should be greater than or equal to 1",
        id="zero-working-days",
    ),
    pytest.param(
        "final_reply = { working_days = 7 }",
        "final_reply = { working_day = 7 }",
        "clocks.final_reply: unknown key 'working_day'",
        id="misspelt-working-days",
    ),
    pytest.param(
        'reopen_window = "P14D"',
        'reopen_window = "P1M"',
        "reopen_window: not an ISO-8601 duration of fixed length: 'P1M'",
        id="months",
    ),
    pytest.param(
        'interval = "PT2H"',
        'interval = "PT0S"',
        "escalation.interval: must be longer than zero",
        id="zero-interval",
    ),
    pytest.param(
        "warning_share = 0.8",
        "warning_share = 1.5",
        "warning_share: Input should be less than 1 (got 1.5)",
        id="share-above-one",
    ),
    pytest.param(
        'remedy_approval_threshold = "500.00"',
        'remedy_approval_threshold = "lots"',
        "remedy_approval_threshold: Input should be a valid decimal (got 'lots')",
        id="threshold-not-a-number",
    ),
    pytest.param(
        'timezone = "Asia/Shanghai"',
        'timezone = "Asia/Beijing"',
        "timezone: unknown time zone: 'Asia/Beijing'",
        id="unknown-timezone",
    ),
    pytest.param(
        'calendar = "CN"', 'calendar = "XX"', "calendar: unknown calendar: 'XX'", id="calendar"
    ),
    pytest.param(
        "warning_share = 0.8",
        "warning_share = 0.8\nwarning_shares = 0.5",
        "warning_shares: unknown key",
        id="misspelt-top-level-key",
    ),
    pytest.param('currency = "CNY"\n', "", "currency: missing", id="missing-key"),
    pytest.param(
        'kind = "complaint"',
        'kind = "complain"',
        "overrides[0].kind: Input should be 'inquiry' or 'complaint' (got 'complain')",
        id="override-kind",
    ),
    pytest.param(
        'kind = "complaint"',
        'kind = "complaint"\nversion = "plan-2026.2"',
        "overrides[0].version: unknown key",
        id="override-version",
    ),
    pytest.param(
        'priority = "urgent"',
        'priority = "urgent"\ncalendar = "US"\nsubdivision = "ZZ"',
        "overrides[0] (complaint urgent cases): unknown subdivision of calendar 'US': 'ZZ'",
        id="override-subdivision",
    ),
    pytest.param(
        'version = "plan-2026.1"', "version = plan-2026.1", "not valid TOML", id="not-toml"
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_EDITS)
def test_bad_file_is_refused_naming_the_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = write_policy(tmp_path, edited_default(old, new))

    with pytest.raises(PolicyError) as refused:
        load_policy_document(path)

    assert message in str(refused.value)
    assert str(path.resolve()) in str(refused.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy_document(tmp_path / "absent.toml")


# --- ISO 8601 durations ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT5M", timedelta(minutes=5)),
        ("PT24H", timedelta(hours=24)),
        ("P7D", timedelta(days=7)),
        ("P2W", timedelta(weeks=2)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT1.5S", timedelta(seconds=1.5)),
    ],
)
def test_iso_durations_are_read(text: str, expected: timedelta) -> None:
    assert parse_iso_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1DT", "pt5m", "PT5", "5M", "PT1M2H", "01:00:00", "300"]
)
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO-8601 duration"):
        parse_iso_duration(text)
