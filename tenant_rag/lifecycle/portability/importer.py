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
   ``"fail"`` check for the records it wrote itself). The next row group is
   read and digested while this one's upserts are in flight.
3. **Read back, beside the writes** (`readback.ReadBack`, a second worker):
   each row group, once written, is fetched back by id and every record
   compared with the export's digest, while later row groups are being
   written. A record missing or different is read again with backoff for up to
   ``settle`` seconds (an eventually consistent index shows writes late) and
   fails the import, named, only after that. A resumed import reads back
   *every* row group, also those written before the crash.
4. ``on_existing="replace"``: delete the destination's records that the export
   does not hold (after the writes, so readers never see the tenant empty).
5. **Conclude**: every record read back equal (so count and checksum are the
   manifest's) and, except under ``"merge"``, the tenant's record count
   (``describe_namespace``, asked again with backoff while it lags) equal to
   the manifest's, so it holds nothing else.

What the verification proves, precisely: each record of the export was read
back equal *after* it was written, and at the end the tenant holds as many
records as the export. A concurrent writer that overwrites a record of the
tenant after that record was read back is not detected (nor was it by a
separate pass at the end, for writes after it had read the record): the
import is not a lock. Do not write to a tenant while it is being imported.

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
from tenant_rag.lifecycle.portability.checksum import Checksum, dense_digests, record_digest
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint
from tenant_rag.lifecycle.portability.inflight import UPSERTS_IN_FLIGHT, InFlight
from tenant_rag.lifecycle.portability.journal import Journal, state_dir
from tenant_rag.lifecycle.portability.manifest import Manifest
from tenant_rag.lifecycle.portability.parquet import RowGroup, file_sha256, read_row_groups
from tenant_rag.lifecycle.portability.policy import check_acl_policies
from tenant_rag.lifecycle.portability.readback import (
    SETTLE_SECONDS,
    ReadBack,
    ReadBackResult,
    prefetch,
)
from tenant_rag.lifecycle.settle import until as settle_until
from tenant_rag.tenancy.acl import AclPolicy
from tenant_rag.tenancy.retry import is_transient
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation
from tenant_rag.tenancy.sdk_errors import http_status

#: Seconds between journal saves while writing (and at the end of each file).
JOURNAL_SECONDS = 1.0
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
    #: of ``seconds``, the verification's part after the last write (the read-back of every
    #: record runs beside the writes; this is its tail, and the count check)
    verify_seconds: float = 0.0
    #: records that were not readable (or not equal) at their first read-back, equal later
    lagged: int = 0
    #: ids still missing or different after the settle time (the first few), and how many
    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
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
            "lagged": self.lagged,
            "missing": self.missing,
            "missing_count": self.missing_count,
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
    settle: float = SETTLE_SECONDS,
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
        if verify_import(dest, manifest, on_existing, root, settle=settle)[0]:
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
        phase = journal.state.get("phase")
        written, read, readback = _pipeline(
            dest, files, journal, manifest, write=phase == "writing", settle=settle,
            progress=progress,
        )  # fmt: skip
        report.written = written
        if (read.count, read.hexdigest) != (manifest.record_count, manifest.checksum):
            readback.abort()
            raise CorruptExportError(
                f"the files of {root} hold {read.count} records with checksum "
                f"{read.hexdigest[:16]}..., but the manifest says {manifest.record_count} "
                f"with {manifest.checksum[:16]}...: the manifest was edited or belongs to "
                "another export. Export the tenant again."
            )
        if phase == "writing":
            journal.save(phase="pruning" if mode == "replace" else "verifying")
        if journal.state.get("phase") == "pruning":
            try:
                report.pruned = prune_to(
                    dest, lambda: export_id_stream(root, manifest), manifest.sorted_ids
                )
            except BaseException:
                readback.abort()
                raise
            journal.save(phase="verifying")
    except Exception as exc:
        if mode == "fail" and not report.resumed and not is_transient(exc):
            _roll_back(dest, root, manifest)  # the tenant was empty: put it back that way
            journal.clear()
            raise
        if isinstance(exc, CorruptExportError):
            raise
        raise PortabilityError(
            f"the import into tenant {dest.tenant!r} stopped: {exc}. Run the same "
            "import_tenant(...) again to resume from the last row group written."
        ) from exc

    verify_started = time.monotonic()
    check = _conclude(dest, manifest, mode, readback, settle)
    report.verify_seconds = time.monotonic() - verify_started
    report.destination_count = check.count
    report.lagged = check.found.lagged
    report.missing = check.found.missing_ids
    report.missing_count = check.found.missing_count
    report.verified = check.ok
    report.seconds = time.monotonic() - started
    if not check.ok:
        # the rerun the message asks for writes every row group again, then verifies
        journal.save(phase="writing", file=0, row_group=0, written=0)
        raise TransferVerificationError(
            f"tenant {dest.tenant!r} in index {dest.index_name!r} does not match the export: "
            f"{check.why()} Another writer may have changed the tenant meanwhile, or the "
            "index lost writes; run the import again to rewrite it.",
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


# -- writing and reading back ------------------------------------------------------------


@dataclass
class _Decoded:
    """One row group of the export, decoded, with each record's id and checksum digest."""

    file: int
    group: int
    rows: RowGroup
    ids: list[str]
    digests: list[bytes]


def _decoded(files: list[Path]) -> Iterator[_Decoded]:
    for number, path in enumerate(files):
        for group, rows in read_row_groups(path):
            ids = [rec["id"] for rec in rows.records]
            yield _Decoded(number, group, rows, ids, row_digests(rows))


def row_digests(rows: RowGroup) -> list[bytes]:
    """The checksum digest of each record of a row group (its values from the float32 matrix;
    a row group without sparse values digested at once, `dense_digests`)."""
    matrix = rows.matrix
    records = rows.records
    if matrix is not None and not any("sparse_values" in rec for rec in records):
        return dense_digests(
            [rec["id"] for rec in records], matrix, [rec.get("metadata") for rec in records]
        )
    out = []
    for row, rec in enumerate(records):
        values = matrix[row] if matrix is not None else rec["values"]
        out.append(record_digest(rec["id"], values, rec.get("sparse_values"), rec.get("metadata")))
    return out


def _pipeline(
    dest: TenantEndpoint,
    files: list[Path],
    journal: Journal,
    manifest: Manifest,
    *,
    write: bool,
    settle: float,
    progress: Progress | None,
    in_flight: int = UPSERTS_IN_FLIGHT,
) -> tuple[int, Checksum, ReadBack]:
    """Every row group of the export: decoded and digested while the upserts before it are in
    flight, upserted unless the journal says it was written (or ``write`` is false), ``in_flight``
    upsert requests at a time (`InFlight`), and, once all its batches are acknowledged,
    journaled and queued for reading back (`ReadBack`, another worker). Returns (records
    written, checksum of the files' records, the read-back to finish).

    Every row group is read back, also those a resumed run does not write again: a rerun
    after ``kill -9`` ends with a verification of the whole export, not only of its part.
    """
    written = int(journal.state.get("written", 0))
    files_groups = [entry.row_groups for entry in manifest.files]
    resume_at = (int(journal.state.get("file", 0)), int(journal.state.get("row_group", 0)))
    read = Checksum()
    readback = ReadBack(dest, settle=settle)
    saved = time.monotonic()
    upserts: InFlight[tuple[_Decoded, bool]] = InFlight(dest.upsert_batch, in_flight=in_flight)

    def acknowledged(part: _Decoded, wrote: bool, count: int) -> None:
        """Every batch of ``part`` (and of the row groups before it) was answered."""
        nonlocal written, saved
        if wrote:
            written += count
            last = part.group + 1 == files_groups[part.file]
            if last or time.monotonic() - saved >= JOURNAL_SECONDS:
                # an fsync per row group costs more than rewriting a second's row groups
                # after a crash (the writes are idempotent)
                journal.save(file=part.file, row_group=part.group + 1, written=written)
                saved = time.monotonic()
            if progress is not None:
                progress(min(written, manifest.record_count), manifest.record_count)
        readback.submit(part.ids, part.digests)  # read back only what was acknowledged

    try:
        # each row group is decoded here, between submits: the upserts in flight keep the
        # destination busy meanwhile (a decoding thread ahead of this loop saved no time and
        # held 10 to 12 MiB more at the peak, a row group ahead and a malloc arena of its own)
        for part in _decoded(files):
            read.add_all(part.digests)
            wrote = write and (part.file, part.group) >= resume_at
            batches = dest.batches(part.rows.records) if wrote else []
            for (done, did), count in upserts.submit((part, wrote), batches):
                acknowledged(done, did, count)
        for (done, did), count in upserts.drain():
            acknowledged(done, did, count)
    except BaseException:
        upserts.abort()  # the requests already sent land before any rollback
        readback.abort()
        raise
    finally:
        upserts.close()
    return written, read, readback


def _roll_back(dest: TenantEndpoint, root: Path, manifest: Manifest) -> None:
    """Delete the export's ids from the destination (an import into an empty tenant failed).

    The error that stopped the import may be an id the tenant or the index refuses (empty,
    too long): such an id was never written, and must not keep the ids around it, in its
    page of deletes, from being deleted. So ids the tenant cannot store are skipped, and a
    page the index refuses (400) is deleted again id by id, skipping the ids it refuses.
    Any other error stops the rollback loudly.
    """
    for ids in dest.pages_of(i for i in export_id_stream(root, manifest) if _storable(dest, i)):
        try:
            dest.delete(ids)
        except Exception as exc:
            if http_status(exc) != 400:
                raise
            for rid in ids:
                try:
                    dest.delete([rid])
                except Exception as one:
                    if http_status(one) != 400:  # refused as an id: it was never written
                        raise


def _storable(dest: TenantEndpoint, rid: Any) -> bool:
    try:
        dest.scope.stored_id(rid)
    except ValueError:
        return False
    return True


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


@dataclass
class _Verdict:
    """The import's final check: every record read back equal, and the tenant's count."""

    found: ReadBackResult
    count: int
    expected: int
    checksum: str
    mode: str
    settle: float

    @property
    def ok(self) -> bool:
        f = self.found
        content = (
            f.complete and f.found.count == self.expected and f.found.hexdigest == self.checksum
        )
        # every record of the export is there, equal; except under merge, nothing else is
        return content and (self.mode == "merge" or self.count == self.expected)

    def why(self) -> str:
        f = self.found
        if not f.complete:
            shown = ", ".join(repr(i) for i in f.missing_ids)
            more = (
                f" and {f.missing_count - len(f.missing_ids)} more"
                if f.missing_count > len(f.missing_ids)
                else ""
            )
            stopped = (
                " (the read-back stopped there; the records written after were not read)"
                if f.stopped_early
                else ""
            )
            return (
                f"{f.missing_count} of its {self.expected} records were still missing or "
                f"different after waiting {self.settle:g} s for the index to catch up: "
                f"{shown}{more}{stopped}."
            )
        if f.found.count != self.expected or f.found.hexdigest != self.checksum:
            return (
                f"{f.found.count} records read back with checksum {f.found.hexdigest[:16]}..., "
                f"the manifest says {self.expected} with {self.checksum[:16]}...."
            )
        return (
            f"every record of the export is there, but the tenant holds {self.count} records, "
            f"not {self.expected} (still after {self.settle:g} s for the index's count to "
            "catch up)."
        )


def _conclude(
    dest: TenantEndpoint, manifest: Manifest, mode: str, readback: ReadBack, settle: float
) -> _Verdict:
    """Finish the read-back, then check the tenant's count (both patient with a lagging index)."""
    found = readback.finish()
    count = settled_count(dest, manifest.record_count, settle) if found.complete else dest.count()
    return _Verdict(found, count, manifest.record_count, manifest.checksum, mode, settle)


def settled_count(dest: TenantEndpoint, expected: int, settle: float) -> int:
    """The tenant's record count, asked again with backoff until it is ``expected`` or
    ``settle`` seconds pass (an eventually consistent index counts late writes late)."""
    seen: list[int] = []

    def counted() -> bool:
        seen.append(dest.count())
        return seen[-1] == expected

    settle_until(counted, settle)
    return seen[-1]


def verify_import(
    dest: TenantEndpoint,
    manifest: Manifest,
    mode: str,
    root: Path,
    *,
    settle: float = SETTLE_SECONDS,
) -> tuple[bool, ReadBackResult]:
    """Whether the destination holds the export: (equal?, what the read-back found).

    Reads every record of the export back (no writes), as the import's own check does.
    """
    files = [root / entry.path for entry in manifest.files]
    readback = ReadBack(dest, settle=settle)
    try:
        for part in prefetch(_decoded(files)):
            readback.submit(part.ids, part.digests)
    except BaseException:
        readback.abort()
        raise
    verdict = _conclude(dest, manifest, mode, readback, settle)
    return verdict.ok, verdict.found


__all__ = [
    "ON_EXISTING",
    "ImportReport",
    "OnExisting",
    "check_files",
    "export_id_stream",
    "import_tenant",
    "prune_to",
    "row_digests",
    "settled_count",
    "verify_import",
]
