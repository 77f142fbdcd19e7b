"""Small helpers shared by the Python bench scripts (imported from the script's own
directory): free loopback ports and a process's memory and CPU from /proc."""
import os
import socket
import struct

HZ = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    """VmRSS of `pid` in bytes (0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    return rss_bytes(pid) / (1 << 20)


def cpu_secs(pid: int) -> float:
    """utime + stime of `pid` in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def start_broker(binary: str, data_dir: str):
    """Starts `strata server` on free loopback ports with `data_dir`; returns the
    process and its Kafka port once the port accepts connections (up to 10 s)."""
    import subprocess
    import time

    port, http = free_port(), free_port()
    broker = subprocess.Popen(
        [binary, "server", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}",
         "--http", f"127.0.0.1:{http}", "--registry", "off"],
        stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            break
        except OSError:
            time.sleep(0.1)
    return broker, port


# --- a few Kafka requests, encoded by hand for the raw-socket bench clients -----------

def kafka_string(s: bytes) -> bytes:
    return struct.pack(">h", len(s)) + s


def one_record_batch(size: int) -> bytes:
    """A record batch (magic 2, uncompressed) of one keyless record of `size` bytes."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 20)
    b.append(0, timestamp=None, key=None, value=b"x" * size, headers=[])
    return bytes(b.build())


def produce_v3(correlation: int, client: bytes, topic: bytes, partition: int,
               batch: bytes, acks: int) -> bytes:
    """A framed Produce v3 request: transactional_id, acks, timeout, [topic [partition
    records]]."""
    body = (struct.pack(">hhi", 0, 3, correlation) + kafka_string(client)
            + struct.pack(">h", -1) + struct.pack(">hi", acks, 30000)
            + struct.pack(">i", 1) + kafka_string(topic)
            + struct.pack(">i", 1) + struct.pack(">i", partition)
            + struct.pack(">i", len(batch)) + batch)
    return struct.pack(">i", len(body)) + body


def produce_v3_error(payload: bytes) -> int:
    """The first partition's error code of a Produce v3 response (without its length
    prefix): correlation, [topic name [index error base_offset time]]."""
    pos = 4 + 4
    (name_len,) = struct.unpack_from(">h", payload, pos)
    pos += 2 + name_len + 4 + 4
    return struct.unpack_from(">h", payload, pos)[0]


def list_offsets_latest_v1(correlation: int, client: bytes, topic: bytes,
                           partitions: int) -> bytes:
    """A framed ListOffsets v1 request for the latest offset of every partition."""
    body = (struct.pack(">hhi", 2, 1, correlation) + kafka_string(client)
            + struct.pack(">i", -1) + struct.pack(">i", 1) + kafka_string(topic)
            + struct.pack(">i", partitions)
            + b"".join(struct.pack(">iq", p, -1) for p in range(partitions)))
    return struct.pack(">i", len(body)) + body


def offsets_sum_v1(payload: bytes) -> int:
    """The sum of the offsets of a ListOffsets v1 response (one topic); raises on a
    partition error."""
    pos = 4 + 4
    (name_len,) = struct.unpack_from(">h", payload, pos)
    pos += 2 + name_len
    (n,) = struct.unpack_from(">i", payload, pos)
    pos += 4
    total = 0
    for _ in range(n):
        _, error, _, offset = struct.unpack_from(">ihqq", payload, pos)
        pos += 22
        if error:
            raise RuntimeError(f"ListOffsets error {error}")
        total += offset
    return total
