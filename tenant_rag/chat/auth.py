"""Bearer authentication: the key or signed token decides the tenant, nothing else does.

Routes depend on `tenant_of` (a tenant key or a user token; the tenant id it
maps to), `reader_of` (who reads inside the tenant: a tenant key reads as
the tenant admin, a token as its user and groups, see
`tenant_rag.chat.jwt_auth`) or `require_admin` (an admin key). None reads
the request body, so an unauthenticated upload is refused before its body is
parsed, and no field a client sends can name another tenant or user.

Every failed attempt is audited (`tenant_rag.chat.audit`) and counted by the
failed-auth throttle (`tenant_rag.chat.throttle`), which refuses further
attempts from a guessing client, or at a guessed key prefix, before their key
is checked; clients that authenticated before from the same address go on.
A user token is throttled by address and by its signature (every token
shares its header, so its first characters name no one).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tenant_rag.chat.audit import auth_failure
from tenant_rag.chat.config import KeyRing, Principal
from tenant_rag.chat.errors import ChatApiError
from tenant_rag.chat.throttle import AuthThrottle, bucket_key, refusal_message
from tenant_rag.tenancy.acl import TENANT_ADMIN, Reader

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tenant-rag"'}


def _keyring(request: Request) -> KeyRing:
    """The keys in force now (`KeyStore` reloads its file when it changes)."""
    keys: KeyRing = request.app.state.keys.ring
    return keys


def _throttle(request: Request) -> AuthThrottle:
    throttle: AuthThrottle = request.app.state.throttle
    return throttle


def _presented_key(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise ChatApiError(
            401,
            "missing_key",
            "missing API key: send the header 'Authorization: Bearer <your tenant key>'.",
            headers=_CHALLENGE,
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ChatApiError(
            401,
            "malformed_authorization",
            "malformed Authorization header: expected 'Bearer <key>'.",
            headers=_CHALLENGE,
        )
    return token


def principal_of(request: Request) -> Principal:
    """The principal behind the request's bearer key or user token; 401 when there is none,
    429 when this client or key prefix has failed too often (the key is then not even checked)."""
    try:
        key = _presented_key(request)
    except ChatApiError as exc:
        auth_failure(request, exc.code)
        raise
    jwt_config = getattr(request.app.state, "jwt", None)
    # a token's prefix is its header, the same for every user: counted by its signature
    # (as ThrottleMiddleware counts it)
    counted = bucket_key(key, tokens=jwt_config is not None)
    is_token = counted != key  # bucket_key keeps anything but an accepted token's shape as is
    throttle = _throttle(request)
    address = request.client.host if request.client else None
    decision = throttle.check(address, counted)
    if not decision.allowed:  # ThrottleMiddleware refuses these first; this is the fallback
        auth_failure(request, "too_many_failed_attempts", key, decision)
        wait, message = refusal_message(decision)
        raise ChatApiError(
            429,
            "too_many_failed_attempts",
            message,
            headers={**_CHALLENGE, "Retry-After": str(wait)},
        )
    found = _keyring(request).lookup(key)
    if found is None and is_token:
        from tenant_rag.chat.jwt_auth import verify_token

        try:
            assert jwt_config is not None
            user = verify_token(key, jwt_config)
        except ChatApiError as exc:
            throttle.failed(address, counted)
            auth_failure(request, exc.code, key)
            raise
        throttle.succeeded(address, counted)
        request.state.acl_reader = user.reader
        request.state.user = user.user
        found = Principal(tenant=user.tenant)
        request.state.principal = found
        return found
    if found is None:
        throttle.failed(address, key)
        auth_failure(request, "invalid_key", key)
        raise ChatApiError(
            401,
            "invalid_key",
            "invalid API key: it matches no configured tenant or admin key.",
            headers=_CHALLENGE,
        )
    throttle.succeeded(address, key)
    request.state.principal = found  # for the request log (tenant id only)
    return found


def tenant_of(principal: Annotated[Principal, Depends(principal_of)]) -> str:
    """The tenant id the request's key maps to; admin keys have none (403)."""
    if principal.admin or principal.tenant is None:
        raise ChatApiError(
            403,
            "admin_key_has_no_tenant",
            "admin keys are not bound to a tenant; use the tenant's own key for this route.",
        )
    return principal.tenant


def require_admin(principal: Annotated[Principal, Depends(principal_of)]) -> Principal:
    """Allow admin keys only; a tenant key gets 403, not a wider scope."""
    if not principal.admin:
        raise ChatApiError(
            403,
            "admin_only",
            "this route needs an admin key; tenant keys cannot manage tenants.",
        )
    return principal


def reader_of(request: Request, principal: Annotated[Principal, Depends(principal_of)]) -> Reader:
    """Who reads inside the tenant: a token's user and groups, or (tenant key) the tenant admin."""
    reader: Reader = getattr(request.state, "acl_reader", TENANT_ADMIN)
    return reader


Tenant = Annotated[str, Depends(tenant_of)]
AclReader = Annotated[Reader, Depends(reader_of)]
Admin = Annotated[Principal, Depends(require_admin)]
