"""`import_tenant`: an export written into a tenant, resumably, then proved equal to the manifest.

Order of work, and why:

1. **Check everything before writing anything.** The manifest is read and
   checked; the destination index's dimension and metric are compared with the
   source's; every file's size and SHA-256 are compared with the manifest's and
   its Parquet footer is opened (a truncated or altered file fails here). The
   destination tenant must be empty under ``on_existing="fail"``. So bad input
   leaves nothing in the destination.
2. **Write, row group by row group**, with the lean upsert path, byte-aware
   batches and retries. The record ids are the export's, so writing a row group
   twice writes the same records: a journal records the last row group written,
   and a rerun after ``kill -9`` resumes there (and is not refused by the
   ``"fail"`` check for the records it wrote itself).
3. ``on_existing="replace"``: delete the destination's records that the export
   does not hold (after the writes, so readers never see the tenant empty).
4. **Verify**: every id of the export is fetched back from the destination and
   digested: the checksum and count must be the manifest's, and (except under
   ``"merge"``) the tenant's record count too, so it holds nothing else. Fetching
   by the export's ids spares listing the tenant (a request per 100 ids).

A non-transient error while writing under ``"fail"`` (a record the server
refuses) deletes what this import wrote, since the tenant was empty before;
under ``"merge"`` and ``"replace"`` the destination's earlier records were
already being overwritten, so the journal is kept and the error names the fix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq

from tenant_rag.errors import (
    CorruptExportError,
    DestinationNotEmptyError,
    PortabilityError,
    TransferVerificationError,
)
from tenant_rag.lifecycle.portability.checksum import Checksum, record_digest
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint, digest_of
from tenant_rag.lifecycle.portability.journal import Journal, state_dir
from tenant_rag.lifecycle.portability.manifest import Manifest
from tenant_rag.lifecycle.portability.parquet import file_sha256, read_row_groups
from tenant_rag.lifecycle.portability.policy import check_acl_policies
from tenant_rag.tenancy.acl import AclPolicy
from tenant_rag.tenancy.retry import is_transient
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation

OnExisting = Literal["fail", "merge", "replace"]
ON_EXISTING = ("fail", "merge", "replace")
#: ``progress(records_done, records_total)``
Progress = Callable[[int, int | None], None]


@dataclass
class ImportReport:
    """What `import_tenant` did and what its verification found."""

    tenant: str
    index: str
    isolation: str
    on_existing: str
    records: int
    written: int
    pruned: int
    checksum: str
    verified: bool
    resumed: bool
    seconds: float
    destination_count: int = 0
    #: of ``seconds``, the read-back verification (every record fetched and digested)
    verify_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "index": self.index,
            "isolation": self.isolation,
            "on_existing": self.on_existing,
            "records": self.records,
            "written": self.written,
            "pruned": self.pruned,
            "checksum": self.checksum,
            "verified": self.verified,
            "resumed": self.resumed,
            "destination_count": self.destination_count,
            "seconds": round(self.seconds, 3),
            "verify_seconds": round(self.verify_seconds, 3),
            "notes": self.notes,
        }


def import_tenant(
    index: Any,
    tenant: str,
    src: str | os.PathLike[str],
    *,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    on_existing: OnExisting = "fail",
    acl_policy: AclPolicy | None = None,
    journal_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Write the export in ``src`` into ``tenant``'s part of ``index``; verify it; return a report.

    ``tenant`` may differ from the exported one (import under a new id), and
    ``isolation`` from the export's. ``on_existing`` says what to do when the
    tenant already has records: ``"fail"`` (default) refuses before writing,
    ``"merge"`` keeps them (records with the export's ids are overwritten),
    ``"replace"`` makes the tenant hold exactly the export's records.
    ``acl_policy``: when the export's index had another ACL policy than
    ``index`` (or the manifest does not say), the import is refused unless this
    names ``index``'s policy (`tenant_rag.lifecycle.portability.policy`).

    Resumable: rerun the same call after a crash and it continues where the
    journal (``journal_dir``, default: `state_dir()`/``imports``) says it stopped.

    Raises:
        CorruptExportError: the manifest or a file is missing, truncated or altered.
        IndexMismatchError: the index's dimension or metric differs from the export's.
        AclPolicyMismatchError: the two indexes' ACL policies differ and none was named.
        DestinationNotEmptyError: the tenant has records and ``on_existing="fail"``.
        TransferVerificationError: the written tenant's count or checksum is not the manifest's.
        InvalidTenantError: the tenant id fails validation.
    """
    started = time.monotonic()
    if on_existing not in ON_EXISTING:
        raise ValueError(f"on_existing must be one of {ON_EXISTING}, got {on_existing!r}.")
    dest = TenantEndpoint(index, tenant, isolation=isolation, shared_namespace=shared_namespace)
    root = Path(src).expanduser().resolve()
    manifest = Manifest.read(root)
    dest.check_compatible(
        dimension=manifest.dimension, metric=manifest.metric, what=f"the export in {root}"
    )
    check_acl_policies(
        manifest.acl_policy,
        dest.acl_policy(),
        acl_policy,
        source_what=f"the export in {root}",
        destination_index=dest.index_name,
    )
    files = check_files(root, manifest)
    journal = Journal(
        _journal_dir(root, journal_dir),
        "import",
        {
            "export": manifest.checksum,
            "created_at": manifest.created_at,
            "destination": {**dest.where(), "host": dest.info().host},
        },
    )
    state = journal.load()
    report = ImportReport(
        tenant=dest.tenant,
        index=dest.index_name,
        isolation=dest.scope.isolation,
        on_existing=on_existing,
        records=manifest.record_count,
        written=0,
        pruned=0,
        checksum=manifest.checksum,
        verified=False,
        resumed=False,
        seconds=0.0,
    )
    if state is not None and state.get("phase") == "done":
        if _matches(dest, manifest, on_existing, root):
            report.resumed = True
            report.verified = True
            report.destination_count = dest.count()
            report.notes.append("already imported; the destination still verifies")
            report.seconds = time.monotonic() - started
            return report
        state = None
    if state is not None:
        report.resumed = True
        mode = str(state.get("mode", on_existing))
        if mode != on_existing:
            report.notes.append(f"resumed with on_existing={mode!r}, as the interrupted run")
        report.on_existing = mode
    else:
        mode = on_existing
        if mode == "fail" and not dest.is_empty():
            raise DestinationNotEmptyError(
                f"tenant {dest.tenant!r} already has records in index {dest.index_name!r} "
                f"(namespace {dest.namespace!r}); nothing was written. Pass "
                "on_existing='merge' to keep them, or 'replace' to end with exactly the "
                "export's records."
            )
        journal.save(mode=mode, phase="writing", file=0, row_group=0, written=0)

    try:
        if journal.state.get("phase") == "writing":
            whole = int(journal.state.get("file", 0)) == 0 == int(journal.state.get("row_group", 0))
            report.written, read = _write(dest, root, files, journal, manifest, progress)
            if whole and (read.count, read.hexdigest) != (manifest.record_count, manifest.checksum):
                raise CorruptExportError(
                    f"the files of {root} hold {read.count} records with checksum "
                    f"{read.hexdigest[:16]}..., but the manifest says {manifest.record_count} "
                    f"with {manifest.checksum[:16]}...: the manifest was edited or belongs to "
                    "another export. Export the tenant again."
                )
            journal.save(phase="pruning" if mode == "replace" else "verifying")
        if journal.state.get("phase") == "pruning":
            report.pruned = prune_to(
                dest, lambda: export_id_stream(root, manifest), manifest.sorted_ids
            )
            journal.save(phase="verifying")
    except Exception as exc:
        if mode == "fail" and not report.resumed and not is_transient(exc):
            _roll_back(dest, root, manifest)  # the tenant was empty: put it back that way
            journal.clear()
            raise
        raise PortabilityError(
            f"the import into tenant {dest.tenant!r} stopped: {exc}. Run the same "
            "import_tenant(...) again to resume from the last row group written."
        ) from exc

    verify_started = time.monotonic()
    ok, found = verify_import(dest, manifest, mode, root)
    report.verify_seconds = time.monotonic() - verify_started
    report.destination_count = dest.count()
    report.verified = ok
    report.seconds = time.monotonic() - started
    if not ok:
        raise TransferVerificationError(
            f"tenant {dest.tenant!r} in index {dest.index_name!r} does not match the export: "
            f"{found.count} records with checksum {found.hexdigest[:16]}..., the manifest says "
            f"{manifest.record_count} with {manifest.checksum[:16]}.... Another writer may "
            "have changed the tenant meanwhile; run the import again to rewrite it.",
            report,
        )
    journal.save(phase="done")
    return report


