"""Large requests over TLS arriving in pieces: every byte read, nothing waits for bytes that
are not coming.

While the rest of a large request is on its way the broker raises its socket's receive
low-water mark, so the kernel wakes it once per many segments instead of once per segment
(librdkafka writes each TLS record by itself: a segment per kilobyte). Under TLS the mark
must stay below the ciphertext still due, which is less than the plaintext still due by up
to one partial record the broker already holds. These tests cut the ciphertext at odd
places and pause there, with partial records held, and check that each request is answered
at once, the records are stored whole, and a small request after a large one is not held
back by a mark left raised.

The client here is Python's ssl module over a memory BIO, so the test decides how the
plaintext is cut into TLS records and how the ciphertext is cut into segments. The broker's
read timeout is 10 s, so a request stuck behind a mark fails the timing assertions (and the
connection) rather than hanging.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time

import pytest

import wire
from broker import Broker, free_port
from certs import make_pki
from clients import consume, create_topic, unique_topic

RECORD = 1024
ANSWER_WITHIN = 3.0  # seconds; a request held by a low-water mark waits the 10 s read timeout


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    work = tmp_path_factory.mktemp("tlsreads")
    b = Broker(work, "tlsreads")
    tls_port = free_port()
    b.extra_args = [
        "--set", f"listeners=PLAINTEXT://{b.host}:{b.port},TLS://{b.host}:{tls_port}",
        "--set", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,TLS:SSL",
        "--set", "ssl.keystore.type=PEM",
        "--set", f"ssl.keystore.location={pki.server.keystore}",
        "--set", "socket.request.read.timeout.ms=10000",
    ]
    b.start()
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection((b.host, tls_port), timeout=1).close()
            break
        except OSError:
            b.assert_alive()
            assert time.monotonic() < deadline, f"TLS listener not up\n{b.log_tail()}"
            time.sleep(0.1)
    b.tls_port = tls_port
    b.cafile = str(pki.ca.cert)
    yield b
    b.assert_alive()
    assert b.stop() == 0, b.log_tail()


class TlsPipe:
    """A TLS client whose records and segments the test controls: plaintext goes into
    records of a chosen size (`seal`), ciphertext goes out however the test cuts it."""

    def __init__(self, host: str, port: int, cafile: str):
        self.sock = socket.create_connection((host, port), timeout=15)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.create_default_context(cafile=cafile)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_hostname="localhost")
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self.pull()
        self.flush()
        self.corr = 0

    def flush(self) -> None:
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def pull(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("broker closed the TLS connection")
        self.inc.write(data)

    def seal(self, plaintext: bytes, record: int) -> bytes:
        """The ciphertext of `plaintext` as TLS records of at most `record` bytes each."""
        for i in range(0, len(plaintext), record):
            self.tls.write(plaintext[i:i + record])
        return self.out.read()

    def recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                buf += self.tls.read(n - len(buf))
            except ssl.SSLWantReadError:
                self.pull()
        return bytes(buf)

    def read_frame(self) -> bytes:
        (n,) = struct.unpack(">i", self.recv_exact(4))
        assert 4 <= n <= 64 << 20, n
        return self.recv_exact(n)

    def request(self, api_key: int, version: int, body: bytes, flexible: bool) -> tuple[int, bytes]:
        self.corr += 1
        return self.corr, wire.frame(wire.request_header(api_key, version, self.corr, flexible) + body)

    def close(self) -> None:
        self.sock.close()


def produce_frame(pipe: TlsPipe, topic: str, records: int, tag: str) -> tuple[int, bytes]:
    batch = wire.record_batch(
        [wire.Record(key=f"{tag}-{i}".encode(),
                     value=(f"{tag}-{i}-".encode() * RECORD)[:RECORD]) for i in range(records)],
        base_timestamp=int(time.time() * 1000))
    version = 8
    return pipe.request(wire.PRODUCE, version,
                        wire.produce_body(version, topic, 0, batch, acks=1), flexible=False)


def answered(pipe: TlsPipe, corr: int, since: float, what: str) -> int:
    """The produce response's base offset; fails if it took longer than ANSWER_WITHIN."""
    data = pipe.read_frame()
    took = time.monotonic() - since
    [r] = wire.parse_produce_response(8, data, corr)
    assert r.error_code == 0, (what, r)
    assert took < ANSWER_WITHIN, f"{what}: answered after {took:.2f}s (held by a low-water mark?)"
    return r.base_offset


