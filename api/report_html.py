"""Reports as self-contained HTML pages with inline SVG charts (R6.2, R6.4).

Charts are drawn by matplotlib (Agg, no display) into SVG embedded in the page: it
works offline, with no script and no CDN. Labels come in Chinese or English. With a
CJK font installed (e.g. WenQuanYi Micro Hei) the chart text is drawn as paths, so
the SVG shows Chinese whatever fonts the reader has; without one the text stays text
for the browser to draw with its own fonts.
"""

from __future__ import annotations

import html
import io
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

import matplotlib

matplotlib.use("Agg")

from matplotlib import (
    font_manager,
    rc_context,
)
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from api.people_html import improvements_html, people_html, training_needs_html

Lang = Literal["zh", "en"]
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
_render_lock = threading.Lock()

TEXT: dict[str, tuple[str, str]] = {
    "monthly_title": ("Monthly service-quality analysis", "月度服务质量分析"),
    "quarterly_title": ("Quarterly evaluation", "季度服务评价"),
    "period": ("Period", "期间"),
    "revision": ("Revision", "版本"),
    "of": ("of", "/"),
    "generated": ("Generated", "生成时间"),
    "volumes": ("Volumes", "案件量"),
    "total": ("Total cases", "案件总数"),
    "kind": ("Kind", "类型"),
    "channel": ("Channel", "渠道"),
    "category": ("Category", "类别"),
    "product": ("Product", "产品"),
    "department": ("Department", "部门"),
    "count": ("Count", "数量"),
    "weekly": ("Cases opened per week", "每周受理量"),
    "week": ("Week from", "周起始"),
    "clocks": ("Service clocks", "服务时限"),
    "clock": ("Clock", "时限"),
    "started": ("Started", "开始"),
    "met_on_time": ("Met on time", "按时完成"),
    "met_late": ("Met late", "超时完成"),
    "breached_open": ("Breached, open", "超时未完成"),
    "running": ("Running", "进行中"),
    "on_time_share": ("On time", "按时率"),
    "p50": ("Time to meet p50", "完成用时 p50"),
    "p90": ("Time to meet p90", "完成用时 p90"),
    "on_time_chart": ("On-time share per clock and channel", "各时限、各渠道按时率"),
    "breaches": ("Breaches", "超时清单"),
    "case": ("Case", "案件"),
    "deadline": ("Deadline", "时限"),
    "late_by": ("Late by", "超时"),
    "satisfaction": ("Satisfaction", "满意度"),
    "response_rate": ("Survey response rate", "回访响应率"),
    "mean": ("Mean score", "平均分"),
    "score": ("Score", "评分"),
    "answers": ("Answers", "评价数"),
    "comments": ("Comments", "客户意见"),
    "remedies": ("Remedies", "补救措施"),
    "amount": ("Amount", "金额"),
    "reopen_rate": ("Reopen rate", "重开率"),
    "weak_links": ("Weak links", "薄弱环节"),
    "weak_chart": ("Weak links against the bank", "薄弱环节与全行对比"),
    "cell": ("Cell", "环节"),
    "bank": ("Bank", "全行"),
    "recurring": ("Recurring problems", "反复出现的问题"),
    "repeat": ("Complaints again within the window", "结案后再次投诉"),
    "previous_case": ("Previous case", "前一案件"),
    "none": ("None.", "无。"),
    "quarter_vs": ("This quarter against the previous one", "本季度与上季度对比"),
    "figure": ("Figure", "指标"),
    "this_quarter": ("This quarter", "本季度"),
    "previous_quarter": ("Previous quarter", "上季度"),
    "findings": ("Findings", "发现"),
    "evidence": ("Evidence", "依据"),
    "notes": ("Causes and proposals", "原因与建议"),
    "cases": ("Cases", "案件数"),
    "complaints": ("Complaints", "投诉数"),
    "breaches_n": ("Breaches", "超时数"),
    "repeat_n": ("Repeat complaints", "重复投诉"),
    "remedies_n": ("Remedies", "补救数"),
    "clock_chart": ("On-time share per clock", "各时限按时率"),
}

CLOCK_NAMES: dict[str, tuple[str, str]] = {
    "first_response": ("First response", "首次响应"),
    "department_plan": ("Department plan", "部门方案"),
    "department_result": ("Department result", "部门结果"),
    "customer_update": ("Customer update", "客户告知"),
    "investigation": ("Investigation", "投诉调查"),
    "final_reply": ("Final reply", "最终答复"),
}


