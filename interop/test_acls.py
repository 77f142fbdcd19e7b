"""ACLs against real clients: the built-in authorizer (Kafka's StandardAuthorizer semantics).

One broker for the module ("acl") with two listeners:

  PLAINTEXT       the Broker's own port; every client there is User:ANONYMOUS (no rights)
  SASL_PLAINTEXT  SCRAM-SHA-512 and PLAIN

and `authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer`,
`super.users=User:root;User:carol`. The bootstrap admin user (STRATA_ADMIN_USER) is a super
user implicitly; it creates the SCRAM users alice, bob, root and carol, and grants and revokes
every ACL below. ACLs are global, so an autouse fixture deletes them all after each test;
topics and groups have names no other test uses.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import uuid
import warnings

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError as AioTopicAuthorizationFailedError
from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException,
                            Producer, TopicPartition)
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, ConfigResource, NewTopic, OffsetSpec,
                                   ResourcePatternType, ResourceType, ScramCredentialInfo,
                                   ScramMechanism, UserScramCredentialUpsertion)
from kafka import KafkaProducer
from kafka.admin import (ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                         KafkaAdminClient, ResourcePatternFilter)
from kafka.admin import ResourceType as KpResourceType
from kafka.errors import ClusterAuthorizationFailedError, SecurityDisabledError
from kafka.errors import TopicAuthorizationFailedError as KpTopicAuthorizationFailedError

import wire
from broker import Broker, free_port
from clients import COMMON, unique_topic

KCAT = shutil.which("kcat") or shutil.which("kafkacat")

ADMIN = "admin"
ADMIN_PW = f"admin-{uuid.uuid4().hex[:12]}"
ADMIN_ENV = {"STRATA_ADMIN_USER": ADMIN, "STRATA_ADMIN_PASSWORD": ADMIN_PW}
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
SUPER_USERS = ("root", "carol")
USERS = ("alice", "bob", *SUPER_USERS)
PASSWORDS = {u: f"{u}-{uuid.uuid4().hex[:10]}" for u in USERS}
PASSWORDS[ADMIN] = ADMIN_PW

CLUSTER = ResourceType.BROKER  # librdkafka's name for Kafka's CLUSTER resource type (4)
CLUSTER_NAME = "kafka-cluster"
TOPIC = ResourceType.TOPIC
GROUP = ResourceType.GROUP
LITERAL = ResourcePatternType.LITERAL
PREFIXED = ResourcePatternType.PREFIXED
ALLOW = AclPermissionType.ALLOW
DENY = AclPermissionType.DENY
Op = AclOperation

EVERYTHING = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                              AclOperation.ANY, AclPermissionType.ANY)

# Kafka error codes
TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31
SECURITY_DISABLED = 54
SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36


# --- broker ------------------------------------------------------------------------------------

class AclBroker(Broker):
    """A Broker with a SASL_PLAINTEXT listener next to its own (PLAINTEXT) port."""

    def __init__(self, workdir, name: str, settings: dict[str, str]):
        super().__init__(workdir, name, env=ADMIN_ENV)
        self.sasl_port = free_port()
        self.extra_args = [
            "--set", f"listeners=PLAINTEXT://{self.host}:{self.port},"
                     f"SASL_PLAINTEXT://{self.host}:{self.sasl_port}"]
        for k, v in settings.items():
            self.extra_args += ["--set", f"{k}={v}"]

    @property
    def sasl_addr(self) -> str:
        return f"{self.host}:{self.sasl_port}"

    def start(self, timeout: float = 30.0) -> "AclBroker":
        super().start(timeout)
        deadline = time.monotonic() + 15
        while True:
            self.assert_alive()
            try:
                with socket.create_connection((self.host, self.sasl_port), timeout=1):
                    return self
            except OSError:
                assert time.monotonic() < deadline, f"SASL port not listening\n{self.log_tail()}"
                time.sleep(0.1)


@pytest.fixture(scope="module")
def acl(tmp_path_factory):
    b = AclBroker(tmp_path_factory.mktemp("acl"), "acl", {
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
        "authorizer.class.name": AUTHORIZER,
        "super.users": ";".join(f"User:{u}" for u in SUPER_USERS),
    })
    b.start()
    try:
        a = AdminClient(rd(b, ADMIN))
        fs = a.alter_user_scram_credentials([
            UserScramCredentialUpsertion(u, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512,
                                                                4096), PASSWORDS[u].encode())
            for u in USERS])
        for u in USERS:
            assert fs[u].result(timeout=15) is None
    except BaseException:
        b.kill()
        raise
    yield b
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


@pytest.fixture(scope="module")
def adm(acl) -> AdminClient:
    return AdminClient(rd(acl, ADMIN))


@pytest.fixture(autouse=True)
def no_acls_left(request):
    """Every test leaves no ACLs behind (they are global; the tests share the broker)."""
    yield
    if "acl" not in request.fixturenames:
        return
    request.getfixturevalue("adm").delete_acls([EVERYTHING])[EVERYTHING].result(timeout=15)
    assert kp_describe_acls(request.getfixturevalue("acl"), ADMIN) == []


# --- clients -------------------------------------------------------------------------------------

def rd(b: AclBroker, user: str, mechanism: str = "SCRAM-SHA-512") -> dict:
    """librdkafka settings for `user` on the SASL_PLAINTEXT listener."""
    return {"bootstrap.servers": b.sasl_addr, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": mechanism, "sasl.username": user,
            "sasl.password": PASSWORDS[user], **COMMON}


def anonymous(b: AclBroker) -> dict:
    return {"bootstrap.servers": b.bootstrap, **COMMON}


def grant(a: AdminClient, *bindings: AclBinding) -> None:
    fs = a.create_acls(list(bindings))
    for b in bindings:
        assert fs[b].result(timeout=15) is None, b


def acl_(restype, name, principal, op, perm=ALLOW, pattern=LITERAL, host="*") -> AclBinding:
    if not principal.startswith("User:"):
        principal = f"User:{principal}"
    return AclBinding(restype, name, pattern, principal, host, op, perm)


def new_topic(a: AdminClient, prefix: str = "acl", name: str | None = None,
              partitions: int = 1) -> str:
    """Create a topic as the admin and wait until its leader is known."""
    name = name or unique_topic(prefix)
    a.create_topics([NewTopic(name, partitions, 1)], request_timeout=15)[name].result(timeout=15)
    deadline = time.monotonic() + 15
    while True:
        t = a.list_topics(topic=name, timeout=10).topics.get(name)
        if t is not None and t.error is None and len(t.partitions) == partitions \
                and all(p.leader >= 0 for p in t.partitions.values()):
            return name
        assert time.monotonic() < deadline, f"topic {name} not ready: {t}"
        time.sleep(0.1)


def topics_seen(conf: dict) -> set[str]:
    return set(AdminClient(conf).list_topics(timeout=10).topics)


def kerr(exc: BaseException) -> int:
    assert isinstance(exc, KafkaException), repr(exc)
    return exc.args[0].code()


class Deliveries:
    """A producer's delivery reports."""

    def __init__(self):
        self.ok: list = []
        self.errors: list[KafkaError] = []

    def __call__(self, err, msg):
        if err is not None:
            self.errors.append(err)
        else:
            self.ok.append(msg)


def make_producer(conf: dict, **extra) -> Producer:
    return Producer({**conf, "linger.ms": 5, "message.timeout.ms": 10_000,
                     "topic.metadata.refresh.interval.ms": 500, **extra})


def produce(p: Producer, topic: str, values: list[bytes], timeout: float = 20) -> Deliveries:
    """Produce to partition 0 and flush; an error produce() raises at once (librdkafka does so
    for a topic whose last metadata was an error) counts as a failed delivery."""
    d = Deliveries()
    for v in values:
        try:
            p.produce(topic, value=v, partition=0, on_delivery=d)
        except KafkaException as e:
            d.errors.append(e.args[0])
    assert p.flush(timeout) == 0, f"undelivered after {timeout}s"
    return d


