"""Issue 11 point 12: a request that can never finish must not block its connection.

Three real nodes. One follower is stopped (SIGSTOP) while the brokers are told to wait a
long time before fencing it or dropping it from the ISR, so an `acks=all` Produce to a
partition it replicates can only wait. On the same connection, behind that Produce, go
more requests. Then the topic is deleted: the waiting Produce must be answered at once
(UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_OR_FOLLOWER), and the requests behind it with
it, including a Produce to the topic created again under the same name.
"""

from __future__ import annotations

import os
import select
import signal
import time

from confluent_kafka.admin import NewTopic

from cluster import Cluster, wait_for
from wire import (PRODUCE, RawConnection, Record, api_versions, parse_produce_response,
                  pick_produce_version, produce, produce_body, record_batch)

UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
# Long enough that only the deletion can end the wait within the test's bounds.
PATIENT = ["--set", "broker.session.timeout.ms=60000",
           "--set", "replica.lag.time.max.ms=60000"]


def one_record(value: bytes) -> bytes:
    return record_batch([Record(None, value)], int(time.time() * 1000))


def test_deleting_a_topic_answers_the_acks_all_produce_waiting_on_it(tmp_path):
    c = Cluster(tmp_path, extra_args=PATIENT)
    c.start()
    stopped = None
    try:
        admin = c.admin()
        admin.create_topics([NewTopic("waits", 1, 3)])["waits"].result(15)
        wait_for(lambda: len(c.partition("waits").isrs) == 3, "every replica in sync")
        leader = c.node(c.partition("waits").leader)
        controller = admin.describe_cluster(request_timeout=5).result(10).controller.id
        # A follower that is not the controller: DeleteTopics must still be decided.
        follower = next(b for i, b in enumerate(c.nodes, 1)
                        if b is not leader and i != controller)
        stopped = follower
        os.kill(follower.proc.pid, signal.SIGSTOP)
        admin = c.admin(without=follower)

        with RawConnection("127.0.0.1", leader.port, timeout=40) as conn:
            v = pick_produce_version(api_versions(conn))
            flexible = v >= 9
            t0 = time.monotonic()
            # 1. Waits for the stopped follower (it stays in the ISR for a minute).
            waiting = conn.request(PRODUCE, v, produce_body(
                v, "waits", 0, one_record(b"stuck"), acks=-1, timeout_ms=30_000),
                flexible=flexible)
            # 2. Behind it on the same connection: an acks=1 Produce the broker could
            # answer at once on its own.
            behind = conn.request(PRODUCE, v, produce_body(
                v, "waits", 0, one_record(b"behind"), acks=1, timeout_ms=30_000),
                flexible=flexible)
            time.sleep(1.0)
            # The first is really waiting (and the second behind it).
            readable, _, _ = select.select([conn.sock], [], [], 0.2)
            assert not readable, "acks=all answered with a follower stopped"

            admin.delete_topics(["waits"])["waits"].result(15)
            deleted_at = time.monotonic()
            first = parse_produce_response(v, conn.read_frame(), waiting)[0]
            answered = time.monotonic() - deleted_at
            assert first.error_code in (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER), first
            assert answered < 5.0, f"the waiting Produce was answered {answered:.1f}s after the delete"
            second = parse_produce_response(v, conn.read_frame(), behind)[0]
            assert second.error_code in (0, UNKNOWN_TOPIC_OR_PARTITION,
                                         NOT_LEADER_OR_FOLLOWER), second
            assert time.monotonic() - t0 < 15, "requests waited for the Produce timeout"

        # The follower comes back; the topic is created again under the same name and a
        # Produce to it on a fresh connection to its leader works.
        os.kill(follower.proc.pid, signal.SIGCONT)
        stopped = None
        admin.create_topics([NewTopic("waits", 1, 3)])["waits"].result(15)
        wait_for(lambda: len(c.partition("waits").isrs) == 3, "the new topic in sync")
        new_leader = c.node(c.partition("waits").leader)
        with RawConnection("127.0.0.1", new_leader.port, timeout=20) as conn:
            v = pick_produce_version(api_versions(conn))
            r = produce(conn, v, "waits", 0, one_record(b"again"), acks=-1)
            assert r.error_code == 0 and r.base_offset == 0, r
        for b in c.nodes:
            assert b.stop() == 0, b.log_tail()
    finally:
        if stopped is not None and stopped.running():
            os.kill(stopped.proc.pid, signal.SIGCONT)
        for b in c.nodes:
            if b.running():
                b.kill()
