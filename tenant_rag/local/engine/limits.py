"""Pinecone's documented per-request limits, enforced here as Pinecone enforces them.

They live in one place so the REST layer, the gRPC layer and the engine agree,
and so a test can import the numbers instead of repeating them.
"""

from __future__ import annotations

MAX_UPSERT_RECORDS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_TOP_K = 10_000
MAX_ID_LENGTH = 512
MAX_IDS_PER_REQUEST = 1000
MAX_INDEX_NAME_LENGTH = 45
MAX_DIMENSION = 20_000
MAX_IN_VALUES = 10_000
MAX_LIST_LIMIT = 1000
MAX_FETCH_BY_METADATA_LIMIT = 10_000  # SDK 10.2.0's FETCH_BY_METADATA_LIMIT_MAX
DEFAULT_LIST_LIMIT = 100
DEFAULT_NAMESPACE = "__default__"

# Structure limits. Pinecone documents none of these three; each is a generous bound chosen
# here so that no request can exhaust the server's recursion (a 500) or its time, and each
# refusal is a 400 naming it (docs/design.md, "Limits the embedded server enforces").
#: Levels of ``$and``/``$or`` nesting in one filter. Pinecone's gRPC data plane carries a
#: filter as a protobuf Struct, whose decoders stop at 100 message levels: about 18 levels of
#: ``$and`` (measured with the upb runtime here), so no gRPC client can send deeper ones.
MAX_FILTER_DEPTH = 100
#: Conditions (field operators plus ``$and``/``$or`` clauses) in one filter: as many as the
#: values Pinecone allows in one ``$in`` list.
MAX_FILTER_OPERATORS = 10_000
#: JSON nesting of a whole request body; orjson, the parser, refuses deeper documents.
MAX_JSON_DEPTH = 1024
