"""GET /api/jobs/{id}/events against a real uvicorn (ASGI) server on 127.0.0.1, read as a
stream while the test drives the job through the services."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.contrib.auth.models import User

from jobs import services
from jobs.api_keys import create_api_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def open_stream(url: str, key: str, **headers: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}", **headers})
    return urllib.request.urlopen(request, timeout=30)


def read_events(response: Any, events: list[dict[str, Any]], done: threading.Event) -> None:
    """Parse the SSE stream into ``{"event", "data", "id"}`` dicts (comments as
    ``{"comment": text}``) until the server closes it."""
    current: dict[str, Any] = {}
    try:
        for raw in response:
            line = raw.decode("utf-8").rstrip("\n")
            if not line:
                if current:
                    events.append(current)
                current = {}
            elif line.startswith(":"):
                events.append({"comment": line[1:].strip()})
            else:
                field, _, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
    finally:
        done.set()


def wait_for(events: list[dict[str, Any]], predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not any(predicate(event) for event in events):
        assert time.monotonic() < deadline, f"timed out; got {events}"
        time.sleep(0.05)


def test_event_stream_follows_a_job_to_its_end(live_server_url: str) -> None:
    user = User.objects.create_user("watcher")
    key = create_api_key(user, "sse").raw_key
    job = services.enqueue("echo", {"message": "hi"}, user=user)

    response = open_stream(f"{live_server_url}/api/jobs/{job.pk}/events", key)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-cache"
    events: list[dict[str, Any]] = []
    done = threading.Event()
    threading.Thread(target=read_events, args=(response, events, done), daemon=True).start()

    wait_for(events, lambda e: e.get("event") == "status" and e["data"]["status"] == "pending")
    # Quiet for longer than the heartbeat (1 s for the test server): a comment keeps it open.
    wait_for(events, lambda e: e.get("comment") == "heartbeat", timeout=5)

    services.claim(job.pk, "worker-sse")
    services.start(job.pk)
    wait_for(events, lambda e: e.get("event") == "status" and e["data"]["status"] == "processing")
    services.report_progress(job.pk, 50, "half", "halfway there")
    wait_for(events, lambda e: e.get("event") == "progress" and e["data"]["percent"] == 50.0)
    services.log(job.pk, "a line from the processor")
    wait_for(
        events,
        lambda e: e.get("event") == "log" and e["data"]["message"] == "a line from the processor",
    )
    services.complete(job.pk, {"message": "hi"})

    assert done.wait(10), "the stream did not end with the job"
    kinds = [event.get("event") for event in events if "event" in event]
    assert kinds[-1] == "end"
    assert events[-1]["data"] == {"job_id": job.pk, "status": "completed"}
    statuses = [e["data"]["status"] for e in events if e.get("event") == "status"]
    assert statuses == ["pending", "processing", "completed"]
    logs = [e["data"]["message"] for e in events if e.get("event") == "log"]
    assert logs[0] == "Created (echo)." and "Completed." in logs
    assert all(e.get("id") for e in events if e.get("event") == "log")


def test_reconnecting_with_last_event_id_resumes_after_it(live_server_url: str) -> None:
    user = User.objects.create_user("watcher")
    key = create_api_key(user, "sse").raw_key
    job = services.enqueue("echo", user=user)
    services.claim(job.pk, "w")
    services.start(job.pk)
    services.complete(job.pk, {})

    def logs_after(last_id: str | None) -> list[dict[str, Any]]:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        events: list[dict[str, Any]] = []
        done = threading.Event()
        read_events(
            open_stream(f"{live_server_url}/api/jobs/{job.pk}/events", key, **headers), events, done
        )
        return [e for e in events if e.get("event") == "log"]

    everything = logs_after(None)
    assert len(everything) == 4  # created, claimed, started, completed
    rest = logs_after(everything[1]["id"])
    assert [e["data"]["message"] for e in rest] == [e["data"]["message"] for e in everything[2:]]

    # An id this stream never sent is refused before the stream starts, not inside it.
    for bad in (f"{everything[1]['id']}zz", "2026-11-28T01:12:49+00:00_zz", "nonsense"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            open_stream(
                f"{live_server_url}/api/jobs/{job.pk}/events", key, **{"Last-Event-ID": bad}
            )
        assert caught.value.code == 400
        assert json.loads(caught.value.read())["error"]["code"] == "INVALID_EVENT_ID"


def test_events_of_someone_elses_job_are_404_and_need_a_key(live_server_url: str) -> None:
    owner = User.objects.create_user("owner")
    job = services.enqueue("echo", user=owner)
    stranger_key = create_api_key(User.objects.create_user("stranger"), "k").raw_key
    with pytest.raises(urllib.error.HTTPError) as caught:
        open_stream(f"{live_server_url}/api/jobs/{job.pk}/events", stranger_key)
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["error"]["code"] == "NOT_FOUND"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{live_server_url}/api/jobs/{job.pk}/events", timeout=10)
    assert caught.value.code == 401
