"""Regenerate ``tenant_rag/local/api/_grpc_gen/`` from Pinecone's data-plane ``.proto`` files.

Usage (``make grpc-gen`` runs it with the project venv, which has grpcio-tools)::

    python scripts/gen_grpc.py [--api-dir ../shared/pinecone-api] [--proto-2026-07 PATH]

Sources, all from Pinecone's public API repository ``pinecone-io/pinecone-api`` (Apache-2.0):

* ``2025-04``, ``2025-10``, ``2026-04``: ``<api-dir>/<version>/db_data_<version>.proto``
  (``../shared/pinecone-api/`` beside the clone, copied from that repository's May 2026 main).
* ``2026-07``: ``<api-dir>/2026-07/db_data_2026-07.proto`` when present, else ``--proto-2026-07``.
  It is not in ``../shared/``; it was read from ``pinecone-io/pinecone-api``, path
  ``2026-07/db_data_2026-07.proto``, commit ``6d2d0834766f956e84f6c065a8ccd03ca39dc861``.
  Without it the committed ``db_data_2026_07_pb2`` is left as it is.

One change is made to each file before ``protoc`` runs: a ``package`` line
(``tenant_rag_local.db_data_<version>``). Pinecone's files declare no package, so all
four define ``Vector``, ``QueryRequest``, ... at the top level of protobuf's
process-wide descriptor pool, as does the ``pinecone`` SDK's own copy when a client
runs in the same process; a second top-level ``Vector`` is a "duplicate symbol"
error. Packages keep them apart. The package never reaches the wire: message
bytes carry field numbers only, and the server registers its handlers under
Pinecone's method paths (``/VectorService/Upsert``, ...) itself.

The same run also regenerates the read-back client's own view of the Fetch messages,
``tenant_rag/ingestion/_grpc_gen/fetch_view_pb2`` from ``fetch_view.proto`` beside it
(written here, not Pinecone's: see that file; ``--view-out`` puts it elsewhere).

Only messages are generated (``--python_out``, ``--pyi_out``), no gRPC stubs: stubs
would name the packaged service path. grpcio-tools must bundle protoc 29.x or older
(grpcio-tools 1.71), so the code loads with the pinned protobuf 5.29 runtime.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_PACKAGE = "tenant_rag/local/api/_grpc_gen"
VERSIONS = ("2025-04", "2025-10", "2026-04", "2026-07")
SOURCE_2026_07 = (
    "pinecone-io/pinecone-api, 2026-07/db_data_2026-07.proto, "
    "commit 6d2d0834766f956e84f6c065a8ccd03ca39dc861"
)


def module_stem(version: str) -> str:
    """``2025-04`` -> ``db_data_2025_04`` (the generated module is ``<stem>_pb2``)."""
    return "db_data_" + version.replace("-", "_")


def with_package(text: str, version: str) -> str:
    """The proto text with ``package tenant_rag_local.<stem>;`` after its syntax line."""
    if re.search(r"^\s*package\s", text, re.M):
        raise SystemExit(f"{version}: the proto now declares a package; revisit this script")
    syntax = re.search(r'^syntax\s*=\s*"proto3";\s*$', text, re.M)
    if syntax is None:
        raise SystemExit(f"{version}: no proto3 syntax line")
    line = f"\npackage tenant_rag_local.{module_stem(version)};\n"
    return text[: syntax.end()] + line + text[syntax.end() :]


def default_api_dir() -> Path:
    """``../shared/pinecone-api`` beside the clone (CI), or two levels up (a worktree)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "pinecone-api").is_dir():
            return base / "shared" / "pinecone-api"
    return ROOT.parent / "shared" / "pinecone-api"


def find_sources(api_dir: Path, proto_2026_07: Path | None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for version in VERSIONS:
        path = api_dir / version / f"db_data_{version}.proto"
        if version == "2026-07" and not path.exists() and proto_2026_07 is not None:
            path = proto_2026_07
        if path.exists():
            found[version] = path
        elif version == "2026-07":
            print(f"2026-07: no proto given ({SOURCE_2026_07}); keeping the committed module")
        else:
            raise SystemExit(f"missing {path}")
    return found


def generate(sources: dict[str, Path], out_dir: Path) -> None:
    import google.api.annotations_pb2 as api_annotations  # googleapis-common-protos
    from grpc_tools import protoc  # dev dependency

    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    api_include = Path(api_annotations.__file__).parent.parent.parent  # google/api/*.proto
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        pkg_dir = tree / OUT_PACKAGE
        pkg_dir.mkdir(parents=True)
        protos = []
        for version, src in sources.items():
            dst = pkg_dir / f"{module_stem(version)}.proto"
            dst.write_text(with_package(src.read_text(encoding="utf-8"), version))
            protos.append(str(dst.relative_to(tree)))
        args = [
            "protoc",
            f"-I{tree}",
            f"-I{include}",
            f"-I{api_include}",
            f"--python_out={tree}",
            f"--pyi_out={tree}",
        ]
        if protoc.main([*args, *protos]) != 0:
            raise SystemExit("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        for version in sources:
            for suffix in ("_pb2.py", "_pb2.pyi"):
                name = module_stem(version) + suffix
                shutil.copyfile(pkg_dir / name, out_dir / name)
                print(f"wrote {OUT_PACKAGE}/{name}")


VIEW_PACKAGE = "tenant_rag/ingestion/_grpc_gen"
VIEW_STEM = "fetch_view"


def generate_view(out_dir: Path) -> None:
    """``fetch_view_pb2`` from ``<VIEW_PACKAGE>/fetch_view.proto`` (its package is its own)."""
    from grpc_tools import protoc  # dev dependency

    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/struct.proto
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        pkg_dir = tree / VIEW_PACKAGE
        pkg_dir.mkdir(parents=True)
        shutil.copyfile(ROOT / VIEW_PACKAGE / f"{VIEW_STEM}.proto", pkg_dir / f"{VIEW_STEM}.proto")
        args = ["protoc", f"-I{tree}", f"-I{include}", f"--python_out={tree}", f"--pyi_out={tree}"]
        if protoc.main([*args, f"{VIEW_PACKAGE}/{VIEW_STEM}.proto"]) != 0:
            raise SystemExit("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        for suffix in ("_pb2.py", "_pb2.pyi"):
            shutil.copyfile(pkg_dir / f"{VIEW_STEM}{suffix}", out_dir / f"{VIEW_STEM}{suffix}")
            print(f"wrote {VIEW_PACKAGE}/{VIEW_STEM}{suffix}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-dir", type=Path, default=default_api_dir())
    parser.add_argument("--proto-2026-07", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / OUT_PACKAGE)
    parser.add_argument("--view-out", type=Path, default=ROOT / VIEW_PACKAGE)
    opts = parser.parse_args()
    generate(find_sources(opts.api_dir, opts.proto_2026_07), opts.out)
    generate_view(opts.view_out)


if __name__ == "__main__":
    main()
