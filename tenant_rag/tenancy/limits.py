"""Pinecone's published data-plane limits, as the client side of tenant_rag obeys them.

One constant per limit, used by ingestion, both stores and the tenancy layer.
The embedded server enforces the same numbers in
``tenant_rag.local.engine.limits`` (it imports nothing of the client, so it
keeps its own copy); ``tests/tenancy/test_limits.py`` checks that both agree.
"""

from __future__ import annotations

#: Largest upsert request body Pinecone accepts (2 MB).
MAX_REQUEST_BYTES = 2 * 1024 * 1024
#: What an upsert batch may fill: the 2 MB limit less room for the JSON envelope and namespace.
UPSERT_BATCH_BYTES = MAX_REQUEST_BYTES - 256 * 1024
#: Records per upsert request.
MAX_UPSERT_RECORDS = 1000
#: Ids per fetch or delete request.
MAX_IDS_PER_REQUEST = 1000
#: Metadata per record (bytes of compact UTF-8 JSON).
MAX_METADATA_BYTES = 40 * 1024
#: Record id length (ASCII characters).
MAX_ID_LENGTH = 512
#: ``top_k`` ceiling of a query.
MAX_TOP_K = 10_000
