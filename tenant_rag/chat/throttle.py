"""Failed-authentication throttling: slow down key guessing without locking out tenants.

Two kinds of buckets count failed attempts, each a token bucket (``burst``
attempts at once, then ``per_minute``):

* per client address (IPv6 grouped by /64, since one host commonly holds a
  whole /64), against one client trying many keys;
* per key prefix (the first `KEY_PREFIX_CHARS` characters of the presented
  key), against many clients working on one key.

When either bucket of a request is empty, the request is refused with 429 and
``Retry-After`` *before its key is checked*: a guess that is not checked cannot
succeed, so the guessing rate really drops to ``per_minute``.

Not locking out the real tenant: an (address, key prefix) pair that has
authenticated successfully is trusted for ``trust_seconds`` and skips both
buckets (the OWASP "device cookie" idea, with the client address as the device).
A tenant working from its usual address keeps being served at once while
someone else hammers wrong keys, from elsewhere or from the same address. A
trusted pair has a failure budget of its own (``trusted_burst``); past it, the
trust is dropped. What this cannot tell apart: a tenant's first request from a
new address while its own address or key prefix is being attacked waits for the
bucket like everyone else (``Retry-After`` says how long).

Keys are at least 128 bits (`tenant_rag.chat.config.MIN_KEY_BITS`), so guessing
is hopeless anyway; this makes attacks visible (the audit log) and cheap to
absorb. Tables are bounded (least recently used entries go first); state lives in
memory, per process.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from tenant_rag.chat.audit import refused_at_edge

#: Characters of a presented key that name its prefix bucket (``trk_`` + 8 random characters
#: for generated keys). Only kept in memory, never logged.
KEY_PREFIX_CHARS = 12
#: The longest wait a refusal announces, in seconds.
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class ThrottleConfig:
    """How many failed attempts are allowed, and for how long success is remembered."""

    #: Failed attempts a bucket allows at once.
    burst: int = 10
    #: Failed attempts a bucket allows per minute after the burst (its refill rate).
    per_minute: float = 6.0
    #: How long an (address, key prefix) pair stays trusted after a success.
    trust_seconds: float = 24 * 3600.0
    #: Failed attempts a trusted pair may make before its trust is dropped.
    trusted_burst: int = 50
    #: Entries kept per table (addresses, prefixes, trusted pairs).
    max_entries: int = 50_000
    #: False turns throttling off (failed attempts are still audited).
    enabled: bool = True
    #: Seconds a refused attempt is held before its 429 goes out (asleep, no thread held):
    #: a guesser waits for each answer, so its rate drops to connections / tarpit.
    tarpit_seconds: float = 1.0
    #: Refusals held at once; past this, refusals go out at once (bounded memory).
    max_tarpitted: int = 256


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True)
class Decision:
    """Whether a request's key may be checked, and if not, for how long to wait."""

    allowed: bool
    retry_after: float = 0.0
    #: Which bucket refused it: "address" or "key_prefix".
    reason: str = ""


def client_group(address: str | None) -> str:
    """The address bucket: the address itself, or its /64 for IPv6."""
    if not address:
        return "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def key_prefix(key: str) -> str:
    """The prefix bucket of a presented key."""
    return key[:KEY_PREFIX_CHARS]


