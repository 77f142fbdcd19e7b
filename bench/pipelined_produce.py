#!/usr/bin/env python3
"""Broker CPU per Produce request when one connection pipelines small requests.

Usage: bench/pipelined_produce.py BIN_A [BIN_B] [ROUNDS]     (default 3 rounds)
Env:   REQUESTS=100000, WINDOW=32 (requests in flight), PARTITIONS=1 (round robin),
       SIZE=100 (value bytes of the one record per request), ACKS=1

Per round and build (alternating A and B, so the machine's noise falls on both): a
fresh broker and data dir, topic `pipe` created with the CLI, then one raw connection
sends REQUESTS Produce v3 requests (one batch of one record each, to partition
`i % PARTITIONS`), keeping WINDOW of them unanswered, and reads every answer. Prints the
requests per second and the broker's CPU per request (utime + stime from /proc: the
client shares the cores); every answer must carry error code 0 and the partitions'
high-water marks must add up to REQUESTS. Ends with the median of each build.
"""
import os, socket, statistics, struct, subprocess, sys, tempfile, time

from benchlib import (cpu_secs, list_offsets_latest_v1, offsets_sum_v1, one_record_batch,
                      produce_v3, produce_v3_error, start_broker)

bins = [a for a in sys.argv[1:] if not a.isdigit()]
rounds = int(next((a for a in sys.argv[1:] if a.isdigit()), "3"))
requests = int(os.environ.get("REQUESTS", "100000"))
window = int(os.environ.get("WINDOW", "32"))
partitions = int(os.environ.get("PARTITIONS", "1"))
size = int(os.environ.get("SIZE", "100"))
acks = int(os.environ.get("ACKS", "1"))
TOPIC = b"pipe"


def high_watermark_sum(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(list_offsets_latest_v1(0, b"pipe-bench", TOPIC, partitions))
        (n,) = struct.unpack(">i", recv_exact(s, 4))
        return offsets_sum_v1(recv_exact(s, n))


def recv_exact(s: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            sys.exit("connection closed")
        out += chunk
    return bytes(out)


def one_run(binary: str) -> tuple[float, float]:
    batch = one_record_batch(size)
    frames = [produce_v3(i + 1, b"pipe-bench", TOPIC, i % partitions, batch, acks)
              for i in range(requests)]
    with tempfile.TemporaryDirectory() as data:
        broker, port = start_broker(binary, data)
        try:
            subprocess.run([binary, "topic", "create", TOPIC.decode(), "--partitions",
                            str(partitions), "-b", f"127.0.0.1:{port}"], check=True,
                           stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            sock = socket.create_connection(("127.0.0.1", port))
            c0, t0 = cpu_secs(broker.pid), time.monotonic()
            sent = answered = 0
            buf = bytearray()
            while answered < requests:
                if sent < requests and sent - answered < window:
                    upto = min(requests, answered + window)
                    sock.sendall(b"".join(frames[sent:upto]))
                    sent = upto
                chunk = sock.recv(1 << 20)
                if not chunk:
                    sys.exit("connection closed by the broker")
                buf += chunk
                while len(buf) >= 4:
                    (n,) = struct.unpack_from(">i", buf)
                    if len(buf) < 4 + n:
                        break
                    if (err := produce_v3_error(bytes(buf[4:4 + n]))) != 0:
                        sys.exit(f"Produce answered error {err}")
                    del buf[:4 + n]
                    answered += 1
            t1, c1 = time.monotonic(), cpu_secs(broker.pid)
            sock.close()
            total = high_watermark_sum(port)
            if total != requests:
                sys.exit(f"high-water marks add up to {total}, not {requests}")
        finally:
            broker.terminate()
            broker.wait(60)
    return requests / (t1 - t0), (c1 - c0) * 1e6 / requests


def main():
    results = {b: [] for b in bins}
    for r in range(rounds):
        for b in bins:
            rate, us = one_run(b)
            results[b].append((rate, us))
            print(f"round {r + 1} {b}: {rate:,.0f} requests/s, broker {us:.1f} us/request",
                  flush=True)
    for b, rs in results.items():
        print(f"{b}: median {statistics.median(r for r, _ in rs):,.0f} requests/s, broker "
              f"{statistics.median(u for _, u in rs):.1f} us/request "
              f"(range {min(u for _, u in rs):.1f}-{max(u for _, u in rs):.1f}, "
              f"{len(rs)} runs; {requests} requests, window {window}, "
              f"{partitions} partitions, {size} B)")


if __name__ == "__main__":
    main()
