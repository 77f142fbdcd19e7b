"""Start, stop and kill a real `strata server` process for the interop tests."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def strata_bin() -> pathlib.Path:
    """The broker binary: $STRATA_BIN, else the release build in this checkout."""
    env = os.environ.get("STRATA_BIN")
    path = pathlib.Path(env) if env else ROOT / "target" / "release" / "strata"
    if not path.is_file():
        raise FileNotFoundError(
            f"strata binary not found at {path}: run `cargo build --release -p strata-cli` "
            "or set STRATA_BIN")
    return path


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def _listen_ports() -> list[int]:
    """Ports for brokers' listeners: outside the kernel's ephemeral range.

    A port the kernel picks with bind(0) comes from the ephemeral range, and so does the
    local port of every outgoing connection: between the moment a test picks such a port
    and the moment the broker binds it, a client's connection may take it (CI saw
    "Address already in use" that way). Ports outside that range are never handed out
    by the kernel, so only another listener could hold them, and the bind probe sees it.
    """
    lo, hi = _ephemeral_range()
    if lo - 10000 >= 2000:
        return list(range(10000, lo))
    return list(range(hi + 1, 65536))


_PORTS = _listen_ports()
# Start at a point that depends on the pid, so two test runs at once rarely meet.
_next_port = (os.getpid() * 7919) % len(_PORTS)


def free_port() -> int:
    """A loopback port nobody listens on right now and this process has not handed out.

    Ports come round-robin from outside the ephemeral range (see `_listen_ports`); each is
    probed with a bind before it is returned.
    """
    global _next_port
    for _ in range(len(_PORTS)):
        port = _PORTS[_next_port]
        _next_port = (_next_port + 1) % len(_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free loopback port outside the ephemeral range")


class BrokerError(AssertionError):
    """The broker process misbehaved (did not start, did not stop, bad exit code)."""


class Broker:
    """One `strata server` process with its own data dir, Kafka port and HTTP port.

    `extra_args` are appended to the command line (e.g. `["--set", "k=v"]`) on every start;
    `env` adds (or overrides) environment variables of the broker process (e.g. the first admin
    user's STRATA_ADMIN_USER / STRATA_ADMIN_PASSWORD).

    Ports and data dir stay the same across `restart()`, as they would for an operator.
    stderr and stdout go to a log file whose tail is attached to failing tests' reports.

    `host` is the address the broker listens on (Kafka and HTTP) and clients use; `wrap` is
    a command prefix the broker runs under (e.g. `["ip", "netns", "exec", NS]`). A wrapper
    must exec the broker, so that the started pid is the broker's and `stop()` / `kill()`
    signal it directly.
    """

    def __init__(self, workdir: pathlib.Path, name: str = "broker",
                 extra_args: list[str] | None = None, host: str = "127.0.0.1",
                 wrap: list[str] | None = None, env: dict[str, str] | None = None):
        self.host = host
        self.env = dict(env or {})
        self.wrap = list(wrap or [])
        self.extra_args = list(extra_args or [])
        self.workdir = pathlib.Path(workdir)
        self.name = name
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / f"{name}.log"
        self.port = free_port()
        self.http_port = free_port()
        self.registry_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def http_base(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def registry_url(self) -> str:
        return f"http://{self.host}:{self.registry_port}"

    def command(self) -> list[str]:
        return [*self.wrap, str(strata_bin()), "server",
                "--data-dir", str(self.data_dir),
                "--listen", f"{self.host}:{self.port}",
                "--http", f"{self.host}:{self.http_port}",
                "--registry", f"{self.host}:{self.registry_port}", *self.extra_args]

    def start(self, timeout: float = 30.0) -> "Broker":
        if self.proc is not None and self.proc.poll() is None:
            raise BrokerError("broker already running")
        self.starts += 1
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info,openraft=warn")
        env.setdefault("RUST_BACKTRACE", "1")
        env["NO_COLOR"] = "1"  # plain text in the log file
        env.update(self.env)
        log = open(self.log_path, "ab")
        log.write(f"\n----- start #{self.starts}: {' '.join(self.command())}\n".encode())
        log.flush()
        try:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        finally:
            log.close()
        self._wait_listening(timeout)
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise BrokerError(f"strata exited with code {code} during startup\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise BrokerError(f"strata did not listen on {self.bootstrap} within {timeout}s\n"
                          f"{self.log_tail()}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait; returns the exit code. A broker that ignores SIGTERM is killed and fails."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise BrokerError(f"strata did not exit within {timeout}s of SIGTERM; killed\n"
                                  f"{self.log_tail()}")
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, timeout: float = 30.0) -> "Broker":
        if self.running():
            raise BrokerError("restart() of a running broker; stop() or kill() it first")
        return self.start(timeout)

    def assert_alive(self) -> None:
        if not self.running():
            code = None if self.proc is None else self.proc.returncode
            raise BrokerError(f"strata is not running (exit code {code})\n{self.log_tail()}")

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no broker log)"
        tail = text.splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)
