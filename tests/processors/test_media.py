"""``audio`` and ``video``: speech made with espeak-ng from known English sentences, turned
into WAV, MP3 and MP4 with ffmpeg, transcribed offline by pocketsphinx; the word error rate
bounds below are the measured rates (docs/benchmarks.md, "Transcription") plus a margin."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobcenter.uploads import store_upload
from processors.base import ProcessorError
from processors.engines.base import Segment
from processors.media import AudioProcessor, VideoProcessor
from processors.media.transcript import srt, vtt
from processors.testing import RecordingContext, run_processor
from tests.processors.media_server import MediaServer, Reply, Request
from tests.processors.media_speech import (
    SENTENCES,
    ffmpeg,
    make_speech,
    silent_video,
    to_mp3,
    to_mp4,
    word_error_rate,
)

# Measured 2026-11-25 with pocketsphinx 5.1.1 (en-us model), espeak-ng 1.51 (en-us, 165 wpm),
# Debian 12's ffmpeg 5.1: WAV 0.646 over all six sentences, MP3 (64 kbit/s) 0.591 and MP4
# (AAC) 0.591 over the first two; chunks of 60 s, so one chunk per file.
WER_BOUND = {"wav": 0.68, "mp3": 0.63, "mp4": 0.63}


@dataclass
class Speech:
    folder: Path
    wav: Path
    short_mp3: Path
    short_mp4: Path
    short_text: str


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    folder = tmp_path_factory.mktemp("speech")
    wav = make_speech(folder / "all")
    short = SENTENCES[:2]
    short_wav = make_speech(folder / "short", short)
    return Speech(folder, wav, to_mp3(short_wav), to_mp4(short_wav), " ".join(short))


@pytest.fixture
def media_settings(settings: Any, tmp_path: Path, speech: Speech) -> Any:
    settings.JOBCENTER_MEDIA_ROOT = tmp_path / "media"
    settings.JOBCENTER_ALLOWED_INPUT_DIRS = [str(speech.folder), str(tmp_path)]
    settings.JOBCENTER_TRANSCRIPTION_ENGINE = "processors.engines.pocketsphinx.PocketsphinxEngine"
    settings.JOBCENTER_FFMPEG_COMMAND = "ffmpeg"
    settings.JOBCENTER_MEDIA_CHUNK_SECONDS = 60
    return settings


def run(
    processor: Any, parameters: dict[str, Any], root: Path, **options: Any
) -> tuple[dict[str, Any], RecordingContext]:
    ctx = RecordingContext(root, **options)
    return run_processor(processor, parameters, ctx), ctx


def test_wav_transcript_files_progress_and_word_error_rate(
    media_settings: Any, speech: Speech, tmp_path: Path
) -> None:
    results, ctx = run(AudioProcessor, {"file_path": str(speech.wav)}, tmp_path / "media")
    wer = word_error_rate(" ".join(SENTENCES), results["transcript"])
    print(f"WER wav {wer:.3f}")
    assert wer <= WER_BOUND["wav"]
    assert results["engine"] == "pocketsphinx" and results["language"] == "en"
    assert 25 < results["duration_seconds"] < 40
    # progress after each chunk, increasing, ending at 100
    chunks = results["chunks"]
    assert chunks == 1
    messages = [message for _, step, message in ctx.progress_reports if step == "transcribe"]
    assert [m.split(" (")[0] for m in messages if m.startswith("chunk")] == [
        f"chunk {n}/{chunks}" for n in range(1, chunks + 1)
    ]
    percents = [percent for percent, _, _ in ctx.progress_reports]
    assert percents == sorted(percents) and percents[-1] == 100
    # the four forms agree
    folder = ctx.workdir
    segments = [Segment(**item) for item in results["segments"]]
    assert segments and all(s.start < s.end for s in segments)
    assert all(a.end <= b.start for a, b in itertools.pairwise(segments))
    assert segments[-1].end <= results["duration_seconds"] + 0.05
    assert json.loads((folder / results["segments_file"]).read_text()) == results["segments"]
    assert (folder / results["srt_file"]).read_text() == srt(segments)
    assert (folder / results["vtt_file"]).read_text().startswith("WEBVTT\n\n00:00:0")
    markdown = (folder / results["markdown_file"]).read_text()
    assert markdown == results["markdown_content"]
    assert markdown.startswith("# speech.wav\n") and segments[1].text in markdown
    assert sorted(results["assets"]) == sorted(
        results[key] for key in ("markdown_file", "segments_file", "srt_file", "vtt_file")
    )


@pytest.fixture
def server() -> Iterator[MediaServer]:
    running = MediaServer()
    yield running
    running.close()


def test_mp3_from_a_url(
    media_settings: Any, speech: Speech, tmp_path: Path, server: MediaServer
) -> None:
    media_settings.JOBCENTER_FETCH_ALLOW_PRIVATE = True
    server.routes["/talk.mp3"] = Reply(200, speech.short_mp3.read_bytes(), "audio/mpeg")
    results, _ = run(AudioProcessor, {"url": f"{server.url}/talk.mp3"}, tmp_path / "media")
    wer = word_error_rate(speech.short_text, results["transcript"])
    print(f"WER mp3 {wer:.3f}")
    assert wer <= WER_BOUND["mp3"]
    assert results["source"]["kind"] == "url" and results["markdown_file"] == "talk.md"


def test_mp4_video(media_settings: Any, speech: Speech, tmp_path: Path) -> None:
    results, _ = run(VideoProcessor, {"source": str(speech.short_mp4)}, tmp_path / "media")
    wer = word_error_rate(speech.short_text, results["transcript"])
    print(f"WER mp4 {wer:.3f}")
    assert wer <= WER_BOUND["mp4"]
    assert results["chunks"] == 1


def test_sound_that_starts_late_keeps_the_videos_times(
    media_settings: Any, speech: Speech, tmp_path: Path
) -> None:
    """A video whose sound begins 6 s in: before, the transcript and subtitles started at
    0 s and the duration was the sound's alone. (The sound's end is the transcript's.)"""
    wav = tmp_path / "late.wav"
    wav.write_bytes(speech.short_mp4.with_suffix(".wav").read_bytes())
    video = to_mp4(wav, 20, sound_from=6.0)
    results, _ = run(VideoProcessor, {"source": str(video)}, tmp_path / "media")
    alone, _ = run(AudioProcessor, {"source": str(wav)}, tmp_path / "media")
    assert results["duration_seconds"] == pytest.approx(6 + alone["duration_seconds"], abs=0.3)
    assert results["segments"] and results["segments"][0]["start"] >= 5.5


