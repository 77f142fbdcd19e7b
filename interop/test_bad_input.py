"""Malformed and hostile input over a raw socket: the broker answers or closes, never dies.

After every case the broker must still serve a normal client and still hold the data that
was produced before.
"""

from __future__ import annotations

import random
import socket
import struct
import time

import pytest

from clients import consume, create_topic, metadata_ok, produce_all, producer, watermarks
import wire
from wire import RawConnection, Record

CLOSE_WITHIN = 5.0  # seconds a broker may take to answer or drop a bad connection


@pytest.fixture(scope="module")
def seeded(broker):
    """A topic with known contents, checked after every hostile case."""
    topic = create_topic(broker.bootstrap, partitions=1)
    msgs = [(f"seed-{i}".encode(), f"seed-value-{i}".encode() * 3, {"partition": 0})
            for i in range(25)]
    produce_all(producer(broker.bootstrap, acks="all"), topic, msgs)
    return topic, [(k, v) for k, v, _ in msgs]


@pytest.fixture
def healthy(broker, seeded):
    """Runs the test, then checks the broker still serves and the seed data is unchanged."""
    yield
    broker.assert_alive()
    metadata_ok(broker.bootstrap)
    topic, want = seeded
    assert watermarks(broker.bootstrap, topic) == (0, len(want))
    got = consume(broker.bootstrap, topic, 0, len(want))
    assert [(m.key(), m.value()) for m in got] == want


def connect(broker) -> RawConnection:
    return RawConnection("127.0.0.1", broker.port, timeout=10)


@pytest.fixture(scope="module")
def produce_version(broker) -> int:
    with connect(broker) as c:
        return wire.pick_produce_version(wire.api_versions(c))


def now_ms() -> int:
    return int(time.time() * 1000)


def answer_or_close(conn: RawConnection) -> bytes | None:
    """A response frame or EOF within CLOSE_WITHIN; a silent, open connection fails the test."""
    try:
        return conn.wait_closed_or_frame(CLOSE_WITHIN)
    except socket.timeout:
        pytest.fail(f"broker neither answered nor closed the connection within {CLOSE_WITHIN}s")


# --- framing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [-1, -2_147_483_648])
def test_negative_frame_length_closes_connection(broker, healthy, length):
    with connect(broker) as c:
        c.send_raw(wire.i32(length) + b"\x00" * 16)
        assert c.is_closed_by_peer(CLOSE_WITHIN), "connection left open after negative length"


@pytest.mark.parametrize("length", [100 * 1024 * 1024 + 1, 2_147_483_647])
def test_oversized_frame_closes_connection(broker, healthy, length):
    with connect(broker) as c:
        # Only the header and a few bytes: the broker must not wait for (or allocate) the rest.
        c.send_raw(wire.i32(length) + wire.request_header(wire.METADATA, 1, 1, False))
        assert c.is_closed_by_peer(CLOSE_WITHIN), f"connection left open after length {length}"


def test_truncated_request_then_close(broker, healthy):
    for cut in (2, 4, 9, 30):
        with connect(broker) as c:
            msg = wire.frame(wire.request_header(wire.METADATA, 1, 7, False) + wire.i32(-1))
            c.send_raw(wire.i32(100) + msg[4:4 + cut])  # claims 100 bytes, sends fewer
        # closed by the `with`; the next iteration and the health check must still work


def test_garbage_bytes(broker, healthy):
    # An HTTP request on the Kafka port: "GET " read as a length is ~1.2 GB.
    with connect(broker) as c:
        c.send_raw(b"GET / HTTP/1.1\r\nHost: strata\r\n\r\n")
        assert c.is_closed_by_peer(CLOSE_WITHIN)

    # Well-formed lengths around junk payloads: an answer or a close, never a hang or a crash.
    rng = random.Random(20240611)
    for _ in range(40):
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
        # Keep the junk away from real API keys so no valid request with acks=0 (which gets no
        # answer by design) can appear by chance.
        junk = struct.pack(">h", rng.randint(200, 30000)) + junk
        with connect(broker) as c:
            c.send_raw(wire.i32(len(junk)) + junk)
            answer_or_close(c)

    # Junk after a valid request on the same connection: the valid one is still answered first.
    with connect(broker) as c:
        corr = c.request(wire.API_VERSIONS, 0, b"")
        c.send_raw(wire.i32(6) + b"\xde\xad\xbe\xef\x00\x01")
        data = answer_or_close(c)
        assert data is not None and struct.unpack(">i", data[:4])[0] == corr


# --- API-level errors ------------------------------------------------------------------------

@pytest.mark.parametrize("api_key", [999, 32767, -1])
def test_unknown_api_key(broker, healthy, api_key):
    with connect(broker) as c:
        corr = c.request(api_key, 0, b"\x00" * 8)
        data = answer_or_close(c)
        if data is not None:
            # If the broker answers, it answers this request.
            assert struct.unpack(">i", data[:4])[0] == corr


def test_api_versions_unsupported_version(broker, healthy):
    with connect(broker) as c:
        # A client from the future: ApiVersions v127 with a flexible (v2) request header.
        body = wire.compact_string("future-client") + wire.compact_string("9.9") + wire.TAGS_NONE
        corr = c.request(wire.API_VERSIONS, 127, body, flexible=True)
        data = c.read_frame()
        assert data is not None, "broker closed instead of answering ApiVersions v127"
        err, versions = wire.parse_api_versions_error(data, corr)
        assert err == wire.UNSUPPORTED_VERSION
        assert wire.API_VERSIONS in versions and versions[wire.API_VERSIONS].min_version == 0
        # The client then retries on the same connection with a version the broker has.
        assert wire.API_VERSIONS in wire.api_versions(c)