def admin_produce(b: AclBroker, topic: str, n: int, tag: str = "v") -> list[bytes]:
    values = [f"{tag}-{i}".encode() for i in range(n)]
    d = produce(make_producer(rd(b, ADMIN)), topic, values)
    assert d.errors == [] and len(d.ok) == n, d.errors
    return values


def make_consumer(conf: dict, group: str, **extra) -> Consumer:
    return Consumer({**conf, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "enable.partition.eof": False,
                     "topic.metadata.refresh.interval.ms": 500, **extra})


def poll_records(c: Consumer, n: int, timeout: float, stop_on=()) -> tuple[list, list[KafkaError]]:
    """Poll until `n` records, `timeout`, or an error with a code in `stop_on`."""
    records, errors = [], []
    deadline = time.monotonic() + timeout
    while len(records) < n and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error() is not None:
            errors.append(m.error())
            if m.error().code() in stop_on:
                break
        else:
            records.append(m)
    return records, errors


def try_consume(conf: dict, topic: str, n: int, timeout: float, group: str | None = None,
                stop_on=(TOPIC_AUTHORIZATION_FAILED,)) -> tuple[list, list[KafkaError]]:
    """subscribe() to `topic` and poll. (librdkafka reports a topic it may not describe as an
    error for a subscription, but not for an assign()ed partition.)"""
    c = make_consumer(conf, group or f"nogroup-{uuid.uuid4().hex[:8]}")
    try:
        c.subscribe([topic])
        return poll_records(c, n, timeout, stop_on)
    finally:
        c.close()


def codes(errors) -> set[int]:
    return {e.code() for e in errors}


# --- raw wire: one SASL connection whose requests we control -------------------------------------

def sasl_plain_connection(b: AclBroker, user: str) -> wire.RawConnection:
    conn = wire.RawConnection(b.host, b.sasl_port)
    corr = conn.request(SASL_HANDSHAKE, 1, wire.string("PLAIN"))
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr and r.i16() == wire.NONE
    token = b"\0" + user.encode() + b"\0" + PASSWORDS[user].encode()
    corr = conn.request(SASL_AUTHENTICATE, 2, wire.compact_bytes(token) + wire.TAGS_NONE,
                        flexible=True)
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr
    r.skip_tags()
    err = r.i16()
    assert err == wire.NONE, (err, r.compact_string())
    return conn


def raw_produce(conn: wire.RawConnection, version: int, topic: str, value: bytes):
    batch = wire.record_batch([wire.Record(None, value)], int(time.time() * 1000))
    return wire.produce(conn, version, topic, 0, batch)


def raw_list_offsets(conn: wire.RawConnection, topic: str) -> int:
    """ListOffsets v1 (latest) for partition 0 of `topic`; returns the partition's error code."""
    body = (wire.i32(-1) + wire.i32(1) + wire.string(topic)
            + wire.i32(1) + wire.i32(0) + wire.i64(-1))
    corr = conn.request(2, 1, body)
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr
    assert r.i32() == 1 and r.string() == topic and r.i32() == 1
    assert r.i32() == 0  # partition
    return r.i16()


def raw_describe_groups(conn: wire.RawConnection, groups: list[str]) -> dict[str, int]:
    """DescribeGroups v0 → {group: error}."""
    corr = conn.request(15, 0, wire.i32(len(groups)) + b"".join(wire.string(g) for g in groups))
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr
    out = {}
    for _ in range(r.i32()):
        err, gid = r.i16(), r.string()
        r.string(), r.string(), r.string()  # state, protocol type, protocol
        for _ in range(r.i32()):
            r.string(), r.string(), r.string()  # member id, client id, client host
            r.take(r.i32())  # member metadata
            r.take(r.i32())  # member assignment
        out[gid] = err
    return out


# --- 1. nothing without ACLs; the admin can do everything ----------------------------------------

