"""The side-effect activities on real databases and real local servers: every write
stored once however often the activity runs, every delivery made once, and business
refusals failing for good while outages are retried (docs/architecture.md, rules 2 and 3)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.departments import dispatch_to_department
from activities.feedback import record_feedback
from activities.notifications import notify_customer, notify_staff
from activities.register import record_case_progress
from activities.remedies import record_remedy
from activities.templates import TEMPLATES, TemplateError, render, required_params
from contracts.activities import (
    CaseProgressInput,
    CaseSnapshot,
    CustomerNotificationInput,
    CustomerTemplate,
    DepartmentDispatchInput,
    FeedbackRecordInput,
    RemedyRecordInput,
    StaffAlertKind,
    StaffNotificationInput,
)
from contracts.case import (
    CaseKind,
    Customer,
    Language,
    Priority,
    Remedy,
    RemedyKind,
    RemedyStatus,
    Stage,
    TimelineEvent,
)
from contracts.policy import ClockName
from store.cases import get_case_row, list_case_events
from store.db import session_scope
from store.outbox import get_customer_notification, get_staff_notification
from store.tables import (
    CaseEventRow,
    CustomerNotification,
    DepartmentWorkItem,
    FeedbackRecord,
    RemedyLedgerEntry,
    StaffNotification,
)
from store.work_items import get_work_item
from tests.db_fixtures import environment

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
R = TypeVar("R")


def run_twice(fn: Callable[[Any], R], arg: Any) -> tuple[R, R]:
    """Run an activity twice with the same input, as a retry would."""
    env = ActivityEnvironment()
    return env.run(fn, arg), env.run(fn, arg)


def count(database_url: str, model: type[SQLModel]) -> int:
    with session_scope(database_url) as session:
        return session.exec(select(func.count()).select_from(model)).one()


# --- local servers -----------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class RecordingServer:
    """A real HTTP server on a free port that answers ``status`` and keeps every
    request it got."""

    url: str
    status: int = 200
    requests: list[Request] = field(default_factory=list)


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    recording = RecordingServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            headers = {k.lower(): v for k, v in self.headers.items()}
            recording.requests.append(Request(self.path, headers, body))
            self.send_response(recording.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "recorded"}')

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recording.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recording
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SMTPServer(socketserver.ThreadingTCPServer):
    """Just enough SMTP (RFC 5321) for smtplib to hand over a message."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPSession)
        self.mails: list[ReceivedMail] = []


class _SMTPSession(socketserver.StreamRequestHandler):
    server: SMTPServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 test-smtp ready")
        sender, recipients = "", []
        while line := self.rfile.readline():
            verb, _, argument = line.decode().strip().partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self.reply("250-test-smtp")
                self.reply("250 8BITMIME")
            elif verb == "HELO" or verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "MAIL":
                sender = argument.partition(":")[2].strip().split(" ")[0].strip("<>")
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(argument.partition(":")[2].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b".") else data)
                self.server.mails.append(ReceivedMail(sender, recipients, b"".join(lines)))
                sender, recipients = "", []
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- inputs ----------------------------------------------------------------------------


def progress(seq_from: int, seq_to: int, stage: Stage = Stage.RECEIVED) -> CaseProgressInput:
    snapshot = CaseSnapshot(
        case_id="C-100",
        kind=CaseKind.COMPLAINT,
        channel="counter",
        category="fees",
        product="debit_card",
        priority=Priority.HIGH,
        customer_id="cust-9",
        stage=stage,
        owner=None,
        department=None,
        opened_at=T0,
        opened_by="agent-1",
        closed_at=None,
        breached=False,
        escalation_level=0,
        next_deadline=T0 + timedelta(minutes=5),
        policy_version="2025.1",
        clocks={},
    )
    events = [
        TimelineEvent(seq=s, type=f"step_{s}", at=T0 + timedelta(minutes=s), actor="agent-1")
        for s in range(seq_from, seq_to + 1)
    ]
    return CaseProgressInput(snapshot=snapshot, events=events)


def dispatch(department: str = "cards", dispatch_id: str = "C-100-transfer-1") -> Any:
    return DepartmentDispatchInput(
        dispatch_id=dispatch_id,
        case_id="C-100",
        department=department,
        kind=CaseKind.COMPLAINT,
        category="fees",
        product="credit_card",
        priority=Priority.NORMAL,
        description="annual fee charged twice",
        reason="needs the card centre's ledger",
        requested_by="agent-1",
        requested_at=T0,
    )


