"""Loaders: turn ``sources`` (paths, directories, globs, LangChain Documents, records) into documents.

Every source becomes one or more `SourceDocument` (a stable ``doc_id``, its
text, its metadata), or a `LoadFailure` naming what was wrong, so one bad
file never stops a run. Documents are produced lazily, one file at a time,
so a large corpus is never held in memory.

Document ids:

* a file: its path relative to the root, with ``/`` separators, in Unicode
  NFC (`doc_id_for_path`; macOS writes NFD names, browsers send NFC: one
  file, one id). The root is ``root=`` when given; otherwise the directory
  that was passed, the static part of a glob (``docs/**/*.md`` → ``docs``), or
  a lone file's own folder. The chatbot backend's uploads follow the same rule
  (an upload's id is its file name), so a file has one id whichever way it came.
* a ``.jsonl`` line / an item of a ``.json`` array: ``"{path}:{id}"``, where ``id``
  is the item's ``doc_id`` or ``id`` field, else its 1-based position.
* a LangChain ``Document``: ``Document.id``, else ``metadata["doc_id"]``, else
  ``metadata["source"]``.
* a record ``(doc_id, text[, metadata])``: its ``doc_id``.

File types: ``.txt .md .markdown .html .htm .pdf .json .jsonl``. Text is read as
UTF-8 (a BOM is dropped); binary files (NUL bytes) and non-UTF-8 files fail
with a message that says so; empty documents are skipped. Inside a directory
(or matched by a glob), files of other types are skipped and counted in the
report, and hidden files (``.git/``, ``.DS_Store``) are ignored; a file named
explicitly with an unsupported suffix fails.
"""

from __future__ import annotations

import glob
import json
import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".json", ".jsonl"}
_TEXT_KEYS = ("text", "content", "page_content", "body")
_ID_KEYS = ("doc_id", "id")
_GLOB_CHARS = frozenset("*?[")


@dataclass
class SourceDocument:
    """One document to ingest: a stable id, its full text, and metadata to copy into each chunk."""

    doc_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    #: where the document came from, for conflict checks: a file's absolute path, a
    #: Document's or record's ``metadata["source"]``; None when nothing says
    origin: str | None = None
    #: the access list an ``.acl.json`` sidecar gives the file (None: no sidecar names it)
    acl: list[str] | None = None


@dataclass
class LoadFailure:
    """A source that produced no document: why, and which document ids it stands for.

    ``skipped`` marks benign cases (an empty file) that are reported apart
    from failures. ``protects`` is the document id (and ``id:`` prefix) a
    ``sync=True`` run must not delete, since the document may still exist.
    ``not_a_document``: a file of a type ingestion does not read (a ``.bin``
    in a folder), so a source holding only such files holds no document.
    """

    key: str
    reason: str
    skipped: bool = False
    protects: str | None = None
    not_a_document: bool = False


Loaded = SourceDocument | LoadFailure


@dataclass(frozen=True)
class FileSource:
    """A file to load and its document id (its path relative to the root).

    ``listed``: found inside a folder or by a glob rather than named, so an
    unsupported type is skipped (and counted) instead of failing.
    """

    path: Path
    rel: str
    listed: bool = False


def is_path_like(source: Any) -> bool:
    return isinstance(source, str | os.PathLike)


def expand_paths(sources: Iterable[Any], root: str | os.PathLike[str] | None) -> Iterator[Any]:
    """Paths, directories and globs become `FileSource`s; other sources pass through.

    Raises `FileNotFoundError` for a path that does not exist or a glob that
    matches no file, so a typo is an error rather than an empty (or, with
    ``sync=True``, destructive) run.
    """
    root_path = Path(root).resolve() if root is not None else None
    for source in sources:
        if not is_path_like(source):
            yield source
            continue
        text = os.fspath(source)
        if any(c in text for c in _GLOB_CHARS) and not Path(text).exists():
            base = _glob_base(text)
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
            files = [
                path
                for path in matches
                if path.is_file()
                and not _hidden(path.relative_to(base) if _under(path, base) else path)
            ]
            if not files:  # a typo in a pattern is an error, not an empty (or syncing) run
                raise FileNotFoundError(f"the glob {text!r} matches no file.")
            for path in files:
                yield FileSource(path, _rel(path, root_path or base), listed=True)
            continue
        path = Path(text)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not _hidden(child.relative_to(path)):
                    yield FileSource(child, _rel(child, root_path or path), listed=True)
        elif path.is_file():
            yield FileSource(path, _rel(path, root_path or path.parent))
        else:
            raise FileNotFoundError(f"source {text!r} does not exist (not a file, folder or glob).")


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    static: list[str] = []
    for part in parts:
        if any(c in part for c in _GLOB_CHARS):
            break
        static.append(part)
    return Path(*static) if static else Path(".")


