"""What ``manage.py import_legacy`` shows: a progress bar on stderr while it runs, and the
summary at the end (a table per collection, then what needs a person's eye)."""

from __future__ import annotations

import json
import time
from typing import IO

from legacy.importer import CollectionStats, ImportListener, ImportReport, Problem
from legacy.sources import Stream

BAR_WIDTH = 28
REDRAW_SECONDS = 0.2
SHOWN = 20  # items of each list printed in the summary; the rest are counted


class ProgressBar(ImportListener):
    """One line per collection, redrawn in place on a terminal; elsewhere (logs, CI) one
    line per tenth of the way, so the output stays readable."""

    def __init__(self, out: IO[str], *, enabled: bool = True, errors: IO[str] | None = None):
        self.out = out
        self.enabled = enabled
        self.errors = errors
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self._started = 0.0
        self._drawn = 0.0
        self._tenth = -1

    def started(self, stream: Stream) -> None:
        self._started = time.monotonic()
        self._drawn = 0.0
        self._tenth = -1

    def advanced(self, stream: Stream, stats: CollectionStats) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if now - self._drawn >= REDRAW_SECONDS:
                self._drawn = now
                self.out.write("\r" + self._line(stream, stats))
                self.out.flush()
            return
        fraction = self._fraction(stream)
        tenth = int(fraction * 10) if fraction is not None else stats.read // 10_000
        if tenth > self._tenth:
            self._tenth = tenth
            self.out.write(self._line(stream, stats) + "\n")
            self.out.flush()

    def finished(self, stream: Stream, stats: CollectionStats) -> None:
        if not self.enabled:
            return
        self.out.write(("\r" if self.tty else "") + self._line(stream, stats, done=True) + "\n")
        self.out.flush()

    def problem(self, problem: Problem) -> None:
        if self.errors is not None:
            self.errors.write(json.dumps(problem.as_dict(), ensure_ascii=False) + "\n")

    @staticmethod
    def _fraction(stream: Stream) -> float | None:
        if not stream.total:
            return None
        return min(1.0, stream.done / stream.total)

    def _line(self, stream: Stream, stats: CollectionStats, *, done: bool = False) -> str:
        fraction = 1.0 if done else self._fraction(stream)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = f"{stats.read / elapsed:,.0f} docs/s"
        if fraction is None:
            bar, percent = "?" * BAR_WIDTH, "  ?%"
        else:
            filled = int(fraction * BAR_WIDTH)
            bar, percent = "#" * filled + "-" * (BAR_WIDTH - filled), f"{fraction:4.0%}"
        return (
            f"{stream.name:<15} [{bar}] {percent} {stats.read:>10,} read "
            f"{stats.errors:>6,} errors  {rate}"
        )


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _more(total: int, shown: int) -> list[str]:
    return [f"  … and {total - shown:,} more"] if total > shown else []


def _statuses(report: ImportReport) -> list[str]:
    """Jobs per status: what the older system said (event_jobs), what was imported (with
    event_sessions), and what the Job Center holds now, to verify a migration by."""
    header = ["jobs by status", "legacy event_jobs", "imported"]
    if report.status_database is not None:
        header.append("Job Center now")
    names = sorted(
        set(report.status_legacy) | set(report.status_imported) | set(report.status_database or {})
    )
    rows = [header]
    for name in names:
        row = [name, f"{report.status_legacy.get(name, 0):,}"]
        row.append(f"{report.status_imported.get(name, 0):,}")
        if report.status_database is not None:
            row.append(f"{report.status_database.get(name, 0):,}")
        rows.append(row)
    return _table(rows)


def format_summary(report: ImportReport) -> str:
    verb = "would be " if report.dry_run else ""
    lines = []
    if report.dry_run:
        lines.append("DRY RUN: nothing was written; the numbers say what an import would do.")
    lines.append(f"Source: {report.source}")
    header = ["collection", "read", f"{verb}created", f"{verb}updated", "skipped", "errors"]
    rows: list[list[str]] = [header]
    totals = [0, 0, 0, 0, 0]
    notes: list[str] = []
    for stats in report.collections.values():
        numbers = [stats.read, stats.created, stats.updated, stats.skipped, stats.errors]
        totals = [a + b for a, b in zip(totals, numbers, strict=True)]
        rows.append([stats.name, *(f"{number:,}" for number in numbers)])
        if stats.state in ("missing", "skipped"):
            notes.append(f"{stats.name}: {stats.state} ({stats.note})")
    rows.append(["total", *(f"{number:,}" for number in totals)])
    lines.extend(_table(rows))
    lines.extend(notes)
    lines.append("skipped = unchanged since the last import (or a duplicate id within the source).")
    lines.append(f"Took {report.seconds:.1f} s.")

    if report.status_imported:
        lines.append("")
        lines.extend(_statuses(report))
    if report.users_created_count:
        lines.append("")
        lines.append(
            f"Users {verb}created (inactive, no password): {report.users_created_count:,}: "
            + ", ".join(report.users_created[:SHOWN])
            + (" …" if report.users_created_count > SHOWN else "")
        )
    if report.placeholder_count:
        lines.append("")
        lines.append(
            f"Batches {verb}created empty for jobs whose batch is not in event_batches: "
            f"{report.placeholder_count:,}: "
            + ", ".join(report.placeholder_batches[:SHOWN])
            + (" …" if report.placeholder_count > SHOWN else "")
        )
    if report.counters_compared:
        lines.append("")
        if report.counter_difference_count:
            lines.append(
                f"Batch counters that differ from the imported jobs "
                f"({report.counter_difference_count:,} batch(es); stored → imported):"
            )
            for batch_id, wrong in report.counter_differences[:SHOWN]:
                changes = ", ".join(f"{name} {old}→{new}" for name, (old, new) in wrong.items())
                lines.append(f"  {batch_id}: {changes}")
            lines.extend(_more(report.counter_difference_count, SHOWN))
        else:
            lines.append("Batch counters: all match the imported jobs.")
    if not report.dry_run and report.batches_recounted:
        lines.append(f"Batches recounted from their jobs: {report.batches_recounted:,}.")
    if report.notes:
        lines.append("")
        lines.append("Notes (documents imported with these adjustments):")
        for (collection, note), count in sorted(report.notes.items()):
            lines.append(f"  {collection}: {note}: {count:,} document(s)")
    if report.errors:
        lines.append("")
        lines.append(f"Errors: {report.errors:,} document(s) not imported:")
        for problem in report.problems[:SHOWN]:
            lines.append(f"  {problem}")
        lines.extend(_more(report.errors, min(SHOWN, len(report.problems))))
    return "\n".join(lines) + "\n"
