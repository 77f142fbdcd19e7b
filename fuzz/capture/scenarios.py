#!/usr/bin/env python3
"""Short client scenarios through the recording proxy (capture.py), against real `strata`.

Phase 1, one broker: kcat, confluent-kafka, kafka-python and aiokafka each run metadata,
topic create/delete, produce with every codec (none/gzip/snappy/lz4/zstd) and acks
0/1/all, idempotent produce, consume from the beginning, consumer groups (join/sync/
heartbeat/commit/fetch offsets/leave), list/describe groups, describe/alter configs, list
offsets, delete records, create partitions, delete groups and group offsets. The broker
advertises the proxy's address, so every connection goes through it.

Phase 2, three nodes: the same proxy in front of every Kafka port and every controller
port (`--voters` names the proxies, `--controller-listen` the real ports), a replicated
topic produced to and consumed, a leader killed and restarted: Raft traffic (votes,
append entries, forwarding, snapshots if any), follower fetches, OffsetForLeaderEpoch.

The data directories are copied twice (while the brokers run, as a crash would leave them,
and after a clean stop) for the segment_recovery seeds.

Run with the interop venv (the clients live there):

    .venv/bin/python fuzz/capture/scenarios.py --out /tmp/strata-capture
    python3 fuzz/capture/corpus.py /tmp/strata-capture fuzz/corpus
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import shutil
import subprocess
import sys
import time
import traceback
import uuid

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "interop"))

from capture import Proxy, Recorder  # noqa: E402
from broker import Broker, free_port  # noqa: E402

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ACKS = ["0", "1", "all"]
failures: list[str] = []


def scenario(fn):
    """Runs a scenario; a failing one is reported and the capture goes on."""
    def run(*a, **kw):
        name = fn.__name__
        t0 = time.monotonic()
        try:
            fn(*a, **kw)
            print(f"  ok   {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - capture is best-effort
            failures.append(f"{name}: {e!r}")
            print(f"  FAIL {name}: {e!r}", flush=True)
            traceback.print_exc(limit=3)
    return run


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def messages(n: int, tag: str) -> list[tuple[bytes, bytes]]:
    # Compressible values, a few keys, so codecs have something to do.
    return [(f"k{i % 7}".encode(), (f"{tag} value {i} " * 8).encode()) for i in range(n)]


# --- kcat -----------------------------------------------------------------------------------

def kcat(bootstrap: str, *args: str, stdin: str | None = None, timeout: float = 30) -> str:
    cmd = ["kcat", "-b", bootstrap, *args]
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} exited {r.returncode}: {r.stderr[-500:]}")
    return r.stdout


@scenario
def kcat_all(bootstrap: str) -> None:
    kcat(bootstrap, "-L")
    kcat(bootstrap, "-L", "-J")
    topic = name("kcat")
    lines = "\n".join(f"k{i}:v{i} " + "x" * 50 for i in range(30)) + "\n"
    for codec in CODECS:
        for acks in ACKS:
            kcat(bootstrap, "-P", "-t", topic, "-p", "0", "-K:", "-z", codec,
                 "-X", f"acks={acks}", "-H", f"codec={codec}", stdin=lines)
    kcat(bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q")
    kcat(bootstrap, "-C", "-t", topic, "-o", "-5", "-e", "-q")
    kcat(bootstrap, "-C", "-t", topic, "-o", "s@0", "-e", "-q")
    kcat(bootstrap, "-Q", "-t", f"{topic}:0:0")
    group = name("kcat-g")
    kcat(bootstrap, "-G", group, topic, "-o", "beginning", "-e", "-q", timeout=60)


# --- confluent-kafka ------------------------------------------------------------------------

@scenario
def confluent_all(bootstrap: str) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                       ConfigResource, NewPartitions, NewTopic, OffsetSpec,
                                       ResourceType)

    common = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000}
    admin = AdminClient(common)
    admin.list_topics(timeout=10)
    admin.describe_cluster(request_timeout=10).result()
    topic = name("ck")
    fs = admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                       config={"retention.ms": "3600000"})])
    fs[topic].result(timeout=15)
    time.sleep(0.5)
    for codec in CODECS:
        for acks in ACKS:
            p = Producer({**common, "compression.codec": codec, "acks": acks, "linger.ms": 5})
            for k, v in messages(40, f"{codec}/{acks}"):
                p.produce(topic, key=k, value=v, headers=[("codec", codec.encode())])
            assert p.flush(20) == 0
    p = Producer({**common, "enable.idempotence": True, "compression.codec": "lz4"})
    for k, v in messages(40, "idem"):
        p.produce(topic, key=k, value=v)
    assert p.flush(20) == 0

    group = name("ck-g")
    c = Consumer({**common, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 10000})
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 30
    while got < 200 and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got += 1
    c.commit(asynchronous=False)
    c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.offsets_for_times([TopicPartition(topic, 0, int(time.time() * 1000) - 60000)], timeout=10)
    time.sleep(3.5)  # a heartbeat or two
    c.close()

    tp0 = TopicPartition(topic, 0)
    admin.list_consumer_groups(request_timeout=10).result()
    admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    admin.list_consumer_group_offsets(
        [__import__("confluent_kafka").ConsumerGroupTopicPartitions(group)])[group].result()
    admin.alter_consumer_group_offsets(
        [__import__("confluent_kafka").ConsumerGroupTopicPartitions(
            group, [TopicPartition(topic, 0, 3)])])[group].result()
    for spec in (OffsetSpec.earliest(), OffsetSpec.latest(), OffsetSpec.max_timestamp()):
        admin.list_offsets({tp0: spec}, request_timeout=10)[tp0].result()
    res = ConfigResource(ResourceType.TOPIC, topic)
    admin.describe_configs([res])[res].result()
    broker_res = ConfigResource(ResourceType.BROKER, "1")
    admin.describe_configs([broker_res])[broker_res].result()
    inc = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", None, incremental_operation=AlterConfigOpType.DELETE)])
    admin.incremental_alter_configs([inc])[inc].result()
    alt = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "5400000"})
    admin.alter_configs([alt])[alt].result()
    admin.create_partitions([NewPartitions(topic, 3)])[topic].result(timeout=15)
    admin.delete_records([TopicPartition(topic, 0, 5)])[TopicPartition(topic, 0, 5)].result()
    admin.describe_topics(
        __import__("confluent_kafka").TopicCollection([topic]))[topic].result()
    admin.delete_consumer_groups([group], request_timeout=10)[group].result()
    admin.delete_topics([topic])[topic].result(timeout=15)


# --- kafka-python ---------------------------------------------------------------------------

@scenario
def kafka_python_all(bootstrap: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import (ConfigResource, ConfigResourceType, KafkaAdminClient,
                             NewPartitions, NewTopic)

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    topic = name("kp")
    admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"retention.ms": "3600000"})])
    time.sleep(0.5)
    admin.describe_cluster()
    admin.list_topics()
    admin.describe_topics([topic])
    for codec in [None, "gzip", "snappy", "lz4", "zstd"]:
        for acks in (0, 1, "all"):
            p = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, acks=acks,
                              linger_ms=5)
            for k, v in messages(40, f"{codec}/{acks}"):
                p.send(topic, key=k, value=v, headers=[("codec", str(codec).encode())])
            p.flush(20)
            p.close(5)
    p = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                      compression_type="gzip")
    for k, v in messages(20, "idem"):
        p.send(topic, key=k, value=v)
    p.flush(20)
    p.close(5)

    group = name("kp-g")
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=4000, heartbeat_interval_ms=500)
    n = sum(1 for _ in c)
    assert n > 0
    c.commit()
    tp0 = TopicPartition(topic, 0)
    c.committed(tp0)
    c.beginning_offsets([tp0])
    c.end_offsets([tp0])
    c.offsets_for_times({tp0: int(time.time() * 1000) - 60000})
    c.close()

    admin.list_groups()
    admin.describe_groups([group])
    admin.list_group_offsets(group)
    admin.delete_group_offsets(group, [TopicPartition(topic, 1)])
    admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic),
                            ConfigResource(ConfigResourceType.BROKER, "1")])
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                        configs={"retention.ms": "1800000"})])
    admin.create_partitions({topic: NewPartitions(3)})
    admin.delete_records({TopicPartition(topic, 0): 4})
    admin.delete_groups([group])
    admin.delete_topics([topic])
    admin.close()


# --- aiokafka -------------------------------------------------------------------------------

@scenario
def aiokafka_all(bootstrap: str) -> None:
    asyncio.run(_aiokafka(bootstrap))


async def _aiokafka(bootstrap: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    topic = name("aio")
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await asyncio.sleep(0.5)
    await admin.describe_cluster()
    await admin.list_topics()
    for codec in [None, "gzip", "snappy", "lz4", "zstd"]:
        for acks in (0, 1, "all"):
            p = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec,
                                 acks=acks, linger_ms=5)
            await p.start()
            try:
                for k, v in messages(40, f"{codec}/{acks}"):
                    await p.send(topic, key=k, value=v, headers=[("codec", str(codec).encode())])
                await p.flush()
            finally:
                await p.stop()
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                         compression_type="zstd")
    await p.start()
    try:
        for k, v in messages(20, "idem"):
            await p.send_and_wait(topic, key=k, value=v)
    finally:
        await p.stop()

    group = name("aio-g")
    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         heartbeat_interval_ms=500)
    await c.start()
    try:
        got = 0
        deadline = time.monotonic() + 30
        while got < 100 and time.monotonic() < deadline:
            batch = await c.getmany(timeout_ms=1000)
            got += sum(len(v) for v in batch.values())
        await c.commit()
        tp0 = TopicPartition(topic, 0)
        await c.committed(tp0)
        await c.beginning_offsets([tp0])
        await c.end_offsets([tp0])
        await c.offsets_for_times({tp0: int(time.time() * 1000) - 60000})
        await asyncio.sleep(2)
    finally:
        await c.stop()
    await admin.list_consumer_groups()
    await admin.describe_consumer_groups([group])
    await admin.list_consumer_group_offsets(group)
    await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                              {"retention.ms": "900000"})])
    await admin.create_partitions({topic: NewPartitions(3)})
    from aiokafka.admin.records_to_delete import RecordsToDelete
    await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=3)})
    await admin.delete_topics([topic])
    await admin.close()


# --- phases ---------------------------------------------------------------------------------

def snapshot_data(src: pathlib.Path, dst: pathlib.Path) -> None:
    """Copies a data dir, tolerating files that change or vanish meanwhile."""
    for path in sorted(src.rglob("*")):
        if not path.is_file():
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, target)
        except OSError:
            pass


def phase_single(strata: pathlib.Path, out: pathlib.Path, work: pathlib.Path) -> None:
    print("phase 1: one broker, four clients", flush=True)
    recorder = Recorder(out / "kafka")
    proxy_port = free_port()
    broker = Broker(work / "single", "single",
                    ["--advertise", f"127.0.0.1:{proxy_port}", "--set", "num.partitions=2"])
    broker.workdir.mkdir(parents=True, exist_ok=True)
    broker.start()
    proxy = Proxy(("127.0.0.1", proxy_port), ("127.0.0.1", broker.port), recorder).start()
    bootstrap = f"127.0.0.1:{proxy_port}"
    try:
        kcat_all(bootstrap)
        confluent_all(bootstrap)
        kafka_python_all(bootstrap)
        aiokafka_all(bootstrap)
        # Data that stays: one topic per codec written by each producer family.
        keep_topics(bootstrap)
        time.sleep(1)
        snapshot_data(broker.data_dir, out / "data" / "single-running")
    finally:
        proxy.close()
        code = broker.stop()
        print(f"  broker stopped (exit {code})", flush=True)
    snapshot_data(broker.data_dir, out / "data" / "single-stopped")


@scenario
def keep_topics(bootstrap: str) -> None:
    from confluent_kafka import Producer
    for codec in CODECS:
        topic = f"keep-{codec}"
        p = Producer({"bootstrap.servers": bootstrap, "compression.codec": codec,
                      "linger.ms": 20, "batch.num.messages": 25})
        for k, v in messages(120, f"keep {codec}"):
            p.produce(topic, key=k, value=v, headers=[("h", b"1")])
        assert p.flush(20) == 0
    # Transaction-free control batches are not produced by clients; the groups' commits
    # fill __consumer_offsets instead.


def phase_cluster(strata: pathlib.Path, out: pathlib.Path, work: pathlib.Path) -> None:
    print("phase 2: three nodes, controller ports proxied", flush=True)
    recorder = Recorder(out / "kafka")
    raft_recorder = Recorder(out / "raft")
    n = 3
    ctrl_real = [free_port() for _ in range(n)]
    ctrl_proxy = [free_port() for _ in range(n)]
    kafka_proxy = [free_port() for _ in range(n)]
    voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ctrl_proxy))
    nodes = []
    proxies = []
    for i in range(n):
        b = Broker(work / f"node-{i + 1}", f"node-{i + 1}",
                   ["--node-id", str(i + 1), "--voters", voters,
                    "--controller-listen", f"127.0.0.1:{ctrl_real[i]}",
                    "--advertise", f"127.0.0.1:{kafka_proxy[i]}"])
        b.workdir.mkdir(parents=True, exist_ok=True)
        nodes.append(b)
        proxies.append(Proxy(("127.0.0.1", ctrl_proxy[i]), ("127.0.0.1", ctrl_real[i]),
                             raft_recorder, "raft").start())
        proxies.append(Proxy(("127.0.0.1", kafka_proxy[i]), ("127.0.0.1", b.port),
                             recorder).start())
    try:
        for b in nodes:
            b.start(timeout=60)
        bootstrap = ",".join(f"127.0.0.1:{p}" for p in kafka_proxy)
        cluster_scenario(bootstrap, nodes)
        snapshot_data(nodes[0].data_dir, out / "data" / "node-1-running")
    finally:
        for b in nodes:
            if b.running():
                b.stop()
        for p in proxies:
            p.close()
    snapshot_data(nodes[0].data_dir, out / "data" / "node-1-stopped")


@scenario
def cluster_scenario(bootstrap: str, nodes: list) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 60
    while len(admin.list_topics(timeout=5).brokers) < len(nodes):
        if time.monotonic() > deadline:
            raise RuntimeError("brokers did not register")
        time.sleep(0.5)
    topic = "replicated"
    admin.create_topics([NewTopic(topic, 2, 3)])[topic].result(timeout=30)
    time.sleep(1)
    for codec in ("none", "zstd"):
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                      "compression.codec": codec, "linger.ms": 5})
        for k, v in messages(100, codec):
            p.produce(topic, key=k, value=v)
        assert p.flush(30) == 0
    # A leader (and maybe the controller) goes away and comes back: elections, follower
    # truncation (OffsetForLeaderEpoch), catching up.
    victim = nodes[1]
    victim.kill()
    time.sleep(3)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for k, v in messages(100, "after-kill"):
        p.produce(topic, key=k, value=v)
    p.flush(30)
    victim.restart(timeout=60)
    time.sleep(5)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cluster-g",
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 30
    while got < 300 and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got += 1
    c.commit(asynchronous=False)
    c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--strata", type=pathlib.Path, default=ROOT / "target/release/strata")
    ap.add_argument("--skip-cluster", action="store_true")
    args = ap.parse_args()
    import os
    os.environ["STRATA_BIN"] = str(args.strata.resolve())
    work = args.out / "work"
    if args.out.exists():
        shutil.rmtree(args.out)
    work.mkdir(parents=True)
    phase_single(args.strata, args.out, work)
    if not args.skip_cluster:
        phase_cluster(args.strata, args.out, work)
    print(f"capture in {args.out}; {len(failures)} scenario(s) failed", flush=True)
    for f in failures:
        print(f"  {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
