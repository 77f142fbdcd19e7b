#!/usr/bin/env python3
"""Many producer connections, each sending a trickle, against a real `strata server`.

Usage: bench/connections_many.py [STRATA_BIN] [CONNECTIONS] [SECONDS]
       (default target/release/strata, 10000 connections, 60 s)
Env:   INTERVAL=2.0 (seconds between one connection's requests), PARTITIONS=100,
       SIZE=100 (value bytes), ACKS=1, CONNECT_BATCH=250

Starts the broker on free loopback ports with a fresh data dir and the open-file limit
raised to the hard limit, creates topic `trickle`, opens CONNECTIONS connections (in
batches of CONNECT_BATCH), then for SECONDS each connection sends one Produce v3 request
(one batch of one record, to partition `connection % PARTITIONS`) every INTERVAL seconds,
starting at a random phase, and waits for its answer before the next. Latency is from
writing the request to reading the whole response, on the client's clock; the client is
one asyncio process, so its own CPU (printed) bounds what it can measure. Also prints
the broker's CPU per request (utime+stime from /proc, since the client shares the cores)
and RSS. Every response must carry error code 0; the acknowledged records must equal
the sum of the partitions' high-water marks at the end (checked with ListOffsets).
Prints a summary and one JSON line.
"""
import asyncio, json, os, random, resource, struct, subprocess, sys, tempfile, time

from benchlib import (cpu_secs as proc_cpu, list_offsets_latest_v1, offsets_sum_v1,
                      one_record_batch, produce_v3, produce_v3_error, rss_mb, start_broker)

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/strata"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
interval = float(os.environ.get("INTERVAL", "2.0"))
partitions = int(os.environ.get("PARTITIONS", "100"))
size = int(os.environ.get("SIZE", "100"))
acks = int(os.environ.get("ACKS", "1"))
connect_batch = int(os.environ.get("CONNECT_BATCH", "250"))
TOPIC = b"trickle"

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
if hard < count + 200:  # per process: the client's and the broker's (which inherits it)
    sys.exit(f"open file limit {hard} too low for {count} connections")


BATCH = one_record_batch(size)


def produce_request(correlation: int, partition: int) -> bytes:
    return produce_v3(correlation, b"trickle-bench", TOPIC, partition, BATCH, acks)


async def read_frame(reader) -> bytes:
    (n,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(n)


async def high_watermark_sum(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(list_offsets_latest_v1(1, b"trickle-bench", TOPIC, partitions))
    payload = await read_frame(reader)
    writer.close()
    return offsets_sum_v1(payload)


class Stats:
    def __init__(self):
        self.latencies = []
        self.errors = {}
        self.failures = []
        self.sent = 0


async def connect_all(port: int):
    conns = []
    for start in range(0, count, connect_batch):
        n = min(connect_batch, count - start)
        conns += await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", port) for _ in range(n)))
    return conns


async def trickle(i, reader, writer, stats: Stats, start: float, end: float):
    await asyncio.sleep(start + random.random() * interval - time.monotonic())
    correlation = 0
    next_send = time.monotonic()
    try:
        while next_send < end:
            correlation += 1
            request = produce_request(correlation, i % partitions)
            sent = time.perf_counter()
            writer.write(request)
            stats.sent += 1
            payload = await read_frame(reader)
            stats.latencies.append(time.perf_counter() - sent)
            (cid,) = struct.unpack_from(">i", payload, 0)
            assert cid == correlation, f"correlation {cid} != {correlation}"
            code = produce_v3_error(payload)
            if code:
                stats.errors[code] = stats.errors.get(code, 0) + 1
            next_send += interval
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))
    except Exception as e:  # a closed or broken connection is a failure, reported
        stats.failures.append(f"connection {i}: {e!r}")


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def run(port: int, pid: int) -> dict:
    t0 = time.monotonic()
    conns = await connect_all(port)
    connect_secs = time.monotonic() - t0
    await asyncio.sleep(1)
    rss_connected = rss_mb(pid)
    stats = Stats()
    cpu0, client0 = proc_cpu(pid), time.process_time()
    start = time.monotonic() + 0.5
    end = start + seconds
    await asyncio.gather(*(trickle(i, r, w, stats, start, end)
                           for i, (r, w) in enumerate(conns)))
    wall = time.monotonic() - start
    cpu, client_cpu = proc_cpu(pid) - cpu0, time.process_time() - client0
    acked = len(stats.latencies) - sum(stats.errors.values())
    hw_sum = await high_watermark_sum(port)
    for _, w in conns:
        w.close()
    lat = sorted(stats.latencies)
    ms = lambda v: None if v is None else round(v * 1000, 2)
    return {
        "connections": count, "seconds": seconds, "interval_s": interval,
        "partitions": partitions, "size": size, "acks": acks,
        "connect_secs": round(connect_secs, 2), "requests": len(lat),
        "requests_per_s": round(len(lat) / wall, 1),
        "p50_ms": ms(percentile(lat, 0.50)), "p99_ms": ms(percentile(lat, 0.99)),
        "p999_ms": ms(percentile(lat, 0.999)), "max_ms": ms(lat[-1] if lat else None),
        "errors": stats.errors, "failed_connections": len(stats.failures),
        "first_failure": stats.failures[0] if stats.failures else None,
        "broker_cpu_core_share": round(cpu / wall, 3),
        "broker_cpu_us_per_request": round(cpu / max(1, len(lat)) * 1e6, 1),
        "client_cpu_core_share": round(client_cpu / wall, 3),
        "broker_rss_mb_connected": round(rss_connected, 1),
        "broker_rss_mb_end": round(rss_mb(pid), 1),
        "acked_records": acked, "high_watermark_sum": hw_sum,
    }


def main():
    with tempfile.TemporaryDirectory() as data:
        broker, port = start_broker(binary, data)
        try:
            subprocess.run([binary, "topic", "create", TOPIC.decode(), "--partitions",
                            str(partitions), "-b", f"127.0.0.1:{port}"], check=True,
                           stdout=subprocess.DEVNULL)
            result = asyncio.run(run(port, broker.pid))
        finally:
            broker.terminate()
            broker.wait(60)
    failures = []
    if result["errors"]:
        failures.append(f"error responses {result['errors']}")
    if result["failed_connections"]:
        failures.append(f"{result['failed_connections']} connections failed: {result['first_failure']}")
    if result["high_watermark_sum"] < result["acked_records"]:
        failures.append(f"high-water marks {result['high_watermark_sum']} < acknowledged {result['acked_records']}")
    result["failures"] = failures
    print(f"{count} connections x one {size} B record every {interval} s for {seconds} s: "
          f"{result['requests']} requests ({result['requests_per_s']}/s), latency p50 "
          f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms, p99.9 {result['p999_ms']} ms, "
          f"max {result['max_ms']} ms; broker {result['broker_cpu_core_share']:.0%} of a core "
          f"({result['broker_cpu_us_per_request']} us/request), client "
          f"{result['client_cpu_core_share']:.0%} of a core; broker RSS "
          f"{result['broker_rss_mb_connected']} MB connected; connect {result['connect_secs']} s"
          + ("; FAILURES: " + "; ".join(failures) if failures else ""))
    print(json.dumps(result))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
