#!/usr/bin/env python3
"""Security benchmark: produce and consume over TLS as a share of plaintext (same
broker, same client: confluent-kafka, since the reference kbench is built without
TLS), broker CPU per MB on each, and SCRAM authentications per second.

Usage: bench/security.py [--messages N] [--size BYTES] [--auths N]
       (STRATA_BIN, default target/release/strata; the interop venv's python)
Prints one JSON line per case and a summary line.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import pathlib
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from benchlib import cpu_secs, free_port  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def certs(d: pathlib.Path) -> None:
    def run(*a):
        subprocess.run(a, check=True, cwd=d, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    (d / "server.pem").write_text((d / "server.key").read_text() + (d / "server.crt").read_text())


def produce_consume(conf: dict, topic: str, n: int, size: int, pid: int) -> dict:
    from confluent_kafka import Consumer, Producer
    p = Producer({**conf, "linger.ms": 5, "batch.size": 1 << 20, "acks": 1,
                  "queue.buffering.max.messages": 1_000_000})
    payload = b"x" * size
    cpu0, t0, client0 = cpu_secs(pid), time.monotonic(), time.process_time()
    for _ in range(n):
        while True:
            try:
                p.produce(topic, payload)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(120)
    t_prod, cpu_prod = time.monotonic() - t0, cpu_secs(pid) - cpu0
    client_prod = time.process_time() - client0
    c = Consumer({**conf, "group.id": f"g-{topic}", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "fetch.max.bytes": 52428800})
    c.subscribe([topic])
    got = 0
    cpu0, t0 = cpu_secs(pid), time.monotonic()
    while got < n and time.monotonic() - t0 < 120:
        for m in c.consume(10000, 1.0):
            if not m.error():
                got += 1
    t_cons, cpu_cons = time.monotonic() - t0, cpu_secs(pid) - cpu0
    c.close()
    mb = n * size / 1e6
    return {"produce_mb_s": round(mb / t_prod, 1), "consume_mb_s": round(mb / t_cons, 1),
            "broker_cpu_us_per_kb_produce": round(cpu_prod * 1e6 / (mb * 1000), 3),
            "broker_cpu_us_per_kb_consume": round(cpu_cons * 1e6 / (mb * 1000), 3),
            # The client (Python + librdkafka threads) shares the two cores.
            "client_cpu_us_per_kb_produce": round(client_prod * 1e6 / (mb * 1000), 3),
            "consumed": got}


def frame(key: int, version: int, cid: int, body: bytes) -> bytes:
    client = b"bench"
    hdr = struct.pack(">hhih", key, version, cid, len(client)) + client
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def read_frame(s: socket.socket) -> bytes:
    def exact(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b
    (n,) = struct.unpack(">i", exact(4))
    return exact(n)


def scram_login(port: int, user: str, password: str) -> None:
    """One SCRAM-SHA-256 login on a fresh connection (SaslHandshake v1 +
    SaslAuthenticate v1), raising on failure."""
    s = socket.create_connection(("127.0.0.1", port))
    try:
        mech = b"SCRAM-SHA-256"
        s.sendall(frame(17, 1, 1, struct.pack(">h", len(mech)) + mech))
        read_frame(s)
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n={user},r={nonce}"
        tok = ("n,," + first_bare).encode()
        s.sendall(frame(36, 1, 2, struct.pack(">i", len(tok)) + tok))
        r = read_frame(s)
        # header: correlation id; body: error_code, error_message (nullable string), auth_bytes
        off = 4
        (err,) = struct.unpack_from(">h", r, off)
        off += 2
        (ml,) = struct.unpack_from(">h", r, off)
        off += 2 + max(ml, 0)
        (bl,) = struct.unpack_from(">i", r, off)
        server_first = r[off + 4: off + 4 + bl].decode()
        if err:
            raise RuntimeError(f"error {err}")
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth = f"{first_bare},{server_first},{without_proof}".encode()
        sig = hmac.new(stored, auth, "sha256").digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
        tok = f"{without_proof},p={proof}".encode()
        s.sendall(frame(36, 1, 3, struct.pack(">i", len(tok)) + tok))
        r = read_frame(s)
        (err,) = struct.unpack_from(">h", r, 4)
        if err:
            raise RuntimeError(f"login failed: {err}")
    finally:
        s.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--auths", type=int, default=2000)
    ap.add_argument("--order", default="plaintext,tls",
                    help="which listener runs first (the second one writes on a fuller page cache)")
    a = ap.parse_args()
    binary = os.environ.get("STRATA_BIN", str(ROOT / "target" / "release" / "strata"))
    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        certs(d)
        plain, tls, sasl, http = free_port(), free_port(), free_port(), free_port()
        env = dict(os.environ, STRATA_ADMIN_USER="bench", STRATA_ADMIN_PASSWORD="bench-pw")
        broker = subprocess.Popen(
            [binary, "server", "--data-dir", str(d / "data"), "--listen", f"127.0.0.1:{plain}",
             "--http", f"127.0.0.1:{http}", "--registry", "off",
             "--set", f"listeners=PLAINTEXT://127.0.0.1:{plain},TLS://127.0.0.1:{tls},"
                      f"SASL://127.0.0.1:{sasl}",
             "--set", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,TLS:SSL,SASL:SASL_PLAINTEXT",
             "--set", "ssl.keystore.type=PEM", "--set", f"ssl.keystore.location={d / 'server.pem'}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", plain)).close()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(1)
            rows = {}
            confs = {
                "plaintext": {"bootstrap.servers": f"127.0.0.1:{plain}"},
                "tls": {"bootstrap.servers": f"127.0.0.1:{tls}", "security.protocol": "SSL",
                        "ssl.ca.location": str(d / "ca.pem")},
            }
            for name in a.order.split(","):
                conf = confs[name]
                r = produce_consume(conf, f"bench-{name}", a.messages, a.size, broker.pid)
                rows[name] = r
                print(json.dumps({"case": name, "messages": a.messages, "size": a.size, **r}))
            cpu0, t0 = cpu_secs(broker.pid), time.monotonic()
            for _ in range(a.auths):
                scram_login(sasl, "bench", "bench-pw")
            dt, cpu = time.monotonic() - t0, cpu_secs(broker.pid) - cpu0
            auth = {"case": "scram_sha256_logins", "logins": a.auths,
                    "per_s": round(a.auths / dt, 1),
                    "broker_cpu_us_per_login": round(cpu * 1e6 / a.auths, 1)}
            print(json.dumps(auth))
            p, t = rows["plaintext"], rows["tls"]
            print("security: tls/plaintext produce %.0f%% consume %.0f%%, broker produce "
                  "capacity per core %.0f%%, scram logins %.0f/s (broker %.0f us each)" % (
                      100 * t["produce_mb_s"] / p["produce_mb_s"],
                      100 * t["consume_mb_s"] / p["consume_mb_s"],
                      100 * p["broker_cpu_us_per_kb_produce"] / t["broker_cpu_us_per_kb_produce"],
                      auth["per_s"], auth["broker_cpu_us_per_login"]))
        finally:
            broker.terminate()
            broker.wait(20)


if __name__ == "__main__":
    main()
