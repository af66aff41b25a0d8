"""Sources (uploads, allowed paths, URLs) and the safe fetcher, against a real HTTP server on
127.0.0.1. Refusals of private addresses are checked before any connection: the server
counts its requests to prove nothing reached it."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jobcenter import net
from jobcenter.net import address_allowed
from jobcenter.uploads import store_upload
from processors.base import ProcessorError, RetryableError
from processors.fetch import Fetcher, FetchError
from processors.sources import open_source
from tests.processors.conftest import Corpus, Runner

PDF_ROUTE = "/docs/lists.pdf"


class Server:
    def __init__(self, pdf: bytes) -> None:
        self.pdf = pdf
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                route = self.path
                if route == PDF_ROUTE:
                    self.reply(200, outer.pdf, "application/pdf")
                elif route.startswith("/redirect/"):
                    hops = int(route.rsplit("/", 1)[1])
                    target = PDF_ROUTE if hops == 0 else f"/redirect/{hops - 1}"
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif route.startswith("/status/"):
                    self.reply(int(route.rsplit("/", 1)[1]), b"nope", "text/plain")
                elif route == "/big-declared":
                    self.send_response(200)
                    self.send_header("Content-Length", str(10_000_000))
                    self.end_headers()
                    self.wfile.write(b"x" * 1000)
                elif route == "/big-undeclared":
                    self.send_response(200)
                    self.end_headers()  # no length: the body runs until the connection ends
                    for _ in range(200):
                        self.wfile.write(b"x" * 10_000)
                elif route == "/slow":
                    self.send_response(200)
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    time.sleep(3)
                elif route.startswith("/away"):
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.2:{self.server.server_port}/x")
                    self.end_headers()
                else:
                    self.reply(404, b"missing", "text/plain")

            def reply(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        Handler.protocol_version = "HTTP/1.0"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(pdf_corpus: Corpus) -> Iterator[Server]:
    running = Server(pdf_corpus.documents["lists"].pdf)
    yield running
    running.close()


def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.get(url)
    assert caught.value.code == "FETCH_FAILED"
    return caught.value


# --- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "224.0.0.1",
        "not-an-ip",
    ],
)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert address_allowed(address) is False


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(address) is True


@pytest.mark.parametrize("address", ["127.0.0.1", "2002:7f00:1::1", "64:ff9b::a00:1"])
def test_webhooks_refuse_what_downloads_refuse(address: str) -> None:
    # One decision for both: jobs/webhooks.py goes through net.request, which must refuse
    # the IPv6 disguises of internal IPv4 addresses (6to4, NAT64) just as the fetcher does.
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(net.AddressNotAllowed, match="non-public"):
        net.request("POST", f"http://{host}:9/hook", body=b"{}", allow_private=False)


def test_webhook_requests_go_to_the_checked_address(server: Server) -> None:
    response = net.request("GET", server.url + PDF_ROUTE, allow_private=True)
    assert response.status == 200 and response.body == server.pdf
    assert server.requests == [PDF_ROUTE]


# --- fetching --------------------------------------------------------------------------------


def test_loopback_is_refused_unless_allowed(server: Server) -> None:
    error = fetch_error(Fetcher(allow_private=False), server.url + PDF_ROUTE)
    assert "JOBCENTER_FETCH_ALLOW_PRIVATE" in error.message
    assert error.details["addresses"] == ["127.0.0.1"]
    assert server.requests == []  # refused before connecting
    result = Fetcher(allow_private=True).get(server.url + PDF_ROUTE)
    assert result.status == 200 and result.content == server.pdf
    assert result.content_type == "application/pdf" and result.filename == "lists.pdf"


def test_localhost_name_is_refused(server: Server) -> None:
    port = server.httpd.server_port
    fetch_error(Fetcher(allow_private=False), f"http://localhost:{port}{PDF_ROUTE}")
    assert server.requests == []


def test_the_setting_decides_by_default(server: Server, settings: Any) -> None:
    settings.JOBCENTER_FETCH_ALLOW_PRIVATE = False
    fetch_error(Fetcher(), server.url + PDF_ROUTE)
    settings.JOBCENTER_FETCH_ALLOW_PRIVATE = True
    assert Fetcher().get(server.url + PDF_ROUTE).status == 200


def test_every_redirect_is_checked(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # Treat 127.0.0.1 as public and 127.0.0.2 as private: the redirect to .2 must be
    # refused by the same check, before anything connects there.
    monkeypatch.setattr("jobcenter.net.address_allowed", lambda a: a == "127.0.0.1")
    error = fetch_error(Fetcher(allow_private=False), server.url + "/away")
    assert "127.0.0.2" in error.message
    assert server.requests == ["/away"]


def test_redirects_are_followed_up_to_a_limit(server: Server) -> None:
    fetcher = Fetcher(allow_private=True, max_redirects=3)
    result = fetcher.get(server.url + "/redirect/2")
    assert result.url == server.url + PDF_ROUTE and len(result.redirects) == 3
    error = fetch_error(fetcher, server.url + "/redirect/5")
    assert "more than 3 redirects" in error.message


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, False), (403, False), (503, True), (429, True)]
)
def test_http_errors_carry_the_status(server: Server, status: int, retryable: bool) -> None:
    error = fetch_error(Fetcher(allow_private=True), f"{server.url}/status/{status}")
    assert error.details["status"] == status
    assert f"HTTP {status}" in error.message
    assert isinstance(error, RetryableError) is retryable


def test_size_limit(server: Server) -> None:
    fetcher = Fetcher(allow_private=True, max_bytes=100_000)
    assert "10000000 bytes" in fetch_error(fetcher, server.url + "/big-declared").message
    assert "larger than the limit" in fetch_error(fetcher, server.url + "/big-undeclared").message


def test_read_timeout(server: Server) -> None:
    started = time.monotonic()
    error = fetch_error(Fetcher(allow_private=True, timeout=0.5), server.url + "/slow")
    assert time.monotonic() - started < 2.5
    assert error.details["retryable"] is True


def test_only_http_urls() -> None:
    for url in ("file:///etc/passwd", "ftp://example.org/x", "http://user:pw@example.org/"):
        fetch_error(Fetcher(), url)


# --- sources ---------------------------------------------------------------------------------


def test_upload_reference(job_settings: Any) -> None:
    reference = store_upload(io.BytesIO(b"%PDF-1.4 test"), "Bericht 2024.pdf")
    with open_source(reference, max_bytes=1000, too_large_code="PDF_TOO_LARGE") as source:
        assert source.kind == "upload" and source.path.read_bytes() == b"%PDF-1.4 test"
        assert source.name == "Bericht 2024.pdf"
    with (
        pytest.raises(ProcessorError) as caught,
        open_source("upload:" + "0" * 32, max_bytes=1000, too_large_code="PDF_TOO_LARGE"),
    ):
        pass
    assert caught.value.code == "SOURCE_NOT_FOUND"
    with (
        pytest.raises(ProcessorError) as caught,
        open_source(reference, max_bytes=5, too_large_code="PDF_TOO_LARGE"),
    ):
        pass
    assert caught.value.code == "PDF_TOO_LARGE"


def source_error(value: str) -> ProcessorError:
    with (
        pytest.raises(ProcessorError) as caught,
        open_source(value, max_bytes=10**9, too_large_code="PDF_TOO_LARGE"),
    ):
        pass
    return caught.value


def test_paths_only_under_allowed_folders(job_settings: Any, tmp_path: Path) -> None:
    inside = tmp_path / "inputs" / "a.pdf"
    inside.write_bytes(b"%PDF-1.4")
    with open_source(str(inside), max_bytes=100, too_large_code="X") as source:
        assert source.kind == "path" and source.path == inside.resolve()
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(b"%PDF-1.4")
    assert source_error(str(outside)).code == "SOURCE_NOT_ALLOWED"
    assert source_error(str(tmp_path / "inputs" / ".." / "secret.pdf")).code == (
        "SOURCE_NOT_ALLOWED"
    )
    link = tmp_path / "inputs" / "link.pdf"
    link.symlink_to(outside)
    assert source_error(str(link)).code == "SOURCE_NOT_ALLOWED"  # no escape through links
    assert source_error(str(tmp_path / "inputs" / "missing.pdf")).code == "SOURCE_NOT_FOUND"
    assert source_error(str(tmp_path / "inputs")).code == "SOURCE_NOT_FOUND"
    assert source_error("/etc/passwd").code == "SOURCE_NOT_ALLOWED"
    assert source_error("relative.pdf").code == "SOURCE_INVALID"
    job_settings.JOBCENTER_ALLOWED_INPUT_DIRS = []
    error = source_error(str(inside))
    assert error.code == "SOURCE_NOT_ALLOWED" and "disabled" in error.message


def test_pdf_from_a_url(run_job: Runner, server: Server, job_settings: Any) -> None:
    url = server.url + PDF_ROUTE
    with pytest.raises(ProcessorError) as caught:
        run_job({"url": url})
    assert caught.value.code == "FETCH_FAILED" and server.requests == []
    job_settings.JOBCENTER_FETCH_ALLOW_PRIVATE = True
    results, _ = run_job({"url": url})
    assert "### Aufgaben und Termine" in results["markdown_content"]
    assert results["source"]["kind"] == "url" and results["source"]["url"] == url
    with pytest.raises(ProcessorError) as caught:
        run_job({"source": server.url + "/status/404"})
    assert caught.value.code == "FETCH_FAILED" and caught.value.details["status"] == 404
    job_settings.JOBCENTER_PDF_MAX_BYTES = 1000
    with pytest.raises(ProcessorError) as caught:
        run_job({"source": url})
    assert caught.value.code == "PDF_TOO_LARGE"