def api_versions_quickly(pipe: TlsPipe, what: str) -> None:
    corr, frame = pipe.request(wire.API_VERSIONS, 0, b"", flexible=False)
    pipe.sock.sendall(pipe.seal(frame, 16384))
    since = time.monotonic()
    data = pipe.read_frame()
    took = time.monotonic() - since
    assert struct.unpack(">i", data[:4])[0] == corr
    assert took < ANSWER_WITHIN, f"{what}: ApiVersions after a large request took {took:.2f}s"


@pytest.mark.parametrize("record", [RECORD, 16384], ids=["1KiB-records", "16KiB-records"])
def test_large_produce_cut_at_odd_places_with_pauses(tls_broker, record):
    """A 600 KiB produce request in TLS records of 1 KiB (librdkafka's pattern) or 16 KiB,
    sent in segments of 7,919 bytes (cutting records anywhere) with a pause every few
    segments; then the same with one long pause where the broker holds most of a record and
    more than the mark's minimum is still due."""
    b = tls_broker
    topic = unique_topic("tlsreads")
    create_topic(b.bootstrap, topic, 1)
    pipe = TlsPipe(b.host, b.tls_port, b.cafile)
    try:
        corr, frame = produce_frame(pipe, topic, 600, "a")
        cipher = pipe.seal(frame, record)
        for i in range(0, len(cipher), 7919):
            pipe.sock.sendall(cipher[i:i + 7919])
            if (i // 7919) % 5 == 4:
                time.sleep(0.003)
        first = answered(pipe, corr, time.monotonic(), "cut and paused")
        api_versions_quickly(pipe, "after the first large request")

        corr, frame = produce_frame(pipe, topic, 600, "b")
        cipher = pipe.seal(frame, record)
        # Stop in the middle of a record with ~100 KiB still due: the broker waits holding
        # a partial record whose bytes count towards what it waits for.
        cut = len(cipher) - 100 * 1024 - min(record, 16384) // 2
        pipe.sock.sendall(cipher[:cut])
        time.sleep(0.3)
        pipe.sock.sendall(cipher[cut:])
        second = answered(pipe, corr, time.monotonic(), "one long pause mid-record")
        assert second == first + 600
        api_versions_quickly(pipe, "after the second large request")
    finally:
        pipe.close()
    got = consume(b.bootstrap, topic, 0, 1200)
    for i, m in enumerate(got):
        tag, n = ("a", i) if i < 600 else ("b", i - 600)
        assert m.key() == f"{tag}-{n}".encode()
        assert m.value() == (f"{tag}-{n}-".encode() * RECORD)[:RECORD]


def test_large_produce_over_plaintext_cut_and_paused(tls_broker):
    """The same cuts on the plaintext listener, where the mark is exactly the bytes due."""
    b = tls_broker
    topic = unique_topic("plainreads")
    create_topic(b.bootstrap, topic, 1)
    with wire.RawConnection(b.host, b.port, timeout=15) as conn:
        batch = wire.record_batch(
            [wire.Record(key=b"k", value=bytes([i % 256]) * RECORD) for i in range(600)],
            base_timestamp=int(time.time() * 1000))
        corr = 1
        frame = wire.frame(wire.request_header(wire.PRODUCE, 8, corr, False)
                           + wire.produce_body(8, topic, 0, batch, acks=1))
        cut = len(frame) - 40 * 1024
        conn.send_raw(frame[:cut])
        time.sleep(0.3)
        since = time.monotonic()
        conn.send_raw(frame[cut:])
        [r] = wire.parse_produce_response(8, conn.read_frame(), corr)
        took = time.monotonic() - since
        assert r.error_code == 0 and r.base_offset == 0, r
        assert took < ANSWER_WITHIN, f"answered after {took:.2f}s"
        corr = conn.request(wire.API_VERSIONS, 0, b"")
        since = time.monotonic()
        data = conn.read_frame()
        assert struct.unpack(">i", data[:4])[0] == corr
        assert time.monotonic() - since < ANSWER_WITHIN
