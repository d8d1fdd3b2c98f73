"""The regulator presets (R9): each one's deadlines against dates worked out by hand
(across China's National Day holidays and make-up working days, an English bank
holiday, TARGET2's Easter closing days, a US federal holiday, weekends), the regulator's
extensions and the classification of the final reply, the bank's calendar overlay.

The workflow tests run the case on the time-skipping test server with the side-effect
activities replaced by recorders (``tests/case_harness.py``); the policy and calendar
activities are the real ones, reading the preset through ``CASE_POLICY_FILE``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from calendars import parse_overlay, working_day_deadline
from contracts.actions import (
    ExtendClockInput,
    ExtendRegulatorClockInput,
    PauseClockInput,
    SendFinalReplyInput,
)
from contracts.case import CaseKind, ClockStatus, RegulatoryBand, Stage
from contracts.policy import ClockName, ComplaintOutcome, ResolvedPolicy
from policy.loader import load_policy_preset, policy_presets, resolve_policy
from tests.case_harness import EffectLog, case_worker, intake, open_case
from tests.db_fixtures import environment
from workflows.case import CaseWorkflow
from workflows.case_file import CaseFile, RejectionError
from workflows.effects import NotifyCustomer
from workflows.rules.clocks import check_extend_clock, check_pause_clock
from workflows.rules.complaint import apply_send_final_reply, check_send_final_reply
from workflows.rules.regulatory import (
    apply_extend_regulator_clock,
    check_extend_regulator_clock,
    regulator_extension_counts,
)
from workflows.rules.table import CountedDeadline


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def preset_path(name: str) -> str:
    return str(resources.files("policy").joinpath("presets", f"{name}.toml"))


def test_every_preset_is_a_complete_policy_with_a_regulator() -> None:
    assert policy_presets() == ["cn-nfra", "eu-psd2", "uk-fca", "us-cfpb"]
    for name in policy_presets():
        doc = load_policy_preset(name)
        assert doc.regulator is not None
        assert doc.regulator.profile == name
        # The bank's own promise stays: 7 working days for the final reply (R4.4).
        policy = resolve_policy(doc, "complaint", "normal", [])
        assert policy.clocks[ClockName.FINAL_REPLY].working_days == 7
        assert doc.regulator.bands, f"{name} has no time bands"


async def _open(
    env: WorkflowEnvironment,
    task_queue: str,
    received: datetime,
    product: str = "platinum_card",
) -> tuple[dict[ClockName, datetime | None], dict[str, datetime], str | None]:
    log = EffectLog()
    async with case_worker(env.client, task_queue, log):
        case = intake("R" + uuid.uuid4().hex[:8].upper(), CaseKind.COMPLAINT, received_at=received)
        handle = await open_case(
            env.client, task_queue, case.model_copy(update={"product": product})
        )
        state = (await handle.execute_update(CaseWorkflow.confirm_intake)).state
    deadlines = {name: clock.deadline for name, clock in state.clocks.items()}
    regulatory = state.regulatory
    assert regulatory is not None
    bands = {band.name: band.deadline for band in regulatory.bands}
    return deadlines, bands, regulatory.regime


async def test_nfra_15_days_beside_the_banks_7_working_days_across_national_day(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Received Monday 2026-09-28 10:00 Beijing. The regulator: 15 calendar days, to
    2026-10-13 10:00 Beijing. The bank: 7 working days after the day of receipt:
    29 Sep (1), 30 Sep (2), 1-7 Oct National Day, 8 Oct (3), 9 Oct (4), Saturday 10 Oct
    a make-up working day (5), 12 Oct (6), 13 Oct (7): due at 14 Oct 00:00 Beijing."""
    with environment(CASE_POLICY_FILE=preset_path("cn-nfra")):
        clocks, bands, regime = await _open(time_skipping_env, task_queue, utc(2026, 9, 28, 2))
    assert regime == "consumer_complaint"
    assert clocks[ClockName.REGULATOR_REPLY] == utc(2026, 10, 13, 2)
    assert clocks[ClockName.FINAL_REPLY] == utc(2026, 10, 13, 16)
    assert bands == {
        "within_15_days": utc(2026, 10, 13, 2),
        "within_30_days": utc(2026, 10, 28, 2),
        "within_60_days": utc(2026, 11, 27, 2),
    }


