"""Metadata fields of a big namespace as numpy columns, so a filter is a few array operations.

Why: a filter checked row by row in Python costs far more than the approximate search of a
big namespace itself (benchmarks/FIGURES.md), and under metadata isolation every query of
the shared namespace is filtered.
A field's column is built the first time a filter names it (one pass over the rows'
metadata), then kept in step with every write, like the vectors: overwrite in place,
swap-remove, append.

One column per field, one slot per row:

* ``kind``: 0 missing, 1 string, 2 number, 3 boolean, 4 list of strings;
* ``code``: a string's code in the column's vocabulary, a boolean as 0/1, else -1;
* ``num``: a number as float64, NaN otherwise (so comparisons are False, as in Python);
* ``lists``: row -> the codes of its list of strings (lists are rare; checked per row).

The semantics are those of ``filters.py`` (Pinecone's): a list matches ``$eq``/``$in`` when
any element matches, ``$ne``/``$nin`` are their negations (a missing field passes them),
comparisons see numbers only, booleans never equal numbers. An integer beyond 2**53 cannot
be compared exactly as a float64; a filter over such a field (or with such an operand) is
declined and the caller checks it row by row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from tenant_rag.local.engine.filters import Node

MISSING, STRING, NUMBER, BOOLEAN, LIST = 0, 1, 2, 3, 4
_EXACT_INT = 2**53


class Unsupported(Exception):
    """This filter cannot be evaluated on columns exactly; check it row by row."""


class Column:
    """One metadata field over every row of a namespace."""

    def __init__(self, capacity: int) -> None:
        self.kind = np.zeros(capacity, dtype=np.int8)
        self.code = np.full(capacity, -1, dtype=np.int32)
        self.num = np.full(capacity, np.nan, dtype=np.float64)
        self.lists: dict[int, frozenset[int]] = {}
        self.vocab: dict[str, int] = {}
        self.inexact: set[int] = set()  # rows holding an integer float64 cannot represent

    def _code(self, text: str) -> int:
        code = self.vocab.get(text)
        if code is None:
            code = self.vocab[text] = len(self.vocab)
        return code

    def put(self, row: int, value: Any) -> None:
        """Row ``row`` now holds ``value`` (``_ABSENT`` when the field is missing)."""
        self.clear(row)
        if value is _ABSENT:
            return
        if isinstance(value, bool):
            self.kind[row], self.code[row] = BOOLEAN, int(value)
        elif isinstance(value, str):
            self.kind[row], self.code[row] = STRING, self._code(value)
        elif isinstance(value, int | float):
            self.kind[row], self.num[row] = NUMBER, float(value)
            if isinstance(value, int) and abs(value) > _EXACT_INT:
                self.inexact.add(row)
        elif isinstance(value, list):
            self.kind[row] = LIST
            self.lists[row] = frozenset(self._code(v) for v in value if isinstance(v, str))

    def clear(self, row: int) -> None:
        if self.kind[row] == LIST:
            del self.lists[row]
        self.inexact.discard(row)
        self.kind[row], self.code[row], self.num[row] = MISSING, -1, np.nan

    def move(self, src: int, dst: int) -> None:
        """Row ``src``'s value moves to row ``dst`` (a swap-remove); ``src`` is cleared."""
        self.clear(dst)
        self.kind[dst], self.code[dst], self.num[dst] = (
            self.kind[src],
            self.code[src],
            self.num[src],
        )
        if self.kind[src] == LIST:
            self.lists[dst] = self.lists.pop(src)
        if src in self.inexact:
            self.inexact.discard(src)
            self.inexact.add(dst)
        self.kind[src], self.code[src], self.num[src] = MISSING, -1, np.nan

    def resize(self, capacity: int, keep: int) -> None:
        kind = np.zeros(capacity, dtype=np.int8)
        code = np.full(capacity, -1, dtype=np.int32)
        num = np.full(capacity, np.nan, dtype=np.float64)
        kind[:keep], code[:keep], num[:keep] = self.kind[:keep], self.code[:keep], self.num[:keep]
        self.kind, self.code, self.num = kind, code, num

    def nbytes(self) -> int:
        return self.kind.nbytes + self.code.nbytes + self.num.nbytes + 80 * len(self.vocab)

    # -- evaluation ------------------------------------------------------------
    def equal(self, operand: Any, n: int) -> np.ndarray:
        """Rows whose value equals ``operand`` (any element, for lists)."""
        kind = self.kind[:n]
        if isinstance(operand, bool):
            return (kind == BOOLEAN) & (self.code[:n] == int(operand))
        if isinstance(operand, str):
            code = self.vocab.get(operand)
            out = np.zeros(n, dtype=bool)
            if code is None:
                return out
            out |= (kind == STRING) & (self.code[:n] == code)
            for row, codes in self.lists.items():
                if code in codes:
                    out[row] = True
            return out
        if isinstance(operand, int) and abs(operand) > _EXACT_INT:
            raise Unsupported
        return (kind == NUMBER) & (self.num[:n] == float(operand))

    def any_of(self, operands: list[Any], n: int) -> np.ndarray:
        """Rows whose value equals any of ``operands`` ($in)."""
        out = np.zeros(n, dtype=bool)
        strings = {self.vocab[o] for o in operands if isinstance(o, str) and o in self.vocab}
        if strings:
            out |= (self.kind[:n] == STRING) & np.isin(self.code[:n], list(strings))
            for row, codes in self.lists.items():
                if not codes.isdisjoint(strings):
                    out[row] = True
        for o in operands:
            if not isinstance(o, str):
                out |= self.equal(o, n)
        return out


