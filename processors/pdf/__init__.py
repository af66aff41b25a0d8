"""The ``pdf`` job type: documents to Markdown page by page (docs/processors/pdf.md)."""

from processors.pdf.processor import PdfProcessor

__all__ = ["PdfProcessor"]
