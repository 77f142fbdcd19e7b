"""Security against real clients: TLS, mTLS, SASL (PLAIN, SCRAM), named listeners, user admin.

One broker for most tests ("sec", module scope) with five listeners:

  PLAINTEXT       PLAINTEXT  the Broker's own port; no authentication, used for setup
  SECURE          SASL_SSL   SCRAM / PLAIN over TLS; per KIP-684 the global
                             ssl.client.auth=required below does not apply to it
  SASL_PLAINTEXT  SASL_PLAINTEXT  named like its protocol, so it has no protocol-map entry
  MTLS            SSL        inherits the global ssl.client.auth=required (mutual TLS)
  TLS             SSL        listener.name.tls.ssl.client.auth=none (server auth only), and
                             its own keystore (an RSA key in PKCS#1 form)

The first admin user comes from STRATA_ADMIN_USER / STRATA_ADMIN_PASSWORD. Certificate
reload, re-authentication and bad settings use brokers of their own. All certificates are
generated at test time by certs.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialDeletion, UserScramCredentialUpsertion)
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.errors import KafkaError as KpKafkaError

import wire
from broker import Broker, free_port
from certs import Pki, make_pki
from clients import COMMON, consume, create_topic, produce_all, producer
from conftest import BrokerFactory

KCAT = shutil.which("kcat") or shutil.which("kafkacat")

ADMIN = "admin"
ADMIN_PW = f"admin-{uuid.uuid4().hex[:12]}"
ADMIN_ENV = {"STRATA_ADMIN_USER": ADMIN, "STRATA_ADMIN_PASSWORD": ADMIN_PW}
INVALID_CREDENTIALS = ("Authentication failed during authentication due to invalid credentials "
                       "with SASL mechanism {}")

SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
SASL_AUTHENTICATION_FAILED = 58

LISTENERS = ["PLAINTEXT", "SECURE", "SASL_PLAINTEXT", "MTLS", "TLS"]


# --- brokers ----------------------------------------------------------------------------------

def wait_ports(b: Broker, ports, timeout: float = 15.0) -> None:
    """Block until every listener port accepts TCP connections."""
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            b.assert_alive()
            try:
                with socket.create_connection((b.host, port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"listener port {port} not listening\n{b.log_tail()}")
                time.sleep(0.1)


class SecureBroker(Broker):
    """A Broker with named listeners: `ports` maps listener name to port; PLAINTEXT is the
    Broker's own port (the one `--listen` names and start() waits for)."""

    def __init__(self, workdir, name, listeners: dict[str, str | None], settings: dict[str, str],
                 env: dict[str, str] | None = None):
        super().__init__(workdir, name, env=env)
        self.ports = {n: (self.port if n == "PLAINTEXT" else free_port()) for n in listeners}
        proto_map = [f"{n}:{p}" for n, p in listeners.items() if p is not None]
        args = ["--set", "listeners=" + ",".join(f"{n}://{self.host}:{port}"
                                                 for n, port in self.ports.items())]
        if proto_map:
            args += ["--set", "listener.security.protocol.map=" + ",".join(proto_map)]
        for k, v in settings.items():
            args += ["--set", f"{k}={v}"]
        self.extra_args = args

    def addr(self, listener: str) -> str:
        return f"{self.host}:{self.ports[listener]}"

    def start(self, timeout: float = 30.0) -> "SecureBroker":
        super().start(timeout)
        wait_ports(self, self.ports.values())
        return self


class SecureBrokerFactory(BrokerFactory):
    """broker_factory for SecureBrokers (the conftest hook attaches their logs on failure)."""

    def make(self, name: str, listeners, settings, env=None) -> SecureBroker:
        b = SecureBroker(self.tmp_path_factory.mktemp(name), name, listeners, settings, env)
        self.brokers.append(b)
        return b.start()


@pytest.fixture
def sec_factory(tmp_path_factory):
    f = SecureBrokerFactory(tmp_path_factory)
    yield f
    for b in f.brokers:
        if b.running():
            code = b.stop()
            assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def sec(tmp_path_factory, pki):
    listeners = {"PLAINTEXT": "PLAINTEXT", "SECURE": "SASL_SSL", "SASL_PLAINTEXT": None,
                 "MTLS": "SSL", "TLS": "SSL"}
    settings = {
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.server.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca.cert),
        "ssl.client.auth": "required",
        "listener.name.tls.ssl.client.auth": "none",
        "listener.name.tls.ssl.keystore.location": str(pki.server_rsa.keystore),
    }
    b = SecureBroker(tmp_path_factory.mktemp("sec"), "sec", listeners, settings, env=ADMIN_ENV)
    b.start()
    yield b
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


# --- client configuration -----------------------------------------------------------------------

