"""The backend's routes, one module per resource."""

from tenant_rag.chat.routes import chat, documents, health, tenants

ROUTERS = (health.router, chat.router, documents.router, tenants.router)

__all__ = ["ROUTERS"]