def customer(**contact: Any) -> Customer:
    return Customer(id="cust-9", name="王芳", **contact)


def notice(
    who: Customer,
    template: CustomerTemplate = CustomerTemplate.RECEIVED,
    notification_id: str = "C-100-1-received",
    **params: str,
) -> CustomerNotificationInput:
    if template is CustomerTemplate.RECEIVED and not params:
        params = {"deadline": "2025-03-03T09:05+00:00"}
    return CustomerNotificationInput(
        notification_id=notification_id,
        case_id="C-100",
        customer=who,
        template=template,
        params=params,
    )


def staff_alert(notification_id: str = "C-100-7-team_lead") -> StaffNotificationInput:
    return StaffNotificationInput(
        notification_id=notification_id,
        case_id="C-100",
        kind=StaffAlertKind.BREACH,
        clock=ClockName.FIRST_RESPONSE,
        recipient_role="team_lead",
        level=1,
        deadline=T0 + timedelta(minutes=5),
        message="Case C-100: first response deadline missed",
    )


# --- the case register -------------------------------------------------------------------


def test_record_case_progress_twice_stores_the_case_and_its_events_once(
    database_env: str,
) -> None:
    run_twice(record_case_progress, progress(1, 2))
    assert count(database_env, CaseEventRow) == 2
    with session_scope(database_env) as session:
        row = get_case_row(session, case_id="C-100")
    assert row is not None
    assert row.last_seq == 2
    assert row.priority == "high"


def test_record_case_progress_retried_late_keeps_the_newer_case(database_env: str) -> None:
    env = ActivityEnvironment()
    env.run(record_case_progress, progress(1, 1))
    env.run(record_case_progress, progress(2, 3, stage=Stage.ACKNOWLEDGED))
    env.run(record_case_progress, progress(1, 1))  # the first attempt's late retry
    with session_scope(database_env) as session:
        row = get_case_row(session, case_id="C-100")
        events = list_case_events(session, case_id="C-100")
    assert row is not None
    assert row.stage == "acknowledged"
    assert [e.seq for e in events] == [1, 2, 3]


# --- departments -----------------------------------------------------------------------


@pytest.fixture
def departments_file(tmp_path: Path, http_server: RecordingServer) -> Iterator[Path]:
    """Card Services has a webhook (the local server); Personal Loans has none."""
    path = tmp_path / "departments.toml"
    path.write_text(
        f'[departments.cards]\nwebhook_url = "{http_server.url}/cards/work-items"\n\n'
        "[departments.loans]\n",
        encoding="utf-8",
    )
    with environment(CASE_DEPARTMENTS_FILE=str(path)):
        yield path


def test_dispatch_posts_to_the_webhook_once(
    database_env: str, departments_file: Path, http_server: RecordingServer
) -> None:
    first, second = run_twice(dispatch_to_department, dispatch())
    assert (first.via, second.via, second.detail) == ("http", "http", "already delivered")
    assert len(http_server.requests) == 1
    request = http_server.requests[0]
    assert request.path == "/cards/work-items"
    assert request.headers["idempotency-key"] == "C-100-transfer-1"
    assert request.body["case_id"] == "C-100"
    assert request.body["department_name_en"] == "Card Services"
    assert count(database_env, DepartmentWorkItem) == 1
    with session_scope(database_env) as session:
        item = get_work_item(session, dispatch_id="C-100-transfer-1")
    assert item is not None
    assert item.delivered_via == "http"
    assert item.delivered_at is not None


def test_dispatch_without_a_webhook_queues_in_the_register(
    database_env: str, departments_file: Path, http_server: RecordingServer
) -> None:
    first, second = run_twice(dispatch_to_department, dispatch("loans"))
    assert (first.via, second.via) == ("register", "register")
    assert http_server.requests == []
    assert count(database_env, DepartmentWorkItem) == 1


def test_dispatch_to_an_unknown_department_fails_for_good(
    database_env: str, departments_file: Path
) -> None:
    with pytest.raises(ApplicationError) as failure:
        ActivityEnvironment().run(dispatch_to_department, dispatch("deposits"))
    assert failure.value.type == "UnknownDepartment"
    assert failure.value.non_retryable
    assert count(database_env, DepartmentWorkItem) == 0


