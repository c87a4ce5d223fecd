"""The keys a running server checks against, reloaded when the keys file changes.

Adding or revoking a tenant's key should not need a restart (which would drop
every open chat stream and every ingestion job in flight). A `KeyStore` built
from a keys file looks at the file's size, modification time and inode at
most once per ``interval`` seconds, on the request path, and reloads when any
changed. A file that no longer loads (a typo, plain keys, no tenant key) is
reported in the log and the previous keys stay in force until the file is
fixed: a broken edit must not lock every tenant out, and the log says so.
Keys from the environment cannot change, so such a store never reloads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from tenant_rag.chat.config import KEYS_FILE_ENV, KeyRing, load_keys, load_keys_file
from tenant_rag.chat.logs import install_redaction
from tenant_rag.errors import ConfigurationError

log = logging.getLogger("tenant_rag.chat")

#: Seconds between two looks at the keys file.
DEFAULT_RELOAD_INTERVAL = 1.0


class KeyStore:
    """The current `KeyRing`, and where it came from (a file to watch, or nothing)."""

    def __init__(
        self,
        ring: KeyRing,
        path: str | os.PathLike[str] | None = None,
        *,
        interval: float = DEFAULT_RELOAD_INTERVAL,
    ) -> None:
        self._ring = ring
        self.path = Path(path) if path is not None else None
        self.interval = interval
        self._lock = threading.Lock()
        self._signature = self._stat()
        self._next_check = time.monotonic() + interval
        self.reloads = 0

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        interval: float = DEFAULT_RELOAD_INTERVAL,
    ) -> KeyStore:
        """Keys from ``path`` (watched), else ``TENANT_RAG_CHAT_KEYS_FILE`` (watched), else the
        environment (fixed). Raises `ConfigurationError` as `load_keys` does."""
        source: Mapping[str, str] = os.environ if env is None else env
        path = path or source.get(KEYS_FILE_ENV) or None
        return cls(load_keys(path, env=source), path, interval=interval)

    def _stat(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    @property
    def ring(self) -> KeyRing:
        """The keys in force now (the file is looked at when ``interval`` has passed)."""
        if self.path is not None and time.monotonic() >= self._next_check:
            self.refresh()
        return self._ring

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the file if it changed (or ``force``); True when new keys are in force."""
        if self.path is None:
            return False
        with self._lock:
            self._next_check = time.monotonic() + self.interval
            signature = self._stat()
            if signature == self._signature and not force:
                return False
            self._signature = signature
            try:
                ring = load_keys_file(self.path)
                if not ring.tenants:
                    raise ConfigurationError("it has no tenant keys")
            except ConfigurationError as exc:
                log.error(
                    "keys file %s changed but cannot be used (%s); the previous keys stay in "
                    "force until it is fixed",
                    self.path,
                    exc,
                )
                return False
            install_redaction(ring.secrets())
            self._ring = ring
            self.reloads += 1
        log.info(
            "keys file %s reloaded: tenants=%s, admin keys=%d",
            self.path,
            ", ".join(ring.tenants),
            ring.admin_count,
        )
        return True

    @property
    def tenants(self) -> list[str]:
        return self.ring.tenants

    @property
    def admin_count(self) -> int:
        return self.ring.admin_count

    def __repr__(self) -> str:
        return f"KeyStore({self._ring!r}, path={str(self.path) if self.path else None!r})"
