"""HTML pieces of the Job Center admin: status badges, progress bars, the throughput chart,
a small safe Markdown renderer, and a paginator that never counts a whole table.

Badges and bars carry ``data-*`` attributes so that the live-refresh script
(jobs/static/jobcenter/live.js) can find and update them in place.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from jobs.states import UNFINISHED

COUNT_CAP = 10_000
"""Lists count at most this many rows (a bounded COUNT over a LIMIT subquery): a page
number far beyond it is still reachable by its URL, the count shown says "10,000+"."""


class CappedPaginator(Paginator):
    """Counts ``min(rows, COUNT_CAP + 1)`` instead of every row, so the changelists of a
    table with millions of jobs stay fast (``SELECT COUNT(*) FROM (... LIMIT n)``)."""

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        queryset = self.object_list
        if hasattr(queryset, "order_by"):
            return queryset.order_by()[: COUNT_CAP + 1].count()
        return len(queryset)

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP


def status_badge(status: str, *, job_id: str | None = None, batch_id: str | None = None) -> str:
    data = ""
    if job_id:
        data = format_html(' data-job-status="{}"', job_id)
    elif batch_id:
        data = format_html(' data-batch-status="{}"', batch_id)
    return format_html('<span class="jc-badge jc-{}"{}>{}</span>', status, mark_safe(data), status)


def progress_bar(progress: dict[str, Any] | None, status: str, job_id: str) -> str:
    """A job's bar with its current step; a finished job shows 100 % (or where it
    stopped, for failed and cancelled jobs)."""
    progress = progress if isinstance(progress, dict) else {}
    try:
        percent = float(progress.get("percent") or 0)
    except (TypeError, ValueError):
        percent = 0.0
    if status == "completed":
        percent = 100.0
    percent = max(0.0, min(100.0, percent))
    step = str(progress.get("step") or "")
    message = str(progress.get("message") or "")
    label = f"{percent:.0f} %" + (f" · {step}" if step else "")
    return format_html(
        '<div class="jc-bar jc-bar-{}" data-job-progress="{}" title="{}">'
        '<div class="jc-fill" style="width:{}%"></div><span class="jc-label">{}</span></div>',
        status,
        job_id,
        message,
        f"{percent:.1f}",
        label,
    )


BATCH_SEGMENTS = (
    ("completed", "completed_jobs"),
    ("failed", "failed_jobs"),
    ("cancelled", "cancelled_jobs"),
    ("processing", "processing_jobs"),
    ("pending", "pending_jobs"),
)


def batch_counts(batch: Any) -> dict[str, int]:
    counts = {status: int(getattr(batch, field) or 0) for status, field in BATCH_SEGMENTS}
    counts["total"] = int(batch.total_jobs or 0)
    return counts


def batch_bar(batch: Any) -> str:
    """One stacked bar: completed / failed / cancelled / processing / pending, with counts."""
    counts = batch_counts(batch)
    total = counts["total"] or 1
    segments = []
    for status, _field in BATCH_SEGMENTS:
        width = 100.0 * counts[status] / total
        segments.append(
            format_html(
                '<div class="jc-seg jc-seg-{}" data-seg="{}" style="width:{}%"></div>',
                status,
                status,
                f"{width:.2f}",
            )
        )
    finished = counts["completed"] + counts["failed"] + counts["cancelled"]
    label = batch_label(counts)
    return format_html(
        '<div class="jc-stack" data-batch-progress="{}" data-percent="{}">{}'
        '<span class="jc-label">{}</span></div>',
        batch.pk,
        f"{100.0 * finished / total:.0f}",
        mark_safe("".join(segments)),
        label,
    )


def batch_label(counts: dict[str, int]) -> str:
    total = counts["total"] or 0
    finished = counts["completed"] + counts["failed"] + counts["cancelled"]
    percent = 100.0 * finished / total if total else 0.0
    parts = [f"{percent:.0f} %", f"{counts['completed']} done"]
    for status in ("failed", "cancelled", "processing", "pending"):
        if counts[status]:
            parts.append(f"{counts[status]} {status}")
    return " · ".join(parts) + f" / {total}"


def is_running(status: str) -> bool:
    return status in UNFINISHED


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def throughput_svg(
    buckets: Sequence[tuple[datetime, int, int]], *, title: str, label_every: int, fmt: str
) -> SafeString:
    """A bar chart (completed stacked over failed per bucket) drawn server-side as inline
    SVG: no JavaScript library, nothing to load, readable without scripts."""
    width, height, pad = 600, 140, 22
    n = max(len(buckets), 1)
    peak = max([done + failed for _, done, failed in buckets] + [1])
    slot = (width - pad) / n
    bar = max(slot - 1, 1)
    parts = [
        f'<svg class="jc-chart" viewBox="0 0 {width} {height + pad}" role="img" '
        f'aria-label="{html.escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="0" y="10" class="jc-axis">{peak}</text>',
        f'<line x1="{pad}" y1="{height}" x2="{width}" y2="{height}" class="jc-axisline"/>',
    ]
    for index, (start, done, failed) in enumerate(buckets):
        x = pad + index * slot
        done_h = height * done / peak
        failed_h = height * failed / peak
        tip = f"{start:{fmt}}: {done} completed, {failed} failed"
        parts.append(f"<g><title>{html.escape(tip)}</title>")
        if done:
            parts.append(
                f'<rect x="{x:.1f}" y="{height - done_h:.1f}" width="{bar:.1f}" '
                f'height="{done_h:.1f}" class="jc-done"/>'
            )
        if failed:
            parts.append(
                f'<rect x="{x:.1f}" y="{height - done_h - failed_h:.1f}" width="{bar:.1f}" '
                f'height="{failed_h:.1f}" class="jc-failed"/>'
            )
        parts.append("</g>")
        if index % label_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height + 15}" class="jc-axis">{start:{fmt}}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text above is escaped


_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*([^*]+)\*(?!\w)"), r"<em>\1</em>"),
    (
        re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)"),
        r'<a href="\2" rel="noopener noreferrer">\1</a>',
    ),
]


def _inline(text: str) -> str:
    text = html.escape(text, quote=True)
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def render_markdown(text: str) -> SafeString:
    """The Markdown results show as text, not as a wall of markup: headings, paragraphs,
    lists, code blocks, emphasis, links. Everything is escaped first, so a result cannot
    inject HTML into the admin (results come from fetched web pages and documents)."""
    out: list[str] = []
    paragraph: list[str] = []
    in_list = False
    in_code = False
    code: list[str] = []

    def flush() -> None:
        nonlocal in_list
        if paragraph:
            out.append("<p>" + " ".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()
        if in_list:
            out.append("</ul>")
            in_list = False

    for line in text.splitlines():
        if line.startswith("```"):
            if in_code:
                out.append("<pre><code>" + html.escape("\n".join(code)) + "</code></pre>")
                code.clear()
                in_code = False
            else:
                flush()
                in_code = True
            continue
        if in_code:
            code.append(line)
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        item = re.match(r"^\s*[-*+]\s+(.*)$", line)
        if heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            if paragraph:
                out.append("<p>" + " ".join(_inline(p) for p in paragraph) + "</p>")
                paragraph.clear()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(item.group(1))}</li>")
        elif not line.strip():
            flush()
        else:
            if in_list:
                out.append("</ul>")
                in_list = False
            paragraph.append(line)
    if in_code:
        out.append("<pre><code>" + html.escape("\n".join(code)) + "</code></pre>")
    flush()
    return mark_safe("\n".join(out))  # built only from escaped text
