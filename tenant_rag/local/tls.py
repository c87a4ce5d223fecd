"""A local certificate authority and a loopback certificate, for ``tenant-rag serve --tls``.

Why: the gRPC client of pinecone 9.x and 10.x (Rust, tonic + rustls) speaks TLS
only (10.x can be told ``PINECONE_GRPC_SCHEME=http``; 9.x cannot), so a local
server needs a certificate those clients can be made to trust. A self-signed
leaf would not do: rustls refuses a CA certificate used as a server certificate.
So the server keeps a small CA of its own and issues one leaf from it.

Files, under ``<data_dir>/tls/`` (created on first use, reused afterwards):

* ``ca.pem``: the CA certificate, the one file a client needs to trust;
* ``ca-key.pem``: the CA's key (0600), kept so an expired leaf can be reissued
  without clients having to trust a new CA;
* ``server.pem`` / ``server-key.pem`` (0600): the leaf, valid for ``localhost``,
  ``127.0.0.1`` and ``::1`` only.

Keys are ECDSA P-256 (every client stack here accepts it). Two processes
starting over one data dir take a file lock, so they never write half a set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TLS_DIR = "tls"
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")
CA_DAYS = 3650
LEAF_DAYS = 825
_RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA certificate, the server certificate and its key are."""

    ca: Path
    cert: Path
    key: Path

    def trust_instructions(self) -> str:
        """How each client trusts this server (printed by ``tenant-rag serve --tls``)."""
        ca = str(self.ca)
        return "\n".join(
            [
                f"TLS: local CA {ca} (loopback certificate for localhost, 127.0.0.1, ::1)",
                "Trust it:",
                f"  pinecone REST (7.x, 8.x, 10.x) and gRPC (7.x, 8.x): "
                f"Pinecone(..., ssl_ca_certs={ca!r}), PineconeGRPC(..., ssl_ca_certs={ca!r})",
                f"  pinecone 9.x/10.x gRPC and 9.x REST: SSL_CERT_FILE={ca} "
                "(9.1.0's REST client ignores ssl_ca_certs)",
                f"  other grpcio clients: GRPC_DEFAULT_SSL_ROOTS_FILE_PATH={ca}",
                f"  curl / requests / httpx: --cacert {ca} / REQUESTS_CA_BUNDLE={ca} / "
                f"SSL_CERT_FILE={ca}",
            ]
        )


def ensure_certificates(data_dir: Path) -> TlsFiles:
    """The data dir's CA and loopback certificate, created or renewed as needed."""
    folder = data_dir / TLS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    ca_key_path = folder / "ca-key.pem"
    with _locked(folder / ".lock"):
        now = dt.datetime.now(dt.UTC)
        ca_cert = _load_cert(files.ca)
        ca_key = _load_key(ca_key_path)
        if ca_cert is None or ca_key is None or _expires_soon(ca_cert, now):
            ca_key = ec.generate_private_key(ec.SECP256R1())
            ca_cert = _make_ca(ca_key, now)
            _write(ca_key_path, _key_pem(ca_key), private=True)
            _write(files.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
            leaf = None
        else:
            leaf = _load_cert(files.cert)
        if (
            leaf is None
            or _load_key(files.key) is None
            or _expires_soon(leaf, now)
            or leaf.issuer != ca_cert.subject
        ):
            leaf_key = ec.generate_private_key(ec.SECP256R1())
            leaf = _make_leaf(leaf_key, ca_key, ca_cert, now)
            _write(files.key, _key_pem(leaf_key), private=True)
            _write(files.cert, leaf.public_bytes(serialization.Encoding.PEM))
    return files


def _make_ca(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tenant_rag local server"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"tenant_rag local CA {os.getpid()}"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )


def _make_leaf(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: dt.datetime,
) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in LOOPBACK_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_IPS]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _expires_soon(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_after_utc - now < _RENEW_BEFORE


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
