"""Float32 rows as upsert values: sent from their buffer instead of as Python floats.

Pinecone stores dense values as float32. A record that already holds them
as a float32 array (an import's Parquet row group, say) loses twice when it
is turned into a list of Python floats first: one Python object per value,
and each value spelled in JSON as the float64 it widens to
(``0.10000000149011612``), twice the digits for the client to write and the
server to parse. A handle that declares ``accepts_float32_rows = True``
(ingestion's lean REST transport, `tenant_rag.ingestion.sdk.LeanRestIndex`)
takes such a row as it is and writes each value in the shortest form that
reads back as the same float32 (``0.1``); `tenant_rag.tenancy.pinned.PinnedIndex`
hands rows through only to such a handle and gives every other handle Python
floats, as before. `tenant_rag.tenancy.batching` sizes these rows by the
shorter form's bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def float32_row(values: Any) -> np.ndarray | None:
    """``values`` when it is a 1-d, C-contiguous float32 array (no copy), else None."""
    if (
        isinstance(values, np.ndarray)
        and values.ndim == 1
        and values.dtype == np.float32
        and values.flags.c_contiguous
    ):
        return values
    return None


def accepts_float32_rows(handle: Any) -> bool:
    """Whether ``handle`` declares that its ``upsert`` takes float32 rows as values."""
    return getattr(handle, "accepts_float32_rows", False) is True


__all__ = ["accepts_float32_rows", "float32_row"]
