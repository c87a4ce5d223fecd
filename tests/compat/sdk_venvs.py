"""The Python of each pinecone SDK generation: this venv's (7.3.0) or a cached side venv's.

``.venv-sdk/<version>/`` is made by ``make sdk-venvs`` (a step of ``make test``); one
that is missing is made here the same way, so a test never skips an SDK silently.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sdk_python(version: str) -> Path:
    """The interpreter of the venv holding pinecone ``version`` (made if missing)."""
    if version == "7.3.0":
        return Path(sys.executable)
    venv = ROOT / ".venv-sdk" / version
    if not (venv / ".installed").exists():
        subprocess.run(["make", "-s", f".venv-sdk/{version}/.installed"], cwd=ROOT, check=True)
    return venv / "bin" / "python"