def _under(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
        return True
    except ValueError:
        return False


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def doc_id_for_path(rel: str) -> str:
    """The document id of a file at ``rel`` (POSIX, relative to its root): ``rel`` in NFC.

    The one rule for files, whether ingested from disk (CLI, ``ingest()``) or
    uploaded to the chatbot backend. Lossless: no character is replaced, so
    two names never share an id unless they are canonically the same text.
    """
    return unicodedata.normalize("NFC", rel)


def _rel(path: Path, root: Path) -> str:
    if ".." not in path.parts and ".." not in root.parts:
        if path.is_absolute() != root.is_absolute():
            path, root = path.absolute(), root.absolute()
        try:  # cheap and exact for files found under the folder that was passed
            return doc_id_for_path(path.relative_to(root).as_posix())
        except ValueError:
            pass
    try:
        return doc_id_for_path(path.resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        raise ValueError(
            f"{path} is not under the root {root}; pass root= a folder that contains every source."
        ) from None


# -- turning sources into documents --------------------------------------------------------------


def load(item: Any, position: int, *, sidecars: bool = True) -> Iterator[Loaded]:
    """The documents (or failures) of one expanded source.

    ``sidecars``: give files the access list of their ``.acl.json`` sidecar
    (`tenant_rag.ingestion.sidecar`).
    """
    if isinstance(item, FileSource):
        yield from load_file(item, sidecars=sidecars)
    elif isinstance(item, Document):
        yield from _from_document(item, position)
    elif isinstance(item, tuple | list) and len(item) in (2, 3):
        yield from _from_record(item, position)
    else:
        yield LoadFailure(
            f"source #{position}",
            f"unsupported source type {type(item).__name__}; pass a path, a directory, a glob, "
            "a LangChain Document or a (doc_id, text, metadata) tuple.",
        )


def _from_document(doc: Document, position: int) -> Iterator[Loaded]:
    md = dict(doc.metadata or {})
    doc_id = doc.id or md.get("doc_id") or md.get("source")
    if not doc_id:
        yield LoadFailure(
            f"document #{position}",
            "a Document needs an id: set Document.id or metadata['doc_id'] (or 'source').",
        )
        return
    yield from _checked(str(doc_id), doc.page_content, md, str(md.get("source") or doc_id))


def _from_record(rec: tuple[Any, ...] | list[Any], position: int) -> Iterator[Loaded]:
    doc_id, text = rec[0], rec[1]
    md = dict(rec[2] or {}) if len(rec) == 3 else {}
    if not isinstance(doc_id, str) or not doc_id:
        yield LoadFailure(f"record #{position}", "a record's doc_id must be a non-empty string.")
        return
    if not isinstance(text, str):
        yield LoadFailure(doc_id, f"a record's text must be a string, not {type(text).__name__}.")
        return
    yield from _checked(doc_id, text, md, str(md.get("source") or doc_id))


def _checked(
    doc_id: str, text: str, md: dict[str, Any], source: str, origin: str | None = None
) -> Iterator[Loaded]:
    if not text.strip():
        yield LoadFailure(doc_id, "empty document (no text)", skipped=True, protects=doc_id)
    else:
        if origin is None and md.get("source"):
            origin = str(md["source"])
        yield SourceDocument(doc_id, text, md, source, origin)


def file_origin(path: Path) -> str:
    """Where a file came from, for telling two sources of one document id apart.

    The path relative to the working directory when the file lies under it (so a
    checkout ingested from its own root has the same origins wherever it is cloned,
    and no home directory lands in the index), else the absolute path.
    """
    full = path.resolve()
    try:
        return full.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return full.as_posix()


def load_file(fs: FileSource, *, sidecars: bool = True) -> Iterator[Loaded]:
    """Load one file by its suffix; every problem becomes a `LoadFailure` naming the file.

    With ``sidecars``, each document of the file carries the access list its
    ``.acl.json`` sidecar gives it; a sidecar that cannot be used fails the
    file (it is never loaded without the access list it was meant to have).
    """
    acl = None
    if sidecars:
        from tenant_rag.ingestion.sidecar import SidecarError, sidecar_acl

        try:
            acl = sidecar_acl(fs.path)
        except SidecarError as exc:
            yield LoadFailure(fs.rel, str(exc), protects=fs.rel)
            return
    for loaded in _load_file(fs):
        if acl is not None and isinstance(loaded, SourceDocument):
            loaded.acl = acl
        yield loaded


def _load_file(fs: FileSource) -> Iterator[Loaded]:
    suffix = fs.path.suffix.lower()
    origin = file_origin(fs.path)
    try:
        if suffix in TEXT_SUFFIXES:
            yield from _checked(fs.rel, read_text(fs.path), {}, fs.rel, origin)
        elif suffix in HTML_SUFFIXES:
            title, text = html_text(read_text(fs.path))
            yield from _checked(fs.rel, text, {"title": title} if title else {}, fs.rel, origin)
        elif suffix == ".pdf":
            pages, text = pdf_text(fs.path)
            yield from _checked(fs.rel, text, {"pages": pages}, fs.rel, origin)
        elif suffix == ".json":
            yield from _json_documents(fs, json.loads(read_text(fs.path)))
        elif suffix == ".jsonl":
            yield from _jsonl_documents(fs)
        elif fs.listed:  # found in a folder: counted as skipped, not silently dropped
            yield LoadFailure(
                fs.rel,
                f"unsupported file type {suffix or '(none)'!r}, not ingested",
                skipped=True,
                not_a_document=True,
            )
        else:
            yield LoadFailure(
                fs.rel,
                f"unsupported file type {suffix or '(none)'!r}; supported: "
                f"{' '.join(sorted(SUPPORTED_SUFFIXES))}.",
                protects=fs.rel,
            )
    except LoadError as exc:
        yield LoadFailure(fs.rel, str(exc), protects=fs.rel)
    except json.JSONDecodeError as exc:
        yield LoadFailure(fs.rel, f"invalid JSON: {exc}", protects=fs.rel)
    except OSError as exc:
        yield LoadFailure(fs.rel, f"cannot read the file: {exc.strerror or exc}", protects=fs.rel)


class LoadError(Exception):
    """A file's content cannot become text; the message says why."""


def read_text(path: Path) -> str:
    """The file as UTF-8 text; binary or non-UTF-8 content raises `LoadError` saying which."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise LoadError("binary file (it contains NUL bytes), not text; remove it or convert it.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-save the file as UTF-8."
        ) from None


def html_text(html: str) -> tuple[str, str]:
    """(title, visible text) of an HTML page; scripts and styles are dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return title, "\n".join(line for line in lines if line)


def pdf_text(path: Path) -> tuple[int, str]:
    """(page count, text of every page) of a PDF."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF; decrypt it first.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on malformed files
        raise LoadError(f"unreadable PDF ({type(exc).__name__}: {exc})") from None
    return len(pages), "\n\n".join(p.strip() for p in pages if p.strip())


def _item_document(fs: FileSource, item: Any, n: int) -> Loaded:
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, dict):
        return LoadFailure(f"{fs.rel}:{n}", f"item {n} is a {type(item).__name__}, not an object.")
    key = next((item[k] for k in _ID_KEYS if isinstance(item.get(k), str | int)), n)
    doc_id = f"{fs.rel}:{key}"
    text = next((item[k] for k in _TEXT_KEYS if isinstance(item.get(k), str)), None)
    if text is None:
        return LoadFailure(
            doc_id, f"item {n} has no text field (one of {', '.join(_TEXT_KEYS)}).", protects=doc_id
        )
    md = _dict_field(item, "metadata")
    extra = {k: v for k, v in item.items() if k not in (*_TEXT_KEYS, *_ID_KEYS, "metadata")}
    return next(iter(_checked(doc_id, text, {**extra, **md}, fs.rel, file_origin(fs.path))))


def _dict_field(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    return value if isinstance(value, dict) else {}


def _json_documents(fs: FileSource, data: Any) -> Iterator[Loaded]:
    if isinstance(data, list):
        for n, item in enumerate(data, 1):
            yield _item_document(fs, item, n)
    elif isinstance(data, dict) and any(isinstance(data.get(k), str) for k in _TEXT_KEYS):
        text = next(data[k] for k in _TEXT_KEYS if isinstance(data.get(k), str))
        md = _dict_field(data, "metadata")
        extra = {k: v for k, v in data.items() if k not in (*_TEXT_KEYS, *_ID_KEYS, "metadata")}
        yield from _checked(fs.rel, text, {**extra, **md}, fs.rel, file_origin(fs.path))
    else:  # any other JSON: index its text as written, so its keys and values are searchable
        text = json.dumps(data, indent=1, ensure_ascii=False)
        yield from _checked(fs.rel, text, {}, fs.rel, file_origin(fs.path))


def _jsonl_documents(fs: FileSource) -> Iterator[Loaded]:
    text = read_text(fs.path)
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        yield LoadFailure(fs.rel, "empty document (no lines)", skipped=True, protects=fs.rel)
        return
    for n, line in lines:
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LoadFailure(
                f"{fs.rel}:{n}", f"line {n} is not valid JSON: {exc.msg}", protects=fs.rel
            )
            continue
        yield _item_document(fs, item, n)
