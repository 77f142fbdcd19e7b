#!/usr/bin/env python3
"""Scrape cost of /metrics for bench/RESULTS.md § Metrics (issue 16).

For each partition count, starts one `strata server` (release build), creates one topic
with that many partitions, writes records to them (`strata bench produce`), commits a
consumer group's offsets on every partition (`strata group reset-offsets --to-earliest
--execute`, so every partition has a lag), then scrapes `/metrics` repeatedly: median
wall time, response size and the broker's CPU per scrape (from /proc; the scraper shares
the cores). Both with per-partition series (`metrics.partition.level=true`, the default)
and without.

    python3 bench/metrics_scrape.py [--partitions 1000,10000] [--scrapes 20]
"""
import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from benchlib import cpu_secs, free_port  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = str(ROOT / "target" / "release" / "strata")


def strata(bootstrap: str, *args: str) -> str:
    return subprocess.run([BIN, "-b", bootstrap, *args], check=True, capture_output=True,
                          text=True).stdout


def wait_http(url: str):
    for _ in range(400):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def measure(partitions: int, level: bool, scrapes: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        kafka, http = free_port(), free_port()
        broker = subprocess.Popen(
            [BIN, "server", "--data-dir", f"{tmp}/data", "--listen", f"127.0.0.1:{kafka}",
             "--http", f"127.0.0.1:{http}", "--registry", "off",
             "--set", f"metrics.partition.level={'true' if level else 'false'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{http}/metrics"
            wait_http(url)
            bootstrap = f"127.0.0.1:{kafka}"
            strata(bootstrap, "topic", "create", "scraped", "--partitions", str(partitions))
            strata(bootstrap, "bench", "produce", "--topic", "scraped",
                   "--records", str(partitions * 10), "--record-size", "100")
            strata(bootstrap, "group", "reset-offsets", "--topic", "scraped", "--to-earliest",
                   "--execute", "watcher")
            urllib.request.urlopen(url, timeout=60).read()  # warm
            times, sizes = [], []
            cpu0 = cpu_secs(broker.pid)
            for _ in range(scrapes):
                t0 = time.perf_counter()
                body = urllib.request.urlopen(url, timeout=60).read()
                times.append(time.perf_counter() - t0)
                sizes.append(len(body))
            cpu = (cpu_secs(broker.pid) - cpu0) / scrapes
            lag_lines = body.decode().count("strata_consumer_lag{")
            return {"partitions": partitions, "partition_level": level,
                    "median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000,
                    "bytes": statistics.median(sizes), "broker_cpu_ms": cpu * 1000,
                    "lag_series": lag_lines}
        finally:
            broker.terminate()
            broker.wait(30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--partitions", default="1000,10000")
    ap.add_argument("--scrapes", type=int, default=20)
    a = ap.parse_args()
    print("| partitions | per-partition series | scrape median (max) | size | broker CPU per scrape |")
    print("| --- | --- | --- | --- | --- |")
    for n in (int(x) for x in a.partitions.split(",")):
        for level in (True, False):
            r = measure(n, level, a.scrapes)
            print(f"| {n:,} | {'yes' if level else 'no'} ({r['lag_series']:,} lag series) | "
                  f"{r['median_ms']:.1f} ms ({r['max_ms']:.1f} ms) | {r['bytes'] / 1024:,.0f} KiB | "
                  f"{r['broker_cpu_ms']:.1f} ms |", flush=True)


if __name__ == "__main__":
    main()
