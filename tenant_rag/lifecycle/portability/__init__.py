"""A tenant's data is portable: export, import, copy, move, migrate isolation, re-embed.

* `export_tenant` / `import_tenant`: Parquet in the layout Pinecone's bulk import
  reads, plus ``manifest.json`` (count, content checksum, source index); import
  checks before writing, resumes after a crash and verifies count and checksum.
* `copy_tenant` / `move_tenant`: index to index, across connections and
  isolation modes, verified record by record; a move deletes the source only
  after verification. `migrate_isolation`: every tenant from the shared
  namespace to a namespace of its own, in one call.
* `reembed_tenant`: into a new model's index, verified, then one atomic switch of
  the tenant's route (`tenant_rag.tenancy.routing.RoutingTable`).

Every operation goes through `PinnedIndex` and streams page by page, so memory
does not grow with the tenant. See ``docs/portability.md``.
"""

from tenant_rag.lifecycle.portability.checksum import Checksum, record_digest
from tenant_rag.lifecycle.portability.export import ExportReport, export_tenant
from tenant_rag.lifecycle.portability.importer import ImportReport, import_tenant
from tenant_rag.lifecycle.portability.manifest import Manifest
from tenant_rag.lifecycle.portability.reembed import ReembedReport, reembed_tenant
from tenant_rag.lifecycle.portability.transfer import (
    MigrationReport,
    TransferReport,
    copy_tenant,
    migrate_isolation,
    move_tenant,
)

__all__ = [
    "Checksum",
    "ExportReport",
    "ImportReport",
    "Manifest",
    "MigrationReport",
    "ReembedReport",
    "TransferReport",
    "copy_tenant",
    "export_tenant",
    "import_tenant",
    "migrate_isolation",
    "move_tenant",
    "record_digest",
    "reembed_tenant",
]
