"""``manage.py import_legacy``: bring the older system's MongoDB history into the Job Center
(docs/migration.md). Parses options, builds the source, runs legacy.importer, prints."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from legacy.importer import (
    DEFAULT_CHUNK,
    ImportAborted,
    ImportOptions,
    import_legacy,
    load_user_map,
)
from legacy.report import ProgressBar, format_summary
from legacy.sources import DirectorySource, MongoSource, Source, SourceError


class Command(BaseCommand):
    help = (
        "Import the older system's event_jobs, event_batches and event_sessions (mongoexport "
        "files or the MongoDB database). Safe to re-run: only new or changed documents are "
        "written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--from-dir",
            metavar="DIR",
            help="folder with event_jobs.json, event_batches.json, event_sessions.json "
            "(or .jsonl, optionally .gz): mongoexport output, JSON lines or a JSON array",
        )
        source.add_argument("--mongodb-uri", metavar="URI", help="the older system's MongoDB")
        parser.add_argument(
            "--database", metavar="NAME", help="database name (default: the URI's path)"
        )
        parser.add_argument(
            "--mongodb-timeout",
            type=float,
            default=10.0,
            metavar="SECONDS",
            help="how long to wait for the MongoDB server (default 10)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="read and check everything, write nothing"
        )
        parser.add_argument(
            "--stale-as",
            choices=["pending", "failed"],
            default="pending",
            help="what jobs that were 'processing' become (default pending: they run again)",
        )
        parser.add_argument(
            "--sessions-as",
            choices=["pending", "completed"],
            default="completed",
            help="status of the session jobs made from event_sessions (default completed: "
            "history only; pending: the worker processes them)",
        )
        parser.add_argument(
            "--skip-sessions", action="store_true", help="do not import event_sessions"
        )
        parser.add_argument(
            "--user-map",
            metavar="FILE",
            help='legacy user_id -> username: a JSON object {"old-id": "username"} or CSV '
            "lines old-id,username; the usernames must exist",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK,
            metavar="N",
            help=f"documents per transaction (default {DEFAULT_CHUNK})",
        )
        parser.add_argument(
            "--errors-file",
            metavar="FILE",
            help="write every document not imported as a JSON line (id, where, why)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1")
        user_map: dict[str, str] = {}
        if options["user_map"]:
            path = Path(options["user_map"])
            if not path.is_file():
                raise CommandError(f"--user-map {path}: no such file")
            try:
                user_map = load_user_map(path.read_text(encoding="utf-8"), str(path))
            except (ImportAborted, UnicodeDecodeError) as exc:
                raise CommandError(str(exc)) from None
        import_options = ImportOptions(
            dry_run=options["dry_run"],
            stale_as=options["stale_as"],
            sessions_as=options["sessions_as"],
            skip_sessions=options["skip_sessions"],
            user_map=user_map,
            chunk_size=options["chunk_size"],
        )
        try:
            with ExitStack() as stack:
                source = self._source(options)
                stack.callback(source.close)
                errors_file = None
                if options["errors_file"]:
                    errors_file = stack.enter_context(
                        Path(options["errors_file"]).open("w", encoding="utf-8")
                    )
                progress = ProgressBar(
                    getattr(self.stderr, "_out", self.stderr),
                    enabled=not options["no_progress"],
                    errors=errors_file,
                )
                report = import_legacy(source, import_options, progress)
        except (SourceError, ImportAborted, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(format_summary(report), ending="")
        if report.errors:
            raise CommandError(
                f"{report.errors:,} document(s) could not be imported (listed above"
                + (f" and in {options['errors_file']}" if options["errors_file"] else "")
                + "); everything else was"
                + (" checked." if report.dry_run else " imported.")
            )

    @staticmethod
    def _source(options: dict[str, Any]) -> Source:
        if options["from_dir"]:
            if options["database"]:
                raise CommandError("--database goes with --mongodb-uri, not --from-dir")
            return DirectorySource(options["from_dir"])
        uri = options["mongodb_uri"]
        database = options["database"] or _database_in(uri)
        if not database:
            raise CommandError("--mongodb-uri needs --database NAME (or a URI ending in /NAME)")
        return MongoSource(
            uri,
            database,
            batch_size=options["chunk_size"],
            timeout_seconds=options["mongodb_timeout"],
        )


def _database_in(uri: str) -> str:
    """mongodb://host/NAME?opts -> NAME."""
    rest = uri.split("://", 1)[-1]
    path = rest.split("/", 1)[1] if "/" in rest else ""
    return path.split("?", 1)[0]
