"""aiokafka (asyncio client) against strata."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from clients import create_topic

STEP = 20  # seconds allowed for any single client call


async def produce(bootstrap: str, topic: str, codec: str | None, n: int, partition: int = 0):
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, acks="all",
                         request_timeout_ms=15_000, linger_ms=10)
    await asyncio.wait_for(p.start(), STEP)
    try:
        metas = []
        # A burst of unawaited sends lets aiokafka batch them (and so compress several records
        # together), then one send_and_wait at the end.
        futs = [await asyncio.wait_for(
                    p.send(topic, key=f"k{i}".encode(), value=f"{codec}:{i}:".encode() * 10,
                           partition=partition, headers=[("i", str(i).encode())]), STEP)
                for i in range(n - 1)]
        for f in futs:
            metas.append(await asyncio.wait_for(f, STEP))
        metas.append(await asyncio.wait_for(
            p.send_and_wait(topic, key=b"last", value=b"last", partition=partition), STEP))
        return metas
    finally:
        await asyncio.wait_for(p.stop(), STEP)


async def read(bootstrap: str, tp: TopicPartition, count: int, seek_to: int | None = None,
               timeout: float = 30.0):
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         request_timeout_ms=15_000)
    await asyncio.wait_for(c.start(), STEP)
    try:
        c.assign([tp])
        if seek_to is None:
            await asyncio.wait_for(c.seek_to_beginning(tp), STEP)
        else:
            c.seek(tp, seek_to)
        out = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(out) < count and loop.time() < deadline:
            batch = await asyncio.wait_for(c.getmany(tp, timeout_ms=500), STEP)
            out.extend(batch.get(tp, []))
        assert len(out) >= count, f"read {len(out)} of {count} records from {tp}"
        end = await asyncio.wait_for(c.end_offsets([tp]), STEP)
        return out, end[tp]
    finally:
        await asyncio.wait_for(c.stop(), STEP)


@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_send_and_read_back_each_codec(broker, codec):
    topic = create_topic(broker.bootstrap)
    n = 150
    metas = asyncio.run(produce(broker.bootstrap, topic, codec, n))
    assert [m.offset for m in metas] == list(range(n))
    assert {m.partition for m in metas} == {0}

    tp = TopicPartition(topic, 0)
    got, end = asyncio.run(read(broker.bootstrap, tp, n))
    assert end == n
    assert [r.offset for r in got] == list(range(n))
    assert [r.key for r in got] == [f"k{i}".encode() for i in range(n - 1)] + [b"last"]
    assert [r.value for r in got] == [f"{codec}:{i}:".encode() * 10 for i in range(n - 1)] \
        + [b"last"]
    assert [list(r.headers) for r in got[:-1]] == [[("i", str(i).encode())] for i in range(n - 1)]


def test_seek_into_the_middle(broker):
    topic = create_topic(broker.bootstrap, partitions=2)
    asyncio.run(produce(broker.bootstrap, topic, "gzip", 60, partition=1))
    tp = TopicPartition(topic, 1)
    got, end = asyncio.run(read(broker.bootstrap, tp, 20, seek_to=40))
    assert end == 60
    assert [r.offset for r in got] == list(range(40, 60))
    assert got[0].value == b"gzip:40:" * 10
