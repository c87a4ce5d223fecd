"""`copy_tenant`, `move_tenant`, `migrate_isolation`: a tenant from one index (or isolation) to another.

The two indexes may sit behind different connections (the embedded server and
Pinecone serverless, or two serverless projects): each side is a data-plane
handle, read and written through `PinnedIndex`, so the namespace or id prefix
of each side's isolation is applied on its own. Reads of the source keep
working throughout; nothing locks it.

**Copy**: stream the source page by page into the destination, then verify:
each source page is fetched again and compared record by record (checksum
digests) with the destination; a record that differs (the source was written
meanwhile) is copied again and the pass repeated, for up to ``settle`` seconds
(or ``max_passes`` passes when given). A record copied again that still differs
in a later pass, unchanged at the source, is waited for (backoff, within the
same ``settle``: an eventually consistent destination shows writes late)
rather than copied again, and fails the copy, named, only after that. Under
``on_existing="fail"`` or ``"replace"``, destination records the source does
not have are deleted. The copy is verified when one pass finds nothing to fix
and both sides hold the same count and checksum.

**Move** = a verified copy, then the source is deleted page by page, **each
record only after its copy in the destination was verified equal** in the same
pass; passes repeat until one finds the source empty.

The rule for writes during a move (``tests/lifecycle/test_transfer.py`` checks
it): the source stays readable and writable. Every write that reaches the
source before the move's last pass is carried to the destination, in its
latest version, and no record of the source is deleted unless the destination
holds the same record. A write that reaches the source after the move returned
is not moved, and an overwrite that lands in the instant between a record's
verification and its deletion is lost, since Pinecone has no conditional
delete. So point writers at the destination first: with ``routes=`` the move
switches the tenant's route (`tenant_rag.tenancy.routing`) to the destination
right after the copy is verified and before anything is deleted, and the
per-request chains, the chat backend and its uploads resolve the tenant's
index through it.

Both are resumable: a journal records the phase (copying, verifying,
deleting); a rerun of the same call after ``kill -9`` continues from it (a
copy restarts its stream, which rewrites the same ids; a move that was
deleting goes on deleting verified records only), so it ends with exactly the
source's records in the destination, and the source deleted only after
verification.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_rag.errors import (
    DestinationNotEmptyError,
    PortabilityError,
    TransferVerificationError,
)
from tenant_rag.lifecycle.portability.checksum import Checksum
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint, as_upsert, digest_of
from tenant_rag.lifecycle.portability.importer import ON_EXISTING, OnExisting, prune_to
from tenant_rag.lifecycle.portability.journal import Journal, state_dir
from tenant_rag.lifecycle.portability.policy import check_acl_policies
from tenant_rag.lifecycle.portability.readback import NAMED_IDS
from tenant_rag.lifecycle.settle import FIRST_DELAY, MAX_DELAY
from tenant_rag.lifecycle.settle import until as settle_until
from tenant_rag.tenancy.acl import AclPolicy
from tenant_rag.tenancy.routing import RoutingTable
from tenant_rag.tenancy.scope import DEFAULT_SHARED_NAMESPACE, Isolation

#: ``progress(phase, records_done, records_expected_or_None)``
Progress = Callable[[str, int, int | None], None]
#: Seconds a copy or move keeps making passes while the source is being written to.
SETTLE_SECONDS = 60.0


@dataclass
class TransferReport:
    """What a copy or move did, and what verified it."""

    operation: str
    source: dict[str, Any]
    destination: dict[str, Any]
    on_existing: str
    copied: int = 0
    records: int = 0
    checksum: str = ""
    verified: bool = False
    passes: int = 0
    recopied: int = 0
    pruned: int = 0
    deleted_from_source: int = 0
    routed: bool = False
    resumed: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "source": self.source,
            "destination": self.destination,
            "on_existing": self.on_existing,
            "copied": self.copied,
            "records": self.records,
            "checksum": self.checksum,
            "verified": self.verified,
            "passes": self.passes,
            "recopied": self.recopied,
            "pruned": self.pruned,
            "deleted_from_source": self.deleted_from_source,
            "routed": self.routed,
            "resumed": self.resumed,
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
        }


def copy_tenant(
    src_index: Any,
    dst_index: Any,
    tenant: str,
    *,
    dst_tenant: str | None = None,
    src_isolation: Isolation = "namespace",
    dst_isolation: Isolation = "namespace",
    src_shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    dst_shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    on_existing: OnExisting = "fail",
    acl_policy: AclPolicy | None = None,
    journal_dir: str | os.PathLike[str] | None = None,
    max_passes: int | None = None,
    settle: float = SETTLE_SECONDS,
    progress: Progress | None = None,
) -> TransferReport:
    """Copy ``tenant``'s records from ``src_index`` to ``dst_index`` and verify the copy.

    ``dst_tenant`` renames the tenant on the way (default: the same id);
    ``src_isolation``/``dst_isolation`` may differ (metadata -> namespace is the
    usual migration). ``on_existing`` as for `import_tenant`. ``acl_policy``
    names the destination's ACL policy to accept copying from an index whose
    policy differs (refused otherwise: `policy.check_acl_policies`). The source
    is never written. Raises `PortabilityError` for a copy onto itself,
    `IndexMismatchError` for another dimension or metric (use `reembed_tenant`),
    `AclPolicyMismatchError`, `DestinationNotEmptyError`,
    `TransferVerificationError`.
    """
    job = _Transfer(
        "copy",
        src_index,
        dst_index,
        tenant,
        dst_tenant=dst_tenant,
        src_isolation=src_isolation,
        dst_isolation=dst_isolation,
        src_shared_namespace=src_shared_namespace,
        dst_shared_namespace=dst_shared_namespace,
        on_existing=on_existing,
        acl_policy=acl_policy,
        journal_dir=journal_dir,
        max_passes=max_passes,
        settle=settle,
        progress=progress,
    )
    return job.run()


def move_tenant(
    src_index: Any,
    dst_index: Any,
    tenant: str,
    *,
    dst_tenant: str | None = None,
    src_isolation: Isolation = "namespace",
    dst_isolation: Isolation = "namespace",
    src_shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    dst_shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    on_existing: OnExisting = "fail",
    acl_policy: AclPolicy | None = None,
    routes: RoutingTable | None = None,
    journal_dir: str | os.PathLike[str] | None = None,
    max_passes: int | None = None,
    settle: float = SETTLE_SECONDS,
    progress: Progress | None = None,
) -> TransferReport:
    """Copy ``tenant`` to ``dst_index``, verify, then delete it from the source, record by record.

    See the module docstring for how writes during the move are handled.
    ``routes``: a `RoutingTable` whose entry for the tenant is switched to
    the destination (index name and isolation) once the copy is verified,
    before the source is touched. Resumable after a crash (same call again).
    """
    job = _Transfer(
        "move",
        src_index,
        dst_index,
        tenant,
        dst_tenant=dst_tenant,
        src_isolation=src_isolation,
        dst_isolation=dst_isolation,
        src_shared_namespace=src_shared_namespace,
        dst_shared_namespace=dst_shared_namespace,
        on_existing=on_existing,
        acl_policy=acl_policy,
        journal_dir=journal_dir,
        max_passes=max_passes,
        settle=settle,
        progress=progress,
        routes=routes,
    )
    return job.run()


@dataclass
class MigrationReport:
    """`migrate_isolation`'s result: one move report per tenant."""

    index: str
    destination: str
    tenants: list[TransferReport]
    seconds: float

    @property
    def moved(self) -> int:
        return sum(r.records for r in self.tenants)

    @property
    def verified(self) -> bool:
        return all(r.verified for r in self.tenants)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "destination": self.destination,
            "tenants": len(self.tenants),
            "records": self.moved,
            "verified": self.verified,
            "seconds": round(self.seconds, 3),
            "moves": [r.to_dict() for r in self.tenants],
        }


