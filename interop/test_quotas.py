"""Client quotas against real clients (KIP-13, KIP-124, KIP-219, KIP-546, KIP-612).

One broker for the module ("quotas") with two listeners, as in test_acls.py:

  PLAINTEXT       the Broker's own port; every client there is User:ANONYMOUS (no rights)
  SASL_PLAINTEXT  SCRAM-SHA-512; the bootstrap admin user (a super user) does everything

and the built-in authorizer. Its rates are sampled over `quota.window.num=3` windows of
one second, so a new budget's free burst is two seconds of its rate (with Kafka's default
of 11 windows it is ten seconds, and a 2 MB test at 200 KB/s would hardly be slowed).

The admin API: confluent-kafka 2.16 has no alter/describe_client_quotas, so the requests
are kafka-python's protocol messages sent through its admin client's connection manager.
Quotas are set per client id, so one test's limits never touch another's clients; the
per-IP connection quota (127.0.0.1: every client here) is removed in a `finally`.

Timing asserts have wide margins (the machine is shared): a throttled run must be several
seconds slower than an unthrottled one, never "within 10 %" of a figure.
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                   NewTopic, ResourcePatternType, ResourceType)
from kafka.admin import KafkaAdminClient
from kafka.protocol.admin import (AlterClientQuotasRequest, CreateTopicsRequest,
                                  DescribeClientQuotasRequest)

import wire
from broker import Broker, free_port
from clients import COMMON, unique_topic

ADMIN = "admin"
ADMIN_PW = f"admin-{uuid.uuid4().hex[:12]}"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
WINDOWS = {"quota.window.num": "3", "quota.window.size.seconds": "1"}

INVALID_REQUEST = 42
THROTTLING_QUOTA_EXCEEDED = 89
UNSUPPORTED_VERSION = 35
CLUSTER_AUTHORIZATION_FAILED = 31

EXACT, DEFAULT, ANY = 0, 1, 2


class QuotaBroker(Broker):
    """A Broker with a SASL_PLAINTEXT listener next to its own (PLAINTEXT) port."""

    def __init__(self, workdir, name: str, settings: dict[str, str]):
        super().__init__(workdir, name, env={"STRATA_ADMIN_USER": ADMIN,
                                             "STRATA_ADMIN_PASSWORD": ADMIN_PW})
        self.sasl_port = free_port()
        self.extra_args = [
            "--set", f"listeners=PLAINTEXT://{self.host}:{self.port},"
                     f"SASL_PLAINTEXT://{self.host}:{self.sasl_port}"]
        for k, v in settings.items():
            self.extra_args += ["--set", f"{k}={v}"]

    @property
    def sasl_addr(self) -> str:
        return f"{self.host}:{self.sasl_port}"

    def start(self, timeout: float = 30.0) -> "QuotaBroker":
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
def qb(tmp_path_factory):
    b = QuotaBroker(tmp_path_factory.mktemp("quotas"), "quotas", {
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "authorizer.class.name": AUTHORIZER,
        **WINDOWS,
    })
    b.start()
    yield b
    b.assert_alive()
    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"


def rd(b: QuotaBroker, **extra) -> dict:
    """librdkafka settings for the admin user on the SASL listener."""
    return {"bootstrap.servers": b.sasl_addr, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": ADMIN,
            "sasl.password": ADMIN_PW, **COMMON, **extra}


@pytest.fixture(scope="module")
def kp(qb):
    a = KafkaAdminClient(bootstrap_servers=qb.sasl_addr, security_protocol="SASL_PLAINTEXT",
                         sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=ADMIN,
                         sasl_plain_password=ADMIN_PW, request_timeout_ms=15000)
    yield a
    a.close()


@pytest.fixture(scope="module")
def kp_anonymous(qb):
    a = KafkaAdminClient(bootstrap_servers=qb.bootstrap, request_timeout_ms=15000)
    yield a
    a.close()


# --- the admin API (kafka-python's messages) ---------------------------------------------------

def send(a: KafkaAdminClient, request):
    return a._manager.run(a._manager.send, request)


def alter(a: KafkaAdminClient, entries, validate_only: bool = False) -> list[tuple[int, str]]:
    """entries: [( {type: name}, {key: value or None} )] → [(error_code, error_message)]."""
    wire_entries = [
        ([(t, n) for t, n in entity.items()],
         [(k, 0.0 if v is None else float(v), v is None) for k, v in ops.items()])
        for entity, ops in entries]
    r = send(a, AlterClientQuotasRequest(entries=wire_entries, validate_only=validate_only))
    assert len(r.entries) == len(entries), r
    return [(e.error_code, e.error_message) for e in r.entries]


def alter_ok(a: KafkaAdminClient, entity: dict, ops: dict) -> None:
    assert alter(a, [(entity, ops)]) == [(0, None)]


def describe(a: KafkaAdminClient, components=(), strict: bool = False):
    """→ (error_code, {frozenset(entity items): {key: value}})."""
    r = send(a, DescribeClientQuotasRequest(components=list(components), strict=strict))
    found = {}
    for e in r.entries or []:
        entity = frozenset((x.entity_type, x.entity_name) for x in e.entity)
        found[entity] = {v.key: v.value for v in e.values}
    return r.error_code, found


def ent(**parts) -> frozenset:
    return frozenset((k.replace("_", "-"), v) for k, v in parts.items())


# --- AlterClientQuotas / DescribeClientQuotas -----------------------------------------------------

def test_alter_and_describe_round_trip(kp):
    tag = uuid.uuid4().hex[:6]
    alice, app = f"alice-{tag}", f"app-{tag}"
    entries = [
        ({"user": alice}, {"producer_byte_rate": 1024, "consumer_byte_rate": 2048}),
        ({"user": alice, "client-id": app}, {"request_percentage": 12.5}),
        ({"user": None}, {"controller_mutation_rate": 0.5}),
        ({"ip": "10.9.8.7"}, {"connection_creation_rate": 7}),
    ]
    # validate_only answers but stores nothing.
    assert alter(kp, entries, validate_only=True) == [(0, None)] * 4
    err, found = describe(kp, [("user", EXACT, alice)])
    assert err == 0 and found == {}
    assert alter(kp, entries) == [(0, None)] * 4
    try:
        err, found = describe(kp, [("user", EXACT, alice)])
        assert err == 0
        assert found == {
            ent(user=alice): {"producer_byte_rate": 1024.0, "consumer_byte_rate": 2048.0},
            ent(user=alice, client_id=app): {"request_percentage": 12.5},
        }
        err, strict = describe(kp, [("user", EXACT, alice)], strict=True)
        assert list(strict) == [ent(user=alice)]
        err, default_user = describe(kp, [("user", DEFAULT, None)], strict=True)
        assert default_user == {ent(user=None): {"controller_mutation_rate": 0.5}}
        err, ips = describe(kp, [("ip", ANY, None)])
        assert ips[ent(ip="10.9.8.7")] == {"connection_creation_rate": 7.0}
        err, everything = describe(kp)
        assert {ent(user=alice), ent(ip="10.9.8.7"), ent(user=None)} <= set(everything)
        # Changing one key leaves the other; removing it drops just that key.
        alter_ok(kp, {"user": alice}, {"producer_byte_rate": None, "consumer_byte_rate": 4096})
        err, found = describe(kp, [("user", EXACT, alice)], strict=True)
        assert found == {ent(user=alice): {"consumer_byte_rate": 4096.0}}
    finally:
        alter(kp, [
            ({"user": alice}, {"consumer_byte_rate": None, "producer_byte_rate": None}),
            ({"user": alice, "client-id": app}, {"request_percentage": None}),
            ({"user": None}, {"controller_mutation_rate": None}),
            ({"ip": "10.9.8.7"}, {"connection_creation_rate": None}),
        ])
    err, found = describe(kp, [("user", EXACT, alice)])
    assert found == {}
    err, ips = describe(kp, [("ip", EXACT, "10.9.8.7")])
    assert ips == {}


def test_bad_requests_get_kafka_error_codes(kp):
    tag = uuid.uuid4().hex[:6]
    results = alter(kp, [
        ({"user": f"u1-{tag}"}, {"producer_bytes_rate": 10}),                    # unknown key
        ({"user": f"u2-{tag}"}, {"producer_byte_rate": -5}),                     # negative
        ({"user": f"u3-{tag}"}, {"producer_byte_rate": 10.5}),                   # not whole
        ({"ip": "10.0.0.1", "user": f"u4-{tag}"}, {"connection_creation_rate": 5}),  # combination
        ({"ip": "not-an-address"}, {"connection_creation_rate": 5}),             # bad ip
        ({"ip": "10.0.0.1"}, {"producer_byte_rate": 5}),                         # key not for ip
        ({"group": "g"}, {"producer_byte_rate": 5}),                             # unknown type
        ({"client-id": f"c-{tag}"}, {"consumer_byte_rate": 100}),                # fine
    ])
    codes = [code for code, _ in results]
    assert codes == [INVALID_REQUEST] * 7 + [0], results
    assert "producer_bytes_rate" in results[0][1]
    # The good entry was stored, none of the bad ones.
    err, found = describe(kp, [("client-id", EXACT, f"c-{tag}")], strict=True)
    assert found == {ent(client_id=f"c-{tag}"): {"consumer_byte_rate": 100.0}}
    err, found = describe(kp, [("user", EXACT, f"u1-{tag}")])
    assert found == {}
    alter_ok(kp, {"client-id": f"c-{tag}"}, {"consumer_byte_rate": None})
    # Describe filters: an unknown entity type, EXACT without a name, ip with user.
    assert describe(kp, [("group", ANY, None)])[0] == UNSUPPORTED_VERSION
    assert describe(kp, [("user", EXACT, None)])[0] == INVALID_REQUEST
    assert describe(kp, [("ip", ANY, None), ("user", ANY, None)])[0] == INVALID_REQUEST


def test_unauthorized_principal_is_refused(qb, kp, kp_anonymous):
    # ANONYMOUS (PLAINTEXT listener) has no ACLs: CLUSTER_AUTHORIZATION_FAILED.
    results = alter(kp_anonymous, [({"user": "mallory"}, {"producer_byte_rate": 1}),
                                   ({"client-id": "x"}, {"consumer_byte_rate": 1})])
    assert [code for code, _ in results] == [CLUSTER_AUTHORIZATION_FAILED] * 2
    assert describe(kp_anonymous)[0] == CLUSTER_AUTHORIZATION_FAILED
    assert describe(kp, [("user", EXACT, "mallory")])[1] == {}
    # DESCRIBE_CONFIGS on the cluster lets it describe, not alter.
    adm = AdminClient(rd(qb))
    binding = AclBinding(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL,
                         "User:ANONYMOUS", "*", AclOperation.DESCRIBE_CONFIGS,
                         AclPermissionType.ALLOW)
    adm.create_acls([binding])[binding].result(timeout=15)
    try:
        assert describe(kp_anonymous)[0] == 0
        results = alter(kp_anonymous, [({"user": "mallory"}, {"producer_byte_rate": 1})])
        assert results[0][0] == CLUSTER_AUTHORIZATION_FAILED
    finally:
        f = AclBindingFilter(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL,
                             "User:ANONYMOUS", "*", AclOperation.DESCRIBE_CONFIGS,
                             AclPermissionType.ALLOW)
        adm.delete_acls([f])[f].result(timeout=15)


# --- enforcement -----------------------------------------------------------------------------------

RATE = 200_000          # bytes per second
TOTAL = 2_000_000       # bytes written / read per run
VALUE = b"x" * 10_000


def new_topic(qb) -> str:
    name = unique_topic("quota")
    adm = AdminClient(rd(qb))
    adm.create_topics([NewTopic(name, 1, 1)], request_timeout=15)[name].result(timeout=15)
    deadline = time.monotonic() + 15
    while True:
        t = adm.list_topics(topic=name, timeout=10).topics.get(name)
        if t is not None and t.error is None and all(p.leader >= 0 for p in t.partitions.values()):
            return name
        assert time.monotonic() < deadline, f"topic {name} not ready"
        time.sleep(0.1)


def produce(qb, topic: str, client_id: str) -> tuple[float, list]:
    """Writes TOTAL bytes as client `client_id`; → (seconds, throttle events)."""
    throttles = []
    p = Producer(rd(qb, **{"client.id": client_id, "linger.ms": 5, "batch.size": 65536,
                           "acks": "all", "throttle_cb": throttles.append}))
    errors = []
    start = time.monotonic()
    for _ in range(TOTAL // len(VALUE)):
        while True:
            try:
                p.produce(topic, VALUE, on_delivery=lambda e, m: e and errors.append(e))
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    assert p.flush(120) == 0
    elapsed = time.monotonic() - start
    p.poll(0.5)  # throttle reports come with poll
    assert errors == []
    return elapsed, throttles


def consume(qb, topic: str, client_id: str) -> tuple[float, list]:
    """Reads TOTAL bytes from the start as client `client_id`; → (seconds, throttle events)."""
    throttles = []
    c = Consumer(rd(qb, **{"client.id": client_id, "group.id": f"g-{uuid.uuid4().hex[:8]}",
                           "enable.auto.commit": False, "throttle_cb": throttles.append}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = 0
    start = time.monotonic()
    deadline = start + 120
    while got < TOTAL:
        assert time.monotonic() < deadline, f"read only {got} bytes"
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got += len(m.value())
    elapsed = time.monotonic() - start
    c.poll(0.5)
    c.close()
    return elapsed, throttles


def test_producer_byte_rate_slows_the_producer(qb, kp):
    topic = new_topic(qb)
    tag = uuid.uuid4().hex[:6]
    fast, _ = produce(qb, topic, f"fast-producer-{tag}")
    slow_id = f"slow-producer-{tag}"
    alter_ok(kp, {"client-id": slow_id}, {"producer_byte_rate": RATE})
    try:
        slow, throttles = produce(qb, topic, slow_id)
    finally:
        alter_ok(kp, {"client-id": slow_id}, {"producer_byte_rate": None})
    print(f"2 MB produced: {fast:.2f} s unthrottled, {slow:.2f} s at 200 KB/s, "
          f"{len(throttles)} throttle reports")
    # 2 MB at 200 KB/s with a 2 s free burst: about 8-10 s. Wide margins.
    assert slow >= 4.0, f"{slow:.2f}s"
    assert slow >= fast + 3.0, f"throttled {slow:.2f}s vs unthrottled {fast:.2f}s"
    assert slow < 60
    assert any(t.throttle_time > 0 for t in throttles), throttles


def test_consumer_byte_rate_slows_the_consumer(qb, kp):
    topic = new_topic(qb)
    tag = uuid.uuid4().hex[:6]
    produce(qb, topic, f"writer-{tag}")
    fast, _ = consume(qb, topic, f"fast-consumer-{tag}")
    slow_id = f"slow-consumer-{tag}"
    alter_ok(kp, {"client-id": slow_id}, {"consumer_byte_rate": RATE})
    try:
        slow, throttles = consume(qb, topic, slow_id)
    finally:
        alter_ok(kp, {"client-id": slow_id}, {"consumer_byte_rate": None})
    print(f"2 MB consumed: {fast:.2f} s unthrottled, {slow:.2f} s at 200 KB/s, "
          f"{len(throttles)} throttle reports")
    assert slow >= 4.0, f"{slow:.2f}s"
    assert slow >= fast + 3.0, f"throttled {slow:.2f}s vs unthrottled {fast:.2f}s"
    assert slow < 60
    assert any(t.throttle_time > 0 for t in throttles), throttles


def metadata_v4(conn: wire.RawConnection, corr: int, client_id: str) -> int:
    """Metadata v4 for no topics → the response's throttle_time_ms."""
    body = wire.i32(0) + wire.i8(0)
    conn.send_raw(wire.frame(wire.request_header(3, 4, corr, False, client_id) + body))
    data = conn.read_frame()
    assert data is not None, "broker closed the connection"
    r = wire.Reader(data)
    assert r.i32() == corr
    return r.i32()


