"""A local cluster of real `strata server` processes for the interop tests.

Every node is a broker on loopback with its own data dir and ports; the first `n` are
Raft voters, the `learners` after them follow the metadata quorum as non-voters.
"""

from __future__ import annotations

import pathlib
import time

import pytest
from confluent_kafka.admin import AdminClient

from broker import Broker, free_port


class Cluster:
    def __init__(self, tmp: pathlib.Path, n: int = 3, learners: int = 0,
                 extra_args: list[str] | None = None):
        self.nodes: list[Broker] = []
        ctrl = [free_port() for _ in range(n)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ctrl))
        for i in range(n + learners):
            args = ["--node-id", str(i + 1), "--voters", voters] + list(extra_args or [])
            if i >= n:  # not in the voter list: needs its own controller address
                args += ["--controller-listen", f"127.0.0.1:{free_port()}"]
            b = Broker(tmp / f"node-{i + 1}", f"node-{i + 1}", args)
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
    """Three started nodes; stopped cleanly (exit code 0) at the end."""
    c = Cluster(tmp_path)
    c.start()
    yield c
    for b in c.nodes:
        if b.running():
            assert b.stop() == 0, b.log_tail()
