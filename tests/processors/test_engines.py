"""Engines: loading from settings, and the OpenAI-compatible engines against a real HTTP
server on 127.0.0.1 that speaks the protocol (request shape, auth, errors, timeouts,
retries)."""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

import pytest

from processors.base import ProcessorError, RetryableError
from processors.engines import Segment, chat_engine, transcription_engine
from processors.engines.base import check_language
from processors.engines.chat import pieces, translate
from processors.engines.openai import OpenAIChat, OpenAITranscription
from processors.engines.pocketsphinx import PocketsphinxEngine, group
from tests.processors.media_server import MediaServer, Reply, Request

TRANSCRIBE = "/v1/audio/transcriptions"
CHAT = "/v1/chat/completions"


@pytest.fixture
def server() -> Iterator[MediaServer]:
    running = MediaServer()
    yield running
    running.close()


@pytest.fixture
def engine_settings(settings: Any, server: MediaServer) -> Any:
    settings.JOBCENTER_TRANSCRIPTION_URL = f"{server.url}/v1"
    settings.JOBCENTER_TRANSCRIPTION_KEY = "sk-transcribe"
    settings.JOBCENTER_TRANSCRIPTION_MODEL = "whisper-test"
    settings.JOBCENTER_TRANSCRIPTION_TIMEOUT = 1.0
    settings.JOBCENTER_CHAT_URL = f"{server.url}/v1/"
    settings.JOBCENTER_CHAT_KEY = "sk-chat"
    settings.JOBCENTER_CHAT_MODEL = "chat-test"
    settings.JOBCENTER_CHAT_TIMEOUT = 1.0
    settings.JOBCENTER_ENGINE_RETRIES = 2
    settings.JOBCENTER_ENGINE_RETRY_SECONDS = 0.01
    return settings


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    """2.5 s of 16 kHz mono silence."""
    path = tmp_path / "chunk.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * 40000)
    return path


