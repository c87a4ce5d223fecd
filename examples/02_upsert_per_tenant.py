"""Seed step 2: upsert each tenant's records into its own namespace."""

from tenant_rag import PinnedIndex, connect, ensure_index, list_tenants

index = ensure_index(connect(), "multitenant-app", dimension=8)

PinnedIndex(index, "tenant1").upsert(
    [("A", [0.1] * 8), ("B", [0.2] * 8), ("C", [0.3] * 8), ("D", [0.4] * 8)]
)
PinnedIndex(index, "tenant2").upsert(
    [("E", [0.5] * 8), ("F", [0.6] * 8), ("G", [0.7] * 8), ("H", [0.8] * 8)]
)
for info in list_tenants(index):
    print(f"{info.tenant}: {info.record_count} records")
