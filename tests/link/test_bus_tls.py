"""The bus over TLS: clients that trust the site's CA connect and call as before; a client
speaking plain text, or trusting another CA, is refused with a clear reason."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.subjects import APP_USER
from vigil.link.protocol import LinkUnavailable

APP_PASSWORD = "tls-app-password"


def _authority(folder: Path, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _server_certificate(
    folder: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bus")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / "bus.pem", folder / "bus.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_bus(tmp_path: Path) -> Iterator[NatsServer]:
    ca, ca_key = _authority(tmp_path, "site-ca")
    _authority(tmp_path, "other-ca")
    cert_file, key_file = _server_certificate(tmp_path, ca, ca_key)
    server = NatsServer(
        tmp_path / "bus", APP_PASSWORD, {}, tls_cert_file=cert_file, tls_key_file=key_file
    )
    with server:
        yield server


async def test_the_bus_speaks_tls_to_those_who_trust_it(tls_bus: NatsServer) -> None:
    folder = tls_bus.folder.parent
    client = await connect(
        tls_bus.url, APP_USER, APP_PASSWORD, name="tls-app", ca_file=folder / "site-ca.pem"
    )
    try:
        assert client.is_connected
        reply = await client.request("$JS.API.INFO", b"", timeout=5)  # a round trip
        assert b"memory" in reply.data
    finally:
        await client.close()
    with pytest.raises(LinkUnavailable, match=r"other-ca.pem did not sign the bus's certificate"):
        await connect(
            tls_bus.url, APP_USER, APP_PASSWORD, name="tls-app", ca_file=folder / "other-ca.pem"
        )
    with pytest.raises(LinkUnavailable, match=r"the bus speaks TLS: set bus.tls_ca_file"):
        await connect(tls_bus.url, APP_USER, APP_PASSWORD, name="plain-app")
