"""The ``session`` job type: a conference session's page, video and attachments to one
Markdown dossier (docs/processors/session.md)."""

from processors.session.processor import SessionProcessor

__all__ = ["SessionProcessor"]
