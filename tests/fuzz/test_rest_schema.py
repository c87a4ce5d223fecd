"""Schema-driven fuzzing of the embedded server's REST API from Pinecone's own OpenAPI specs.

schemathesis generates requests for every operation of Pinecone's data-plane and
control-plane specs, 2025-04 and 2025-10 (``../shared/pinecone-api/``): valid ones, and
invalid ones (wrong types, missing fields, out-of-range values, dropped headers). Each goes
to a live embedded server (uvicorn on a loopback port, a real socket), and each answer must

* not be a 5xx (``not_a_server_error``),
* carry a status code, a content type, a body and headers the spec documents for that
  operation (``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``, ``response_headers_conformance``),

or the difference must be covered by an entry of the one reviewed allow-list
(``tests/fuzz/allowlist.py``), which says why. API 2026-07 (SDK 10.x) is fuzzed for 5xx
only, with the 2025-10 data-plane spec's requests sent under the 2026-07 header: its own
specs are not in ``../shared/`` (see docs/reliability.md).

Bounded and seeded in ``make test`` (``TENANT_RAG_FUZZ_EXAMPLES``, default 25 generated cases
per operation and mode, seed ``TENANT_RAG_FUZZ_SEED``, default fixed); ``make fuzz`` runs
many more with a fresh seed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from tenant_rag.local import LocalServer, start
from tests.fuzz.allowlist import ALLOWED, unexplained
from tests.reliability._figures import Tally


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """Records upsert sends one JSON object per line (the spec's media type)."""
    items = value if isinstance(value, list) else [value]
    return b"\n".join(json.dumps(item, default=str).encode() for item in items)


ROOT = Path(__file__).resolve().parents[2]
KEY = "fuzz-key"
DATA_INDEX = "fuzz-target-7f3a"  # a name no spec example uses, so no generated case deletes it
EXAMPLES = int(os.environ.get("TENANT_RAG_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("TENANT_RAG_FUZZ_SEED", "20261130"))
CONFORMANCE = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)


def api_dir() -> Path:
    """``../shared/pinecone-api`` beside the clone (CI), or two levels up (a worktree)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "pinecone-api").is_dir():
            return base / "shared" / "pinecone-api"
    return ROOT.parent / "shared" / "pinecone-api"


def load(spec_version: str, plane: str, *, send_version: str | None = None) -> Any:
    """Pinecone's ``plane`` spec of ``spec_version``, requests sent as ``send_version``."""
    path = api_dir() / spec_version / f"db_{plane}_{spec_version}.oas.yaml"
    if not path.exists():
        raise FileNotFoundError(f"Pinecone's spec is missing at {path} (../shared/pinecone-api)")
    checks = CONFORMANCE if send_version is None else ("not_a_server_error",)
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "headers": {"Api-Key": KEY, "X-Pinecone-Api-Version": send_version or spec_version},
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in checks}},
        }
    )
    return schemathesis.openapi.from_path(path, config=config)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A keyed embedded server with one protected 1-d dotproduct index for the data plane.

    One dimension and dotproduct make many generated vectors valid (any one number, zero
    included), so the fuzzing reaches the success paths too, not only the refusals.
    """
    srv = start(tmp_path_factory.mktemp("fuzz") / "data", api_key=KEY)
    srv.client().create_index(
        name=DATA_INDEX,
        dimension=1,
        metric="dotproduct",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
        deletion_protection="enabled",
        timeout=-1,
    )
    try:
        yield srv
    finally:
        srv.stop()


TALLY = Tally("fuzz_rest")
ALLOWED_USED: dict[int, int] = {}


def _check(case: Any, base_url: str, plane: str) -> None:
    response = case.call(base_url=base_url, timeout=60)
    version = dict(response.request.headers).get("X-Pinecone-Api-Version", "none")
    TALLY.add(f"requests_{plane}_{version}")
    code = response.status_code
    TALLY.add(f"status_{code}" if code >= 500 else f"status_{code // 100}xx")
    try:
        case.validate_response(response)
    except FailureGroup as group:
        left = unexplained(case, response, list(group.exceptions), ALLOWED_USED)
        if left:
            TALLY.add("unexplained_failures", len(left))
            raise FailureGroup(left, str(group)) from None


@schemathesis.pytest.parametrize(
    v2025_04=load("2025-04", "data"),
    v2025_10=load("2025-10", "data"),
    v2026_07=load("2025-10", "data", send_version="2026-07"),
)
def test_data_plane(case: Any, server: LocalServer) -> None:
    _check(case, f"{server.url}/_index/{DATA_INDEX}", "data")


@schemathesis.pytest.parametrize(
    v2025_04=load("2025-04", "control"),
    v2025_10=load("2025-10", "control"),
)
def test_control_plane(case: Any, server: LocalServer) -> None:
    _check(case, server.url, "control")


def test_write_figures() -> None:
    """Last in the module: what was sent and what the allow-list covered (printed; written
    to benchmarks/results/reliability_fuzz_rest.json with TENANT_RAG_WRITE_FIGURES=1)."""
    for i, n in sorted(ALLOWED_USED.items()):
        TALLY.add(f"allowed_{i}_{ALLOWED[i].kinds[0]}_{ALLOWED[i].operations[0]}", n)
    TALLY.extra.update(examples_per_operation_and_mode=EXAMPLES, seed=SEED)
    TALLY.write(f"TENANT_RAG_FUZZ_EXAMPLES={EXAMPLES} pytest tests/fuzz/test_rest_schema.py")
    assert TALLY.counts["unexplained_failures"] == 0
