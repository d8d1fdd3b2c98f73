"""The HTML report's sections on improvement actions, training needs, agents, training
effects and staff suggestions (R5, R6.3, R6.5), in Chinese or English.

Reads the stored report's JSON; a revision stored before these sections existed says
so instead of showing empty tables.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Literal

Lang = Literal["zh", "en"]

LABELS: dict[str, tuple[str, str]] = {
    "improvements": ("Improvement actions", "改进措施"),
    "not_tracked": (
        "This revision was stored before improvement actions were tracked.",
        "该版本生成时尚未跟踪改进措施。",
    ),
    "open_overdue": (
        "Open at the period's end: {open}, of which overdue: {overdue}",
        "期末未完成：{open} 项，其中逾期 {overdue} 项",
    ),
    "action": ("Action", "措施"),
    "status": ("Status", "状态"),
    "owner": ("Owner", "负责人"),
    "due": ("Due", "到期"),
    "target": ("Target", "目标"),
    "outcome": ("Outcome", "结果"),
    "verdict": ("Target this period", "本期目标评定"),
    "training_needs": ("Suggested training needs", "建议培训需求"),
    "agents_in_cell": ("Agents (late or low scores)", "相关坐席（超时或低分）"),
    "agents": ("Agents", "坐席考核"),
    "agent": ("Agent", "坐席"),
    "rank": ("Rank", "排名"),
    "cases": ("Cases", "案件数"),
    "fr_p50": ("First response p50", "首次响应 p50"),
    "fr_p90": ("First response p90", "首次响应 p90"),
    "on_time": ("On time", "按时率"),
    "mean": ("Mean score", "平均分"),
    "answers": ("Answers", "评价数"),
    "reopen_rate": ("Reopen rate", "重开率"),
    "remedies": ("Remedies", "补救数"),
    "not_ranked": ("not ranked (fewer than {n} cases)", "未排名（少于 {n} 件）"),
    "trainings": ("Training effect", "培训效果"),
    "before": ("Before", "培训前"),
    "after": ("After", "培训后"),
    "change": ("Change (points)", "变化（百分点）"),
    "suggestions": ("Staff suggestions", "员工建议"),
    "suggestion": ("Suggestion", "建议"),
    "author": ("Author", "提出人"),
    "decision": ("Decision", "处理"),
    "none": ("None.", "无。"),
}
VERDICTS: dict[str, tuple[str, str]] = {
    "reached": ("reached", "达成"),
    "not_reached": ("not reached", "未达成"),
    "too_few_cases": ("too few cases to tell", "案件太少，无法判断"),
    "improved": ("improved", "改善"),
    "unchanged": ("unchanged", "无明显变化"),
    "worse": ("worse", "变差"),
    "accepted": ("accepted", "已采纳"),
    "declined": ("declined", "不予采纳"),
    "open": ("waiting", "待处理"),
    "overdue": ("overdue", "逾期"),
    "closed": ("closed", "已关闭"),
}


def _t(key: str, lang: Lang, table: dict[str, tuple[str, str]] = LABELS) -> str:
    en, zh = table.get(key, (key, key))
    return zh if lang == "zh" else en


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _seconds(value: int | None) -> str:
    return "—" if value is None else f"{value // 60}m {value % 60:02d}s"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _heading(key: str, lang: Lang) -> str:
    return f"<h2>{_esc(_t(key, lang))}</h2>"


def _or_none(table: str, lang: Lang) -> str:
    return table or f"<p>{_esc(_t('none', lang))}</p>"


def improvements_html(report: dict[str, Any], lang: Lang) -> str:
    section = report.get("improvement_actions") or {}
    parts = [_heading("improvements", lang)]
    if not section.get("available"):
        return parts[0] + f"<p>{_esc(_t('not_tracked', lang))}</p>"
    counts = _t("open_overdue", lang).format(open=section["open"], overdue=section["overdue"])
    parts.append(f"<p>{_esc(counts)}</p>")
    rows = []
    for a in section["actions"]:
        judgement = a.get("judgement")
        verdict = "—"
        if judgement:
            value = judgement["value"]
            shown = "—" if value is None else _pct(value) if value <= 1 else f"{value:.2f}"
            verdict = (
                f"{_t(judgement['verdict'], lang, VERDICTS)} ({shown}, n={judgement['count']})"
            )

        rows.append(
            (
                f"{a['action_id']} · {a['title']}",
                _t(a["status"], lang, VERDICTS),
                a.get("owner"),
                (a.get("due") or "")[:10],
                a.get("target"),
                a.get("outcome") or "—",
                verdict,
            )
        )
    headers = [
        _t(k, lang) for k in ("action", "status", "owner", "due", "target", "outcome", "verdict")
    ]
    parts.append(_or_none(_table(headers, rows), lang))
    return "".join(parts)


def training_needs_html(report: dict[str, Any], lang: Lang) -> str:
    needs = report.get("training_needs")
    if needs is None:
        return ""
    sentence = "sentence_zh" if lang == "zh" else "sentence_en"
    rows = [
        (n[sentence], ", ".join(f"{a['agent']} ({a['bad']}/{a['count']})" for a in n["agents"]))
        for n in needs
    ]
    headers = [_t("training_needs", lang), _t("agents_in_cell", lang)]
    return _heading("training_needs", lang) + _or_none(_table(headers, rows), lang)


def people_html(report: dict[str, Any], lang: Lang) -> str:
    """The quarterly evaluation's agents, training effects and suggestions."""
    parts: list[str] = []
    team = report.get("agents")
    if team is not None:
        not_ranked = _t("not_ranked", lang).format(n=team["min_cases"])
        rows: list[tuple[object, ...]] = [
            (
                a["agent"],
                a["rank"] if a["rank"] is not None else not_ranked,
                a["cases"],
                _seconds(a["first_response_p50_seconds"]),
                _seconds(a["first_response_p90_seconds"]),
                _pct(a["on_time_share"]),
                "—" if a["satisfaction_mean"] is None else f"{a['satisfaction_mean']:.2f}",
                a["satisfaction_answers"],
                _pct(a["reopen_rate"]),
                a["remedies"],
            )
            for a in team["agents"]
        ]
        keys = ("agent", "rank", "cases", "fr_p50", "fr_p90", "on_time", "mean", "answers")
        headers = [_t(k, lang) for k in (*keys, "reopen_rate", "remedies")]
        parts += [_heading("agents", lang), _or_none(_table(headers, rows), lang)]
    trainings = report.get("trainings")
    if trainings is not None:
        parts.append(_heading("trainings", lang))
        if not trainings:
            parts.append(f"<p>{_esc(_t('none', lang))}</p>")
        for training in trainings:
            parts.append(
                f"<h3>{_esc(training['held_on'])} · {_esc(training['topic'])} ·"
                f" {_esc(', '.join(training['categories']))}</h3>"
            )
            effect_rows: list[tuple[object, ...]] = [
                (
                    e["agent"],
                    f"{_pct(e['before']['on_time_share'])} (n={e['before']['cases']})",
                    f"{_pct(e['after']['on_time_share'])} (n={e['after']['cases']})",
                    "—" if e["on_time_points"] is None else f"{e['on_time_points']:+.1f}",
                    _t(e["verdict"], lang, VERDICTS),
                )
                for e in training["attendees"]
            ]
            headers = [_t(k, lang) for k in ("agent", "before", "after", "change", "verdict")]
            parts.append(_table(headers, effect_rows))
    suggestions = report.get("suggestions")
    if suggestions is not None:
        lines = [*suggestions["accepted"], *suggestions["declined"], *suggestions["waiting"]]
        suggestion_rows: list[tuple[object, ...]] = [
            (
                s["title"],
                s["author"],
                _t(s["status"], lang, VERDICTS),
                s.get("action_id") or s.get("reason") or "—",
            )
            for s in lines
        ]
        headers = [_t(k, lang) for k in ("suggestion", "author", "status", "decision")]
        parts += [_heading("suggestions", lang), _or_none(_table(headers, suggestion_rows), lang)]
    return "".join(parts)
