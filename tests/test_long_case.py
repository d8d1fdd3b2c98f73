"""A case that lives long and busy: thousands of notes and rejected signals.

The case continues as new before its history reaches the policy's budget, carrying
its whole state; its timeline stays whole through the API (earlier runs' events from
the register), and a keyed request retried after the new run began gets its first
answer. Runs the real API, worker and register on the dev server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from contracts.case import CaseState, case_workflow_id
from tests.api_fixtures import HISTORY_BUDGET, ApiStack
from tests.case_harness import run_lengths

NOTES = 2_000
REJECTED = 300
BATCH = 50


def complaint() -> dict[str, Any]:
    return {
        "kind": "complaint",
        "channel": "phone",
        "customer": {"id": "C-LONG", "name": "Zhao Lei", "phone": "+86 139 0000 0001"},
        "category": "card_fee",
        "product": "credit_card",
        "description": "A long-running dispute with many calls.",
    }


async def test_a_busy_case_continues_as_new_and_keeps_its_timeline_and_answers(
    api: ApiStack,
) -> None:
    opened = await api.post("frontline", "/v1/cases", complaint())
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    path = f"/v1/cases/{case_id}"
    first = await api.post("agent", f"{path}/acknowledge", {"note": "called"}, key="ack-1")
    assert first.status_code == 200, first.text

    # Not bound to a run: signals and queries follow the case into its new runs.
    handle = api.client.get_workflow_handle(case_workflow_id(case_id))

    async def applied(count: int) -> None:
        """Wait until the case has recorded ``count`` events (signals give no answer)."""
        async with asyncio.timeout(120):
            while True:
                state = await handle.query("get_state", result_type=CaseState)
                if state.last_seq >= count:
                    return
                await asyncio.sleep(0.2)

    # Sent in batches, each applied before the next: a sender faster than the worker
    # adds signals to the history while the case renews itself, which no workflow can
    # refuse (the budget's margin above the renewal point is for them).
    seen = (await handle.query("get_state", result_type=CaseState)).last_seq
    for start in range(0, NOTES, BATCH):
        await asyncio.gather(
            *(
                handle.signal("add_note", {"actor": "li.na", "note": f"call {n}"})
                for n in range(start, start + BATCH)
            )
        )
        seen += BATCH
        await applied(seen)
    for _ in range(0, REJECTED, BATCH):
        # The investigation before an owner is named does not fit: rejected, recorded.
        await asyncio.gather(
            *(
                handle.signal("record_investigation", {"actor": "li.na", "findings": "x"})
                for _ in range(BATCH)
            )
        )
        seen += BATCH
        await applied(seen)

    async def timeline() -> list[dict[str, Any]]:
        response = await api.get("supervisor", path)
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["timeline"]
        return events

    # A retry of the first request, with its key, after the case has continued as
    # new: the first answer, not a second acknowledgement (nor a 409).
    again = await api.post("agent", f"{path}/acknowledge", {"note": "called"}, key="ack-1")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()

    for step, body in (
        ("assign", {"owner": "zhang.wei"}),
        ("investigation", {"findings": "fee charged twice"}),
        ("reply", {"reply": "We reversed the fee."}),
        ("close", {}),
    ):
        done = await api.post("agent", f"{path}/{step}", body)
        assert done.status_code == 200, (step, done.text)
    assert done.json()["stage"] == "closed"

    events = await timeline()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "the timeline is whole"
    types = [e["type"] for e in events]
    assert types.count("note_added") == NOTES
    assert types.count("signal_rejected") == REJECTED
    assert types.count("acknowledged") == 1
    assert types[-1] == "closed" or "closed" in types[-3:]

    lengths = await run_lengths(api.client, case_workflow_id(case_id))
    assert len(lengths) >= 2, "the case continued as new"
    assert max(lengths) <= HISTORY_BUDGET, lengths
