"""Unauthenticated routes: liveness and the chat page."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tenant_rag.chat.auth import AclReader, Tenant
from tenant_rag.chat.service import ChatService, service_of

router = APIRouter()
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


@router.get("/healthz")
def healthz(service: Annotated[ChatService, Depends(service_of)]) -> dict[str, Any]:
    """Liveness: no auth, no tenant data, no call to the vector store."""
    return {"status": "ok", "index": service.index_name}


@router.get("/me")
def me(request: Request, tenant: Tenant, reader: AclReader) -> dict[str, Any]:
    """The tenant the presented key maps to (the page's "log in" check).

    For a user token, also the user, their groups and whether they are a
    tenant admin, as the server read them from the token.
    """
    from tenant_rag.tenancy.acl import Principal

    out: dict[str, Any] = {"tenant": tenant}
    user = getattr(request.state, "user", None)
    if user is not None:
        out["user"] = user
        out["groups"] = list(reader.groups) if isinstance(reader, Principal) else []
        out["tenant_admin"] = not isinstance(reader, Principal)
    return out


@lru_cache(maxsize=1)
def _page() -> tuple[str, str]:
    """The page and a Content-Security-Policy allowing exactly its inline code."""
    html = resources.files("tenant_rag.chat").joinpath("static/index.html").read_text("utf-8")
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    scripts = " ".join(hashes["script"]) or "'none'"
    styles = " ".join(hashes["style"]) or "'none'"
    csp = (
        "default-src 'none'; connect-src 'self'; img-src 'self' data:; "
        f"script-src {scripts}; style-src {styles}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, csp


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    """The chat page: static HTML and vanilla JS, no build step."""
    html, csp = _page()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )
