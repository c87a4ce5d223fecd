"""Input checks shared by every data-plane operation.

Each function either returns a normalised value or raises a 400 ``ApiError``
whose message names the offending field, so a person can fix the request
without reading server code.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from tenant_rag.local.engine.errors import bad_request, short
from tenant_rag.local.engine.limits import (
    DEFAULT_NAMESPACE,
    MAX_ID_LENGTH,
    MAX_IDS_PER_REQUEST,
    MAX_METADATA_BYTES,
)


def namespace_name(ns: Any) -> str:
    """Canonical namespace: missing, ``""`` and ``"__default__"`` are one default namespace."""
    if ns is None or ns == "":
        return DEFAULT_NAMESPACE
    if not isinstance(ns, str):
        raise bad_request(f"namespace must be a string, got {type(ns).__name__}")
    _check_name(ns, "namespace")
    return ns


def record_id(value: Any, what: str = "id") -> str:
    """A record id: non-empty ASCII string of at most 512 characters, no NUL."""
    if not isinstance(value, str):
        raise bad_request(f"{what} must be a string, got {type(value).__name__}")
    if value == "":
        raise bad_request(f"{what} must not be empty")
    _check_name(value, what)
    return value


def id_list(values: Any, what: str = "ids") -> list[str]:
    """A list of 1..1000 record ids (duplicates dropped, order kept)."""
    if not isinstance(values, list):
        raise bad_request(f"{what} must be a list of strings")
    if len(values) > MAX_IDS_PER_REQUEST:
        raise bad_request(
            f"{what} has {len(values)} entries; at most {MAX_IDS_PER_REQUEST} ids per request. "
            "Split the request into batches."
        )
    return list(dict.fromkeys(record_id(v, what) for v in values))


def _check_name(value: str, what: str) -> None:
    if len(value) > MAX_ID_LENGTH:
        raise bad_request(
            f"{what} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}: {value[:40]!r}..."
        )
    # Pinecone's sentences for record ids come first (7.3.0 integration tests
    # test_weird_invalid_ids and test_null_character match on them)
    if not value.isascii():
        lead = "Vector ID must be ASCII. " if what != "namespace" else ""
        raise bad_request(f"{lead}{what} must be ASCII: {value[:80]!r}")
    if "\x00" in value:
        lead = "Vector ID must not contain null character. " if what != "namespace" else ""
        raise bad_request(f"{lead}{what} must not contain NUL characters: {value[:80]!r}")


def dense_values(values: Any, dimension: int | None, rid: str | None = None) -> np.ndarray:
    """Dense values as float32; checks the dimension and refuses NaN/inf."""
    where = f" for vector {rid!r}" if rid is not None else ""
    if not isinstance(values, list | tuple | np.ndarray):
        raise bad_request(f"values{where} must be a list of numbers")
    try:
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused below
            arr = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise bad_request(f"values{where} must be a list of numbers: {short(str(exc))}") from None
    if arr.ndim != 1:
        raise bad_request(f"values{where} must be a flat list of numbers")
    if dimension is None:
        if arr.size:
            raise bad_request(f"this index is sparse: dense values{where} are not accepted")
        return arr
    if arr.size != dimension:
        raise bad_request(
            f"Vector dimension {arr.size} does not match the dimension of the index {dimension}"
        )
    if not np.isfinite(arr).all():
        raise bad_request(
            f"values{where} contain NaN or infinity (or a number beyond float32's range, "
            "about 3.4e38); only finite numbers are allowed"
        )
    return arr


def sparse_values(sv: Any, rid: str | None = None) -> tuple[list[int], list[float]] | None:
    """``{"indices": [...], "values": [...]}`` -> sorted (indices, values), or None if absent."""
    if sv is None:
        return None
    where = f" for vector {rid!r}" if rid is not None else ""
    if not isinstance(sv, dict):
        raise bad_request(f"sparseValues{where} must be an object with indices and values")
    indices = sv.get("indices") or []
    vals = sv.get("values") or []
    if not isinstance(indices, list) or not isinstance(vals, list):
        raise bad_request(f"sparseValues{where}: indices and values must be lists")
    if len(indices) != len(vals):
        raise bad_request(
            f"sparseValues{where}: indices has {len(indices)} entries but values has {len(vals)}"
        )
    out: dict[int, float] = {}
    for i, v in zip(indices, vals, strict=True):
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < 2**32:
            raise bad_request(f"sparseValues{where}: index {i!r} must be an integer in [0, 2^32)")
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise bad_request(f"sparseValues{where}: value {v!r} must be a finite number")
        if i in out:
            raise bad_request(f"sparseValues{where}: index {i} appears twice")
        out[i] = float(v)
    if not out:
        return None
    keys = sorted(out)
    return keys, [out[k] for k in keys]


def metadata(md: Any, rid: str | None = None) -> dict[str, Any] | None:
    """Metadata: flat object of string, number, boolean or list-of-strings values, <= 40 KB."""
    if md is None:
        return None
    where = f" for vector {rid!r}" if rid is not None else ""
    if not isinstance(md, dict):
        raise bad_request(f"metadata{where} must be an object")
    for key, value in md.items():
        check_metadata_value(key, value, where)
    size = len(json.dumps(md, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise bad_request(
            f"Metadata size is {size} bytes{where}, which exceeds the limit of "
            f"{MAX_METADATA_BYTES} bytes per vector"
        )
    return md or None


def check_metadata_value(key: str, value: Any, where: str = "") -> None:
    """Refuse null, nested objects, non-finite numbers and lists of non-strings."""
    if isinstance(value, bool | str):
        return
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise bad_request(f"metadata field {key!r}{where} must be a finite number")
        return
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise bad_request(f"metadata field {key!r}{where}: lists may only hold strings")
        return
    if value is None:
        raise bad_request(f"metadata field {key!r}{where} is null; null values are not supported")
    if isinstance(value, dict):
        raise bad_request(
            f"metadata field {key!r}{where} has unsupported type object: metadata must be "
            "flat (no nested objects); use a string, number, boolean or list of strings"
        )
    raise bad_request(
        f"metadata field {key!r}{where} has unsupported type {type(value).__name__}; "
        "use a string, number, boolean or list of strings"
    )
