"""Pinecone's metadata filter language, compiled once per request into a predicate.

Grammar (as Pinecone documents it)::

    filter   := {clause, ...}                      # clauses are ANDed
    clause   := "$and": [filter, ...] | "$or": [filter, ...]
              | field: scalar                      # implicit $eq
              | field: {op: operand, ...}          # ops are ANDed
    op       := $eq $ne $gt $gte $lt $lte $in $nin $exists

Semantics, matching Pinecone:
* A list-of-strings field matches ``$eq``/``$in`` when any element matches, and
  ``$ne``/``$nin`` when no element matches.
* ``$gt``/``$gte``/``$lt``/``$lte`` compare numbers only.
* A record without the field fails every operator except ``$ne``, ``$nin`` and
  ``$exists: false``.
* Booleans never equal numbers (``True`` is not ``1``).

Anything else is a 400 that names the offending operator or operand. Before
compiling, ``check_shape`` walks the filter without recursion and refuses one nested
deeper than ``MAX_FILTER_DEPTH`` levels of ``$and``/``$or`` or holding more than
``MAX_FILTER_OPERATORS`` conditions, so the recursive compiler and the predicates it
builds never approach Python's recursion limit (a filter nested 3,000 deep was a 500).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from tenant_rag.local.engine.errors import bad_request, short
from tenant_rag.local.engine.limits import MAX_FILTER_DEPTH, MAX_FILTER_OPERATORS, MAX_IN_VALUES

_Check = Callable[[dict[str, Any]], bool]
#: A compiled filter's tree, for evaluation on columns (``columns.py``):
#: ``("$and" | "$or", [Node, ...])`` or ``(op, field, operand)`` with the operand validated
#: (a scalar, a list of scalars for ``$in``/``$nin``, a bool for ``$exists``, a float bound).
Node = tuple[Any, ...]
_MISSING = object()


class Predicate:
    """A compiled filter: call it on one record's metadata, or evaluate ``node`` on columns."""

    __slots__ = ("check", "node")

    def __init__(self, check: _Check, node: Node) -> None:
        self.check = check
        self.node = node

    def __call__(self, md: dict[str, Any]) -> bool:
        return self.check(md)


_COMPARISONS = {"$gt", "$gte", "$lt", "$lte"}
_OPERATORS = {"$eq", "$ne", "$in", "$nin", "$exists", *_COMPARISONS}


def compile_filter(flt: Any) -> Predicate | None:
    """Compile a filter; ``None`` or ``{}`` means "no filter" and returns ``None``."""
    if flt is None:
        return None
    if not isinstance(flt, dict):
        raise bad_request(f"filter must be an object, got {type(flt).__name__}")
    if not flt:
        return None
    check_shape(flt)
    return _compile_object(flt)


def check_shape(flt: dict[str, Any]) -> None:
    """400 when ``flt`` nests ``$and``/``$or`` too deep or holds too many conditions.

    Iterative, so it is safe on any input the JSON parser accepted.
    """
    operators = 0
    stack: list[tuple[dict[str, Any], int]] = [(flt, 1)]
    while stack:
        node, depth = stack.pop()
        for key, value in node.items():
            operators += len(value) if isinstance(value, dict) and key[:1] != "$" else 1
            if key in ("$and", "$or") and isinstance(value, list):
                if depth > MAX_FILTER_DEPTH:
                    raise bad_request(
                        f"filter nests $and/$or more than {MAX_FILTER_DEPTH} levels deep; "
                        f"the limit is {MAX_FILTER_DEPTH} levels. Flatten the filter: $and "
                        "and $or take any number of conditions in one list."
                    )
                stack.extend((sub, depth + 1) for sub in value if isinstance(sub, dict))
        if operators > MAX_FILTER_OPERATORS:
            raise bad_request(
                f"filter has more than {MAX_FILTER_OPERATORS} conditions; the limit is "
                f"{MAX_FILTER_OPERATORS}. Use $in/$nin for long lists of values (up to "
                f"{MAX_IN_VALUES} values each)."
            )


def _compile_object(flt: Any) -> Predicate:
    if not isinstance(flt, dict) or not flt:
        raise bad_request(f"each filter in $and/$or must be a non-empty object, got {short(flt)}")
    parts = [_compile_clause(key, value) for key, value in flt.items()]
    if len(parts) == 1:
        return parts[0]
    checks = [p.check for p in parts]
    return Predicate(lambda md: all(c(md) for c in checks), ("$and", [p.node for p in parts]))


