"""The session's web page: fetched by processors/fetch.py, its main text and metadata taken
by trafilatura (navigation, cookie banners and sidebars left out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from processors.base import ProcessorError
from processors.fetch import Fetcher

HTML_TYPES = {"text/html", "application/xhtml+xml", ""}


@dataclass
class Page:
    url: str
    """The final URL, after redirects."""
    title: str
    text: str
    """The main text as Markdown."""
    metadata: dict[str, Any] = field(default_factory=dict)


def page_max_bytes() -> int:
    return int(getattr(settings, "JOBCENTER_SESSION_PAGE_MAX_BYTES", 10 * 1024 * 1024))


def fetch_page(url: str) -> Page:
    """FETCH_FAILED (with the HTTP status) when the page cannot be had; PAGE_NOT_HTML when it
    is something else."""
    result = Fetcher(max_bytes=page_max_bytes(), timeout=30, total_timeout=120).get(url)
    if result.content_type not in HTML_TYPES:
        raise ProcessorError(
            "PAGE_NOT_HTML",
            f"{result.url} is {result.content_type}, not a web page",
            {"url": result.url, "content_type": result.content_type},
        )
    try:
        return extract(result.content, result.url)
    except Exception as exc:  # trafilatura/lxml on a page they cannot parse
        raise ProcessorError(
            "PAGE_UNREADABLE",
            f"the main text of {result.url} cannot be extracted: {exc}",
            {"url": result.url},
        ) from exc


def extract(html: bytes, url: str) -> Page:
    import trafilatura
    from trafilatura.utils import decode_file

    document = decode_file(html)
    text = (
        trafilatura.extract(
            document,
            url=url,
            output_format="markdown",
            include_comments=False,
            include_tables=True,
            include_links=False,
            favor_recall=True,
        )
        or ""
    )
    meta = trafilatura.extract_metadata(document, default_url=url)
    metadata: dict[str, Any] = {}
    if meta is not None:
        for key in ("title", "author", "date", "description", "sitename", "hostname"):
            value = getattr(meta, key, None)
            if value:
                metadata[key] = str(value)
    return Page(url=url, title=metadata.get("title", ""), text=text.strip(), metadata=metadata)
