"""Seed step 3: update a record and query, each within exactly one tenant."""

from tenant_rag import PinnedIndex, connect, ensure_index, update_record

index = ensure_index(connect(), "multitenant-app", dimension=8)

update_record(index, "tenant1", "A", values=[0.9] * 8)

for rec in PinnedIndex(index, "tenant2").query(vector=[0.3] * 8, top_k=3, include_values=True):
    print(f"tenant2 match {rec.id}: score {rec.score:.4f}")
