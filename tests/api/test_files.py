"""Files: uploads (and their size limit), a job's files (list, download, no way out of the
job's folder), and the ZIP archives of a job and of a batch."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from batches.services import create_batch
from jobcenter.uploads import resolve_upload
from jobs.models import Job, Upload
from tests.api.conftest import bearer_client, drive, error_of

pytestmark = pytest.mark.django_db


def test_upload_returns_a_reference_usable_in_parameters(client: Client) -> None:
    data = b"%PDF-1.4 fake"
    response = client.post(
        "/api/files", {"file": SimpleUploadedFile("My Talk (final).pdf", data, "application/pdf")}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith("upload:") and body["size"] == len(data)
    stored = resolve_upload(body["reference"])
    assert stored.read_bytes() == data
    assert body["filename"] == stored.name == "My Talk _final_.pdf"


def test_upload_without_a_file_is_422(client: Client) -> None:
    response = client.post("/api/files", {})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "file"


def test_two_file_parts_are_422_and_store_nothing(client: Client, media_root: Path) -> None:
    """Ninja would hand the view the last part only: the first file would be dropped
    without a word."""
    files = [SimpleUploadedFile("a.pdf", b"first"), SimpleUploadedFile("b.pdf", b"second")]
    response = client.post("/api/files", {"file": files})
    assert response.status_code == 422, response.content
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith("One file per upload: the request has 2 'file' parts.")
    assert error["details"] == [{"field": "file", "message": "one file per upload; got 2"}]
    assert not Upload.objects.exists()
    uploads = media_root / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    # one file is still fine
    one = client.post("/api/files", {"file": SimpleUploadedFile("a.pdf", b"first")})
    assert one.status_code == 201 and one.json()["size"] == len(b"first")


def test_upload_over_the_limit_is_413_and_stores_nothing(
    client: Client, settings: Any, media_root: Path
) -> None:
    settings.JOBCENTER_MAX_UPLOAD_BYTES = 1000
    response = client.post("/api/files", {"file": SimpleUploadedFile("big.bin", b"x" * 5000)})
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["details"]["limit_bytes"] == 1000
    uploads = media_root / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_upload_announcing_more_than_the_limit_is_refused_unread(
    client: Client, settings: Any
) -> None:
    settings.JOBCENTER_MAX_UPLOAD_BYTES = 1000
    response = client.generic(
        "POST",
        "/api/files",
        b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(10 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "PAYLOAD_TOO_LARGE"


def test_upload_just_under_the_limit_is_accepted(client: Client, settings: Any) -> None:
    settings.JOBCENTER_MAX_UPLOAD_BYTES = 1000
    response = client.post("/api/files", {"file": SimpleUploadedFile("ok.bin", b"x" * 1000)})
    assert response.status_code == 201
    assert response.json()["size"] == 1000


def test_json_body_over_the_request_limit_is_413(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"job_type": "echo", "parameters": {"message": "x" * 2000}}
    response = client.post("/api/jobs", body, content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert not Job.objects.exists()


@pytest.fixture
def job_with_files(make_job: Callable[..., Job], media_root: Path, tmp_path: Path) -> Job:
    job = make_job()
    drive(job.pk, "completed")
    folder = media_root / job.pk
    (folder / "assets").mkdir(parents=True)
    (folder / "dossier.md").write_text("# Dossier\n")
    (folder / "assets" / "slide.png").write_bytes(b"\x89PNG fake")
    (folder / "data.bin").write_bytes(bytes(range(256)))
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, folder / "escape.txt")
    os.symlink(folder / "dossier.md", folder / "alias.md")  # stays inside: allowed
    return job


def test_list_files(client: Client, job_with_files: Job) -> None:
    response = client.get(f"/api/jobs/{job_with_files.pk}/files")
    assert response.status_code == 200
    files = {item["path"]: item for item in response.json()}
    assert set(files) == {"alias.md", "assets/slide.png", "data.bin", "dossier.md"}
    assert files["dossier.md"]["size"] == len("# Dossier\n")
    assert files["assets/slide.png"]["content_type"] == "image/png"
    assert files["data.bin"]["content_type"] == "application/octet-stream"


def test_list_files_of_a_job_without_folder_is_empty(
    client: Client, make_job: Callable[..., Job]
) -> None:
    assert client.get(f"/api/jobs/{make_job().pk}/files").json() == []


def test_download_streams_with_its_content_type(client: Client, job_with_files: Job) -> None:
    response = client.get(f"/api/jobs/{job_with_files.pk}/files/assets/slide.png")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    markdown = client.get(f"/api/jobs/{job_with_files.pk}/files/dossier.md")
    assert markdown["Content-Type"].startswith("text/markdown")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("..%2F..%2Fsecret.txt", 400),
        ("assets/../../secret.txt", 400),
        ("assets/..%2F..%2Fsecret.txt", 400),
        ("%2Fetc%2Fpasswd", 400),
        ("escape.txt", 404),
        ("missing.txt", 404),
        ("assets", 404),
        ("./dossier.md", 400),
        ("C:%5Cwindows", 400),
        ("a" * 300, 404),  # longer than a file name may be
        ("assets/" + "b" * 300 + ".png", 404),
    ],
)
def test_download_cannot_leave_the_job_folder(
    client: Client, job_with_files: Job, path: str, status: int
) -> None:
    response = client.get(f"/api/jobs/{job_with_files.pk}/files/{path}")
    assert response.status_code == status, path
    assert error_of(response)["code"] == ("INVALID_PATH" if status == 400 else "NOT_FOUND")
    assert b"top secret" not in response.content


def test_symlink_inside_the_folder_is_served(client: Client, job_with_files: Job) -> None:
    response = client.get(f"/api/jobs/{job_with_files.pk}/files/alias.md")
    assert b"".join(response.streaming_content) == b"# Dossier\n"


def read_zip(response: Any) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_job_archive(client: Client, job_with_files: Job) -> None:
    archive = read_zip(client.get(f"/api/jobs/{job_with_files.pk}/archive"))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == [
        "files/alias.md",
        "files/assets/slide.png",
        "files/data.bin",
        "files/dossier.md",
        "job.json",
    ]
    assert b'"results": {\n    "message": "done"' in archive.read("job.json")
    assert archive.read("files/data.bin") == bytes(range(256))


def test_batch_archive(client: Client, owner: Any, media_root: Path) -> None:
    batch = create_batch("b", [{"job_type": "echo"}] * 2, user=owner).batch
    first, second = Job.objects.filter(batch=batch).order_by("created_at", "pk")
    (media_root / first.pk).mkdir()
    (media_root / first.pk / "out.txt").write_text("one")
    archive = read_zip(client.get(f"/api/batches/{batch.pk}/archive"))
    assert sorted(archive.namelist()) == sorted(
        ["batch.json", f"{first.pk}/job.json", f"{first.pk}/files/out.txt", f"{second.pk}/job.json"]
    )
    assert archive.read(f"{first.pk}/files/out.txt") == b"one"
    assert b'"total_jobs": 2' in archive.read("batch.json")


def test_large_file_streams_in_chunks(
    client: Client, make_job: Callable[..., Job], media_root: Path
) -> None:
    job = make_job()
    (media_root / job.pk).mkdir()
    payload = os.urandom(3 * 1024 * 1024)
    (media_root / job.pk / "video.mp4").write_bytes(payload)
    response = client.get(f"/api/jobs/{job.pk}/archive")
    chunks = list(response.streaming_content)
    assert len(chunks) > 5  # not built in one piece
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.read("files/video.mp4") == payload
    assert archive.getinfo("files/video.mp4").compress_type == zipfile.ZIP_STORED


def _upload(client: Client, name: str = "talk.pdf") -> str:
    response = client.post("/api/files", {"file": SimpleUploadedFile(name, b"%PDF-1.4 x")})
    assert response.status_code == 201, response.content
    return response.json()["reference"]


def _submit(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, body, content_type="application/json")


def test_a_job_may_name_only_its_submitters_own_uploads(
    client: Client, make_user: Callable[..., Any]
) -> None:
    """Upload references show in job parameters (of public jobs too): knowing one must not
    let someone else run jobs on that file."""
    reference = _upload(client)
    job = {"job_type": "echo", "parameters": {"message": reference}}
    assert _submit(client, "/api/jobs", job).status_code == 201

    eve = bearer_client(make_user("eve"))
    response = _submit(eve, "/api/jobs", job)
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"field": "parameters.message", "source": reference}
    assert not Job.objects.filter(user__username="eve").exists()

    root = make_user("root", staff=True)
    root.is_superuser = True
    root.save()
    assert _submit(bearer_client(root), "/api/jobs", job).status_code == 201


def test_an_upload_that_does_not_exist_is_refused_at_submission(client: Client) -> None:
    reference = _upload(client)
    jobs = [
        {"job_type": "echo", "parameters": {"message": reference}},
        {"job_type": "echo", "parameters": {"message": "upload:" + "0" * 32}},
    ]
    response = _submit(client, "/api/jobs/batch", {"batch_name": "b", "jobs": jobs})
    assert response.status_code == 404
    assert error_of(response)["details"]["field"] == "jobs[1].parameters.message"
    assert not Job.objects.exists()
