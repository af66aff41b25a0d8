"""Settings for the Job Center, all taken from the environment with documented defaults
(docs/configuration.md). Nothing secret is committed: SECRET_KEY is generated into var/."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from jobcenter.database import select_database

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("JOBCENTER_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """Taken from SECRET_KEY, else generated once into var/ so sessions survive restarts."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

DATABASE = select_database(os.environ, VAR_DIR)
DATABASES = DATABASE.databases
DEFAULT_AUTO_FIELD = DATABASE.default_auto_field
MIGRATION_MODULES = DATABASE.migration_modules

INSTALLED_APPS = [
    *DATABASE.contrib_apps,
    # django-ninja renders /api/docs with its bundled Swagger UI (static/ninja/, collected by
    # collectstatic and served by WhiteNoise) only when it is an installed app; otherwise the
    # page loads Swagger UI from a CDN and stays blank without internet access.
    "ninja",
    "jobs",
    "batches",
    "processors",
    "legacy",
]
if DATABASE.vendor == "mongodb":
    INSTALLED_APPS.append("django_mongodb_backend")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "jobcenter.urls"
ASGI_APPLICATION = "jobcenter.asgi.application"
WSGI_APPLICATION = "jobcenter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Production hardening; the defaults suit run.sh on 127.0.0.1 over plain HTTP, and
# `check --deploy` passes once JOBCENTER_HTTPS=1 says a TLS proxy is in front.
HTTPS = env_bool("JOBCENTER_HTTPS")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
X_FRAME_OPTIONS = "DENY"

# --- Job Center ---------------------------------------------------------------------------
# Where each job's files live: JOBCENTER_MEDIA_ROOT/<job_id>/.
JOBCENTER_MEDIA_ROOT = Path(os.environ.get("JOBCENTER_MEDIA_ROOT", VAR_DIR / "media"))
# Processor classes by dotted path; packages can add more via the `jobcenter.processors`
# entry-point group.
JOBCENTER_PROCESSORS = env_list(
    "JOBCENTER_PROCESSORS",
    "processors.echo.EchoProcessor,processors.pdf.PdfProcessor,processors.image.ImageProcessor,"
    "processors.session.SessionProcessor,processors.media.AudioProcessor,"
    "processors.media.VideoProcessor",
)
# Per-type overrides of a processor's limits, e.g. {"pdf": {"concurrency": 2}}.
JOBCENTER_PROCESSOR_LIMITS: dict[str, dict[str, float | int]] = {}
# The worker (docs/worker.md). A job's lease is renewed every heartbeat while it runs; a job
# whose lease ran out (its worker died) is reclaimed by any other worker.
JOBCENTER_LEASE_SECONDS = float(os.environ.get("JOBCENTER_LEASE_SECONDS", "60"))
JOBCENTER_HEARTBEAT_SECONDS = float(os.environ.get("JOBCENTER_HEARTBEAT_SECONDS", "5"))
# How long a processor has to stop after a cancel before its process is killed.
JOBCENTER_CANCEL_GRACE_SECONDS = float(os.environ.get("JOBCENTER_CANCEL_GRACE_SECONDS", "10"))
# A child process whose peak memory passed this is replaced after its job.
JOBCENTER_CHILD_MAX_MEMORY_MB = int(os.environ.get("JOBCENTER_CHILD_MAX_MEMORY_MB", "2048"))
# Webhooks to private, loopback or link-local addresses are refused unless this is set.
JOBCENTER_WEBHOOK_ALLOW_PRIVATE = env_bool("JOBCENTER_WEBHOOK_ALLOW_PRIVATE")
# First retry delay of a failed webhook delivery (doubles per attempt, up to an hour).
JOBCENTER_WEBHOOK_RETRY_SECONDS = float(os.environ.get("JOBCENTER_WEBHOOK_RETRY_SECONDS", "5"))
# Most jobs accepted in one create_batch call / one API request.
JOBCENTER_MAX_BATCH_SIZE = int(os.environ.get("JOBCENTER_MAX_BATCH_SIZE", "50000"))
# Input files: a path `source` must lie under one of these folders (empty: paths refused).
JOBCENTER_ALLOWED_INPUT_DIRS = env_list("JOBCENTER_ALLOWED_INPUT_DIRS")
# URL sources may reach private, loopback and link-local addresses only when this is on.
JOBCENTER_FETCH_ALLOW_PRIVATE = env_bool("JOBCENTER_FETCH_ALLOW_PRIVATE")
# pdf and image processors (docs/processors/pdf.md): limits per file and per page, and how
# many processes share a document's pages (0: one per CPU, at most 4).
JOBCENTER_PDF_MAX_BYTES = int(os.environ.get("JOBCENTER_PDF_MAX_BYTES", str(200 * 1024 * 1024)))
JOBCENTER_PDF_MAX_PAGES = int(os.environ.get("JOBCENTER_PDF_MAX_PAGES", "5000"))
JOBCENTER_PDF_PAGE_SECONDS = float(os.environ.get("JOBCENTER_PDF_PAGE_SECONDS", "120"))
JOBCENTER_PDF_PAGE_MEMORY_MB = int(os.environ.get("JOBCENTER_PDF_PAGE_MEMORY_MB", "2048"))
JOBCENTER_PDF_WORKERS = int(os.environ.get("JOBCENTER_PDF_WORKERS", "0"))
JOBCENTER_OCR_MAX_PIXELS = int(os.environ.get("JOBCENTER_OCR_MAX_PIXELS", "60000000"))
# The Tesseract program (a name on PATH or a path); OCR reports OCR_UNAVAILABLE without it.
JOBCENTER_TESSERACT_COMMAND = os.environ.get("JOBCENTER_TESSERACT_COMMAND", "tesseract")
# Dotted path of a factory for the LLM engine of the pdf processor's llm* methods and
# `template` (processors/pdf/llm.py); empty: those are refused.
JOBCENTER_LLM_ENGINE = os.environ.get("JOBCENTER_LLM_ENGINE", "")

