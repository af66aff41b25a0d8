"""Attachments: ``attachments_url`` is a PDF, a ZIP of PDFs, or a web page that links to
PDFs. Each PDF is kept as an asset and read by the pdf processor's own extraction; one that
fails is recorded and the others are still read. Files that are not taken (a ZIP's other
members, a page's links to slides or documents in other formats, anything past the limit)
are listed as skipped, with the reason, so that the user sees what the dossier lacks."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from jobcenter.uploads import safe_name
from processors.base import JobContext, ProcessorError
from processors.fetch import Fetcher
from processors.files import save_job_file

PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
DOCUMENT_SUFFIXES = frozenset(
    {
        ".ppt", ".pptx", ".pptm", ".pps", ".ppsx", ".pot", ".potx", ".key", ".odp",
        ".doc", ".docx", ".docm", ".odt", ".rtf", ".txt", ".md", ".epub",
        ".xls", ".xlsx", ".ods", ".csv",
        ".zip", ".7z", ".rar", ".tar", ".gz", ".tgz",
    }
)  # fmt: skip
"""What a page's link must end in to count as an attachment that is not taken (links to
other pages, images or the site's own furniture are not attachments)."""
NOT_PDF = "not a PDF; only PDFs are read"


@dataclass
class Attachment:
    name: str
    url: str
    path: Path | None = None
    file: str | None = None
    """The PDF's path among the job's files."""
    markdown_file: str | None = None
    text: str = ""
    pages: int = 0
    error: dict[str, Any] | None = None
    assets: list[str] = field(default_factory=list)

    def as_result(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "file": self.file,
            "markdown_file": self.markdown_file,
            "pages": self.pages,
            "chars": len(self.text),
            "error": self.error,
        }


@dataclass(frozen=True)
class Skipped:
    """A file behind ``attachments_url`` that was not taken, and why."""

    name: str
    url: str
    reason: str

    def as_result(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url, "reason": self.reason}


@dataclass
class Collected:
    """What ``collect`` found: the PDFs to read and the files it did not take."""

    attachments: list[Attachment]
    skipped: list[Skipped] = field(default_factory=list)


class NoPdf(ProcessorError):
    """ATTACHMENTS_EMPTY: nothing to read, though maybe files in other formats were seen."""

    def __init__(self, message: str, url: str, skipped: list[Skipped]) -> None:
        super().__init__("ATTACHMENTS_EMPTY", message, {"url": url})
        self.skipped = skipped


def over_limit() -> str:
    return f"beyond the limit of {max_attachments()} (JOBCENTER_SESSION_MAX_ATTACHMENTS)"


def max_attachments() -> int:
    return int(getattr(settings, "JOBCENTER_SESSION_MAX_ATTACHMENTS", 50))


def _fetcher() -> Fetcher:
    return Fetcher(max_bytes=int(settings.JOBCENTER_PDF_MAX_BYTES), timeout=30)


def _error(exc: ProcessorError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message}


def _unique(name: str, taken: set[str]) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix or ".pdf"
    candidate, number = f"{stem}{suffix}", 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{stem}-{number}{suffix}"
    taken.add(candidate.lower())
    return candidate


