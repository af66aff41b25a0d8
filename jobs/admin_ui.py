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
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest
from django.utils import dateformat, timezone
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


class HiddenLookups:
    """A ModelAdmin mixin that refuses list filters in the URL touching ``hidden_lookups``
    (Django answers 400). The admin lets any lookup on a model's own fields through the
    query string, JSON keys included, so ``?webhook__secret__startswith=T`` would count the
    rows whose webhook secret starts with T: a secret or an ``Authorization`` header
    guessed a character at a time by anyone who may view the list."""

    hidden_lookups: tuple[str, ...] = ()

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if any(part in self.hidden_lookups for part in lookup.split(LOOKUP_SEP)):
            return False
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc]


def short_id(pk: str) -> str:
    """A job's or batch's id as lists show it: the kind and the last 12 characters
    ("job-…0123456789ab"). Ids are time-ordered (uuid7): their start is the same for
    everything made in the same minute, their end tells two apart."""
    prefix, _, rest = pk.partition("-")
    if len(rest) <= 16:
        return pk
    return f"{prefix}-…{rest[-12:]}"


def cut_text(text: str, title: str) -> str:
    """A name that the jobs list cuts to its column's width with an ellipsis (CSS: .jc-cut),
    whole in the tooltip: one long file name or URL must not push the list past the window."""
    return format_html('<span class="jc-cut" title="{}">{}</span>', title, text)


def breakable_code(code: str) -> SafeString:
    """An error code that may wrap after its underscores (``OCR_LANGUAGE_`` / ``UNAVAILABLE``)
    instead of widening its column; ``<wbr>`` leaves the copied text as it is."""
    return mark_safe("_<wbr>".join(html.escape(part) for part in code.split("_")))


def error_code_tag(status: str, error: Any, job_id: str) -> str:
    """A failed job's error code (its message in the tooltip), read from the job's own
    ``error`` field, so a list shows it without a query per row. Any other job gets the
    element empty: a pending job may still carry the error of an attempt it will retry, which
    is not its outcome; and the live script fills the element when the job fails later."""
    code = message = ""
    if status == "failed" and isinstance(error, dict):
        code = str(error.get("code") or "")
        message = str(error.get("message") or "")
    return format_html(
        '<span class="jc-code" data-job-error="{}" title="{}">{}</span>',
        job_id,
        message,
        breakable_code(code),
    )


def time_tag(moment: datetime | None) -> str:
    """A time for the jobs list's narrow date columns: the time alone for today, day and month
    for this year, the date alone for older ones; the full local time in the tooltip."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        short = f"{local:%H:%M:%S}"
    elif local.year == timezone.localdate().year:
        short = dateformat.format(local, "j M H:i")
    else:
        short = f"{local:%Y-%m-%d}"
    return format_html('<span title="{}">{}</span>', f"{local:%Y-%m-%d %H:%M:%S %Z}", short)


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
