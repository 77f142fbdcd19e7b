#!/usr/bin/env python3
"""Broker memory under large concurrent fetches.

Starts a release `strata server` on a fresh data dir, fills one partition with ~400 MB
(`strata bench produce`), then opens eight connections that each send one raw Fetch v12
asking for 2 GiB (`max_bytes` and `partition_max_bytes`) from offset 0 and do not read
for a while, then read slowly. Broker RSS (VmRSS of /proc/<pid>/status) is sampled all
along; the peak is printed as one line, and the exit status is 1 when it passes
--bound-mb (300 by default).

    bench/fetch_rss.py [--bin target/release/strata] [--mb 400] [--set key=value ...]

Standard library only. A safety ceiling (--kill-mb, default 6000) stops the broker if
its RSS gets there, so an unbounded broker cannot take a shared machine down.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, rss_mb

ROOT = pathlib.Path(__file__).resolve().parent.parent


def uvarint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def fetch_v12(correlation_id: int, topic: str, max_bytes: int) -> bytes:
    """A flexible Fetch v12 request for partition 0 of `topic` from offset 0."""
    name = topic.encode()
    header = struct.pack(">hhi", 1, 12, correlation_id) + struct.pack(">h", 3) + b"rss" + b"\x00"
    body = struct.pack(">iiii", -1, 5000, 1, max_bytes)  # replica, max_wait, min_bytes, max_bytes
    body += struct.pack(">bii", 0, 0, -1)  # isolation, session id, session epoch
    body += uvarint(2) + uvarint(len(name) + 1) + name  # one topic
    body += uvarint(2)  # one partition
    body += struct.pack(">iiqiqi", 0, -1, 0, -1, -1, max_bytes)
    body += b"\x00"  # partition tags
    body += b"\x00"  # topic tags
    body += uvarint(1)  # no forgotten topics
    body += uvarint(1) + b"\x00"  # rack_id "" ; request tags
    body += b"\x00"
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target/release/strata"))
    ap.add_argument("--mb", type=int, default=400, help="partition size to fill")
    ap.add_argument("--fetchers", type=int, default=8)
    ap.add_argument("--idle-s", type=float, default=10.0, help="seconds before reading")
    ap.add_argument("--read-kbps", type=int, default=20_000, help="slow read rate per fetcher")
    ap.add_argument("--read-s", type=float, default=10.0, help="seconds of slow reading")
    ap.add_argument("--bound-mb", type=float, default=300.0)
    ap.add_argument("--kill-mb", type=float, default=6000.0)
    ap.add_argument("--set", action="append", default=[], help="broker setting key=value")
    args = ap.parse_args()

    data = pathlib.Path(tempfile.mkdtemp(prefix="fetch-rss-"))
    port, http = free_port(), free_port()
    cmd = [args.bin, "server", "--data-dir", str(data / "d"), "--listen", f"127.0.0.1:{port}",
           "--http", f"127.0.0.1:{http}", "--registry", "off"]
    for s in args.set:
        cmd += ["--set", s]
    log = open(data / "broker.log", "w")
    broker = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        boot = ["-b", f"127.0.0.1:{port}"]
        subprocess.run([args.bin, *boot, "topic", "create", "big", "--partitions", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        records = args.mb * 1024
        t0 = time.time()
        subprocess.run([args.bin, *boot, "bench", "produce", "--topic", "big", "--records",
                        str(records), "--record-size", "1000", "--acks", "1",
                        "--batch-size", "262144", "--linger-ms", "20"],
                       check=True, stdout=subprocess.DEVNULL)
        size = sum(f.stat().st_size for f in (data / "d").rglob("big-0/*.log"))
        print(f"filled big-0 with {size / 1e6:.0f} MB in {time.time() - t0:.1f} s", flush=True)
        time.sleep(2)
        idle = rss_mb(broker.pid)

        peak = idle
        stop = threading.Event()
        received = [0] * args.fetchers

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                try:
                    r = rss_mb(broker.pid)
                except OSError:
                    return
                peak = max(peak, r)
                if r > args.kill_mb:
                    print(f"RSS {r:.0f} MB passed the safety ceiling; stopping the broker",
                          flush=True)
                    broker.kill()
                    return
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        conns = []
        for i in range(args.fetchers):
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            s.sendall(fetch_v12(i + 1, "big", 2**31 - 1))
            conns.append(s)
        time.sleep(args.idle_s)
        idle_peak = peak

        def slow_read(i: int, s: socket.socket) -> None:
            deadline = time.time() + args.read_s
            s.settimeout(1.0)
            step = args.read_kbps * 1024 // 10
            while time.time() < deadline:
                try:
                    b = s.recv(step)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not b:
                    break
                received[i] += len(b)
                time.sleep(0.1)

        readers = [threading.Thread(target=slow_read, args=(i, s)) for i, s in enumerate(conns)]
        for t in readers:
            t.start()
        for t in readers:
            t.join()
        stop.set()
        sampler.join()
        for s in conns:
            s.close()
        alive = broker.poll() is None
        print(f"broker RSS: idle {idle:.0f} MB, peak while not reading {idle_peak:.0f} MB, "
              f"peak overall {peak:.0f} MB (bound {args.bound_mb:.0f} MB); "
              f"read {sum(received) / 1e6:.0f} MB over {args.fetchers} connections; "
              f"broker {'alive' if alive else 'stopped'}", flush=True)
        return 0 if peak <= args.bound_mb and alive else 1
    finally:
        if broker.poll() is None:
            broker.terminate()
            try:
                broker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                broker.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
