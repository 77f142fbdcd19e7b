#!/usr/bin/env python3
"""Repros: requests that abort the broker process (found by the fuzz targets, confirmed
against the release binary). Each case starts a fresh broker, sends one thing, and checks
the broker is still running.

  metadata  An 18-byte Metadata v4 request whose topics array claims 2^31 - 1 entries
            (request_frame, minimized: fuzz/corpus/request_frame/regression-metadata-v4-
            array-count): kafka-protocol's Array decoder calls Vec::with_capacity(count)
            before reading an element ("memory allocation of 154618822584 bytes failed").
            Any array of any request does this; strata_proto::frame::decode_request runs it
            on every frame before authentication. (The wire-shape guard's job.)

A record batch whose header claims 2^31 - 1 records: kafka-protocol's RecordBatchDecoder
reserves `record_count` records up front (`Vec::reserve`, ~176 bytes each: "memory
allocation of 377957121872 bytes failed", the process aborts). client_fetched found that
decoder's OOM in strata-client; the broker's own calls of it give two ways in:

  prepare   Produce to a topic with cleanup.policy=compact or a compression.type other than
            `producer`: strata-broker/src/replica/prepare.rs decodes the payload with
            RecordBatchDecoder::decode_all BEFORE strata_proto::batch::validate runs.
  stored    Produce a gzip batch claiming 2^31 - 1 records (validate does not look inside
            compressed batches, so it is stored), then ListOffsets by timestamp:
            strata-log/src/read.rs first_record_at_or_after decodes it. The batch stays in
            the log, so every later ListOffsets by timestamp kills the broker again.

Usage (interop venv, release binary): .venv/bin/python fuzz/regressions/broker_aborts.py
Exit 0 when the broker survives every case.
"""

from __future__ import annotations

import gzip
import os
import pathlib
import struct
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "interop"))

import crc32c  # noqa: E402
import wire  # noqa: E402
from broker import Broker  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

ONE_RECORD = bytes([14, 0, 0, 0, 1, 2, ord("x"), 0])  # value "x", no key, no headers


def batch(count: int, attributes: int = 0, records: bytes = ONE_RECORD) -> bytes:
    after_crc = (wire.i16(attributes) + wire.i32(count - 1) + wire.i64(0) + wire.i64(0)
                 + wire.i64(-1) + wire.i16(-1) + wire.i32(-1) + wire.i32(count) + records)
    after_len = wire.i32(-1) + wire.i8(2) + wire.u32(crc32c.crc32c(after_crc)) + after_crc
    return wire.i64(0) + wire.i32(len(after_len)) + after_len


def case_metadata(b: Broker) -> None:
    with wire.RawConnection("127.0.0.1", b.port) as c:
        # key 3, version 4, correlation id 1, client id "", topics: 2^31 - 1 entries
        c.send_raw(wire.frame(struct.pack(">hhih", 3, 4, 1, 0) + struct.pack(">i", 0x7FFFFFFF)))
        c.wait_closed_or_frame(10)


def case_prepare(b: Broker, config: dict) -> None:
    admin = AdminClient({"bootstrap.servers": b.bootstrap})  # must outlive its futures
    admin.create_topics([NewTopic("t", 1, 1, config=config)])["t"].result(15)
    time.sleep(1)
    with wire.RawConnection("127.0.0.1", b.port) as c:
        c.request(wire.PRODUCE, 7, wire.produce_body(7, "t", 0, batch(0x7FFFFFFF)))
        c.wait_closed_or_frame(15)


def case_stored(b: Broker) -> None:
    with wire.RawConnection("127.0.0.1", b.port) as c:
        for _ in range(20):  # the topic is auto-created
            r = wire.produce(c, 7, "t", 0, batch(0x7FFFFFFF, 1, gzip.compress(ONE_RECORD)))
            if r.error_code == 0:
                break
            time.sleep(0.5)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "g"})
    try:
        c.offsets_for_times([TopicPartition("t", 0, 0)], timeout=10)
    except Exception:  # noqa: BLE001 - the broker may be gone
        pass
    finally:
        c.close()


def main() -> int:
    os.environ.setdefault("STRATA_BIN", str(ROOT / "target/release/strata"))
    cases = [("metadata: array count 2^31 - 1", case_metadata),
             ("prepare: compacted topic", lambda b: case_prepare(b, {"cleanup.policy": "compact"})),
             ("prepare: compression.type=gzip", lambda b: case_prepare(b, {"compression.type": "gzip"})),
             ("stored gzip batch + ListOffsets by time", case_stored)]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, run) in enumerate(cases):
            b = Broker(pathlib.Path(tmp) / str(i), "b")
            b.workdir.mkdir(parents=True)
            b.start()
            try:
                run(b)
                time.sleep(1)
                alive = b.running()
            finally:
                if b.running():
                    b.stop()
            print(f"{'ok  ' if alive else 'DIED'} {name}")
            if not alive:
                failed += 1
                print("     " + "\n     ".join(
                    l for l in b.log_tail(200).splitlines() if "memory allocation" in l))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