def test_no_acls_alice_can_do_nothing_admin_everything(acl, adm):
    topic = new_topic(adm, "noacl")
    admin_values = admin_produce(acl, topic, 5, "admin")

    # Metadata: alice (and bob, and ANONYMOUS on the PLAINTEXT port) see no topics at all.
    assert topics_seen(rd(acl, "alice")) == set()
    assert topics_seen(rd(acl, "bob", "PLAIN")) == set()
    assert topics_seen(anonymous(acl)) == set()
    # ...and the named topic is refused.
    t = AdminClient(rd(acl, "alice")).list_topics(topic=topic, timeout=10).topics[topic]
    assert t.error is not None and t.error.code() == TOPIC_AUTHORIZATION_FAILED, t.error

    # Produce: the delivery report carries the authorization error; nothing is appended.
    d = produce(make_producer(rd(acl, "alice")), topic, [b"alice-1", b"alice-2"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
    d = produce(make_producer(anonymous(acl)), topic, [b"anon"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors

    c = make_consumer(rd(acl, ADMIN), f"admin-{uuid.uuid4().hex[:8]}")
    try:
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False) \
            == (0, 5)
    finally:
        c.close()

    # Consume: an authorization error, no records.
    records, errors = try_consume(rd(acl, "alice"), topic, 1, 10)
    assert records == [] and TOPIC_AUTHORIZATION_FAILED in codes(errors), errors

    # The admin sees the topic, reads exactly its own records, commits, and describes ACLs.
    assert topic in topics_seen(rd(acl, ADMIN))
    c = make_consumer(rd(acl, ADMIN), f"admin-{uuid.uuid4().hex[:8]}")
    try:
        c.subscribe([topic])
        records, errors = poll_records(c, 5, 20)
        assert [m.value() for m in records] == admin_values, errors
        c.commit(asynchronous=False)
        assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 5
    finally:
        c.close()
    assert kp_describe_acls(acl, ADMIN) == []
    cfg = adm.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    assert "retention.ms" in list(cfg.values())[0].result(timeout=15)


# --- 2. grants apply to connected clients --------------------------------------------------------

def test_grants_apply_without_reconnecting(acl, adm):
    topic = new_topic(adm, "grant")
    group = f"alice-{uuid.uuid4().hex[:8]}"

    # alice's producer fails first, then succeeds on the same instance after the grant.
    log: list[str] = []
    p = make_producer(rd(acl, "alice"), debug="broker", logger=_Collect(log))
    d = produce(p, topic, [b"before"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors

    grant(adm, acl_(TOPIC, topic, "alice", Op.WRITE))
    deadline = time.monotonic() + 10
    while True:
        d = produce(p, topic, [b"after"])
        if d.ok:
            break
        assert codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
        assert time.monotonic() < deadline, "alice's producer never got WRITE"
        time.sleep(0.2)
    assert d.ok[0].offset() == 0
    assert [m.value() for m in produce(p, topic, [b"a1", b"a2"]).ok] == [b"a1", b"a2"]
    p.poll(0)
    text = "\n".join(log)
    assert "/1: Connected (#1)" in text, text[-3000:]
    assert "/1: Connected (#2)" not in text, "alice's producer reconnected to broker 1"

    # WRITE implies DESCRIBE (she sees the topic) but not READ.
    assert topics_seen(rd(acl, "alice")) == {topic}
    commits: list = []
    c = make_consumer(rd(acl, "alice"), group,
                      on_commit=lambda err, tps: commits.append((err, tps)))
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        records, errors = poll_records(c, 1, 10, stop_on=(TOPIC_AUTHORIZATION_FAILED,))
        assert records == [] and TOPIC_AUTHORIZATION_FAILED in codes(errors), errors

        # READ on the topic: the same consumer now fetches.
        grant(adm, acl_(TOPIC, topic, "alice", Op.READ))
        # (librdkafka backs off 5 s after a fetch authorization error before it tries again.)
        records, more = poll_records(c, 3, 15)
        assert [m.value() for m in records] == [b"after", b"a1", b"a2"], more
        # ...but may not commit for a group it has no READ on: FindCoordinator is refused
        # (GROUP_AUTHORIZATION_FAILED, reported by poll), so librdkafka never finds one.
        assert GROUP_AUTHORIZATION_FAILED in codes(errors + more), errors + more

        # READ on groups prefixed "alice-": the same consumer finds the coordinator and commits.
        grant(adm, acl_(GROUP, "alice-", "alice", Op.READ, pattern=PREFIXED))
        c.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=True)
        deadline = time.monotonic() + 15
        while not commits and time.monotonic() < deadline:
            c.poll(0.2)
        assert len(commits) == 1, commits
        err, tps = commits[0]
        assert err is None and [(tp.offset, tp.error) for tp in tps] == [(2, None)], commits[0]
    finally:
        c.close()

    # ...and a group member (subscribe) consumes and commits as well.
    c = make_consumer(rd(acl, "alice"), group)
    try:
        c.subscribe([topic])
        records, errors = poll_records(c, 1, 20)
        assert [m.value() for m in records] == [b"a2"], errors  # from the committed offset
        got = c.commit(asynchronous=False)
        assert [(tp.topic, tp.partition, tp.offset, tp.error) for tp in got] == [
            (topic, 0, 3, None)]
        assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 3
    finally:
        c.close()
    # The admin sees alice's commit.
    c = make_consumer(rd(acl, ADMIN), group)
    try:
        assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 3
    finally:
        c.close()

    # bob still can do nothing: not produce, not read, not use alice's group, not his own.
    d = produce(make_producer(rd(acl, "bob")), topic, [b"bob"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
    for g in (group, f"bob-{uuid.uuid4().hex[:6]}"):
        records, errors = try_consume(rd(acl, "bob"), topic, 1, 10, group=g)
        assert records == [] and TOPIC_AUTHORIZATION_FAILED in codes(errors), errors
    # Nor read alice's committed offsets (OffsetFetch; FindCoordinator first).
    bob = AdminClient(rd(acl, "bob"))  # must outlive its futures
    fs = bob.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])], request_timeout=10)
    with pytest.raises(KafkaException) as info:
        fs[group].result(timeout=15)
    assert kerr(info.value) == GROUP_AUTHORIZATION_FAILED, info.value


class _Collect:
    """A logging.Logger stand-in for confluent-kafka's `logger` setting."""

    def __init__(self, lines: list[str]):
        self.lines = lines

    def log(self, level, fmt, *args):
        self.lines.append(fmt % args if args else fmt)


def test_acl_change_applies_on_the_next_request_of_a_connection(acl, adm):
    """One authenticated connection; the request after CreateAcls / DeleteAcls sees the change."""
    topic = new_topic(adm, "nextreq")
    binding = acl_(TOPIC, topic, "alice", Op.WRITE)
    with sasl_plain_connection(acl, "alice") as conn:
        version = wire.pick_produce_version(wire.api_versions(conn))
        r = raw_produce(conn, version, topic, b"denied")
        assert r.error_code == TOPIC_AUTHORIZATION_FAILED, r
        grant(adm, binding)
        r = raw_produce(conn, version, topic, b"allowed")
        assert (r.error_code, r.base_offset) == (wire.NONE, 0), r
        deleted = adm.delete_acls([_filter(binding)])[_filter(binding)].result(timeout=15)
        assert deleted == [binding]
        r = raw_produce(conn, version, topic, b"denied again")
        assert r.error_code == TOPIC_AUTHORIZATION_FAILED, r
    c = make_consumer(rd(acl, ADMIN), f"admin-{uuid.uuid4().hex[:6]}")
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
    finally:
        c.close()
    assert (lo, hi) == (0, 1)


def _filter(b: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host,
                            b.operation, b.permission_type)


def test_join_needs_group_read_and_revocation_reaches_a_member(acl, adm):
    """DESCRIBE on a group finds its coordinator, but joining needs READ; taking READ away
    from a member in the group makes its next heartbeat fail."""
    topic = new_topic(adm, "join")
    values = admin_produce(acl, topic, 3)
    group = f"join-{uuid.uuid4().hex[:6]}"
    grant(adm, acl_(TOPIC, topic, "alice", Op.READ), acl_(GROUP, group, "alice", Op.DESCRIBE))
    c = make_consumer(rd(acl, "alice"), group)
    try:
        c.subscribe([topic])
        records, errors = poll_records(c, 1, 10, stop_on=(GROUP_AUTHORIZATION_FAILED,))
        assert records == [] and GROUP_AUTHORIZATION_FAILED in codes(errors), errors
    finally:
        c.close()

    read = acl_(GROUP, group, "alice", Op.READ)
    grant(adm, read)
    c = make_consumer(rd(acl, "alice"), group, **{"heartbeat.interval.ms": 300,
                                                   "session.timeout.ms": 6000})
    try:
        c.subscribe([topic])
        records, errors = poll_records(c, 3, 20)
        assert [m.value() for m in records] == values, errors
        adm.delete_acls([_filter(read)])[_filter(read)].result(timeout=15)
        _, errors = poll_records(c, 1, 10, stop_on=(GROUP_AUTHORIZATION_FAILED,))
        assert GROUP_AUTHORIZATION_FAILED in codes(errors), errors
    finally:
        c.close()


# --- 3. DENY wins --------------------------------------------------------------------------------

def test_deny_wins_over_allow(acl, adm):
    topic = new_topic(adm, "deny")
    values = admin_produce(acl, topic, 4)
    grant(adm,
          acl_(TOPIC, topic, "*", Op.READ),
          acl_(TOPIC, topic, "alice", Op.READ, DENY),
          acl_(GROUP, "deny-", "*", Op.READ, pattern=PREFIXED))
    records, errors = try_consume(rd(acl, "alice"), topic, 1, 10, group=f"deny-{uuid.uuid4().hex}")
    assert records == [] and TOPIC_AUTHORIZATION_FAILED in codes(errors), errors
    records, errors = try_consume(rd(acl, "bob"), topic, 4, 15, group=f"deny-{uuid.uuid4().hex}")
    assert [m.value() for m in records] == values, errors
    # User:* READ implies DESCRIBE for both (a DENY of READ does not deny DESCRIBE).
    assert topic in topics_seen(rd(acl, "alice")) and topic in topics_seen(rd(acl, "bob"))

    # A prefixed DENY beats a literal ALLOW, and DENY ALL beats everything, for that principal.
    grant(adm, acl_(TOPIC, topic, "alice", Op.WRITE),
          acl_(TOPIC, topic[:6], "alice", Op.WRITE, DENY, PREFIXED),
          acl_(TOPIC, topic, "bob", Op.WRITE))
    d = produce(make_producer(rd(acl, "alice")), topic, [b"alice"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
    d = produce(make_producer(rd(acl, "bob")), topic, [b"bob"])
    assert [m.offset() for m in d.ok] == [4], d.errors
    grant(adm, acl_(TOPIC, "*", "bob", Op.ALL, DENY))
    d = produce(make_producer(rd(acl, "bob")), topic, [b"bob2"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
    assert topics_seen(rd(acl, "bob")) == set()


def test_host_must_match(acl, adm):
    """An ACL for another host does not apply; one for 127.0.0.1 does."""
    topic = new_topic(adm, "host")
    grant(adm, acl_(TOPIC, topic, "alice", Op.WRITE, host="10.11.12.13"))
    d = produce(make_producer(rd(acl, "alice")), topic, [b"x"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
    grant(adm, acl_(TOPIC, topic, "alice", Op.WRITE, host="127.0.0.1"))
    d = produce(make_producer(rd(acl, "alice")), topic, [b"y"])
    assert [m.offset() for m in d.ok] == [0], d.errors


# --- 4. prefixed topic ACLs ----------------------------------------------------------------------

def test_prefixed_topic_acl(acl, adm):
    tag = uuid.uuid4().hex[:6]
    mine = new_topic(adm, name=f"alice.x-{tag}")
    other = new_topic(adm, name=f"bob.x-{tag}")
    near_miss = new_topic(adm, name=f"alicex-{tag}")  # no dot: the prefix does not match
    grant(adm, acl_(TOPIC, "alice.", "alice", Op.WRITE, pattern=PREFIXED))
    p = make_producer(rd(acl, "alice"))
    d = produce(p, mine, [b"m1", b"m2"])
    assert [m.offset() for m in d.ok] == [0, 1], d.errors
    for t in (other, near_miss):
        d = produce(p, t, [b"no"])
        assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, (t, d.errors)
    assert topics_seen(rd(acl, "alice")) == {mine}


# --- 5. Metadata lists exactly what the principal may describe -----------------------------------

def test_metadata_lists_only_describable_topics(acl, adm):
    tag = f"md{uuid.uuid4().hex[:6]}"
    t_desc, t_read, t_pre1, t_pre2, t_denied, t_none = (
        new_topic(adm, name=f"{tag}-{s}") for s in ("desc", "read", "p.1", "p.2", "deny", "none"))
    grant(adm,
          acl_(TOPIC, t_desc, "alice", Op.DESCRIBE),
          acl_(TOPIC, t_read, "alice", Op.READ),
          acl_(TOPIC, f"{tag}-p.", "alice", Op.DELETE, pattern=PREFIXED),
          acl_(TOPIC, t_denied, "*", Op.DESCRIBE),
          acl_(TOPIC, t_denied, "alice", Op.DESCRIBE, DENY),
          # Operations that do not imply DESCRIBE.
          acl_(TOPIC, t_none, "alice", Op.CREATE),
          acl_(TOPIC, t_none, "alice", Op.DESCRIBE_CONFIGS))
    expected = {t_desc, t_read, t_pre1, t_pre2}
    assert topics_seen(rd(acl, "alice")) == expected
    assert topics_seen(rd(acl, "bob")) == {t_denied}
    assert topics_seen(anonymous(acl)) == {t_denied}  # User:* matches User:ANONYMOUS too
    assert topics_seen(rd(acl, ADMIN)) >= expected | {t_denied, t_none}

    a = AdminClient(rd(acl, "alice"))
    md = a.list_topics(topic=t_read, timeout=10)
    assert md.topics[t_read].error is None and len(md.topics[t_read].partitions) == 1
    for t in (t_denied, t_none):
        err = a.list_topics(topic=t, timeout=10).topics[t].error
        assert err is not None and err.code() == TOPIC_AUTHORIZATION_FAILED, (t, err)


# --- 6. auto-creation needs CREATE ---------------------------------------------------------------

def test_auto_creation_needs_create(acl, adm):
    tag = f"auto{uuid.uuid4().hex[:6]}"
    names = {k: f"{tag}-{k}" for k in ("none", "write", "literal", "cluster")}
    quick = {"message.timeout.ms": 6000, "topic.metadata.propagation.max.ms": 3000}

    # No ACL at all: the topic is not even described.
    d = produce(make_producer(rd(acl, "alice"), **quick), names["none"], [b"x"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors

    # WRITE (hence DESCRIBE) but no CREATE: the topic stays unknown.
    grant(adm, acl_(TOPIC, f"{tag}-", "alice", Op.WRITE, pattern=PREFIXED))
    p = make_producer(rd(acl, "alice"), **quick)
    d = produce(p, names["write"], [b"x"])
    assert d.ok == [] and codes(d.errors) <= {KafkaError._UNKNOWN_TOPIC,
                                              KafkaError.UNKNOWN_TOPIC_OR_PART,
                                              KafkaError._MSG_TIMED_OUT}, d.errors
    assert d.errors, d.errors
    seen = topics_seen(rd(acl, ADMIN))
    assert names["none"] not in seen and names["write"] not in seen, sorted(seen)

    # CREATE on the topic itself is enough for that topic.
    grant(adm, acl_(TOPIC, names["literal"], "alice", Op.CREATE))
    d = produce(p, names["literal"], [b"lit"])
    assert [m.offset() for m in d.ok] == [0], d.errors

    # CREATE on the cluster: any topic.
    grant(adm, acl_(CLUSTER, CLUSTER_NAME, "alice", Op.CREATE))
    d = produce(p, names["cluster"], [b"c"])
    assert [m.offset() for m in d.ok] == [0], d.errors
    seen = topics_seen(rd(acl, ADMIN))
    assert names["literal"] in seen and names["cluster"] in seen, sorted(seen)
    assert names["none"] not in seen
    # bob, still without CREATE, does not create one either.
    d = produce(make_producer(rd(acl, "bob"), **quick), f"{tag}-bob", [b"x"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
    assert f"{tag}-bob" not in topics_seen(rd(acl, ADMIN))


# --- 7. CreateTopics / DeleteTopics --------------------------------------------------------------

def test_create_and_delete_topics_as_alice(acl, adm):
    tag = f"ct{uuid.uuid4().hex[:6]}"
    t1, t2 = f"{tag}-one", f"{tag}-two"
    a = AdminClient(rd(acl, "alice"))

    with pytest.raises(KafkaException) as info:
        a.create_topics([NewTopic(t1, 1, 1)], request_timeout=15)[t1].result(timeout=15)
    assert kerr(info.value) == TOPIC_AUTHORIZATION_FAILED, info.value
    assert t1 not in topics_seen(rd(acl, ADMIN))

    grant(adm, acl_(TOPIC, t1, "alice", Op.CREATE))
    assert a.create_topics([NewTopic(t1, 2, 1)], request_timeout=15)[t1].result(timeout=15) \
        is None
    # CREATE on t1 says nothing about t2.
    with pytest.raises(KafkaException) as info:
        a.create_topics([NewTopic(t2, 1, 1)], request_timeout=15)[t2].result(timeout=15)
    assert kerr(info.value) == TOPIC_AUTHORIZATION_FAILED, info.value
    seen = topics_seen(rd(acl, ADMIN))
    assert t1 in seen and t2 not in seen

    with pytest.raises(KafkaException) as info:
        a.delete_topics([t1], request_timeout=15)[t1].result(timeout=15)
    assert kerr(info.value) == TOPIC_AUTHORIZATION_FAILED, info.value
    assert t1 in topics_seen(rd(acl, ADMIN))

    grant(adm, acl_(TOPIC, t1, "alice", Op.DELETE))
    assert a.delete_topics([t1], request_timeout=15)[t1].result(timeout=15) is None
    deadline = time.monotonic() + 10
    while t1 in topics_seen(rd(acl, ADMIN)):
        assert time.monotonic() < deadline, f"{t1} still listed after DeleteTopics"
        time.sleep(0.2)

    # CREATE on the cluster covers every name.
    grant(adm, acl_(CLUSTER, CLUSTER_NAME, "alice", Op.CREATE))
    assert a.create_topics([NewTopic(t2, 1, 1)], request_timeout=15)[t2].result(timeout=15) \
        is None
    assert t2 in topics_seen(rd(acl, ADMIN))


# --- 8. CreateAcls / DescribeAcls / DeleteAcls ------------------------------------------------

def described(a: AdminClient, f: AclBindingFilter) -> set[AclBinding]:
    got = a.describe_acls(f).result(timeout=15)
    assert len(got) == len(set(got)), got
    return set(got)


def test_acl_apis_round_trip(acl, adm):
    tag = f"rt{uuid.uuid4().hex[:6]}"
    b1 = acl_(TOPIC, f"{tag}.orders", "alice", Op.READ)
    b2 = acl_(TOPIC, f"{tag}.", "alice", Op.WRITE, pattern=PREFIXED)
    b3 = acl_(TOPIC, "*", "bob", Op.DESCRIBE)
    b4 = acl_(GROUP, tag, "*", Op.READ, DENY, PREFIXED)
    b5 = acl_(CLUSTER, CLUSTER_NAME, "dave", Op.DESCRIBE, host="127.0.0.1")
    everything = {b1, b2, b3, b4, b5}
    grant(adm, *everything)
    grant(adm, b1)  # the same binding again: no duplicate
    assert described(adm, EVERYTHING) == everything

    def f(restype=ResourceType.ANY, name=None, pattern=ResourcePatternType.ANY, principal=None,
          host=None, op=AclOperation.ANY, perm=AclPermissionType.ANY):
        return AclBindingFilter(restype, name, pattern, principal, host, op, perm)

    assert described(adm, f(TOPIC)) == {b1, b2, b3}
    assert described(adm, f(CLUSTER)) == {b5}
    assert described(adm, f(TOPIC, f"{tag}.orders", ResourcePatternType.MATCH)) == {b1, b2, b3}
    assert described(adm, f(TOPIC, f"{tag}.other", ResourcePatternType.MATCH)) == {b2, b3}
    assert described(adm, f(TOPIC, f"{tag}.orders", LITERAL)) == {b1}
    assert described(adm, f(TOPIC, f"{tag}.", PREFIXED)) == {b2}
    assert described(adm, f(TOPIC, "*", LITERAL)) == {b3}
    assert described(adm, f(TOPIC, f"{tag}.orders")) == {b1}  # ANY pattern: exact names
    assert described(adm, f(GROUP, f"{tag}-g1", ResourcePatternType.MATCH)) == {b4}
    assert described(adm, f(principal="User:alice")) == {b1, b2}
    assert described(adm, f(principal="User:*")) == {b4}
    assert described(adm, f(host="127.0.0.1")) == {b5}
    assert described(adm, f(op=Op.READ)) == {b1, b4}
    assert described(adm, f(perm=DENY)) == {b4}
    assert described(adm, f(TOPIC, "no-such-topic", LITERAL)) == set()

    # DeleteAcls: each filter answers what it removed; overlapping filters delete once.
    f_alice = f(TOPIC, f"{tag}.orders", ResourcePatternType.MATCH, principal="User:alice")
    f_read = f(op=Op.READ, perm=ALLOW)
    f_none = f(GROUP, "nobody-has-this", LITERAL)
    res = adm.delete_acls([f_alice, f_read, f_none])
    assert set(res[f_alice].result(timeout=15)) == {b1, b2}
    assert set(res[f_read].result(timeout=15)) <= {b1}
    assert res[f_none].result(timeout=15) == []
    assert described(adm, EVERYTHING) == {b3, b4, b5}

    # Invalid bindings are refused with INVALID_REQUEST (Kafka's checks).
    bad = AclBinding(CLUSTER, "not-the-cluster", LITERAL, "User:alice", "*", Op.ALTER, ALLOW)
    with pytest.raises(KafkaException) as info:
        adm.create_acls([bad])[bad].result(timeout=15)
    assert kerr(info.value) == KafkaError.INVALID_REQUEST, info.value
    assert described(adm, EVERYTHING) == {b3, b4, b5}

    # alice, without ALTER / DESCRIBE on the cluster, may not use these APIs. (DescribeAcls
    # through kafka-python: librdkafka drops DescribeAcls' error code and reports an empty
    # list instead; the CreateAcls and DeleteAcls errors it does report.)
    a = AdminClient(rd(acl, "alice"))
    b6 = acl_(TOPIC, f"{tag}.mine", "alice", Op.ALL)
    with pytest.raises(ClusterAuthorizationFailedError):
        kp_describe_acls(acl, "alice")
    for call in (lambda: a.create_acls([b6])[b6].result(timeout=15),
                 lambda: a.delete_acls([EVERYTHING])[EVERYTHING].result(timeout=15)):
        with pytest.raises(KafkaException) as info:
            call()
        assert kerr(info.value) == CLUSTER_AUTHORIZATION_FAILED, info.value
    assert described(adm, EVERYTHING) == {b3, b4, b5}
    assert len(kp_describe_acls(acl, ADMIN)) == 3

    # DESCRIBE on the cluster: describe only.
    b7 = acl_(CLUSTER, CLUSTER_NAME, "alice", Op.DESCRIBE)
    grant(adm, b7)
    assert described(a, EVERYTHING) == {b3, b4, b5, b7}
    with pytest.raises(KafkaException) as info:
        a.create_acls([b6])[b6].result(timeout=15)
    assert kerr(info.value) == CLUSTER_AUTHORIZATION_FAILED, info.value
    # ALTER on the cluster: create and delete too (and ALTER implies DESCRIBE).
    adm.delete_acls([_filter(b7)])[_filter(b7)].result(timeout=15)
    b8 = acl_(CLUSTER, CLUSTER_NAME, "alice", Op.ALTER)
    grant(adm, b8)
    assert described(a, EVERYTHING) == {b3, b4, b5, b8}
    assert a.create_acls([b6])[b6].result(timeout=15) is None
    assert set(a.delete_acls([_filter(b3)])[_filter(b3)].result(timeout=15)) == {b3}
    assert described(adm, EVERYTHING) == {b4, b5, b6, b8}


def kp_describe_acls(b, user: str | None) -> list:
    """DescribeAcls (everything) through kafka-python, which raises the broker's error."""
    conf = ({"bootstrap_servers": b.bootstrap} if user is None else
            {k: v for k, v in kp_conf(b, user).items() if k != "request_timeout_ms"})
    a = KafkaAdminClient(request_timeout_ms=10_000, **conf)
    try:
        acls, err = a.describe_acls(ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                                              ResourcePatternFilter(KpResourceType.ANY, None,
                                                                    ACLResourcePatternType.ANY)))
        return acls
    finally:
        a.close()


def kp_describe_users(b, user: str) -> dict:
    """DescribeUserScramCredentials (all users) through kafka-python."""
    conf = {k: v for k, v in kp_conf(b, user).items() if k != "request_timeout_ms"}
    a = KafkaAdminClient(request_timeout_ms=10_000, **conf)
    try:
        return a.describe_user_scram_credentials()
    finally:
        a.close()


def test_acl_apis_without_authorizer(broker_factory):
    b = broker_factory("noauthz")
    with pytest.raises(SecurityDisabledError):
        kp_describe_acls(b, None)
    a = AdminClient({"bootstrap.servers": b.bootstrap, **COMMON})
    binding = acl_(TOPIC, "t", "alice", Op.READ)
    for call in (lambda: a.create_acls([binding])[binding].result(timeout=15),
                 lambda: a.delete_acls([EVERYTHING])[EVERYTHING].result(timeout=15)):
        with pytest.raises(KafkaException) as info:
            call()
        assert kerr(info.value) == SECURITY_DISABLED, info.value


def test_acls_survive_a_restart(tmp_path):
    """ACLs are metadata records: a restarted broker enforces what it enforced before."""
    b = AclBroker(tmp_path, "restart", {"sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
                                        "authorizer.class.name": AUTHORIZER})
    b.start()
    try:
        a = AdminClient(rd(b, ADMIN))
        up = UserScramCredentialUpsertion("alice", ScramCredentialInfo(
            ScramMechanism.SCRAM_SHA_512, 4096), PASSWORDS["alice"].encode())
        assert a.alter_user_scram_credentials([up])["alice"].result(timeout=15) is None
        kept, dropped = new_topic(a, "kept"), new_topic(a, "dropped")
        keep = acl_(TOPIC, kept, "alice", Op.WRITE)
        drop = acl_(TOPIC, dropped, "alice", Op.WRITE)
        grant(a, keep, drop, acl_(TOPIC, kept, "bob", Op.READ, DENY))
        assert a.delete_acls([_filter(drop)])[_filter(drop)].result(timeout=15) == [drop]
        before = set(a.describe_acls(EVERYTHING).result(timeout=15))
        assert len(before) == 2
        assert b.stop() == 0
        b.restart()

        a = AdminClient(rd(b, ADMIN))
        assert set(a.describe_acls(EVERYTHING).result(timeout=15)) == before
        p = make_producer(rd(b, "alice"))
        assert [m.offset() for m in produce(p, kept, [b"k"]).ok] == [0]
        d = produce(p, dropped, [b"d"])
        assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
        assert topics_seen(rd(b, "alice")) == {kept}
    finally:
        if b.running():
            assert b.stop() == 0, b.log_tail()


# --- 9. kcat -----------------------------------------------------------------------------------

def kcat(conf: dict, *args: str, stdin: str | None = None,
         timeout: float = 30.0) -> subprocess.CompletedProcess:
    assert KCAT, "kcat not installed"
    cmd = [KCAT, "-b", conf["bootstrap.servers"]]
    for k, v in conf.items():
        if k != "bootstrap.servers":
            cmd += ["-X", f"{k}={v}"]
    try:
        return subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"kcat hung for {timeout}s: {cmd}\nstderr: {e.stderr}") from e


def test_kcat_as_alice(acl, adm):
    topic = new_topic(adm, "kcat")
    values = admin_produce(acl, topic, 3, "kcat")
    conf = rd(acl, "alice", "PLAIN")

    res = kcat(conf, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e")
    assert res.returncode != 0, (res.stdout, res.stderr)
    assert "Topic authorization failed" in res.stderr, res.stderr
    assert res.stdout.strip() == "", res.stdout

    res = kcat(conf, "-P", "-t", topic, "-p", "0", stdin="from-kcat\n")
    assert res.returncode != 0 and "Topic authorization failed" in res.stderr, res.stderr

    res = kcat(conf, "-L", "-J")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["topics"] == []

    grant(adm, acl_(TOPIC, topic, "alice", Op.READ))
    res = kcat(conf, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [v.decode() for v in values]
    assert [t["topic"] for t in json.loads(kcat(conf, "-L", "-J").stdout)["topics"]] == [topic]


# --- 10. kafka-python and aiokafka ----------------------------------------------------------------

def kp_conf(b: AclBroker, user: str, mechanism: str = "SCRAM-SHA-512") -> dict:
    return {"bootstrap_servers": b.sasl_addr, "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": mechanism, "sasl_plain_username": user,
            "sasl_plain_password": PASSWORDS[user], "request_timeout_ms": 10_000}


def test_kafka_python_topic_authorization_failed(acl, adm):
    topic = new_topic(adm, "kp")
    p = KafkaProducer(enable_idempotence=False, max_block_ms=10_000, **kp_conf(acl, "alice"))
    try:
        with pytest.raises(KpTopicAuthorizationFailedError):
            p.send(topic, b"denied", partition=0).get(timeout=15)
        grant(adm, acl_(TOPIC, topic, "alice", Op.WRITE))
    finally:
        p.close(timeout=10)
    p = KafkaProducer(enable_idempotence=False, max_block_ms=10_000,
                      **kp_conf(acl, "alice", "PLAIN"))
    try:
        assert p.send(topic, b"allowed", partition=0).get(timeout=15).offset == 0
    finally:
        p.close(timeout=10)


def test_aiokafka_topic_authorization_failed(acl, adm):
    topic = new_topic(adm, "aio")

    async def send(user: str):
        p = AIOKafkaProducer(**kp_conf(acl, user))
        await asyncio.wait_for(p.start(), 20)
        try:
            return await asyncio.wait_for(p.send_and_wait(topic, b"v", partition=0), 20)
        finally:
            await asyncio.wait_for(p.stop(), 20)

    with pytest.raises(AioTopicAuthorizationFailedError):
        asyncio.run(send("bob"))
    grant(adm, acl_(TOPIC, topic, "bob", Op.WRITE))
    assert asyncio.run(send("bob")).offset == 0


# --- 11. super users -----------------------------------------------------------------------------

@pytest.mark.parametrize("user", SUPER_USERS)
def test_super_users_need_no_acls(acl, adm, user):
    conf = rd(acl, user)
    other = new_topic(adm, "someone-elses")
    a = AdminClient(conf)
    topic = unique_topic(f"super-{user}")
    assert a.create_topics([NewTopic(topic, 1, 1)], request_timeout=15)[topic].result(timeout=15) \
        is None
    # Even an explicit DENY does not apply to a super user.
    grant(adm, acl_(TOPIC, topic, user, Op.ALL, DENY), acl_(TOPIC, other, "*", Op.ALL, DENY))
    p = make_producer(conf)
    for t in (topic, other):
        d = produce(p, t, [b"s1", b"s2"])
        assert [m.offset() for m in d.ok] == [0, 1], d.errors
    auto = unique_topic(f"super-auto-{user}")
    assert [m.offset() for m in produce(p, auto, [b"auto"]).ok] == [0]
    assert {topic, other, auto} <= topics_seen(conf)

    c = make_consumer(conf, f"{user}-{uuid.uuid4().hex[:6]}")
    try:
        c.subscribe([topic])
        records, errors = poll_records(c, 2, 20)
        assert [m.value() for m in records] == [b"s1", b"s2"], errors
        assert c.commit(asynchronous=False)[0].offset == 2
    finally:
        c.close()
    assert len(described(a, EVERYTHING)) == 2
    b = acl_(GROUP, "x", "bob", Op.READ)
    assert a.create_acls([b])[b].result(timeout=15) is None
    assert a.describe_user_scram_credentials().result(timeout=15).keys() >= set(USERS)


# --- more APIs ----------------------------------------------------------------------------------

def test_idempotent_producer_needs_idempotent_write_or_some_write(acl, adm):
    topic = new_topic(adm, "idem")

    def init_producer_id(user: str) -> tuple[int, int]:
        with sasl_plain_connection(acl, user) as conn:
            corr = conn.request(22, 0, wire.string(None) + wire.i32(60_000))
            r = wire.Reader(conn.read_frame())
            assert r.i32() == corr
            r.i32()  # throttle
            return r.i16(), r.i64()

    err, pid = init_producer_id("bob")
    assert (err, pid) == (CLUSTER_AUTHORIZATION_FAILED, -1)
    grant(adm, acl_(CLUSTER, CLUSTER_NAME, "bob", Op.IDEMPOTENT_WRITE))
    err, pid = init_producer_id("bob")
    assert err == wire.NONE and pid >= 0
    # WRITE on some topic (any, even one that does not exist) is enough as well.
    grant(adm, acl_(TOPIC, "no-such-prefix.", "alice", Op.WRITE, pattern=PREFIXED))
    err, pid = init_producer_id("alice")
    assert err == wire.NONE and pid >= 0

    # librdkafka with enable.idempotence: alice with WRITE on the topic produces.
    grant(adm, acl_(TOPIC, topic, "alice", Op.WRITE))
    p = make_producer(rd(acl, "alice"), **{"enable.idempotence": True})
    d = produce(p, topic, [b"i1", b"i2", b"i3"])
    assert [m.offset() for m in d.ok] == [0, 1, 2], d.errors
    # bob, with IDEMPOTENT_WRITE but no WRITE on the topic: a producer id, but no write.
    errors: list[KafkaError] = []
    p = make_producer(rd(acl, "bob"), **{"enable.idempotence": True, "error_cb": errors.append})
    d = produce(p, topic, [b"b1"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors
    assert errors == []

    # bob without any right (InitProducerId refused, see above): nothing is delivered.
    adm.delete_acls([EVERYTHING])[EVERYTHING].result(timeout=15)
    p = make_producer(rd(acl, "bob"), **{"enable.idempotence": True})
    d = produce(p, topic, [b"b2"])
    assert d.ok == [] and codes(d.errors) == {TOPIC_AUTHORIZATION_FAILED}, d.errors


def test_config_records_offsets_and_group_apis(acl, adm):
    topic = new_topic(adm, "apis")
    admin_produce(acl, topic, 5)
    group, bob_group = f"apis-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    for g in (group, bob_group):
        c = make_consumer(rd(acl, ADMIN), g)
        try:
            c.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
        finally:
            c.close()
    a = AdminClient(rd(acl, "alice"))
    t_res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    b_res = ConfigResource(ConfigResource.Type.BROKER, "1")

    def err_of(fs, timeout=15) -> int:
        f = list(fs.values())[0] if isinstance(fs, dict) else fs
        with pytest.raises(KafkaException) as info:
            f.result(timeout=timeout)
        return kerr(info.value)

    def incr(res, key, value):
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
        r = ConfigResource(res.restype, res.name, incremental_configs=[
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
        return a.incremental_alter_configs([r])

    assert err_of(a.describe_configs([t_res])) == TOPIC_AUTHORIZATION_FAILED
    assert err_of(a.describe_configs([b_res])) == CLUSTER_AUTHORIZATION_FAILED
    assert err_of(incr(b_res, "log.retention.ms", "3600000")) == CLUSTER_AUTHORIZATION_FAILED
    assert err_of(incr(t_res, "retention.ms", "3600000")) == TOPIC_AUTHORIZATION_FAILED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # AlterConfigs is what we test
        assert err_of(a.alter_configs([ConfigResource(
            ConfigResource.Type.TOPIC, topic, set_config={"retention.ms": "3600000"})])) \
            == TOPIC_AUTHORIZATION_FAILED
    with sasl_plain_connection(acl, "alice") as conn:
        assert raw_list_offsets(conn, topic) == TOPIC_AUTHORIZATION_FAILED
    assert err_of(a.describe_consumer_groups([group])) == GROUP_AUTHORIZATION_FAILED
    assert err_of(a.delete_consumer_groups([group])) == GROUP_AUTHORIZATION_FAILED
    listed = a.list_consumer_groups().result(timeout=15)
    assert {g.group_id for g in listed.valid} & {group, bob_group} == set()
    # DescribeUserScramCredentials through kafka-python: librdkafka 2.16 frees a stack or
    # static string (invalid free, SIGSEGV) when that response has a top-level error.
    with pytest.raises(ClusterAuthorizationFailedError):
        kp_describe_users(acl, "alice")
    up = UserScramCredentialUpsertion("alice", ScramCredentialInfo(
        ScramMechanism.SCRAM_SHA_512, 4096), b"new-password")
    assert err_of(a.alter_user_scram_credentials([up])) == CLUSTER_AUTHORIZATION_FAILED

    # DESCRIBE on the topic (librdkafka needs its leader first): DeleteRecords still needs DELETE.
    # DESCRIBE on the group (FindCoordinator passes): DeleteGroups still needs DELETE.
    grant(adm, acl_(TOPIC, topic, "alice", Op.DESCRIBE), acl_(GROUP, group, "alice", Op.DESCRIBE))
    assert err_of(a.delete_records([TopicPartition(topic, 0, 1)])) == TOPIC_AUTHORIZATION_FAILED
    assert err_of(a.describe_configs([t_res])) == TOPIC_AUTHORIZATION_FAILED  # not implied
    assert err_of(a.delete_consumer_groups([group])) == GROUP_AUTHORIZATION_FAILED
    with sasl_plain_connection(acl, "alice") as conn:
        assert raw_list_offsets(conn, topic) == wire.NONE
        # DescribeGroups itself (librdkafka would stop at FindCoordinator).
        assert raw_describe_groups(conn, [group, bob_group]) == {
            group: 0, bob_group: GROUP_AUTHORIZATION_FAILED}

    adm.delete_acls([EVERYTHING])[EVERYTHING].result(timeout=15)
    grant(adm,
          acl_(TOPIC, topic, "alice", Op.ALTER_CONFIGS),  # implies DESCRIBE_CONFIGS
          acl_(TOPIC, topic, "alice", Op.DELETE),
          acl_(GROUP, group, "alice", Op.DESCRIBE),
          acl_(GROUP, group, "alice", Op.DELETE))
    cfg = list(a.describe_configs([t_res]).values())[0].result(timeout=15)
    assert "retention.ms" in cfg
    assert list(incr(t_res, "retention.ms", "3600000").values())[0].result(timeout=15) is None
    cfg = list(adm.describe_configs([t_res]).values())[0].result(timeout=15)
    assert cfg["retention.ms"].value == "3600000"
    assert err_of(a.describe_configs([b_res])) == CLUSTER_AUTHORIZATION_FAILED
    # DELETE implies DESCRIBE: ListOffsets works; DeleteRecords moves the log start.
    lo = list(a.list_offsets({TopicPartition(topic, 0): OffsetSpec.latest()}).values())[0]
    assert lo.result(timeout=15).offset == 5
    dr = list(a.delete_records([TopicPartition(topic, 0, 1)]).values())[0].result(timeout=15)
    assert dr.low_watermark == 1
    listed = a.list_consumer_groups().result(timeout=15)
    assert {g.group_id for g in listed.valid} & {group, bob_group} == {group}
    desc = list(a.describe_consumer_groups([group]).values())[0].result(timeout=15)
    assert desc.group_id == group
    assert err_of(a.describe_consumer_groups([bob_group])) == GROUP_AUTHORIZATION_FAILED
    assert list(a.delete_consumer_groups([group]).values())[0].result(timeout=15) is None

    # DESCRIBE on the cluster lists every group; DESCRIBE_CONFIGS on it describes the broker.
    grant(adm, acl_(CLUSTER, CLUSTER_NAME, "alice", Op.DESCRIBE),
          acl_(CLUSTER, CLUSTER_NAME, "alice", Op.DESCRIBE_CONFIGS))
    listed = a.list_consumer_groups().result(timeout=15)
    assert bob_group in {g.group_id for g in listed.valid}
    assert list(a.describe_configs([b_res]).values())[0].result(timeout=15)
    assert a.describe_user_scram_credentials().result(timeout=15).keys() >= {"alice", "bob"}
    assert set(kp_describe_users(acl, "alice")) >= {"alice", "bob"}
    assert err_of(a.alter_user_scram_credentials([up])) == CLUSTER_AUTHORIZATION_FAILED
    grant(adm, acl_(CLUSTER, CLUSTER_NAME, "alice", Op.ALTER))
    dave = UserScramCredentialUpsertion(f"dave-{uuid.uuid4().hex[:6]}", ScramCredentialInfo(
        ScramMechanism.SCRAM_SHA_512, 4096), b"dave-password")
    assert list(a.alter_user_scram_credentials([dave]).values())[0].result(timeout=15) is None


# --- APIs Kafka guards too: CreatePartitions, OffsetFetch, OffsetDelete, OffsetCommit, ... --------

OFFSET_COMMIT, OFFSET_FETCH, OFFSET_FOR_LEADER_EPOCH, OFFSET_DELETE = 8, 9, 23, 47
UNKNOWN_SERVER_ERROR = -1


def admin_commit(b: AclBroker, group: str, offsets: list[TopicPartition]) -> None:
    c = make_consumer(rd(b, ADMIN), group)
    try:
        got = c.commit(offsets=offsets, asynchronous=False)
        assert all(tp.error is None for tp in got), got
    finally:
        c.close()


def admin_committed(b: AclBroker, group: str, tps: list[TopicPartition]) -> list[int]:
    c = make_consumer(rd(b, ADMIN), group)
    try:
        return [tp.offset for tp in c.committed(tps, timeout=10)]
    finally:
        c.close()


def raw_offset_fetch_v7(conn, group: str, topic: str) -> tuple[int, list[tuple[int, int, int]]]:
    """OffsetFetch v7 for partition 0 of `topic` → (group error, [(partition, offset, error)])."""
    body = (wire.compact_string(group) + wire.uvarint(2) + wire.compact_string(topic)
            + wire.uvarint(2) + wire.i32(0) + wire.TAGS_NONE + b"\0" + wire.TAGS_NONE)
    corr = conn.request(OFFSET_FETCH, 7, body, flexible=True)
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr
    r.skip_tags()
    r.i32()  # throttle
    parts = []
    for _ in range(r.uvarint() - 1):
        r.compact_string()
        for _ in range(r.uvarint() - 1):
            p, off = r.i32(), r.i64()
            r.i32()  # leader epoch
            r.compact_string()  # metadata
            parts.append((p, off, r.i16()))
            r.skip_tags()
        r.skip_tags()
    return r.i16(), parts


def raw_offset_fetch_v8(conn, group: str, topic: str) -> tuple[int, list[tuple[int, int, int]]]:
    """OffsetFetch v8 (one group) → (the group's error, [(partition, offset, error)])."""
    body = (wire.uvarint(2) + wire.compact_string(group)
            + wire.uvarint(2) + wire.compact_string(topic) + wire.uvarint(2) + wire.i32(0)
            + wire.TAGS_NONE + wire.TAGS_NONE + b"\0" + wire.TAGS_NONE)
    corr = conn.request(OFFSET_FETCH, 8, body, flexible=True)
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr
    r.skip_tags()
    r.i32()  # throttle
    assert r.uvarint() - 1 == 1
    assert r.compact_string() == group
    parts = []
    for _ in range(r.uvarint() - 1):
        r.compact_string()
        for _ in range(r.uvarint() - 1):
            p, off = r.i32(), r.i64()
            r.i32()
            r.compact_string()
            parts.append((p, off, r.i16()))
            r.skip_tags()
        r.skip_tags()
    return r.i16(), parts


def raw_offset_delete(conn, group: str, topic: str) -> tuple[int, list[tuple[int, int]]]:
    """OffsetDelete v0 for partition 0 → (top-level error, [(partition, error)])."""
    body = wire.string(group) + wire.i32(1) + wire.string(topic) + wire.i32(1) + wire.i32(0)
    corr = conn.request(OFFSET_DELETE, 0, body)
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr
    err = r.i16()
    r.i32()  # throttle
    parts = []
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            parts.append((r.i32(), r.i16()))
    return err, parts


def raw_offset_commit_v2(conn, group: str, offsets: dict[str, int]) -> dict[str, int]:
    """OffsetCommit v2 (no generation: a simple commit) of partition 0 of each topic →
    {topic: error}."""
    body = (wire.string(group) + wire.i32(-1) + wire.string("") + wire.i64(-1)
            + wire.i32(len(offsets)))
    for topic, off in offsets.items():
        body += wire.string(topic) + wire.i32(1) + wire.i32(0) + wire.i64(off) + wire.string(None)
    corr = conn.request(OFFSET_COMMIT, 2, body)
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr
    out = {}
    for _ in range(r.i32()):
        name = r.string()
        for _ in range(r.i32()):
            r.i32()
            out[name] = r.i16()
    return out


def raw_offset_for_leader_epoch(conn, topic: str) -> int:
    """OffsetForLeaderEpoch v3 for partition 0, epoch 0 → the partition's error."""
    body = (wire.i32(-1) + wire.i32(1) + wire.string(topic) + wire.i32(1)
            + wire.i32(0) + wire.i32(-1) + wire.i32(0))
    corr = conn.request(OFFSET_FOR_LEADER_EPOCH, 3, body)
    r = wire.Reader(conn.read_frame())
    assert r.i32() == corr
    r.i32()  # throttle
    assert r.i32() == 1 and r.string() == topic and r.i32() == 1
    return r.i16()


def test_create_partitions_needs_alter(acl, adm):
    from confluent_kafka.admin import NewPartitions
    topic = new_topic(adm, "cp")
    a = AdminClient(rd(acl, "alice"))
    with pytest.raises(KafkaException) as info:
        a.create_partitions([NewPartitions(topic, 3)], request_timeout=15)[topic].result(
            timeout=15)
    assert kerr(info.value) == TOPIC_AUTHORIZATION_FAILED, info.value
    assert len(adm.list_topics(topic=topic, timeout=10).topics[topic].partitions) == 1
    grant(adm, acl_(TOPIC, topic, "alice", Op.ALTER))
    assert a.create_partitions([NewPartitions(topic, 3)], request_timeout=15)[topic].result(
        timeout=15) is None


def test_offset_fetch_needs_group_and_topic_describe(acl, adm):
    topic = new_topic(adm, "of")
    group = f"of-{uuid.uuid4().hex[:6]}"
    admin_commit(acl, group, [TopicPartition(topic, 0, 7)])
    with sasl_plain_connection(acl, "admin") as conn:
        assert raw_offset_fetch_v7(conn, group, topic) == (0, [(0, 7, 0)])
        assert raw_offset_fetch_v8(conn, group, topic) == (0, [(0, 7, 0)])
    with sasl_plain_connection(acl, "bob") as conn:
        # No DESCRIBE on the group: refused, both before and after v8 (v8: per group).
        assert raw_offset_fetch_v7(conn, group, topic)[0] == GROUP_AUTHORIZATION_FAILED
        err, parts = raw_offset_fetch_v8(conn, group, topic)
        assert err == GROUP_AUTHORIZATION_FAILED and all(o == -1 for _, o, _ in parts), \
            (err, parts)
        # DESCRIBE on the group but not on the topic: the topic's partitions are refused.
        grant(adm, acl_(GROUP, group, "bob", Op.DESCRIBE))
        for fetch in (raw_offset_fetch_v7, raw_offset_fetch_v8):
            assert fetch(conn, group, topic) == (0, [(0, -1, TOPIC_AUTHORIZATION_FAILED)]), fetch
        grant(adm, acl_(TOPIC, topic, "bob", Op.DESCRIBE))
        assert raw_offset_fetch_v7(conn, group, topic) == (0, [(0, 7, 0)])
        assert raw_offset_fetch_v8(conn, group, topic) == (0, [(0, 7, 0)])


def test_offset_delete_needs_group_delete_and_topic_read(acl, adm):
    topic = new_topic(adm, "od")
    group = f"od-{uuid.uuid4().hex[:6]}"
    admin_commit(acl, group, [TopicPartition(topic, 0, 4)])
    with sasl_plain_connection(acl, "bob") as conn:
        err, _ = raw_offset_delete(conn, group, topic)
        assert err == GROUP_AUTHORIZATION_FAILED, err
        assert admin_committed(acl, group, [TopicPartition(topic, 0)]) == [4]
        grant(adm, acl_(GROUP, group, "bob", Op.DELETE))
        assert raw_offset_delete(conn, group, topic) == (0, [(0, TOPIC_AUTHORIZATION_FAILED)])
        assert admin_committed(acl, group, [TopicPartition(topic, 0)]) == [4]
        grant(adm, acl_(TOPIC, topic, "bob", Op.READ))
        assert raw_offset_delete(conn, group, topic) == (0, [(0, 0)])
    assert admin_committed(acl, group, [TopicPartition(topic, 0)]) == [-1001]


def test_offset_commit_refuses_only_unauthorized_topics(acl, adm):
    """Kafka commits the topics the principal may read and answers TOPIC_AUTHORIZATION_FAILED
    for the others, in the same request."""
    readable, other = new_topic(adm, "oc-r"), new_topic(adm, "oc-o")
    group = f"oc-{uuid.uuid4().hex[:6]}"
    grant(adm, acl_(GROUP, group, "alice", Op.READ), acl_(TOPIC, readable, "alice", Op.READ),
          acl_(TOPIC, other, "alice", Op.DESCRIBE))
    with sasl_plain_connection(acl, "alice") as conn:
        assert raw_offset_commit_v2(conn, group, {other: 3}) == {
            other: TOPIC_AUTHORIZATION_FAILED}
        assert raw_offset_commit_v2(conn, group, {readable: 5}) == {readable: 0}
        got = raw_offset_commit_v2(conn, group, {readable: 6, other: 3})
    assert got == {readable: 0, other: TOPIC_AUTHORIZATION_FAILED}, got
    assert admin_committed(acl, group, [TopicPartition(readable, 0),
                                        TopicPartition(other, 0)]) == [6, -1001]


def test_offset_for_leader_epoch_needs_topic_describe(acl, adm):
    topic = new_topic(adm, "ofle")
    with sasl_plain_connection(acl, "bob") as conn:
        assert raw_offset_for_leader_epoch(conn, topic) == TOPIC_AUTHORIZATION_FAILED
        grant(adm, acl_(TOPIC, topic, "bob", Op.DESCRIBE))
        assert raw_offset_for_leader_epoch(conn, topic) == wire.NONE
