"""Upserts checked against Pinecone's 2 MB by their encoded size (`LeanRestIndex`), and the
import's one request per row group that this allows (`TenantEndpoint.batches`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tenant_rag.ingestion.sdk import lean_handle
from tenant_rag.lifecycle.portability.endpoint import TenantEndpoint
from tenant_rag.tenancy.batching import record_batches
from tenant_rag.tenancy.limits import MAX_REQUEST_BYTES

DIM = 64  # the ingestion fixture's index


def _records(n: int, text_bytes: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    return [
        {
            "id": f"r{i}",
            "values": rng.standard_normal(DIM).astype(np.float32),
            "metadata": {"text": "x" * text_bytes, "n": i},
        }
        for i in range(n)
    ]


class Sizes:
    """Records the body size of every upsert request the transport sends."""

    def __init__(self, lean: Any) -> None:
        self.sizes: list[int] = []
        send = lean._transport.request

        def request(method: str, path: str, **kw: Any) -> Any:
            if path == "/vectors/upsert":
                self.sizes.append(len(kw["body"]))
            return send(method, path, **kw)

        lean._transport.request = request


def test_an_oversized_body_goes_as_halves_each_under_the_limit(index: Any) -> None:
    lean = lean_handle(index)
    sizes = Sizes(lean)
    records = _records(200, 15_000)  # ~3 MB as encoded
    result = lean.upsert(vectors=records, namespace="acme")
    assert result.upserted_count == 200
    assert len(sizes.sizes) >= 2 and max(sizes.sizes) <= MAX_REQUEST_BYTES
    assert result.request_bytes == sum(sizes.sizes)
    stats = index.describe_index_stats()
    assert stats.namespaces["acme"].vector_count == 200


def test_one_record_over_the_limit_is_refused_naming_it(index: Any) -> None:
    lean = lean_handle(index)
    big = {"id": "huge", "values": [0.0] * DIM, "metadata": {"t": "x" * (MAX_REQUEST_BYTES + 1)}}
    with pytest.raises(ValueError, match="'huge'.*2 MB"):
        lean.upsert(vectors=[big], namespace="acme")


def test_the_import_sends_a_row_group_that_fits_as_one_request(index: Any) -> None:
    endpoint = TenantEndpoint(index, "acme")
    records = _records(363, 4_000)  # ~1.75 MB as encoded
    assert len(record_batches([dict(r) for r in records])) == 2  # the estimate's batches
    batches = endpoint.batches(records)
    assert [len(b) for b in batches] == [363]
    sizes = Sizes(endpoint.pinned.index)
    assert endpoint.upsert_batch(batches[0]) == 363
    assert len(sizes.sizes) == 1 and sizes.sizes[0] <= MAX_REQUEST_BYTES
    # sparse values go through the SDK's own path: batched by the estimate, as before
    sparse = [{**r, "sparse_values": {"indices": [1], "values": [0.5]}} for r in records[:10]]
    assert endpoint.batches(sparse) == record_batches([dict(r) for r in sparse])
