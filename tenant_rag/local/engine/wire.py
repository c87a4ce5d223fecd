"""Stored values and metadata as the REST layer writes them: cheaper, and byte for byte as before.

A fetch answer used to turn each stored float32 row into a list of Python
floats (``vec.tolist()``) and each record's stored metadata text back into a
dict with the standard library's ``json.loads``, for orjson to write both out
again. For a page of fetched records that was about half of the server's work.

* **Values**: `json_values` widens the row to float64 in one numpy call and
  lets orjson write the array (``OPT_SERIALIZE_NUMPY``); the result is spliced
  into the answer as an ``orjson.Fragment``. orjson writes a float64 array
  element with the same routine as a Python float, so the bytes are those of
  ``orjson.dumps(vec.tolist())``: every float32 value keeps the spelling of the
  float64 it widens to (``0.10000000149011612``), as before. Checked for every
  finite float32 once (2**32 bit patterns, 2026-12-01) and by
  ``tests/local/test_wire_encoding.py`` (hypothesis) on each run.
* **Metadata**: `load_metadata` parses with orjson (about five times faster
  than ``json.loads``) and hands the dict to the answer as before, so the
  answer is orjson's writing of the same values whatever spelling the stored
  text has. The two parsers give different values in two cases only, and there
  ``json.loads`` is used, as before: text orjson refuses (``NaN``, lone
  surrogates, deep nesting) and integers beyond 64 bits, which orjson reads as
  floats (any float of magnitude 2**63 or more is re-read by ``json.loads``).
  The stored text is not spliced in as it is: Python's ``json`` spells some
  floats differently from orjson (``1e-05`` against ``0.00001``), so the
  answer would change for such records.

Sparse values stay Python lists (few values, rarely read).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

#: floats at least this large may have been integers orjson could not hold (> 64 bits)
_INT64_SPAN = float(2**63)


def json_values(vec: np.ndarray) -> orjson.Fragment:
    """A dense row as the JSON list ``orjson.dumps(vec.tolist())`` writes, without the list."""
    return orjson.Fragment(orjson.dumps(vec.astype(np.float64), option=orjson.OPT_SERIALIZE_NUMPY))


def load_metadata(text: str) -> Any:
    """Stored metadata text parsed to the same Python values ``json.loads`` gives, faster."""
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    if type(parsed) is dict and all(_same_in_both(v) for v in parsed.values()):
        return parsed
    return json.loads(text)


def _same_in_both(value: Any) -> bool:
    """Whether orjson surely parsed this metadata value as ``json.loads`` does.

    Stored metadata is flat: strings, numbers, booleans, lists of strings. Anything
    else (never written by this server) is left to ``json.loads``.
    """
    kind = type(value)
    if kind is str or kind is bool or kind is int:
        return True
    if kind is float:
        return -_INT64_SPAN < value < _INT64_SPAN
    if kind is list:
        return all(type(item) is str for item in value)
    return False


__all__ = ["json_values", "load_metadata"]
