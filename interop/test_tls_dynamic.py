"""Dynamic keystore and truststore updates of a listener (Kafka's "Updating SSL Keystore /
Truststore of an Existing Listener"), through confluent-kafka's AdminClient.

One broker: PLAINTEXT (setup), TLS (SSL, server certificate "old" from the CA) and MTLS (SSL,
client certificates required, truststore: the CA only; the inter-broker listener). Checked with real handshakes
(Python's ssl module, backed by OpenSSL) and a confluent-kafka producer:

  - `listener.name.tls.ssl.keystore.location` set for broker 1 switches the certificate new
    connections get ("old" -> "new"), without a restart; produce through it works; after
    a restart the dynamic value still holds;
  - `listener.name.mtls.ssl.truststore.location` set to a bundle with a second CA lets that
    CA's client certificate in, which was refused before;
  - refused as Kafka refuses them, nothing stored: the unprefixed form
    (INVALID_REQUEST, "listener prefix"), a listener setting that needs a restart
    (INVALID_REQUEST), a keystore file that does not exist (INVALID_CONFIG, the listener
    keeps its certificate), a certificate for the inter-broker listener that its own
    truststore does not trust (INVALID_CONFIG).

Certificates come from certs.py at test time.
"""

from __future__ import annotations

import socket
import ssl
import time

import pytest
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ResourceType)

from certs import CertAuthority
from clients import producer, unique_topic
from test_security import SecureBroker

LISTENERS = {"PLAINTEXT": "PLAINTEXT", "TLS": "SSL", "MTLS": "SSL"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    ca = CertAuthority(root / "ca")
    other = CertAuthority(root / "other", name="other-ca", cn="Strata Interop Other CA")
    return {
        "ca": ca,
        "other": other,
        "old": ca.server("old", cn="old"),
        "new": ca.server("new", cn="new"),
        "alice": ca.client("alice", "alice"),
        "olga": other.client("olga", "olga"),
        "stranger": other.server("stranger", cn="stranger"),
        "bundle": root / "bundle.pem",
    }


@pytest.fixture(scope="module")
def dyn(tmp_path_factory, pki):
    pki["bundle"].write_text(pki["ca"].cert.read_text() + pki["other"].cert.read_text())
    settings = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki["old"].keystore),
        "listener.name.mtls.ssl.client.auth": "required",
        "listener.name.mtls.ssl.truststore.type": "PEM",
        "listener.name.mtls.ssl.truststore.location": str(pki["ca"].cert),
        "inter.broker.listener.name": "MTLS",
    }
    b = SecureBroker(tmp_path_factory.mktemp("dyn"), "dyn", LISTENERS, settings)
    b.start()
    yield b
    b.assert_alive()
    assert b.stop() == 0, b.log_tail()


def served_cn(b: SecureBroker, pki, listener: str = "TLS",
              client: object | None = None) -> str | None:
    """The CN of the certificate a new TLS connection to `listener` gets, verified against
    the CA; None when the handshake fails."""
    ctx = ssl.create_default_context(cafile=str(pki["ca"].cert))
    if client is not None:
        ctx.load_cert_chain(str(client.chain), str(client.key))
    host, port = b.addr(listener).rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                if client is not None:
                    # TLS 1.3: a refused client certificate shows at the first read.
                    tls.settimeout(2)
                    try:
                        if tls.recv(1) == b"":
                            return None
                    except socket.timeout:
                        pass
                subject = dict(x[0] for x in tls.getpeercert()["subject"])
                return subject.get("commonName")
    except (ssl.SSLError, ConnectionError, OSError):
        return None


def alter(b: SecureBroker, resource_name: str, key: str, value: str | None):
    """incremental_alter_configs on a BROKER resource; the KafkaException or None."""
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    op = AlterConfigOpType.DELETE if value is None else AlterConfigOpType.SET
    res = ConfigResource(ResourceType.BROKER, resource_name,
                         incremental_configs=[ConfigEntry(key, value or "",
                                                          incremental_operation=op)])
    fut = admin.incremental_alter_configs([res])[res]
    try:
        fut.result(timeout=20)
        return None
    except Exception as e:  # noqa: BLE001 - the error is what the test looks at
        return e


