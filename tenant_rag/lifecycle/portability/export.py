"""`export_tenant`: one tenant's records as Parquet plus a manifest, streamed page by page.

The export reads the tenant the way any client can (list, then fetch, one
page at a time, through `PinnedIndex`), so it works on Pinecone serverless and
on the embedded server alike, and its memory does not grow with the tenant.

It is written into a hidden sibling directory and renamed into place when the
manifest is written, so ``dest`` is either absent, or a complete export: a
killed export leaves no half-export under the name asked for.

What it captures while the tenant is being written to: each record as it was
when its page was fetched. The manifest's count and checksum are of exactly
the records written to the files, so an import of it verifies either way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tenant_rag.errors import PortabilityError
from tenant_rag.lifecycle.portability.checksum import (
    Checksum,
    canonical_metadata,
    dense_digests,
    record_digest,
)
from tenant_rag.lifecycle.portability.endpoint import PAGE_SIZE, TenantEndpoint
from tenant_rag.lifecycle.portability.manifest import MANIFEST, Manifest
from tenant_rag.lifecycle.portability.parquet import (
    RECORDS_PER_FILE,
    ParquetSink,
    dense_matrix,
    page_table,
)
from tenant_rag.lifecycle.portability.readback import prefetch
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation

#: ``progress(records_done, records_expected_or_None)``
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class ExportReport:
    """What `export_tenant` wrote."""

    tenant: str
    path: Path
    manifest: Manifest
    seconds: float

    @property
    def records(self) -> int:
        return self.manifest.record_count

    @property
    def checksum(self) -> str:
        return self.manifest.checksum

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "path": str(self.path),
            "records": self.records,
            "checksum": self.checksum,
            "files": [f.to_dict() for f in self.manifest.files],
            "source": self.manifest.source,
            "seconds": round(self.seconds, 3),
        }


def export_tenant(
    index: Any,
    tenant: str,
    dest: str | os.PathLike[str],
    *,
    isolation: Isolation = "namespace",
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    embedding_model: str | None = None,
    pc: Any = None,
    overwrite: bool = False,
    page_size: int = PAGE_SIZE,
    records_per_file: int = RECORDS_PER_FILE,
    progress: Progress | None = None,
) -> ExportReport:
    """Write every record of ``tenant`` in ``index`` to the directory ``dest``.

    ``dest`` gets ``manifest.json`` and ``<tenant>/part-NNNNN.parquet`` files in
    the layout Pinecone's bulk import reads (``id``, ``values``,
    ``sparse_values``, ``metadata`` as a JSON string), so it can be uploaded to
    object storage and imported into a Pinecone namespace as it is, or read
    back with `import_tenant`. Ids and metadata are the tenant's own: under
    metadata isolation the id prefix and the ``tenant_id`` field are removed,
    so an export can be imported under either isolation.

    The manifest records the tenant, the source index (name, dimension,
    metric, vector type, ACL policy), its isolation, the embedding model (``embedding_model=``,
    else the ``embedding_model`` tag of the index when ``pc`` is given), the record
    count, a content checksum,
    each file's size and SHA-256, when, and the tenant_rag version.

    Raises:
        InvalidTenantError: the tenant id fails validation.
        PortabilityError: ``dest`` exists and is not empty (pass ``overwrite=True``
            to replace an earlier export).
    """
    started = time.monotonic()
    source = TenantEndpoint(
        index, tenant, isolation=isolation, shared_namespace=shared_namespace, page_size=page_size
    )
    dest = Path(dest).expanduser().resolve()
    _check_destination(dest, overwrite)
    info = source.info()
    expected = source.count()
    work = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    directory = namespace_directory(source.tenant)
    sink = ParquetSink(work, directory, records_per_file=records_per_file)
    total = Checksum()
    in_order = True
    last: str | None = None
    try:
        # the next page is listed and fetched on a worker thread while this one is digested
        # and written: the server works on one while the client works on the other. Pages
        # are fetched over REST with the values parsed as float32 (what the files hold),
        # never into a Python float per value; the metadata is what REST returns.
        for page in prefetch(source.pages(float32=True)):
            records = page.records
            matrix = dense_matrix(records, info.dimension)
            ids = [rec.id for rec in records]
            if in_order and ids:
                in_order = (last is None or last < ids[0]) and all(
                    a < b for a, b in zip(ids, ids[1:], strict=False)
                )
            if ids:
                last = ids[-1]
            if matrix is not None and not any(rec.sparse_values for rec in records):
                digests = dense_digests(ids, matrix, [rec.metadata for rec in records])
            else:
                digests = [
                    record_digest(
                        rec.id,
                        matrix[row] if matrix is not None else rec.values,
                        rec.sparse_values,
                        canonical_metadata(rec.metadata),
                    )
                    for row, rec in enumerate(records)
                ]
            total.add_all(digests)
            sink.write(page_table(records, matrix))
            if progress is not None:
                progress(total.count, expected)
        files = sink.close()
        manifest = Manifest(
            tenant=source.tenant,
            directory=directory,
            source={
                "index": info.name,
                "dimension": info.dimension,
                "metric": info.metric,
                "vector_type": info.vector_type,
                "isolation": source.scope.isolation,
                "namespace": source.namespace,
                # what documents without an access list meant there: an import checks it
                "acl_policy": source.acl_policy(),
            },
            record_count=total.count,
            checksum=total.hexdigest,
            files=files,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tenant_rag_version=_version(),
            embedding_model=embedding_model or _recorded_model(pc, info.name),
            sorted_ids=in_order,
        )
        manifest.write(work)
        _install(work, dest)
    except BaseException:
        sink.abort()
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportReport(source.tenant, dest, manifest, time.monotonic() - started)


def namespace_directory(tenant: str) -> str:
    """The sub-directory of an export that holds a tenant's files.

    Pinecone's bulk import takes the directory's name as the namespace, so it is
    the tenant id whenever that is a plain file name; otherwise the tenant id
    percent-encoded (and the manifest keeps the real id).
    """
    if tenant in (".", "..") or "/" in tenant or "\\" in tenant or tenant.startswith("."):
        return quote(tenant, safe="").replace(".", "%2E")
    return tenant


def _check_destination(dest: Path, overwrite: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise PortabilityError(f"{dest} exists and is a file; export into a directory.")
    if dest.is_dir() and any(dest.iterdir()) and not overwrite:
        what = "an earlier export" if (dest / MANIFEST).exists() else "files"
        raise PortabilityError(
            f"{dest} already holds {what}; choose an empty or new directory, or pass "
            "overwrite=True (--overwrite) to replace an earlier export."
        )


def _install(work: Path, dest: Path) -> None:
    """Put the finished export at ``dest`` (replacing an earlier one when asked)."""
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{os.getpid()}"
        os.replace(dest, old)
    os.replace(work, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    with contextlib.suppress(OSError):  # make the renames durable where the OS allows
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _recorded_model(pc: Any, name: str) -> str | None:
    """The embedding model an index's tags record (``embedding_model``), when ``pc`` can tell."""
    if pc is None:
        return None
    try:
        tags = getattr(pc.describe_index(name), "tags", None) or {}
        value = tags.get("embedding_model") if hasattr(tags, "get") else None
    except Exception:  # noqa: BLE001 - the manifest says "unknown" rather than failing
        return None
    return str(value) if value else None


def _version() -> str:
    from tenant_rag import __version__

    return __version__


__all__ = ["ExportReport", "export_tenant", "namespace_directory"]
