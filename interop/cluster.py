"""A local cluster of real `strata server` processes for the interop tests.

Every node is a broker on loopback with its own data dir and ports; the first `n` are
Raft voters, the `learners` after them follow the metadata quorum as non-voters.

`security="mtls"` secures everything between the nodes: each node gets a certificate from a
CA made for the cluster (certs.py), the controller port (CONTROLLER:SSL) and the inter-broker
listener (INTERNAL, SSL with required client certificates) are mutual TLS, and the node
principals are super users; clients keep the plaintext port. The `cluster` fixture runs the
cluster tests that way (STRATA_CLUSTER_SECURITY=plaintext turns it off); the tests that build
their own Cluster stay plaintext between nodes, so both paths are exercised.
"""

from __future__ import annotations

import os
import pathlib
import time

import pytest
from confluent_kafka.admin import AdminClient

from broker import Broker, free_port
from certs import Cert, CertAuthority


class Cluster:
    def __init__(self, tmp: pathlib.Path, n: int = 3, learners: int = 0,
                 extra_args: list[str] | None = None, security: str = "plaintext"):
        assert security in ("plaintext", "mtls"), security
        self.security = security
        self.nodes: list[Broker] = []
        ctrl = [free_port() for _ in range(n)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ctrl))
        ca = CertAuthority(tmp / "pki") if security == "mtls" else None
        for i in range(n + learners):
            args = ["--node-id", str(i + 1), "--voters", voters] + list(extra_args or [])
            if i >= n:  # not in the voter list: needs its own controller address
                args += ["--controller-listen", f"127.0.0.1:{free_port()}"]
            b = Broker(tmp / f"node-{i + 1}", f"node-{i + 1}", args)
            if ca is not None:
                b.extra_args += mtls_args(b, ca, i + 1, n + learners)
            b.workdir.mkdir(parents=True, exist_ok=True)
            self.nodes.append(b)

    def start(self):
        for b in self.nodes:
            b.start()
        wait_for(lambda: len(self.admin().list_topics(timeout=5).brokers) == len(self.nodes),
                 "all brokers registered")

    def bootstrap(self, without: Broker | None = None) -> str:
        return ",".join(b.bootstrap for b in self.nodes if b is not without and b.running())

    def admin(self, without: Broker | None = None) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap(without)})

    def partition(self, topic: str, index: int = 0, without: Broker | None = None):
        """A partition's metadata as the brokers (other than `without`) report it."""
        return self.admin(without).list_topics(topic, timeout=5).topics[topic].partitions[index]

    def node(self, node_id: int) -> Broker:
        return self.nodes[node_id - 1]


def mtls_args(b: Broker, ca: CertAuthority, node_id: int, nodes: int,
              cert: Cert | None = None) -> list[str]:
    """Settings for mutual TLS between the nodes (see the module doc); `cert` replaces the
    node's certificate from `ca.node`."""
    cert = cert or ca.node(f"node-{node_id}", f"node-{node_id}")
    internal = free_port()
    settings = {
        "listeners": f"PLAINTEXT://{b.host}:{b.port},INTERNAL://{b.host}:{internal}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SSL,CONTROLLER:SSL",
        "inter.broker.listener.name": "INTERNAL",
        "listener.name.internal.ssl.client.auth": "required",
        "ssl.keystore.location": str(cert.keystore),
        "ssl.truststore.location": str(ca.cert),
        "super.users": ";".join(f"User:CN=node-{i},OU=brokers,O=Acme"
                                for i in range(1, nodes + 1)),
        # Required client certificates turn HTTP authentication on; the tests' clients are
        # anonymous on the plaintext port, so the HTTP API and the schema registry's routes
        # stay open to them as well.
        "http.auth.exempt.paths": "/health,/metrics,/api,/subjects,/schemas,/compatibility,"
                                  "/config,/mode",
    }
    args = []
    for k, v in settings.items():
        args += ["--set", f"{k}={v}"]
    return args


def wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as e:  # a broker may be restarting; keep polling
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


@pytest.fixture
def cluster(tmp_path):
    """Three started nodes, mutual TLS between them unless STRATA_CLUSTER_SECURITY=plaintext;
    stopped cleanly (exit code 0) at the end."""
    c = Cluster(tmp_path, security=os.environ.get("STRATA_CLUSTER_SECURITY", "mtls"))
    c.start()
    yield c
    for b in c.nodes:
        if b.running():
            assert b.stop() == 0, b.log_tail()