def rd_conf(b: SecureBroker, pki: Pki, listener: str, *, user: str = ADMIN,
            password: str = ADMIN_PW, mechanism: str | None = None, cert=None) -> dict:
    """librdkafka settings (confluent-kafka and kcat) for a client of `listener`."""
    conf = {"bootstrap.servers": b.addr(listener)}
    if listener == "SECURE":
        conf.update({"security.protocol": "SASL_SSL", "ssl.ca.location": str(pki.ca.cert),
                     "sasl.mechanisms": mechanism or "SCRAM-SHA-512",
                     "sasl.username": user, "sasl.password": password})
    elif listener == "SASL_PLAINTEXT":
        conf.update({"security.protocol": "SASL_PLAINTEXT",
                     "sasl.mechanisms": mechanism or "SCRAM-SHA-256",
                     "sasl.username": user, "sasl.password": password})
    elif listener == "MTLS":
        cert = pki.alice if cert is None else cert
        conf.update({"security.protocol": "SSL", "ssl.ca.location": str(pki.ca.cert)})
        if cert is not False:
            conf.update({"ssl.certificate.location": str(cert.cert),
                         "ssl.key.location": str(cert.key)})
    elif listener == "TLS":
        conf.update({"security.protocol": "SSL", "ssl.ca.location": str(pki.ca.cert)})
    return conf


def client_only(conf: dict) -> dict:
    return {k: v for k, v in conf.items() if k != "bootstrap.servers"}


class RdLog(logging.Handler):
    """Collects librdkafka's log lines (confluent-kafka's `logger` setting)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.logger = logging.getLogger(f"rdkafka.{uuid.uuid4().hex[:8]}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record):
        self.lines.append(record.getMessage())

    def text(self) -> str:
        return "\n".join(self.lines)


# One connection attempt a second at most: failures are slow (the broker delays answers to failed
# authentications) and each retry would only add log noise.
FAIL_FAST = {"reconnect.backoff.ms": 1000, "reconnect.backoff.max.ms": 1000}


def metadata_refused(conf: dict, until: str, timeout: float = 12.0) -> str:
    """Assert a librdkafka client with `conf` gets no metadata, trying until its log shows
    `until` (a regular expression) or `timeout` passes; returns its log lines. Stopping at
    the first failure keeps the broker's failed-authentication delay for this address low."""
    log = RdLog()
    a = AdminClient({**COMMON, **conf, **FAIL_FAST, "logger": log.logger})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            md = a.list_topics(timeout=0.5)
        except KafkaException as e:
            err = e.args[0]
            assert err.code() in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT,
                                  KafkaError._AUTHENTICATION, KafkaError._SSL,
                                  KafkaError._ALL_BROKERS_DOWN), err
        else:
            raise AssertionError(f"client got metadata it should not: brokers {md.brokers}, "
                                 f"topics {list(md.topics)}")
        a.poll(0.05)  # serve the queued log lines
        if re.search(until, log.text()):
            break
    return log.text()


def md_brokers(conf: dict) -> dict[int, tuple[str, int]]:
    md = AdminClient({**COMMON, **conf}).list_topics(timeout=10)
    return {bid: (m.host, m.port) for bid, m in md.brokers.items()}


def kcat(conf: dict, *args: str, stdin: str | None = None, timeout: float = 30.0,
         check: bool = True) -> subprocess.CompletedProcess:
    assert KCAT, "kcat not installed (scripts/test.sh installs it)"
    cmd = [KCAT, "-b", conf["bootstrap.servers"], "-X", "socket.timeout.ms=10000"]
    for k, v in client_only(conf).items():
        cmd += ["-X", f"{k}={v}"]
    cmd += list(args)
    try:
        res = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"kcat hung for {timeout}s: {cmd}\nstderr: {e.stderr}") from e
    if check:
        assert res.returncode == 0, f"{cmd} exited {res.returncode}\nstderr:\n{res.stderr}"
    return res


def numbered(n: int, tag: str) -> list[tuple[bytes, bytes, dict]]:
    return [(f"k{i}".encode(), f"{tag}-{i}".encode(), {"partition": 0}) for i in range(n)]


# --- 1. SASL_SSL with SCRAM-SHA-512 -----------------------------------------------------------

def test_sasl_ssl_scram512_kcat_and_confluent(sec, pki):
    topic = create_topic(sec.bootstrap)
    conf = rd_conf(sec, pki, "SECURE")
    assert conf["sasl.mechanisms"] == "SCRAM-SHA-512"

    # kcat produces, confluent-kafka reads back, both over SASL_SSL.
    lines = [f"kc{i}:kcat value {i}" for i in range(20)]
    kcat(conf, "-P", "-t", topic, "-p", "0", "-K:", stdin="\n".join(lines) + "\n")
    got = consume(conf["bootstrap.servers"], topic, 0, 20, **client_only(conf))
    assert [f"{m.key().decode()}:{m.value().decode()}" for m in got] == lines

    # confluent-kafka produces, kcat reads everything back.
    msgs = numbered(30, "confluent")
    delivered = produce_all(producer(conf["bootstrap.servers"], **client_only(conf)), topic, msgs)
    assert [m.offset() for m in delivered] == list(range(20, 50))
    out = kcat(conf, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-J").stdout
    recs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [r["offset"] for r in recs] == list(range(50))
    assert [r["payload"] for r in recs] == ([f"kcat value {i}" for i in range(20)]
                                            + [f"confluent-{i}" for i in range(30)])


def test_sasl_ssl_wrong_password_kcat(sec, pki):
    fresh_failure_delay(sec)
    topic = create_topic(sec.bootstrap)
    kcat(rd_conf(sec, pki, "PLAINTEXT"), "-P", "-t", topic, "-p", "0", stdin="secret-data\n")
    bad = rd_conf(sec, pki, "SECURE", password=ADMIN_PW + "x")

    res = kcat(bad, "-L", "-m", "3", timeout=20, check=False)
    assert res.returncode != 0, res.stdout
    assert INVALID_CREDENTIALS.format("SCRAM-SHA-512") in res.stderr, res.stderr
    assert topic not in res.stdout and "brokers:" not in res.stdout, res.stdout

    res = kcat(bad, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-m", "3",
               timeout=20, check=False)
    assert "secret-data" not in res.stdout, res.stdout
    assert res.returncode != 0, res.stdout
    assert INVALID_CREDENTIALS.format("SCRAM-SHA-512") in res.stderr, res.stderr


def test_sasl_ssl_wrong_password_confluent(sec, pki):
    fresh_failure_delay(sec)
    topic = create_topic(sec.bootstrap)
    produce_all(producer(sec.bootstrap), topic, numbered(5, "secret"))
    for user, password in [(ADMIN, ADMIN_PW + "x"), ("nobody", ADMIN_PW)]:
        bad = rd_conf(sec, pki, "SECURE", user=user, password=password)
        expected = "SASL authentication error: " + INVALID_CREDENTIALS.format("SCRAM-SHA-512")
        log = metadata_refused(bad, re.escape(expected))
        assert expected in log, log

    # A consumer with the wrong password gets an authentication error and no records.
    errors = []
    c = Consumer({**COMMON, **rd_conf(sec, pki, "SECURE", password="wrong"), **FAIL_FAST,
                  "group.id": f"g-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
                  "error_cb": errors.append, "logger": (clog := RdLog()).logger})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        records = []
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and not errors:
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                records.append(m)
    finally:
        c.close()
    assert records == []
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), (errors, clog.text())
    assert any("invalid credentials" in e.str() for e in errors), errors