def test_a_department_refusal_is_final_and_an_outage_is_retried(
    database_env: str, departments_file: Path, http_server: RecordingServer
) -> None:
    env = ActivityEnvironment()
    http_server.status = 422
    with pytest.raises(ApplicationError) as refused:
        env.run(dispatch_to_department, dispatch(dispatch_id="d-refused"))
    assert (refused.value.type, refused.value.non_retryable) == ("DepartmentRejected", True)

    http_server.status = 500
    with pytest.raises(ApplicationError) as outage:
        env.run(dispatch_to_department, dispatch(dispatch_id="d-outage"))
    assert (outage.value.type, outage.value.non_retryable) == ("DepartmentUnavailable", False)
    # The department's system is back: the retry delivers, and only then is it marked.
    http_server.status = 201
    assert env.run(dispatch_to_department, dispatch(dispatch_id="d-outage")).via == "http"
    assert [r.headers["idempotency-key"] for r in http_server.requests] == [
        "d-refused",
        "d-outage",
        "d-outage",
    ]


def test_an_unreachable_webhook_is_retried(database_env: str, tmp_path: Path) -> None:
    path = tmp_path / "departments.toml"
    path.write_text(
        f'[departments.cards]\nwebhook_url = "http://127.0.0.1:{closed_port()}/x"\n',
        encoding="utf-8",
    )
    with environment(CASE_DEPARTMENTS_FILE=str(path)), pytest.raises(ApplicationError) as err:
        ActivityEnvironment().run(dispatch_to_department, dispatch())
    assert (err.value.type, err.value.non_retryable) == ("DepartmentUnavailable", False)
    with session_scope(database_env) as session:
        item = get_work_item(session, dispatch_id="C-100-transfer-1")
    assert item is not None
    assert item.delivered_at is None


# --- customer notifications --------------------------------------------------------------


def test_without_an_adapter_the_message_waits_in_the_outbox_once(database_env: str) -> None:
    first, second = run_twice(notify_customer, notice(customer(phone="+86 138 0000 0000")))
    assert (first.via, second.via) == ("outbox", "outbox")
    assert count(database_env, CustomerNotification) == 1
    with session_scope(database_env) as session:
        row = get_customer_notification(session, notification_id="C-100-1-received")
    assert row is not None
    assert (row.channel, row.recipient, row.status, row.language) == (
        "sms",
        "+86 138 0000 0000",
        "queued",
        "zh",
    )
    assert "王芳" in row.body
    assert "C-100" in row.body
    assert "2025年3月3日 17:05（UTC+08:00）" in row.body  # the deadline in Beijing time


def test_a_customer_without_phone_or_email_is_told_in_the_app(database_env: str) -> None:
    result = ActivityEnvironment().run(notify_customer, notice(customer()))
    assert result.via == "outbox"
    with session_scope(database_env) as session:
        row = get_customer_notification(session, notification_id="C-100-1-received")
    assert row is not None
    assert (row.channel, row.recipient) == ("app", "cust-9")


def test_the_message_is_in_the_customers_language_with_the_departments_name(
    database_env: str,
) -> None:
    english = Customer(id="cust-9", name="Wang Fang", email="wf@example.cn", language=Language.EN)
    params = {"department": "cards", "deadline": "2025-03-05T09:00+00:00"}
    ActivityEnvironment().run(
        notify_customer, notice(english, CustomerTemplate.TRANSFERRED, "n-en", **params)
    )
    with session_scope(database_env) as session:
        row = get_customer_notification(session, notification_id="n-en")
    assert row is not None
    assert row.channel == "email"
    assert row.subject == "Your request C-100 has been passed to a specialist team"
    assert "our Card Services team" in row.body
    assert "5 Mar 2025 17:00 (UTC+08:00)" in row.body


def test_a_template_missing_a_param_fails_for_good(database_env: str) -> None:
    with pytest.raises(ApplicationError) as failure:
        ActivityEnvironment().run(
            notify_customer, notice(customer(), CustomerTemplate.ANSWERED, "n-bad")
        )
    assert (failure.value.type, failure.value.non_retryable) == ("TemplateError", True)
    assert "answer" in failure.value.message
    assert count(database_env, CustomerNotification) == 0