def test_unsupported_version_of_other_api(broker, healthy):
    with connect(broker) as c:
        corr = c.request(wire.METADATA, 99, wire.uvarint(1) + wire.TAGS_NONE, flexible=True)
        data = answer_or_close(c)
        if data is not None:
            assert struct.unpack(">i", data[:4])[0] == corr


def test_valid_hand_built_batch_is_accepted(broker, healthy, produce_version):
    """The positive control for the batch builder the corrupt cases below rely on."""
    topic = create_topic(broker.bootstrap)
    ts = now_ms()
    batch = wire.record_batch([Record(b"hk", b"hv", [("h", b"1")]),
                               Record(None, b"second", [], timestamp_delta=5)], ts)
    with connect(broker) as c:
        res = wire.produce(c, produce_version, topic, 0, batch)
    assert (res.error_code, res.base_offset) == (wire.NONE, 0), res
    got = consume(broker.bootstrap, topic, 0, 2)
    assert [(m.key(), m.value()) for m in got] == [(b"hk", b"hv"), (None, b"second")]
    assert got[0].headers() == [("h", b"1")]
    assert [m.timestamp()[1] for m in got] == [ts, ts + 5]


def test_corrupt_crc_is_rejected(broker, healthy, produce_version):
    topic = create_topic(broker.bootstrap)
    produce_all(producer(broker.bootstrap), topic, [(b"k", b"before", {"partition": 0})])
    good = wire.record_batch([Record(b"k", b"v")], now_ms())
    real_crc = struct.unpack_from(">I", good, 17)[0]
    bad = wire.record_batch([Record(b"k", b"v")], now_ms(), crc_override=real_crc ^ 0xDEADBEEF)
    with connect(broker) as c:
        res = wire.produce(c, produce_version, topic, 0, bad)
        assert res.error_code == wire.CORRUPT_MESSAGE, res
        # The connection stays usable after a per-partition error.
        ok = wire.produce(c, produce_version, topic, 0,
                          wire.record_batch([Record(b"k", b"after")], now_ms()))
        assert (ok.error_code, ok.base_offset) == (wire.NONE, 1), ok
    got = consume(broker.bootstrap, topic, 0, 2)
    assert [m.value() for m in got] == [b"before", b"after"]
    assert watermarks(broker.bootstrap, topic) == (0, 2)


@pytest.mark.parametrize("magic", [0, 1, 3])
def test_wrong_magic_is_rejected(broker, healthy, produce_version, magic):
    topic = create_topic(broker.bootstrap)
    bad = wire.record_batch([Record(b"k", b"v")], now_ms(), magic=magic)
    with connect(broker) as c:
        res = wire.produce(c, produce_version, topic, 0, bad)
    # Kafka answers CORRUPT_MESSAGE or INVALID_RECORD here depending on version; either is the
    # protocol's word for "this batch is not valid", and nothing may be appended.
    assert res.error_code in (wire.CORRUPT_MESSAGE, wire.INVALID_RECORD), res
    assert watermarks(broker.bootstrap, topic) == (0, 0)


def test_truncated_batch_is_rejected(broker, healthy, produce_version):
    topic = create_topic(broker.bootstrap)
    good = wire.record_batch([Record(b"k", b"v" * 100)], now_ms())
    with connect(broker) as c:
        res = wire.produce(c, produce_version, topic, 0, good[:len(good) - 20])
    assert res.error_code in (wire.CORRUPT_MESSAGE, wire.INVALID_RECORD), res
    assert watermarks(broker.bootstrap, topic) == (0, 0)


def test_produce_to_missing_partition(broker, healthy, produce_version):
    topic = create_topic(broker.bootstrap, partitions=1)
    batch = wire.record_batch([Record(b"k", b"v")], now_ms())
    with connect(broker) as c:
        res = wire.produce(c, produce_version, topic, 7, batch)
        assert (res.partition, res.error_code) == (7, wire.UNKNOWN_TOPIC_OR_PARTITION), res
        # Same connection, existing partition: fine.
        ok = wire.produce(c, produce_version, topic, 0, batch)
        assert ok.error_code == wire.NONE, ok


def test_pipelined_requests_answered_in_order(broker, healthy, produce_version):
    topic = create_topic(broker.bootstrap)
    flexible = produce_version >= 9
    with connect(broker) as c:
        sent = []
        for i in range(12):
            if i % 3 == 0:
                body = wire.produce_body(produce_version, topic, 0,
                                         wire.record_batch([Record(None, f"p{i}".encode())],
                                                           now_ms()))
                sent.append(("produce", c.request(wire.PRODUCE, produce_version, body,
                                                  flexible=flexible)))
            else:
                sent.append(("versions", c.request(wire.API_VERSIONS, 0, b"")))
        for kind, corr in sent:
            data = c.read_frame()
            assert data is not None, f"closed before answering {kind} #{corr}"
            assert struct.unpack(">i", data[:4])[0] == corr, f"answers out of order at {corr}"
            if kind == "produce":
                (res,) = wire.parse_produce_response(produce_version, data, corr)
                assert res.error_code == wire.NONE, res
    assert watermarks(broker.bootstrap, topic) == (0, 4)
