"""Log compaction (cleanup.policy=compact) seen through confluent-kafka: the cleaner keeps the
latest record per key, drops tombstoned keys, refuses keyless records, and its result survives a
restart."""

from __future__ import annotations

import re
import time
import urllib.request

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from clients import consume, consumer, create_topic, metadata_ok, produce_all, producer, watermarks

# Small segments roll often so most of the log is sealed (cleanable); tombstones go at the clean
# after the one that first saw them.
COMPACT_CONFIG = {
    "cleanup.policy": "compact",
    "segment.bytes": "2048",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "0",
    "segment.ms": "1000",
}
KEYS = 50
RECORDS = 2000
DELETED = {str(i) for i in range(0, KEYS, 7)}  # tombstoned at the end
FILLER_KEYS = 5
FILLER_RECORDS = 150
CLEAN_PATIENCE = 30.0  # seconds for the cleaner to catch up


def produce_workload(bootstrap: str, topic: str) -> dict[str, str | None]:
    """Writes the keyed workload; returns key -> latest value produced (None for tombstones)."""
    latest: dict[str, str | None] = {}
    msgs = []
    n_values = RECORDS - len(DELETED)
    for n in range(n_values):
        key = str(n % KEYS)
        value = f"k{key}-v{n}"
        latest[key] = value
        msgs.append((key.encode(), value.encode(), {}))
    for key in sorted(DELETED):
        latest[key] = None
        msgs.append((key.encode(), None, {}))
    p = producer(bootstrap)
    produce_all(p, topic, msgs)
    # segment.ms has passed by the time the filler arrives, so the segment holding the last real
    # writes rolls; the filler (other keys) then fills several more small segments.
    time.sleep(1.2)
    filler = []
    for n in range(FILLER_RECORDS):
        key = f"filler{n % FILLER_KEYS}"
        value = f"k{key}-v{n}"
        latest[key] = value
        filler.append((key.encode(), value.encode(), {}))
    # The filler may land as one batch in one segment; as in Kafka, only an append after
    # segment.ms rolls it, so the last record alone is left in the active segment.
    produce_all(p, topic, filler[:-1])
    time.sleep(1.2)
    produce_all(p, topic, filler[-1:])
    return latest


def read_all(bootstrap: str, topic: str, timeout: float = 15.0) -> list[tuple[int, str, str | None]]:
    """(offset, key, value) of every record from the beginning up to the high watermark."""
    _, high = watermarks(bootstrap, topic)
    c = consumer(bootstrap, **{"enable.partition.eof": True})
    out = []
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if msg.offset() >= high:
                        return out
                    continue
                raise KafkaException(err)
            value = msg.value()
            out.append((msg.offset(), msg.key().decode(),
                        None if value is None else value.decode()))
        raise AssertionError(f"did not reach high watermark {high} of {topic} within {timeout}s; "
                             f"read {len(out)} records, last {out[-1:] if out else None}")
    finally:
        c.close()


def is_compacted(records, latest) -> bool:
    # At most ~2 records per key: the cleaned sealed segments hold one per key, the active
    # segment (never cleaned) may hold a few more.
    return len(records) <= 2 * len(latest)


def check_compacted(records, latest) -> None:
    """Kafka's guarantee: a reader from the beginning ends with each key's latest value."""
    offsets = [o for o, _, _ in records]
    assert all(a < b for a, b in zip(offsets, offsets[1:])), f"offsets not increasing: {offsets}"
    last: dict[str, str | None] = {}
    for _, key, value in records:
        assert key in latest, f"unknown key {key!r} read"
        last[key] = value
    for key, want in latest.items():
        if want is None:
            assert last.get(key) is None, \
                f"deleted key {key} reads back {last.get(key)!r} as its last value"
        else:
            assert last.get(key) == want, f"key {key}: last value {last.get(key)!r}, want {want!r}"
    total = RECORDS + FILLER_RECORDS
    assert len(records) <= 2 * len(latest) < total // 10, \
        f"{len(records)} records remain of {total}: not compacted"


def wait_compacted(bootstrap: str, topic: str, latest) -> list:
    deadline = time.monotonic() + CLEAN_PATIENCE
    while True:
        records = read_all(bootstrap, topic)
        if is_compacted(records, latest) or time.monotonic() > deadline:
            print(f"{topic}: {len(records)} records after compaction")
            return records
        time.sleep(1.0)


def cleaner_runs(http_base: str) -> float:
    with urllib.request.urlopen(f"{http_base}/metrics", timeout=10) as r:
        text = r.read().decode()
    values = [float(m.group(1)) for m in
              re.finditer(r'^strata_cleaner_runs_total(?:\{[^}]*\})?\s+(\S+)', text, re.M)]
    assert values, "strata_cleaner_runs_total missing from /metrics"
    return sum(values)


def test_compaction_keeps_latest_value_per_key(broker_factory):
    b = broker_factory("compact")
    topic = create_topic(b.bootstrap, config=COMPACT_CONFIG)
    latest = produce_workload(b.bootstrap, topic)
    records = wait_compacted(b.bootstrap, topic, latest)
    check_compacted(records, latest)
    assert cleaner_runs(b.http_base) >= 1
    # Compaction leaves offsets alone: the log end is where the producer left it.
    _, high = watermarks(b.bootstrap, topic)
    assert high == RECORDS + FILLER_RECORDS
    b.assert_alive()


def test_keyless_record_refused_on_compacted_topic(broker_factory):
    b = broker_factory("keyless")
    topic = create_topic(b.bootstrap, config=COMPACT_CONFIG)
    p = producer(b.bootstrap, **{"message.timeout.ms": 10_000})
    reports = []
    p.produce(topic, key=None, value=b"no key", on_delivery=lambda err, msg: reports.append(err))
    assert p.flush(15) == 0, "keyless record still undelivered after 15s"
    assert len(reports) == 1
    err = reports[0]
    print(f"keyless produce delivery report: {err!r}")
    assert err is not None, "a keyless record on a compacted topic was accepted"
    assert err.code() == KafkaError.INVALID_RECORD, err

    # The broker keeps serving, and the topic takes keyed records.
    metadata_ok(b.bootstrap)
    produce_all(p, topic, [(b"k", b"v", {})])
    got = consume(b.bootstrap, topic, 0, 1)
    assert (got[0].key(), got[0].value()) == (b"k", b"v")
    assert watermarks(b.bootstrap, topic) == (0, 1), "the refused record took an offset"
    b.assert_alive()


def test_compacted_log_survives_restart(broker_factory):
    b = broker_factory("compact-restart")
    topic = create_topic(b.bootstrap, config=COMPACT_CONFIG)
    latest = produce_workload(b.bootstrap, topic)
    check_compacted(wait_compacted(b.bootstrap, topic, latest), latest)

    code = b.stop()
    assert code == 0, f"strata exited with code {code} on SIGTERM\n{b.log_tail()}"
    b.restart()

    # Right after the restart, before the cleaner could redo anything: the compacted log is back.
    records = read_all(b.bootstrap, topic)
    check_compacted(records, latest)
    assert watermarks(b.bootstrap, topic)[1] == RECORDS + FILLER_RECORDS

    # And it still takes writes that compaction then keeps as the key's latest value.
    p = producer(b.bootstrap)
    produce_all(p, topic, [(b"1", b"after-restart", {})])
    latest["1"] = "after-restart"
    check_compacted(read_all(b.bootstrap, topic), latest)
    b.assert_alive()
