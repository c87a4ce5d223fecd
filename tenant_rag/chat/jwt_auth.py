"""Signed user tokens (JWT) for the chatbot backend: the token decides tenant, user and groups.

Real SaaS backends do not hand each end user a tenant key; an identity
provider signs a short-lived token saying who the user is. The backend
verifies it with PyJWT against a configured key and takes everything from
its claims, never from the request body:

* ``tenant`` (configurable): the tenant, checked by `validate_tenant`;
* ``sub``: the user id; ``groups``: a list of group ids;
* ``tenant_admin: true``: the user is an admin of the tenant (sees every document).

Keys: an HS256 shared secret (``TENANT_RAG_JWT_SECRET``, at least 32 bytes)
or an RS256/ES256 public key in PEM (``TENANT_RAG_JWT_PUBLIC_KEY_FILE``),
never both (a public key must never double as an HMAC secret). ``exp`` is
required; ``TENANT_RAG_JWT_AUDIENCE`` and ``TENANT_RAG_JWT_ISSUER``, when
set, are required and checked. Every failure is a 401 naming what was wrong
with the token (bad signature, expired, missing claim, ...), and none falls
back to a wider reader: a token without a tenant, a user, or with malformed
groups is refused. Per-tenant keys keep working beside tokens.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from tenant_rag.chat.errors import ChatApiError
from tenant_rag.errors import ConfigurationError, InvalidAclError, InvalidTenantError
from tenant_rag.tenancy.acl import TENANT_ADMIN, Principal, Reader
from tenant_rag.tenancy.ids import validate_tenant

SECRET_ENV = "TENANT_RAG_JWT_SECRET"
PUBLIC_KEY_FILE_ENV = "TENANT_RAG_JWT_PUBLIC_KEY_FILE"
AUDIENCE_ENV = "TENANT_RAG_JWT_AUDIENCE"
ISSUER_ENV = "TENANT_RAG_JWT_ISSUER"
TENANT_CLAIM_ENV = "TENANT_RAG_JWT_TENANT_CLAIM"
#: HMAC secrets shorter than this are refused (RFC 7518 asks for at least the hash size).
MIN_SECRET_BYTES = 32
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tenant-rag", error="invalid_token"'}
_HMAC = ("HS256",)


@dataclass(frozen=True)
class JwtConfig:
    """How tokens are verified and which claims say what.

    Exactly one of ``secret`` (HS256) and ``public_key`` (PEM; RS256 or
    ES256) is set. ``algorithms`` defaults to those the key can verify.
    """

    secret: str | None = None
    public_key: str | None = None
    algorithms: tuple[str, ...] = ()
    audience: str | None = None
    issuer: str | None = None
    tenant_claim: str = "tenant"
    user_claim: str = "sub"
    groups_claim: str = "groups"
    admin_claim: str = "tenant_admin"
    #: seconds of clock skew tolerated on ``exp``/``nbf``/``iat``
    leeway: float = 0.0

    def __post_init__(self) -> None:
        if (self.secret is None) == (self.public_key is None):
            raise ConfigurationError(
                "JWT verification needs exactly one key: an HS256 secret "
                f"({SECRET_ENV}) or an RS256/ES256 public key ({PUBLIC_KEY_FILE_ENV})."
            )
        if self.secret is not None and len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"the JWT secret is shorter than {MIN_SECRET_BYTES} bytes; use a long random "
                'one (python -c "import secrets; print(secrets.token_urlsafe(48))").'
            )
        allowed = _HMAC if self.secret is not None else (_public_key_algorithm(self.public_key),)
        algorithms = self.algorithms or allowed
        bad = [a for a in algorithms if a not in allowed]
        if bad:
            raise ConfigurationError(
                f"JWT algorithms {bad} cannot be used with this key; allowed: {list(allowed)}."
            )
        object.__setattr__(self, "algorithms", tuple(algorithms))

    @property
    def key(self) -> str:
        return self.secret if self.secret is not None else str(self.public_key)

    def secrets(self) -> frozenset[str]:
        """What log redaction must hide (the HMAC secret)."""
        return frozenset({self.secret}) if self.secret else frozenset()

    def __repr__(self) -> str:  # never shows the secret
        kind = "HS256 secret" if self.secret is not None else "public key"
        return f"JwtConfig({kind}, algorithms={list(self.algorithms)}, aud={self.audience!r})"


def _public_key_algorithm(pem: str | None) -> str:
    """RS256 for an RSA public key, ES256 for a P-256 one; anything else is refused."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(str(pem).encode())
    except ValueError as exc:
        raise ConfigurationError(
            f"the JWT public key is not a PEM public key ({exc}); give the identity "
            "provider's RS256 or ES256 verification key."
        ) from None
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ConfigurationError(
        "the JWT public key must be an RSA key (RS256) or a P-256 EC key (ES256)."
    )


