"""``.acl.json`` sidecars: access lists for the files of a folder, by path pattern.

A folder may hold a file named ``.acl.json`` mapping path patterns, relative
to that folder, to access lists (`tenant_rag.tenancy.acl`)::

    {
      "hr/*":           ["group:hr"],
      "board/minutes*": ["group:board", "user:ceo"],
      "*.md":           ["tenant"]
    }

For each file `ingest` loads, the sidecars of its folder and of every folder
above it are consulted, nearest first; in each, patterns are tried in the
order written and the first that matches the file's path relative to that
folder gives the access list (``fnmatch``: ``*`` also matches ``/``). The
walk goes past the run's root on purpose: ingesting ``docs/hr/pay.md`` on
its own is governed by ``docs/.acl.json`` exactly like ingesting ``docs/``.

A sidecar that cannot be read, is not a JSON object, or holds an invalid
access list fails every file it could govern (reported by name), so no file
is ever ingested with wider access than its sidecar meant. Hidden files are
never ingested, so the sidecar itself is not a document.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from pathlib import Path
from typing import Any

from tenant_rag.errors import InvalidAclError
from tenant_rag.tenancy.acl import normalize_acl

#: The sidecar's file name.
SIDECAR_NAME = ".acl.json"

_lock = threading.Lock()
#: folder -> (stat key, parsed rules or the error) ; re-read when the file changes
_cache: dict[Path, tuple[Any, list[tuple[str, list[str]]] | str | None]] = {}


class SidecarError(Exception):
    """A sidecar that governs a file cannot be used; the message names it and why."""


def _stat_key(path: Path) -> Any:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _parse(path: Path) -> list[tuple[str, list[str]]] | str:
    """The sidecar's rules, or a message saying why it cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"access-list sidecar {path} cannot be read: {exc}"
    if not isinstance(data, dict):
        return (
            f"access-list sidecar {path} must hold a JSON object mapping path patterns to "
            'access lists, e.g. {"hr/*": ["group:hr"]}.'
        )
    rules: list[tuple[str, list[str]]] = []
    for pattern, acl in data.items():
        if not pattern:
            return f"access-list sidecar {path} has an empty pattern."
        try:
            normalized = normalize_acl(acl)
        except InvalidAclError as exc:
            return f"access-list sidecar {path}, pattern {pattern!r}: {exc}"
        if normalized is None:
            return (
                f"access-list sidecar {path}, pattern {pattern!r}: null is not an access list; "
                'use ["tenant"] for everyone in the tenant or [] for admins only.'
            )
        rules.append((pattern, normalized))
    return rules


def _rules(folder: Path) -> list[tuple[str, list[str]]] | str | None:
    path = folder / SIDECAR_NAME
    key = _stat_key(path)
    with _lock:
        cached = _cache.get(folder)
        if cached is not None and cached[0] == key:
            return cached[1]
    rules = _parse(path) if key is not None else None
    with _lock:
        if len(_cache) > 4096:
            _cache.clear()
        _cache[folder] = (key, rules)
    return rules


def sidecar_acl(path: Path) -> list[str] | None:
    """The access list the nearest matching ``.acl.json`` gives ``path`` (None: none does).

    Raises `SidecarError` when a sidecar on the way up cannot be used.
    """
    file = path.absolute()
    for folder in file.parents:
        rules = _rules(folder)
        if rules is None:
            continue
        if isinstance(rules, str):
            raise SidecarError(rules)
        rel = file.relative_to(folder).as_posix()
        for pattern, acl in rules:
            if fnmatch.fnmatchcase(rel, pattern):
                return acl
    return None


__all__ = ["SIDECAR_NAME", "SidecarError", "sidecar_acl"]
