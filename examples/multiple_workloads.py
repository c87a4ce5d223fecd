"""Two workloads, two indexes, one namespace per tenant in each.

Pinecone's guide: one serverless index per workload (here RAG and semantic search), and inside
each index one namespace per tenant. Offboarding removes the tenant from both.
"""

from tenant_rag import (
    connect,
    default_embeddings,
    ensure_index,
    list_tenants,
    offboard,
    tenant_retriever,
    tenant_vector_store,
)
from tenant_rag.models.embeddings import embedding_dimension

embeddings = default_embeddings()
pc = connect()
dim = embedding_dimension(embeddings)
rag = ensure_index(pc, "rag", dimension=dim)  # workload 1: passages for RAG answers
search = ensure_index(pc, "search", dimension=dim)  # workload 2: product titles for search

for tenant, passages, products in [
    ("acme", ["Acme ships in 2 days."], ["Acme anvil", "Acme rocket skates"]),
    ("globex", ["Globex ships in 6 weeks."], ["Globex doomsday device", "Globex hammock"]),
]:
    tenant_vector_store(rag, tenant, embeddings).add_texts(passages)
    tenant_vector_store(search, tenant, embeddings).add_texts(products)

hits = tenant_retriever(search, "acme", embeddings, k=1).invoke("footwear with wheels")
print("acme search ->", hits[0].page_content)
print("rag tenants:", [t.tenant for t in list_tenants(rag)])
print("search tenants:", [t.tenant for t in list_tenants(search)])

offboard("globex", rag, search)
print(
    "after offboarding globex:",
    [t.tenant for t in list_tenants(rag)],
    [t.tenant for t in list_tenants(search)],
)
