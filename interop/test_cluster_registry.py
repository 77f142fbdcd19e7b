"""Issue 15 in a cluster: every broker serves the registry from its own copy of `_schemas`,
writes go to one writer (the leader of `_schemas`-0) whichever broker they reach, and ids
stay unique and dense when brokers register at the same moment and when the writer's node
is killed. A broker that holds no replica of `_schemas` (a fourth node) tails it from the
leader and answers reads from that copy: read-your-writes across brokers, and answers
while every replica of `_schemas` is paused.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka.admin import NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError

from cluster import Cluster, cluster, wait_for  # noqa: F401 (fixture)


def schema(n: int) -> Schema:
    """A distinct schema per `n`, each a BACKWARD-compatible evolution of the others."""
    return Schema(json.dumps({"type": "record", "name": "Rec",
                              "fields": [{"name": "f", "type": "string"},
                                         {"name": f"x{n}", "type": ["null", "string"],
                                          "default": None}]}), "AVRO")


def serves(url: str, schema_id: int) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/schemas/ids/{schema_id}", timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def register(urls: list[str], subject: str, s: Schema, timeout: float = 60.0) -> int:
    """Registers through any of `urls`, retrying while the writer moves."""
    deadline = time.monotonic() + timeout
    while True:
        client = SchemaRegistryClient({"url": ",".join(urls)})
        try:
            return client.register_schema(subject, s)
        except (SchemaRegistryError, OSError, Exception) as e:  # noqa: BLE001
            status = getattr(e, "http_status_code", 500)
            if status < 500 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_registry_in_a_cluster_keeps_ids_unique_and_dense_through_the_writers_death(cluster):
    nodes = cluster.nodes
    urls = [b.registry_url for b in nodes]
    ids: list[int] = []
    # Registered through node 1; the other nodes read them from their own copies.
    for n in range(6):
        ids.append(register([urls[0]], f"subject-{n % 3}", schema(n)))
    for b in nodes[1:]:
        wait_for(lambda b=b: all(serves(b.registry_url, i) for i in ids),
                 f"node {b.name} serves every id")

    # Brokers register at the same moment: every broker is asked at once.
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(k: int):
        try:
            for j in range(5):
                n = 100 + k * 10 + j
                got = register([urls[k % len(urls)]], f"concurrent-{k}", schema(n))
                with lock:
                    ids.append(got)
        except BaseException as e:  # noqa: BLE001
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(ids) == 36

    # Kill the writer; keep registering through the others.
    leader = cluster.partition("_schemas").leader
    writer = cluster.node(leader)
    writer.kill()
    survivors = [b.registry_url for b in nodes if b is not writer]
    for n in range(200, 210):
        ids.append(register(survivors, f"after-{n % 2}", schema(n)))
    assert sorted(ids) == list(range(1, len(ids) + 1)), sorted(ids)

    # The killed node comes back and serves everything, including what it missed.
    writer.start()
    wait_for(lambda: all(serves(writer.registry_url, i) for i in ids),
             "the restarted node serves every id")
    client = SchemaRegistryClient({"url": writer.registry_url})
    assert set(client.get_subjects()) >= {"subject-0", "concurrent-0", "after-0", "after-1"}


def test_a_follower_replica_reads_what_the_leader_just_registered(cluster):
    """A follower replica of `_schemas` learns the leader's high watermark one fetch late;
    a read there still sees every registration acknowledged before it began, and it
    answers from its own replica when the leader cannot be asked."""
    urls = {i + 1: b.registry_url for i, b in enumerate(cluster.nodes)}
    register(list(urls.values()), "first-value", schema(0))
    wait_for(lambda: len(cluster.partition("_schemas").isrs) == 3, "_schemas fully in sync")
    leader = cluster.partition("_schemas").leader
    followers = [u for n, u in urls.items() if n != leader]
    writer = SchemaRegistryClient({"url": urls[leader]})
    for n in range(1, 21):
        sid = writer.register_schema("ryw-value", schema(n))
        for url in followers:
            got = get_json(f"{url}/schemas/ids/{sid}")
            assert json.loads(got["schema"]) == json.loads(schema(n).schema_str), (n, url)
            latest = get_json(f"{url}/subjects/ryw-value/versions/latest")
            assert (latest["id"], latest["version"]) == (sid, n), (n, url, latest)

    # The leader stops answering: a follower answers from its own replica.
    node = cluster.node(leader)
    node.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        latest = get_json(f"{followers[0]}/subjects/ryw-value/versions/latest")
        assert latest["version"] == 20, latest
        assert time.monotonic() - started < 8, "answered without the leader"
    finally:
        node.proc.send_signal(signal.SIGCONT)


def test_writes_are_forwarded_over_https_when_the_registry_is_https(tmp_path):
    """With HTTP:SSL the registry is HTTPS on every node, and a write reaching a broker that
    is not the writer goes to the writer over TLS verified against the cluster's CA."""
    c = Cluster(tmp_path, 3, security="mtls")
    for b in c.nodes:
        b.extra_args += ["--set", "listener.security.protocol.map="
                                  "PLAINTEXT:PLAINTEXT,INTERNAL:SSL,CONTROLLER:SSL,HTTP:SSL"]
    c.start()
    try:
        ca = str(tmp_path / "pki" / "ca.crt")
        urls = [f"https://127.0.0.1:{b.registry_port}" for b in c.nodes]
        ids = []
        for n in range(6):
            client = SchemaRegistryClient({"url": urls[n % 3], "ssl.ca.location": ca})
            ids.append(client.register_schema("tls-value", schema(n)))
        assert sorted(ids) == list(range(1, 7))
        # Two of the three nodes are not the writer: four of those writes were forwarded.
        assert c.partition("_schemas").leader in (1, 2, 3)
        ctx = ssl.create_default_context(cafile=ca)
        for url in urls:
            wait_for(lambda url=url: all(
                urllib.request.urlopen(f"{url}/schemas/ids/{i}", timeout=5, context=ctx).status
                == 200 for i in ids), f"{url} serves every id")
    finally:
        for b in c.nodes:
            if b.running():
                assert b.stop() == 0, b.log_tail()


