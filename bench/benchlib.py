"""Small helpers shared by the Python bench scripts (imported from the script's own
directory): free loopback ports and a process's memory and CPU from /proc."""
import os
import socket

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