def load_jwt_config(env: Mapping[str, str] | None = None) -> JwtConfig | None:
    """The JWT settings from the environment, or None when no key is configured."""
    env = os.environ if env is None else env
    secret = env.get(SECRET_ENV) or None
    key_file = env.get(PUBLIC_KEY_FILE_ENV) or None
    if secret is None and key_file is None:
        return None
    public_key = None
    if key_file is not None:
        try:
            public_key = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the JWT public key file {key_file!r}: {exc.strerror}."
            ) from None
    return JwtConfig(
        secret=secret,
        public_key=public_key,
        audience=env.get(AUDIENCE_ENV) or None,
        issuer=env.get(ISSUER_ENV) or None,
        tenant_claim=env.get(TENANT_CLAIM_ENV) or "tenant",
    )


@dataclass(frozen=True)
class TokenUser:
    """What a verified token says: the tenant and who reads inside it."""

    tenant: str
    reader: Reader
    user: str


def looks_like_jwt(token: str) -> bool:
    """Three base64url segments, the first a JSON object (``eyJ``)."""
    return token.count(".") == 2 and token.startswith("eyJ")


def _refuse(code: str, message: str) -> ChatApiError:
    return ChatApiError(401, code, message, headers=_CHALLENGE)


def verify_token(token: str, config: JwtConfig) -> TokenUser:
    """Verify ``token`` and read its tenant, user and groups; a 401 `ChatApiError` if anything is off."""
    import jwt

    required = ["exp", config.tenant_claim, config.user_claim]
    if config.audience:
        required.append("aud")
    if config.issuer:
        required.append("iss")
    try:
        claims = jwt.decode(
            token,
            config.key,
            algorithms=list(config.algorithms),
            audience=config.audience,
            issuer=config.issuer,
            leeway=config.leeway,
            options={"require": required, "verify_signature": True},
        )
    except jwt.ExpiredSignatureError:
        raise _refuse("token_expired", "the token has expired; sign in again.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _refuse(
            "token_missing_claim",
            f"the token has no {exc.claim!r} claim; it must name the tenant "
            f"({config.tenant_claim!r}), the user ({config.user_claim!r}) and an expiry ('exp').",
        ) from None
    except jwt.InvalidAudienceError:
        raise _refuse("token_wrong_audience", "the token is for another audience.") from None
    except jwt.InvalidIssuerError:
        raise _refuse("token_wrong_issuer", "the token comes from another issuer.") from None
    except jwt.ImmatureSignatureError:
        raise _refuse("token_not_yet_valid", "the token is not valid yet (nbf/iat).") from None
    except jwt.InvalidAlgorithmError:
        raise _refuse(
            "token_bad_algorithm",
            f"the token is signed with an algorithm this server does not accept "
            f"(accepted: {', '.join(config.algorithms)}).",
        ) from None
    except jwt.InvalidSignatureError:
        raise _refuse("token_bad_signature", "the token's signature does not verify.") from None
    except jwt.PyJWTError as exc:
        raise _refuse("invalid_token", f"the token is not a valid JWT: {exc}.") from None
    return _user_of(claims, config)


def _user_of(claims: Mapping[str, Any], config: JwtConfig) -> TokenUser:
    try:
        tenant = validate_tenant(claims.get(config.tenant_claim))
    except InvalidTenantError as exc:
        raise _refuse("token_bad_claim", f"the token's tenant claim is invalid: {exc}") from None
    user = claims.get(config.user_claim)
    groups = claims.get(config.groups_claim, [])
    admin = claims.get(config.admin_claim, False)
    if not isinstance(admin, bool):
        raise _refuse(
            "token_bad_claim", f"the token's {config.admin_claim!r} claim must be true or false."
        )
    if groups is None:
        groups = []
    if not isinstance(groups, list):
        raise _refuse(
            "token_bad_claim",
            f"the token's {config.groups_claim!r} claim must be a list of group ids.",
        )
    try:
        principal = Principal(cast(str, user), groups)
    except InvalidAclError as exc:
        raise _refuse("token_bad_claim", f"the token's user or groups are invalid: {exc}") from None
    return TokenUser(
        tenant=tenant, reader=TENANT_ADMIN if admin else principal, user=principal.user
    )


__all__ = ["JwtConfig", "TokenUser", "load_jwt_config", "looks_like_jwt", "verify_token"]
