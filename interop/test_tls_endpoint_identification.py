"""`ssl.endpoint.identification.algorithm`: host-name checks on the TLS connections a node
(or the CLI) makes, with certificates that do not name the address dialled.

Every node certificate here names only `wrong.example` (SAN and CN) while peers dial
127.0.0.1. Two-node clusters are secured as cluster.py's mtls ones (INTERNAL: SSL with
required client certificates, the inter-broker listener; CONTROLLER: SSL, the Raft port):

  off  `ssl.endpoint.identification.algorithm=` (empty) for every listener: the Raft port
       and replication work, and the CLI works with librdkafka's `none`; a CA the
       certificate does not chain to is still refused
  on   the empty value for the controller listener only (so the cluster forms), Kafka's
       default (https) on INTERNAL: followers are refused with the certificate's name
       error and acks=all never succeeds

Certificates come from certs.py at test time.
"""

from __future__ import annotations

import pathlib
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from broker import Broker, free_port
from certs import Cert, CertAuthority
from clients import COMMON, producer, unique_topic, watermarks
from cluster import mtls_args, wait_for
from test_cli_security import ok, strata

NODES = 2
NAME_ERROR = "certificate not valid for name"


class WrongNameCluster:
    """NODES started nodes whose certificates name only wrong.example, with `settings`."""

    def __init__(self, root: pathlib.Path, settings: dict[str, str]):
        self.ca = CertAuthority(root / "pki")
        ctrl = [free_port() for _ in range(NODES)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ctrl))
        self.nodes: list[Broker] = []
        self.certs: list[Cert] = []
        for i in range(NODES):
            b = Broker(root / f"node-{i + 1}", f"node-{i + 1}",
                       ["--node-id", str(i + 1), "--voters", voters])
            cert = self.ca.issue(f"node-{i + 1}",
                                 {"O": "Acme", "OU": "brokers", "CN": "wrong.example"},
                                 server=True, sans=["DNS:wrong.example"],
                                 usage="serverAuth,clientAuth")
            b.extra_args += mtls_args(b, self.ca, i + 1, NODES, cert=cert)
            for k, v in settings.items():
                b.extra_args += ["--set", f"{k}={v}"]
            b.workdir.mkdir(parents=True, exist_ok=True)
            self.nodes.append(b)
            self.certs.append(cert)
        self.bootstrap = ",".join(b.bootstrap for b in self.nodes)

    def start(self) -> "WrongNameCluster":
        for b in self.nodes:
            b.start()
        admin = self.admin()
        wait_for(lambda: len(admin.list_topics(timeout=5).brokers) == NODES,
                 "both brokers registered (the Raft port works)")
        return self

    def stop(self) -> None:
        for b in self.nodes:
            if b.running():
                assert b.stop() == 0, b.log_tail()

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap, **COMMON})

    def internal(self, node: int = 0) -> str:
        """The INTERNAL listener's address of a node."""
        spec = next(a for a in self.nodes[node].extra_args if a.startswith("listeners="))
        return next(e.split("://")[1] for e in spec.removeprefix("listeners=").split(",")
                    if e.startswith("INTERNAL://"))

    def rf2_topic(self) -> tuple[str, Broker]:
        """A one-partition RF=2 topic with min.insync.replicas=2 (acks=all needs the
        follower); its name and its follower."""
        admin = self.admin()
        topic = unique_topic("eid")
        fs = admin.create_topics([NewTopic(topic, 1, 2, config={"min.insync.replicas": "2"})],
                                 request_timeout=15)
        fs[topic].result(timeout=20)

        def leader() -> int:
            return admin.list_topics(topic, timeout=5).topics[topic].partitions[0].leader

        wait_for(lambda: leader() >= 1, "a leader for the new partition")
        return topic, next(b for i, b in enumerate(self.nodes) if i + 1 != leader())


@pytest.fixture(scope="module")
def off(tmp_path_factory):
    c = WrongNameCluster(tmp_path_factory.mktemp("eid-off"),
                         {"ssl.endpoint.identification.algorithm": ""}).start()
    yield c
    c.stop()


@pytest.fixture
def on(tmp_path):
    c = WrongNameCluster(tmp_path, {
        "listener.name.controller.ssl.endpoint.identification.algorithm": ""})
    try:
        yield c.start()
    finally:
        c.stop()