def error_of(processor: Any, parameters: dict[str, Any], root: Path) -> ProcessorError:
    with pytest.raises(ProcessorError) as caught:
        run(processor, parameters, root)
    return caught.value


def test_ffmpeg_missing(media_settings: Any, speech: Speech, tmp_path: Path) -> None:
    media_settings.JOBCENTER_FFMPEG_COMMAND = str(tmp_path / "no-ffmpeg-here")
    error = error_of(AudioProcessor, {"source": str(speech.short_mp3)}, tmp_path)
    assert error.code == "FFMPEG_UNAVAILABLE"
    assert "JOBCENTER_FFMPEG_COMMAND" in error.message


def test_undecodable_and_silent_inputs(media_settings: Any, speech: Speech, tmp_path: Path) -> None:
    garbage = tmp_path / "broken.mp3"
    garbage.write_bytes(b"ID3" + bytes(range(256)) * 40)
    error = error_of(AudioProcessor, {"source": str(garbage)}, tmp_path)
    assert error.code == "MEDIA_UNDECODABLE" and "broken.mp3" in error.message
    assert str(tmp_path) not in error.message  # the server's paths stay its own
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(speech.short_mp4.read_bytes()[:2000])
    assert error_of(VideoProcessor, {"source": str(truncated)}, tmp_path).code == (
        "MEDIA_UNDECODABLE"
    )
    silent = silent_video(tmp_path)
    assert error_of(VideoProcessor, {"source": str(silent)}, tmp_path).code == "NO_AUDIO"


