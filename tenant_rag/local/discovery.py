"""How a data dir, and the ``tenant-rag serve`` running over it, are found.

The data dir rule (one rule for the library, ``serve`` and every CLI command):

1. an explicit argument (``--home``/``--data``), else
2. ``$TENANT_RAG_HOME``, else
3. the nearest folder named ``.tenant_rag`` in the current directory or one of
   its parents (as git finds ``.git``), else
4. ``./.tenant_rag``, which only commands that write create.

So after ``cd docs/`` a command still finds the project's ``.tenant_rag``
instead of starting an empty one.

A running ``tenant-rag serve`` advertises itself in its data dir: it holds an
exclusive ``flock`` on ``serve.lock`` for as long as it runs and writes its
address to ``serve.json``. A reader trusts the record only while the lock is
held, so a server that was killed (``kill -9`` included) is never mistaken
for a live one: the kernel drops the lock with the process. The record holds
no secret: whether a key is required, never the key.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

DATA_DIR_NAME = ".tenant_rag"
HOME_ENV = "TENANT_RAG_HOME"
RECORD_FILE = "serve.json"
LOCK_FILE = "serve.lock"


def find_data_dir(start: str | os.PathLike[str] | None = None) -> Path | None:
    """``$TENANT_RAG_HOME``, else the nearest existing ``.tenant_rag`` at or above ``start``.

    ``start`` defaults to the current directory. None when neither exists;
    an explicitly configured ``$TENANT_RAG_HOME`` is returned even when it
    does not exist yet (the caller decides whether to create it).
    """
    configured = os.environ.get(HOME_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / DATA_DIR_NAME
        if candidate.is_dir():
            return candidate
    return None


def default_data_dir(start: str | os.PathLike[str] | None = None) -> Path:
    """`find_data_dir`, else ``.tenant_rag`` in ``start`` (the current directory)."""
    found = find_data_dir(start)
    if found is not None:
        return found
    return (Path(start if start is not None else Path.cwd()) / DATA_DIR_NAME).resolve()


@dataclass(frozen=True)
class ServeRecord:
    """What a running ``tenant-rag serve`` says about itself in ``serve.json``."""

    pid: int
    url: str
    data_dir: str
    grpc_target: str | None = None
    key_required: bool = False
    started: float = 0.0
    #: the CA file clients trust when the server speaks TLS (``serve --tls``), else None
    ca_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def running_server(data_dir: str | os.PathLike[str]) -> ServeRecord | None:
    """The live ``tenant-rag serve`` over ``data_dir``, or None.

    Reads only: creates no file and no folder. A record whose lock nobody
    holds (the server stopped or was killed) is ignored.
    """
    folder = Path(data_dir)
    try:
        data = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        record = ServeRecord(
            pid=int(data["pid"]),
            url=str(data["url"]),
            data_dir=str(data.get("data_dir") or folder),
            grpc_target=data.get("grpc_target") or None,
            key_required=bool(data.get("key_required")),
            started=float(data.get("started") or 0.0),
            ca_file=data.get("ca_file") or None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if _lock_held(folder / LOCK_FILE, record.pid) else None


@contextlib.contextmanager
def advertise(
    data_dir: str | os.PathLike[str],
    url: str,
    *,
    grpc_target: str | None = None,
    key_required: bool = False,
    ca_file: str | None = None,
) -> Iterator[ServeRecord | None]:
    """Advertise a server over ``data_dir`` while the block runs.

    Yields the record written, or the record of the server that already
    advertises this data dir (then nothing is written: that one keeps
    serving CLI commands, and this one serves whoever connects to it).
    The record is removed and the lock released on exit.
    """
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    lock = (folder / LOCK_FILE).open("a+")
    try:
        if not _try_lock(lock):
            lock.close()
            yield None
            return
        record = ServeRecord(
            pid=os.getpid(),
            url=url,
            data_dir=str(folder.resolve()),
            grpc_target=grpc_target,
            key_required=key_required,
            started=time.time(),
            ca_file=ca_file,
        )
        tmp = folder / f".{RECORD_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record.to_dict(), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, folder / RECORD_FILE)
        try:
            yield record
        finally:
            with contextlib.suppress(OSError):
                current = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
                if current.get("pid") == record.pid:
                    (folder / RECORD_FILE).unlink()
    finally:
        lock.close()  # closing the file releases the lock


def _try_lock(handle: IO[str], attempts: int = 10) -> bool:
    """Take the exclusive lock; a few short retries ride out a reader's brief shared lock."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the pid check in `_lock_held` stands in
        return True
    for attempt in range(attempts):
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if attempt + 1 < attempts:
                time.sleep(0.02)
    return False


def _lock_held(path: Path, pid: int) -> bool:
    """True when some process holds ``path``'s lock (the advertising server is alive)."""
    try:
        import fcntl
    except ImportError:
        return pid_alive(pid)
    try:
        handle = path.open("r")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True  # held exclusively: the server is running
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
