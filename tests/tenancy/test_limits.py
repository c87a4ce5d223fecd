"""One constant per Pinecone limit on the client side, and the embedded server enforcing the same.

The embedded server (`tenant_rag.local`) imports nothing of the client, so it
keeps its own copy of the limits; this test is what keeps the two equal.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tenant_rag.local.engine import limits as server
from tenant_rag.tenancy import limits as client

PACKAGE = Path(client.__file__).resolve().parents[1]
SHARED = [
    "MAX_REQUEST_BYTES",
    "MAX_UPSERT_RECORDS",
    "MAX_IDS_PER_REQUEST",
    "MAX_METADATA_BYTES",
    "MAX_ID_LENGTH",
    "MAX_TOP_K",
]


def test_client_and_embedded_server_agree() -> None:
    for name in SHARED:
        assert getattr(client, name) == getattr(server, name), name
    assert client.UPSERT_BATCH_BYTES < client.MAX_REQUEST_BYTES


def test_each_limit_is_defined_once_outside_the_embedded_server() -> None:
    """No module of the client assigns a number to a name of tenancy.limits (or an alias)."""
    names = set(SHARED) | {"UPSERT_BATCH_BYTES", "MAX_BATCH_RECORDS", "DEFAULT_MAX_BATCH_BYTES"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("local/") or rel == "tenancy/limits.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Name) and t.id.lstrip("_") in names:
                    offenders.append(f"{rel}:{node.lineno} {t.id}")
    assert offenders == []
