"""The admin REST API's view of consumer groups: state, members and lag per partition."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from confluent_kafka import Consumer, TopicPartition

from clients import create_topic, produce_all, producer


def get_json(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_group_lag_over_http(broker_factory):
    b = broker_factory("http-groups", ["--set", "group.initial.rebalance.delay.ms=0"])
    topic = create_topic(b.bootstrap, partitions=2)
    p = producer(b.bootstrap)
    produce_all(p, topic, [(None, f"v{i}".encode(), {"partition": i % 2}) for i in range(20)])

    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "lagging",
                  "enable.auto.commit": False})
    # Commit 3 of partition 0's 10 records and 10 of partition 1's: lag 7 and 0.
    c.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 10)], asynchronous=False)
    c.close()

    status, groups = get_json(f"{b.http_base}/api/groups")
    assert status == 200
    assert {"group": "lagging", "state": "Empty", "protocol_type": ""} in groups or any(
        g["group"] == "lagging" for g in groups), groups

    status, report = get_json(f"{b.http_base}/api/groups/lagging")
    assert status == 200, report
    lags = {(x["topic"], x["partition"]): (x["committed"], x["log_end"], x["lag"]) for x in report["partitions"]}
    assert lags == {(topic, 0): (3, 10, 7), (topic, 1): (10, 10, 0)}, report
    assert report["total_lag"] == 7

    status, missing = get_json(f"{b.http_base}/api/groups/no-such-group")
    assert status == 404 and "no-such-group" in missing["error"]