def wait_cn(b, pki, want: str, timeout: float = 10.0) -> str | None:
    deadline = time.monotonic() + timeout
    got = served_cn(b, pki)
    while got != want and time.monotonic() < deadline:
        time.sleep(0.2)
        got = served_cn(b, pki)
    return got


def code(err) -> str:
    return err.args[0].name() if err.args and hasattr(err.args[0], "name") else str(err)


def test_refusals_store_nothing(dyn, pki):
    assert served_cn(dyn, pki) == "old"
    e = alter(dyn, "1", "ssl.keystore.location", str(pki["new"].keystore))
    assert e is not None and code(e) == "INVALID_REQUEST" and "listener prefix" in str(e), e
    e = alter(dyn, "1", "listener.name.tls.ssl.client.auth", "required")
    assert e is not None and code(e) == "INVALID_REQUEST", e
    assert "cannot be updated dynamically" in str(e), e
    e = alter(dyn, "1", "listener.name.tls.ssl.keystore.location", "/nonexistent/k.pem")
    assert e is not None and code(e) == "INVALID_CONFIG" and "/nonexistent/k.pem" in str(e), e
    # The inter-broker listener only takes a certificate its own truststore (the one peers
    # verify it with) trusts.
    e = alter(dyn, "1", "listener.name.mtls.ssl.keystore.location",
              str(pki["stranger"].keystore))
    assert e is not None and code(e) == "INVALID_CONFIG" and "truststore" in str(e), e
    time.sleep(0.5)
    assert served_cn(dyn, pki) == "old"
    admin = AdminClient({"bootstrap.servers": dyn.bootstrap})
    res = ConfigResource(ResourceType.BROKER, "1")
    described = admin.describe_configs([res])[res].result(timeout=20)
    assert described["ssl.keystore.location"].value == str(pki["old"].keystore)


def test_keystore_changes_without_a_restart_and_survives_one(dyn, pki):
    assert served_cn(dyn, pki) == "old"
    key = "listener.name.tls.ssl.keystore.location"
    assert alter(dyn, "1", key, str(pki["new"].keystore)) is None
    assert wait_cn(dyn, pki, "new") == "new"
    # DescribeConfigs reports it as this broker's dynamic value.
    admin = AdminClient({"bootstrap.servers": dyn.bootstrap})
    res = ConfigResource(ResourceType.BROKER, "1")
    entry = admin.describe_configs([res])[res].result(timeout=20)[key]
    assert entry.value == str(pki["new"].keystore) and not entry.is_read_only, entry
    assert entry.source == 2, entry  # DYNAMIC_BROKER_CONFIG
    # Clients produce through it with the new certificate.
    topic = unique_topic("dyn")
    p = producer(dyn.addr("TLS"), **{"security.protocol": "SSL",
                                     "ssl.ca.location": str(pki["ca"].cert)})
    errors = []
    for i in range(10):
        p.produce(topic, str(i).encode(), on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(30) == 0 and not errors, errors
    # Only the TLS listener changed.
    assert served_cn(dyn, pki, "MTLS", pki["alice"]) == "old"
    dyn.stop()
    dyn.start()
    assert wait_cn(dyn, pki, "new", timeout=20) == "new"
    assert "dynamic TLS settings cannot be loaded" not in dyn.log_tail()
    # Deleted: back to the static keystore.
    assert alter(dyn, "1", key, None) is None
    assert wait_cn(dyn, pki, "old") == "old"


def test_truststore_changes_let_another_ca_in(dyn, pki):
    assert served_cn(dyn, pki, "MTLS", pki["alice"]) == "old"
    assert served_cn(dyn, pki, "MTLS", pki["olga"]) is None
    key = "listener.name.mtls.ssl.truststore.location"
    assert alter(dyn, "1", key, str(pki["bundle"])) is None
    deadline = time.monotonic() + 10
    got = None
    while got is None and time.monotonic() < deadline:
        got = served_cn(dyn, pki, "MTLS", pki["olga"])
    assert got == "old"
    assert served_cn(dyn, pki, "MTLS", pki["alice"]) == "old"
    assert alter(dyn, "1", key, None) is None
