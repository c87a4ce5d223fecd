"""Backups and restore through one pinecone SDK's control plane; runs in a side venv.

Argument: ``{"host", "api_key", "index", "restored", "ca"?}`` (``index`` exists and holds
data; ``ca``: the CA file to trust when the server speaks TLS).
Prints what the SDK parsed from each answer, as one JSON object.
"""

from __future__ import annotations

import json
import sys

import pinecone
from pinecone import Pinecone

args = json.loads(sys.argv[1])
pc = Pinecone(api_key=args["api_key"], host=args["host"], ssl_ca_certs=args.get("ca"))
seen: dict = {"version": pinecone.__version__}

backup = pc.create_backup(index_name=args["index"], backup_name="nightly", description="d")
seen["created"] = {
    "status": backup.status,
    "name": backup.name,
    "source_index_name": backup.source_index_name,
    "record_count": backup.record_count,
    "namespace_count": backup.namespace_count,
}
seen["described_status"] = pc.describe_backup(backup_id=backup.backup_id).status
seen["listed_project"] = [b.backup_id == backup.backup_id for b in pc.list_backups()]
seen["listed_index"] = [b.name for b in pc.list_backups(index_name=args["index"])]
restore = pc.create_index_from_backup(
    backup_id=backup.backup_id, name=args["restored"], deletion_protection="enabled", timeout=-1
)
mine = [j for j in pc.list_restore_jobs() if j.target_index_name == args["restored"]]
job = pc.describe_restore_job(job_id=mine[0].restore_job_id)
seen["job"] = {
    "status": job.status,
    "target_index_name": job.target_index_name,
    "percent_complete": job.percent_complete,
    "backup_matches": job.backup_id == backup.backup_id,
}
seen["restore_response"] = type(restore).__name__
pc.delete_backup(backup_id=backup.backup_id)
seen["after_delete"] = len(list(pc.list_backups()))
print(json.dumps(seen))
