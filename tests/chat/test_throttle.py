"""Failed-authentication throttling and the audit line per failed attempt.

The brute-force tests run the backend under uvicorn and attack it over real
sockets from other loopback addresses (127.0.0.2, 127.0.0.10-29: Linux routes
all of 127.0.0.0/8 to lo), while the real tenant works from 127.0.0.1. How
fast the tenant is served during an attack is measured in
``benchmarks/bench_chat_auth.py``; these tests assert who is served and who is
refused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tenant_rag.chat import KeyRing
from tenant_rag.chat.audit import fingerprint
from tenant_rag.chat.throttle import AuthThrottle, ThrottleConfig, client_group
from tenant_rag.local import LocalServer

from .conftest import ACME_KEY, GLOBEX_KEY, WRONG_KEY, Backend, make_backend, serving

BURST = 10


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_per_address_refuses_after_the_burst_and_refills() -> None:
    clock = Clock()
    t = AuthThrottle(ThrottleConfig(burst=3, per_minute=6), clock=clock)
    for n in range(3):
        assert t.check("10.0.0.1", f"guess-{n}").allowed
        t.failed("10.0.0.1", f"guess-{n}")
    refused = t.check("10.0.0.1", "guess-4")
    assert not refused.allowed and refused.reason == "address"
    assert refused.retry_after == pytest.approx(10.0)  # one token per 10 s at 6 a minute
    assert t.check("10.0.0.2", "guess-5").allowed  # another client is not affected
    clock.now += 10
    assert t.check("10.0.0.1", "guess-6").allowed
    t.failed("10.0.0.1", "guess-6")
    assert not t.check("10.0.0.1", "guess-7").allowed


def test_bucket_per_key_prefix_catches_many_addresses() -> None:
    t = AuthThrottle(ThrottleConfig(burst=3, per_minute=6), clock=Clock())
    prefix = "trk_AbCdEfGh"
    for n in range(3):
        t.failed(f"10.0.1.{n}", f"{prefix}guess{n}")
    refused = t.check("10.0.1.99", prefix + "guess99")
    assert not refused.allowed and refused.reason == "key_prefix"
    assert t.check("10.0.1.99", "trk_Other123guess").allowed


def test_trusted_pair_is_not_locked_out_but_has_a_budget() -> None:
    t = AuthThrottle(ThrottleConfig(burst=2, per_minute=1, trusted_burst=3), clock=Clock())
    real = "trk_RealPrefix-and-the-rest"
    t.succeeded("10.0.0.1", real)
    for n in range(5):  # the same address and prefix are hammered by someone else
        t.failed("10.0.0.7", f"trk_RealPrefix-guess{n}")
    assert not t.check("10.0.0.7", "trk_RealPrefix-guess9").allowed
    assert t.check("10.0.0.1", real).allowed  # the trusted pair goes on
    for n in range(4):  # past its own budget the pair loses its trust
        t.failed("10.0.0.1", f"trk_RealPrefix-typo{n}")
    assert not t.check("10.0.0.1", real).allowed


def test_ipv6_clients_are_grouped_by_64() -> None:
    assert client_group("2001:db8:1:2::1") == client_group("2001:db8:1:2:ffff::9")
    assert client_group("2001:db8:1:2::1") != client_group("2001:db8:1:3::1")
    assert client_group("::ffff:10.1.2.3") == "10.1.2.3"
    assert client_group(None) == "-"


def test_audit_line_per_failed_attempt_never_the_key(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tenant_rag.chat.audit")
    backend.client.get("/me", headers=backend.as_(ACME_KEY))
    backend.client.get("/documents", headers=backend.as_(WRONG_KEY))
    backend.client.get("/me")
    backend.client.get("/me", headers={"Authorization": f"Basic {GLOBEX_KEY}"})
    lines = [r.getMessage() for r in caplog.records if r.name == "tenant_rag.chat.audit"]
    assert len(lines) == 3, lines
    assert "GET /documents reason=invalid_key" in lines[0]
    assert f"key_sha256={fingerprint(WRONG_KEY)}" in lines[0]
    assert "reason=missing_key" in lines[1] and "reason=malformed_authorization" in lines[2]
    for line in lines:
        assert line.startswith("auth failed: client=testclient ")
        for key in (ACME_KEY, GLOBEX_KEY, WRONG_KEY):
            assert key not in line and key[:12] not in line


@pytest.fixture
def live(shared_local_server: LocalServer, keyring: KeyRing) -> Iterator[tuple[Backend, str]]:
    config = ThrottleConfig(burst=BURST, per_minute=6, tarpit_seconds=0.02)
    backend = make_backend(shared_local_server, keyring, throttle=config)
    with serving(backend.app) as url:
        yield backend, url


def _client(url: str, source: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, transport=httpx.HTTPTransport(local_address=source), timeout=30
    )


def test_brute_force_is_throttled_while_the_real_tenant_is_served(
    live: tuple[Backend, str], caplog: pytest.LogCaptureFixture
) -> None:
    backend, url = live
    caplog.set_level(logging.WARNING, logger="tenant_rag.chat.audit")
    tenant = _client(url, "127.0.0.1")
    auth = {"Authorization": f"Bearer {ACME_KEY}"}
    assert tenant.get("/documents", headers=auth).status_code == 200

    attacking = threading.Event()
    attacking.set()
    served: list[int] = []

    def work() -> None:  # the real tenant keeps using the backend during the attack
        while attacking.is_set():
            served.append(tenant.get("/documents", headers=auth).status_code)

    worker = threading.Thread(target=work)
    worker.start()
    attacker = _client(url, "127.0.0.2")

    def guess(n: int) -> httpx.Response:
        return attacker.get("/me", headers={"Authorization": f"Bearer guess-{n:04d}-xxxxxxxxxx"})

    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(guess, range(300)))
    finally:
        attacking.clear()
        worker.join()
    statuses = [r.status_code for r in answers]
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= BURST + 1  # the burst, plus at most one refilled token
    refused = [r for r in answers if r.status_code == 429]
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert refused[0].json()["code"] == "too_many_failed_attempts"
    assert served and set(served) == {200}, "the real tenant was refused during the attack"
    # a tenant first seen from a third address is not caught by the attacker's bucket
    other = _client(url, "127.0.0.3")
    assert other.get("/me", headers={"Authorization": f"Bearer {GLOBEX_KEY}"}).status_code == 200
    audit = [r for r in caplog.records if r.name == "tenant_rag.chat.audit"]
    assert len(audit) == 300  # one line per failed attempt
    assert sum("throttled_by=address" in r.getMessage() for r in audit) == len(refused)
    for client in (tenant, attacker, other):
        client.close()


def test_distributed_guessing_at_one_key_prefix_is_throttled(live: tuple[Backend, str]) -> None:
    _, url = live
    auth = {"Authorization": f"Bearer {ACME_KEY}"}
    tenant = _client(url, "127.0.0.1")
    assert tenant.get("/me", headers=auth).status_code == 200  # its usual address, trusted
    statuses = []
    for n in range(40):  # 20 addresses, 2 guesses each: no address bucket runs dry
        with _client(url, f"127.0.0.{10 + n % 20}") as attacker:
            guess = ACME_KEY[:12] + f"guess{n:04d}-xxxxxxxxxxxxxx"
            statuses.append(
                attacker.get("/me", headers={"Authorization": f"Bearer {guess}"}).status_code
            )
        assert tenant.get("/me", headers=auth).status_code == 200
    assert statuses.count(401) <= BURST + 1 and statuses.count(429) >= 40 - BURST - 1
    tenant.close()


def test_refusals_are_held_at_the_edge_without_holding_anyone_else(
    shared_local_server: LocalServer, keyring: KeyRing
) -> None:
    """A refused guess waits ``tarpit_seconds`` for its 429 (asleep at the edge, before
    routing); the tenant's own requests meanwhile are answered at once."""
    import time

    config = ThrottleConfig(burst=1, per_minute=0.1, tarpit_seconds=1.5)
    backend = make_backend(shared_local_server, keyring, throttle=config)
    with serving(backend.app) as url:
        attacker, tenant = _client(url, "127.0.0.2"), _client(url, "127.0.0.1")
        bad = {"Authorization": "Bearer guess-0000-xxxxxxxxxxxxxxxx"}
        assert attacker.get("/me", headers=bad).status_code == 401
        results: list[tuple[int, float]] = []

        def refused() -> None:
            started = time.monotonic()
            status = attacker.get("/me", headers=bad).status_code
            results.append((status, time.monotonic() - started))

        thread = threading.Thread(target=refused)
        thread.start()
        time.sleep(0.2)
        assert thread.is_alive()  # still held
        auth = {"Authorization": f"Bearer {ACME_KEY}"}
        assert tenant.get("/me", headers=auth).json() == {"tenant": "acme"}
        assert thread.is_alive()  # the tenant was answered while the guess is held
        thread.join()
        ((status, seconds),) = results
        assert status == 429 and seconds >= 1.4
        attacker.close()
        tenant.close()
