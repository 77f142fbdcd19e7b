"""Transactions v2 (KIP-890 part 2) across a three-node cluster, played with raw requests
as a client of `transaction.version` 2 does it (no Python client speaks it): the data
partition's leader is not the transaction coordinator, so Produce v12 adds its partition
through AddPartitionsToTxn v5 (not verify-only) over the inter-broker listener. EndTxn v5
bumps the epoch, a late write at the old epoch is fenced, and a read_committed consumer
sees exactly the committed records.
"""

from __future__ import annotations

import time
import uuid

import crc32c

import wire
from cluster import Cluster, cluster, wait_for  # noqa: F401 (fixture)
from test_cluster_transactions import coordinator, create, producer_states
from test_transactions import read_to_end, values

PRODUCE = 0
INIT_PRODUCER_ID = 22
END_TXN = 26
INVALID_PRODUCER_EPOCH = 47
RETRIABLE = {14, 15, 16, 51}  # load in progress, not available, not coordinator, concurrent


def txn_batch(pid: int, epoch: int, seq: int, value: bytes) -> bytes:
    """A one-record transactional batch v2 of (pid, epoch) at sequence `seq`."""
    rec = wire.encode_record(0, wire.Record(None, value))
    ts = int(time.time() * 1000)
    after_crc = (wire.i16(0x10)  # transactional
                 + wire.i32(0) + wire.i64(ts) + wire.i64(ts)
                 + wire.i64(pid) + wire.i16(epoch) + wire.i32(seq)
                 + wire.i32(1) + rec)
    after_len = wire.i32(-1) + wire.i8(2) + wire.u32(crc32c.crc32c(after_crc)) + after_crc
    return wire.i64(0) + wire.i32(len(after_len)) + after_len


def call(node, api: int, version: int, body: bytes) -> wire.Reader:
    with wire.RawConnection(node.host, node.port) as conn:
        corr = conn.request(api, version, body, flexible=True)
        data = conn.read_frame()
    assert data is not None, f"api {api}: connection closed"
    r = wire.Reader(data)
    assert r.i32() == corr
    r.skip_tags()
    return r


def init(node, tid: str) -> tuple[int, int]:
    body = (wire.compact_string(tid) + wire.i32(60_000) + wire.i64(-1) + wire.i16(-1)
            + wire.TAGS_NONE)
    for _ in range(200):
        r = call(node, INIT_PRODUCER_ID, 4, body)
        r.i32()
        err, pid, epoch = r.i16(), r.i64(), r.i16()
        if err == 0:
            return pid, epoch
        assert err in RETRIABLE, err
        time.sleep(0.05)
    raise AssertionError("InitProducerId kept failing")


def end(node, tid: str, pid: int, epoch: int, commit: bool) -> tuple[int, int, int]:
    """EndTxn v5: (error, producer id, epoch) to continue with, retried while retriable."""
    body = (wire.compact_string(tid) + wire.i64(pid) + wire.i16(epoch)
            + wire.i8(1 if commit else 0) + wire.TAGS_NONE)
    for _ in range(200):
        r = call(node, END_TXN, 5, body)
        r.i32()
        out = (r.i16(), r.i64(), r.i16())
        if out[0] not in RETRIABLE:
            return out
        time.sleep(0.05)
    raise AssertionError("EndTxn kept failing")


def produce(node, tid: str, topic: str, records: bytes) -> int:
    """Produce v12 of `records` to `topic`-0 as `tid`, acks=all; the error code."""
    body = (wire.compact_string(tid) + wire.i16(-1) + wire.i32(10_000)
            + wire.uvarint(2) + wire.compact_string(topic)
            + wire.uvarint(2) + wire.i32(0) + wire.compact_bytes(records) + wire.TAGS_NONE
            + wire.TAGS_NONE + wire.TAGS_NONE)
    with wire.RawConnection(node.host, node.port) as conn:
        corr = conn.request(PRODUCE, 12, body, flexible=True)
        data = conn.read_frame()
    assert data is not None, "Produce: connection closed"
    (result,) = wire.parse_produce_response(12, data, corr)
    return result.error_code


def test_v2_client_across_nodes(cluster: Cluster):
    c = cluster
    topic = create(c, "v2", 1)
    leader = c.partition(topic).leader
    # A transactional id coordinated by another node than the partition's leader.
    for _ in range(50):
        tid = f"v2-{uuid.uuid4().hex[:8]}"
        coord = coordinator(c, tid)
        if coord != leader:
            break
    else:
        raise AssertionError("every id landed on the partition's leader")
    cn, ln = c.node(coord), c.node(leader)
    pid, e = init(cn, tid)

    def ended_at(epoch: int):
        # The marker is in the partition: its producer is at `epoch`, nothing open.
        wait_for(lambda: (pid, epoch, -1) in producer_states(c, topic),
                 f"{topic}-0: marker of {pid} at epoch {epoch}")

    # Transaction 1: no AddPartitionsToTxn; the leader adds the partition remotely.
    assert produce(ln, tid, topic, txn_batch(pid, e, 0, b"a")) == 0
    assert produce(ln, tid, topic, txn_batch(pid, e, 1, b"b")) == 0
    assert end(cn, tid, pid, e, True) == (0, pid, e + 1)
    ended_at(e + 1)
    # A late write of transaction 1 is fenced; a retried EndTxn gets the same answer.
    assert produce(ln, tid, topic, txn_batch(pid, e, 2, b"late")) == INVALID_PRODUCER_EPOCH
    assert end(cn, tid, pid, e, True) == (0, pid, e + 1)

    # Transaction 2 at the new epoch, aborted; transaction 3 committed.
    assert produce(ln, tid, topic, txn_batch(pid, e + 1, 0, b"x")) == 0
    assert end(cn, tid, pid, e + 1, False) == (0, pid, e + 2)
    ended_at(e + 2)
    assert produce(ln, tid, topic, txn_batch(pid, e + 1, 1, b"late")) == INVALID_PRODUCER_EPOCH
    assert produce(ln, tid, topic, txn_batch(pid, e + 2, 0, b"d")) == 0
    assert end(cn, tid, pid, e + 2, True) == (0, pid, e + 3)
    ended_at(e + 3)

    assert values(read_to_end(c.bootstrap(), topic, "read_committed")) == [b"a", b"b", b"d"]
