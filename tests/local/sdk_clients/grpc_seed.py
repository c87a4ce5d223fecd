"""The seed flow's data-plane steps through one pinecone SDK's gRPC client; runs in a side venv.

Run by ``tests/local/test_grpc_sdks.py`` with ``.venv-sdk/<version>/bin/python`` (it must not
import tenant_rag, which is not installed there). Argument: one JSON object
``{"host", "api_key", "index", "secure"}``. Prints one JSON object of what it observed.
SDK 7.x/8.x: ``PineconeGRPC().Index(name=..., host=...)``; 9.x/10.x: ``Pinecone().index(host=...,
grpc=True)`` (9.x in plaintext: ``GrpcIndex(host=..., secure=False)``).
"""

from __future__ import annotations

import json
import sys

import pinecone

args = json.loads(sys.argv[1])
major = int(pinecone.__version__.split(".")[0])
if major >= 10 or (major == 9 and args["secure"]):
    from pinecone import Pinecone

    # the public entry point; 10.x dials plaintext when told grpc_scheme="http"
    scheme = {} if args["secure"] else {"grpc_scheme": "http"}
    index = Pinecone(api_key=args["api_key"], **scheme).index(host=args["host"], grpc=True)
elif major == 9:  # 9.x has no switch on Pinecone(); its GrpcIndex takes secure=False
    from pinecone.grpc import GrpcIndex

    index = GrpcIndex(host=args["host"], api_key=args["api_key"], secure=False)
else:
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    pc = PineconeGRPC(api_key=args["api_key"], ssl_ca_certs=args.get("ca"))
    index = pc.Index(
        name=args["index"], host=args["host"], grpc_config=GRPCClientConfig(secure=args["secure"])
    )

seen: dict = {"version": pinecone.__version__}
for tenant, base in (("acme", 0.0), ("globex", 1.0)):
    res = index.upsert(
        vectors=[
            {"id": f"{tenant}-{i}", "values": [1.0, base + i], "metadata": {"n": i}}
            for i in range(3)
        ],
        namespace=tenant,
    )
    seen[f"upserted_{tenant}"] = res.upserted_count
    index.update(
        id=f"{tenant}-0", values=[0.0, 1.0], set_metadata={"updated": True}, namespace=tenant
    )

q = index.query(vector=[0.0, 1.0], top_k=2, namespace="acme", include_metadata=True)
seen["query_ids"] = [m.id for m in q.matches]
seen["query_namespace"] = q.namespace
seen["query_first_metadata"] = q.matches[0].metadata
plain = index.query(vector=[0.0, 1.0], top_k=1, namespace="acme")
seen["query_metadata_not_asked"] = plain.matches[0].metadata
f = index.fetch(ids=["acme-0", "acme-1"], namespace="acme")
seen["fetched"] = {k: list(v.values) for k, v in f.vectors.items()}
stats = index.describe_index_stats()
seen["counts_before"] = {k: v.vector_count for k, v in stats.namespaces.items()}
index.delete(delete_all=True, namespace="acme")
stats = index.describe_index_stats()
seen["counts_after"] = {k: v.vector_count for k, v in stats.namespaces.items()}
print(json.dumps(seen))
