"""The only change needed for real Pinecone and OpenAI: environment variables.

    python examples/cloud_switch.py                       # embedded server + local model
    PINECONE_API_KEY=... OPENAI_API_KEY=... python examples/cloud_switch.py   # the cloud

Nothing else in your code changes. ``OPENAI_BASE_URL`` alone selects any OpenAI-compatible
server; ``PINECONE_CONTROLLER_HOST`` points the SDK at another control plane.
"""

import os

from tenant_rag import connect, default_embeddings, default_llm
from tenant_rag.connection import is_local

pc = connect()
embeddings = default_embeddings()
llm = default_llm()
print(
    "vector store:", "embedded server" if is_local() else "Pinecone serverless", "-", pc.config.host
)
print("embeddings:", type(embeddings).__name__)
print("llm:", type(llm).__name__)
for var in ("PINECONE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "PINECONE_CONTROLLER_HOST"):
    print(f"  {var}: {'set' if os.environ.get(var) else 'unset'}")  # never print the values
