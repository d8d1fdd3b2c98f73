"""The regulator's clock (R9): its extensions, each an explicit action with the
approver and the customer's notice the rule demands (NFRA 2020 No. 3: complex cases
to 30 days, especially complex ones another 30 with senior approval and the
complainant told; DISP 1.6.2AR and PSD2 Art. 101: a holding reply and 35 business
days; CFPB: "in progress" and 60 days). The extensions come in the order the profile
lists them; each one's limit counts from receipt."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from contracts.actions import ActionName, ExtendRegulatorClockBody, ExtendRegulatorClockInput
from contracts.activities import CustomerTemplate
from contracts.case import ClockStatus
from contracts.policy import ClockName, RegulatorExtension
from workflows import clocks
from workflows.case_file import CaseFile, invalid, reject
from workflows.rules.table import CountedDeadline, CountingRule, WorkingDayCount


def _next_extension(case: CaseFile) -> RegulatorExtension:
    regulator, regime = case.regulator_regime()
    regulatory = case.state.regulatory
    assert regulatory is not None
    used = len(regulatory.extensions)
    if used >= len(regime.extensions):
        raise reject(
            f"no further extension of the {regulator.profile} limit for {regime.name} complaints"
        )
    return regime.extensions[used]


def check_extend_regulator_clock(
    case: CaseFile, input: ExtendRegulatorClockInput, now: datetime
) -> None:
    case.require_open()
    extension = _next_extension(case)
    clock = case.clock(ClockName.REGULATOR_REPLY)
    if clock.status is not ClockStatus.RUNNING:
        raise reject(
            f"the regulator's clock is {clock.status.value}; an extension is granted before"
            " its deadline"
        )
    if input.extension != extension.name:
        raise invalid(f"extension: the next extension allowed is {extension.name!r}")
    if extension.needs_approval:
        if input.approved_by is None:
            raise invalid(f"approved_by: the {extension.name} extension needs a senior approver")
        if input.approved_by == input.actor:
            raise invalid("approved_by: the approver must be someone other than the requester")


def regulator_extension_counts(
    case: CaseFile, input: ExtendRegulatorClockInput, now: datetime
) -> dict[str, WorkingDayCount]:
    """A limit in working days is counted from receipt, like the first one."""
    extension = _next_extension(case)
    if extension.limit.working_days is None:
        return {}
    clock = case.state.clocks[ClockName.REGULATOR_REPLY]
    return {"deadline": WorkingDayCount(start=clock.started_at, days=extension.limit.working_days)}


def apply_extend_regulator_clock(
    case: CaseFile,
    input: ExtendRegulatorClockInput,
    now: datetime,
    counted: Mapping[str, CountedDeadline],
) -> None:
    extension = _next_extension(case)
    clock = case.state.clocks[ClockName.REGULATOR_REPLY]
    assert clock.deadline is not None
    if extension.limit.duration is not None:
        new_deadline = clock.started_at + extension.limit.duration
    else:
        new_deadline = counted["deadline"].deadline
    if new_deadline <= clock.deadline:
        raise invalid(f"extension: {extension.name} would not move the deadline")
    clocks.extend_to(clock, new_deadline=new_deadline, now=now)
    regulatory = case.state.regulatory
    assert regulatory is not None
    regulatory.extensions.append(extension.name)
    seq = case.record(
        "regulator_clock_extended",
        at=now,
        actor=input.actor,
        detail=input.reason,
        clock=ClockName.REGULATOR_REPLY.value,
        extension=extension.name,
        approved_by=input.approved_by,
        deadline=new_deadline.isoformat(),
    )
    if extension.notify_customer:
        case.notify_customer(
            CustomerTemplate.REGULATOR_EXTENSION,
            seq,
            reason=input.reason,
            deadline=new_deadline.isoformat(timespec="minutes"),
        )


EXTEND_REGULATOR_CLOCK = CountingRule(
    ActionName.EXTEND_REGULATOR_CLOCK,
    ExtendRegulatorClockBody,
    ExtendRegulatorClockInput,
    check_extend_regulator_clock,
    regulator_extension_counts,
    apply_extend_regulator_clock,
)
