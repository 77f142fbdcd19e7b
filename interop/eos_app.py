"""A consume-transform-produce app with exactly-once semantics (confluent-kafka), run as
its own process by the transaction tests so it can be killed with SIGKILL.

Usage: python eos_app.py BOOTSTRAP SRC DST GROUP TRANSACTIONAL_ID EXPECTED [PAUSE_MS]
Reads SRC (read_committed, group GROUP), writes each value with "in-" replaced by "out-"
to DST partition 0, and commits output and input offsets in one transaction per batch.
PAUSE_MS sleeps between producing and committing, so a kill lands inside a transaction.
Prints "committed TOTAL" after each commit of this process; exits 0 once the group's
committed offsets cover EXPECTED input records.
"""

import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

boot, src, dst, group, tid, expected = sys.argv[1:7]
expected = int(expected)
pause = int(sys.argv[7]) / 1000 if len(sys.argv) > 7 else 0.0
common = {"bootstrap.servers": boot, "socket.timeout.ms": 10_000}
# A killed life's member holds its partitions until its session expires: keep it short.
consumer = Consumer({**common, "group.id": group, "enable.auto.commit": False,
                     "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                     "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
producer = Producer({**common, "transactional.id": tid, "linger.ms": 5})
producer.init_transactions(60)
consumer.subscribe([src])
total = 0
while True:
    batch = [m for m in consumer.consume(50, 1.0) if not m.error()]
    if batch:
        producer.begin_transaction()
        for m in batch:
            producer.produce(dst, value=m.value().replace(b"in-", b"out-"), partition=0)
        producer.flush(30)
        if pause:
            time.sleep(pause)
        producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                             consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(30)
        total += len(batch)
        print(f"committed {total}", flush=True)
    assignment = consumer.assignment()
    if assignment:
        done = sum(max(tp.offset, 0) for tp in consumer.committed(assignment, 30))
        if done >= expected and len(assignment) == len(
                consumer.list_topics(src, 10).topics[src].partitions):
            break
consumer.close()