def produce(bootstrap: str, topic: str, count: int, timeout_ms: int) -> list:
    """acks=all; the delivery errors."""
    p = producer(bootstrap, acks="all", message_timeout_ms=timeout_ms)
    errors = []
    for i in range(count):
        p.produce(topic, value=f"v{i}".encode(),
                  on_delivery=lambda err, _m: err and errors.append(err))
    p.flush(timeout_ms / 1000 + 10)
    return errors


def on_disk(b: Broker, topic: str) -> int:
    """Bytes of the topic's partition 0 in a node's segments."""
    return sum(f.stat().st_size for f in (b.data_dir / f"{topic}-0").glob("*.log"))


def test_empty_value_replicates_between_nodes_whose_certificates_lack_the_address(off):
    topic, follower = off.rf2_topic()
    assert produce(off.bootstrap, topic, 50, 15_000) == []
    assert watermarks(off.bootstrap, topic)[1] == 50
    wait_for(lambda: on_disk(follower, topic) > 0, "the follower's copy on disk")
    assert NAME_ERROR not in "".join(b.log_tail(400) for b in off.nodes)


def test_default_refuses_a_leader_whose_certificate_lacks_the_address(on):
    topic, follower = on.rf2_topic()
    errors = produce(on.bootstrap, topic, 5, 5_000)
    assert len(errors) == 5, errors
    assert watermarks(on.bootstrap, topic)[1] == 0
    assert on_disk(follower, topic) == 0

    def refused() -> bool:
        lines = [line for line in follower.log_path.read_text().splitlines()
                 if "refused this follower" in line]
        return bool(lines) and NAME_ERROR in lines[-1]

    wait_for(refused, "the follower's log naming the certificate's name error", timeout=10)


def test_another_value_stops_the_start(tmp_path):
    b = Broker(tmp_path / "bad", "bad", ["--set", "ssl.endpoint.identification.algorithm=none",
                                         "--set", "listeners=SSL://127.0.0.1:0",
                                         "--set", "ssl.keystore.location=/nonexistent.pem"])
    b.workdir.mkdir(parents=True, exist_ok=True)
    with pytest.raises(AssertionError):
        b.start(timeout=15)
    log = b.log_path.read_text()
    assert "ssl.endpoint.identification.algorithm 'none' is not https" in log, b.log_tail()


def cli_args(c: WrongNameCluster, ca: pathlib.Path) -> list[str]:
    """The CLI on node 1's INTERNAL listener, with node 1's certificate (mTLS there)."""
    cert = c.certs[0]
    return ["-b", c.internal(), "-X", "security.protocol=SSL", "-X", f"ssl.ca.location={ca}",
            "-X", f"ssl.certificate.location={cert.cert}", "-X", f"ssl.key.location={cert.key}"]


def test_cli_checks_host_names_unless_told_none(off):
    args = cli_args(off, off.ca.cert)
    start = time.monotonic()
    res = strata(*args, "topic", "list")
    assert res.returncode != 0 and NAME_ERROR in res.stderr, res.stderr
    assert time.monotonic() - start < 20, "a certificate error must not be retried"
    res = strata(*args, "-X", "ssl.endpoint.identification.algorithm=HTTPS", "topic", "list")
    assert res.returncode != 0 and NAME_ERROR in res.stderr, res.stderr
    ok(strata(*args, "-X", "ssl.endpoint.identification.algorithm=none", "topic", "list"))
    # Java's empty value is not librdkafka's: the error says what is.
    res = strata(*args, "-X", "ssl.endpoint.identification.algorithm=", "topic", "list")
    assert res.returncode != 0, res.stdout
    assert "ssl.endpoint.identification.algorithm must be https or none" in res.stderr, \
        res.stderr


@pytest.mark.parametrize("cn,error", [("Another CA", "UnknownIssuer"),
                                      # The cluster CA's name with another key.
                                      ("Strata Interop Test CA", "BadSignature")])
def test_cli_without_the_name_check_still_checks_the_ca(off, tmp_path, cn, error):
    rogue = CertAuthority(tmp_path / "rogue", name="rogue-ca", cn=cn)
    res = strata(*cli_args(off, rogue.cert), "-X", "ssl.endpoint.identification.algorithm=none",
                 "topic", "list")
    assert res.returncode != 0 and error in res.stderr, res.stderr
