"""What the customer reads at each step (R2.2, R3.7), in Chinese and English.

Each template has a subject (e-mail, app inbox) and a body (every channel), with
``{name}`` placeholders. ``case_id`` and ``customer_name`` are always supplied by the
``notify_customer`` activity; the others come from the workflow's params. A param a
template needs but did not get is a bug in the caller, not a passing fault: rendering
raises ``TemplateError`` and the activity fails without retrying.

Time params (``deadline``, ``reopen_until``) arrive as ISO 8601 with an offset and
are shown in the bank's time zone (param ``timezone``, default Asia/Shanghai).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.activities import CustomerTemplate
from contracts.case import Language

DEFAULT_TIMEZONE = "Asia/Shanghai"
TIME_PARAMS = frozenset({"deadline", "reopen_until"})
# Params that tune rendering rather than fill a placeholder.
CONTROL_PARAMS = frozenset({"timezone"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class TemplateError(ValueError):
    """A template cannot be rendered with the params given."""


@dataclass(frozen=True)
class Wording:
    """One template in one language. ``optional`` maps a param to a paragraph added
    to the body only when that param is given and not empty."""

    subject: str
    body: str
    optional: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str


ZH = Language.ZH
EN = Language.EN

TEMPLATES: Mapping[CustomerTemplate, Mapping[Language, Wording]] = {
    CustomerTemplate.RECEIVED: {
        ZH: Wording(
            "【受理通知】业务编号 {case_id}",
            "尊敬的{customer_name}：您反映的问题已受理，业务编号 {case_id}。"
            "我们将于 {deadline} 前给您答复。联系我们时请提供该编号。",
        ),
        EN: Wording(
            "We have received your request ({case_id})",
            "Dear {customer_name}, we have received your request, reference {case_id}. "
            "We will respond by {deadline}. Please quote this reference whenever you "
            "contact us.",
        ),
    },
    CustomerTemplate.ACKNOWLEDGED: {
        ZH: Wording(
            "【处理中】业务编号 {case_id}",
            "尊敬的{customer_name}：客服专员 {agent} 已开始处理您的问题（业务编号 {case_id}），"
            "处理进展将及时告知您。",
        ),
        EN: Wording(
            "Your request {case_id} is being handled",
            "Dear {customer_name}, our agent {agent} is now handling your request "
            "(reference {case_id}). We will keep you informed of the progress.",
        ),
    },
    CustomerTemplate.ANSWERED: {
        ZH: Wording(
            "【答复】业务编号 {case_id}",
            "尊敬的{customer_name}：关于您的问题（业务编号 {case_id}），答复如下：\n{answer}\n"
            "如仍有疑问，欢迎随时联系我们。",
        ),
        EN: Wording(
            "Our answer to your request {case_id}",
            "Dear {customer_name}, here is our answer to your request (reference "
            "{case_id}):\n{answer}\nIf you have further questions, please contact us at "
            "any time.",
        ),
    },
    CustomerTemplate.TRANSFERRED: {
        ZH: Wording(
            "【转办通知】业务编号 {case_id}",
            "尊敬的{customer_name}：您的问题（业务编号 {case_id}）已转交{department}专项处理，"
            "我们将于 {deadline} 前告知您处理结果。",
        ),
        EN: Wording(
            "Your request {case_id} has been passed to a specialist team",
            "Dear {customer_name}, your request (reference {case_id}) has been passed to "
            "our {department} team. We will tell you the result by {deadline}.",
        ),
    },
    CustomerTemplate.PROGRESS: {
        ZH: Wording(
            "【进展通知】业务编号 {case_id}",
            "尊敬的{customer_name}：您的问题（业务编号 {case_id}）有新的进展：\n{message}",
        ),
        EN: Wording(
            "Progress on your request {case_id}",
            "Dear {customer_name}, there is news on your request (reference {case_id}):\n{message}",
        ),
    },
    CustomerTemplate.FINAL_REPLY: {
        ZH: Wording(
            "【处理结果】业务编号 {case_id}",
            "尊敬的{customer_name}：关于您的投诉（业务编号 {case_id}），处理结果如下：\n{reply}",
            {"remedies": "\n我们将为您提供以下补救措施：{remedies}"},
        ),
        EN: Wording(
            "The outcome of your complaint {case_id}",
            "Dear {customer_name}, here is the outcome of your complaint (reference "
            "{case_id}):\n{reply}",
            {"remedies": "\nWe will provide the following remedies: {remedies}"},
        ),
    },
    CustomerTemplate.REGULATOR_EXTENSION: {
        ZH: Wording(
            "【处理期限延长】业务编号 {case_id}",
            "尊敬的{customer_name}：您的投诉（业务编号 {case_id}）需要进一步核实，处理期限"
            "延长至 {deadline}。原因：{reason}。我们会在此之前告知您处理结果。",
        ),
        EN: Wording(
            "More time needed for your complaint {case_id}",
            "Dear {customer_name}, your complaint (reference {case_id}) needs further work; "
            "we will give you our final response by {deadline}. Why: {reason}.",
        ),
    },
    # DISP 1.5.4R: a complaint resolved by the third business day: it is resolved; the
    # complainant may be able to refer it to the Financial Ombudsman Service.
    CustomerTemplate.SUMMARY_RESOLUTION: {
        ZH: Wording(
            "【投诉已解决】业务编号 {case_id}",
            "尊敬的{customer_name}：关于您的投诉（业务编号 {case_id}），我们认为已经解决：\n"
            "{reply}\n如您之后对解决结果仍不满意，您可能有权将投诉提交至金融申诉专员服务机构"
            "（Financial Ombudsman Service，www.financial-ombudsman.org.uk）。",
            {"remedies": "\n我们将为您提供以下补救措施：{remedies}"},
        ),
        EN: Wording(
            "Your complaint {case_id} is resolved",
            "Dear {customer_name}, you made a complaint to us (reference {case_id}), and we "
            "now consider it resolved:\n{reply}\nIf you later decide you are dissatisfied "
            "with the resolution, you may be able to refer your complaint to the Financial "
            "Ombudsman Service (www.financial-ombudsman.org.uk).",
            {"remedies": "\nWe will provide the following remedies: {remedies}"},
        ),
    },
    CustomerTemplate.CLOSED_SURVEY: {
        ZH: Wording(
            "【满意度调查】业务编号 {case_id}",
            "尊敬的{customer_name}：您的问题（业务编号 {case_id}）已办结。请回复 1 至 5 分为"
            "本次服务评分（5 分为非常满意），您的意见将帮助我们改进服务。如对处理结果仍有"
            "异议，请于 {reopen_until} 前联系我们，我们将重新处理。",
        ),
        EN: Wording(
            "How did we do? ({case_id})",
            "Dear {customer_name}, your request (reference {case_id}) is now closed. "
            "Please rate our service from 1 to 5 (5 = very satisfied) by replying to this "
            "message; your feedback helps us improve. If you are not satisfied with the "
            "outcome, contact us before {reopen_until} and we will reopen it.",
        ),
    },
    CustomerTemplate.REOPENED: {
        ZH: Wording(
            "【重新受理】业务编号 {case_id}",
            "尊敬的{customer_name}：您的问题（业务编号 {case_id}）已重新受理，我们会尽快与您联系。",
        ),
        EN: Wording(
            "Your request {case_id} has been reopened",
            "Dear {customer_name}, your request (reference {case_id}) has been reopened. "
            "We will contact you shortly.",
        ),
    },
    CustomerTemplate.HOLDING: {
        ZH: Wording(
            "【处理中】业务编号 {case_id}",
            "尊敬的{customer_name}：很抱歉让您久等，您的问题（业务编号 {case_id}）仍在加紧"
            "处理中，我们会尽快给您答复。",
        ),
        EN: Wording(
            "We are still working on your request {case_id}",
            "Dear {customer_name}, we are sorry for the wait. Your request (reference "
            "{case_id}) is still being worked on and we will reply as soon as possible.",
        ),
    },
    CustomerTemplate.INCIDENT_HOLDING: {
        ZH: Wording(
            "【服务提示】业务编号 {case_id}",
            "尊敬的{customer_name}：我们已注意到近期部分客户遇到与您反映的类似问题，"
            "专项小组正在集中处理。您的问题（业务编号 {case_id}）已纳入处理范围，"
            "您无需重复反映，我们会尽快告知处理进展。给您带来的不便，敬请谅解。",
        ),
        EN: Wording(
            "We are working on a problem affecting your request {case_id}",
            "Dear {customer_name}, we are aware that a number of customers have met a "
            "problem like the one you reported, and a dedicated team is working on it. "
            "Your request (reference {case_id}) is part of that work; there is no need to "
            "contact us again. We will update you as soon as we can, and we apologise for "
            "the inconvenience.",
        ),
    },
}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def wording(template: CustomerTemplate, language: Language) -> Wording:
    try:
        return TEMPLATES[template][language]
    except KeyError:
        raise TemplateError(
            f"template {template.value!r} has no {language.value} wording"
        ) from None


def required_params(template: CustomerTemplate, language: Language) -> frozenset[str]:
    """The params the template cannot be rendered without."""
    words = wording(template, language)
    return frozenset(_placeholders(words.subject) | _placeholders(words.body))


def _local_time(value: str, language: Language, zone: ZoneInfo) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # already human text (e.g. "-"): shown as given
    if moment.tzinfo is None:
        return value
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}"
    if language is Language.ZH:
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}（{utc}）"
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H:%M} ({utc})"


def render(
    template: CustomerTemplate, language: Language, params: Mapping[str, str]
) -> RenderedMessage:
    """The message in ``language``; ``TemplateError`` names any param it lacks."""
    words = wording(template, language)
    missing = sorted(required_params(template, language) - params.keys())
    if missing:
        raise TemplateError(
            f"template {template.value!r} ({language.value}) needs params {missing}; "
            f"got {sorted(params)}"
        )
    zone_name = params.get("timezone", DEFAULT_TIMEZONE)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TemplateError(f"unknown timezone {zone_name!r}") from None
    values = {
        name: _local_time(value, language, zone) if name in TIME_PARAMS else value
        for name, value in params.items()
        if name not in CONTROL_PARAMS
    }
    body = words.body
    for name, paragraph in words.optional.items():
        if values.get(name):
            body += paragraph
    # format_map with a plain dict: placeholders are simple names, never attributes.
    return RenderedMessage(subject=words.subject.format_map(values), body=body.format_map(values))