def migrate_isolation(
    index: Any,
    *,
    dst_index: Any = None,
    shared_namespace: str = DEFAULT_SHARED_NAMESPACE,
    tenants: list[str] | None = None,
    on_existing: OnExisting = "fail",
    acl_policy: AclPolicy | None = None,
    routes: RoutingTable | None = None,
    journal_dir: str | os.PathLike[str] | None = None,
    settle: float = SETTLE_SECONDS,
    progress: Callable[[str, str, int, int | None], None] | None = None,
) -> MigrationReport:
    """Move every tenant of ``index``'s shared namespace (metadata isolation) to a namespace of its own.

    ``dst_index`` defaults to the same index (each tenant to the namespace named
    by its id). ``tenants`` limits the migration to those ids. One verified move
    per tenant (see `move_tenant`), in id order; a failure stops there, and the
    same call again resumes (tenants already moved have nothing left to move).
    ``acl_policy`` as for `copy_tenant`, when ``dst_index`` has another ACL policy;
    ``settle`` as for `move_tenant`, for each tenant.
    """
    from tenant_rag.lifecycle.tenants import list_tenants
    from tenant_rag.tenancy.pinned import index_name_of

    started = time.monotonic()
    target = dst_index if dst_index is not None else index
    found = [
        t.tenant
        for t in list_tenants(index, isolation="metadata", shared_namespace=shared_namespace)
    ]
    chosen = sorted(found if tenants is None else [t for t in found if t in set(tenants)])
    reports = []
    for tenant in chosen:
        step = None
        if progress is not None:
            step = _tenant_progress(progress, tenant)
        reports.append(
            move_tenant(
                index,
                target,
                tenant,
                src_isolation="metadata",
                dst_isolation="namespace",
                src_shared_namespace=shared_namespace,
                on_existing=on_existing,
                acl_policy=acl_policy,
                routes=routes,
                journal_dir=journal_dir,
                settle=settle,
                progress=step,
            )
        )
    return MigrationReport(
        index=index_name_of(index),
        destination=index_name_of(target),
        tenants=reports,
        seconds=time.monotonic() - started,
    )


