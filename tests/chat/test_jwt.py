"""User tokens (JWT) in the chatbot backend: who the user is decides what they read.

Tokens are signed here with PyJWT, as an identity provider would sign them,
and sent as ``Authorization: Bearer <token>``. Every bad token (bad
signature, expired, no tenant, wrong audience, ...) is a 401 naming the
problem, and none falls back to a tenant key's wider view. With good tokens,
``/chat`` and ``GET /documents`` show each user only what their access lists
allow; deleting and re-permissioning need the document to name the user.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from tenant_rag.chat import KeyRing, create_chat_app
from tenant_rag.chat.jwt_auth import JwtConfig, load_jwt_config
from tenant_rag.connection import ensure_index
from tenant_rag.errors import ConfigurationError
from tenant_rag.lifecycle import reembed_tenant
from tenant_rag.local import LocalServer
from tenant_rag.models.hashing import HashingTestEmbeddings
from tenant_rag.tenancy import PinnedIndex
from tenant_rag.tenancy.acl import TENANT_ADMIN
from tenant_rag.tenancy.routing import RoutingTable

from .conftest import ACME_KEY, DIM, GLOBEX_KEY, Backend, parse_sse, sources_of

SECRET = "s3cret-for-tests-" + "x" * 32
AUD, ISS = "tenant-rag", "https://idp.example.test"
DOCS = {
    "pub.md": ("The cafeteria opens at eight in March.", None),
    "hr.md": ("Salary bands are reviewed in March.", ["group:hr"]),
    "alice.md": ("Alice's review is in March.", ["user:alice"]),
    "board.md": ("The board meets in March about the merger.", []),
}


def token(key: Any = SECRET, alg: str = "HS256", **claims: Any) -> str:
    body: dict[str, Any] = {
        "tenant": "acme",
        "sub": "alice",
        "groups": ["eng"],
        "exp": int(time.time()) + 300,
        "aud": AUD,
        "iss": ISS,
    }
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not _DROP}, key, algorithm=alg)


_DROP: Any = object()


def _app(server: LocalServer, config: JwtConfig | None) -> Backend:
    name = "jwt-" + uuid.uuid4().hex[:12]
    embedding = HashingTestEmbeddings(DIM)
    index = ensure_index(server.client(), name, dimension=DIM)
    keys = KeyRing.from_mapping({ACME_KEY: "acme", GLOBEX_KEY: "globex"})
    app = create_chat_app(keys=keys, embedding=embedding, index=index, index_name=name, jwt=config)
    return Backend(app, TestClient(app), index, name, embedding)


@pytest.fixture
def jb(shared_local_server: LocalServer) -> Iterator[Backend]:
    """An app accepting HS256 user tokens (audience and issuer checked), acme's docs seeded."""
    b = _app(shared_local_server, JwtConfig(secret=SECRET, audience=AUD, issuer=ISS))
    with b.client:
        for doc, (text, acl) in DOCS.items():
            r = b.upload(ACME_KEY, (doc, text), acl=acl)  # waits for the ingestion job
            assert r.status_code == 200, r.text
        yield b


def _docs(b: Backend, tok: str) -> set[str]:
    resp = b.client.get("/documents", headers=b.as_(tok))
    assert resp.status_code == 200, resp.text
    return {d["doc_id"] for d in resp.json()["documents"]}


def _sources(b: Backend, tok: str, question: str = "What happens in March?") -> set[str]:
    resp = b.chat(tok, question)
    assert resp.status_code == 200, resp.text
    return {s["doc_id"] for s in sources_of(parse_sse(resp.text))}


def test_each_user_sees_only_what_they_may_read(jb: Backend) -> None:
    alice = token()
    bob = token(sub="bob", groups=["hr"])
    admin = token(sub="carol", groups=[], tenant_admin=True)
    assert jb.client.get("/me", headers=jb.as_(alice)).json() == {
        "tenant": "acme",
        "user": "alice",
        "groups": ["eng"],
        "tenant_admin": False,
    }
    assert _docs(jb, alice) == {"pub.md", "alice.md"}
    assert _docs(jb, bob) == {"pub.md", "hr.md"}
    assert _docs(jb, admin) == set(DOCS) == _docs(jb, ACME_KEY)
    assert _sources(jb, alice) <= {"pub.md", "alice.md"} and "alice.md" in _sources(jb, alice)
    assert _sources(jb, bob) <= {"pub.md", "hr.md"} and "hr.md" in _sources(jb, bob)
    assert "board.md" in _sources(jb, admin, "When does the board meet about the merger?")
    # another tenant's user sees none of acme's documents
    assert _docs(jb, token(tenant="globex")) == set()