def test_unsupported_language_is_refused_before_decoding(
    media_settings: Any, speech: Speech, tmp_path: Path
) -> None:
    media_settings.JOBCENTER_FFMPEG_COMMAND = str(tmp_path / "no-ffmpeg-here")
    error = error_of(AudioProcessor, {"source": str(speech.short_mp3), "language": "de"}, tmp_path)
    assert error.code == "LANGUAGE_UNSUPPORTED"


def test_chunks_go_to_a_server_engine_with_their_offsets(
    media_settings: Any, speech: Speech, tmp_path: Path, server: MediaServer
) -> None:
    media_settings.JOBCENTER_TRANSCRIPTION_ENGINE = "processors.engines.openai.OpenAITranscription"
    media_settings.JOBCENTER_TRANSCRIPTION_URL = f"{server.url}/v1"
    media_settings.JOBCENTER_TRANSCRIPTION_KEY = ""
    media_settings.JOBCENTER_TRANSCRIPTION_TIMEOUT = 5
    media_settings.JOBCENTER_MEDIA_CHUNK_SECONDS = 12
    calls: list[int] = []

    def reply(request: Request) -> Reply:
        calls.append(len(request.body))
        number = len(calls)
        segments = [{"start": 0.5, "end": 1.5, "text": f"chunk {number}"}]
        segments.append({"start": 2.0, "end": 70.0, "text": "past its chunk's end"})
        return Reply(200, json.dumps({"segments": segments}).encode(), "application/json")

    server.routes["/v1/audio/transcriptions"] = reply
    results, ctx = run(
        AudioProcessor, {"source": str(speech.wav), "language": "fr"}, tmp_path / "media"
    )
    chunks = results["chunks"]
    messages = [message for _, step, message in ctx.progress_reports if step == "transcribe"]
    assert [m.split(" (")[0] for m in messages if m.startswith("chunk")] == [
        f"chunk {n}/{chunks}" for n in range(1, chunks + 1)
    ]
    assert results["engine"] == "openai:whisper-1" and results["language"] == "fr"
    assert len(calls) == results["chunks"] >= 3
    assert [s["text"] for s in results["segments"]] == [
        text for n in range(1, len(calls) + 1) for text in (f"chunk {n}", "past its chunk's end")
    ]
    # an end past the chunk is the chunk's end: no overlaps, none past the duration
    ends = [(s["start"], s["end"]) for s in results["segments"]]
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(ends))
    assert ends[-1][1] <= results["duration_seconds"]
    starts = [s["start"] for s in results["segments"][::2]]
    assert starts[0] == 0.5
    # each chunk's times are shifted by where the chunk starts (about every 12 s, cut at a pause)
    assert all(7.0 <= b - a <= 12.5 for a, b in itertools.pairwise(starts))
    assert "**[00:00]** chunk 1" in results["markdown_content"]


def test_an_uploaded_video(
    media_settings: Any, speech: Speech, tmp_path: Path, server: MediaServer
) -> None:
    media_settings.JOBCENTER_TRANSCRIPTION_ENGINE = "processors.engines.openai.OpenAITranscription"
    media_settings.JOBCENTER_TRANSCRIPTION_URL = f"{server.url}/v1"
    body = {"text": "hello from the server"}
    server.routes["/v1/audio/transcriptions"] = Reply(
        200, json.dumps(body).encode(), "application/json"
    )
    with speech.short_mp4.open("rb") as stream:
        reference = store_upload(stream, "Keynote 2026.mp4")
    results, ctx = run(VideoProcessor, {"source": reference}, tmp_path / "media")
    assert results["source"]["kind"] == "upload"
    assert results["markdown_file"] == "Keynote 2026.md"
    assert results["transcript"] == "hello from the server"
    (segment,) = results["segments"]
    assert segment["start"] == 0 and segment["end"] == results["duration_seconds"]
    assert (ctx.workdir / "Keynote 2026.vtt").read_text().endswith("hello from the server\n")