# -- checks ---------------------------------------------------------------------------------


def check_files(root: Path, manifest: Manifest) -> list[Path]:
    """Every file of the manifest: present, of the recorded size and SHA-256, readable Parquet.

    Reads each file once (for its hash); raises `CorruptExportError` naming the
    first bad file. Run before anything is written.
    """
    paths = []
    for entry in manifest.files:
        path = root / entry.path
        if not path.is_file():
            raise CorruptExportError(f"{path} is missing; the export is incomplete.")
        size = path.stat().st_size
        if size != entry.bytes:
            raise CorruptExportError(
                f"{path} has {size:,} bytes but the manifest recorded {entry.bytes:,}: the "
                "file was truncated or altered. Copy it again from the original export."
            )
        if file_sha256(path) != entry.sha256:
            raise CorruptExportError(
                f"{path} does not have the SHA-256 the manifest recorded: its contents were "
                "altered. Copy it again from the original export."
            )
        try:
            meta = pq.ParquetFile(path).metadata
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad files
            raise CorruptExportError(f"{path} is not a readable Parquet file ({exc}).") from exc
        if meta.num_rows != entry.records or meta.num_row_groups != entry.row_groups:
            raise CorruptExportError(
                f"{path} holds {meta.num_rows} records in {meta.num_row_groups} row groups; "
                f"the manifest recorded {entry.records} in {entry.row_groups}."
            )
        paths.append(path)
    return paths


