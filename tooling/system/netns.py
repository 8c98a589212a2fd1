"""Network namespaces that give each Asterisk node of a one-machine cluster its own address.

One bridge in the host's namespace carries the nodes' network: the host (Kamailio, the hotline's processes, the
tests' SIPp phones) has its first address, and each node a namespace joined to the bridge by a veth pair. Taking
a node's link down cuts it off as a dead server's network would (tests/integration/test_cluster.py).
"""
from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass

from tooling.system.shell import SetupError

BRIDGE = "hl-br0"
#: The nodes' network; the host is its first address, node n (1, 2, ...) the (10 + n)-th.
NETWORK = ipaddress.ip_network("10.22.0.0/24")


@dataclass(frozen=True)
class NodeNet:
    """One node's namespace: ``netns`` named ``hl-<node>``, its end of the veth pair ``eth0`` with ``address``,
    the host's end ``hl-<node>0`` in the bridge."""

    node: str
    index: int

    @property
    def netns(self) -> str:
        return f"hl-{self.node}"

    @property
    def host_link(self) -> str:
        return f"hl-{self.node}0"

    @property
    def address(self) -> str:
        return str(NETWORK.network_address + 10 + self.index)

    def exec_prefix(self) -> list[str]:
        """What runs a command inside the node's namespace."""
        return ["ip", "netns", "exec", self.netns]


def host_address() -> str:
    """The host's address on the nodes' network (Kamailio listens there)."""
    return str(NETWORK.network_address + 1)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15)
    if check and done.returncode != 0:
        raise SetupError(f"`ip {' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}. The cluster's "
                         "network namespaces need root and the iproute2 package (scripts/bootstrap installs it).")
    return done


def _exists(kind: str, name: str) -> bool:
    if kind == "netns":
        return name in {line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.strip()}
    return _ip("link", "show", name, check=False).returncode == 0


def ensure_bridge() -> None:
    """The bridge with the host's address, up (idempotent)."""
    if not _exists("link", BRIDGE):
        _ip("link", "add", BRIDGE, "type", "bridge")
    cidr = f"{host_address()}/{NETWORK.prefixlen}"
    if cidr not in _ip("-o", "addr", "show", "dev", BRIDGE).stdout:
        _ip("addr", "add", cidr, "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def ensure_node(net: NodeNet) -> None:
    """The node's namespace with loopback and its address up, joined to the bridge (idempotent)."""
    ensure_bridge()
    if not _exists("netns", net.netns):
        _ip("netns", "add", net.netns)
    if not _exists("link", net.host_link):
        _ip("link", "add", net.host_link, "type", "veth", "peer", "name", "eth0", "netns", net.netns)
    _ip("link", "set", net.host_link, "master", BRIDGE)
    inside = [*net.exec_prefix(), "ip"]
    cidr = f"{net.address}/{NETWORK.prefixlen}"
    shown = subprocess.run([*inside, "-o", "addr", "show", "dev", "eth0"], capture_output=True, text=True, timeout=15)
    for args in ([] if cidr in shown.stdout else [["addr", "add", cidr, "dev", "eth0"]]) + [
            ["link", "set", "lo", "up"], ["link", "set", "eth0", "up"]]:
        done = subprocess.run([*inside, *args], capture_output=True, text=True, timeout=15)
        if done.returncode != 0:
            raise SetupError(f"in the namespace {net.netns}: `ip {' '.join(args)}` failed: {done.stderr.strip()}")
    set_link(net, up=True)


def set_link(net: NodeNet, *, up: bool) -> None:
    """The node's link to the bridge up or down (down: the node is cut off, as a dead server's network)."""
    _ip("link", "set", net.host_link, "up" if up else "down")


def link_is_up(net: NodeNet) -> bool:
    """Whether the node's link to the bridge is set up (its flags, ``<BROADCAST,MULTICAST,UP,...>``)."""
    shown = _ip("-o", "link", "show", net.host_link).stdout
    return "UP" in shown.partition("<")[2].partition(">")[0].split(",")


def remove_node(net: NodeNet) -> None:
    """The node's namespace and links gone (nothing if they are not there)."""
    if _exists("link", net.host_link):
        _ip("link", "del", net.host_link, check=False)
    if _exists("netns", net.netns):
        _ip("netns", "del", net.netns, check=False)
