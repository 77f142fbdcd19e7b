"""A throwaway Linux network for the partition tests: one bridge, N namespaces.

Each namespace gets a veth pair: one end inside it (with an address on a private /24 and
`lo` up), the other end in the root namespace, attached to the bridge. The bridge has the
subnet's .254, so the test process in the root namespace reaches every namespace through
it, and the namespaces reach each other the same way. Taking a namespace's host-side veth
down cuts it off from everyone in both directions; bringing it up heals it.

Needs root and `ip` (iproute2); iptables is not used. Every name carries a random tag so
parallel runs and leftovers of crashed runs never collide.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import time


class NetnsError(RuntimeError):
    """An `ip` command failed while building or changing the test network."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs `ip ARGS`; raises NetnsError with its stderr when `check` and it fails."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def unavailable_reason() -> str | None:
    """Why this machine cannot build the test network, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        ip("-V")
    except (OSError, NetnsError) as e:
        return f"iproute2 `ip` not usable: {e}"
    return None


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network already routed or addressed here, in any routing table."""
    nets: list[ipaddress.IPv4Network] = []
    for args in (["-4", "-j", "route", "show", "table", "all"], ["-4", "-j", "addr", "show"]):
        try:
            entries = json.loads(ip(*args).stdout or "[]")
        except (NetnsError, ValueError):
            continue
        for entry in entries:
            dsts = [entry.get("dst")]
            for info in entry.get("addr_info", []):
                dsts.append(f"{info.get('local')}/{info.get('prefixlen')}")
            for dst in dsts:
                if not dst or dst == "default":
                    continue
                try:
                    nets.append(ipaddress.ip_network(dst, strict=False))
                except ValueError:
                    pass
    return nets


def _free_subnet() -> ipaddress.IPv4Network:
    """A random 10.x.y.0/24 that overlaps nothing this host routes (the default route aside)."""
    used = _used_networks()
    for _ in range(200):
        net = ipaddress.ip_network(
            f"10.{secrets.randbelow(254) + 1}.{secrets.randbelow(254) + 1}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise NetnsError("no free 10.x.y.0/24 subnet found")


class NetnsLab:
    """A bridge and `n` namespaces on a private /24, built by `setup()`, removed by `teardown()`.

    Namespace i (0-based) is `self.ns[i]` with address `self.addr[i]` (host .i+1); its
    host-side veth is `self.host_veth[i]`. `teardown()` is idempotent and removes whatever
    exists, so call it from a finalizer even when `setup()` failed half-way.
    """

    def __init__(self, n: int = 3):
        tag = secrets.token_hex(2)
        self.tag = tag
        self.bridge = f"stb{tag}"
        self.subnet = _free_subnet()
        hosts = list(self.subnet.hosts())
        self.bridge_addr = str(hosts[-1])  # .254
        self.ns = [f"strata-{tag}-{i + 1}" for i in range(n)]
        # Interface names are limited to 15 bytes.
        self.host_veth = [f"stv{tag}h{i + 1}" for i in range(n)]
        self.peer_veth = [f"stv{tag}p{i + 1}" for i in range(n)]
        self.addr = [str(hosts[i]) for i in range(n)]
        self._created_ns: list[str] = []

    def setup(self) -> "NetnsLab":
        prefix = self.subnet.prefixlen
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.bridge_addr}/{prefix}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for ns, host, peer, addr in zip(self.ns, self.host_veth, self.peer_veth, self.addr):
            ip("netns", "add", ns)
            self._created_ns.append(ns)
            ip("link", "add", host, "type", "veth", "peer", "name", peer)
            ip("link", "set", peer, "netns", ns)
            ip("link", "set", host, "master", self.bridge)
            ip("link", "set", host, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{addr}/{prefix}", "dev", peer)
            ip("-n", ns, "link", "set", peer, "up")
        return self

    def exec_prefix(self, i: int) -> list[str]:
        """The command prefix that runs a program inside namespace i.

        `ip netns exec` execs the program itself, so the started pid is the program's
        and signals sent to it reach the program.
        """
        return ["ip", "netns", "exec", self.ns[i]]

    def isolate(self, i: int) -> None:
        """Cuts namespace i off from the bridge, in both directions."""
        ip("link", "set", self.host_veth[i], "down")

    def heal(self, i: int) -> None:
        """Reconnects namespace i to the bridge."""
        ip("link", "set", self.host_veth[i], "up")

    def pids(self, i: int) -> list[int]:
        """Processes currently running inside namespace i."""
        out = ip("netns", "pids", self.ns[i], check=False).stdout
        return [int(p) for p in out.split() if p.strip().isdigit()]

    def wait_reachable(self, i: int, port: int, timeout: float = 10.0) -> None:
        """Waits until a TCP listener on namespace i's `port` answers from the root namespace
        (any answer counts, a refused connection too: it proves the path works)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.addr[i], port), timeout=1):
                    return
            except ConnectionRefusedError:
                return
            except OSError as e:
                last = e
                time.sleep(0.1)
        raise NetnsError(f"{self.addr[i]} ({self.ns[i]}) not reachable: {last}")

    def check_connectivity(self, timeout: float = 10.0) -> None:
        """Every namespace reaches every other and the root namespace reaches them all.

        Without ping: a TCP connect to a closed port gets a RST (connection refused) only
        when the packets make it through, so refused means connected.
        """
        for i in range(len(self.ns)):
            self.wait_reachable(i, 9, timeout)
        for i in range(len(self.ns)):
            for j in range(len(self.ns)):
                if i == j:
                    continue
                probe = ("import socket,sys\n"
                         "s=socket.socket(); s.settimeout(2)\n"
                         "try: s.connect((sys.argv[1], 9))\n"
                         "except ConnectionRefusedError: sys.exit(0)\n"
                         "except OSError as e: print(e); sys.exit(1)\n")
                proc = subprocess.run([*self.exec_prefix(i), "python3", "-c", probe,
                                       self.addr[j]], capture_output=True, text=True,
                                      timeout=timeout)
                if proc.returncode != 0:
                    raise NetnsError(f"{self.ns[i]} cannot reach {self.addr[j]}: "
                                     f"{proc.stdout.strip()} {proc.stderr.strip()}")

    def teardown(self) -> list[str]:
        """Kills what still runs in the namespaces, deletes them, the veths and the bridge.

        Returns the problems met (empty when all went), so a finalizer can report them
        without hiding the test's own failure.
        """
        problems: list[str] = []
        for i, ns in enumerate(self.ns):
            if ns not in self._created_ns:
                continue
            for pid in self.pids(i):
                try:
                    os.kill(pid, signal.SIGKILL)
                    problems.append(f"killed leftover pid {pid} in {ns}")
                except ProcessLookupError:
                    pass
        for i, ns in enumerate(self.ns):
            if ns not in self._created_ns:
                continue
            # A namespace with processes still in it lives on after `ip netns del`.
            deadline = time.monotonic() + 5
            while self.pids(i) and time.monotonic() < deadline:
                time.sleep(0.05)
            r = ip("netns", "del", ns, check=False)
            if r.returncode != 0:
                problems.append(f"ip netns del {ns}: {r.stderr.strip()}")
        # Deleting a namespace destroys its veth end and with it the pair, but not at once;
        # delete the host ends anyway, in case a namespace was never reached, and accept
        # that one vanishes between the look and the delete.
        for dev in [*self.host_veth, self.bridge]:
            r = ip("link", "del", dev, check=False)
            if r.returncode != 0 and "Cannot find device" not in r.stderr:
                problems.append(f"ip link del {dev}: {r.stderr.strip()}")
        self._created_ns = []
        return problems
