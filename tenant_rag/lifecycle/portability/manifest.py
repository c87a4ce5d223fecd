"""``manifest.json``: what an export holds, and the numbers an import must reproduce.

Written last, after every Parquet file is closed and fsynced, so an export
directory with a manifest is complete. An import checks the destination index
against it (dimension, metric) and each file against it (size, SHA-256,
records) before writing anything, and at the end checks the destination
against its record count and content checksum
(`tenant_rag.lifecycle.portability.checksum`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from tenant_rag.errors import CorruptExportError
from tenant_rag.lifecycle.portability.checksum import ALGORITHM
from tenant_rag.lifecycle.portability.parquet import FileEntry
from tenant_rag.tenancy.acl import ACL_POLICIES, AclPolicy

MANIFEST = "manifest.json"
FORMAT = "tenant-rag-export/1"


@dataclass
class Manifest:
    """The contents of ``manifest.json``."""

    tenant: str
    #: sub-directory holding the Parquet files (Pinecone imports it into the namespace of that name)
    directory: str
    source: dict[str, Any]
    record_count: int
    checksum: str
    files: list[FileEntry]
    created_at: str
    tenant_rag_version: str
    #: the embedding model that made the vectors, when the source index records it
    embedding_model: str | None = None
    #: whether the files hold the records in ascending id order
    sorted_ids: bool = True
    format: str = FORMAT
    checksum_algorithm: str = ALGORITHM
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dimension(self) -> int | None:
        value = self.source.get("dimension")
        return int(value) if value is not None else None

    @property
    def metric(self) -> str | None:
        value = self.source.get("metric")
        return str(value) if value is not None else None

    @property
    def acl_policy(self) -> AclPolicy | None:
        """The source index's ACL policy; ``None`` in exports written before it was recorded."""
        value = self.source.get("acl_policy")
        if value is None:
            return None
        if value not in ACL_POLICIES:
            raise CorruptExportError(
                f"the manifest's source.acl_policy is {value!r}; it must be 'tenant' or "
                "'private'. The manifest was edited: export the tenant again."
            )
        return cast(AclPolicy, value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "tenant": self.tenant,
            "directory": self.directory,
            "source": self.source,
            "embedding_model": self.embedding_model,
            "record_count": self.record_count,
            "checksum": {"algorithm": self.checksum_algorithm, "value": self.checksum},
            "sorted_ids": self.sorted_ids,
            "files": [f.to_dict() for f in self.files],
            "created_at": self.created_at,
            "tenant_rag_version": self.tenant_rag_version,
            **({"extra": self.extra} if self.extra else {}),
        }

    def write(self, directory: Path) -> Path:
        """Write ``manifest.json`` atomically (temporary file, fsync, rename)."""
        path = directory / MANIFEST
        tmp = directory / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Load and check the manifest of an export directory; errors name what is wrong."""
        path = directory / MANIFEST
        if not path.is_file():
            raise CorruptExportError(
                f"{path} is missing: {directory} is not a complete export (the manifest is "
                "written last). Export the tenant again with export_tenant(...)."
            )
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CorruptExportError(f"{path} is not valid JSON ({exc}); export again.") from exc
        try:
            if raw["format"] != FORMAT:
                raise CorruptExportError(
                    f"{path} has format {raw['format']!r}; this tenant_rag reads {FORMAT!r}."
                )
            checksum = raw["checksum"]
            if checksum.get("algorithm") != ALGORITHM:
                raise CorruptExportError(
                    f"{path} uses checksum {checksum.get('algorithm')!r}; this tenant_rag "
                    f"computes {ALGORITHM!r}."
                )
            files = [
                FileEntry(
                    path=str(f["path"]),
                    records=int(f["records"]),
                    bytes=int(f["bytes"]),
                    sha256=str(f["sha256"]),
                    row_groups=int(f["row_groups"]),
                )
                for f in raw["files"]
            ]
            manifest = cls(
                tenant=str(raw["tenant"]),
                directory=str(raw["directory"]),
                source=dict(raw["source"]),
                record_count=int(raw["record_count"]),
                checksum=str(checksum["value"]),
                files=files,
                created_at=str(raw["created_at"]),
                tenant_rag_version=str(raw["tenant_rag_version"]),
                embedding_model=raw.get("embedding_model"),
                sorted_ids=bool(raw.get("sorted_ids", False)),
                extra=dict(raw.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptExportError(
                f"{path} lacks a field or has a wrong type ({exc!r}); export the tenant again."
            ) from exc
        if sum(f.records for f in files) != manifest.record_count:
            raise CorruptExportError(
                f"{path} lists files holding {sum(f.records for f in files)} records but says "
                f"record_count={manifest.record_count}; the manifest was edited or damaged."
            )
        for f in files:
            if Path(f.path).is_absolute() or ".." in Path(f.path).parts:
                raise CorruptExportError(
                    f"{path} names the file {f.path!r} outside the export directory; refusing."
                )
        return manifest


__all__ = ["FORMAT", "MANIFEST", "Manifest"]
