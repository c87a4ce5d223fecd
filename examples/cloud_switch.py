"""The only change needed for real Pinecone and OpenAI: environment variables.

    python examples/cloud_switch.py                       # embedded server + local models
    PINECONE_API_KEY=... OPENAI_API_KEY=... python examples/cloud_switch.py
                                                          # Pinecone + OpenAI for answers
    ... TENANT_RAG_EMBEDDING_MODEL=text-embedding-3-small  # OpenAI embeddings too (new index)

Nothing else in your code changes. The chat model and the embedding model are separate
choices: OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server such as Ollama)
switches the chat model only, and an index keeps the embedding model it was built with.
PINECONE_CONTROLLER_HOST points the SDK at another control plane.
"""

import os

from tenant_rag import connect, default_embeddings, default_llm
from tenant_rag.connection import is_local
from tenant_rag.models import embedding_model_name

pc = connect()
embeddings = default_embeddings()
llm = default_llm()
print(
    "vector store:", "embedded server" if is_local() else "Pinecone serverless", "-", pc.config.host
)
print("embeddings:", type(embeddings).__name__, f"({embedding_model_name(embeddings)})")
print("llm:", type(llm).__name__, f"({getattr(llm, 'model_name', 'no language model')})")
for var in (
    "PINECONE_API_KEY",
    "PINECONE_CONTROLLER_HOST",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "TENANT_RAG_CHAT_MODEL",
    "TENANT_RAG_EMBEDDING_MODEL",
):
    print(f"  {var}: {'set' if os.environ.get(var) else 'unset'}")  # never print the values
