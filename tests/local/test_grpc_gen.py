"""The committed gRPC code is what ``make grpc-gen`` makes from Pinecone's protos today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "tenant_rag" / "local" / "api" / "_grpc_gen"
SHARED_VERSIONS = ("2025_04", "2025_10", "2026_04")  # 2026-07 is not in ../shared


def test_generated_modules_match_the_shared_protos(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gen_grpc import default_api_dir
    finally:
        sys.path.pop(0)
    if not (default_api_dir() / "2025-04").is_dir():
        pytest.fail(
            f"Pinecone's protos are missing at {default_api_dir()} (../shared/pinecone-api)"
        )
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_grpc.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for version in SHARED_VERSIONS:
        for suffix in ("_pb2.py", "_pb2.pyi"):
            name = f"db_data_{version}{suffix}"
            assert (tmp_path / name).read_text() == (GEN / name).read_text(), name


def test_generated_code_loads_beside_the_sdks_own_protos() -> None:
    """Packages keep our messages apart from pinecone 7.3.0's top-level ones in one process."""
    code = (
        "from pinecone.core.grpc.protos import db_data_2025_04_pb2 as sdk\n"
        "from tenant_rag.local.api._grpc_gen import db_data_2025_04_pb2 as ours\n"
        "from tenant_rag.local.api._grpc_gen import db_data_2026_07_pb2 as newest\n"
        "raw = sdk.UpsertRequest(vectors=[sdk.Vector(id='x', values=[1.0])]).SerializeToString()\n"
        "assert newest.UpsertRequest.FromString(raw).vectors[0].id == 'x'\n"
        "assert ours.DESCRIPTOR.package == 'tenant_rag_local.db_data_2025_04'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