def _journal_dir(root: Path, journal_dir: str | os.PathLike[str] | None) -> Path:
    # not inside the export: Pinecone's bulk import reads every sub-directory of it
    return Path(journal_dir) if journal_dir is not None else state_dir() / "imports"


# -- writing --------------------------------------------------------------------------------


def _write(
    dest: TenantEndpoint,
    root: Path,
    files: list[Path],
    journal: Journal,
    manifest: Manifest,
    progress: Progress | None,
) -> tuple[int, Checksum]:
    """Upsert every row group not yet written; return (records written, checksum of those read)."""
    written = int(journal.state.get("written", 0))
    first_file = int(journal.state.get("file", 0))
    read = Checksum()
    for number, path in enumerate(files):
        if number < first_file:
            continue
        start = int(journal.state.get("row_group", 0)) if number == first_file else 0
        for group, rows in read_row_groups(path, start=start):
            records = rows.records
            for row, rec in enumerate(records):
                values = rows.matrix[row] if rows.matrix is not None else rec["values"]
                read.add(
                    record_digest(rec["id"], values, rec.get("sparse_values"), rec.get("metadata"))
                )
            written += dest.upsert(records)
            journal.save(file=number, row_group=group + 1, written=written)
            if progress is not None:
                progress(min(written, manifest.record_count), manifest.record_count)
        journal.save(file=number + 1, row_group=0)
    return written, read


def _roll_back(dest: TenantEndpoint, root: Path, manifest: Manifest) -> None:
    """Delete the export's ids from the destination (an import into an empty tenant failed)."""
    for ids in dest.pages_of(export_id_stream(root, manifest)):
        dest.delete(ids)


def export_id_stream(root: Path, manifest: Manifest) -> Iterator[str]:
    """Every id of the export, in file order, reading only the id column."""
    for entry in manifest.files:
        pf = pq.ParquetFile(root / entry.path)
        for group in range(pf.num_row_groups):
            yield from pf.read_row_group(group, columns=["id"]).column("id").to_pylist()


def prune_to(dest: TenantEndpoint, keep_ids: Callable[[], Iterator[str]], keep_sorted: bool) -> int:
    """Delete the destination's records whose ids ``keep_ids()`` does not yield; return how many.

    With both sides in ascending id order (the embedded server lists in byte
    order; the manifest says whether the export is sorted) this is a merge of
    two streams in constant memory; otherwise the ids to keep are held in a set.
    Each deletion of the merge is decided only while both sides are in order
    so far, so switching to the set on the first id out of order is safe.
    """
    deleted = 0
    if keep_sorted:
        try:
            return _prune_merge(dest, keep_ids())
        except _Unsorted as stop:
            deleted = stop.deleted
    wanted = set(keep_ids())
    for ids in dest.id_pages():
        deleted += dest.delete([i for i in ids if i not in wanted])
    return deleted


class _Unsorted(Exception):
    def __init__(self, deleted: int) -> None:
        super().__init__("ids out of order")
        self.deleted = deleted


def _prune_merge(dest: TenantEndpoint, keep: Iterator[str]) -> int:
    deleted = 0
    want = next(keep, None)
    last: str | None = None
    for ids in dest.id_pages():
        gone: list[str] = []
        for rid in ids:
            if last is not None and rid <= last:
                deleted += dest.delete(gone)
                raise _Unsorted(deleted)
            last = rid
            while want is not None and want < rid:
                nxt = next(keep, None)
                if nxt is not None and nxt <= want:
                    deleted += dest.delete(gone)
                    raise _Unsorted(deleted)
                want = nxt
            if want != rid:
                gone.append(rid)
        deleted += dest.delete(gone)
    return deleted


# -- verification ---------------------------------------------------------------------------


def verify_import(
    dest: TenantEndpoint, manifest: Manifest, mode: str, root: Path
) -> tuple[bool, Checksum]:
    """Whether the destination holds the export: (equal?, what was found)."""
    found = Checksum()
    for ids in dest.pages_of(export_id_stream(root, manifest)):
        for rec in dest.fetch(ids):
            found.add(digest_of(rec))
    ok = found.count == manifest.record_count and found.hexdigest == manifest.checksum
    if ok and mode != "merge":
        # every record of the export is there, equal; the tenant holds nothing else
        ok = dest.count() == manifest.record_count
    return ok, found


def _matches(dest: TenantEndpoint, manifest: Manifest, mode: str, root: Path) -> bool:
    return verify_import(dest, manifest, mode, root)[0]


__all__ = [
    "ON_EXISTING",
    "ImportReport",
    "OnExisting",
    "check_files",
    "export_id_stream",
    "import_tenant",
    "prune_to",
    "verify_import",
]
