"""The ``session`` job's parameters, with the older system's names."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from processors.base import ProcessorParams
from processors.media.processor import LANGUAGE_PATTERN
from processors.sources import check_source_syntax

_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$")


def _http_url(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if "://" not in value:
        raise ValueError(f"{name} must be an http(s) URL")
    return check_source_syntax(value)


class SessionParams(ProcessorParams):
    event: str = Field(max_length=500, description="The event (conference), e.g. FOSDEM 2026.")
    session: str = Field(max_length=1000, description="The session's title.")
    url: str = Field(description="The session's web page (http or https).")
    filename: str | None = Field(
        None,
        max_length=255,
        description="File name of the dossier (sanitised; .md added); default: from session.",
    )
    track: str = Field("", max_length=500)
    day: str = Field("", max_length=100, description="As the event writes it, e.g. 2026-02-01.")
    starttime: str = Field("", max_length=50)
    endtime: str = Field("", max_length=50)
    speakers: list[str] = Field(default_factory=list, max_length=200)
    video_url: str | None = Field(None, description="A direct media URL (mp4, webm, mp3, …).")
    attachments_url: str | None = Field(
        None, description="A PDF, a ZIP of PDFs, or a web page linking to PDFs."
    )
    source_language: str = Field(
        "en", pattern=LANGUAGE_PATTERN, description="Language of the page and the talk."
    )
    target_language: str | None = Field(
        None,
        pattern=LANGUAGE_PATTERN,
        description="Language of the dossier; when it differs from source_language the text "
        "sections are translated by the chat engine (JOBCENTER_CHAT_ENGINE), or marked "
        "untranslated when none is configured.",
    )
    use_cache: bool = Field(
        True,
        description="Reuse earlier extractions of the same attachment files and transcripts "
        "of the same video (by content hash).",
    )
    template: str | None = Field(
        None,
        max_length=255,
        description="A Django template from JOBCENTER_TEMPLATE_DIRS to render the dossier "
        "with (default: the shipped session/dossier.md).",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        checked = _http_url(value, "url")
        if checked is None:
            raise ValueError("url is required")
        return checked

    @field_validator("video_url")
    @classmethod
    def _video(cls, value: str | None) -> str | None:
        return _http_url(value, "video_url")

    @field_validator("attachments_url")
    @classmethod
    def _attachments(cls, value: str | None) -> str | None:
        return _http_url(value, "attachments_url")

    @field_validator("speakers")
    @classmethod
    def _speakers(cls, value: list[str]) -> list[str]:
        return [name.strip() for name in value if name.strip()]

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _TEMPLATE_NAME.match(value) or ".." in value.split("/"):
            raise ValueError("template must be a relative name inside JOBCENTER_TEMPLATE_DIRS")
        return value

    @model_validator(mode="after")
    def _template_exists(self) -> SessionParams:
        if self.template:
            from processors.session.render import find_template

            if find_template(self.template) is None:
                raise ValueError(
                    f"template {self.template!r} is not in any of JOBCENTER_TEMPLATE_DIRS"
                )
        return self

    @property
    def language(self) -> str:
        return self.target_language or self.source_language

    @property
    def wants_translation(self) -> bool:
        return bool(self.target_language) and (
            self.target_language.lower() != self.source_language.lower()  # type: ignore[union-attr]
        )
