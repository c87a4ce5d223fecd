"""A child-process embedded server the tests can SIGKILL, and a raw REST client for it.

The client speaks plain HTTP (httpx, no retries, short timeouts) on purpose:
the crash test must know exactly which writes the server acknowledged, and
the SDK's own retries would blur that line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

SERVE = Path(__file__).with_name("_serve.py")


class ServerProcess:
    """``_serve.py`` in a child process; ``url`` once ready; ``kill()`` sends SIGKILL."""

    def __init__(
        self,
        data_dir: Path,
        *,
        api_key: str | None = None,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        timeout: float = 60.0,
        durability: str | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        """``durability``: the server's mode (default: the server's default); ``prefix``: a
        command to run the server under (``strace ...``)."""
        args = [*(prefix or []), sys.executable, str(SERVE), str(data_dir)]
        args += [api_key] if api_key else []
        if durability is not None:
            env = {**(env or {}), "TENANT_RAG_TEST_DURABILITY": durability}
        self.log = log or data_dir.parent / f"{data_dir.name}-server.log"
        self._log_file = self.log.open("ab")
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env={**os.environ, **(env or {})},
            text=True,
            # its own process group: under a ``prefix`` (strace) the server is a grandchild,
            # and a SIGKILL of the child alone would leave it running
            start_new_session=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("READY "):
            self.kill()
            raise RuntimeError(f"server did not start; log: {self.log.read_text()[-2000:]}")
        self.url = line[0].split()[1]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the server, and a prefix's tracer
        self.proc.wait(10)
        self._log_file.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()


class RawIndex:
    """Upsert, delete, fetch and list on one index over plain HTTP."""

    def __init__(self, url: str, name: str, api_key: str = "local", timeout: float = 5.0) -> None:
        self.base = f"{url}/_index/{name}"
        self.http = httpx.Client(headers={"Api-Key": api_key}, timeout=timeout)

    def upsert(self, namespace: str, vectors: list[dict[str, Any]]) -> None:
        r = self.http.post(
            f"{self.base}/vectors/upsert", json={"vectors": vectors, "namespace": namespace}
        )
        r.raise_for_status()

    def delete(self, namespace: str, ids: list[str]) -> None:
        r = self.http.post(f"{self.base}/vectors/delete", json={"ids": ids, "namespace": namespace})
        r.raise_for_status()

    def fetch(self, namespace: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 200):
            params = [("ids", i) for i in ids[start : start + 200]] + [("namespace", namespace)]
            r = self.http.get(f"{self.base}/vectors/fetch", params=params)
            r.raise_for_status()
            out.update(r.json().get("vectors") or {})
        return out

    def list_ids(self, namespace: str) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"namespace": namespace, "limit": 100}
            if token:
                params["paginationToken"] = token
            r = self.http.get(f"{self.base}/vectors/list", params=params)
            if r.status_code == 404:
                return ids
            r.raise_for_status()
            body = r.json()
            ids += [v["id"] for v in body.get("vectors") or []]
            token = (body.get("pagination") or {}).get("next")
            if not token:
                return ids

    def close(self) -> None:
        self.http.close()


def create_index(url: str, name: str, dimension: int, api_key: str = "local") -> None:
    """Create a serverless index through the control plane (idempotent)."""
    r = httpx.post(
        f"{url}/indexes",
        headers={"Api-Key": api_key},
        json={
            "name": name,
            "dimension": dimension,
            "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
        },
        timeout=10,
    )
    if r.status_code not in (200, 201, 409):
        raise RuntimeError(f"create index: {r.status_code} {r.text}")