# --- 2. SASL_PLAINTEXT: kafka-python PLAIN, aiokafka SCRAM-SHA-256 ----------------------------

def kp_sasl(mechanism: str, password: str) -> dict:
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
            "sasl_plain_username": ADMIN, "sasl_plain_password": password,
            "request_timeout_ms": 10_000}


def test_kafka_python_plain(sec):
    topic = create_topic(sec.bootstrap)
    addr = sec.addr("SASL_PLAINTEXT")
    p = KafkaProducer(bootstrap_servers=addr, enable_idempotence=False, max_block_ms=10_000,
                      **kp_sasl("PLAIN", ADMIN_PW))
    try:
        futures = [p.send(topic, key=f"k{i}".encode(), value=f"plain-{i}".encode(), partition=0)
                   for i in range(25)]
        p.flush(timeout=15)
        assert [f.get(timeout=10).offset for f in futures] == list(range(25))
    finally:
        p.close(timeout=10)

    c = KafkaConsumer(bootstrap_servers=addr, group_id=None, enable_auto_commit=False,
                      **kp_sasl("PLAIN", ADMIN_PW))
    try:
        tp = KpTopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 25 and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                got.extend(recs)
    finally:
        c.close()
    assert [r.value for r in got] == [f"plain-{i}".encode() for i in range(25)]


def test_kafka_python_plain_wrong_password(sec):
    fresh_failure_delay(sec)
    # kafka-python does not surface the broker's SASL_AUTHENTICATION_FAILED answer (it reads
    # the answer and the close in one go and reports "socket disconnected"), so this checks
    # that it cannot bootstrap; the same configuration with the right password works above.
    with pytest.raises(KpKafkaError):
        p = KafkaProducer(bootstrap_servers=sec.addr("SASL_PLAINTEXT"), enable_idempotence=False,
                          bootstrap_timeout_ms=3000, max_block_ms=3000,
                          **kp_sasl("PLAIN", "not-" + ADMIN_PW))
        p.close(timeout=5)


def aio_sasl(password: str) -> dict:
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_plain_username": ADMIN, "sasl_plain_password": password,
            "request_timeout_ms": 10_000}


