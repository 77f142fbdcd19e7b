#!/usr/bin/env python3
"""Turns a capture (see capture.py, scenarios.py) into the fuzz targets' seed corpora
(standard library only).

    python3 fuzz/capture/corpus.py CAPTURE_DIR fuzz/corpus [--report]

Writes, one file per distinct input, named by content hash:
  request_frame/     every request frame, at most PER_KEY_VERSION per API key and version
  response_frame/    key (i16 BE) + version (i16 BE) + response frame, same cap
  record_batch/      mode byte 0x01 (fix CRCs) + one batch of a Produce payload, every codec
                     (and a few mode 0x00 copies, and whole multi-batch payloads)
  client_fetched/    from offset (i64 BE) + mode byte + batches as the broker stores and
                     serves them (from the captured data directories)
  segment_recovery/  partition directories of the captured brokers in the target's format
  controller_frame/  controller-port request payloads
Existing files in those directories are kept (hand-written regression inputs live there too).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import pathlib
import struct
import sys

PER_KEY_VERSION = 12
MAX_SEED = 64 * 1024
CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


class Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.d = data
        self.p = pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.p + n > len(self.d):
            raise ValueError("short read")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def i16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def i32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self) -> int:
        shift = v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
            if shift > 35:
                raise ValueError("varint too long")

    def string(self, flexible: bool) -> bytes | None:
        n = self.uvarint() - 1 if flexible else self.i16()
        return None if n < 0 else self.take(n)

    def nbytes(self, flexible: bool) -> bytes | None:
        n = self.uvarint() - 1 if flexible else self.i32()
        return None if n < 0 else self.take(n)

    def array_len(self, flexible: bool) -> int:
        return self.uvarint() - 1 if flexible else self.i32()

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def produce_records(frame: bytes) -> list[bytes]:
    """The records field of every partition of a Produce (v3+) request frame."""
    r = Reader(frame)
    key, version = r.i16(), r.i16()
    if key != 0 or version < 3:
        return []
    flexible = version >= 9
    r.i32()  # correlation id
    r.string(False)  # client id: always a classic string
    if flexible:
        r.tags()
    r.string(flexible)  # transactional id
    r.i16()  # acks
    r.i32()  # timeout
    out = []
    for _ in range(r.array_len(flexible)):
        r.string(flexible)
        for _ in range(r.array_len(flexible)):
            r.i32()
            records = r.nbytes(flexible)
            if records:
                out.append(records)
            if flexible:
                r.tags()
        if flexible:
            r.tags()
    return out


def split_batches(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while len(data) - pos >= 61:
        (length,) = struct.unpack(">i", data[pos + 8:pos + 12])
        end = pos + 12 + length
        if length < 49 or end > len(data):
            break
        out.append(data[pos:end])
        pos = end
    return out


class Writer:
    def __init__(self, root: pathlib.Path):
        self.root = root
        self.counts: collections.Counter = collections.Counter()
        self.bytes: collections.Counter = collections.Counter()

    def put(self, target: str, data: bytes) -> None:
        d = self.root / target
        d.mkdir(parents=True, exist_ok=True)
        path = d / hashlib.sha1(data).hexdigest()
        if path.exists():
            return
        path.write_bytes(data)
        self.counts[target] += 1
        self.bytes[target] += len(data)


def pick(files: list[pathlib.Path], n: int) -> list[pathlib.Path]:
    """Up to n files spread over the size range (small ones first)."""
    files = sorted(files, key=lambda p: (p.stat().st_size, p.name))
    if len(files) <= n:
        return files
    step = (len(files) - 1) / (n - 1)
    return [files[round(i * step)] for i in range(n)]


def kafka_frames(cap: pathlib.Path, w: Writer, seen_keys: set) -> None:
    for d in sorted((cap / "kafka" / "requests").glob("*_*")):
        key, version = map(int, d.name.split("_"))
        files = [p for p in d.glob("*.bin") if p.stat().st_size <= MAX_SEED]
        for p in pick(files, PER_KEY_VERSION):
            w.put("request_frame", p.read_bytes())
            seen_keys.add(key)
        # Every Produce payload, whatever the cap: each codec's batches matter.
        if key == 0:
            for p in d.glob("*.bin"):
                for records in produce_records(p.read_bytes()):
                    batches = split_batches(records)
                    if len(batches) > 1 and len(records) <= MAX_SEED:
                        w.put("record_batch", b"\x01" + records)
                    for b in batches:
                        if len(b) <= MAX_SEED:
                            w.put("record_batch", b"\x01" + b)
    for d in sorted((cap / "kafka" / "responses").glob("*_*")):
        key, version = map(int, d.name.split("_"))
        files = [p for p in d.glob("*.bin") if p.stat().st_size <= MAX_SEED]
        for p in pick(files, PER_KEY_VERSION):
            w.put("response_frame", struct.pack(">hh", key, version) + p.read_bytes())


def raft_frames(cap: pathlib.Path, w: Writer) -> None:
    by_kind: dict[str, list[pathlib.Path]] = collections.defaultdict(list)
    for p in (cap / "raft" / "raft-requests").glob("*.bin"):
        head = p.read_bytes()[:40]
        kind = head.split(b'"')[1].decode() if head.startswith(b'{"') else "other"
        by_kind[kind].append(p)
    for kind, files in sorted(by_kind.items()):
        for p in pick([f for f in files if f.stat().st_size <= MAX_SEED], 16):
            w.put("controller_frame", p.read_bytes())


def chunk(kind: int, data: bytes) -> bytes:
    data = data[:0xFFFF]
    return bytes([kind]) + struct.pack(">H", len(data)) + data


def cut_at_batch(data: bytes, limit: int) -> bytes:
    """The longest prefix of whole batches within `limit` bytes."""
    pos = 0
    for b in split_batches(data):
        if pos + len(b) > limit:
            break
        pos += len(b)
    return data[:pos] if pos else data[:limit]


SEGMENT_KINDS = {"index": 1, "timeindex": 2}
OTHER_KINDS = {"recovery-point-offset-checkpoint": 3, "log-start-offset": 4,
               "cleaner-offset-checkpoint": 5, "leader-epoch-checkpoint": 6,
               "producer-state.snapshot": 7}


def partition_dirs(cap: pathlib.Path) -> list[pathlib.Path]:
    """Partition directories holding data (not the Raft log under __cluster_metadata)."""
    return sorted({p.parent for p in (cap / "data").rglob("*.log")
                   if p.stat().st_size > 0 and "__cluster_metadata" not in p.parts})


def segment_seeds(cap: pathlib.Path, w: Writer) -> None:
    for d in partition_dirs(cap):
        logs = sorted(d.glob("*.log"))
        body = b""
        for log in logs[:4]:
            data = cut_at_batch(log.read_bytes(), 0xFFFF)
            if not data:
                continue
            body += chunk(0, data)
            for ext, kind in SEGMENT_KINDS.items():
                f = log.with_suffix("." + ext)
                if f.exists():
                    body += chunk(kind, f.read_bytes())
        if not body:
            continue
        others = b"".join(chunk(kind, (d / n).read_bytes())
                          for n, kind in OTHER_KINDS.items() if (d / n).exists())
        # Flags (see fuzz_targets/segment_recovery.rs): unclean open of the files as they
        # are, with their checkpoints, then append / close / reopen; without checkpoints
        # (every segment scanned, CRCs checked) with CRC and offset fix-up (identity on
        # good data, keeps mutations valid), with and without the reopen; trusted (clean)
        # open with the checkpoints.
        w.put("segment_recovery", b"\x08\x0c" + body + others)
        w.put("segment_recovery", b"\x0b\x06" + body)
        w.put("segment_recovery", b"\x03\x0c" + body)
        w.put("segment_recovery", b"\x04\x0c" + body + others)


def fetched_seeds(cap: pathlib.Path, w: Writer) -> None:
    for d in partition_dirs(cap):
        for log in sorted(d.glob("*.log"))[:2]:
            data = log.read_bytes()
            batches = split_batches(data)
            if not batches:
                continue
            first = struct.unpack(">q", batches[0][:8])[0]
            whole = cut_at_batch(data, 16 * 1024)
            w.put("client_fetched", struct.pack(">q", first) + b"\x01" + whole)
            # A fetch offset inside the data and a tail cut short, as a max_bytes cut does.
            mid = struct.unpack(">q", batches[len(batches) // 2][:8])[0]
            w.put("client_fetched", struct.pack(">q", mid) + b"\x00" + whole[:-7])
            seen = set()
            for b in batches:
                codec = struct.unpack(">h", b[21:23])[0] & 7
                if codec in seen:
                    continue
                seen.add(codec)
                w.put("client_fetched", struct.pack(">q", first) + b"\x01" + b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture", type=pathlib.Path)
    ap.add_argument("corpus", type=pathlib.Path)
    args = ap.parse_args()
    w = Writer(args.corpus)
    seen_keys: set = set()
    kafka_frames(args.capture, w, seen_keys)
    raft_frames(args.capture, w)
    segment_seeds(args.capture, w)
    fetched_seeds(args.capture, w)
    for target in sorted(w.counts):
        print(f"{target}: {w.counts[target]} new files, {w.bytes[target]} bytes")
    codecs = collections.Counter()
    for p in (args.corpus / "record_batch").glob("*"):
        data = p.read_bytes()
        if len(data) > 62:
            codecs[CODEC_NAMES.get(struct.unpack(">h", data[22:24])[0] & 7, "?")] += 1
    print("record_batch seeds per codec:", dict(codecs))
    print("request API keys captured:", sorted(seen_keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