BAD_TOKENS: list[tuple[str, Any, str]] = [
    ("expired", lambda: token(exp=int(time.time()) - 5), "token_expired"),
    ("bad signature", lambda: token(key="another-secret-" + "y" * 32), "token_bad_signature"),
    ("tampered", lambda: token()[:-3] + ("AAA" if not token().endswith("AAA") else "BBB"), ""),
    ("no tenant claim", lambda: token(tenant=_DROP), "token_missing_claim"),
    ("no user claim", lambda: token(sub=_DROP), "token_missing_claim"),
    ("no expiry", lambda: token(exp=_DROP), "token_missing_claim"),
    ("wrong audience", lambda: token(aud="someone-else"), "token_wrong_audience"),
    ("no audience", lambda: token(aud=_DROP), "token_missing_claim"),
    ("wrong issuer", lambda: token(iss="https://evil.test"), "token_wrong_issuer"),
    ("not yet valid", lambda: token(nbf=int(time.time()) + 600), "token_not_yet_valid"),
    ("default tenant", lambda: token(tenant="__default__"), "token_bad_claim"),
    ("empty tenant", lambda: token(tenant=""), "token_bad_claim"),
    ("tenant not a string", lambda: token(tenant=["acme"]), "token_bad_claim"),
    ("empty user", lambda: token(sub=""), "token_bad_claim"),
    ("groups a string", lambda: token(groups="hr"), "token_bad_claim"),
    ("a group not a string", lambda: token(groups=["hr", 3]), "token_bad_claim"),
    ("too many groups", lambda: token(groups=[f"g{i}" for i in range(1001)]), "token_bad_claim"),
    ("admin claim a string", lambda: token(tenant_admin="true"), "token_bad_claim"),
    ("alg none", lambda: jwt.encode({"tenant": "acme", "sub": "x"}, None, algorithm="none"), ""),
    ("garbage", lambda: "eyJhbGciOiJIUzI1NiJ9.e30.AAAA", ""),
]


@pytest.mark.parametrize(("what", "make", "code"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS])
def test_a_bad_token_is_refused_and_never_falls_back(
    jb: Backend, what: str, make: Any, code: str
) -> None:
    tok = make()
    for call in (
        lambda: jb.client.get("/documents", headers=jb.as_(tok)),
        lambda: jb.chat(tok, "What happens in March?"),
        lambda: jb.client.get("/me", headers=jb.as_(tok)),
    ):
        resp = call()
        assert resp.status_code == 401, (what, resp.text)
        body = resp.json()
        assert body["detail"] and body["code"].startswith(("token_", "invalid_"))
        if code:
            assert body["code"] == code, body
        assert "March" not in resp.text


def test_uploads_take_an_acl_and_users_change_only_what_names_them(jb: Backend) -> None:
    alice, bob = token(), token(sub="bob", groups=["hr"])
    plan = ("plan.md", "Alice's plan for March.")
    r = jb.upload(alice, plan, acl='["user:alice"]')
    assert r.status_code == 200, r.text
    assert "plan.md" in _docs(jb, alice) and "plan.md" not in _docs(jb, bob)
    # bob cannot replace it (the name is taken: refused before any job is queued), delete it
    # (404: he cannot see it) or re-permission it
    r = jb.submit(bob, plan)
    assert r.status_code == 409 and r.json()["code"] == "document_exists"
    assert jb.client.delete("/documents/plan.md", headers=jb.as_(bob)).status_code == 404
    r = jb.client.put("/documents/plan.md/acl", json={"acl": ["tenant"]}, headers=jb.as_(bob))
    assert r.status_code == 404
    # bob may read hr.md through his group, but its list does not name him: 403 to change it
    assert jb.client.delete("/documents/hr.md", headers=jb.as_(bob)).status_code == 403
    r = jb.client.put("/documents/hr.md/acl", json={"acl": ["tenant"]}, headers=jb.as_(bob))
    assert r.status_code == 403 and r.json()["code"] == "not_document_owner"
    # alice shares her plan with the HR group; bob sees it on his next request
    r = jb.client.put(
        "/documents/plan.md/acl", json={"acl": ["user:alice", "group:hr"]}, headers=jb.as_(alice)
    )
    assert r.status_code == 200 and r.json()["updated_chunks"] == 1, r.text
    assert "plan.md" in _docs(jb, bob)
    r = jb.client.put("/documents/plan.md/acl", json={"acl": "user:bob"}, headers=jb.as_(alice))
    assert r.status_code == 422 and r.json()["code"] == "invalid_acl"
    bad = jb.submit(alice, plan, acl="group:hr")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_acl"
    assert jb.client.delete("/documents/plan.md", headers=jb.as_(alice)).status_code == 200
    assert "plan.md" not in _docs(jb, ACME_KEY)


