"""Issue 16: the figures Kafka operators watch, on `/metrics` of a real broker.

Real clients (confluent-kafka) make the traffic; every check reads a live scrape. The
classic text format is checked with `promtool check metrics` (Debian's prometheus
package, installed by scripts/test.sh).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from clients import COMMON, create_topic, consume, produce_all, producer, unique_topic

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(b, accept: str | None = None) -> tuple[str, str]:
    req = urllib.request.Request(f"{b.http_base}/metrics")
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers.get("Content-Type", ""), r.read().decode()


def samples(b) -> list[tuple[str, dict[str, str], float]]:
    _, text = scrape(b)
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def value(b, name: str, **labels) -> float | None:
    """The sum of `name`'s samples whose labels include `labels`; None if there is none."""
    found = [v for n, l, v in samples(b) if n == name and labels.items() <= l.items()]
    return sum(found) if found else None


def wait_value(b, name: str, ok, what: str, timeout: float = 20.0, **labels) -> float:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = value(b, name, **labels)
        if last is not None and ok(last):
            return last
        time.sleep(0.3)
    raise AssertionError(f"{what}: {name}{labels} = {last}")


def test_content_type_follows_the_accept_header(broker):
    ctype, text = scrape(broker)
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    assert "# EOF" not in text
    # Classic text names a counter family as its samples, so scrapers type it.
    assert "# TYPE strata_requests_total counter" in text, text[:2000]
    ctype, text = scrape(broker, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert ctype.startswith("application/openmetrics-text"), ctype
    assert text.rstrip().endswith("# EOF")
    assert "# TYPE strata_requests counter" in text


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is installed by scripts/test.sh")
def test_promtool_accepts_a_scrape_with_traffic(broker):
    topic = create_topic(broker.bootstrap, partitions=2)
    produce_all(producer(broker.bootstrap), topic, [(b"k", b"v", {}) for _ in range(20)])
    produce_all(producer(broker.bootstrap), topic, [(None, b"v", {"partition": 1})])
    consume(broker.bootstrap, topic, 1, 1)
    _, text = scrape(broker)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    # promtool exits 0 on a clean scrape; lint findings would exit 3.
    assert r.returncode == 0, f"promtool: {r.stdout}{r.stderr}"


def test_error_responses_are_counted_by_api_and_code(broker):
    topic = create_topic(broker.bootstrap)
    before = value(broker, "strata_request_errors_total", api="Fetch",
                   error="OFFSET_OUT_OF_RANGE") or 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_topic("g"),
                  "auto.offset.reset": "error", "enable.auto.commit": False, **COMMON})
    try:
        c.assign([TopicPartition(topic, 0, 1000)])
        deadline = time.monotonic() + 20
        seen = None
        while time.monotonic() < deadline and seen is None:
            m = c.poll(0.5)
            if m is not None and m.error() is not None:
                seen = m.error().code()
        assert seen == KafkaError._AUTO_OFFSET_RESET, seen
    finally:
        c.close()
    after = value(broker, "strata_request_errors_total", api="Fetch", error="OFFSET_OUT_OF_RANGE")
    assert after is not None and after > before


def test_topic_traffic_batches_compression_and_rejections(broker):
    topic = create_topic(broker.bootstrap)
    # Very compressible values: the broker measures what gzip saved.
    values = [(b"k%d" % i, b"a" * 1000, {"partition": 0}) for i in range(200)]
    produce_all(producer(broker.bootstrap, compression_type="gzip", linger_ms=50), topic, values)
    consume(broker.bootstrap, topic, 0, 200)
    assert value(broker, "strata_topic_records_in_total", topic=topic) == 200
    stored = value(broker, "strata_topic_bytes_in_total", topic=topic)
    raw = value(broker, "strata_topic_uncompressed_bytes_in_total", topic=topic)
    assert stored and raw and raw > 200 * 1000 > 10 * stored, (stored, raw)
    assert value(broker, "strata_topic_compression_ratio", topic=topic) > 10
    assert value(broker, "strata_topic_records_out_total", topic=topic) >= 200
    assert value(broker, "strata_records_out_total") >= 200
    assert value(broker, "strata_topic_bytes_out_total", topic=topic) >= stored
    batches = value(broker, "strata_topic_produce_batch_bytes_count", topic=topic)
    assert batches and batches >= 1
    assert value(broker, "strata_topic_produce_batch_bytes_sum", topic=topic) == stored
    assert value(broker, "strata_topic_log_size_bytes", topic=topic) >= stored

    # A keyless record on a compacted topic is refused: counted by reason.
    compacted = create_topic(broker.bootstrap, config={"cleanup.policy": "compact"})
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 10_000,
                  "retries": 0, **COMMON})
    errors = []
    p.produce(compacted, value=b"no key", on_delivery=lambda e, m: errors.append(e))
    p.flush(15)
    assert errors and errors[0] is not None
    assert value(broker, "strata_topic_messages_rejected_total", topic=compacted,
                 reason="invalid_record") >= 1
    # A topic nobody created gets no series, whatever clients ask for.
    assert value(broker, "strata_topic_bytes_in_total", topic="no-such-topic") is None


