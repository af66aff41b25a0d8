"""A conference web site for the session tests, served by media_server.MediaServer on
127.0.0.1: session pages as real sites write them (navigation, cookie banner, sidebar,
footer around the content), slide PDFs, a ZIP and a page listing attachments, a short video."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.pagesizes import A6
from reportlab.pdfgen import canvas

from tests.processors.media_server import MediaServer, Reply
from tests.processors.media_speech import make_speech, to_mp4

ABSTRACT = [
    "Scheduling thousands of batch jobs on a shared cluster is harder than it looks.",
    "This talk shows how the team replaced a polling worker with a lease based queue "
    "stored in the database, and what the change did to latency and throughput.",
    "We close with lessons about retries, idempotent processors and honest progress bars.",
]
NAVIGATION = ["Home", "Schedule", "Speakers", "Venue", "Sponsors"]
COOKIE = "We use cookies to improve your experience. Accept all cookies or manage settings."
SIDEBAR = "Other talks in this room: Rust in the kernel, Databases for everyone."
VIDEO_SENTENCES = [
    "Welcome to the conference session about open source software.",
    "Thank you very much for listening and have a good evening.",
]


def session_page(number: int, title: str, speakers: list[str]) -> bytes:
    paragraphs = "\n".join(f"        <p>{text}</p>" for text in ABSTRACT)
    links = "".join(f'<li><a href="/{item.lower()}">{item}</a></li>' for item in NAVIGATION)
    names = ", ".join(f'<a href="/speakers/{n}">{name}</a>' for n, name in enumerate(speakers))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} - DevConf 2026</title>
  <meta name="description" content="Session {number} at DevConf 2026">
  <meta property="og:title" content="{title}">
  <meta name="author" content="{", ".join(speakers)}">
</head>
<body>
  <div id="cookie-banner" class="cookie-consent">{COOKIE}
    <button>Accept</button></div>
  <header><nav class="main-nav"><ul>{links}</ul></nav></header>
  <div class="layout">
    <aside class="sidebar"><h3>Room K.1.105</h3><p>{SIDEBAR}</p></aside>
    <main>
      <article class="session">
        <h1>{title}</h1>
        <div class="meta">Track: Databases · Day: Saturday · 10:30&ndash;11:15
          · Speakers: {names}</div>
{paragraphs}
      </article>
    </main>
  </div>
  <footer><p>© 2026 DevConf. Imprint. Privacy policy. Code of conduct.</p></footer>
</body>
</html>""".encode()


def pdf(lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A6)
    y = 380
    for line in lines:
        page.drawString(20, y, line)
        y -= 16
    page.showPage()
    page.save()
    return buffer.getvalue()


SLIDES = ["Lease based queues", "Claim with compare and set", "Retries with backoff"]
NOTES = ["Speaker notes for the session", "Measure before tuning anything"]


@dataclass
class Site:
    server: MediaServer
    video: bytes

    @property
    def url(self) -> str:
        return self.server.url

    def page_url(self, number: int) -> str:
        return f"{self.url}/sessions/{number}.html"


def build_site(server: MediaServer, folder: Path, sessions: int = 3) -> Site:
    speakers = ["Ada Lovelace", "Grace Hopper"]
    for number in range(1, sessions + 1):
        server.routes[f"/sessions/{number}.html"] = Reply(
            200, session_page(number, f"Queues that scale, part {number}", speakers), "text/html"
        )
    slides, notes = pdf(SLIDES), pdf(NOTES)
    server.routes["/files/slides.pdf"] = Reply(200, slides, "application/pdf")
    server.routes["/files/notes.pdf"] = Reply(200, notes, "application/pdf")
    server.routes["/files/corrupt.pdf"] = Reply(
        200, b"%PDF-1.7\n1 0 obj broken beyond repair", "application/pdf"
    )
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("deck/slides.pdf", slides)
        archive.writestr("../notes.pdf", notes)
        archive.writestr("readme.txt", "not a pdf")
    server.routes["/files/bundle.zip"] = Reply(200, bundle.getvalue(), "application/zip")
    listing = (
        b'<html><body><nav><a href="/">Home</a></nav><ul>'
        b'<li><a href="slides.pdf">Slides</a></li>'
        b'<li><a href="/files/corrupt.pdf">Broken handout</a></li>'
        b'<li><a href="notes.pdf#page=1">Notes</a></li>'
        b'<li><a href="/files/missing.pdf">Gone</a></li>'
        b"</ul></body></html>"
    )
    server.routes["/files/index.html"] = Reply(200, listing, "text/html")
    video = to_mp4(make_speech(folder / "video", VIDEO_SENTENCES, pause=0.5))
    data = video.read_bytes()
    server.routes["/media/talk.mp4"] = Reply(200, data, "video/mp4")
    server.routes["/media/broken.mp4"] = Reply(200, data[:1500], "video/mp4")
    return Site(server, data)