def test_request_percentage_throttles_and_mutes_the_connection(qb, kp):
    client_id = f"busy-{uuid.uuid4().hex[:6]}"
    # 0.01 % of a thread: a tenth of a millisecond of handler time per second.
    alter_ok(kp, {"client-id": client_id}, {"request_percentage": 0.01})
    try:
        with wire.RawConnection(qb.host, qb.port, timeout=30) as conn:
            throttle = 0
            for corr in range(1, 2001):
                throttle = metadata_v4(conn, corr, client_id)
                if throttle > 0:
                    break
            assert throttle > 0, "never throttled"
            # The connection is muted: the next answer waits out the throttle.
            start = time.monotonic()
            metadata_v4(conn, corr + 1, client_id)
            waited = time.monotonic() - start
            assert waited >= throttle / 1000 * 0.5, (throttle, waited)
            # Another client id on the same principal is not limited.
            with wire.RawConnection(qb.host, qb.port) as other:
                assert metadata_v4(other, 1, "someone-else") == 0
    finally:
        alter_ok(kp, {"client-id": client_id}, {"request_percentage": None})


def test_controller_mutation_rate_refuses_topics_past_the_quota(qb, kp):
    client_id = f"mutator-{uuid.uuid4().hex[:6]}"
    # One partition a second; the bucket holds three seconds' worth.
    alter_ok(kp, {"client-id": client_id}, {"controller_mutation_rate": 1})
    a = KafkaAdminClient(bootstrap_servers=qb.sasl_addr, security_protocol="SASL_PLAINTEXT",
                         sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=ADMIN,
                         sasl_plain_password=ADMIN_PW, request_timeout_ms=15000,
                         client_id=client_id)
    try:
        first, second = unique_topic("mut"), unique_topic("mut")
        r = send(a, CreateTopicsRequest(topics=[(first, 10, 1, [], []), (second, 10, 1, [], [])],
                                        timeout_ms=15000, validate_only=False))
        codes = {t.name: t.error_code for t in r.topics}
        # The first empties the bucket (and more); the second finds it empty (strict, v6+).
        assert codes == {first: 0, second: THROTTLING_QUOTA_EXCEEDED}, r
        assert r.throttle_time_ms > 1000, r
    finally:
        a.close()
        alter_ok(kp, {"client-id": client_id}, {"controller_mutation_rate": None})