def test_aiokafka_scram_sha256(sec):
    topic = create_topic(sec.bootstrap)
    addr = sec.addr("SASL_PLAINTEXT")

    async def run():
        p = AIOKafkaProducer(bootstrap_servers=addr, **aio_sasl(ADMIN_PW))
        await asyncio.wait_for(p.start(), 20)
        try:
            metas = [await asyncio.wait_for(
                p.send_and_wait(topic, f"scram-{i}".encode(), key=b"k", partition=0), 20)
                for i in range(10)]
        finally:
            await asyncio.wait_for(p.stop(), 20)
        c = AIOKafkaConsumer(bootstrap_servers=addr, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", **aio_sasl(ADMIN_PW))
        await asyncio.wait_for(c.start(), 20)
        try:
            tp = AioTopicPartition(topic, 0)
            c.assign([tp])
            await asyncio.wait_for(c.seek_to_beginning(tp), 20)
            got = []
            deadline = time.monotonic() + 20
            while len(got) < 10 and time.monotonic() < deadline:
                batch = await asyncio.wait_for(c.getmany(tp, timeout_ms=500), 20)
                got.extend(batch.get(tp, []))
        finally:
            await asyncio.wait_for(c.stop(), 20)
        return metas, got

    metas, got = asyncio.run(run())
    assert [m.offset for m in metas] == list(range(10))
    assert [r.value for r in got] == [f"scram-{i}".encode() for i in range(10)]


def test_aiokafka_scram_sha256_wrong_password(sec, caplog):
    fresh_failure_delay(sec)
    async def run():
        p = AIOKafkaProducer(bootstrap_servers=sec.addr("SASL_PLAINTEXT"),
                             **aio_sasl("not-" + ADMIN_PW))
        try:
            await asyncio.wait_for(p.start(), 20)
        finally:
            await asyncio.wait_for(p.stop(), 20)

    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        with pytest.raises(Exception) as info:
            asyncio.run(run())
    assert "Unable to bootstrap" in str(info.value), info.value
    assert INVALID_CREDENTIALS.format("SCRAM-SHA-256") in caplog.text, caplog.text


# --- 3. SSL: mutual TLS, and server-only TLS for kafka-python ---------------------------------

@pytest.mark.parametrize("who", ["alice", "bob"])
def test_mtls_confluent_with_client_certificate(sec, pki, who):
    cert = getattr(pki, who)
    conf = rd_conf(sec, pki, "MTLS", cert=cert)
    topic = create_topic(sec.bootstrap)
    msgs = numbered(20, who)
    delivered = produce_all(producer(conf["bootstrap.servers"], **client_only(conf)), topic, msgs)
    assert [m.offset() for m in delivered] == list(range(20))
    got = consume(conf["bootstrap.servers"], topic, 0, 20, **client_only(conf))
    assert [m.value() for m in got] == [v for _, v, _ in msgs]


def test_mtls_kcat_with_client_certificate(sec, pki):
    conf = rd_conf(sec, pki, "MTLS")
    topic = create_topic(sec.bootstrap)
    lines = [f"m{i}:mtls {i}" for i in range(15)]
    kcat(conf, "-P", "-t", topic, "-p", "0", "-K:", stdin="\n".join(lines) + "\n")
    out = kcat(conf, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-K:",
               "-f", "%k:%s\n").stdout
    assert out.splitlines() == lines


def test_mtls_refuses_client_without_certificate(sec, pki):
    log = metadata_refused(rd_conf(sec, pki, "MTLS", cert=False), "certificate required")
    # TLS 1.3: the broker answers the empty Certificate message with alert 116.
    assert "certificate required" in log, log

    res = kcat(rd_conf(sec, pki, "MTLS", cert=False), "-L", "-m", "3", timeout=20, check=False)
    assert res.returncode != 0 and "brokers:" not in res.stdout, res.stdout
    assert "certificate required" in res.stderr, res.stderr


def test_mtls_refuses_certificate_from_another_ca(sec, pki):
    # mallory's certificate has alice's subject and an issuer with the trusted CA's name, but
    # the rogue CA's signature.
    log = metadata_refused(rd_conf(sec, pki, "MTLS", cert=pki.mallory), r"SSL alert number")
    assert re.search(r"SSL alert number \d+", log), log

    res = kcat(rd_conf(sec, pki, "MTLS", cert=pki.mallory), "-L", "-m", "3", timeout=20,
               check=False)
    assert res.returncode != 0 and "brokers:" not in res.stdout, res.stdout


def test_mtls_python_ssl_handshake(sec, pki):
    """The broker asks for a client certificate and drops a client that sends none."""
    def connect(certfile=None, keyfile=None) -> bytes:
        ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
        if certfile:
            ctx.load_cert_chain(certfile, keyfile)
        with socket.create_connection(("127.0.0.1", sec.ports["MTLS"]), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(wire.frame(wire.request_header(wire.API_VERSIONS, 0, 1, False)))
                return t.recv(4)

    assert len(connect(str(pki.alice.cert), str(pki.alice.key))) == 4
    # TLS 1.3: the client's handshake completes first; the broker's alert arrives on the read.
    with pytest.raises(ssl.SSLError, match=r"(?i)certificate.required"):
        connect()
    with pytest.raises(ssl.SSLError, match=r"(?i)alert"):
        connect(str(pki.mallory.cert), str(pki.mallory.key))


def test_kafka_python_ssl_server_auth_only(sec, pki):
    topic = create_topic(sec.bootstrap)
    tls = {"security_protocol": "SSL", "ssl_cafile": str(pki.ca.cert),
           "request_timeout_ms": 10_000}
    addr = sec.addr("TLS")
    p = KafkaProducer(bootstrap_servers=addr, enable_idempotence=False, max_block_ms=10_000,
                      **tls)
    try:
        futures = [p.send(topic, value=f"tls-{i}".encode(), partition=0) for i in range(15)]
        p.flush(timeout=15)
        assert [f.get(timeout=10).offset for f in futures] == list(range(15))
    finally:
        p.close(timeout=10)
    c = KafkaConsumer(bootstrap_servers=addr, group_id=None, enable_auto_commit=False, **tls)
    try:
        tp = KpTopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 15 and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                got.extend(recs)
    finally:
        c.close()
    assert [r.value for r in got] == [f"tls-{i}".encode() for i in range(15)]


def peer_cert_der(port: int, pki: Pki, client=None) -> bytes:
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    if client is not None:
        ctx.load_cert_chain(str(client.cert), str(client.key))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.getpeercert(binary_form=True)


def pem_der(path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def test_tls_listener_serves_its_own_keystore(sec, pki):
    """listener.name.tls.ssl.keystore.location overrides the global keystore."""
    assert peer_cert_der(sec.ports["TLS"], pki) == pem_der(pki.server_rsa.cert)
    assert peer_cert_der(sec.ports["MTLS"], pki, pki.alice) == pem_der(pki.server.cert)
    assert peer_cert_der(sec.ports["SECURE"], pki) == pem_der(pki.server.cert)


def test_inline_pem_keystore(sec_factory, pki):
    """ssl.keystore.key + ssl.keystore.certificate.chain instead of a keystore file."""
    b = sec_factory.make("inline", {"PLAINTEXT": None, "SSL": None}, {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.key": pki.server_rsa.key.read_text(),
        "ssl.keystore.certificate.chain": pki.server_rsa.chain.read_text()})
    assert peer_cert_der(b.ports["SSL"], pki) == pem_der(pki.server_rsa.cert)
    assert md_brokers({"bootstrap.servers": b.addr("SSL"), "security.protocol": "SSL",
                       "ssl.ca.location": str(pki.ca.cert)}) == {1: ("127.0.0.1", b.ports["SSL"])}


# --- 4. Metadata answers with the client's own listener ---------------------------------------

@pytest.mark.parametrize("listener", LISTENERS)
def test_metadata_names_the_listener_connected_to(sec, pki, listener):
    brokers = md_brokers(rd_conf(sec, pki, listener))
    assert brokers == {1: ("127.0.0.1", sec.ports[listener])}, (listener, sec.ports)


def test_kcat_metadata_per_listener(sec, pki):
    for listener in ("PLAINTEXT", "SECURE"):
        md = json.loads(kcat(rd_conf(sec, pki, listener), "-L", "-J").stdout)
        assert [b["name"] for b in md["brokers"]] == [sec.addr(listener)], (listener, md)


# --- 5. SCRAM user management through the Admin API -------------------------------------------

def test_scram_user_lifecycle(sec, pki):
    admin = AdminClient({**COMMON, "bootstrap.servers": sec.bootstrap})
    user = f"carol-{uuid.uuid4().hex[:6]}"
    password = f"pw-{uuid.uuid4().hex}"

    # Before: unknown user, cannot log in.
    log = metadata_refused(rd_conf(sec, pki, "SASL_PLAINTEXT", user=user, password=password),
                           re.escape(INVALID_CREDENTIALS.format("SCRAM-SHA-256")))
    assert INVALID_CREDENTIALS.format("SCRAM-SHA-256") in log, log

    fs = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), password.encode())])
    assert fs[user].result(timeout=15) is None

    desc = admin.describe_user_scram_credentials([user])[user].result(timeout=15)
    assert desc.user == user
    assert [(i.mechanism, i.iterations) for i in desc.scram_credential_infos] == [
        (ScramMechanism.SCRAM_SHA_256, 4096)]
    everyone = admin.describe_user_scram_credentials().result(timeout=15)
    assert user in everyone and ADMIN in everyone, list(everyone)
    assert {i.mechanism for i in everyone[ADMIN].scram_credential_infos} == {
        ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512}

    # The new user logs in with SCRAM-SHA-256 on both SASL listeners, and with PLAIN.
    for listener, mech in [("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SECURE", "SCRAM-SHA-256"),
                           ("SASL_PLAINTEXT", "PLAIN")]:
        brokers = md_brokers(rd_conf(sec, pki, listener, user=user, password=password,
                                     mechanism=mech))
        assert brokers == {1: ("127.0.0.1", sec.ports[listener])}
    # ...but not with a mechanism it has no credential for, nor with a wrong password.
    log = metadata_refused(rd_conf(sec, pki, "SASL_PLAINTEXT", user=user, password=password,
                                   mechanism="SCRAM-SHA-512"),
                           re.escape(INVALID_CREDENTIALS.format("SCRAM-SHA-512")))
    assert INVALID_CREDENTIALS.format("SCRAM-SHA-512") in log, log
    log = metadata_refused(rd_conf(sec, pki, "SASL_PLAINTEXT", user=user,
                                   password=password + "x"),
                           re.escape(INVALID_CREDENTIALS.format("SCRAM-SHA-256")))
    assert INVALID_CREDENTIALS.format("SCRAM-SHA-256") in log, log

    # The user can produce.
    conf = rd_conf(sec, pki, "SASL_PLAINTEXT", user=user, password=password)
    topic = create_topic(sec.bootstrap)
    delivered = produce_all(producer(conf["bootstrap.servers"], **client_only(conf)), topic,
                            numbered(5, user))
    assert [m.offset() for m in delivered] == list(range(5))

    fs = admin.alter_user_scram_credentials([UserScramCredentialDeletion(
        user, ScramMechanism.SCRAM_SHA_256)])
    assert fs[user].result(timeout=15) is None
    with pytest.raises(KafkaException) as info:
        admin.describe_user_scram_credentials([user])[user].result(timeout=15)
    assert info.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND, info.value
    assert user not in admin.describe_user_scram_credentials().result(timeout=15)

    log = metadata_refused(rd_conf(sec, pki, "SASL_PLAINTEXT", user=user, password=password),
                           re.escape(INVALID_CREDENTIALS.format("SCRAM-SHA-256")))
    assert INVALID_CREDENTIALS.format("SCRAM-SHA-256") in log, log
    log = metadata_refused(rd_conf(sec, pki, "SASL_PLAINTEXT", user=user, password=password,
                                   mechanism="PLAIN"),
                           re.escape(INVALID_CREDENTIALS.format("PLAIN")))
    assert INVALID_CREDENTIALS.format("PLAIN") in log, log
    # The admin is unaffected.
    assert md_brokers(rd_conf(sec, pki, "SASL_PLAINTEXT"))


