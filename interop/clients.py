"""Small confluent-kafka helpers shared by the test modules; every call has a timeout."""

from __future__ import annotations

import itertools
import os
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

_counter = itertools.count()

# librdkafka logs connection errors to stderr at level 3+; keep them, they help debugging.
COMMON = {"socket.timeout.ms": 10_000, "api.version.request.timeout.ms": 10_000}


def unique_topic(prefix: str = "t") -> str:
    """A topic name no other test uses (tests share one broker per module)."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, **COMMON})


def wait_for_topic(bootstrap: str, topic: str, partitions: int, timeout: float = 15.0) -> None:
    """Block until Metadata shows `topic` with `partitions` partitions, each with a leader."""
    a = admin(bootstrap)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        md = a.list_topics(topic=topic, timeout=5)
        t = md.topics.get(topic)
        last = t
        if t is not None and t.error is None and len(t.partitions) == partitions \
                and all(p.leader >= 0 for p in t.partitions.values()):
            return
        time.sleep(0.2)
    raise AssertionError(f"topic {topic} not ready with {partitions} partitions: {last}")


def create_topic(bootstrap: str, topic: str | None = None, partitions: int = 1,
                 config: dict[str, str] | None = None, timeout: float = 15.0) -> str:
    """Create a topic through CreateTopics and wait until it is usable; returns its name."""
    topic = topic or unique_topic()
    a = admin(bootstrap)  # must outlive the futures: dropping the handle cancels them
    fs = a.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=timeout, request_timeout=timeout)
    fs[topic].result(timeout=timeout)
    wait_for_topic(bootstrap, topic, partitions, timeout)
    return topic


def producer(bootstrap: str, **conf) -> Producer:
    base = {"bootstrap.servers": bootstrap, "message.timeout.ms": 20_000,
            "linger.ms": 5, **COMMON}
    base.update({k.replace("_", "."): v for k, v in conf.items()})
    return Producer(base)


def produce_all(p: Producer, topic: str, messages, timeout: float = 30.0) -> list:
    """Produce (key, value, kwargs) tuples, flush, and return the delivered Message objects.

    Raises if any delivery report carries an error or if flush times out.
    """
    delivered = []
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append(msg)

    for key, value, extra in messages:
        while True:
            try:
                p.produce(topic, key=key, value=value, on_delivery=on_delivery, **extra)
                break
            except BufferError:
                p.poll(0.1)
    remaining = p.flush(timeout)
    if errors:
        raise AssertionError(f"{len(errors)} delivery errors, first: {errors[0]}")
    if remaining:
        raise AssertionError(f"{remaining} messages still undelivered after {timeout}s")
    return delivered


def consumer(bootstrap: str, **conf) -> Consumer:
    base = {"bootstrap.servers": bootstrap,
            # librdkafka insists on a group id even for assign(); nothing commits to it.
            "group.id": f"interop-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False, "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": False, **COMMON}
    base.update(conf)
    return Consumer(base)


def consume(bootstrap: str, topic: str, partition: int, count: int, timeout: float = 30.0,
            start: int = 0, **conf) -> list:
    """Read `count` messages from topic/partition starting at offset `start`, via assign()."""
    c = consumer(bootstrap, **conf)
    try:
        c.assign([TopicPartition(topic, partition, start)])
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                raise KafkaException(msg.error())
            out.append(msg)
        if len(out) < count:
            raise AssertionError(f"read {len(out)} of {count} messages from {topic}/{partition} "
                                 f"within {timeout}s")
        return out
    finally:
        c.close()


def watermarks(bootstrap: str, topic: str, partition: int = 0) -> tuple[int, int]:
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def metadata_ok(bootstrap: str, timeout: float = 10.0):
    """A fresh client can fetch cluster metadata (the broker still serves)."""
    md = admin(bootstrap).list_topics(timeout=timeout)
    assert md.brokers, f"metadata lists no brokers: {md}"
    return md
