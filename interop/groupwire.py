"""Hand-built consumer-group requests (classic, non-flexible versions) for the raw tests.

Written from the protocol description (kafka.apache.org/protocol). Versions used: JoinGroup v1,
SyncGroup v0, OffsetCommit v2, OffsetFetch v1, DescribeGroups v0 — all non-flexible, so the
plain encoders in wire.py suffice.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire import RawConnection, Reader, i16, i32, i64, nbytes, string

OFFSET_COMMIT = 8
OFFSET_FETCH = 9
JOIN_GROUP = 11
SYNC_GROUP = 14
DESCRIBE_GROUPS = 15

# Error codes asserted by the tests.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
ILLEGAL_GENERATION = 22


def _roundtrip(conn: RawConnection, api_key: int, version: int, body: bytes) -> Reader:
    corr = conn.request(api_key, version, body)
    data = conn.read_frame()
    if data is None:
        raise ConnectionError(f"broker closed the connection instead of answering api {api_key}")
    r = Reader(data)
    got = r.i32()
    if got != corr:
        raise ValueError(f"correlation id {got} != {corr}")
    return r


def consumer_metadata(topics: list[str]) -> bytes:
    """ConsumerProtocol subscription v0: version, topics, user data."""
    return i16(0) + i32(len(topics)) + b"".join(string(t) for t in topics) + nbytes(b"")


@dataclass
class JoinResult:
    error_code: int
    generation: int
    protocol: str | None
    leader: str | None
    member_id: str | None
    members: list[tuple[str, bytes]]


def join_group(conn: RawConnection, group: str, protocols: list[tuple[str, bytes]],
               member_id: str = "", session_ms: int = 10_000,
               rebalance_ms: int = 10_000) -> JoinResult:
    body = (string(group) + i32(session_ms) + i32(rebalance_ms) + string(member_id)
            + string("consumer") + i32(len(protocols))
            + b"".join(string(name) + nbytes(meta) for name, meta in protocols))
    r = _roundtrip(conn, JOIN_GROUP, 1, body)
    err, gen, proto, leader, me = r.i16(), r.i32(), r.string(), r.string(), r.string()
    members = []
    for _ in range(r.i32()):
        mid = r.string()
        n = r.i32()
        members.append((mid, r.take(n) if n >= 0 else b""))
    return JoinResult(err, gen, proto, leader, me, members)


def sync_group(conn: RawConnection, group: str, generation: int, member_id: str,
               assignments: list[tuple[str, bytes]]) -> tuple[int, bytes | None]:
    body = (string(group) + i32(generation) + string(member_id) + i32(len(assignments))
            + b"".join(string(m) + nbytes(a) for m, a in assignments))
    r = _roundtrip(conn, SYNC_GROUP, 0, body)
    err = r.i16()
    n = r.i32()
    return err, (r.take(n) if n >= 0 else None)


def offset_commit(conn: RawConnection, group: str, generation: int, member_id: str,
                  topic: str, partition: int, offset: int,
                  metadata: str | None = "") -> int:
    """OffsetCommit v2 for one partition; returns that partition's error code."""
    body = (string(group) + i32(generation) + string(member_id) + i64(-1)
            + i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) + string(metadata))
    r = _roundtrip(conn, OFFSET_COMMIT, 2, body)
    results = []
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            r.i32()
            results.append(r.i16())
    if len(results) != 1:
        raise ValueError(f"expected one partition result, got {results}")
    return results[0]


def offset_fetch(conn: RawConnection, group: str, topic: str,
                 partition: int) -> tuple[int, int, str | None]:
    """OffsetFetch v1 for one partition → (offset, metadata, error)."""
    body = string(group) + i32(1) + string(topic) + i32(1) + i32(partition)
    r = _roundtrip(conn, OFFSET_FETCH, 1, body)
    out = []
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            r.i32()
            off, meta, err = r.i64(), r.string(), r.i16()
            out.append((off, meta, err))
    if len(out) != 1:
        raise ValueError(f"expected one partition result, got {out}")
    return out[0]


@dataclass
class DescribedGroup:
    error_code: int
    group_id: str | None
    state: str | None
    protocol_type: str | None
    protocol: str | None
    members: list[tuple[str | None, bytes | None, bytes | None]]  # id, metadata, assignment


def describe_group(conn: RawConnection, group: str) -> DescribedGroup:
    r = _roundtrip(conn, DESCRIBE_GROUPS, 0, i32(1) + string(group))
    n = r.i32()
    if n != 1:
        raise ValueError(f"expected one group, got {n}")
    err, gid, state, ptype, proto = r.i16(), r.string(), r.string(), r.string(), r.string()
    members = []
    for _ in range(r.i32()):
        mid = r.string()
        r.string()  # client id
        r.string()  # client host
        ml = r.i32()
        meta = r.take(ml) if ml >= 0 else None
        al = r.i32()
        assignment = r.take(al) if al >= 0 else None
        members.append((mid, meta, assignment))
    return DescribedGroup(err, gid, state, ptype, proto, members)
