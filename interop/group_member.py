"""A confluent-kafka group member run as its own process (so a test can `kill -9` it).

Usage: group_member.py BOOTSTRAP GROUP TOPIC SESSION_MS DELAY_S

Prints one line per event on stdout, flushed at once:
  A <p,p,...>          the assignment after a rebalance (empty after a revoke)
  R <partition> <offset> <key>   a record it consumed
  C <error>            a commit failed (informational)
On SIGTERM it commits synchronously, closes the consumer and exits 0.
"""

from __future__ import annotations

import signal
import sys
import time

from confluent_kafka import Consumer, KafkaException


def main() -> int:
    bootstrap, group, topic, session_ms, delay = sys.argv[1:6]
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "session.timeout.ms": int(session_ms), "heartbeat.interval.ms": 500,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "socket.timeout.ms": 10_000})

    def out(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def commit_sync() -> None:
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            out(f"C {e}")

    def on_assign(consumer, parts):
        out("A " + ",".join(str(p.partition) for p in sorted(parts, key=lambda p: p.partition)))

    def on_revoke(consumer, parts):
        # Eager protocol: hand over what we have processed before the partitions move.
        commit_sync()
        out("A ")

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    since_commit = 0
    while not stop:
        msg = c.poll(0.2)
        if msg is None or msg.error() is not None:
            continue
        out(f"R {msg.partition()} {msg.offset()} {msg.key().decode()}")
        since_commit += 1
        if since_commit >= 100:
            try:
                c.commit(asynchronous=True)
            except KafkaException as e:
                out(f"C {e}")
            since_commit = 0
        time.sleep(float(delay))  # slow enough that a test can kill us mid-stream
    commit_sync()
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