class AuthThrottle:
    """Buckets per client address and per key prefix, plus trusted pairs. Thread-safe."""

    def __init__(
        self, config: ThrottleConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or ThrottleConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._addresses: OrderedDict[str, _Bucket] = OrderedDict()
        self._prefixes: OrderedDict[str, _Bucket] = OrderedDict()
        self._trusted: OrderedDict[tuple[str, str], tuple[float, _Bucket]] = OrderedDict()
        #: Counters, for the audit line and for tests.
        self.failures = 0
        self.refusals = 0

    # -- the three events of an attempt -------------------------------------------------------

    def check(self, address: str | None, key: str) -> Decision:
        """Before the key is looked at: may it be checked?"""
        cfg = self.config
        if not cfg.enabled:
            return Decision(True)
        group, prefix = client_group(address), key_prefix(key)
        now = self._clock()
        with self._lock:
            if self._trusted_pair(group, prefix, now) is not None:
                return Decision(True)
            waits = []
            for reason, table, name in (
                ("address", self._addresses, group),
                ("key_prefix", self._prefixes, prefix),
            ):
                bucket = self._refilled(table, name, now, create=False)
                if bucket is not None and bucket.tokens < 1.0:
                    waits.append((self._wait(bucket), reason))
            if waits:
                self.refusals += 1
                wait, reason = max(waits)
                return Decision(False, retry_after=wait, reason=reason)
        return Decision(True)

    def failed(self, address: str | None, key: str) -> None:
        """The key matched nothing: take one token from each of the request's buckets."""
        group, prefix = client_group(address), key_prefix(key)
        now = self._clock()
        with self._lock:
            self.failures += 1
            if not self.config.enabled:
                return
            trusted = self._trusted_pair(group, prefix, now)
            if trusted is not None:
                trusted.tokens -= 1.0
                if trusted.tokens < 0.0:
                    del self._trusted[(group, prefix)]
                return
            for table, name in ((self._addresses, group), (self._prefixes, prefix)):
                bucket = self._refilled(table, name, now, create=True)
                assert bucket is not None
                bucket.tokens = max(bucket.tokens - 1.0, -1.0)

    def succeeded(self, address: str | None, key: str) -> None:
        """The key is valid: trust this (address, key prefix) pair for a while."""
        cfg = self.config
        if not cfg.enabled:
            return
        pair = (client_group(address), key_prefix(key))
        now = self._clock()
        with self._lock:
            # the key's holder is here: a fresh failure budget for the pair
            self._trusted[pair] = (now + cfg.trust_seconds, _Bucket(float(cfg.trusted_burst), now))
            self._trusted.move_to_end(pair)
            self._trim(self._trusted)

    # -- internals ----------------------------------------------------------------------------

    def _trusted_pair(self, group: str, prefix: str, now: float) -> _Bucket | None:
        entry = self._trusted.get((group, prefix))
        if entry is None:
            return None
        until, budget = entry
        if now >= until:
            del self._trusted[(group, prefix)]
            return None
        return budget

    def _refilled(
        self, table: OrderedDict[str, _Bucket], name: str, now: float, *, create: bool
    ) -> _Bucket | None:
        cfg = self.config
        bucket = table.get(name)
        if bucket is None:
            if not create:
                return None
            bucket = table[name] = _Bucket(float(cfg.burst), now)
            self._trim(table)
        else:
            rate = cfg.per_minute / 60.0
            bucket.tokens = min(float(cfg.burst), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            table.move_to_end(name)
            if bucket.tokens >= cfg.burst:  # full again: forget it
                del table[name]
                return None if not create else self._refilled(table, name, now, create=True)
        return bucket

    def _wait(self, bucket: _Bucket) -> float:
        rate = self.config.per_minute / 60.0
        if rate <= 0:
            return MAX_RETRY_AFTER
        return min(MAX_RETRY_AFTER, max(0.0, (1.0 - bucket.tokens) / rate))

    def _trim(self, table: OrderedDict) -> None:  # type: ignore[type-arg]
        while len(table) > self.config.max_entries:
            table.popitem(last=False)


class ThrottleMiddleware:
    """Refuse throttled attempts at the edge, before routing, and hold each refusal a while.

    A refused guess costs the server a dictionary look-up and a timer here, instead
    of routing, dependency injection and a worker thread, so a flood of guesses
    leaves the event loop and the thread pool to the real tenants. Requests whose
    bucket is not empty pass through; `tenant_rag.chat.auth` checks their key,
    counts failures and audits. The refusal is ``429`` with ``Retry-After`` and
    ``Connection: close``.
    """

    def __init__(self, app: ASGIApp, throttle: AuthThrottle, *, tokens: bool = False) -> None:
        self.app = app
        self.throttle = throttle
        #: whether user tokens (JWT) are accepted: they are bucketed by signature (`bucket_key`)
        self.tokens = tokens
        self._held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.throttle.config.enabled:
            await self.app(scope, receive, send)
            return
        key = _bearer(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else None
        decision = self.throttle.check(address, bucket_key(key, tokens=self.tokens))
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        refused_at_edge(scope, key, decision)
        cfg = self.throttle.config
        if cfg.tarpit_seconds > 0 and self._held < cfg.max_tarpitted:
            self._held += 1
            try:
                await asyncio.sleep(
                    min(cfg.tarpit_seconds, decision.retry_after or cfg.tarpit_seconds)
                )
            finally:
                self._held -= 1
        await _send_refusal(send, decision)


def bucket_key(key: str, *, tokens: bool) -> str:
    """What a presented credential is counted under (its prefix bucket is taken from this).

    A user token (when tokens are accepted) by its signature: a JWT's first
    characters are its header, the same for every user's token, so its prefix
    would put every user in one bucket. Anything else is counted as presented.
    """
    from tenant_rag.chat.jwt_auth import looks_like_jwt

    if tokens and looks_like_jwt(key):
        return key.rsplit(".", 1)[-1]
    return key


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def refusal_message(decision: Decision) -> tuple[int, str]:
    """The wait announced (whole seconds, at least 1) and the refusal's sentence."""
    wait = max(1, round(decision.retry_after))
    return wait, (
        "too many failed authentication attempts from this client or for this key; "
        f"retry in {wait} s."
    )


async def _send_refusal(send: Send, decision: Decision) -> None:
    wait, message = refusal_message(decision)
    body = json.dumps({"detail": message, "code": "too_many_failed_attempts"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(wait).encode()),
                (b"www-authenticate", b'Bearer realm="tenant-rag"'),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
