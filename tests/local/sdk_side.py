"""Run a script under another pinecone SDK generation, from its cached venv ``.venv-sdk/<version>``.

The venvs are ``compat.sdk_venvs``'s (``make sdk-venvs``, or made on first use).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from compat.sdk_venvs import sdk_python

CLIENTS = Path(__file__).resolve().parent / "sdk_clients"


def run_client(
    version: str, script: str, args: dict[str, Any], env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``sdk_clients/<script>`` with ``args`` (JSON) under SDK ``version``; its JSON output."""
    proc = subprocess.run(
        [str(sdk_python(version)), str(CLIENTS / script), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"pinecone {version} {script} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_client_error(
    version: str, script: str, args: dict[str, Any], env: dict[str, str] | None = None
) -> str:
    """Like ``run_client`` for a run expected to fail; its stderr."""
    proc = subprocess.run(
        [str(sdk_python(version)), str(CLIENTS / script), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode != 0, f"pinecone {version} {script} succeeded: {proc.stdout}"
    return proc.stderr
