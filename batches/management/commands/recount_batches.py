"""``manage.py recount_batches``: repair batch counters from the jobs, report what changed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from batches.models import Batch
from batches.services import recount_batch
from jobcenter.errors import JobCenterError


class Command(BaseCommand):
    help = "Recount every batch's counters from its jobs and fix those that are wrong."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("batch_ids", nargs="*", help="only these batches (default: all)")
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_ids = options["batch_ids"] or Batch.objects.values_list("pk", flat=True).iterator()
        checked = fixed = 0
        for batch_id in batch_ids:
            checked += 1
            try:
                wrong = recount_batch(batch_id, dry_run=options["dry_run"])
            except JobCenterError as exc:  # a batch id that does not exist
                raise CommandError(exc.message) from None
            if wrong:
                fixed += 1
                changes = ", ".join(f"{name} {old}→{new}" for name, (old, new) in wrong.items())
                self.stdout.write(f"{batch_id}: {changes}")
        verb = "would fix" if options["dry_run"] else "fixed"
        self.stdout.write(f"{checked} batch(es) checked, {fixed} {verb}.")
