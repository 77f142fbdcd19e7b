#!/usr/bin/env python3
"""Consumer-group benchmark (issue 3), against a running broker.

Usage: bench/groups.py BOOTSTRAP HTTP_ADDR [--members 10] [--partitions 100]
       [--commit-conns 64] [--commit-secs 10] [--idle-members 100] [--broker-pid PID]

1. Rebalance: N librdkafka consumers subscribe to a P-partition topic at once; time from
   the first subscribe to every partition assigned (each member polling).
2. Commit throughput: C connections each pipelining OffsetCommit v2 requests (simple
   commits: generation -1, no member id) for a few seconds; every commit is fsynced
   before it is acknowledged (log.flush=batch).
3. Idle members: M consumers sit in groups heartbeating; broker CPU and RSS per member
   (needs --broker-pid).
Prints one JSON line per measurement.
"""
import argparse, json, os, socket, struct, threading, time
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

def create(bootstrap, topic, partitions):
    a = AdminClient({"bootstrap.servers": bootstrap})
    for f in a.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result()

def rebalance(bootstrap, members, partitions):
    topic = f"rb-{int(time.time())}"
    create(bootstrap, topic, partitions)
    consumers = [Consumer({"bootstrap.servers": bootstrap, "group.id": topic,
                           "session.timeout.ms": 10000, "partition.assignment.strategy": "range"})
                 for _ in range(members)]
    start = time.time()
    for c in consumers:
        c.subscribe([topic])
    done = None
    while time.time() - start < 60:
        for c in consumers:
            c.poll(0.01)
        if sum(len(c.assignment()) for c in consumers) == partitions and all(c.assignment() for c in consumers):
            done = time.time() - start
            break
    for c in consumers:
        c.close()
    return {"case": "rebalance", "members": members, "partitions": partitions,
            "join_to_all_assigned_s": round(done, 3) if done else None}

def commit_request(corr, group, topic, partition, offset):
    def s(x):
        b = x.encode()
        return struct.pack(">h", len(b)) + b
    body = s(group) + struct.pack(">i", -1) + s("") + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + s(topic) + struct.pack(">i", 1)
    body += struct.pack(">iq", partition, offset) + s("")
    header = struct.pack(">hhi", 8, 2, corr) + s("bench")
    msg = header + body
    return struct.pack(">i", len(msg)) + msg

def commit_throughput(bootstrap, conns, secs, inflight=32, procs=4):
    """Spreads the connections over processes: one Python process (one GIL) cannot
    drive the broker hard enough."""
    import multiprocessing
    topic = f"cm-{int(time.time())}"
    create(bootstrap, topic, 8)
    per = max(1, conns // procs)
    t0 = time.time()
    with multiprocessing.Pool(procs) as pool:
        parts = pool.starmap(_commit_worker_proc, [(bootstrap, topic, k * per, per, secs, inflight) for k in range(procs)])
    el = time.time() - t0
    total = sum(c for c, _ in parts)
    return {"case": "commit", "connections": per * procs, "inflight_per_conn": inflight, "processes": procs,
            "commits": total, "errors": sum(e for _, e in parts), "secs": round(el, 2),
            "commits_per_s": round(total / el)}

def _commit_worker_proc(bootstrap, topic, first, conns, secs, inflight):
    host, port = bootstrap.split(":")
    counts = [0] * conns
    errors = [0] * conns
    stop = time.time() + secs
    def worker(i):
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        group = f"bench-{(first + i) % 16}"
        sent = 0
        buf = b""
        def send_one():
            nonlocal sent
            sock.sendall(commit_request(sent, group, topic, i % 8, sent))
            sent += 1
        for _ in range(inflight):
            send_one()
        while True:
            while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            n = struct.unpack(">i", buf[:4])[0]
            frame, buf = buf[4:4 + n], buf[4 + n:]
            # header corr(4) + topics(4) + name + partitions(4) + partition(4) + error(2)
            if frame[-2:] != b"\x00\x00":
                errors[i] += 1
            counts[i] += 1
            if time.time() < stop:
                send_one()
            elif counts[i] == sent:
                return
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
    for t in threads: t.start()
    for t in threads: t.join()
    return sum(counts), sum(errors)

def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().split(")")[1].split()
    ticks = int(fields[11]) + int(fields[12])
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                rss = int(line.split()[1])
    return ticks / os.sysconf("SC_CLK_TCK"), rss

def idle_members(bootstrap, members, pid, secs=30):
    topic = f"idle-{int(time.time())}"
    create(bootstrap, topic, 10)
    cpu0, rss0 = proc_stats(pid)
    consumers = [Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-{i % 10}",
                           "session.timeout.ms": 10000}) for i in range(members)]
    for c in consumers:
        c.subscribe([topic])
    deadline = time.time() + 60
    while time.time() < deadline and not all(c.assignment() for c in consumers[:10]):
        for c in consumers:
            c.poll(0.01)
    stop_flag = threading.Event()
    def pump():
        while not stop_flag.is_set():
            for c in consumers:
                c.poll(0)
            time.sleep(0.05)
    t = threading.Thread(target=pump); t.start()
    time.sleep(3)
    cpu1, rss1 = proc_stats(pid)
    time.sleep(secs)
    cpu2, rss2 = proc_stats(pid)
    stop_flag.set(); t.join()
    for c in consumers:
        c.close()
    return {"case": "idle_members", "members": members, "groups": 10, "window_s": secs,
            "broker_cpu_pct": round((cpu2 - cpu1) / secs * 100, 3),
            "broker_cpu_ms_per_member_per_min": round((cpu2 - cpu1) / secs * 60 * 1000 / members, 3),
            "rss_delta_kb_per_member": round((rss2 - rss0) / members, 1)}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=100)
    ap.add_argument("--commit-conns", type=int, default=64)
    ap.add_argument("--commit-secs", type=int, default=10)
    ap.add_argument("--idle-members", type=int, default=100)
    ap.add_argument("--broker-pid", type=int)
    a = ap.parse_args()
    print(json.dumps(rebalance(a.bootstrap, a.members, a.partitions)), flush=True)
    print(json.dumps(commit_throughput(a.bootstrap, a.commit_conns, a.commit_secs)), flush=True)
    if a.broker_pid:
        print(json.dumps(idle_members(a.bootstrap, a.idle_members, a.broker_pid)), flush=True)

if __name__ == "__main__":
    main()
