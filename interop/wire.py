"""Hand-built Kafka wire protocol pieces for the raw-socket tests.

Written from the protocol description (kafka.apache.org/protocol): request framing, a few
request bodies, record batch v2 encoding with CRC-32C, and the Java client's murmur2
partitioner. Nothing here talks to a broker by itself except `RawConnection`.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

import crc32c as _crc32c

# API keys used below.
PRODUCE = 0
METADATA = 3
API_VERSIONS = 18

# Error codes asserted by the tests.
NONE = 0
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35
INVALID_RECORD = 87


# --- primitive encoders ---------------------------------------------------------------------

def i8(v: int) -> bytes:
    return struct.pack(">b", v)


def i16(v: int) -> bytes:
    return struct.pack(">h", v)


def i32(v: int) -> bytes:
    return struct.pack(">i", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


def i64(v: int) -> bytes:
    return struct.pack(">q", v)


def string(s: str | None) -> bytes:
    """Classic (non-flexible) nullable string: int16 length, -1 for null."""
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def nbytes(b: bytes | None) -> bytes:
    """Classic nullable bytes: int32 length, -1 for null."""
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def uvarint(v: int) -> bytes:
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint(v: int) -> bytes:
    """Zig-zag signed varint (32 or 64 bit; Python ints make the two the same)."""
    return uvarint((v << 1) ^ (v >> 63))


def compact_string(s: str | None) -> bytes:
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def compact_bytes(b: bytes | None) -> bytes:
    if b is None:
        return uvarint(0)
    return uvarint(len(b) + 1) + b


TAGS_NONE = uvarint(0)


# --- primitive decoder ----------------------------------------------------------------------

class Reader:
    """Cursor over a response body; raises ValueError on short input."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"short read: want {n} at {self.pos}, have {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def i32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def i64(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self) -> int:
        shift = 0
        out = 0
        while True:
            b = self.take(1)[0]
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7

    def string(self) -> str | None:
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self) -> str | None:
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


# --- framing --------------------------------------------------------------------------------

def request_header(api_key: int, version: int, correlation_id: int, flexible: bool,
                   client_id: str = "strata-interop") -> bytes:
    """Request header v1 (classic) or v2 (flexible: v1 + empty tagged fields)."""
    h = i16(api_key) + i16(version) + i32(correlation_id) + string(client_id)
    return h + TAGS_NONE if flexible else h


def frame(payload: bytes) -> bytes:
    return i32(len(payload)) + payload