async def test_fca_payment_complaint_15_business_days_across_a_bank_holiday(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Received Friday 2026-08-28 15:00 London (BST). Monday 31 Aug is the Late Summer
    Bank Holiday. 15 business days: 1-4 Sep (1-4), 7-11 (5-9), 14-18 (10-14), 21 Sep
    (15): due 22 Sep 00:00 BST. DISP 1.5's 3 business days: 1, 2, 3 Sep: 4 Sep 00:00.
    The 8 weeks band: 23 Oct 15:00 BST."""
    with environment(CASE_POLICY_FILE=preset_path("uk-fca")):
        clocks, bands, regime = await _open(
            time_skipping_env, task_queue, utc(2026, 8, 28, 14), product="debit_card"
        )
    assert regime == "payment_services"
    assert clocks[ClockName.REGULATOR_REPLY] == utc(2026, 9, 21, 23)
    assert bands == {
        "within_3_business_days": utc(2026, 9, 3, 23),
        "within_8_weeks": utc(2026, 10, 23, 14),
    }


async def test_fca_other_complaint_8_weeks(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Received Friday 2026-08-28 15:00 London: a card complaint is not a payment
    service: 8 weeks, to Friday 23 Oct 15:00 BST."""
    with environment(CASE_POLICY_FILE=preset_path("uk-fca")):
        clocks, _, regime = await _open(time_skipping_env, task_queue, utc(2026, 8, 28, 14))
    assert regime == "general"
    assert clocks[ClockName.REGULATOR_REPLY] == utc(2026, 10, 23, 14)


async def test_psd2_15_and_35_business_days_across_easter(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Received Thursday 2026-04-02 10:00 Brussels (CEST), TARGET2 days: Good Friday
    3 Apr and Easter Monday 6 Apr closed. 15 business days: 7-10 Apr (1-4), 13-17
    (5-9), 20-24 (10-14), 27 Apr (15): 28 Apr 00:00 CEST. 35: 28-30 Apr (16-18), 1 May
    closed, 4-8 May (19-23), 11-15 (24-28), 18-22 (29-33), 25, 26 May (34, 35): 27 May
    00:00 CEST."""
    with environment(CASE_POLICY_FILE=preset_path("eu-psd2")):
        clocks, bands, _ = await _open(time_skipping_env, task_queue, utc(2026, 4, 2, 8))
    assert clocks[ClockName.REGULATOR_REPLY] == utc(2026, 4, 27, 22)
    assert bands == {
        "within_15_business_days": utc(2026, 4, 27, 22),
        "within_35_business_days": utc(2026, 5, 26, 22),
    }


async def test_cfpb_15_and_60_calendar_days_and_the_banks_days_across_veterans_day(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Received Monday 2026-11-02 09:00 New York (EST). The CFPB: 15 and 60 calendar
    days: 17 Nov and 1 Jan 2027, 09:00 EST. The bank's 7 working days: 3-6 Nov (1-4),
    9, 10 Nov (5, 6), 11 Nov Veterans Day, 12 Nov (7): 13 Nov 00:00 EST."""
    with environment(CASE_POLICY_FILE=preset_path("us-cfpb")):
        clocks, bands, _ = await _open(time_skipping_env, task_queue, utc(2026, 11, 2, 14))
    assert clocks[ClockName.REGULATOR_REPLY] == utc(2026, 11, 17, 14)
    assert clocks[ClockName.FINAL_REPLY] == utc(2026, 11, 13, 5)
    assert bands == {"within_15_days": utc(2026, 11, 17, 14), "within_60_days": utc(2027, 1, 1, 14)}


async def test_the_overlay_counts_for_cases_opened_after_it_and_not_for_running_ones(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    """The bank adds Monday 12 Oct 2026 as a holiday (a test notice). A complaint
    received 28 Sep then counts 8 Oct (3), 9 (4), Saturday 10 (5), 13 (6), 14 (7): due
    15 Oct 00:00 Beijing. A case opened before the overlay keeps 14 Oct 00:00."""
    overlay = tmp_path / "overlay.toml"
    overlay.write_text(
        '[[holidays]]\ncalendar = "CN"\ndate = 2026-10-12\nname = "Bank day off"\n'
        'source = "test notice 2026-1"\n',
        encoding="utf-8",
    )
    env, log = time_skipping_env, EffectLog()
    async with case_worker(env.client, task_queue, log):
        before = await open_case(
            env.client, task_queue, intake("OV-BEFORE", received_at=utc(2026, 9, 28, 2))
        )
        first = (await before.execute_update(CaseWorkflow.confirm_intake)).state
        with environment(CASE_CALENDAR_OVERLAY_FILE=str(overlay)):
            after = await open_case(
                env.client, task_queue, intake("OV-AFTER", received_at=utc(2026, 9, 28, 2))
            )
            second = (await after.execute_update(CaseWorkflow.confirm_intake)).state
            again = await before.query(CaseWorkflow.get_state)
    assert first.clocks[ClockName.FINAL_REPLY].deadline == utc(2026, 10, 13, 16)
    assert second.clocks[ClockName.FINAL_REPLY].deadline == utc(2026, 10, 14, 16)
    assert again.clocks[ClockName.FINAL_REPLY].deadline == utc(2026, 10, 13, 16)


def test_an_overlay_make_up_day_counts_as_a_working_day() -> None:
    """Sunday 11 Oct 2026 declared a make-up working day: 7 working days from 28 Sep
    end on 12 Oct (8, 9, 10, 11, 12 Oct = 3..7): due 13 Oct 00:00 Beijing."""
    overlay = parse_overlay(
        b'[[working_days]]\ncalendar = "CN"\ndate = 2026-10-11\nsource = "test notice"\n', "t"
    )
    due = working_day_deadline(
        utc(2026, 9, 28, 2),
        7,
        timezone="Asia/Shanghai",
        calendar="CN",
        subdivision=None,
        overlay=overlay,
    )
    assert due == utc(2026, 10, 12, 16)


# --- the extensions and the final reply, as rules (``now`` passed in) --------------------


def _case(
    preset: str,
    received: datetime,
    product: str,
    limit: datetime,
    bands: list[RegulatoryBand] | None = None,
) -> CaseFile:
    doc = load_policy_preset(preset)
    policy: ResolvedPolicy = resolve_policy(doc, "complaint", "normal", [])
    case = CaseFile.open(
        intake("RULES-1", received_at=received).model_copy(update={"product": product}),
        now=received,
    )
    case.policy = policy
    assert policy.regulator is not None
    regime = policy.regulator.regime_for(product, case.state.category)
    case.start_regulator(
        policy.regulator,
        regime,
        bands if bands is not None else [RegulatoryBand(name="b", deadline=limit)],
        now=received,
        deadline=limit,
    )
    case.state.stage = Stage.AWAITING_FINAL_REPLY
    return case


def test_fca_holding_reply_moves_the_limit_to_35_business_days() -> None:
    """From 28 Aug 2026 (Friday, bank holiday on 31 Aug), business day 15 is 21 Sep
    and 35 is 19 Oct (22-25 Sep 16-19, 28 Sep-2 Oct 20-24, 5-9 Oct 25-29, 12-16 Oct
    30-34, 19 Oct 35): the new deadline is 20 Oct 00:00 BST."""
    received = utc(2026, 8, 28, 14)
    case = _case("uk-fca", received, "debit_card", utc(2026, 9, 21, 23))
    now = utc(2026, 9, 10, 9)
    action = ExtendRegulatorClockInput(actor="wang.fang", extension="holding_reply", reason="x")
    check_extend_regulator_clock(case, action, now)
    counts = regulator_extension_counts(case, action, now)
    counted = {
        key: CountedDeadline(
            count,
            working_day_deadline(
                count.start, count.days, timezone="Europe/London", calendar="GB", subdivision="ENG"
            ),
        )
        for key, count in counts.items()
    }
    apply_extend_regulator_clock(case, action, now, counted)
    clock = case.state.clocks[ClockName.REGULATOR_REPLY]
    assert clock.deadline == utc(2026, 10, 19, 23)
    assert [e.type for e in case.state.timeline] == ["regulator_clock_extended"]
    assert [e.template.value for e in case.effects if isinstance(e, NotifyCustomer)] == [
        "regulator_extension"
    ]
    assert len(case.effects) == 1
    with pytest.raises(RejectionError, match="no further extension"):
        check_extend_regulator_clock(case, action, now)


def test_nfra_especially_complex_needs_a_senior_approver_other_than_the_requester() -> None:
    received = utc(2026, 9, 28, 2)
    case = _case("cn-nfra", received, "platinum_card", utc(2026, 10, 13, 2))
    now = utc(2026, 10, 5, 2)
    with pytest.raises(RejectionError, match="next extension allowed is 'complex'"):
        check_extend_regulator_clock(
            case,
            ExtendRegulatorClockInput(actor="a", extension="especially_complex", reason="x"),
            now,
        )
    first = ExtendRegulatorClockInput(actor="wang.fang", extension="complex", reason="records")
    check_extend_regulator_clock(case, first, now)
    apply_extend_regulator_clock(case, first, now, {})
    assert case.state.clocks[ClockName.REGULATOR_REPLY].deadline == utc(2026, 10, 28, 2)
    second = ExtendRegulatorClockInput(
        actor="wang.fang", extension="especially_complex", reason="y"
    )
    with pytest.raises(RejectionError, match=r"approved_by: .* needs a senior approver"):
        check_extend_regulator_clock(case, second, now)
    with pytest.raises(RejectionError, match="someone other than the requester"):
        check_extend_regulator_clock(
            case, second.model_copy(update={"approved_by": "wang.fang"}), now
        )
    approved = second.model_copy(update={"approved_by": "chen.jie"})
    check_extend_regulator_clock(case, approved, now)
    apply_extend_regulator_clock(case, approved, now, {})
    # 60 days from receipt: 27 Nov 2026 10:00 Beijing.
    assert case.state.clocks[ClockName.REGULATOR_REPLY].deadline == utc(2026, 11, 27, 2)
    assert case.state.timeline[-1].data["approved_by"] == "chen.jie"


def test_the_final_reply_under_nfra_records_its_jrt_0169_codes_and_outcome() -> None:
    case = _case("cn-nfra", utc(2026, 9, 28, 2), "platinum_card", utc(2026, 10, 13, 2))
    now = utc(2026, 10, 5, 2)
    reply = SendFinalReplyInput(actor="zhang.wei", reply="Refunded.")
    with pytest.raises(RejectionError, match=r"^outcome: "):
        check_send_final_reply(case, reply, now)
    with_outcome = reply.model_copy(update={"outcome": ComplaintOutcome.PARTLY_UPHELD})
    with pytest.raises(RejectionError, match=r"^classification.channel: required"):
        check_send_final_reply(case, with_outcome, now)
    wrong = with_outcome.model_copy(
        update={"classification": {"channel": "A999", "business_type": "B3", "reason": "C08"}}
    )
    with pytest.raises(RejectionError, match=r"^classification.channel: 'A999' is not a code"):
        check_send_final_reply(case, wrong, now)
    extra = with_outcome.model_copy(
        update={
            "classification": {"channel": "A101", "business_type": "B3", "reason": "C08", "x": "1"}
        }
    )
    with pytest.raises(RejectionError, match=r"^classification.x: not an axis"):
        check_send_final_reply(case, extra, now)
    good = with_outcome.model_copy(
        update={"classification": {"channel": "A101", "business_type": "B3", "reason": "C08"}}
    )
    check_send_final_reply(case, good, now)


def test_hand_extension_and_pause_of_the_regulators_clock_are_refused() -> None:
    case = _case("cn-nfra", utc(2026, 9, 28, 2), "platinum_card", utc(2026, 10, 13, 2))
    now = utc(2026, 10, 1)
    clock = ClockName.REGULATOR_REPLY
    with pytest.raises(RejectionError, match="regulator's limit"):
        check_extend_clock(
            case, ExtendClockInput(actor="s", clock=clock, by=timedelta(days=1), reason="r"), now
        )
    with pytest.raises(RejectionError, match="regulator's limit"):
        check_pause_clock(case, PauseClockInput(actor="s", clock=clock, reason="r"), now)
    assert case.state.clocks[clock].status is ClockStatus.RUNNING


@pytest.mark.parametrize(
    ("replied", "template"),
    [(utc(2026, 9, 3, 16), "summary_resolution"), (utc(2026, 9, 4, 9), "final_reply")],
)
def test_an_fca_reply_by_the_third_business_day_is_a_summary_resolution(
    replied: datetime, template: str
) -> None:
    """DISP 1.5: received Friday 28 Aug 2026, the third business day after it is
    Thursday 3 Sep (Monday 31 Aug a bank holiday): a reply by its close is a summary
    resolution communication; one on Friday 4 Sep a final response."""
    edge = RegulatoryBand(name="within_3_business_days", deadline=utc(2026, 9, 3, 23))
    case = _case("uk-fca", utc(2026, 8, 28, 14), "debit_card", utc(2026, 9, 21, 23), [edge])
    reply = SendFinalReplyInput(
        actor="zhang.wei",
        reply="Refunded.",
        outcome=ComplaintOutcome.UPHELD,
        classification={"product_group": "payment_services", "cause": "terms_charges"},
    )
    check_send_final_reply(case, reply, replied)
    apply_send_final_reply(case, reply, replied)
    sent = [e.template.value for e in case.effects if isinstance(e, NotifyCustomer)]
    assert sent == [template]
    event = case.state.timeline[-1]
    assert event.type == "final_reply_sent"
    assert event.data.get("summary_resolution", False) is (template == "summary_resolution")
    assert case.state.regulatory is not None
    assert case.state.regulatory.replied_at == replied