# --- connection creation rate (KIP-612) -----------------------------------------------------------

def burst(host: str, port: int, n: int) -> tuple[int, int, float]:
    """Opens n connections at once, asks each for ApiVersions → (answered, closed, seconds)."""
    start = time.monotonic()
    conns = [wire.RawConnection(host, port, timeout=30) for _ in range(n)]
    answered = closed = 0
    try:
        for c in conns:
            try:
                c.request(wire.API_VERSIONS, 0, b"")
            except OSError:
                closed += 1
                continue
            try:
                frame = c.wait_closed_or_frame(30)
            except OSError:
                frame = None
            if frame is None:
                closed += 1
            else:
                answered += 1
    finally:
        for c in conns:
            c.close()
    return answered, closed, time.monotonic() - start


def test_ip_connection_creation_rate_refuses_a_burst(qb, kp):
    alter_ok(kp, {"ip": "127.0.0.1"}, {"connection_creation_rate": 2})
    try:
        answered, closed, _ = burst(qb.host, qb.port, 30)
    finally:
        deadline = time.monotonic() + 30
        while alter(kp, [({"ip": "127.0.0.1"}, {"connection_creation_rate": None})]) != [(0, None)]:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    print(f"30 connections at 2/s from one address: {answered} served, {closed} closed")
    # A 2 s free burst of 2/s is 4 connections; the rest are closed.
    assert closed >= 15, (answered, closed)
    assert answered >= 1, (answered, closed)
    # Without the quota a burst is served whole.
    answered, closed, _ = burst(qb.host, qb.port, 30)
    assert (answered, closed) == (30, 0)


def test_broker_connection_creation_rate_delays_accepts(broker_factory):
    limited = broker_factory("limited", ["--set", "max.connection.creation.rate=5",
                                         "--set", "quota.window.num=2"])
    answered, closed, elapsed = burst(limited.host, limited.port, 25)
    print(f"25 connections at max.connection.creation.rate=5: {elapsed:.2f} s")
    # Paced, not refused: about 4 s for the 20 past the free burst of 5.
    assert (answered, closed) == (25, 0)
    assert elapsed >= 2.0, f"{elapsed:.2f}s"
