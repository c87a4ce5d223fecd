"""Float32 rows as upsert values (`tenant_rag.tenancy.float32`): the same records, the same checks.

An import hands `PinnedIndex` each record's values as a row of the Parquet
file's float32 matrix; ingestion's lean transport writes it from the buffer.
These tests pin down that nothing else changes: the stored values are the
same float32s, and every fail-closed check of the list path (id validation,
the metadata-isolation pin, the server's metadata limit, byte-aware batches
under 2 MB and 1,000 records) applies with the same error.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import orjson
import pytest

from tenant_rag import PinnedIndex, TenantIsolationError, ensure_index
from tenant_rag.ingestion.sdk import LeanRestIndex, lean_handle
from tenant_rag.local import LocalServer
from tenant_rag.tenancy.batching import record_batches
from tenant_rag.tenancy.float32 import accepts_float32_rows, float32_row
from tenant_rag.tenancy.limits import MAX_REQUEST_BYTES, MAX_UPSERT_RECORDS

DIM = 16


@pytest.fixture(scope="module")
def index(shared_local_server: LocalServer) -> Any:
    return ensure_index(shared_local_server.client(), f"f32-{uuid.uuid4().hex[:10]}", dimension=DIM)


def rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def stored(pinned: PinnedIndex, ids: list[str]) -> np.ndarray:
    found = pinned.fetch(ids)
    return np.asarray([found[i].values for i in ids], dtype=np.float32)


def test_only_the_lean_transport_takes_rows_as_they_are(index: Any) -> None:
    assert accepts_float32_rows(lean_handle(index))
    assert isinstance(lean_handle(index), LeanRestIndex)
    assert not accepts_float32_rows(index)  # the SDK's Index: Python floats, as before
    m = rows(2)
    row = m[0]
    assert float32_row(row) is row  # no copy
    assert float32_row(m[0].astype(np.float64)) is None
    assert float32_row(m[:, 0]) is None  # not contiguous
    assert float32_row([0.5] * DIM) is None


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("isolation", ["namespace", "metadata"])
def test_rows_are_stored_as_the_same_float32s(index: Any, lean: bool, isolation: str) -> None:
    handle = lean_handle(index) if lean else index
    pinned = PinnedIndex(handle, f"t-{uuid.uuid4().hex[:8]}", isolation=isolation)
    m = rows(50, seed=1)
    m[0, :4] = [1e-45, 3.4028235e38, -1.2345679e-6, -0.0]  # extremes of the short form
    ids = [f"r{i}#{i % 3}" for i in range(len(m))]
    written = pinned.upsert(
        [{"id": i, "values": row, "metadata": {"n": 1}} for i, row in zip(ids, m, strict=True)]
    )
    assert written == len(m)
    assert stored(pinned, ids).tobytes() == m.tobytes()  # bit for bit
    assert all(r.metadata == {"n": 1.0} for r in pinned.fetch(ids).values())


def test_an_invalid_id_gets_the_same_error(index: Any) -> None:
    pinned = PinnedIndex(lean_handle(index), f"t-{uuid.uuid4().hex[:8]}")
    errors = []
    for values in ([0.5] * DIM, rows(1)[0]):
        with pytest.raises(ValueError) as err:
            pinned.upsert([{"id": "", "values": values}])
        errors.append(str(err.value))
    assert errors[0] == errors[1] and "non-empty" in errors[0]
    assert pinned.count() == 0


def test_the_metadata_pin_applies_to_rows(index: Any) -> None:
    pinned = PinnedIndex(lean_handle(index), f"t-{uuid.uuid4().hex[:8]}", isolation="metadata")
    with pytest.raises(TenantIsolationError, match="reserved for the tenant id"):
        pinned.upsert([{"id": "a", "values": rows(1)[0], "metadata": {"tenant_id": "globex"}}])
    pinned.upsert([{"id": "a", "values": rows(1)[0], "metadata": {"tenant_id": pinned.tenant}}])
    assert pinned.fetch(["a"])["a"].metadata == {}  # the pin is stored and taken off again


def test_oversized_metadata_is_refused_alike(index: Any) -> None:
    """The server's 40 KB limit: the same refusal whether the values are a list or a row."""
    pinned = PinnedIndex(lean_handle(index), f"t-{uuid.uuid4().hex[:8]}")
    big = {"text": "x" * 41_000}
    messages = []
    for values in ([0.5] * DIM, rows(1)[0]):
        with pytest.raises(Exception) as err:  # the SDK's exception for a 400
            pinned.upsert([{"id": "a", "values": values, "metadata": big}])
        messages.append(orjson.loads(err.value.body)["message"])  # type: ignore[attr-defined]
    assert messages[0] == messages[1] and "metadata" in messages[0].lower()
    assert pinned.count() == 0


def test_batches_of_rows_stay_within_pinecones_request_limits() -> None:
    """Sized by the short form's bound, every batch's actual body is under 2 MB and 1,000 records,
    also for the values whose short form is longest."""
    dim = 1536
    worst = np.full(dim, -1.2345679e-6, dtype=np.float32)  # "-0.0000012345679": 16 characters
    records = [
        {"id": f"doc-{i:05d}#0", "values": worst, "metadata": {"k": "v" * 200}} for i in range(600)
    ]
    records += [{"id": f"x{i}", "values": rows(1, seed=i)[0]} for i in range(1500)]
    batches = record_batches(records)
    assert sum(map(len, batches)) == len(records)
    for batch in batches:
        body = orjson.dumps(
            {"vectors": batch, "namespace": "n" * 64}, option=orjson.OPT_SERIALIZE_NUMPY
        )
        assert len(body) < MAX_REQUEST_BYTES and len(batch) <= MAX_UPSERT_RECORDS
    # the longest short forms orjson writes for float32 fit the bound (17 characters)
    samples = np.random.default_rng(5).integers(0, 2**32, size=2_000_000, dtype=np.uint32)
    values = samples.view(np.float32)
    values = values[np.isfinite(values)]
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    assert max(map(len, text[1:-1].split(b","))) <= 17
