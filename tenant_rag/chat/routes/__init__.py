"""The backend's routes, one module per resource."""

from tenant_rag.chat.routes import chat, documents, health, jobs, portability, tenants

ROUTERS = (
    health.router,
    chat.router,
    documents.router,
    jobs.router,
    portability.router,
    tenants.router,
)

__all__ = ["ROUTERS"]