def form(request: Request) -> dict[str, Any]:
    """The multipart fields of a request: name -> str, or (filename, bytes) for files."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        fields[name] = (filename, payload) if filename else payload.decode()
    return fields


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(data).encode(), "application/json")


# --- transcription -----------------------------------------------------------------------


def test_transcription_request_shape_and_segments(
    engine_settings: Any, server: MediaServer, wav: Path
) -> None:
    server.routes[TRANSCRIBE] = json_reply(
        {
            "text": "hello world. second part",
            "segments": [
                {"id": 0, "start": 0.0, "end": 1.2, "text": " hello world."},
                {"id": 1, "start": 1.2, "end": 2.5, "text": " second part"},
                {"id": 2, "start": 2.5, "end": 2.5, "text": "  "},
            ],
        }
    )
    segments = OpenAITranscription().transcribe(wav, language="de-DE")
    assert segments == [Segment(0.0, 1.2, "hello world."), Segment(1.2, 2.5, "second part")]
    (request,) = server.hits(TRANSCRIBE)
    assert request.method == "POST"
    assert request.headers["authorization"] == "Bearer sk-transcribe"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields = form(request)
    assert fields["model"] == "whisper-test"
    assert fields["language"] == "de"
    assert fields["response_format"] == "verbose_json"
    assert fields["file"] == ("chunk.wav", wav.read_bytes())


def test_transcription_text_only_reply_spans_the_chunk(
    engine_settings: Any, server: MediaServer, wav: Path
) -> None:
    server.routes[TRANSCRIBE] = json_reply({"text": " just text "})
    assert OpenAITranscription().transcribe(wav, language="en") == [Segment(0.0, 2.5, "just text")]


def test_client_errors_fail_at_once_with_the_servers_message(
    engine_settings: Any, server: MediaServer, wav: Path
) -> None:
    server.routes[TRANSCRIBE] = json_reply(
        {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
        status=401,
    )
    with pytest.raises(ProcessorError) as caught:
        OpenAITranscription().transcribe(wav, language="en")
    error = caught.value
    assert not isinstance(error, RetryableError)
    assert error.code == "TRANSCRIPTION_FAILED"
    assert "HTTP 401" in error.message and "Incorrect API key" in error.message
    assert error.details["status"] == 401
    assert len(server.hits(TRANSCRIBE)) == 1


def test_passing_failures_are_retried_then_succeed(
    engine_settings: Any, server: MediaServer, wav: Path
) -> None:
    server.routes[TRANSCRIBE] = [
        Reply(503, b"busy", "text/plain"),
        Reply(429, b"slow down", "text/plain"),
        json_reply({"text": "done"}),
    ]
    assert OpenAITranscription().transcribe(wav, language="en")[0].text == "done"
    assert len(server.hits(TRANSCRIBE)) == 3


def test_persistent_server_errors_become_retryable_after_the_retries(
    engine_settings: Any, server: MediaServer, wav: Path
) -> None:
    server.routes[TRANSCRIBE] = Reply(502, b"bad gateway", "text/plain")
    with pytest.raises(RetryableError) as caught:
        OpenAITranscription().transcribe(wav, language="en")
    assert caught.value.code == "TRANSCRIPTION_FAILED"
    assert "after 3 attempts" in caught.value.message
    assert len(server.hits(TRANSCRIBE)) == 3


def test_a_slow_server_times_out_as_retryable(
    engine_settings: Any, server: MediaServer, wav: Path
) -> None:
    engine_settings.JOBCENTER_TRANSCRIPTION_TIMEOUT = 0.3
    engine_settings.JOBCENTER_ENGINE_RETRIES = 1
    server.routes[TRANSCRIBE] = Reply(200, b'{"text": "late"}', "application/json", delay=1.5)
    with pytest.raises(RetryableError) as caught:
        OpenAITranscription().transcribe(wav, language="en")
    assert caught.value.code == "TRANSCRIPTION_FAILED"
    assert "could not be reached" in caught.value.message
    assert len(server.hits(TRANSCRIBE)) == 2


def test_an_unreachable_server_is_retryable(engine_settings: Any, wav: Path) -> None:
    probe = MediaServer()
    probe.close()  # its port is now closed: connections are refused
    engine_settings.JOBCENTER_TRANSCRIPTION_URL = f"{probe.url}/v1"
    engine_settings.JOBCENTER_ENGINE_RETRIES = 0
    with pytest.raises(RetryableError):
        OpenAITranscription().transcribe(wav, language="en")


def test_malformed_replies_are_permanent_errors(
    engine_settings: Any, server: MediaServer, wav: Path
) -> None:
    server.routes[TRANSCRIBE] = Reply(200, b"<html>proxy page</html>", "text/html")
    with pytest.raises(ProcessorError, match="did not answer JSON"):
        OpenAITranscription().transcribe(wav, language="en")
    server.routes[TRANSCRIBE] = json_reply({"segments": [{"start": 0}]})
    with pytest.raises(ProcessorError, match="without start/end/text"):
        OpenAITranscription().transcribe(wav, language="en")


def test_without_a_url_the_engine_is_unavailable(settings: Any) -> None:
    settings.JOBCENTER_TRANSCRIPTION_URL = ""
    with pytest.raises(ProcessorError) as caught:
        OpenAITranscription()
    assert caught.value.code == "TRANSCRIPTION_UNAVAILABLE"


# --- chat --------------------------------------------------------------------------------


def chat_reply(request: Request) -> Reply:
    payload = json.loads(request.body)
    text = payload["messages"][-1]["content"]
    return json_reply({"choices": [{"message": {"role": "assistant", "content": text.upper()}}]})


def test_chat_request_shape_and_reply(engine_settings: Any, server: MediaServer) -> None:
    server.routes[CHAT] = chat_reply
    engine = OpenAIChat()
    assert engine.complete([{"role": "user", "content": "hallo"}]) == "HALLO"
    (request,) = server.hits(CHAT)
    assert request.headers["authorization"] == "Bearer sk-chat"
    assert request.headers["content-type"] == "application/json"
    payload = json.loads(request.body)
    assert payload["model"] == "chat-test"
    assert payload["messages"] == [{"role": "user", "content": "hallo"}]


def test_translation_goes_piece_by_piece(engine_settings: Any, server: MediaServer) -> None:
    server.routes[CHAT] = chat_reply
    text = "\n\n".join(f"paragraph {n} " + "x" * 3000 for n in range(3))
    assert len(pieces(text)) == 3
    result = translate(OpenAIChat(), text, source="de", target="en")
    assert result == text.upper()
    requests = server.hits(CHAT)
    assert len(requests) == 3
    system = json.loads(requests[0].body)["messages"][0]
    assert system["role"] == "system" and "from de into en" in system["content"]


def test_chat_errors(engine_settings: Any, server: MediaServer) -> None:
    engine_settings.JOBCENTER_ENGINE_RETRIES = 1
    server.routes[CHAT] = json_reply({"choices": []})
    with pytest.raises(ProcessorError, match="no choices"):
        OpenAIChat().complete([{"role": "user", "content": "x"}])
    server.routes[CHAT] = Reply(500, b"oops", "text/plain")
    with pytest.raises(RetryableError) as caught:
        OpenAIChat().complete([{"role": "user", "content": "x"}])
    assert caught.value.code == "CHAT_FAILED"


# --- loading -----------------------------------------------------------------------------


def test_engines_load_from_settings(settings: Any, engine_settings: Any) -> None:
    settings.JOBCENTER_TRANSCRIPTION_ENGINE = "processors.engines.pocketsphinx.PocketsphinxEngine"
    assert isinstance(transcription_engine(), PocketsphinxEngine)
    settings.JOBCENTER_TRANSCRIPTION_ENGINE = "processors.engines.openai.OpenAITranscription"
    assert isinstance(transcription_engine(), OpenAITranscription)
    settings.JOBCENTER_TRANSCRIPTION_ENGINE = "processors.engines.nothing.Here"
    with pytest.raises(ProcessorError) as caught:
        transcription_engine()
    assert caught.value.code == "TRANSCRIPTION_UNAVAILABLE"
    settings.JOBCENTER_CHAT_ENGINE = ""
    assert chat_engine() is None
    settings.JOBCENTER_CHAT_ENGINE = "processors.engines.openai.OpenAIChat"
    assert isinstance(chat_engine(), OpenAIChat)


def test_the_offline_engine_refuses_other_languages() -> None:
    engine = PocketsphinxEngine()
    check_language(engine, "en-US")
    with pytest.raises(ProcessorError) as caught:
        check_language(engine, "de")
    assert caught.value.code == "LANGUAGE_UNSUPPORTED"
    assert caught.value.details["supported"] == ["en"]


def test_words_are_grouped_at_pauses() -> None:
    words = [(0.0, 0.4, "hello"), (0.4, 0.9, "there"), (2.0, 2.5, "again")]
    assert group(words) == [Segment(0.0, 0.9, "hello there"), Segment(2.0, 2.5, "again")]