# REST API (docs/api.md). Largest upload accepted by POST /api/files, and largest request
# body otherwise (a 50,000-job batch is a few MB of JSON); beyond either: 413.
JOBCENTER_MAX_UPLOAD_BYTES = int(
    os.environ.get("JOBCENTER_MAX_UPLOAD_BYTES", str(200 * 1024 * 1024))
)
JOBCENTER_MAX_REQUEST_BYTES = int(
    os.environ.get("JOBCENTER_MAX_REQUEST_BYTES", str(64 * 1024 * 1024))
)
DATA_UPLOAD_MAX_MEMORY_SIZE = JOBCENTER_MAX_REQUEST_BYTES
# A worker counts as alive while its heartbeat is younger than this (GET /api/health).
JOBCENTER_WORKER_ALIVE_SECONDS = float(os.environ.get("JOBCENTER_WORKER_ALIVE_SECONDS", "60"))
# GET /api/jobs/{id}/events: how often the stream polls the job, and the longest silence
# before a heartbeat comment keeps proxies from closing the connection.
JOBCENTER_SSE_POLL_SECONDS = float(os.environ.get("JOBCENTER_SSE_POLL_SECONDS", "1"))
JOBCENTER_SSE_HEARTBEAT_SECONDS = float(os.environ.get("JOBCENTER_SSE_HEARTBEAT_SECONDS", "15"))

# audio, video and session processors (docs/processors/media.md, docs/processors/session.md).
# Engines are zero-argument factories by dotted path (processors/engines/). Transcription:
# offline pocketsphinx (English) by default, or processors.engines.openai.OpenAITranscription
# for an OpenAI-compatible /v1/audio/transcriptions server at JOBCENTER_TRANSCRIPTION_URL
# (the base, e.g. http://host:8000/v1). Chat (translation): none by default, or
# processors.engines.openai.OpenAIChat for /v1/chat/completions at JOBCENTER_CHAT_URL.
JOBCENTER_TRANSCRIPTION_ENGINE = os.environ.get(
    "JOBCENTER_TRANSCRIPTION_ENGINE", "processors.engines.pocketsphinx.PocketsphinxEngine"
)
JOBCENTER_TRANSCRIPTION_URL = os.environ.get("JOBCENTER_TRANSCRIPTION_URL", "")
JOBCENTER_TRANSCRIPTION_KEY = os.environ.get("JOBCENTER_TRANSCRIPTION_KEY", "")
JOBCENTER_TRANSCRIPTION_MODEL = os.environ.get("JOBCENTER_TRANSCRIPTION_MODEL", "whisper-1")
JOBCENTER_TRANSCRIPTION_TIMEOUT = float(os.environ.get("JOBCENTER_TRANSCRIPTION_TIMEOUT", "300"))
JOBCENTER_CHAT_ENGINE = os.environ.get("JOBCENTER_CHAT_ENGINE", "")
JOBCENTER_CHAT_URL = os.environ.get("JOBCENTER_CHAT_URL", "")
JOBCENTER_CHAT_KEY = os.environ.get("JOBCENTER_CHAT_KEY", "")
JOBCENTER_CHAT_MODEL = os.environ.get("JOBCENTER_CHAT_MODEL", "gpt-4o-mini")
JOBCENTER_CHAT_TIMEOUT = float(os.environ.get("JOBCENTER_CHAT_TIMEOUT", "120"))
# Server engines retry timeouts, refused connections, 429 and 5xx this often (pause doubling
# from JOBCENTER_ENGINE_RETRY_SECONDS), then the job is retried later by the worker.
JOBCENTER_ENGINE_RETRIES = int(os.environ.get("JOBCENTER_ENGINE_RETRIES", "2"))
JOBCENTER_ENGINE_RETRY_SECONDS = float(os.environ.get("JOBCENTER_ENGINE_RETRY_SECONDS", "2"))
# ffmpeg (a name on PATH or a path); media jobs fail with FFMPEG_UNAVAILABLE without it.
JOBCENTER_FFMPEG_COMMAND = os.environ.get("JOBCENTER_FFMPEG_COMMAND", "ffmpeg")
JOBCENTER_MEDIA_MAX_BYTES = int(os.environ.get("JOBCENTER_MEDIA_MAX_BYTES", str(2 * 1024**3)))
JOBCENTER_MEDIA_CHUNK_SECONDS = float(os.environ.get("JOBCENTER_MEDIA_CHUNK_SECONDS", "60"))
# Folders the session processor's `template` parameter picks Django templates from.
JOBCENTER_TEMPLATE_DIRS = env_list("JOBCENTER_TEMPLATE_DIRS")
JOBCENTER_SESSION_PAGE_MAX_BYTES = int(
    os.environ.get("JOBCENTER_SESSION_PAGE_MAX_BYTES", str(10 * 1024 * 1024))
)
JOBCENTER_SESSION_MAX_ATTACHMENTS = int(os.environ.get("JOBCENTER_SESSION_MAX_ATTACHMENTS", "50"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