def test_rs256_and_es256_public_keys(shared_local_server: LocalServer) -> None:
    for private in (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
    ):
        alg = "RS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256"
        pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        config = JwtConfig(public_key=pem)
        assert config.algorithms == (alg,)
        b = _app(shared_local_server, config)
        with b.client:
            good = token(key=private, alg=alg, aud=_DROP, iss=_DROP)
            assert b.client.get("/me", headers=b.as_(good)).json()["user"] == "alice"
            # algorithm confusion: an HS256 token "signed" with the public key is refused
            forged = _forge_hs256({"tenant": "acme", "sub": "eve", "exp": 2**31}, pem.encode())
            resp = b.client.get("/me", headers=b.as_(forged))
            assert resp.status_code == 401 and resp.json()["code"] == "token_bad_algorithm"
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if alg == "RS256":
                resp = b.client.get("/me", headers=b.as_(token(key=other, alg=alg, aud=_DROP)))
                assert resp.status_code == 401 and resp.json()["code"] == "token_bad_signature"


def _forge_hs256(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 token keyed with ``key`` (PyJWT itself refuses to sign with a PEM key)."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def test_bad_jwt_settings_are_refused_at_startup(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError, match="exactly one key"):
        JwtConfig()
    with pytest.raises(ConfigurationError, match="exactly one key"):
        JwtConfig(secret=SECRET, public_key="x")
    with pytest.raises(ConfigurationError, match="shorter"):
        JwtConfig(secret="short")
    with pytest.raises(ConfigurationError, match="cannot be used"):
        JwtConfig(secret=SECRET, algorithms=("RS256",))
    with pytest.raises(ConfigurationError, match="PEM"):
        JwtConfig(public_key="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    assert load_jwt_config({}) is None
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_jwt_config({"TENANT_RAG_JWT_PUBLIC_KEY_FILE": str(tmp_path / "missing.pem")})
    config = load_jwt_config({"TENANT_RAG_JWT_SECRET": SECRET, "TENANT_RAG_JWT_AUDIENCE": AUD})
    assert config is not None and config.audience == AUD and SECRET not in repr(config)


def test_tokens_only_server_and_keys_only_server(shared_local_server: LocalServer) -> None:
    # no tenant keys at all: tokens alone are enough to start
    name = "jwt-" + uuid.uuid4().hex[:12]
    index = ensure_index(shared_local_server.client(), name, dimension=DIM)
    app = create_chat_app(
        keys=KeyRing.from_mapping({}),
        embedding=HashingTestEmbeddings(DIM),
        index=index,
        index_name=name,
        jwt=JwtConfig(secret=SECRET),
    )
    with TestClient(app) as client:
        me = client.get("/me", headers={"Authorization": f"Bearer {token(aud=_DROP, iss=_DROP)}"})
        assert me.status_code == 200 and me.json()["tenant"] == "acme"
    with pytest.raises(ConfigurationError, match="no JWT key"):
        create_chat_app(
            keys=KeyRing.from_mapping({}),
            embedding=HashingTestEmbeddings(DIM),
            index=index,
            jwt=None,
        )
    # a keys-only server does not take tokens
    b = _app(shared_local_server, None)
    with b.client:
        resp = b.client.get("/me", headers=b.as_(token()))
        assert resp.status_code == 401 and resp.json()["code"] == "invalid_key"


def test_tokens_and_the_secret_never_reach_the_logs(
    jb: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    tok = token()
    with caplog.at_level(logging.DEBUG):
        jb.client.get("/documents", headers=jb.as_(tok))
        jb.client.get("/documents", headers=jb.as_(token(exp=1)))
        logging.getLogger("tenant_rag.chat").info("echo %s and %s", tok, SECRET)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert tok not in text and SECRET not in text


def test_a_queued_upload_does_not_replace_what_its_user_may_no_longer_change(
    jb: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload route checks that a user may replace the names they upload; the job
    checks again just before it writes, so a document that appeared (or changed hands)
    while the upload waited in the queue is not replaced by it."""
    gate = threading.Event()
    embed = jb.embedding.embed_documents

    def held(texts: list[str]) -> list[list[float]]:
        gate.wait(30)  # the job thread waits here: later jobs of the tenant queue behind it
        return embed(texts)

    monkeypatch.setattr(jb.embedding, "embed_documents", held)
    alice, bob = token(), token(sub="bob", groups=["hr"])
    first = jb.submit(ACME_KEY, ("memo.md", "The admin's memo for March."), acl=["user:alice"])
    assert first.status_code == 202, first.text
    # memo.md does not exist yet, so bob may upload that name: accepted, queued behind it
    second = jb.submit(bob, ("memo.md", "Bob's memo for March."))
    assert second.status_code == 202, second.text
    gate.set()
    assert jb.wait(ACME_KEY, first.json()["job"]["id"])["status"] == "succeeded"
    job = jb.wait(bob, second.json()["job"]["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "document_exists", job
    # nothing replaced: the admin's memo, still readable by alice only
    assert "memo.md" in _docs(jb, alice) and "memo.md" not in _docs(jb, bob)
    [rec] = PinnedIndex(jb.index, "acme", principal=TENANT_ADMIN).fetch(["memo.md#0"]).values()
    assert rec.metadata["text"] == "The admin's memo for March."
    assert rec.metadata["acl"] == ["user:alice"]


def test_a_routed_tenant_is_read_checked_and_changed_in_its_routed_index(
    shared_local_server: LocalServer, tmp_path: Path
) -> None:
    """After a re-embedding switches acme's route, every access check and read of the
    document routes uses the new index: the access lists travelled with the records,
    users see what they saw before, and a change lands in the new index only."""
    pc = shared_local_server.client()
    suffix = uuid.uuid4().hex[:8]
    old_emb, new_emb = HashingTestEmbeddings(DIM), HashingTestEmbeddings(96)
    old = ensure_index(pc, f"jwt-route-a-{suffix}", dimension=DIM)
    new = ensure_index(pc, f"jwt-route-b-{suffix}", dimension=96)
    routes = RoutingTable(tmp_path / "routes.json")
    keys = KeyRing.from_mapping({ACME_KEY: "acme", GLOBEX_KEY: "globex"})
    app = create_chat_app(
        keys=keys,
        embedding=old_emb,
        index=old,
        index_name=f"jwt-route-a-{suffix}",
        routes=routes,
        jwt=JwtConfig(secret=SECRET, audience=AUD, issuer=ISS),
    )
    app.state.service.open_index = lambda name: (new, new_emb)
    b = Backend(app, TestClient(app), old, f"jwt-route-a-{suffix}", old_emb)
    alice, bob = token(), token(sub="bob", groups=["hr"])
    with b.client:
        for doc, (text, acl) in DOCS.items():
            assert b.upload(ACME_KEY, (doc, text), acl=acl).status_code == 200
        before = {who: _docs(b, who) for who in (alice, bob, ACME_KEY)}
        report = reembed_tenant(old, new, "acme", embedding=new_emb, routes=routes)
        assert report.verified and report.routed and report.records == len(DOCS)
        # the old index's copy no longer decides anything: open alice.md to everyone there
        PinnedIndex(old, "acme").set_document_acl("alice.md", ["tenant"])
        assert {who: _docs(b, who) for who in (alice, bob, ACME_KEY)} == before
        assert "alice.md" not in _sources(b, bob) and "alice.md" in _sources(b, alice)
        # bob may not change alice.md (404: he cannot read it in the routed index)
        assert b.client.delete("/documents/alice.md", headers=b.as_(bob)).status_code == 404
        r = b.client.put("/documents/alice.md/acl", json={"acl": ["tenant"]}, headers=b.as_(bob))
        assert r.status_code == 404
        assert b.submit(bob, ("alice.md", "Bob was here.")).status_code == 409
        # alice shares it: written to the routed index, seen by bob on his next request
        r = b.client.put(
            "/documents/alice.md/acl",
            json={"acl": ["user:alice", "group:hr"]},
            headers=b.as_(alice),
        )
        assert r.status_code == 200 and r.json()["updated_chunks"] == 1, r.text
        assert "alice.md" in _docs(b, bob)
        # a user's upload with an access list is written to the routed index with it
        assert b.upload(alice, ("mine.md", "Alice's notes."), acl=["user:alice"]).status_code == 200
        assert "mine.md" in _docs(b, alice) and "mine.md" not in _docs(b, bob)
        assert PinnedIndex(new, "acme", principal=TENANT_ADMIN).fetch(["mine.md#0"])
        assert not PinnedIndex(old, "acme", principal=TENANT_ADMIN).fetch(["mine.md#0"])
        assert b.client.delete("/documents/alice.md", headers=b.as_(alice)).status_code == 200
        assert not PinnedIndex(new, "acme", principal=TENANT_ADMIN).fetch(["alice.md#0"])


def test_a_user_sees_only_their_own_upload_jobs(jb: Backend) -> None:
    """A job's file names and report can name documents a user may not read: users see
    their own jobs only (another user's job id is a 404, as an unknown one); tenant keys
    see every job of the tenant."""
    alice, bob = token(), token(sub="bob", groups=["hr"])
    mine = jb.submit(alice, ("alice-private.md", "Alice's private notes."), acl=["user:alice"])
    assert mine.status_code == 202, mine.text
    job_id = mine.json()["job"]["id"]
    assert jb.wait(alice, job_id)["status"] == "succeeded"
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/events"):
        r = jb.client.get(path, headers=jb.as_(bob))
        assert r.status_code == 404 and r.json()["code"] == "unknown_job", r.text
    listed = jb.client.get("/jobs", headers=jb.as_(bob)).json()["jobs"]
    assert job_id not in {j["id"] for j in listed}
    assert "alice-private.md" not in json.dumps(listed)
    assert job_id in {j["id"] for j in jb.client.get("/jobs", headers=jb.as_(alice)).json()["jobs"]}
    assert job_id in {
        j["id"] for j in jb.client.get("/jobs", headers=jb.as_(ACME_KEY)).json()["jobs"]
    }
    # the seeding jobs (a tenant key's) are not a user's either
    assert listed == []


def _hold_the_job(jb: Backend, monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, Any]:
    """Make the next upload job stop inside its write (after its checks) until released."""
    entered, gate = threading.Event(), threading.Event()
    embed = jb.embedding.embed_documents

    def held(texts: list[str]) -> list[list[float]]:
        entered.set()
        gate.wait(30)
        return embed(texts)

    monkeypatch.setattr(jb.embedding, "embed_documents", held)
    return entered, gate


def test_an_acl_change_during_an_upload_of_that_document_is_refused_not_lost(
    jb: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between an upload job's last check and its write, nothing else may change the
    document: an admin's new access list would be overwritten by the upload's own."""
    alice = token()
    first = jb.upload(ACME_KEY, ("plan.md", "The March plan."), acl=["user:alice"])
    assert first.status_code == 200, first.text
    entered, gate = _hold_the_job(jb, monkeypatch)
    # alice may replace plan.md (its list names her); her job passes its checks, then writes
    job = jb.submit(alice, ("plan.md", "Alice's March plan."), acl=["user:alice"])
    assert job.status_code == 202, job.text
    assert entered.wait(30)
    changed = jb.client.put(
        "/documents/plan.md/acl", json={"acl": ["user:carol"]}, headers=jb.as_(ACME_KEY)
    )
    assert changed.status_code == 409, changed.text
    assert changed.json()["code"] == "document_busy"
    assert "plan.md" in changed.json()["detail"]
    gate.set()
    assert jb.wait(alice, job.json()["job"]["id"])["status"] == "succeeded"
    # once the upload is written, the change goes through and is what is stored
    again = jb.client.put(
        "/documents/plan.md/acl", json={"acl": ["user:carol"]}, headers=jb.as_(ACME_KEY)
    )
    assert again.status_code == 200, again.text
    [rec] = PinnedIndex(jb.index, "acme", principal=TENANT_ADMIN).fetch(["plan.md#0"]).values()
    assert rec.metadata["acl"] == ["user:carol"]
    assert rec.metadata["text"] == "Alice's March plan."


def test_a_delete_during_an_upload_of_that_document_is_refused_not_undone(
    jb: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delete answered 200 while the upload job still writes the same name would be
    silently undone by the job's write."""
    first = jb.upload(ACME_KEY, ("draft.md", "A draft for March."))
    assert first.status_code == 200, first.text
    entered, gate = _hold_the_job(jb, monkeypatch)
    job = jb.submit(ACME_KEY, ("draft.md", "A second draft for March."))
    assert job.status_code == 202, job.text
    assert entered.wait(30)
    deleted = jb.client.delete("/documents/draft.md", headers=jb.as_(ACME_KEY))
    assert deleted.status_code == 409, deleted.text
    assert deleted.json()["code"] == "document_busy"
    gate.set()
    assert jb.wait(ACME_KEY, job.json()["job"]["id"])["status"] == "succeeded"
    assert jb.client.delete("/documents/draft.md", headers=jb.as_(ACME_KEY)).status_code == 200
    assert PinnedIndex(jb.index, "acme", principal=TENANT_ADMIN).fetch(["draft.md#0"]) == {}