def _tenant_progress(
    progress: Callable[[str, str, int, int | None], None], tenant: str
) -> Progress:
    return lambda phase, done, total: progress(tenant, phase, done, total)


# -- the work ----------------------------------------------------------------------------


class _Transfer:
    def __init__(
        self,
        operation: str,
        src_index: Any,
        dst_index: Any,
        tenant: str,
        *,
        dst_tenant: str | None,
        src_isolation: Isolation,
        dst_isolation: Isolation,
        src_shared_namespace: str,
        dst_shared_namespace: str,
        on_existing: str,
        acl_policy: AclPolicy | None,
        journal_dir: str | os.PathLike[str] | None,
        max_passes: int | None,
        settle: float,
        progress: Progress | None,
        routes: RoutingTable | None = None,
    ) -> None:
        if on_existing not in ON_EXISTING:
            raise ValueError(f"on_existing must be one of {ON_EXISTING}, got {on_existing!r}.")
        if max_passes is not None and max_passes < 1:
            raise ValueError("max_passes must be at least 1.")
        self.started = time.monotonic()
        self.operation = operation
        self.src = TenantEndpoint(
            src_index, tenant, isolation=src_isolation, shared_namespace=src_shared_namespace
        )
        self.dst = TenantEndpoint(
            dst_index,
            dst_tenant if dst_tenant is not None else tenant,
            isolation=dst_isolation,
            shared_namespace=dst_shared_namespace,
        )
        if self.src.same_place_as(self.dst):
            raise PortabilityError(
                f"source and destination are the same records (index {self.src.index_name!r}, "
                f"namespace {self.src.namespace!r}): a copy onto itself. Name another index, "
                "another dst_tenant or another isolation."
            )
        src_info = self.src.info()
        self.dst.check_compatible(
            dimension=src_info.dimension,
            metric=src_info.metric,
            what=f"tenant {self.src.tenant!r} in index {src_info.name!r}",
        )
        check_acl_policies(
            self.src.acl_policy(),
            self.dst.acl_policy(),
            acl_policy,
            source_what=f"tenant {self.src.tenant!r} in index {src_info.name!r}",
            destination_index=self.dst.index_name,
        )
        self.on_existing = on_existing
        self.max_passes = max_passes
        self.settle = settle
        self.progress = progress
        self.routes = routes
        self.journal = Journal(
            Path(journal_dir) if journal_dir is not None else state_dir() / "transfers",
            operation,
            {
                "source": {**self.src.where(), "host": src_info.host},
                "destination": {**self.dst.where(), "host": self.dst.info().host},
            },
        )
        self.report = TransferReport(
            operation=operation,
            source=self.src.where(),
            destination=self.dst.where(),
            on_existing=on_existing,
        )

    def run(self) -> TransferReport:
        state = self.journal.load()
        if state is not None and state.get("phase") != "done":
            self.report.resumed = True
            self.on_existing = str(state.get("mode", self.on_existing))
            self.report.on_existing = self.on_existing
        else:
            if self.on_existing == "fail" and not self.dst.is_empty():
                raise DestinationNotEmptyError(
                    f"tenant {self.dst.tenant!r} already has records in index "
                    f"{self.dst.index_name!r} (namespace {self.dst.namespace!r}); nothing was "
                    "written. Pass on_existing='merge' or 'replace'."
                )
            self.journal.save(mode=self.on_existing, phase="copying")
        phase = self.journal.state["phase"]
        if phase == "copying":
            self.report.copied = self._copy()
            self.journal.save(phase="verifying")
            phase = "verifying"
        if phase == "verifying":
            self._verify()
            if self.operation == "move":
                self._route()
                self.journal.save(phase="deleting")
                phase = "deleting"
            else:
                phase = "done"
        if phase == "deleting":
            if not self.report.verified:  # resumed straight into deleting: it was verified
                self.report.verified = True
                self.report.notes.append("resumed while deleting the verified source")
            self._route()
            self._delete_source()
        self.journal.save(phase="done")
        self.report.seconds = time.monotonic() - self.started
        return self.report

    # -- phases ---------------------------------------------------------------------------

    def _copy(self) -> int:
        copied = 0
        expected = self.src.count()
        for page in self.src.pages():
            copied += self.dst.upsert([as_upsert(r) for r in page.records])
            if self.progress is not None:
                self.progress("copy", copied, expected)
        return copied

    def _more_passes(self, done: int, deadline: float) -> bool:
        """Whether another pass may run: within ``max_passes``, else within the settle time."""
        if self.max_passes is not None:
            return done < self.max_passes
        return done == 0 or time.monotonic() < deadline

    def _verify(self) -> None:
        """Passes comparing every source record with the destination until one fixes nothing.

        A copy that cannot get one clean pass (the source is written to throughout)
        is not verified and raises. A move goes on to its deletion passes instead,
        which verify each record before deleting it and carry later writes over.
        """
        deadline = time.monotonic() + self.settle
        number = 0
        rewritten: set[bytes] = set()  # digests copied again in an earlier pass
        waiting: list[str] = []
        delay = FIRST_DELAY
        while self._more_passes(number, deadline):
            number += 1
            self.report.passes = number
            seen, fixed, again = Checksum(), 0, set()
            waiting = []
            for page in self.src.pages():
                there = {r.id: digest_of(r) for r in self.dst.fetch(page.ids)}
                stale = []
                for rec in page.records:
                    digest = digest_of(rec)
                    seen.add(digest)
                    if there.get(rec.id) != digest:
                        again.add(digest)
                        if digest in rewritten:
                            # unchanged at the source and written again already: the
                            # destination has not caught up (lag) or lost it; wait, see below
                            waiting.append(rec.id)
                        else:
                            stale.append(as_upsert(rec))
                if stale:
                    fixed += self.dst.upsert(stale)
                if self.progress is not None:
                    self.progress("verify", seen.count, None)
            self.report.recopied += fixed
            rewritten = again
            if self.on_existing != "merge":
                self.report.pruned += prune_to(
                    self.dst,
                    lambda: (rid for ids in self.src.pinned.id_pages() for rid in ids),
                    keep_sorted=True,
                )
            if fixed == 0 and not waiting:
                self._finish_verification(seen)
                return
            if fixed == 0:  # only lagging records left: give the destination time
                left = deadline - time.monotonic()
                if left > 0:
                    time.sleep(min(delay, left))
                delay = min(delay * 2, MAX_DELAY)
        if waiting:
            shown = ", ".join(repr(i) for i in sorted(waiting)[:NAMED_IDS])
            more = f" and {len(waiting) - NAMED_IDS} more" if len(waiting) > NAMED_IDS else ""
            raise TransferVerificationError(
                f"index {self.dst.index_name!r} did not keep {len(waiting)} records of the copy "
                f"(written twice, unchanged at the source, still missing or different after "
                f"{number} passes and up to {self.settle:g} s for the index to catch up): "
                f"{shown}{more}; nothing was deleted. Check the destination index and run the "
                "same call again.",
                self.report,
            )
        if self.operation == "move":
            self.report.notes.append(
                "the source was written to during every verification pass; each record was "
                "verified on its own before its deletion instead"
            )
            return
        raise TransferVerificationError(
            f"tenant {self.src.tenant!r} kept changing in the source during {number} "
            "verification passes; the copy is not verified and nothing was deleted. Pause its "
            "writers (or route them to the destination) and run the same call again.",
            self.report,
        )

    def _finish_verification(self, seen: Checksum) -> None:
        self.report.records = seen.count
        self.report.checksum = seen.hexdigest
        if self.on_existing != "merge":
            there = Checksum()

            def same() -> bool:
                nonlocal there
                there = self.dst.checksum()
                return there == seen

            # the listing may lag the records: patience
            if not settle_until(same, self.settle):
                raise TransferVerificationError(
                    f"destination tenant {self.dst.tenant!r} holds {there.count} records "
                    f"(checksum {there.hexdigest[:16]}...), the source {seen.count} "
                    f"({seen.hexdigest[:16]}...): it was written during the check. Nothing "
                    "was deleted; run the same call again.",
                    self.report,
                )
        self.report.verified = True

    def _route(self) -> None:
        if self.routes is None or self.report.routed:
            return
        current = self.routes.get(self.dst.tenant)
        if current is not None and (current.index, current.isolation) == (
            self.dst.index_name,
            self.dst.scope.isolation,
        ):  # switched already (a resumed move)
            self.report.routed = True
            return
        self.routes.switch(
            self.dst.tenant,
            self.dst.index_name,
            isolation=self.dst.scope.isolation,
            expect=self.src.index_name,
            expect_isolation=self.src.scope.isolation,
            reason=f"move from {self.src.index_name}",
        )
        self.report.routed = True

    def _delete_source(self) -> None:
        """Delete the source page by page, each record only if the destination holds it equal."""
        deadline = time.monotonic() + self.settle
        number = 0
        while self._more_passes(number, deadline):
            number += 1
            seen = 0
            for page in self.src.pages():
                seen += len(page.records)
                there = {r.id: digest_of(r) for r in self.dst.fetch(page.ids)}
                verified, stale = [], []
                for rec in page.records:
                    if there.get(rec.id) == digest_of(rec):
                        verified.append(rec.id)
                    else:  # written at the source since the copy: carry it over first
                        stale.append(as_upsert(rec))
                if stale:
                    self.report.recopied += self.dst.upsert(stale)
                self.report.deleted_from_source += self.src.delete(verified)
                if self.progress is not None:
                    self.progress("delete", self.report.deleted_from_source, None)
            if seen == 0:
                self.report.verified = True  # every record deleted was verified first
                self.report.records = self.report.records or self.report.deleted_from_source
                return
            time.sleep(min(0.05 * number, 0.5))  # writes are still arriving: let them land
        raise TransferVerificationError(
            f"tenant {self.src.tenant!r} kept receiving writes at the source while it was "
            f"being deleted ({number} passes); every record deleted had been verified in the "
            "destination. Route the writers to the destination and run the same call again "
            "to finish.",
            self.report,
        )


__all__ = [
    "MigrationReport",
    "TransferReport",
    "copy_tenant",
    "migrate_isolation",
    "move_tenant",
]
