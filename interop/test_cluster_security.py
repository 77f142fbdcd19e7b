"""A three-node cluster with security between the nodes, against real clients.

Every node has three listeners and a secured controller port:

  PLAINTEXT  PLAINTEXT  the Broker's own port (start-up wait); ANONYMOUS, authorized like anyone
  INTERNAL   SSL with client certificates (mTLS), or SASL_SSL as the admin user: what
             followers fetch through (inter.broker.listener.name)
  CLIENT     SASL_SSL   SCRAM for applications
  CONTROLLER SSL        the Raft port (--voters), always mTLS

Each node's certificate (serverAuth and clientAuth, CN=node-N) comes from the cluster's CA;
the node principals are super users, the authorizer is on. An outsider with a certificate from
another CA must not join the metadata quorum, and plaintext frames on the controller port get
no answer. All certificates are generated at test time by certs.py.
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                   NewTopic, ResourcePatternType, ResourceType,
                                   ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)

from broker import Broker, free_port
from certs import CertAuthority
from clients import COMMON, produce_all, producer
from cluster import wait_for

ADMIN = "admin"
ADMIN_PW = f"admin-{uuid.uuid4().hex[:12]}"
ALICE_PW = f"alice-{uuid.uuid4().hex[:12]}"


class SecureNode(Broker):
    def __init__(self, workdir, name: str, node_id: int, voters: str, ca: CertAuthority,
                 keystore, inter_broker: str, controller: str | None = None):
        super().__init__(workdir, name,
                         env={"STRATA_ADMIN_USER": ADMIN, "STRATA_ADMIN_PASSWORD": ADMIN_PW})
        self.internal, self.client = free_port(), free_port()
        h = self.host
        settings = {
            "listeners": f"PLAINTEXT://{h}:{self.port},INTERNAL://{h}:{self.internal},"
                         f"CLIENT://{h}:{self.client}",
            "listener.security.protocol.map":
                f"PLAINTEXT:PLAINTEXT,INTERNAL:{inter_broker},CLIENT:SASL_SSL,CONTROLLER:SSL",
            "inter.broker.listener.name": "INTERNAL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(ca.cert),
            "listener.name.internal.ssl.client.auth": "required",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": ";".join(f"User:CN=node-{i},OU=brokers,O=Acme" for i in (1, 2, 3)),
        }
        self.extra_args = ["--node-id", str(node_id), "--voters", voters]
        if controller:
            self.extra_args += ["--controller-listen", controller]
        for k, v in settings.items():
            self.extra_args += ["--set", f"{k}={v}"]

    def conf(self, ca: CertAuthority, user: str = ADMIN, password: str = ADMIN_PW) -> dict:
        return {"bootstrap.servers": f"{self.host}:{self.client}", "security.protocol": "SASL_SSL",
                "ssl.ca.location": str(ca.cert), "sasl.mechanisms": "SCRAM-SHA-512",
                "sasl.username": user, "sasl.password": password, **COMMON}


@pytest.fixture(scope="module", params=["SSL", "SASL_SSL"])
def secure_cluster(request, tmp_path_factory):
    inter_broker = request.param
    root = tmp_path_factory.mktemp(f"seccluster-{inter_broker.lower()}")
    ca = CertAuthority(root / "ca")
    ctrl = [free_port() for _ in range(3)]
    voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ctrl))
    nodes = []
    for i in range(3):
        cert = ca.node(f"node-{i + 1}", f"node-{i + 1}")
        n = SecureNode(root / f"node-{i + 1}", f"node-{i + 1}", i + 1, voters, ca,
                       cert.keystore, inter_broker)
        n.workdir.mkdir(parents=True, exist_ok=True)
        nodes.append(n)
    for n in nodes:
        n.start()
    admin = AdminClient(nodes[0].conf(ca))
    wait_for(lambda: len(admin.list_topics(timeout=5).brokers) == 3, "all brokers registered")
    yield {"nodes": nodes, "ca": ca, "root": root, "ctrl": ctrl, "voters": voters,
           "inter_broker": inter_broker}
    for n in nodes:
        if n.running():
            code = n.stop()
            assert code == 0, f"{n.name} exited with {code}\n{n.log_tail()}"


def isr_sizes(admin: AdminClient, topic: str) -> list[int]:
    md = admin.list_topics(topic, timeout=10).topics[topic]
    assert md.error is None, md.error
    return [len(p.isrs) for p in md.partitions.values()]


def read_all(conf: dict, topic: str, partitions: int, count: int, timeout: float = 30.0) -> list:
    c = Consumer({**conf, "group.id": f"g-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error() is not None:
                raise KafkaException(m.error())
            out.append(m.value())
        return out
    finally:
        c.close()


def subscribe_errors(conf: dict, topic: str, timeout: float = 10.0) -> set[int]:
    """subscribe() and poll until an error (librdkafka reports a topic it may not read as an
    error of a subscription, not of an assigned partition); the error codes, none read."""
    c = Consumer({**conf, "group.id": f"g-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    errors = set()
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + timeout
        while not errors and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is not None, f"read a record: {m.value()!r}"
            errors.add(m.error().code())
        return errors
    finally:
        c.close()


def test_replication_over_the_secured_inter_broker_listener(secure_cluster):
    nodes, ca = secure_cluster["nodes"], secure_cluster["ca"]
    admin = AdminClient(nodes[1].conf(ca))
    topic = f"sec-rf3-{uuid.uuid4().hex[:6]}"
    admin.create_topics([NewTopic(topic, 3, 3)], request_timeout=20)[topic].result(timeout=30)
    # Followers join the ISR only by fetching from the leaders: through INTERNAL, in TLS.
    wait_for(lambda: isr_sizes(admin, topic) == [3, 3, 3], "every replica in sync", timeout=60)
    p = producer(nodes[2].conf(ca)["bootstrap.servers"],
                 **{k: v for k, v in nodes[2].conf(ca).items() if k != "bootstrap.servers"},
                 acks="all")
    values = [f"v{i}".encode() for i in range(300)]
    produce_all(p, topic, [(str(i).encode(), v, {}) for i, v in enumerate(values)])
    got = read_all(nodes[0].conf(ca), topic, 3, len(values))
    assert sorted(got) == sorted(values)
    assert isr_sizes(admin, topic) == [3, 3, 3]

    # A follower restarted reconnects (new TLS session, new login) and catches up.
    leader_of_0 = admin.list_topics(topic, timeout=10).topics[topic].partitions[0].leader
    follower = next(n for n in nodes if int(n.extra_args[1]) != leader_of_0)
    assert follower.stop() == 0
    more = [f"w{i}".encode() for i in range(100)]
    produce_all(p, topic, [(None, v, {}) for v in more])
    follower.start()
    wait_for(lambda: isr_sizes(admin, topic) == [3, 3, 3], "the restarted follower back in sync",
             timeout=60)
    assert "refused this follower" not in "".join(n.log_tail(400) for n in nodes)


def test_users_and_acls_across_the_cluster(secure_cluster):
    nodes, ca = secure_cluster["nodes"], secure_cluster["ca"]
    admin = AdminClient(nodes[0].conf(ca))
    topic = f"sec-acl-{uuid.uuid4().hex[:6]}"
    admin.create_topics([NewTopic(topic, 1, 3)], request_timeout=20)[topic].result(timeout=30)
    p = producer(nodes[0].conf(ca)["bootstrap.servers"],
                 **{k: v for k, v in nodes[0].conf(ca).items() if k != "bootstrap.servers"},
                 acks="all")
    produce_all(p, topic, [(None, b"secret", {})])
    user = f"alice-{uuid.uuid4().hex[:6]}"
    fs = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), ALICE_PW.encode())])
    fs[user].result(timeout=15)
    # Created through node 1, the user logs in on node 3; a wrong password is refused there.
    alice = nodes[2].conf(ca, user, ALICE_PW)
    wait_for(lambda: AdminClient(alice).list_topics(timeout=5) is not None, "alice logs in")
    bad = AdminClient(nodes[2].conf(ca, user, "wrong"))
    with pytest.raises(KafkaException) as e:
        bad.list_topics(timeout=5)
    assert e.value.args[0].code() in (KafkaError._AUTHENTICATION, KafkaError._TRANSPORT,
                                      KafkaError._TIMED_OUT), e.value
    # Groups allowed, the topic not: alice sees no data, and gets TOPIC_AUTHORIZATION_FAILED.
    principal = f"User:{user}"
    group_acl = AclBinding(ResourceType.GROUP, "g-", ResourcePatternType.PREFIXED, principal, "*",
                           AclOperation.READ, AclPermissionType.ALLOW)
    assert admin.create_acls([group_acl])[group_acl].result(timeout=15) is None
    time.sleep(1)
    assert subscribe_errors(alice, topic) == {KafkaError.TOPIC_AUTHORIZATION_FAILED}
    # An ACL created through node 1 applies on node 3.
    topic_acl = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, "*",
                           AclOperation.READ, AclPermissionType.ALLOW)
    assert admin.create_acls([topic_acl])[topic_acl].result(timeout=15) is None
    wait_for(lambda: read_all(alice, topic, 1, 1, timeout=5) == [b"secret"],
             "alice reads after the ACL", timeout=30)


def frame_answered(port: int, payload: dict) -> bool:
    """Sends one plaintext controller frame; whether a JSON reply came back."""
    body = json.dumps(payload).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(len(body).to_bytes(4, "big") + body)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
    try:
        json.loads(got[4:])
        return True
    except ValueError:
        return False


def test_outsiders_cannot_reach_the_metadata_quorum(secure_cluster, tmp_path):
    nodes, ca, ctrl = secure_cluster["nodes"], secure_cluster["ca"], secure_cluster["ctrl"]
    # Plaintext Raft frames: a learner join and a heartbeat from a made-up leader.
    forged = {"AppendEntries": {"vote": {"leader_id": {"term": 999, "node_id": 9},
                                         "committed": True},
                                "prev_log_id": None, "entries": [], "leader_commit": None}}
    for port in ctrl:
        assert not frame_answered(port, {"JoinLearner": {"node_id": 9, "addr": "127.0.0.1:1"}})
        assert not frame_answered(port, forged)
    # A node whose certificate comes from another CA (same names) tries to join as a learner.
    rogue = CertAuthority(tmp_path / "rogue", name="rogue-ca", cn="Strata Interop Test CA")
    cert = rogue.node("node-9", "node-9")
    outsider = SecureNode(tmp_path / "outsider", "outsider", 9, secure_cluster["voters"], rogue,
                          cert.keystore, secure_cluster["inter_broker"],
                          controller=f"127.0.0.1:{free_port()}")
    outsider.workdir.mkdir(parents=True, exist_ok=True)
    outsider.start()
    try:
        wait_for(lambda: sum(n.log_tail(2000).count("controller connection refused")
                             for n in nodes) >= 3, "the outsider's attempts refused and logged")
        time.sleep(2)
        admin = AdminClient(nodes[0].conf(ca))
        assert sorted(admin.list_topics(timeout=10).brokers) == [1, 2, 3]
        assert "joined the metadata quorum" not in outsider.log_tail(2000)
    finally:
        outsider.kill()
    # The cluster's own term never moved to the forged one: it still elects and commits.
    topic = f"after-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(nodes[0].conf(ca))
    admin.create_topics([NewTopic(topic, 1, 3)], request_timeout=20)[topic].result(timeout=30)