# --- 6. Requests before authentication -----------------------------------------------------------

def metadata_v1(conn: wire.RawConnection) -> int:
    return conn.request(wire.METADATA, 1, wire.i32(-1))  # all topics


def sasl_handshake(conn: wire.RawConnection, mechanism: str) -> tuple[int, list[str]]:
    corr = conn.request(SASL_HANDSHAKE, 1, wire.string(mechanism))
    data = conn.read_frame()
    assert data is not None, "broker closed the connection on SaslHandshake"
    r = wire.Reader(data)
    assert r.i32() == corr
    err = r.i16()
    return err, [r.string() for _ in range(r.i32())]


def sasl_authenticate_plain(conn: wire.RawConnection, user: str, password: str):
    """SaslAuthenticate v2 with a PLAIN token → (error, message, session_lifetime_ms)."""
    token = b"\0" + user.encode() + b"\0" + password.encode()
    corr = conn.request(SASL_AUTHENTICATE, 2, wire.compact_bytes(token) + wire.TAGS_NONE,
                        flexible=True)
    data = conn.read_frame()
    assert data is not None, "broker closed the connection without answering SaslAuthenticate"
    r = wire.Reader(data)
    assert r.i32() == corr
    r.skip_tags()  # response header v1
    err = r.i16()
    message = r.compact_string()
    r.take(r.uvarint() - 1)  # auth bytes
    return err, message, r.i64()


