"""Seed step 4: offboard a tenant by deleting its namespace, then prove it is gone."""

from tenant_rag import connect, ensure_index, list_tenants, offboard

index = ensure_index(connect(), "multitenant-app", dimension=8)

report = offboard("tenant1", index)
for step in report.indexes:
    print(f"deleted {step.deleted} records of tenant1 in {step.index}; verified: {step.verified}")
print("remaining tenants:", [t.tenant for t in list_tenants(index)])