def _looks_like_html(head: bytes) -> bool:
    """A page that mentions "%PDF-" (in a comment, a script) is still a page."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<!--", b"<head", b"<?xml"))


def collect(url: str, folder: Path) -> Collected:
    """The PDFs behind ``url``, downloaded into ``folder``, and the files not taken. A
    failure of ``url`` itself raises (NoPdf when it holds or links to no PDF); a failure of
    one linked PDF is recorded on its Attachment."""
    fetcher = _fetcher()
    first = fetcher.download(url, folder / "listing")
    with (folder / "listing").open("rb") as handle:
        head = handle.read(1024)
    taken: set[str] = set()
    if head.startswith(ZIP_MAGIC):  # first: a ZIP of stored PDFs has %PDF- in its head too
        return _from_zip(folder / "listing", first.url, folder, taken)
    if PDF_MAGIC in head and not _looks_like_html(head):
        name = _unique(safe_name(first.filename or "attachment.pdf"), taken)
        path = (folder / "listing").rename(folder / name)
        return Collected([Attachment(name, first.url, path)])
    if first.content_type in {"text/html", "application/xhtml+xml"} or b"<" in head[:200]:
        try:
            links, others = _links((folder / "listing").read_bytes(), first.url)
        except (ValueError, lxml_errors()) as exc:
            raise ProcessorError(
                "ATTACHMENT_UNSUPPORTED", f"{first.url} cannot be parsed as a page: {exc}"
            ) from exc
        skipped = [Skipped(_link_name(link), link, NOT_PDF) for link in others]
        if not links:
            raise NoPdf(f"{first.url} links to no PDF", first.url, skipped)
        limit = max_attachments()
        skipped += [Skipped(_link_name(link), link, over_limit()) for link in links[limit:]]
        attachments: list[Attachment] = []
        for link in links[:limit]:
            name = _unique(safe_name(PurePosixPath(urlsplit(link).path).name or "file.pdf"), taken)
            attachment = Attachment(name, link)
            try:
                fetcher.download(link, folder / name)
                attachment.path = folder / name
            except ProcessorError as exc:
                attachment.error = _error(exc)
            attachments.append(attachment)
        return Collected(attachments, skipped)
    raise ProcessorError(
        "ATTACHMENT_UNSUPPORTED",
        f"{first.url} is neither a PDF, a ZIP nor a web page ({first.content_type or 'unknown'})",
        {"url": first.url, "content_type": first.content_type},
    )


def lxml_errors() -> type[Exception]:
    import lxml.etree

    return lxml.etree.LxmlError


def _link_name(link: str) -> str:
    return PurePosixPath(urlsplit(link).path).name or link


def _links(html: bytes, base: str) -> tuple[list[str], list[str]]:
    """The page's links to PDFs, and its links to files of other document formats (see
    DOCUMENT_SUFFIXES), each once and in page order."""
    import lxml.html

    document = lxml.html.document_fromstring(html, base_url=base)
    document.make_links_absolute(base, resolve_base_href=True)
    links: dict[str, str] = {}
    others: dict[str, str] = {}
    for element, attribute, link, _ in document.iterlinks():
        if element.tag != "a" or attribute != "href":
            continue
        parts = urlsplit(link)
        path = parts.path.lower()
        found = links if path.endswith(".pdf") else others
        if found is links or PurePosixPath(path).suffix in DOCUMENT_SUFFIXES:
            # one file, whatever the query ("?download=1")
            found.setdefault(parts._replace(query="", fragment="").geturl(), link.split("#")[0])
    return list(links.values()), list(others.values())


def _is_metadata(member: str) -> bool:
    """What archivers add beside the files (macOS resource forks, hidden files): not
    attachments anyone sent, so not reported as skipped."""
    path = PurePosixPath(member)
    return path.parts[:1] == ("__MACOSX",) or path.name.startswith(".")


def _from_zip(archive: Path, url: str, folder: Path, taken: set[str]) -> Collected:
    """PDF members only; names flattened and sanitised (no path leaves ``folder``), sizes
    checked against the PDF limit before anything is unpacked. Other members are listed
    as skipped."""
    limit = int(settings.JOBCENTER_PDF_MAX_BYTES)
    attachments: list[Attachment] = []
    try:
        with zipfile.ZipFile(archive) as bundle:
            files = [
                info
                for info in bundle.infolist()
                if not info.is_dir() and not _is_metadata(info.filename)
            ]
            members = [info for info in files if info.filename.lower().endswith(".pdf")]
            skipped = [
                Skipped(PurePosixPath(info.filename).name, f"{url}#{info.filename}", NOT_PDF)
                for info in files
                if not info.filename.lower().endswith(".pdf")
            ]
            if not members:
                raise NoPdf(f"{url} holds no PDF", url, skipped)
            skipped += [
                Skipped(PurePosixPath(info.filename).name, f"{url}#{info.filename}", over_limit())
                for info in members[max_attachments() :]
            ]
            for info in members[: max_attachments()]:
                name = _unique(safe_name(PurePosixPath(info.filename).name), taken)
                attachment = Attachment(name, f"{url}#{info.filename}")
                if info.file_size > limit:
                    attachment.error = {
                        "code": "PDF_TOO_LARGE",
                        "message": f"{info.filename} is {info.file_size} bytes unpacked, "
                        f"more than the limit of {limit}",
                    }
                else:
                    try:
                        data = bundle.read(info)
                    except (zipfile.BadZipFile, OSError, ValueError) as exc:
                        attachment.error = {"code": "ATTACHMENT_INVALID", "message": str(exc)}
                    else:
                        attachment.path = save_job_file(folder, name, data)
                attachments.append(attachment)
    except zipfile.BadZipFile as exc:
        raise ProcessorError(
            "ATTACHMENT_INVALID", f"{url} is not a readable ZIP: {exc}", {"url": url}
        ) from exc
    return Collected(attachments, skipped)


class AttachmentContext:
    """The session job's context as the pdf extraction sees it: files go under
    ``attachments/<stem>/``, progress moves the session's ``attachments`` step."""

    def __init__(
        self, ctx: JobContext, folder: str, report: Callable[[float], None], name: str
    ) -> None:
        self._ctx = ctx
        self._folder = folder
        self._report = report
        self._name = name
        self.job_id = ctx.job_id
        self.attempt = ctx.attempt
        self.saved: list[str] = []

    @property
    def workdir(self) -> Path:
        path = self._ctx.workdir / self._folder
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def cancelled(self) -> bool:
        return self._ctx.cancelled

    def progress(self, percent: float, step: str = "", message: str = "") -> None:
        self._report(max(0.0, min(percent, 100.0)) / 100.0)

    def log(self, message: str, level: str = "info") -> None:
        self._ctx.log(f"attachment {self._name}: {message}", level)

    def save_file(self, name: str, data: bytes | str) -> Path:
        self.saved.append(f"{self._folder}/{name}")
        return save_job_file(self.workdir, name, data)


def extract(
    attachment: Attachment,
    ctx: JobContext,
    *,
    use_cache: bool,
    report: Callable[[float], None],
) -> None:
    """Keep the PDF as an asset and read it with the pdf processor's extraction."""
    from processors.pdf.processor import extract_pdf_file

    assert attachment.path is not None
    stem = safe_name(Path(attachment.name).stem)
    folder = f"attachments/{stem}"
    attachment.file = f"{folder}/{attachment.name}"
    ctx.save_file(attachment.file, attachment.path.read_bytes())
    attachment.assets.append(attachment.file)
    sub = AttachmentContext(ctx, folder, report, attachment.name)
    try:
        results = extract_pdf_file(attachment.path, sub, name=attachment.name, use_cache=use_cache)
    except ProcessorError as exc:
        attachment.error = _error(exc)
        return
    except Exception as exc:  # one attachment must not cost the dossier
        attachment.error = {"code": "ATTACHMENT_FAILED", "message": f"{type(exc).__name__}: {exc}"}
        return
    finally:
        attachment.assets.extend(name for name in sub.saved if name != attachment.file)
    attachment.text = str(results.get("markdown_content", "")).strip()
    attachment.pages = len(results.get("pages", []))
    if results.get("markdown_file"):
        attachment.markdown_file = f"{folder}/{results['markdown_file']}"