def test_the_gateway_gets_the_message_once(database_env: str, http_server: RecordingServer) -> None:
    with environment(CASE_NOTIFY_GATEWAY_URL=f"{http_server.url}/messages"):
        first, second = run_twice(notify_customer, notice(customer(phone="13800000000")))
    assert (first.via, second.via, second.detail) == ("http", "http", "already sent")
    assert len(http_server.requests) == 1
    request = http_server.requests[0]
    assert request.headers["idempotency-key"] == "C-100-1-received"
    assert request.body["to"] == "13800000000"
    assert (request.body["channel"], request.body["language"]) == ("sms", "zh")
    assert request.body["notification_id"] == "C-100-1-received"
    assert request.body["subject"] == "【受理通知】业务编号 C-100"
    with session_scope(database_env) as session:
        row = get_customer_notification(session, notification_id="C-100-1-received")
    assert row is not None
    assert row.status == "sent"
    assert row.sent_at is not None


def test_a_gateway_refusal_is_final_and_an_outage_is_retried(
    database_env: str, http_server: RecordingServer
) -> None:
    env = ActivityEnvironment()
    with environment(CASE_NOTIFY_GATEWAY_URL=f"{http_server.url}/messages"):
        http_server.status = 400
        for _ in range(2):  # a refused message stays refused without asking again
            with pytest.raises(ApplicationError) as refused:
                env.run(notify_customer, notice(customer(phone="13800000000"), notification_id="a"))
            assert (refused.value.type, refused.value.non_retryable) == (
                "NotificationRejected",
                True,
            )
        http_server.status = 503
        with pytest.raises(ApplicationError) as outage:
            env.run(notify_customer, notice(customer(phone="13800000000"), notification_id="b"))
        assert (outage.value.type, outage.value.non_retryable) == (
            "NotificationUnavailable",
            False,
        )
    assert [r.body["notification_id"] for r in http_server.requests] == ["a", "b"]
    with session_scope(database_env) as session:
        refused_row = get_customer_notification(session, notification_id="a")
        waiting_row = get_customer_notification(session, notification_id="b")
    assert refused_row is not None
    assert refused_row.status == "failed"
    assert waiting_row is not None
    assert waiting_row.status == "queued"


def test_email_goes_out_over_smtp_once(database_env: str, smtp_server: SMTPServer) -> None:
    host, port = smtp_server.server_address[:2]
    who = customer(email="wang.fang@example.cn")
    with environment(CASE_SMTP_HOST=str(host), CASE_SMTP_PORT=str(port)):
        first, second = run_twice(notify_customer, notice(who))
    assert (first.via, second.via) == ("smtp", "smtp")
    assert len(smtp_server.mails) == 1
    mail = smtp_server.mails[0]
    assert mail.recipients == ["wang.fang@example.cn"]
    message = mail.message()
    assert message["Subject"] == "【受理通知】业务编号 C-100"
    assert message["Message-ID"] == "<C-100-1-received@bank.example>"
    body = message.get_body()
    assert body is not None
    assert "尊敬的王芳" in body.get_content()
    with session_scope(database_env) as session:
        row = get_customer_notification(session, notification_id="C-100-1-received")
    assert row is not None
    assert (row.status, row.via) == ("sent", "smtp")


def test_sms_is_not_sent_by_email(database_env: str, smtp_server: SMTPServer) -> None:
    host, port = smtp_server.server_address[:2]
    with environment(CASE_SMTP_HOST=str(host), CASE_SMTP_PORT=str(port)):
        result = ActivityEnvironment().run(notify_customer, notice(customer(phone="13800000000")))
    assert result.via == "outbox"
    assert smtp_server.mails == []


# --- staff notifications -----------------------------------------------------------------


def test_staff_alerts_are_stored_once_and_posted_once(
    database_env: str, http_server: RecordingServer
) -> None:
    with environment(CASE_STAFF_WEBHOOK_URL=f"{http_server.url}/alerts"):
        first, second = run_twice(notify_staff, staff_alert())
    assert (first.via, second.via) == ("http", "http")
    assert count(database_env, StaffNotification) == 1
    assert len(http_server.requests) == 1
    request = http_server.requests[0]
    assert request.headers["idempotency-key"] == "C-100-7-team_lead"
    assert (request.body["kind"], request.body["clock"]) == ("breach", "first_response")


