"""The ``audio`` and ``video`` job types: media to transcripts (docs/processors/media.md)."""

from processors.media.processor import AudioProcessor, VideoProcessor

__all__ = ["AudioProcessor", "VideoProcessor"]