class RawConnection:
    """A blocking TCP connection that speaks framed Kafka requests; every read has a deadline."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.next_corr = 1

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, api_key: int, version: int, body: bytes, flexible: bool = False) -> int:
        corr = self.next_corr
        self.next_corr += 1
        self.send_raw(frame(request_header(api_key, version, corr, flexible) + body))
        return corr

    def recv_exact(self, n: int) -> bytes | None:
        """n bytes, or None if the peer closed first. Raises socket.timeout on a hung peer."""
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def read_frame(self) -> bytes | None:
        """The next response frame's payload (header included), or None on EOF."""
        head = self.recv_exact(4)
        if head is None:
            return None
        (n,) = struct.unpack(">i", head)
        if n < 4 or n > 64 * 1024 * 1024:
            raise ValueError(f"broker sent an absurd frame length {n}")
        return self.recv_exact(n)

    def wait_closed_or_frame(self, timeout: float) -> bytes | None:
        """Wait for either a response frame or EOF; a silent peer is a test failure (timeout)."""
        self.sock.settimeout(timeout)
        try:
            return self.read_frame()
        finally:
            self.sock.settimeout(self.timeout)

    def is_closed_by_peer(self, timeout: float) -> bool:
        """True if the broker closes the connection within `timeout` (any bytes first are drained)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return True
            except socket.timeout:
                return False
            if not chunk:
                return True
        return False


# --- API bodies -----------------------------------------------------------------------------

@dataclass
class ApiVersionRange:
    api_key: int
    min_version: int
    max_version: int


def api_versions(conn: RawConnection) -> dict[int, ApiVersionRange]:
    """ApiVersions v0 (every broker answers it) → {api_key: range}."""
    corr = conn.request(API_VERSIONS, 0, b"")
    data = conn.read_frame()
    if data is None:
        raise ConnectionError("broker closed the connection on ApiVersions v0")
    r = Reader(data)
    got = r.i32()
    if got != corr:
        raise ValueError(f"correlation id {got} != {corr}")
    err = r.i16()
    if err != NONE:
        raise ValueError(f"ApiVersions v0 error {err}")
    out = {}
    for _ in range(r.i32()):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        out[k] = ApiVersionRange(k, lo, hi)
    return out


def parse_api_versions_error(data: bytes, corr: int) -> tuple[int, dict[int, ApiVersionRange]]:
    """Parse an ApiVersions response in v0 layout (what a broker sends for an unsupported version)."""
    r = Reader(data)
    got = r.i32()
    if got != corr:
        raise ValueError(f"correlation id {got} != {corr}")
    err = r.i16()
    out = {}
    for _ in range(r.i32()):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        out[k] = ApiVersionRange(k, lo, hi)
    return err, out


def pick_produce_version(versions: dict[int, ApiVersionRange]) -> int:
    """Highest Produce version we can encode (3..12; 13 switches to topic ids)."""
    rng = versions.get(PRODUCE)
    if rng is None:
        raise ValueError("broker does not advertise Produce")
    best = min(rng.max_version, 12)
    if best < max(rng.min_version, 3):
        raise ValueError(f"no Produce version in 3..12 within {rng}")
    return best


def produce_body(version: int, topic: str, partition: int, records: bytes | None,
                 acks: int = -1, timeout_ms: int = 10_000) -> bytes:
    if version >= 9:
        return (compact_string(None) + i16(acks) + i32(timeout_ms)
                + uvarint(2) + compact_string(topic)
                + uvarint(2) + i32(partition) + compact_bytes(records) + TAGS_NONE
                + TAGS_NONE + TAGS_NONE)
    return (string(None) + i16(acks) + i32(timeout_ms)
            + i32(1) + string(topic)
            + i32(1) + i32(partition) + nbytes(records))


@dataclass
class PartitionProduceResult:
    topic: str
    partition: int
    error_code: int
    base_offset: int
    error_message: str | None = None


def parse_produce_response(version: int, data: bytes, corr: int) -> list[PartitionProduceResult]:
    flexible = version >= 9
    r = Reader(data)
    got = r.i32()
    if got != corr:
        raise ValueError(f"correlation id {got} != {corr}")
    if flexible:
        r.skip_tags()
    out = []
    n_topics = r.uvarint() - 1 if flexible else r.i32()
    for _ in range(n_topics):
        name = r.compact_string() if flexible else r.string()
        n_parts = r.uvarint() - 1 if flexible else r.i32()
        for _ in range(n_parts):
            idx, err, base = r.i32(), r.i16(), r.i64()
            r.i64()  # log_append_time_ms
            if version >= 5:
                r.i64()  # log_start_offset
            if version >= 8:
                n_errs = r.uvarint() - 1 if flexible else r.i32()
                for _ in range(n_errs):
                    r.i32()
                    if flexible:
                        r.compact_string()
                        r.skip_tags()
                    else:
                        r.string()
                message = r.compact_string() if flexible else r.string()
            else:
                message = None
            if flexible:
                r.skip_tags()
            out.append(PartitionProduceResult(name, idx, err, base, message))
        if flexible:
            r.skip_tags()
    return out


def produce(conn: RawConnection, version: int, topic: str, partition: int,
            records: bytes | None, acks: int = -1) -> PartitionProduceResult:
    """Send one Produce request and return the single partition result."""
    corr = conn.request(PRODUCE, version, produce_body(version, topic, partition, records, acks),
                        flexible=version >= 9)
    data = conn.read_frame()
    if data is None:
        raise ConnectionError("broker closed the connection instead of answering Produce")
    results = parse_produce_response(version, data, corr)
    if len(results) != 1:
        raise ValueError(f"expected one partition result, got {results}")
    return results[0]


# --- record batch v2 ------------------------------------------------------------------------

@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    timestamp_delta: int = 0


def encode_record(offset_delta: int, rec: Record) -> bytes:
    body = bytearray()
    body += i8(0)  # record attributes (unused)
    body += varint(rec.timestamp_delta)
    body += varint(offset_delta)
    for part in (rec.key, rec.value):
        if part is None:
            body += varint(-1)
        else:
            body += varint(len(part)) + part
    body += varint(len(rec.headers))
    for hk, hv in rec.headers:
        kb = hk.encode()
        body += varint(len(kb)) + kb
        body += varint(-1) if hv is None else varint(len(hv)) + hv
    return varint(len(body)) + bytes(body)


def record_batch(records: list[Record], base_timestamp: int, magic: int = 2,
                 crc_override: int | None = None) -> bytes:
    """An uncompressed record batch v2 with base offset 0, as a producer sends it.

    `crc_override` replaces the computed CRC-32C (for the corrupt-CRC test); `magic` lets a
    test send a batch whose magic byte is not 2.
    """
    recs = b"".join(encode_record(i, r) for i, r in enumerate(records))
    max_ts = base_timestamp + max((r.timestamp_delta for r in records), default=0)
    # Everything the CRC covers: from attributes to the end of the batch.
    after_crc = (i16(0)  # attributes: no compression, create time, not transactional
                 + i32(len(records) - 1)  # last offset delta
                 + i64(base_timestamp) + i64(max_ts)
                 + i64(-1) + i16(-1) + i32(-1)  # producer id, epoch, base sequence
                 + i32(len(records)) + recs)
    crc = _crc32c.crc32c(after_crc) if crc_override is None else crc_override
    after_len = i32(-1) + i8(magic) + u32(crc) + after_crc  # partition leader epoch first
    return i64(0) + i32(len(after_len)) + after_len


@dataclass
class BatchHeader:
    position: int
    base_offset: int
    length: int  # total bytes including the 12-byte offset+length prefix
    magic: int
    record_count: int


def scan_batches(data: bytes) -> list[BatchHeader]:
    """Walk the record batches in a .log segment's bytes; stops at the first incomplete one."""
    out = []
    pos = 0
    while pos + 61 <= len(data):
        base, blen = struct.unpack_from(">qi", data, pos)
        if blen <= 0 or pos + 12 + blen > len(data):
            break
        magic = data[pos + 16]
        last_delta = struct.unpack_from(">i", data, pos + 23)[0]
        out.append(BatchHeader(pos, base, 12 + blen, magic, last_delta + 1))
        pos += 12 + blen
    return out


# --- the Java client's default partitioner --------------------------------------------------

def murmur2(data: bytes) -> int:
    """32-bit MurmurHash2 with Kafka's seed, as a signed int like Java's."""
    m = 0x5BD1E995
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        k = struct.unpack_from("<I", data, i * 4)[0]
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = data[n4 * 4:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, num_partitions: int) -> int:
    """The partition Java's default partitioner (and librdkafka's murmur2) picks for a key."""
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions
