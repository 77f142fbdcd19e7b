#!/usr/bin/env python3
"""Memory per idle Kafka connection of a real `strata server` process.

Usage: bench/idle_connections.py [STRATA_BIN] [CONNECTIONS]
       (default target/release/strata, 5000)

Starts the broker on free loopback ports with a fresh data dir, opens CONNECTIONS
connections, then sends one ApiVersions request on each (the usual idle client: it asked
once, then waits), and prints the broker's RSS growth per connection after each step
(VmRSS from /proc/<pid>/status, measured after a short settle).
"""
import resource, socket, struct, sys, tempfile, time

from benchlib import rss_bytes as rss, start_broker

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/strata"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
assert hard >= count + 100, f"open file limit {hard} too low for {count} connections"


def ask(s, cid):
    s.sendall(struct.pack(">ihhih", 10, 18, 0, cid, -1))
    n = struct.unpack(">i", recv(s, 4))[0]
    assert struct.unpack(">i", recv(s, n)[:4])[0] == cid


def recv(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "connection closed"
        out += chunk
    return out


with tempfile.TemporaryDirectory() as data:
    broker, port = start_broker(binary, data)
    try:
        warm = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
        for i, s in enumerate(warm):
            ask(s, i)
        for s in warm:
            s.close()
        time.sleep(1)
        before = rss(broker.pid)
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        time.sleep(1)
        connected = rss(broker.pid)
        for i, s in enumerate(conns):
            ask(s, i)
        time.sleep(1)
        used = rss(broker.pid)
        print(f"{count} idle connections: {(connected - before) / count:.0f} B each after "
              f"connect, {(used - before) / count:.0f} B each after one request "
              f"(broker RSS {before >> 20} -> {connected >> 20} -> {used >> 20} MiB)")
    finally:
        broker.terminate()
        broker.wait(10)