def test_group_lag_state_and_rebalances(broker):
    topic = create_topic(broker.bootstrap)
    group = unique_topic("lag")
    produce_all(producer(broker.bootstrap), topic,
                [(None, b"x%d" % i, {"partition": 0}) for i in range(20)])
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest", **COMMON})
    try:
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m)
        c.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
        labels = {"group": group, "topic": topic}
        assert wait_value(broker, "strata_consumer_lag", lambda v: v == 15, "lag after 5 of 20",
                          partition="0", **labels) == 15
        assert value(broker, "strata_consumer_group_lag", **labels) == 15
        time.sleep(1.2)
        assert value(broker, "strata_consumer_lag_seconds", partition="0", **labels) >= 1.0
        assert value(broker, "strata_group_state", group=group, state="Stable") == 1
        assert value(broker, "strata_group_members", group=group) == 1
        assert value(broker, "strata_group_rebalances_total", group=group) >= 1
        assert value(broker, "strata_group_rebalance_duration_seconds_count") >= 1
        c.commit(offsets=[TopicPartition(topic, 0, 20)], asynchronous=False)
        wait_value(broker, "strata_consumer_group_lag", lambda v: v == 0, "lag after all 20",
                   **labels)
        assert value(broker, "strata_consumer_lag_seconds", partition="0", **labels) == 0
    finally:
        c.close()
    wait_value(broker, "strata_group_state", lambda v: v == 1, "empty after the member left",
               group=group, state="Empty")


def test_request_time_split_process_and_build(broker):
    names = {n for n, _, _ in samples(broker)}
    for n in ("strata_request_queue_seconds_count", "strata_request_handle_seconds_count",
              "strata_request_response_seconds_count", "strata_request_latency_seconds_count"):
        assert n in names, n
    assert value(broker, "strata_request_response_seconds_count", api="ApiVersions") >= 1
    assert value(broker, "strata_connections", listener="PLAINTEXT") is not None
    assert value(broker, "process_resident_memory_bytes") > 10_000_000
    assert value(broker, "process_open_fds") > 5
    assert 0 < value(broker, "process_cpu_seconds_total") < 10_000
    assert value(broker, "process_start_time_seconds") > time.time() - 3600 * 24
    assert value(broker, "strata_build_info") == 1
    assert value(broker, "strata_log_dir_free_bytes") > 0
    assert value(broker, "strata_log_dir_capacity_bytes") >= value(broker, "strata_log_dir_free_bytes")
    assert value(broker, "strata_log_fsync_seconds_count") is not None


def test_partition_series_are_optional(broker_factory):
    b = broker_factory("metrics-topic-level", ["--set", "metrics.partition.level=false"])
    topic = create_topic(b.bootstrap, partitions=3)
    produce_all(producer(b.bootstrap), topic, [(b"k", b"v", {"partition": i % 3}) for i in range(9)])
    assert value(b, "strata_topic_records_in_total", topic=topic) == 9
    assert value(b, "strata_topic_log_size_bytes", topic=topic) > 0
    assert value(b, "strata_log_size_bytes") is None
    assert value(b, "strata_high_watermark") is None


def test_fetch_lookups_run_on_the_network_thread_unless_they_would_wait(broker_factory):
    """A Fetch of cached data does its index lookups without a thread hand-off; one whose
    files were closed to keep within `log.open.files.max` runs them on a blocking thread,
    and both answer the same records."""
    b = broker_factory("fetch-lookups", ["--set", "log.open.files.max=8"])
    hot = create_topic(b.bootstrap)
    produce_all(producer(b.bootstrap), hot, [(b"k", b"v%d" % i, {}) for i in range(300)])
    blocking0 = value(b, "strata_fetch_lookups_blocking_total")
    fetches0 = value(b, "strata_requests_total", api="Fetch") or 0
    first = consume(b.bootstrap, hot, 0, 300)
    fetches = value(b, "strata_requests_total", api="Fetch") - fetches0
    blocking = value(b, "strata_fetch_lookups_blocking_total") - blocking0
    assert fetches >= 1
    assert blocking < fetches / 2, f"{blocking} of {fetches} Fetches waited on a blocking thread"

    # Writing to more topics than the budget holds files closes the hot topic's handles.
    others = [create_topic(b.bootstrap) for _ in range(6)]
    p = producer(b.bootstrap)
    for t in others:
        produce_all(p, t, [(b"k", b"x" * 100, {}) for _ in range(20)])
    before = value(b, "strata_fetch_lookups_blocking_total")
    again = consume(b.bootstrap, hot, 0, 300)
    assert value(b, "strata_fetch_lookups_blocking_total") > before, "a closed file needs no open?"
    assert [m.value() for m in again] == [m.value() for m in first]
    assert [m.value() for m in first] == [b"v%d" % i for i in range(300)]


# Series that only appear when something happened (a follower lags, a clean ran, ...).
CONDITIONAL = {"strata_partition_replica_lag_records", "strata_partition_replica_lag_seconds",
               "strata_topic_messages_rejected_total"}


def test_every_exposed_metric_is_documented_and_every_documented_one_exposed(broker):
    """deploy/README.md is the metrics reference the dashboard check reads: it must match."""
    import pathlib
    readme = (pathlib.Path(__file__).resolve().parent.parent / "deploy" / "README.md").read_text()
    reference = readme.split("\n## Metrics\n", 1)[1]
    documented = set(re.findall(r"^- `([a-z_:]+)", reference, re.M))
    _, text = scrape(broker)
    exposed = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    assert exposed - documented == set(), "exposed but not in deploy/README.md"
    # A consumer group and some traffic make the conditional families show up.
    test_group_lag_state_and_rebalances(broker)
    _, text = scrape(broker)
    exposed = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    assert documented - exposed - CONDITIONAL == set(), "documented but never exposed"
