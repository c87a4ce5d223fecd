"""Seed step 1: create a serverless index for one workload.

Run the four step scripts in order; they share the data directory
(``TENANT_RAG_HOME``, default ``./.tenant_rag``) when running on the embedded server.
"""

from tenant_rag import connect, ensure_index

pc = connect()  # embedded server unless PINECONE_API_KEY is set
ensure_index(pc, "multitenant-app", dimension=8, metric="cosine", cloud="aws", region="us-east-1")
desc = pc.describe_index("multitenant-app")
print(
    f"index {desc.name}: dimension {desc.dimension}, metric {desc.metric}, ready {desc.status.ready}"
)
