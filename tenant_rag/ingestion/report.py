"""`IngestReport`: what one `ingest` run did, per document, in numbers a person can check.

The report is the run's only output besides the index itself, so it says
everything a caller needs to decide what to do next: which documents were
written, which were already current, which were deleted, and which failed
or were skipped, each with the reason. A failed document is never half
written (see `tenant_rag.ingestion.pipeline`), so "run it again" is always
the remedy for a transient failure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class IngestReport:
    """Counts and reasons for one ingestion run into one tenant.

    ``failed`` and ``skipped`` map a document id (or a source path when no
    document id could be derived) to a one-line reason. Failed documents
    were not written (or their partial writes were removed) and are picked up
    by the next run; skipped documents (empty text, an unsupported file type
    in a folder) are left untouched.
    """

    tenant: str
    index: str
    namespace: str
    isolation: str = "namespace"
    documents_seen: int = 0
    documents_written: int = 0
    documents_unchanged: int = 0
    documents_deleted: int = 0
    #: unchanged documents whose access list changed: rewritten by metadata update only
    documents_acl_updated: int = 0
    chunks_upserted: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: the failed documents whose failure was temporary (rate limit, server error, network):
    #: running the same ingestion again may succeed. The others need the fix their reason names.
    retryable: list[str] = field(default_factory=list)
    #: documents left as they were because another source wrote them: doc id ->
    #: ``{"stored": <its source>, "new": <this run's source>}``
    conflicts: dict[str, dict[str, str | None]] = field(default_factory=dict)

    @property
    def documents_failed(self) -> int:
        return len(self.failed)

    @property
    def documents_skipped(self) -> int:
        return len(self.skipped)

    @property
    def chunks_per_second(self) -> float:
        """Chunks written per wall-clock second of the whole run (0 when nothing was written)."""
        return self.chunks_upserted / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when no document failed or conflicted (skipped empty documents do not count)."""
        return not self.failed and not self.conflicts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the derived counts included."""
        data = asdict(self)
        data["documents_failed"] = self.documents_failed
        data["documents_skipped"] = self.documents_skipped
        data["chunks_per_second"] = round(self.chunks_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        data["ok"] = self.ok
        return data

    def summary_lines(self) -> list[str]:
        """The one-screen summary, as plain lines."""
        lines = [
            f"tenant {self.tenant!r} in index {self.index!r} "
            f"({self.isolation} isolation, namespace {self.namespace!r})",
            f"documents: {self.documents_seen} seen, {self.documents_written} written, "
            f"{self.documents_unchanged} unchanged, {self.documents_deleted} deleted, "
            f"{self.documents_skipped} skipped, {self.documents_failed} failed"
            + (
                f" ({self.documents_acl_updated} unchanged had a new access list, "
                "updated without re-embedding)"
                if self.documents_acl_updated
                else ""
            ),
            f"chunks: {self.chunks_upserted} upserted, {self.chunks_deleted} deleted "
            f"in {self.seconds:.2f} s ({self.chunks_per_second:,.0f} chunks/s)",
        ]
        lines += [f"  failed  {doc}: {reason}" for doc, reason in sorted(self.failed.items())]
        lines += [f"  skipped {doc}: {reason}" for doc, reason in sorted(self.skipped.items())]
        lines += [
            f"  conflict {doc}: stored from {c['stored']}; this run's source is {c['new']}"
            for doc, c in sorted(self.conflicts.items())
        ]
        if self.failed:
            lines.append(self.next_step())
        return lines

    def next_step(self) -> str:
        """What to do about the failed documents: retry, fix, or both (one line)."""
        retry = sum(1 for doc in self.retryable if doc in self.failed)
        if retry == len(self.failed):
            return "failed documents were not left half-written; run again to retry them."
        if retry:
            return (
                f"{retry} of the failed documents hit a temporary error: running again retries "
                "them; the others need the fix their reason names first."
            )
        return "fix what each failure names, then run again (nothing was left half-written)."

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def __rich__(self) -> Any:
        """A Rich table for consoles (`rich.print(report)`)."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        header = Text(
            f"ingest: tenant {self.tenant} → index {self.index}, "
            f"namespace {self.namespace} ({self.isolation} isolation)",
            style="bold",
        )
        table = Table()
        table.add_column("what")
        table.add_column("count", justify="right")
        rows = [
            ("documents seen", self.documents_seen),
            ("written (new or changed)", self.documents_written),
            ("unchanged", self.documents_unchanged),
            ("of them, access list updated", self.documents_acl_updated),
            ("deleted", self.documents_deleted),
            ("skipped", self.documents_skipped),
            ("failed", self.documents_failed),
            ("chunks upserted", self.chunks_upserted),
            ("chunks deleted", self.chunks_deleted),
        ]
        for name, value in rows:
            style = "red" if name == "failed" and value else None
            table.add_row(name, f"{value:,}", style=style)
        table.add_row("seconds", f"{self.seconds:.2f}")
        table.add_row("chunks/s", f"{self.chunks_per_second:,.0f}")
        for doc, reason in sorted(self.failed.items()):
            table.add_row(f"[red]failed[/] {doc}", reason)
        for doc, reason in sorted(self.skipped.items()):
            table.add_row(f"[yellow]skipped[/] {doc}", reason)
        for doc, c in sorted(self.conflicts.items()):
            table.add_row(
                f"[red]conflict[/] {doc}",
                f"stored from {c['stored']}; this run's source is {c['new']}",
            )
        return Group(header, table)