def test_silence_is_not_sent_to_the_engine_and_no_words_are_made_up_in_it(
    media_settings: Any, speech: Speech, tmp_path: Path, server: MediaServer
) -> None:
    """pocketsphinx heard "dog" in 30 s of digital silence; Whisper is known for "Thank
    you." in it. A silent chunk is not sent (a paid engine's cost), and a segment an
    engine places wholly in silence is left out."""
    silence = tmp_path / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "30", str(silence))
    results, ctx = run(AudioProcessor, {"source": str(silence)}, tmp_path / "media")
    assert results["segments"] == [] and results["transcript"] == ""
    assert ("info", "1 of 1 chunk(s) silent: not sent to the engine") in ctx.logs

    media_settings.JOBCENTER_TRANSCRIPTION_ENGINE = "processors.engines.openai.OpenAITranscription"
    media_settings.JOBCENTER_TRANSCRIPTION_URL = f"{server.url}/v1"
    media_settings.JOBCENTER_MEDIA_CHUNK_SECONDS = 20
    talk = tmp_path / "talk-then-silence.wav"  # about 6 s of speech, then 40 s of silence
    ffmpeg(
        "-i", str(speech.short_mp3), "-f", "lavfi", "-t", "40", "-i", "anullsrc=r=16000:cl=mono",
        "-filter_complex", "[0:a][1:a]concat=n=2:v=0:a=1", "-ar", "16000", str(talk),
    )  # fmt: skip
    calls: list[int] = []

    def reply(request: Request) -> Reply:
        calls.append(len(request.body))
        segments = [
            {"start": 0.5, "end": 2.5, "text": "spoken"},
            {"start": 14.0, "end": 16.0, "text": "made up"},
        ]
        return Reply(200, json.dumps({"segments": segments}).encode(), "application/json")

    server.routes["/v1/audio/transcriptions"] = reply
    results, ctx = run(AudioProcessor, {"source": str(talk)}, tmp_path / "media")
    assert results["chunks"] == 3 and len(calls) == 1  # the two silent chunks stay here
    assert [segment["text"] for segment in results["segments"]] == ["spoken"]
    assert ("info", "1 segment(s) the engine found in silence left out") in ctx.logs


def test_audio_too_short_to_decode_completes_with_an_empty_transcript(
    media_settings: Any, tmp_path: Path
) -> None:
    """30 ms of a tone is loud enough to be sent to pocketsphinx but too short for it to
    form any hypothesis; its decoder then returns None for the words, which leaked as
    "TRANSCRIPTION_FAILED: ... 'NoneType' object is not iterable"."""
    blip = tmp_path / "blip.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.03", "-ac", "1", str(blip))
    results, ctx = run(AudioProcessor, {"source": str(blip)}, tmp_path / "media")
    assert results["engine"] == "pocketsphinx" and results["chunks"] == 1
    assert results["duration_seconds"] == pytest.approx(0.03, abs=0.01)
    assert results["segments"] == [] and results["transcript"] == ""
    assert "_No speech was recognised._" in results["markdown_content"]
    assert not any("silent" in message for _, message in ctx.logs)  # it reached the engine
    assert ("warning", "no speech was recognised in 0.03 s of audio; the transcript is empty") in (
        ctx.logs
    )
    assert (ctx.workdir / "blip.srt").read_text() == ""


def test_cancelled_between_chunks(media_settings: Any, speech: Speech, tmp_path: Path) -> None:
    results, ctx = run(
        AudioProcessor,
        {"source": str(speech.wav)},
        tmp_path / "media",
        cancel_after_progress=2,
    )
    assert results == {"cancelled": True}
    assert not list(ctx.workdir.glob("*.md"))


def test_subtitle_formats() -> None:
    segments = [Segment(0.0, 1.25, "hello"), Segment(3661.5, 3662.0, "later")]
    assert srt(segments) == (
        "1\n00:00:00,000 --> 00:00:01,250\nhello\n\n2\n01:01:01,500 --> 01:01:02,000\nlater\n"
    )
    assert vtt(segments) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nhello\n\n01:01:01.500 --> 01:01:02.000\nlater\n"
    )
    assert re.match(r"^\d+$", srt(segments).splitlines()[0])