_ABSENT = object()


class Columns:
    """The columns built so far for one namespace (fields named by filters)."""

    def __init__(self) -> None:
        self.fields: dict[str, Column] = {}

    def build(self, fields: list[str], metas: Iterable[dict[str, Any]], capacity: int) -> None:
        """Columns for ``fields`` from every row's metadata, in row order (one pass)."""
        cols = [(f, Column(capacity)) for f in fields]
        for row, md in enumerate(metas):
            for field, col in cols:
                col.put(row, md.get(field, _ABSENT))
        self.fields.update(cols)

    def on_set(self, row: int, meta: str | dict[str, Any] | None) -> None:
        if not self.fields:
            return
        md = _as_dict(meta)
        for field, col in self.fields.items():
            col.put(row, md.get(field, _ABSENT))

    def on_remove(self, row: int, last: int) -> None:
        for col in self.fields.values():
            if row != last:
                col.move(last, row)
            else:
                col.clear(row)

    def resize(self, capacity: int, keep: int) -> None:
        for col in self.fields.values():
            col.resize(capacity, keep)

    def nbytes(self) -> int:
        return sum(c.nbytes() for c in self.fields.values())

    def evaluate(self, node: Node, n: int, column: Any) -> np.ndarray:
        """The rows ``node`` allows, as a boolean mask of length ``n``. ``column(field)``
        returns the field's column, building it when needed. Raises ``Unsupported``."""
        op = node[0]
        if op in ("$and", "$or"):
            parts = [self.evaluate(sub, n, column) for sub in node[1]]
            out = parts[0].copy()
            for p in parts[1:]:
                if op == "$and":
                    out &= p
                else:
                    out |= p
            return out
        field, operand = node[1], node[2]
        col: Column = column(field)
        if col.inexact:
            raise Unsupported
        kind = col.kind[:n]
        if op == "$exists":
            return (kind != MISSING) if operand else (kind == MISSING)
        if op == "$eq":
            return col.equal(operand, n)
        if op == "$ne":
            return ~col.equal(operand, n)
        if op == "$in":
            return col.any_of(operand, n)
        if op == "$nin":
            return ~col.any_of(operand, n)
        num = col.num[:n]
        with np.errstate(invalid="ignore"):
            if op == "$gt":
                return num > operand
            if op == "$gte":
                return num >= operand
            if op == "$lt":
                return num < operand
            return num <= operand


def _as_dict(meta: str | dict[str, Any] | None) -> dict[str, Any]:
    if meta is None:
        return {}
    if isinstance(meta, dict):
        return meta
    parsed = json.loads(meta)
    return parsed if isinstance(parsed, dict) else {}
