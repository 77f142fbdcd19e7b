#!/usr/bin/env python3
"""A recording TCP proxy for Kafka and controller-port traffic (standard library only).

Put it in front of a real `strata` and point clients at it (start the broker with
`--advertise` set to the proxy's address, so clients keep talking through the proxy after
Metadata). Every frame that crosses it is forwarded unchanged and saved:

  kafka mode (`i32 length | frame`):
    OUT/requests/<key>_<version>/<sha1>.bin    request frame (no length prefix)
    OUT/responses/<key>_<version>/<sha1>.bin   response frame (no length prefix); the key and
                                               version are those of the request with the same
                                               correlation id on that connection
  raft mode (`u32 length | JSON`), the controller port:
    OUT/raft-requests/<sha1>.bin, OUT/raft-responses/<sha1>.bin   frame payloads

Files are named by content hash, so identical frames are stored once.

    python3 capture.py --listen 127.0.0.1:19092 --upstream 127.0.0.1:9092 --out /tmp/cap

`scenarios.py` drives real clients through it; `corpus.py` turns a capture into the fuzz
targets' seed corpora.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import socket
import struct
import sys
import threading

# Frames larger than this are forwarded but not saved (seed corpora stay small).
MAX_SAVED_FRAME = 1 << 20


class Recorder:
    """Writes frames into the capture directory, one file per distinct frame."""

    def __init__(self, out: pathlib.Path):
        self.out = pathlib.Path(out)
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def save(self, sub: str, data: bytes) -> None:
        if len(data) > MAX_SAVED_FRAME:
            return
        digest = hashlib.sha1(data).hexdigest()
        d = self.out / sub
        path = d / f"{digest}.bin"
        with self.lock:
            self.counts[sub] = self.counts.get(sub, 0) + 1
            if path.exists():
                return
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / f".{digest}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, path)


class FrameSplitter:
    """Cuts a byte stream into frames behind a 4-byte big-endian length."""

    def __init__(self):
        self.buf = bytearray()
        self.broken = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if self.broken:
            return []
        self.buf += chunk
        frames = []
        while len(self.buf) >= 4:
            (n,) = struct.unpack(">i", self.buf[:4])
            if n < 0:
                # Not a frame stream we understand: keep forwarding, stop recording.
                self.broken = True
                self.buf.clear()
                break
            if len(self.buf) < 4 + n:
                break
            frames.append(bytes(self.buf[4:4 + n]))
            del self.buf[:4 + n]
        return frames


class Connection:
    """One client connection and its upstream connection, pumped by two threads."""

    def __init__(self, proxy: "Proxy", client: socket.socket):
        self.proxy = proxy
        self.client = client
        self.upstream = socket.create_connection(proxy.upstream, timeout=30)
        self.upstream.settimeout(None)
        for s in (self.client, self.upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # correlation id -> (api key, api version), for kafka mode
        self.pending: dict[int, tuple[int, int]] = {}
        # request order, for raft mode (one request at a time per connection)
        self.lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self.pump, args=(self.client, self.upstream, True),
                         daemon=True).start()
        threading.Thread(target=self.pump, args=(self.upstream, self.client, False),
                         daemon=True).start()

    def pump(self, src: socket.socket, dst: socket.socket, to_server: bool) -> None:
        splitter = FrameSplitter()
        try:
            while True:
                chunk = src.recv(1 << 16)
                if not chunk:
                    break
                # Record before forwarding: the answer to a request can only be read
                # after the request is known.
                for frame in splitter.feed(chunk):
                    self.record(frame, to_server)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def record(self, frame: bytes, request: bool) -> None:
        rec = self.proxy.recorder
        if self.proxy.mode == "raft":
            rec.save("raft-requests" if request else "raft-responses", frame)
            return
        if request:
            if len(frame) < 8:
                return
            key, version, corr = struct.unpack(">hhi", frame[:8])
            with self.lock:
                self.pending[corr] = (key, version)
            rec.save(f"requests/{key}_{version}", frame)
        else:
            if len(frame) < 4:
                return
            (corr,) = struct.unpack(">i", frame[:4])
            with self.lock:
                kv = self.pending.pop(corr, None)
            if kv is None:
                rec.save("responses/unknown", frame)
                return
            rec.save(f"responses/{kv[0]}_{kv[1]}", frame)


class Proxy:
    """Listens on `listen`, forwards every connection to `upstream`, records frames."""

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int],
                 recorder: Recorder, mode: str = "kafka"):
        assert mode in ("kafka", "raft")
        self.upstream = upstream
        self.recorder = recorder
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(listen)
        self.sock.listen(128)
        self.address = self.sock.getsockname()
        self.closed = False

    def serve_forever(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                break
            try:
                Connection(self, client).start()
            except OSError:
                # Upstream not there (yet): drop the client, it retries.
                client.close()

    def start(self) -> "Proxy":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self.closed = True
        self.sock.close()


def hostport(s: str) -> tuple[str, int]:
    host, _, port = s.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, help="HOST:PORT the proxy listens on")
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the real listener")
    ap.add_argument("--out", required=True, help="capture directory")
    ap.add_argument("--mode", choices=["kafka", "raft"], default="kafka")
    args = ap.parse_args()
    proxy = Proxy(hostport(args.listen), hostport(args.upstream),
                  Recorder(pathlib.Path(args.out)), args.mode)
    print(f"recording {args.mode} frames {proxy.address} -> {args.upstream} into {args.out}",
          file=sys.stderr)
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