def _compile_clause(key: str, value: Any) -> Predicate:
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            raise bad_request(f"{key} takes a non-empty list of filters, got {short(value)}")
        subs = [_compile_object(v) for v in value]
        checks = [s.check for s in subs]
        node = (key, [s.node for s in subs])
        if key == "$and":
            return Predicate(lambda md: all(c(md) for c in checks), node)
        return Predicate(lambda md: any(c(md) for c in checks), node)
    if key.startswith("$"):
        raise bad_request(
            f"unsupported filter operator {key!r} at the top level; use $and, $or or a field name"
        )
    if isinstance(value, dict):
        if not value:
            raise bad_request(f"filter for field {key!r} is an empty object")
        preds = [_compile_operator(key, op, operand) for op, operand in value.items()]
        if len(preds) == 1:
            return preds[0]
        checks = [p.check for p in preds]
        return Predicate(lambda md: all(c(md) for c in checks), ("$and", [p.node for p in preds]))
    return _compile_operator(key, "$eq", value)


def _scalar(field: str, op: str, operand: Any) -> Any:
    if isinstance(operand, bool | str):
        return operand
    if isinstance(operand, int | float) and math.isfinite(operand):
        return operand
    raise bad_request(
        f"{op} on field {field!r} needs a string, number or boolean, got {short(operand)}"
    )


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans and numbers apart."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _any_equal(value: Any, operand: Any) -> bool:
    if isinstance(value, list):
        return any(_same(v, operand) for v in value)
    return _same(value, operand)


def _any_in(value: Any, operands: list[Any]) -> bool:
    items = value if isinstance(value, list) else [value]
    return any(_same(v, o) for v in items for o in operands)


def _any_word(value: Any, words: frozenset[str]) -> bool:
    """`_any_in` for operands that are all strings: a string value, or any string element."""
    if isinstance(value, str):
        return value in words
    if isinstance(value, list):
        return any(isinstance(v, str) and v in words for v in value)
    return False


def _compile_operator(field: str, op: str, operand: Any) -> Predicate:
    if op not in _OPERATORS:
        raise bad_request(
            f"unsupported filter operator {op!r} on field {field!r}; supported: "
            + ", ".join(sorted(_OPERATORS))
        )
    if op == "$exists":
        if not isinstance(operand, bool):
            raise bad_request(
                f"$exists on field {field!r} needs true or false, got {short(operand)}"
            )
        want = operand
        return Predicate(lambda md: (field in md) is want, (op, field, want))
    if op == "$eq":
        v = _scalar(field, op, operand)
        return Predicate(lambda md: _any_equal(md.get(field, _MISSING), v), (op, field, v))
    if op == "$ne":
        v = _scalar(field, op, operand)
        return Predicate(lambda md: not _any_equal(md.get(field, _MISSING), v), (op, field, v))
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise bad_request(f"{op} on field {field!r} needs a list, got {short(operand)}")
        if len(operand) > MAX_IN_VALUES:
            raise bad_request(
                f"{op} on field {field!r} has {len(operand)} values; the limit is {MAX_IN_VALUES}"
            )
        vals = [_scalar(field, op, o) for o in operand]
        if all(isinstance(v, str) for v in vals):
            # strings only (tenant ids, access lists): set lookups, same answers as _any_in
            words = frozenset(vals)
            shape: Node = (op, field, vals)  # the columns path reads the same node
            if op == "$in":
                return Predicate(lambda md: _any_word(md.get(field, _MISSING), words), shape)
            return Predicate(lambda md: not _any_word(md.get(field, _MISSING), words), shape)
        if op == "$in":
            return Predicate(lambda md: _any_in(md.get(field, _MISSING), vals), (op, field, vals))
        return Predicate(lambda md: not _any_in(md.get(field, _MISSING), vals), (op, field, vals))
    # numeric comparisons
    if (
        isinstance(operand, bool)
        or not isinstance(operand, int | float)
        or not math.isfinite(operand)
    ):
        raise bad_request(f"{op} on field {field!r} needs a number, got {short(operand)}")
    bound = float(operand)
    cmp: Callable[[float], bool]
    node = (op, field, bound)
    if op == "$gt":
        cmp = lambda x: x > bound  # noqa: E731
    elif op == "$gte":
        cmp = lambda x: x >= bound  # noqa: E731
    elif op == "$lt":
        cmp = lambda x: x < bound  # noqa: E731
    else:
        cmp = lambda x: x <= bound  # noqa: E731

    def numeric(md: dict[str, Any]) -> bool:
        value = md.get(field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return cmp(value)

    return Predicate(numeric, node)


def node_fields(node: Node) -> list[str]:
    """The field names a compiled filter's tree mentions, each once, in order."""
    if node[0] in ("$and", "$or"):
        out: list[str] = []
        for sub in node[1]:
            out += [f for f in node_fields(sub) if f not in out]
        return out
    return [node[1]]


def filter_key(flt: Any) -> str:
    """A filter's canonical text: equal filters have equal keys (object key order ignored)."""
    return json.dumps(flt, sort_keys=True, separators=(",", ":"))


def filter_fields(flt: Any) -> set[str]:
    """Every field name a (valid) filter mentions, at any depth."""
    out: set[str] = set()
    if isinstance(flt, dict):
        for key, value in flt.items():
            if key in ("$and", "$or") and isinstance(value, list):
                for sub in value:
                    out |= filter_fields(sub)
            elif not key.startswith("$"):
                out.add(key)
    return out