def t(key: str, lang: Lang) -> str:
    en, zh = TEXT[key]
    return zh if lang == "zh" else en


def clock_name(name: str, lang: Lang) -> str:
    en, zh = CLOCK_NAMES.get(name, (name, name))
    return zh if lang == "zh" else en


def cjk_font() -> str | None:
    """The first CJK-capable font matplotlib knows of, if any."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def svg_chart(draw: Callable[[Axes], None], *, width: float = 7.5, height: float = 3.2) -> str:
    """One chart as an inline ``<svg>`` element."""
    font = cjk_font()
    params: dict[str, Any] = {
        "font.family": "sans-serif",
        "font.sans-serif": [*([font] if font else []), "DejaVu Sans"],
        "svg.fonttype": "path" if font else "none",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "case-report",  # the same figures give the same SVG
    }
    with _render_lock, rc_context(cast(Any, params)), warnings.catch_warnings():
        # Without a CJK font, glyphs the fallback font lacks are left to the browser.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure = Figure(figsize=(width, height), layout="constrained")
        draw(figure.add_subplot())
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _bars(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, percent: bool
) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        count = max(len(series), 1)
        width = 0.8 / count
        for i, (name, values) in enumerate(series):
            offsets = [x + (i - (count - 1) / 2) * width for x in range(len(labels))]
            ax.bar(offsets, values, width=width, label=name)
        ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
        if percent:
            ax.set_ylim(0, 100)
            ax.set_ylabel("%")
        if len(series) > 1:
            ax.legend(fontsize="small", frameon=False)

    return draw


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{hours}h {rest // 60:02d}m"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(title: str, svg: str) -> str:
    return f'<figure class="chart"><figcaption>{_esc(title)}</figcaption>{svg}</figure>'


STYLE = """
body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",
sans-serif;margin:2rem;color:#1d2733;max-width:1100px}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #dde;padding:.25rem .5rem;text-align:left}th{background:#f3f5f8}
figure.chart{margin:1rem 0}figure.chart svg{max-width:100%;height:auto}
figcaption{font-weight:bold;margin-bottom:.3rem}.meta{color:#567}
"""


def _page(title: str, lang: Lang, body: str) -> str:
    return (
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8"><title>{_esc(title)}</title><style>{STYLE}</style>'
        f"</head><body>{body}</body></html>"
    )


def monthly_html(report: dict[str, Any], meta: dict[str, Any], lang: Lang) -> str:
    """The monthly analysis; ``report`` is the stored revision's JSON."""

    def L(key: str) -> str:  # noqa: N802
        return t(key, lang)

    parts = [
        f"<h1>{_esc(L('monthly_title'))} {_esc(report['period'])}</h1>",
        f'<p class="meta">{_esc(L("revision"))} {meta["revision"]} {_esc(L("of"))} '
        f"{meta['revisions']} · {_esc(L('generated'))} {_esc(meta['created_at'])} · "
        f"{_esc(report['timezone'])}</p>",
    ]
    volumes = report["volumes"]
    parts.append(f"<h2>{_esc(L('volumes'))}</h2><p>{_esc(L('total'))}: {volumes['total']}</p>")
    for key, field in (
        ("kind", "by_kind"),
        ("channel", "by_channel"),
        ("category", "by_category"),
        ("product", "by_product"),
        ("department", "by_department"),
    ):
        rows = [(c["key"] or "—", c["count"]) for c in volumes[field]]
        parts.append(_table([L(key), L("count")], rows))
    weeks = report["weekly"]
    parts.append(
        _figure(
            L("weekly"),
            svg_chart(
                _bars(
                    [w["week_start"][5:] for w in weeks],
                    [(L("count"), [w["count"] for w in weeks])],
                    percent=False,
                )
            ),
        )
    )

    clocks = report["clocks"]
    parts.append(f"<h2>{_esc(L('clocks'))}</h2>")
    parts.append(
        _table(
            [
                L("clock"),
                L("started"),
                L("met_on_time"),
                L("met_late"),
                L("breached_open"),
                L("running"),
                L("on_time_share"),
                L("p50"),
                L("p90"),
            ],
            [
                (
                    clock_name(c["clock"], lang),
                    c["started"],
                    c["met_on_time"],
                    c["met_late"],
                    c["breached_open"],
                    c["still_running"],
                    _pct(c["on_time_share"]),
                    _duration(c["p50_seconds"]),
                    _duration(c["p90_seconds"]),
                )
                for c in clocks
            ],
        )
    )
    shares = report["on_time_by_channel"]
    names = sorted({s["clock"] for s in shares})
    channels = sorted({s["channel"] for s in shares})
    lookup = {(s["clock"], s["channel"]): s["on_time_share"] for s in shares}
    parts.append(
        _figure(
            L("on_time_chart"),
            svg_chart(
                _bars(
                    [clock_name(n, lang) for n in names],
                    [(ch, [(lookup.get((n, ch)) or 0) * 100 for n in names]) for ch in channels],
                    percent=True,
                )
            ),
        )
    )
    parts.append(f"<h3>{_esc(L('breaches'))} ({report['breaches_total']})</h3>")
    parts.append(
        _table(
            [L("case"), L("clock"), L("deadline"), L("late_by"), L("channel"), L("category")],
            [
                (
                    b["case_id"],
                    clock_name(b["clock"], lang),
                    b["deadline"][:16].replace("T", " "),
                    _duration(b["late_seconds"]),
                    b["channel"],
                    b["category"],
                )
                for b in report["breaches"][:50]
            ],
        )
    )

    sat = report["satisfaction"]
    parts.append(f"<h2>{_esc(L('satisfaction'))}</h2>")
    mean = "—" if sat["mean"] is None else f"{sat['mean']:.2f}"
    parts.append(
        f"<p>{_esc(L('response_rate'))}: {_pct(sat['response_rate'])} "
        f"({sat['surveys_answered']}/{sat['surveys_sent']}) · {_esc(L('mean'))}: {mean} "
        f"· {_esc(L('answers'))}: {sat['responses']}</p>"
    )
    dist = sat["distribution"]
    parts.append(
        _figure(
            L("satisfaction"),
            svg_chart(
                _bars(
                    [f"{k}" for k in sorted(dist)],
                    [(L("answers"), [dist[k] for k in sorted(dist)])],
                    percent=False,
                ),
                height=2.6,
            ),
        )
    )
    parts.append(f"<h3>{_esc(L('comments'))} ({sat['comments_total']})</h3>")
    parts.append(
        _table(
            [L("case"), L("score"), L("comments")],
            [(c["case_id"], c["score"], c["comment"]) for c in sat["comments"][:50]],
        )
    )

    parts.append(f"<h2>{_esc(L('remedies'))}</h2>")
    parts.append(
        _table(
            [L("kind"), L("count"), L("amount")],
            [(r["kind"], r["count"], f"{r['amount']} {r['currency']}") for r in report["remedies"]],
        )
    )
    reopens = report["reopens"]
    parts.append(
        f"<p>{_esc(L('reopen_rate'))}: {_pct(reopens['rate'])} "
        f"({reopens['reopened']}/{reopens['closed']})</p>"
    )

    links = report["weak_links"]
    parts.append(f"<h2>{_esc(L('weak_links'))}</h2>")
    sentence = "sentence_zh" if lang == "zh" else "sentence_en"
    parts.append(
        "<ol>" + "".join(f"<li>{_esc(link[sentence])}</li>" for link in links) + "</ol>"
        if links
        else f"<p>{_esc(L('none'))}</p>"
    )
    if links:
        labels = [
            f"{link['category']}/{link['channel']}"
            + (f" {clock_name(link['clock'], lang)}" if link["clock"] else f" {L('score')}")
            for link in links
        ]

        def scaled(link: dict[str, Any], key: str) -> float:
            value = float(link[key])
            return value * 100 if link["measure"] == "on_time" else value / 5 * 100

        parts.append(
            _figure(
                L("weak_chart"),
                svg_chart(
                    _bars(
                        labels,
                        [
                            (L("cell"), [scaled(link, "value") for link in links]),
                            (L("bank"), [scaled(link, "bank_value") for link in links]),
                        ],
                        percent=True,
                    ),
                    height=3.6,
                ),
            )
        )

    recurring = report["recurring"]
    parts.append(f"<h2>{_esc(L('recurring'))}</h2>")
    parts.append(
        "<ul>" + "".join(f"<li>{_esc(p[sentence])}</li>" for p in recurring["problems"]) + "</ul>"
        if recurring["problems"]
        else f"<p>{_esc(L('none'))}</p>"
    )
    parts.append(f"<h3>{_esc(L('repeat'))} ({recurring['repeat_complaints_total']})</h3>")
    parts.append(
        _table(
            [L("case"), L("previous_case")],
            [(r["case_id"], r["previous_case_id"]) for r in recurring["repeat_complaints"][:50]],
        )
    )
    parts.append(training_needs_html(report, lang))
    parts.append(improvements_html(report, lang))
    return _page(f"{L('monthly_title')} {report['period']}", lang, "".join(parts))


def quarterly_html(
    report: dict[str, Any], meta: dict[str, Any], notes: Sequence[dict[str, Any]], lang: Lang
) -> str:
    def L(key: str) -> str:  # noqa: N802
        return t(key, lang)

    current, previous = report["current"], report["previous"]
    parts = [
        f"<h1>{_esc(L('quarterly_title'))} {_esc(report['period'])}</h1>",
        f'<p class="meta">{_esc(L("revision"))} {meta["revision"]} {_esc(L("of"))} '
        f"{meta['revisions']} · {_esc(L('generated'))} {_esc(meta['created_at'])}</p>",
        f"<h2>{_esc(L('quarter_vs'))} ({_esc(report['previous_period'])})</h2>",
    ]
    rows = [
        (L("cases"), current["cases"], previous["cases"]),
        (L("complaints"), current["complaints"], previous["complaints"]),
        (L("on_time_share"), _pct(current["on_time_share"]), _pct(previous["on_time_share"])),
        (L("breaches_n"), current["breaches"], previous["breaches"]),
        (
            L("mean"),
            "—" if current["satisfaction_mean"] is None else f"{current['satisfaction_mean']:.2f}",
            "—"
            if previous["satisfaction_mean"] is None
            else f"{previous['satisfaction_mean']:.2f}",
        ),
        (L("response_rate"), _pct(current["response_rate"]), _pct(previous["response_rate"])),
        (L("remedies_n"), current["remedies"], previous["remedies"]),
        (L("reopen_rate"), _pct(current["reopen_rate"]), _pct(previous["reopen_rate"])),
        (L("repeat_n"), current["repeat_complaints"], previous["repeat_complaints"]),
    ]
    parts.append(_table([L("figure"), L("this_quarter"), L("previous_quarter")], rows))
    names = sorted(set(current["clock_on_time"]) | set(previous["clock_on_time"]))
    parts.append(
        _figure(
            L("clock_chart"),
            svg_chart(
                _bars(
                    [clock_name(n, lang) for n in names],
                    [
                        (
                            L("this_quarter"),
                            [(current["clock_on_time"].get(n) or 0) * 100 for n in names],
                        ),
                        (
                            L("previous_quarter"),
                            [(previous["clock_on_time"].get(n) or 0) * 100 for n in names],
                        ),
                    ],
                    percent=True,
                )
            ),
        )
    )
    parts.append(f"<h2>{_esc(L('findings'))}</h2>")
    title = "title_zh" if lang == "zh" else "title_en"
    by_finding: dict[str, list[dict[str, Any]]] = {}
    for note in notes:
        by_finding.setdefault(note["finding_id"], []).append(note)
    for finding in report["findings"]:
        evidence = ", ".join(f"{k}={v}" for k, v in finding["evidence"].items() if v is not None)
        parts.append(
            f'<section class="finding" id="{_esc(finding["finding_id"])}">'
            f"<h3>{_esc(finding[title])}</h3><p>{_esc(L('evidence'))}: {_esc(evidence)}</p>"
        )
        mine = by_finding.get(finding["finding_id"], [])
        if mine:
            parts.append(
                f"<p><b>{_esc(L('notes'))}</b></p>"
                + _table(
                    ["", L("notes"), ""],
                    [(n["author"], n["causes"], n["proposals"]) for n in mine],
                )
            )
        parts.append("</section>")
    parts.append(people_html(report, lang))
    parts.append(improvements_html(report, lang))
    return _page(f"{L('quarterly_title')} {report['period']}", lang, "".join(parts))