def fresh_failure_delay(b: SecureBroker) -> None:
    """Log in once successfully from 127.0.0.1. The broker delays its answer to a failed
    authentication longer with each recent failure from an address, and forgets the address
    on a success; negative tests call this first so that earlier failures do not slow them."""
    with wire.RawConnection("127.0.0.1", b.ports["SASL_PLAINTEXT"]) as conn:
        assert sasl_handshake(conn, "PLAIN")[0] == wire.NONE
        err, message, _ = sasl_authenticate_plain(conn, ADMIN, ADMIN_PW)
        assert err == wire.NONE, message


def test_metadata_before_authentication_is_disconnected(sec):
    # Control: the PLAINTEXT listener answers the same request.
    with wire.RawConnection("127.0.0.1", sec.ports["PLAINTEXT"]) as conn:
        metadata_v1(conn)
        assert conn.wait_closed_or_frame(5) is not None

    # SASL listener: ApiVersions is allowed before authentication, Metadata is not.
    with wire.RawConnection("127.0.0.1", sec.ports["SASL_PLAINTEXT"]) as conn:
        assert wire.METADATA in wire.api_versions(conn)
        metadata_v1(conn)
        assert conn.wait_closed_or_frame(5) is None, "broker answered Metadata before SASL"

    # Also after SaslHandshake, before SaslAuthenticate.
    with wire.RawConnection("127.0.0.1", sec.ports["SASL_PLAINTEXT"]) as conn:
        err, mechs = sasl_handshake(conn, "PLAIN")
        assert err == wire.NONE and set(mechs) == {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
        metadata_v1(conn)
        assert conn.wait_closed_or_frame(5) is None, "broker answered Metadata mid-handshake"

    # And after authenticating, the same request is answered.
    with wire.RawConnection("127.0.0.1", sec.ports["SASL_PLAINTEXT"]) as conn:
        assert sasl_handshake(conn, "PLAIN")[0] == wire.NONE
        err, message, _ = sasl_authenticate_plain(conn, ADMIN, ADMIN_PW)
        assert err == wire.NONE, message
        metadata_v1(conn)
        assert conn.wait_closed_or_frame(5) is not None


def test_wrong_password_answer_then_close(sec):
    fresh_failure_delay(sec)
    with wire.RawConnection("127.0.0.1", sec.ports["SASL_PLAINTEXT"]) as conn:
        assert sasl_handshake(conn, "PLAIN")[0] == wire.NONE
        err, message, _ = sasl_authenticate_plain(conn, ADMIN, "not-" + ADMIN_PW)
        assert (err, message) == (SASL_AUTHENTICATION_FAILED, INVALID_CREDENTIALS.format("PLAIN"))
        assert conn.is_closed_by_peer(5), "connection stayed open after a failed authentication"


# --- 7. Certificate reload ------------------------------------------------------------------------

def peer_subject(port: int, cafile) -> dict:
    ctx = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return {k: v for rdn in t.getpeercert()["subject"] for k, v in rdn}


def test_certificate_reload_without_restart(sec_factory, pki, tmp_path):
    keystore = tmp_path / "keystore.pem"
    keystore.write_bytes(pki.server.keystore.read_bytes())
    b = sec_factory.make("reload", {"PLAINTEXT": None, "SSL": None},
                         {"ssl.keystore.location": str(keystore)})
    port = b.ports["SSL"]
    pid = b.proc.pid
    assert peer_subject(port, pki.ca.cert)["commonName"] == "localhost"

    renewed = pki.ca.server("server-renewed", cn="strata-renewed")
    keystore.write_bytes(renewed.keystore.read_bytes())  # overwrite in place
    deadline = time.monotonic() + 20
    seen = None
    while time.monotonic() < deadline:
        seen = peer_subject(port, pki.ca.cert)
        if seen["commonName"] == "strata-renewed":
            break
        time.sleep(0.5)
    assert seen["commonName"] == "strata-renewed", f"still serving {seen} after 20 s"
    b.assert_alive()
    assert b.proc.pid == pid and b.starts == 1

    # librdkafka clients connect with the renewed certificate.
    assert md_brokers({"bootstrap.servers": b.addr("SSL"), "security.protocol": "SSL",
                       "ssl.ca.location": str(pki.ca.cert)}) == {1: ("127.0.0.1", port)}


# --- 8. Re-authentication (KIP-368) -------------------------------------------------------------

def test_reauthentication(sec_factory):
    b = sec_factory.make("reauth", {"PLAINTEXT": None, "SASL_PLAINTEXT": None},
                         {"connections.max.reauth.ms": "2000",
                          "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256"}, env=ADMIN_ENV)
    port = b.ports["SASL_PLAINTEXT"]

    # The broker announces the session lifetime and enforces it.
    with wire.RawConnection("127.0.0.1", port) as conn:
        assert sasl_handshake(conn, "PLAIN")[0] == wire.NONE
        err, message, lifetime = sasl_authenticate_plain(conn, ADMIN, ADMIN_PW)
        assert err == wire.NONE, message
        assert 0 < lifetime <= 2000, lifetime
        metadata_v1(conn)
        assert conn.wait_closed_or_frame(5) is not None
        time.sleep(lifetime / 1000 + 0.5)
        metadata_v1(conn)
        assert conn.wait_closed_or_frame(5) is None, "expired session still served"

    # librdkafka re-authenticates on the same connection and keeps producing.
    topic = create_topic(b.bootstrap)
    log = RdLog()
    conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
            "sasl.username": ADMIN, "sasl.password": ADMIN_PW, "debug": "security,broker",
            "logger": log.logger}
    p = producer(f"127.0.0.1:{port}", **conf)
    errors, delivered = [], []

    def on_delivery(err, msg):
        (errors if err is not None else delivered).append(err if err is not None else msg)

    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < 6:
        p.produce(topic, value=f"r{sent}".encode(), partition=0, on_delivery=on_delivery)
        sent += 1
        p.poll(0.05)
    assert p.flush(20) == 0
    assert errors == []
    assert [m.offset() for m in delivered] == list(range(sent))
    text = log.text()
    reauths = text.count("Broker changed state UP -> REAUTH")
    assert reauths >= 2, f"librdkafka re-authenticated {reauths} times in 6 s"
    assert "/1: Connected (#2)" not in text, "librdkafka had to reconnect to broker 1"


