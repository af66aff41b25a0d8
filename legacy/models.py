"""What was imported from the older system, so that re-running the import writes only what
is new or changed there, and never undoes later changes made in the Job Center to rows whose
legacy document did not change."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ImportedDocument(models.Model):
    """One legacy document and the digest of its content when it was last imported."""

    key = models.CharField(
        primary_key=True, max_length=255, help_text="<collection>:<legacy id>", editable=False
    )
    collection = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64, help_text="The job_id or batch_id it became.")
    digest = models.CharField(max_length=32, help_text="Of the legacy document and the options.")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "imported legacy document"

    def __str__(self) -> str:
        return self.key
