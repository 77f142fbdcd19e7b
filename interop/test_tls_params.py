"""`ssl.enabled.protocols` and `ssl.cipher.suites`, per listener, against real TLS clients.

One broker with five listeners:

  PLAINTEXT  PLAINTEXT  setup
  T13        SSL        listener.name.t13.ssl.enabled.protocols=TLSv1.3
  T12        SSL        TLS 1.2 only, one cipher suite (ECDHE-ECDSA with AES-256-GCM)
  AES256     SSL        ssl.cipher.suites: TLS_AES_256_GCM_SHA384 and a CBC suite Strata
                        does not implement (left out with a warning): no TLS 1.2 suite
                        is left, so it speaks TLS 1.3 only
  ANY        SSL        no prefixed settings: both versions, every suite (and an empty
                        ssl.endpoint.identification.algorithm, which concerns only this
                        node's connections to peers)

`openssl s_client` offers exactly one version or suite at a time, so a refused handshake
shows the setting is enforced, not just accepted; confluent-kafka (librdkafka, OpenSSL)
produces and consumes through the restricted listeners with its defaults. The server
certificate has a P-256 key (certs.py), hence the ECDSA suites.
"""

from __future__ import annotations

import subprocess

import pytest

from certs import make_pki
from clients import unique_topic
from test_security import SecureBroker

LISTENERS = {"PLAINTEXT": "PLAINTEXT", "T13": "SSL", "T12": "SSL", "AES256": "SSL", "ANY": "SSL"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tlsp(tmp_path_factory, pki):
    settings = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.server.keystore),
        "listener.name.t13.ssl.enabled.protocols": "TLSv1.3",
        "listener.name.t12.ssl.enabled.protocols": "TLSv1.2",
        "listener.name.t12.ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "listener.name.aes256.ssl.cipher.suites":
            "TLS_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        # Kafka's "do not check host names" (this node's connections to peers only;
        # test_tls_endpoint_identification.py): accepted, the listener serves as before.
        "listener.name.any.ssl.endpoint.identification.algorithm": "",
    }
    b = SecureBroker(tmp_path_factory.mktemp("tlsp"), "tlsp", LISTENERS, settings)
    b.start()
    yield b
    b.assert_alive()
    assert b.stop() == 0, b.log_tail()


def handshake(b: SecureBroker, pki, listener: str, *args: str) -> dict[str, str] | None:
    """`openssl s_client -brief` against a listener: the negotiated protocol and suite, or
    None when the handshake failed."""
    res = subprocess.run(
        ["openssl", "s_client", "-brief", "-connect", b.addr(listener),
         "-CAfile", str(pki.ca.cert), "-servername", "localhost", *args],
        input="", capture_output=True, text=True, timeout=20)
    out = res.stdout + res.stderr
    if res.returncode != 0 or "CONNECTION ESTABLISHED" not in out:
        return None
    info = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("Protocol version", "Ciphersuite"):
            info[key.strip()] = value.strip()
    return info


def test_enabled_protocols_are_enforced_per_listener(tlsp, pki):
    assert handshake(tlsp, pki, "T13", "-tls1_2") is None
    got = handshake(tlsp, pki, "T13", "-tls1_3")
    assert got and got["Protocol version"] == "TLSv1.3", got
    assert handshake(tlsp, pki, "T12", "-tls1_3") is None
    got = handshake(tlsp, pki, "T12", "-tls1_2")
    assert got == {"Protocol version": "TLSv1.2",
                   "Ciphersuite": "ECDHE-ECDSA-AES256-GCM-SHA384"}, got
    # The one listed suite only: AES-128 is refused on T12 though TLS 1.2 allows it.
    assert handshake(tlsp, pki, "T12", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256") is None
    # A listener without the prefixed settings speaks both versions.
    for flag, version in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        got = handshake(tlsp, pki, "ANY", flag)
        assert got and got["Protocol version"] == version, (flag, got)
    # Suites that leave no TLS 1.2 suite leave no TLS 1.2.
    assert handshake(tlsp, pki, "AES256", "-tls1_2") is None


def test_cipher_suites_are_enforced_and_unimplemented_ones_left_out(tlsp, pki):
    assert handshake(tlsp, pki, "AES256", "-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256") is None
    assert handshake(tlsp, pki, "AES256", "-tls1_3",
                     "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256") is None
    got = handshake(tlsp, pki, "AES256", "-tls1_3")
    assert got and got["Ciphersuite"] == "TLS_AES_256_GCM_SHA384", got
    # The other listeners keep every suite.
    got = handshake(tlsp, pki, "T13", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
    assert got and got["Ciphersuite"] == "TLS_CHACHA20_POLY1305_SHA256", got
    warned = [l for l in tlsp.log_path.read_text().splitlines()
              if " WARN " in l and "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384" in l]
    assert len(warned) == 1 and "left out" in warned[0], warned


def test_endpoint_identification_off_is_honoured_without_a_warning(tlsp, pki):
    log = tlsp.log_path.read_text()
    lines = [l for l in log.splitlines()
             if " WARN " in l and "ssl.endpoint.identification.algorithm" in l]
    assert lines == [], lines
    # The listener's own side is unchanged: it serves its certificate as before.
    got = handshake(tlsp, pki, "ANY", "-tls1_3")
    assert got and got["Protocol version"] == "TLSv1.3", got


@pytest.mark.parametrize("listener", ["T12", "T13", "AES256", "ANY"])
def test_confluent_kafka_through_restricted_listeners(tlsp, pki, listener):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    conf = {"bootstrap.servers": tlsp.addr(listener), "security.protocol": "SSL",
            "ssl.ca.location": str(pki.ca.cert)}
    topic = unique_topic(f"tlsp-{listener.lower()}")
    admin = AdminClient(conf)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=20)
    p = Producer({**conf, "linger.ms": 0})
    errors = []
    for i in range(20):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(),
                  on_delivery=lambda err, _m: err and errors.append(err))
    assert p.flush(20) == 0 and not errors, errors
    c = Consumer({**conf, "group.id": f"g-{topic}", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        for _ in range(60):
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value())
            if len(got) == 20:
                break
        assert got == [f"v{i}".encode() for i in range(20)]
    finally:
        c.close()
