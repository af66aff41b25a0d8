"""Admin actions: a confirmation that counts the jobs that change, then the services;
refusals reported per job; all or nothing; only for users with the change permission."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from batches.models import Batch
from jobs import admin_actions
from jobs.models import Job
from tests.admin.conftest import make_batch, make_job

JOBS = "/admin/jobs/job/"
BATCHES = "/admin/batches/batch/"


def status(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def post_action(client: Client, url: str, action: str, ids: list[str], confirm: bool) -> object:
    data = {"action": action, "_selected_action": ids, "index": "0", "select_across": "0"}
    if confirm:
        data["confirm"] = "yes"
    return client.post(url, data, follow=confirm)


def messages_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_restart_confirmation_counts_then_changes(op: Client) -> None:
    failed, completed, pending = make_job("failed"), make_job("completed"), make_job()
    ids = [failed.pk, completed.pk, pending.pk]
    page = post_action(op, JOBS, "restart", ids, confirm=False)
    html = page.content.decode()  # type: ignore[attr-defined]
    assert '<strong id="jc-job-count">2</strong> jobs will change' in html
    assert status(failed) == "failed"  # nothing changed before confirming
    done = post_action(op, JOBS, "restart", ids, confirm=True)
    assert status(failed) == "pending" and status(completed) == "pending"
    notes = messages_of(done)
    assert "2 job(s) restarted." in notes
    assert any(pending.pk in note and "it is pending" in note for note in notes)


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        ("cancel", "pending", "cancelled"),
        ("set_pending", "failed", "pending"),
        ("fail", "processing", "failed"),
        ("restart", "cancelled", "pending"),
    ],
)
def test_each_job_action(op: Client, action: str, start: str, end: str) -> None:
    job = make_job(start)
    post_action(op, JOBS, action, [job.pk], confirm=True)
    assert status(job) == end


def test_cancel_running_job_requests_cancel(op: Client) -> None:
    job = make_job("processing")
    post_action(op, JOBS, "cancel", [job.pk], confirm=True)
    job.refresh_from_db()
    assert job.status == "processing" and job.cancel_requested


def test_archive_and_unarchive(op: Client) -> None:
    done, pending = make_job("completed"), make_job()
    response = post_action(op, JOBS, "archive", [done.pk, pending.pk], confirm=True)
    assert Job.objects.get(pk=done.pk).archived
    assert not Job.objects.get(pk=pending.pk).archived
    assert any("only finished jobs are archived" in m for m in messages_of(response))
    post_action(op, JOBS, "unarchive", [done.pk], confirm=True)
    assert not Job.objects.get(pk=done.pk).archived


def test_select_across_all_filtered_rows(op: Client) -> None:
    jobs = [make_job("failed") for _ in range(3)]
    make_job()
    data = {
        "action": "restart",
        "_selected_action": [jobs[0].pk],
        "select_across": "1",
        "index": "0",
        "confirm": "yes",
    }
    op.post(JOBS + "?status__exact=failed", data)
    assert all(status(job) == "pending" for job in jobs)


def test_nothing_changes_half_way(op: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = make_job("failed"), make_job("failed")
    real = admin_actions.JOB_ACTIONS["restart"]
    calls: list[str] = []

    def flaky(job_id: str) -> object:
        calls.append(job_id)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real.run(job_id)

    monkeypatch.setitem(admin_actions.JOB_ACTIONS, "restart", dataclasses.replace(real, run=flaky))
    with pytest.raises(RuntimeError):
        post_action(op, JOBS, "restart", [first.pk, second.pk], confirm=True)
    assert len(calls) == 2  # the first job was restarted, then rolled back with the second
    assert status(first) == "failed" and status(second) == "failed"


def test_detail_page_button(op: Client) -> None:
    job = make_job("failed")
    confirm = op.get(f"{JOBS}{job.pk}/do/restart/").content.decode()
    assert '<strong id="jc-job-count">1</strong> job will change' in confirm
    assert status(job) == "failed"
    response = op.post(f"{JOBS}{job.pk}/do/restart/", {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"].endswith(f"{job.pk}/change/")
    assert status(job) == "pending"
    refused = op.post(f"{JOBS}{job.pk}/do/restart/", {"confirm": "yes"}, follow=True)
    assert any("it is pending" in m for m in messages_of(refused))
    assert op.get(f"{JOBS}{job.pk}/do/nope/").status_code == 404


def test_viewer_cannot_act(viewer: Client) -> None:
    job = make_job("failed")
    batch = make_batch(1)
    html = viewer.get(JOBS).content.decode()
    assert 'value="restart"' not in html  # no action menu entries
    post_action(viewer, JOBS, "restart", [job.pk], confirm=True)
    assert status(job) == "failed"
    assert viewer.post(f"{JOBS}{job.pk}/do/restart/", {"confirm": "yes"}).status_code == 403
    assert status(job) == "failed"
    detail = viewer.get(f"{JOBS}{job.pk}/change/").content.decode()
    assert "/do/restart/" not in detail
    assert viewer.post(f"{BATCHES}{batch.pk}/do/fail/", {"confirm": "yes"}).status_code == 403
    assert Batch.objects.get(pk=batch.pk).pending_jobs == 1
    assert viewer.post(f"{JOBS}types/echo/pause/", {"paused": "1"}).status_code == 403
    assert viewer.get(f"{JOBS}new/").status_code == 403
    assert viewer.get(f"{JOBS}new-batch/").status_code == 403
    assert viewer.get(f"{JOBS}dashboard/").status_code == 200
    assert viewer.get(f"{JOBS}live/").status_code == 200


def batch_jobs(batch: Batch) -> list[str]:
    return sorted(Job.objects.filter(batch=batch).values_list("status", flat=True))


def test_batch_actions_from_the_list(op: Client) -> None:
    batch = make_batch(3)
    page = post_action(op, BATCHES, "batch_fail", [batch.pk], confirm=False)
    assert '<strong id="jc-job-count">3</strong> jobs will change' in page.content.decode()  # type: ignore[attr-defined]
    assert batch_jobs(batch) == ["pending"] * 3
    post_action(op, BATCHES, "batch_fail", [batch.pk], confirm=True)
    assert batch_jobs(batch) == ["failed"] * 3
    post_action(op, BATCHES, "batch_restart", [batch.pk], confirm=True)
    assert batch_jobs(batch) == ["pending"] * 3
    post_action(op, BATCHES, "batch_cancel", [batch.pk], confirm=True)
    assert batch_jobs(batch) == ["cancelled"] * 3
    post_action(op, BATCHES, "batch_set_pending", [batch.pk], confirm=True)
    assert batch_jobs(batch) == ["pending"] * 3
    post_action(op, BATCHES, "batch_toggle_active", [batch.pk], confirm=True)
    assert Batch.objects.get(pk=batch.pk).is_active is False


def test_batch_cancel_counts_only_the_jobs_it_will_change(op: Client) -> None:
    from jobs import services

    batch = make_batch(4)
    running = list(Job.objects.filter(batch=batch))[:2]
    for job in running:
        services.claim(job.pk, "w")
        services.start(job.pk)
    services.cancel(running[0].pk)  # already asked to stop: cancelling again changes nothing
    page = post_action(op, BATCHES, "batch_cancel", [batch.pk], confirm=False)
    assert '<strong id="jc-job-count">3</strong> jobs will change' in page.content.decode()  # type: ignore[attr-defined]


def test_batch_restart_all_and_archive_from_detail(op: Client) -> None:
    batch = make_batch(2)
    first, second = Job.objects.filter(batch=batch)
    for job in (first, second):
        from jobs import services

        services.claim(job.pk, "w")
        services.start(job.pk)
    services.complete(first.pk, {})
    services.fail(second.pk, "X", "y")
    plain = op.get(f"{BATCHES}{batch.pk}/do/restart/").content.decode()
    assert '<strong id="jc-job-count">1</strong> job will change' in plain
    everything = op.get(f"{BATCHES}{batch.pk}/do/restart_all/").content.decode()
    assert '<strong id="jc-job-count">2</strong> jobs will change' in everything
    archive = op.post(f"{BATCHES}{batch.pk}/do/archive/", {"confirm": "yes"})
    assert archive.status_code == 302
    assert Batch.objects.get(pk=batch.pk).archived
    assert all(Job.objects.filter(batch=batch).values_list("archived", flat=True))
    op.post(f"{BATCHES}{batch.pk}/do/unarchive/", {"confirm": "yes"})
    assert not Batch.objects.get(pk=batch.pk).archived
    op.post(f"{BATCHES}{batch.pk}/do/restart_all/", {"confirm": "yes"})
    assert batch_jobs(batch) == ["pending", "pending"]


def test_batch_confirmation_counts_jobs_of_every_selected_batch(op: Client) -> None:
    first, second = make_batch(2, "first"), make_batch(3, "second")
    page = post_action(op, BATCHES, "batch_cancel", [first.pk, second.pk], confirm=False)
    html = page.content.decode()  # type: ignore[attr-defined]
    assert '<strong id="jc-job-count">5</strong> jobs will change' in html
    assert "Selected: 2 batches" in html
    assert Job.objects.filter(status="pending").count() == 5
