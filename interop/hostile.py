"""Pieces for the hostile-input tests: crafted frames, compressed batches, memory sampling.

Everything here is built from the protocol description (kafka.apache.org/protocol) with the
primitive encoders of `wire.py`; nothing talks to a broker except through `RawConnection`.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
import zlib

import crc32c as _crc32c
import lz4.frame
import snappy
import zstandard

from wire import (TAGS_NONE, compact_string, i8, i16, i32, i64, string, u32, uvarint,
                  varint, request_header, frame)

# API keys of the crafted frames.
PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, JOIN_GROUP = 8, 9, 10, 11
SYNC_GROUP, CREATE_TOPICS = 14, 19

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

HUGE = 0x7FFFFFFF


# --- memory of a process -------------------------------------------------------------------

def status_kb(pid: int, field: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS: now, VmHWM: peak since start)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def rss_mb(pid: int) -> float:
    return status_kb(pid, "VmRSS") / 1024


def peak_rss_mb(pid: int) -> float:
    return status_kb(pid, "VmHWM") / 1024


class RssSampler:
    """Samples a process's RSS every few ms in a thread; `.max_mb` is the highest seen."""

    def __init__(self, pid: int, every: float = 0.005):
        self.pid, self.every = pid, every
        self.max_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.max_mb = max(self.max_mb, rss_mb(self.pid))
            except (OSError, KeyError):
                return
            time.sleep(self.every)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# --- frames whose counts lie ---------------------------------------------------------------
# Each is a complete request frame (length prefix included) whose first array claims far more
# elements than there are bytes: a decoder that sizes an allocation from the count before
# checking it against the frame asks for tens to hundreds of gigabytes.

def _req(api: int, version: int, body: bytes, flexible: bool = False) -> bytes:
    return frame(request_header(api, version, 1, flexible) + body)


def crash_frames() -> dict[str, bytes]:
    return {
        # The 32-byte frame: Metadata v1 with 0x7FFFFFFF topics.
        "metadata_v1": _req(METADATA, 1, i32(HUGE)),
        # Flexible: compact array length u32::MAX (= 0xFFFFFFFE elements).
        "metadata_v9_compact": _req(METADATA, 9, uvarint(0xFFFFFFFF), flexible=True),
        # One topic whose compact name claims almost 4 GiB.
        "metadata_v12_string": _req(METADATA, 12, uvarint(2) + b"\0" * 16
                                    + uvarint(0xFFFFFFF0), flexible=True),
        # Tagged fields: a count of 2^32-1 and a size past the end.
        "metadata_v12_tags": _req(METADATA, 12, uvarint(1) + b"\x01\x00" + uvarint(0xFFFFFFFF),
                                   flexible=True),
        "api_versions_v3_tag_size": _req(18, 3, compact_string("c") + compact_string("1")
                                         + uvarint(1) + uvarint(0) + uvarint(0x7FFFFFF0),
                                         flexible=True),
        "fetch_v4": _req(FETCH, 4, i32(-1) + i32(500) + i32(1) + i32(1 << 20) + i8(0) + i32(HUGE)),
        "fetch_v4_partitions": _req(FETCH, 4, i32(-1) + i32(500) + i32(1) + i32(1 << 20) + i8(0)
                                    + i32(1) + string("t") + i32(HUGE)),
        "list_offsets_v1": _req(LIST_OFFSETS, 1, i32(-1) + i32(HUGE)),
        "offset_fetch_v1": _req(OFFSET_FETCH, 1, string("g") + i32(HUGE)),
        "create_topics_v2": _req(CREATE_TOPICS, 2, i32(HUGE)),
        "join_group_v0": _req(JOIN_GROUP, 0, string("g") + i32(10000) + string("")
                              + string("consumer") + i32(HUGE)),
        "produce_v3": _req(PRODUCE, 3, string(None) + i16(1) + i32(1000) + i32(HUGE)),
        "produce_v3_partitions": _req(PRODUCE, 3, string(None) + i16(1) + i32(1000) + i32(1)
                                      + string("t") + i32(HUGE)),
        "offset_commit_v2": _req(OFFSET_COMMIT, 2, string("g") + i32(1) + string("m") + i64(-1)
                                 + i32(HUGE)),
        "sync_group_v0": _req(SYNC_GROUP, 0, string("g") + i32(1) + string("m") + i32(HUGE)),
    }


# --- record batches --------------------------------------------------------------------------

def encode_record(offset_delta: int, value: bytes | None, key: bytes | None = None) -> bytes:
    body = bytearray(b"\0")  # attributes
    body += varint(0)  # timestamp delta
    body += varint(offset_delta)
    for part in (key, value):
        body += varint(-1) if part is None else varint(len(part)) + part
    body += varint(0)  # no headers
    return varint(len(body)) + bytes(body)


def batch(records_section: bytes, count: int, codec: int = 0,
          last_offset_delta: int | None = None, base_timestamp: int | None = None) -> bytes:
    """A v2 batch around an already built (possibly compressed) records section."""
    ts = int(time.time() * 1000) if base_timestamp is None else base_timestamp
    lod = count - 1 if last_offset_delta is None else last_offset_delta
    after_crc = (i16(codec) + i32(lod) + i64(ts) + i64(ts) + i64(-1) + i16(-1) + i32(-1)
                 + i32(count) + records_section)
    after_len = i32(-1) + i8(2) + u32(_crc32c.crc32c(after_crc)) + after_crc
    return i64(0) + i32(len(after_len)) + after_len


def compress(codec: str, data: bytes) -> bytes:
    if codec == "gzip":
        return gzip.compress(data)
    if codec == "snappy":
        return snappy.compress(data)
    if codec == "lz4":
        return lz4.frame.compress(data)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    raise ValueError(codec)


def gzip_of_zeros(total: int, chunk: int = 1 << 20) -> bytes:
    """gzip of `total` zero bytes, built without holding them."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * chunk
    parts = [c.compress(zeros) for _ in range(total // chunk)]
    parts.append(c.flush())
    return b"".join(parts)


def zstd_of_records(count: int, value_size: int) -> tuple[bytes, int]:
    """zstd of `count` valid records with zero-filled values, streamed; (compressed, plain size)."""
    value = b"\0" * value_size
    tail = varint(-1) + varint(value_size) + value + varint(0)
    comp = zstandard.ZstdCompressor(level=3).compressobj()
    out, pending, plain = [], [], 0
    for i in range(count):
        body = b"\0\0" + varint(i) + tail
        pending.append(varint(len(body)) + body)
        if len(pending) == 4096:
            data = b"".join(pending)
            plain += len(data)
            out.append(comp.compress(data))
            pending = []
    data = b"".join(pending)
    plain += len(data)
    out.append(comp.compress(data))
    out.append(comp.flush())
    return b"".join(out), plain


# --- Fetch v4 (classic encoding) ----------------------------------------------------------

def fetch_v4(topic: str, partition: int, offset: int, max_bytes: int, partition_max: int,
             max_wait_ms: int = 0) -> bytes:
    return (i32(-1) + i32(max_wait_ms) + i32(1) + i32(max_bytes) + i8(0)
            + i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) + i32(partition_max))


__all__ = [name for name in dir() if not name.startswith("_")] + ["TAGS_NONE"]