def test_staff_alerts_without_a_webhook_wait_in_the_outbox(database_env: str) -> None:
    first, second = run_twice(notify_staff, staff_alert())
    assert (first.via, second.via) == ("outbox", "outbox")
    with session_scope(database_env) as session:
        row = get_staff_notification(session, notification_id="C-100-7-team_lead")
    assert row is not None
    assert (row.status, row.recipient_role) == ("queued", "team_lead")
    assert row.deadline == T0 + timedelta(minutes=5)


# --- remedies and feedback ---------------------------------------------------------------


def remedy(status: RemedyStatus = RemedyStatus.APPROVED) -> RemedyRecordInput:
    return RemedyRecordInput(
        case_id="C-100",
        customer_id="cust-9",
        remedy=Remedy(
            remedy_id="R-1",
            kind=RemedyKind.FEE_REFUND,
            description="refund of the duplicated annual fee",
            amount=Decimal("1234.50"),
            status=status,
            proposed_by="agent-1",
            decided_by="supervisor-1",
            decided_at=T0,
        ),
    )


def test_a_remedy_enters_the_ledger_once_with_its_exact_amount(database_env: str) -> None:
    first, second = run_twice(record_remedy, remedy())
    assert (first.recorded, second.recorded) == (True, False)
    assert first.amount == second.amount == Decimal("1234.50")
    assert count(database_env, RemedyLedgerEntry) == 1


def test_only_approved_remedies_enter_the_ledger(database_env: str) -> None:
    with pytest.raises(ApplicationError) as failure:
        ActivityEnvironment().run(record_remedy, remedy(RemedyStatus.PENDING_APPROVAL))
    assert (failure.value.type, failure.value.non_retryable) == ("RemedyNotApproved", True)
    assert count(database_env, RemedyLedgerEntry) == 0


def test_feedback_is_recorded_once(database_env: str) -> None:
    feedback = FeedbackRecordInput(
        feedback_id="C-100-feedback",
        case_id="C-100",
        kind=CaseKind.COMPLAINT,
        channel="counter",
        category="fees",
        owner="owner-a",
        score=4,
        comment="解决得很快",
        at=T0,
    )
    run_twice(record_feedback, feedback)
    with session_scope(database_env) as session:
        rows = session.exec(select(FeedbackRecord)).all()
    assert [(r.score, r.comment, r.owner, r.at) for r in rows] == [(4, "解决得很快", "owner-a", T0)]


# --- templates ---------------------------------------------------------------------------

SAMPLE_PARAMS = {
    "case_id": "C-1",
    "customer_name": "王芳",
    "deadline": "2025-03-03T09:05+00:00",
    "reopen_until": "2025-03-17T09:00+00:00",
    "agent": "agent-1",
    "answer": "您的卡片已解锁。",
    "department": "信用卡中心",
    "message": "退款已提交。",
    "reply": "投诉成立。",
    "remedies": "退还年费 (200.00 CNY)",
    "reason": "需调取卡组织交易记录",
}


@pytest.mark.parametrize("template", list(CustomerTemplate))
def test_every_template_reads_in_chinese_and_english_with_the_same_params(
    template: CustomerTemplate,
) -> None:
    assert set(TEMPLATES[template]) == set(Language)
    assert required_params(template, Language.ZH) == required_params(template, Language.EN)
    for language in Language:
        params = {k: SAMPLE_PARAMS[k] for k in required_params(template, language)}
        message = render(template, language, params)
        assert "C-1" in message.subject
        assert "{" not in message.subject + message.body


def test_a_template_names_the_params_it_lacks() -> None:
    with pytest.raises(TemplateError, match=r"needs params \['deadline', 'department'\]"):
        render(CustomerTemplate.TRANSFERRED, Language.EN, {"case_id": "C-1", "customer_name": "W"})


def test_remedies_appear_in_the_final_reply_only_when_there_are_some() -> None:
    base = {"case_id": "C-1", "customer_name": "W", "reply": "upheld"}
    without = render(CustomerTemplate.FINAL_REPLY, Language.EN, {**base, "remedies": ""})
    with_some = render(
        CustomerTemplate.FINAL_REPLY, Language.ZH, {**base, "remedies": "退还年费 (200.00 CNY)"}
    )
    assert "remedies" not in without.body
    assert with_some.body.endswith("我们将为您提供以下补救措施：退还年费 (200.00 CNY)")