# --- 9. Bad settings stop the broker at start ----------------------------------------------------

BAD_SETTINGS = [
    ("ssl-without-keystore", {"PLAINTEXT": None, "SSL": None}, {}, ["ssl.keystore.location"]),
    ("jks-keystore", {"PLAINTEXT": None, "SSL": None},
     {"ssl.keystore.type": "JKS", "ssl.keystore.location": "{server_keystore}"},
     ["ssl.keystore.type", "PEM"]),
    ("missing-keystore-file", {"PLAINTEXT": None, "SSL": None},
     {"ssl.keystore.location": "{missing}"}, ["{missing}"]),
    ("keystore-without-key", {"PLAINTEXT": None, "SSL": None},
     {"ssl.keystore.location": "{server_cert}"}, ["private key"]),
    ("client-auth-without-truststore", {"PLAINTEXT": None, "SSL": None},
     {"ssl.keystore.location": "{server_keystore}", "ssl.client.auth": "required"},
     ["ssl.truststore.location"]),
    ("unmapped-listener", {"PLAINTEXT": "PLAINTEXT", "INTERNAL": None}, {},
     ["INTERNAL", "listener.security.protocol.map"]),
    ("unsupported-mechanism", {"PLAINTEXT": None, "SASL_PLAINTEXT": None},
     {"sasl.enabled.mechanisms": "GSSAPI"}, ["GSSAPI"]),
    ("unknown-tls-protocol", {"PLAINTEXT": None, "SSL": None},
     {"ssl.keystore.location": "{server_keystore}", "ssl.enabled.protocols": "TLSv1.1"},
     ["ssl.enabled.protocols", "TLSv1.1"]),
    ("no-usable-cipher-suite", {"PLAINTEXT": None, "SSL": None},
     {"ssl.keystore.location": "{server_keystore}",
      "ssl.cipher.suites": "TLS_RSA_WITH_AES_128_CBC_SHA"},
     ["ssl.cipher.suites", "TLS_AES_128_GCM_SHA256"]),
    ("tls13-only-with-tls12-suites", {"PLAINTEXT": None, "SSL": None},
     {"ssl.keystore.location": "{server_keystore}", "ssl.enabled.protocols": "TLSv1.3",
      "ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
     ["ssl.cipher.suites", "ssl.enabled.protocols"]),
]


@pytest.mark.parametrize("listeners,settings,expected",
                         [c[1:] for c in BAD_SETTINGS], ids=[c[0] for c in BAD_SETTINGS])
def test_bad_settings_fail_at_start(tmp_path, pki, listeners, settings, expected):
    paths = {"server_keystore": str(pki.server.keystore), "server_cert": str(pki.server.cert),
             "missing": str(tmp_path / "no-such-keystore.pem")}
    settings = {k: v.format(**paths) for k, v in settings.items()}
    expected = [e.format(**paths) for e in expected]
    b = SecureBroker(tmp_path, "bad", listeners, settings)
    try:
        res = subprocess.run(b.command(), capture_output=True, text=True, timeout=20,
                             cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"broker kept running with bad settings {settings}") from e
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    for e in expected:
        assert e in out, f"{e!r} not in the broker's output:\n{out}"


# --- HTTP API behind the same credentials --------------------------------------------------------

def http_get(b: SecureBroker, path: str, auth: tuple[str, str] | None = None) -> tuple[int, dict]:
    import base64
    import urllib.error
    import urllib.request
    req = urllib.request.Request(b.http_base + path)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
            return r.status, (json.loads(body) if body.startswith(b"{") or body.startswith(b"[") else {})
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, (json.loads(body) if body.startswith(b"{") else {})


def test_http_needs_scram_credentials_when_security_is_on(sec):
    # /health stays open for load balancers (http.auth.exempt.paths default).
    assert http_get(sec, "/health/live")[0] == 200
    status, body = http_get(sec, "/metrics")
    assert status == 401, body
    assert "credentials" in body["error"]
    status, _ = http_get(sec, "/api/groups")
    assert status == 401
    status, _ = http_get(sec, "/api/groups", (ADMIN, ADMIN_PW + "x"))
    assert status == 401
    status, body = http_get(sec, "/api/groups", (ADMIN, ADMIN_PW))
    assert status == 200, body
    assert http_get(sec, "/metrics", (ADMIN, ADMIN_PW))[0] == 200


def https_get(b: SecureBroker, pki: Pki, path: str, auth: tuple[str, str] | None = None,
              cert=None) -> tuple[int, dict]:
    """GET over HTTPS, verifying the broker against the test CA; `cert` is a client certificate."""
    import base64
    import urllib.error
    import urllib.request
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    req = urllib.request.Request(f"https://{b.host}:{b.http_port}{path}")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            body = r.read()
            return r.status, (json.loads(body) if body[:1] in (b"{", b"[") else {})
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, (json.loads(body) if body.startswith(b"{") else {})


def test_https_with_basic_credentials_or_client_certificates(sec_factory, pki):
    settings = {
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "ssl.keystore.location": str(pki.server.keystore),
        "ssl.truststore.location": str(pki.ca.cert),
        # The HTTP port takes Kafka's listener settings under the name HTTP.
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL,HTTP:SSL",
        "listener.name.http.ssl.client.auth": "requested",
    }
    b = sec_factory.make("https", {"PLAINTEXT": None, "SECURE": None}, settings, env=ADMIN_ENV)
    wait_ports(b, [b.http_port])
    # Plain HTTP on the HTTPS port gets no HTTP answer.
    import urllib.request
    with pytest.raises(Exception):
        urllib.request.urlopen(b.http_base + "/health/live", timeout=5).read()
    assert https_get(b, pki, "/health/live")[0] == 200
    assert https_get(b, pki, "/api/groups")[0] == 401
    assert https_get(b, pki, "/api/groups", (ADMIN, ADMIN_PW + "x"))[0] == 401
    status, body = https_get(b, pki, "/api/groups", (ADMIN, ADMIN_PW))
    assert status == 200, body
    # A client certificate from the trusted CA authenticates without a password.
    status, body = https_get(b, pki, "/metrics", cert=pki.alice)
    assert status == 200, body
    # One from another CA fails the handshake.
    with pytest.raises((ssl.SSLError, OSError)):
        https_get(b, pki, "/metrics", cert=pki.mallory)
    # The server certificate is the configured one.
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    with socket.create_connection((b.host, b.http_port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.getpeercert(binary_form=True) == pem_der(pki.server.cert)


def test_the_schema_registry_takes_the_http_listeners_tls_and_credentials(sec_factory, pki):
    """The registry listener serves HTTPS when the HTTP listener does, and with security on
    wants a SCRAM user's basic credentials (or a trusted client certificate), like /api."""
    import base64
    import urllib.error
    import urllib.request
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    settings = {
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "ssl.keystore.location": str(pki.server.keystore),
        "ssl.truststore.location": str(pki.ca.cert),
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL,HTTP:SSL",
        "listener.name.http.ssl.client.auth": "requested",
    }
    b = sec_factory.make("https-registry", {"PLAINTEXT": None, "SECURE": None}, settings,
                         env=ADMIN_ENV)
    wait_ports(b, [b.http_port, b.registry_port])
    url = f"https://localhost:{b.registry_port}"
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))

    def call(method, path, body=None, auth=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url + path, data=data, method=method)
        req.add_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    # Plain HTTP on the registry port gets no HTTP answer.
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://{b.host}:{b.registry_port}/subjects", timeout=5).read()
    assert call("GET", "/subjects")[0] == 401
    assert call("GET", "/subjects", auth=(ADMIN, ADMIN_PW + "x"))[0] == 401
    status, body = call("POST", "/subjects/secure-value/versions", {"schema": '"string"'},
                        auth=(ADMIN, ADMIN_PW))
    assert (status, body) == (200, {"id": 1})
    # confluent-kafka's client with basic auth and the CA gets the same.
    client = SchemaRegistryClient({"url": url, "ssl.ca.location": str(pki.ca.cert),
                                   "basic.auth.user.info": f"{ADMIN}:{ADMIN_PW}"})
    assert client.get_subjects() == ["secure-value"]
    assert client.register_schema("secure-value", Schema('"string"', "AVRO")) == 1
