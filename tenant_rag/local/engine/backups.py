"""Backups of indexes and indexes restored from them, as Pinecone serverless offers them.

A backup is a consistent snapshot of one index taken while writes go on (see
``storage/backups.py``); restoring it creates a *new* index holding exactly the
snapshot's records. Rules, from Pinecone's API reference and guides:

* a backup keeps the source index's configuration (dimension, metric, vector
  type, cloud, region, tags); the restored index takes all of it except its name,
  its tags (the request's ``tags`` are applied over the backup's: a key set to
  ``""`` is removed) and its deletion protection (the request's, else
  ``disabled``);
* restoring never touches an existing index: a taken name is a 409;
* deleting an index, protected or not, follows the index's own rules (a protected
  index cannot be deleted); its backups outlive it and remember when it went;
* a backup with an unfinished restore job cannot be deleted (412). Restores
  here finish before the request returns, so a job is ``Completed`` at once.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from typing import Any

from tenant_rag.local.engine.engine import Engine
from tenant_rag.local.engine.errors import ApiError, bad_request, not_found
from tenant_rag.local.storage import IndexDef, new_uid
from tenant_rag.local.storage.backups import (
    READY,
    BackupRecord,
    BackupStore,
    RestoreJob,
    copy_database,
)

#: Pinecone's resource names (indexes; backups from 2026-07): 1-45 of [a-z0-9-], alnum at both ends
RESOURCE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")


class Backups:
    """Create, list, describe, delete backups of ``engine``'s indexes and restore them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = BackupStore(engine.data_dir, engine.durability)
        engine.on_index_deleted.append(lambda d: self.store.index_deleted(d.uid, d.name))

    # -- backups ---------------------------------------------------------------
    def create(self, index_name: str, name: Any = None, description: Any = None) -> BackupRecord:
        """Snapshot index ``index_name`` now; the returned backup is ``Ready``."""
        if name is not None and not isinstance(name, str):
            raise bad_request("name must be a string")
        if description is not None and not isinstance(description, str):
            raise bad_request("description must be a string")
        d = self.engine.index(index_name).d  # opens the index's file (an unused index has none)
        backup_id = str(uuid.uuid4())
        self.store.begin(
            backup_id, name=name, description=description, index_def=dataclasses.asdict(d)
        )
        try:
            stats = self.store.snapshot(backup_id, self.engine.catalog.indexes_dir / d.file_name)
            self.store.finish(backup_id, stats)
        except BaseException:
            self.store.discard(backup_id)
            raise
        return self.describe(backup_id)

    def describe(self, backup_id: str) -> BackupRecord:
        record = self.store.get(backup_id)
        if record is None:
            raise not_found(f"Backup {backup_id} not found.")
        return self._with_deletion(record)

    def list_backups(
        self, index_name: str | None = None, *, include_deleted: bool = False
    ) -> list[BackupRecord]:
        """All backups, or those of index ``index_name``: of the live index of that name, or
        (``include_deleted``) of every index that ever had it. 404 when there is none to ask about."""
        if index_name is None:
            return [self._with_deletion(r) for r in self.store.backups()]
        live = self.engine.catalog.get(index_name)
        if include_deleted:
            if live is None and not self.store.ever_named(index_name):
                raise not_found(f"Index {index_name} not found.")
            records = self.store.backups(source_name=index_name)
        else:
            if live is None:
                raise not_found(f"Index {index_name} not found.")
            records = self.store.backups(source_name=index_name, source_uid=live.uid)
        return [self._with_deletion(r) for r in records]

    def delete(self, backup_id: str) -> None:
        self.describe(backup_id)
        pending = self.store.pending_jobs(backup_id)
        if pending:
            raise ApiError(
                412,
                "FAILED_PRECONDITION",
                "Unable to delete backup. There are pending restore jobs for this backup: "
                f"{pending}",
            )
        self.store.discard(backup_id)

    def _with_deletion(self, record: BackupRecord) -> BackupRecord:
        """The record with ``source_deleted_at`` set if its source index is gone."""
        live = self.engine.catalog.get(record.source_name)
        if live is not None and live.uid == record.source_uid:
            return record
        deleted = self.store.deleted_at(record.source_uid) or record.created_at
        return dataclasses.replace(record, source_deleted_at=deleted)

    # -- restore -----------------------------------------------------------------
    def restore(
        self, backup_id: str, name: Any, tags: Any = None, deletion_protection: Any = None
    ) -> tuple[RestoreJob, IndexDef]:
        """Create index ``name`` from the backup; returns the finished job and the new index."""
        record = self.describe(backup_id)
        if record.status != READY:
            raise ApiError(412, "FAILED_PRECONDITION", f"Backup {backup_id} is not completed")
        if not isinstance(name, str) or not RESOURCE_NAME.match(name):
            raise bad_request(
                f"Invalid index name {name!r}: use 1 to 45 lowercase letters, digits and "
                "hyphens, starting and ending with a letter or digit"
            )
        protection = deletion_protection or "disabled"
        if protection not in ("enabled", "disabled"):
            raise bad_request(
                f"deletion_protection must be either 'enabled' or 'disabled', got {protection!r}"
            )
        if self.engine.catalog.get(name) is not None:
            raise ApiError(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        source = source_def(record)
        d = dataclasses.replace(
            source,
            name=name,
            uid=new_uid(),
            deletion_protection=protection,
            tags=_merge_tags(source.tags, tags),
            created_at=time.time(),
        )
        started = time.time()
        target = self.engine.catalog.indexes_dir / d.file_name
        copy_database(self.store.file_of(backup_id), target)
        if not self.engine.catalog.create(d):  # taken meanwhile by another request
            for suffix in ("", "-wal", "-shm"):
                target.with_name(target.name + suffix).unlink(missing_ok=True)
            raise ApiError(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        job = RestoreJob(
            job_id=str(uuid.uuid4()),
            backup_id=backup_id,
            target_name=name,
            target_uid=d.uid,
            status="Completed",
            created_at=started,
            completed_at=time.time(),
            percent_complete=100.0,
        )
        self.store.add_job(job)
        return job, d

    def job(self, job_id: str) -> RestoreJob:
        job = self.store.job(job_id)
        if job is None:
            raise not_found(f"Restore job {job_id} not found.")
        return job

    def jobs(self) -> list[RestoreJob]:
        return self.store.jobs()


def source_def(record: BackupRecord) -> IndexDef:
    """The source index's definition as the backup recorded it (fields added since: defaults)."""
    fields = {f.name for f in dataclasses.fields(IndexDef)}
    return IndexDef(**{k: v for k, v in record.index_def.items() if k in fields})


def _merge_tags(base: Any, given: Any) -> dict[str, str] | None:
    """The backup's tags with the request's applied over them (``""`` removes a key)."""
    if given is not None and (
        not isinstance(given, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in given.items())
    ):
        raise bad_request("tags must be an object of string keys and string values")
    merged = dict(base or {})
    for key, value in (given or {}).items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged or None
