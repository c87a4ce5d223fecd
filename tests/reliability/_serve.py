"""Run the embedded server in a child process for the crash and fault tests.

``python tests/reliability/_serve.py DATA_DIR [API_KEY]`` prints ``READY <url>``
once the server accepts requests, then blocks until killed. The tests
SIGKILL it, which is the point: no shutdown hook runs. We start the server
through ``tenant_rag.local.start`` rather than ``tenant-rag serve`` because
the CLI's imports add about 4 s per start on 2 cores, and the crash test
restarts dozens of times (``tenant-rag serve`` itself is covered in
tests/local/test_cli_serve.py). ``TENANT_RAG_FAULTS`` is honoured, since
``start()`` reads it; ``TENANT_RAG_TEST_DURABILITY`` picks the durability mode.
"""

from __future__ import annotations

import os
import sys
import threading

from tenant_rag.local import start


def main() -> None:
    data_dir = sys.argv[1]
    api_key = sys.argv[2] if len(sys.argv) > 2 else None
    kwargs = {}
    if durability := os.environ.get("TENANT_RAG_TEST_DURABILITY"):
        kwargs["durability"] = durability
    srv = start(data_dir, api_key=api_key, **kwargs)  # type: ignore[arg-type]
    print(f"READY {srv.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
