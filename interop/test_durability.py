"""Acknowledged data survives kill -9, and recovery copes with a torn or corrupt log tail."""

from __future__ import annotations

import pathlib

import pytest

from clients import (admin, consume, create_topic, produce_all, producer, watermarks)
from wire import scan_batches


def numbered(start: int, n: int) -> list[tuple[bytes, bytes, dict]]:
    return [(f"k{i}".encode(), f"record-{i:06d}".encode(), {"partition": 0})
            for i in range(start, start + n)]


def produce_rounds(bootstrap: str, topic: str, rounds: int, per_round: int) -> int:
    """acks=all, every delivery report awaited; several flushes so the log has many batches."""
    p = producer(bootstrap, acks="all", **{"linger.ms": 2})
    total = 0
    for r in range(rounds):
        delivered = produce_all(p, topic, numbered(total, per_round))
        assert [m.offset() for m in delivered] == list(range(total, total + per_round))
        total += per_round
    return total


def assert_prefix(bootstrap: str, topic: str, count: int) -> None:
    """The partition holds exactly records 0..count-1, byte for byte, in order."""
    assert watermarks(bootstrap, topic) == (0, count)
    if count:
        got = consume(bootstrap, topic, 0, count)
        want = numbered(0, count)
        assert [m.offset() for m in got] == list(range(count))
        assert [(m.key(), m.value()) for m in got] == [(k, v) for k, v, _ in want]


def last_segment(data_dir: pathlib.Path, topic: str) -> pathlib.Path:
    segs = sorted(data_dir.rglob(f"{topic}-0/*.log"))
    assert segs, f"no {topic}-0/*.log segment under {data_dir}: " \
                 f"{sorted(str(p) for p in data_dir.rglob('*'))[:50]}"
    # Segment names are 20-digit base offsets, so name order is offset order.
    return segs[-1]


def test_kill9_keeps_every_acknowledged_record(broker_factory):
    b = broker_factory("kill9")
    topic = create_topic(b.bootstrap)
    other = create_topic(b.bootstrap, partitions=3)
    n = produce_rounds(b.bootstrap, topic, rounds=20, per_round=150)

    b.kill()
    b.restart()

    md = admin(b.bootstrap).list_topics(timeout=15)
    assert len(md.topics[topic].partitions) == 1
    assert len(md.topics[other].partitions) == 3, "topic metadata lost across kill -9"
    assert_prefix(b.bootstrap, topic, n)

    # And it keeps going where it left off.
    delivered = produce_all(producer(b.bootstrap, acks="all"), topic, numbered(n, 10))
    assert [m.offset() for m in delivered] == list(range(n, n + 10))
    assert_prefix(b.bootstrap, topic, n + 10)

    # A second crash right after restart loses nothing either.
    b.kill()
    b.restart()
    assert_prefix(b.bootstrap, topic, n + 10)


@pytest.mark.parametrize("damage", ["truncate-mid-batch", "flip-byte-in-last-batch",
                                    "torn-batch-header"])
def test_recovery_from_damaged_tail(broker_factory, damage):
    b = broker_factory(f"tail-{damage}")
    topic = create_topic(b.bootstrap)
    n = produce_rounds(b.bootstrap, topic, rounds=12, per_round=40)
    b.kill()

    seg = last_segment(b.data_dir, topic)
    data = seg.read_bytes()
    batches = scan_batches(data)
    assert batches, f"{seg} holds no record batch v2 ({len(data)} bytes)"
    valid_end = batches[-1].position + batches[-1].length
    assert batches[-1].base_offset + batches[-1].record_count == n, \
        f"last batch in {seg} does not end at offset {n}: {batches[-1]}"
    last = batches[-1]

    if damage == "truncate-mid-batch":
        # A write torn half way through the last batch.
        with open(seg, "r+b") as f:
            f.truncate(last.position + last.length // 2)
        survivors = last.base_offset
    elif damage == "flip-byte-in-last-batch":
        # Bit rot inside the last batch's records: its CRC no longer matches.
        buf = bytearray(data[:valid_end])
        buf[last.position + last.length - 3] ^= 0xFF
        seg.write_bytes(bytes(buf))
        survivors = last.base_offset
    else:
        # The next batch's header was only partly written.
        with open(seg, "ab") as f:
            f.write(b"\x00\x00\x00\x00\x00\x00\x00")
        survivors = n

    b.restart()
    assert_prefix(b.bootstrap, topic, survivors)

    # Accepts writes at the next offset, and they read back.
    delivered = produce_all(producer(b.bootstrap, acks="all"), topic,
                            numbered(survivors, 5))
    assert [m.offset() for m in delivered] == list(range(survivors, survivors + 5))
    assert_prefix(b.bootstrap, topic, survivors + 5)

    # The repaired log survives a clean restart too.
    assert b.stop() == 0
    b.restart()
    assert_prefix(b.bootstrap, topic, survivors + 5)


def test_a_second_server_on_a_data_dir_in_use_exits_naming_it(broker_factory):
    """Two processes on one data dir would both accept writes and lose acknowledged ones."""
    import subprocess
    from broker import free_port, strata_bin

    b = broker_factory("locked")
    topic = create_topic(b.bootstrap)
    second = subprocess.run(
        [str(strata_bin()), "server", "--data-dir", str(b.data_dir),
         "--listen", f"127.0.0.1:{free_port()}", "--http", f"127.0.0.1:{free_port()}",
         "--registry", "off"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert second.returncode != 0
    assert str(b.data_dir) in second.stderr, second.stderr
    assert f"pid={b.proc.pid}" in second.stderr, second.stderr
    b.assert_alive()
    n = produce_rounds(b.bootstrap, topic, rounds=2, per_round=50)
    b.stop()
    b.restart()
    assert_prefix(b.bootstrap, topic, n)