def get_json(url: str, timeout: float = 8.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        assert r.status == 200, (url, r.status)
        return json.loads(r.read())


@pytest.fixture
def cluster4(tmp_path):
    """Three voters and a fourth broker (a learner) that will hold no replica of `_schemas`;
    secured between the nodes like the `cluster` fixture."""
    c = Cluster(tmp_path, 3, learners=1,
                security=os.environ.get("STRATA_CLUSTER_SECURITY", "mtls"))
    c.start()
    yield c
    for b in c.nodes:
        if b.running():
            b.proc.send_signal(signal.SIGCONT)
    for b in c.nodes:
        if b.running():
            assert b.stop() == 0, b.log_tail()


def test_a_broker_without_a_replica_answers_reads_from_its_own_copy(cluster4):
    c = cluster4
    urls = [b.registry_url for b in c.nodes]
    node4 = urls[3]
    # `_schemas` on nodes 1-3 only, made as the registry makes it.
    admin = c.admin()
    futures = admin.create_topics([NewTopic(
        "_schemas", 1, replica_assignment=[[1, 2, 3]],
        config={"cleanup.policy": "compact", "min.insync.replicas": "2"})])
    futures["_schemas"].result(30)
    wait_for(lambda: c.partition("_schemas").leader in (1, 2, 3), "a leader for _schemas")
    assert sorted(c.partition("_schemas").replicas) == [1, 2, 3]

    # Read-your-writes across brokers: registered on node 1, at once visible on node 4.
    writer = SchemaRegistryClient({"url": urls[0]})
    for n in range(20):
        sid = writer.register_schema("ryw-value", schema(n))
        asked = time.monotonic()
        got = get_json(f"{node4}/schemas/ids/{sid}")
        # Node 4 waits at most 5 s for its copy before it would hand the read on.
        assert time.monotonic() - asked < 4, "node 4's copy caught up at once"
        assert json.loads(got["schema"]) == json.loads(schema(n).schema_str), (n, got)
        latest = get_json(f"{node4}/subjects/ryw-value/versions/latest")
        assert (latest["id"], latest["version"]) == (sid, n + 1), (n, latest)

    # Writes through nodes 2 and 3 (forwarded to the writer when it is elsewhere).
    ids = {}
    for k in (1, 2):
        client = SchemaRegistryClient({"url": urls[k]})
        for n in range(3):
            subject = f"via-{k + 1}-value"
            ids[(subject, n)] = client.register_schema(subject, schema(50 + n))
            got = get_json(f"{node4}/subjects/{subject}/versions/latest")
            assert got["id"] == ids[(subject, n)], got
    subjects = sorted(get_json(f"{urls[0]}/subjects"))
    assert sorted(get_json(f"{node4}/subjects")) == subjects
    assert 4 not in c.partition("_schemas").replicas

    # Every replica of `_schemas` stops answering (and with them the metadata quorum):
    # nobody could answer a forwarded request, yet node 4 answers from its copy.
    for b in c.nodes[:3]:
        b.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        for (subject, n), sid in ids.items():
            got = get_json(f"{node4}/schemas/ids/{sid}")
            assert json.loads(got["schema"]) == json.loads(schema(50 + n).schema_str)
        assert sorted(get_json(f"{node4}/subjects")) == subjects
        latest = get_json(f"{node4}/subjects/ryw-value/versions/latest")
        assert latest["version"] == 20, latest
        assert time.monotonic() - started < 9, "answered within replica.lag.time.max.ms"
    finally:
        for b in c.nodes[:3]:
            b.proc.send_signal(signal.SIGCONT)

    # The cluster comes back; node 4 follows again.
    for n in range(3):
        sid = register([urls[1]], "after-pause-value", schema(80 + n))
        wait_for(lambda sid=sid: serves(node4, sid), f"node 4 serves id {sid}")
        got = get_json(f"{node4}/schemas/ids/{sid}")
        assert json.loads(got["schema"]) == json.loads(schema(80 + n).schema_str)
