"""Issue 15 in a three-node cluster: every broker serves the registry from its own copy of
`_schemas`, writes go to one writer (the leader of `_schemas`-0) whichever broker they
reach, and ids stay unique and dense when brokers register at the same moment and when
the writer's node is killed.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request

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
