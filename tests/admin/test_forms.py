"""Creating work from the admin: the "New job" form built from a processor's Params and the
"New batch" form, validated by the same code as the API."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from batches.models import Batch
from jobcenter.uploads import resolve_upload
from jobs.models import Job, Upload

NEW_JOB = "/admin/jobs/job/new/"
NEW_BATCH = "/admin/jobs/job/new-batch/"


def test_new_job_form_is_built_from_params(op: Client) -> None:
    html = op.get(NEW_JOB + "?job_type=echo").content.decode()
    assert 'name="p_message"' in html and 'name="p_fail_with"' in html
    assert 'name="p_steps" value="1" min="1" max="10000"' in html  # type, default, bounds
    assert "Progress reports along the way." in html  # help text
    pdf = op.get(NEW_JOB + "?job_type=pdf").content.decode()
    assert 'name="p_source__file"' in pdf and 'type="file"' in pdf  # an upload for source
    assert '<option value="ocr">ocr</option>' in pdf  # choices from a Literal
    assert "Source *" in pdf  # required mark
    assert 'name="p_source"' not in op.get(NEW_JOB).content.decode()  # no type chosen yet


def test_new_job_created_with_defaults(op: Client, operator) -> None:  # type: ignore[no-untyped-def]
    response = op.post(
        NEW_JOB,
        {
            "job_type": "echo",
            "create": "1",
            "job_name": "from the admin",
            "priority": "5",
            "p_message": "hello",
            "p_steps": "3",
            "p_sleep_seconds": "0",
        },
    )
    job = Job.objects.get(job_name="from the admin")
    assert response.status_code == 302 and job.pk in response["Location"]
    assert job.parameters == {
        "message": "hello",
        "sleep_seconds": 0.0,
        "steps": 3,
        "fail_with": None,
    }
    assert job.priority == 5 and job.user == operator and job.status == "pending"


def test_new_job_invalid_is_refused_like_the_api(op: Client) -> None:
    html = op.post(
        NEW_JOB,
        {"job_type": "pdf", "create": "1", "priority": "0", "p_source": "ftp://x/y.pdf"},
    ).content.decode()
    assert "errorlist" in html and not Job.objects.exists()
    bad_bound = op.post(
        NEW_JOB, {"job_type": "echo", "create": "1", "priority": "0", "p_steps": "0"}
    ).content.decode()
    assert "greater than or equal to 1" in bad_bound and not Job.objects.exists()


def test_new_job_with_uploaded_pdf(op: Client, operator: User) -> None:
    upload = SimpleUploadedFile("report.pdf", b"%PDF-1.4 fake", content_type="application/pdf")
    response = op.post(
        NEW_JOB,
        {"job_type": "pdf", "create": "1", "priority": "0", "p_source__file": upload},
    )
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.parameters["source"].startswith("upload:")
    stored = resolve_upload(job.parameters["source"])
    assert stored.name == "report.pdf" and stored.read_bytes() == b"%PDF-1.4 fake"
    # recorded as the operator's upload, so the operator may use it again through the API
    record = Upload.objects.get(pk=job.parameters["source"].removeprefix("upload:"))
    assert (record.owner, record.filename, record.size) == (operator, "report.pdf", 13)


def test_new_job_form_keeps_its_upload_when_it_comes_back_with_an_error(op: Client) -> None:
    upload = SimpleUploadedFile("report.pdf", b"%PDF-1.4 fake", content_type="application/pdf")
    fields = {"job_type": "pdf", "create": "1", "priority": "0", "p_pages": "2-1"}
    html = op.post(NEW_JOB, {**fields, "p_source__file": upload}).content.decode()
    assert "runs backwards" in html and not Job.objects.exists()
    stored = Upload.objects.get()
    assert f'value="upload:{stored.pk}"' in html  # in the source field, to send again
    response = op.post(NEW_JOB, {**fields, "p_pages": "1", "p_source": f"upload:{stored.pk}"})
    assert response.status_code == 302
    assert Job.objects.get().parameters["source"] == f"upload:{stored.pk}"
    assert Upload.objects.count() == 1


def batch_post(**fields: object) -> dict[str, object]:
    return {
        "batch_name": "nightly",
        "job_type": "echo",
        "mode": "lines",
        "parameter": "message",
        "shared_parameters": "{}",
        **fields,
    }


def test_new_batch_from_lines_previews_then_creates(op: Client) -> None:
    data = batch_post(lines="a\nb\n\nc\n", shared_parameters='{"steps": 2}')
    preview = op.post(NEW_BATCH, {**data, "preview": "1"}).content.decode()
    assert '<strong id="jc-preview-count">3</strong> jobs will be created' in preview
    assert not Batch.objects.exists()  # the preview creates nothing
    response = op.post(NEW_BATCH, {**data, "create": "1"})
    batch = Batch.objects.get()
    assert response.status_code == 302 and batch.pk in response["Location"]
    params = sorted(
        Job.objects.filter(batch=batch).values_list("parameters", flat=True),
        key=lambda p: p["message"],
    )
    assert [p["message"] for p in params] == ["a", "b", "c"] and params[0]["steps"] == 2
    assert batch.total_jobs == 3 and batch.batch_name == "nightly"


def test_new_batch_from_json_and_csv_rows(op: Client) -> None:
    rows = json.dumps([{"message": "x", "job_name": "first"}, {"message": "y", "steps": 4}])
    # rows name their own parameters: the one-parameter field may be left empty
    op.post(NEW_BATCH, batch_post(mode="rows", rows=rows, parameter="", create="1"))
    batch = Batch.objects.get()
    assert set(Job.objects.filter(batch=batch).values_list("job_name", flat=True)) == {
        "first",
        "",
    }
    csv_file = SimpleUploadedFile("rows.csv", b"message,steps\nm1,2\nm2,3\n", "text/csv")
    op.post(NEW_BATCH, batch_post(batch_name="csv", mode="rows", rows_file=csv_file, create="1"))
    csv_batch = Batch.objects.get(batch_name="csv")
    steps = sorted(Job.objects.filter(batch=csv_batch).values_list("parameters__steps", flat=True))
    assert steps == [2, 3]


def test_new_batch_from_files(op: Client) -> None:
    files = [
        SimpleUploadedFile(f"doc{i}.pdf", b"%PDF-1.4 " + bytes([48 + i]), "application/pdf")
        for i in range(2)
    ]
    data = batch_post(job_type="pdf", mode="files", parameter="source")
    preview = op.post(NEW_BATCH, {**data, "files": files, "preview": "1"}).content.decode()
    assert '<strong id="jc-preview-count">2</strong> jobs will be created' in preview
    refs = preview.split('name="upload_refs" value="')[1].split('"')[0]
    import html as html_lib

    op.post(NEW_BATCH, {**data, "upload_refs": html_lib.unescape(refs), "create": "1"})
    jobs = Job.objects.filter(batch__isnull=False).order_by("job_name")
    assert [job.job_name for job in jobs] == ["doc0.pdf", "doc1.pdf"]
    assert resolve_upload(jobs[1].parameters["source"]).read_bytes() == b"%PDF-1.4 1"


@pytest.mark.parametrize("refs", ["[1]", "5", '[["a", "b", "c"]]', '{"a": 1}', '[["upload:x"]]'])
def test_new_batch_from_files_with_altered_upload_refs_is_not_a_500(op: Client, refs: str) -> None:
    data = batch_post(job_type="pdf", mode="files", parameter="source")
    response = op.post(NEW_BATCH, {**data, "upload_refs": refs, "create": "1"})
    assert response.status_code == 200  # the form again, asking for files
    assert not Batch.objects.exists()


def test_new_batch_with_an_invalid_job_creates_nothing(op: Client) -> None:
    rows = json.dumps([{"message": "ok"}, {"steps": 0}, {"nope": 1}])
    html = op.post(NEW_BATCH, batch_post(mode="rows", rows=rows, create="1")).content.decode()
    assert "3</strong> jobs read; nothing can be created while any is invalid" in html
    assert "will be created" not in html
    assert "Job 2" in html and "Job 3" in html and "Extra inputs are not permitted" in html
    assert 'id="jc-create-batch"' not in html and not Batch.objects.exists()


def test_new_batch_needs_jobs_and_valid_json(op: Client) -> None:
    empty = op.post(NEW_BATCH, batch_post(lines="", preview="1")).content.decode()
    assert "No jobs" in empty
    bad = op.post(NEW_BATCH, batch_post(lines="a", shared_parameters="{", preview="1"))
    assert "Not valid JSON" in bad.content.decode() and not Batch.objects.exists()


def test_every_registered_type_gets_a_form(op: Client) -> None:
    from processors.registry import job_types

    for job_type, processor in job_types().items():
        html = op.get(NEW_JOB + f"?job_type={job_type}").content.decode()
        for name in processor.Params.model_json_schema().get("properties", {}):
            assert f'name="p_{name}"' in html, (job_type, name)
