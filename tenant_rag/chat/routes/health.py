"""Unauthenticated routes: liveness, the chat page and its icon."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tenant_rag.chat.auth import AclReader, Tenant
from tenant_rag.chat.service import ChatService, service_of

router = APIRouter()
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)
_VENDOR = re.compile(r'<script data-vendor="([\w./-]+)"></script>')
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="14" fill="#2f5bea"/>'
    '<path d="M14 18h36a4 4 0 0 1 4 4v18a4 4 0 0 1-4 4H30l-10 8v-8h-6a4 4 0 0 1-4-4V22a4 4 0 0 1 '
    '4-4z" fill="#fff"/><circle cx="24" cy="31" r="3" fill="#2f5bea"/>'
    '<circle cx="32" cy="31" r="3" fill="#2f5bea"/><circle cx="40" cy="31" r="3" fill="#2f5bea"/>'
    "</svg>"
)


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
    """The page and a Content-Security-Policy allowing exactly its inline code.

    The vendored libraries (``static/vendor/``) are inlined where the page names
    them (``<script data-vendor="...">``), so they are allowed by hash like the
    page's own script and nothing else can run.
    """
    static = resources.files("tenant_rag.chat").joinpath("static")
    html = static.joinpath("index.html").read_text("utf-8")
    html = _VENDOR.sub(
        lambda m: "<script>" + static.joinpath(m.group(1)).read_text("utf-8") + "</script>", html
    )
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


@router.get("/favicon.svg", include_in_schema=False)
@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """The page's icon (an SVG; browsers asking for /favicon.ico get it too)."""
    return Response(
        FAVICON,
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
