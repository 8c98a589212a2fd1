"""The two-node cluster on one machine (``hotline cluster up``): what each node is and what Kamailio is told.

Each node is an Asterisk in a network namespace of its own (tooling/system/netns.py) with its own address, its
own state folder ``<state>/nodes/<node>`` (rendered configuration, spool, logs, the call-log spool) and its own
ARI app, AGI server and monitor, which run on the host and reach it over the nodes' network. The database, the
hotline's Redis, the worker, the console and the recordings root are shared. Kamailio listens on the host's
address of that network: it is the hotline's SIP address.
"""
from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hotline.adapters.kamailio_config import Edge
from tooling.system.netns import NodeNet, host_address
from tooling.system.supervisor import ProcessSpec

#: The nodes ``hotline cluster up`` starts, in order.
NODES = ("a", "b")
#: A node's own processes; the worker, the console, the public site and the mailbox reader are the cluster's.
NODE_PROCESSES = ("ari_app", "agi", "monitor")
SHARED_PROCESSES = ("worker", "console", "public", "mailbox")


@dataclass(frozen=True)
class ClusterNode:
    """Node ``name`` (the ``[cluster] node`` of its processes), the ``index``-th of the cluster."""

    name: str
    index: int
    shared_state: Path

    @property
    def net(self) -> NodeNet:
        return NodeNet(self.name, self.index)

    @property
    def state_dir(self) -> Path:
        return self.shared_state / "nodes" / self.name

    def env(self, settings: Any, members: Sequence[ClusterNode] = ()) -> dict[str, str]:
        """The environment overrides that make the shared settings this node's (hotline/config/files.py);
        ``members``: the cluster's nodes (the others become this one's peers)."""
        peers = ",".join(f"{m.name}@{m.net.address}:{settings.sip.port}" for m in members if m.name != self.name)
        return {
            "HOTLINE_CLUSTER_PEERS": peers,
            "HOTLINE_NODE": self.name,
            "HOTLINE_STATE_DIR": str(self.state_dir),
            "HOTLINE_SYSTEM_NAME": f"{settings.asterisk.system_name}-{self.name}",
            "HOTLINE_SIP_BIND": self.net.address,
            "HOTLINE_HTTP_BIND": self.net.address,
            "HOTLINE_AMI_BIND": self.net.address,
            "HOTLINE_AMI_PERMIT": host_address(),
            "HOTLINE_AGI_BIND": host_address(),
            "HOTLINE_AGI_PORT": str(settings.agi.port + self.index),
            "HOTLINE_REGISTRAR": f"{host_address()}:{settings.sip.port}",
            # shared by every node: the one database, the one recordings root
            "HOTLINE_DATABASE_URL": str(settings.database.url),
            "HOTLINE_RECORDINGS_ROOT": str(settings.paths.recordings_root),
        }

    def prepare_state(self) -> None:
        """The node's state folder, with the cluster's secrets (one set of passwords: the shared Redis's, the
        console's session key) and the voice prompts already rendered for the cluster (copied, not re-made)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.shared_state / "secrets.toml", self.state_dir / "secrets.toml")
        for folder in ("prompts", "sounds"):
            source = self.shared_state / folder
            if source.is_dir():
                shutil.copytree(source, self.state_dir / folder, dirs_exist_ok=True, symlinks=True)


def nodes(shared_state: Path, names: Sequence[str] = NODES) -> list[ClusterNode]:
    return [ClusterNode(name, index, shared_state) for index, name in enumerate(names, 1)]


def node_specs(specs: Sequence[ProcessSpec], node: ClusterNode, env: Mapping[str, str]) -> list[ProcessSpec]:
    """The node's own processes among ``specs``, named ``<process>-<node>`` (logs, heartbeats), with its env."""
    return [replace(spec, name=f"{spec.name}-{node.name}", env={**spec.env, **env})
            for spec in specs if spec.name in NODE_PROCESSES]


def edge(settings: Any, members: Sequence[ClusterNode], trusted: Sequence[str] = ()) -> Edge:
    """Kamailio on the host's address of the nodes' network, at the hotline's SIP port, in front of the nodes.
    The sources pike never counts: the nodes, ``trusted`` and the host itself, which stands in for the telco's
    trunk on one machine (its callers are the tests' and demos' SIPp); any other source is limited."""
    port = int(settings.sip.port)
    return edge_of(settings, host_address(), port, [f"{m.net.address}:{port}" for m in members],
                   [host_address(), *trusted])


def edge_of(settings: Any, address: str, port: int, nodes: Sequence[str], trusted: Sequence[str] = ()) -> Edge:
    """What Kamailio at ``address``:``port`` is told from the province's settings, in front of ``nodes``
    (``host:port``): loopback, ``trusted`` and the nodes are never counted as floods; the console's softphones
    register over its WebSocket (``[cluster] websocket_port``) from the console's origins (``[cluster]
    softphone_origins``, else the console's own address). ``hotline cluster up`` and ``hotline cluster kamailio``."""
    origins = settings.cluster.softphone_origins or [f"http://{settings.console.bind}:{settings.console.port}"]
    return Edge(address=address, port=port, nodes=list(nodes),
                trusted=["127.0.0.1", *trusted, *(node.rsplit(":", 1)[0] for node in nodes)],
                per_second=int(settings.security.invites_per_second), state_dir=Path(settings.paths.state_dir),
                ws_port=int(settings.cluster.websocket_port), origins=origins)


def kamailio_spec(config: Path) -> ProcessSpec:
    """Debian's Kamailio in the foreground, dropping to its own user ``kamailio`` once its socket is bound."""
    return ProcessSpec("kamailio", ["kamailio", "-DD", "-E", "-f", str(config), "-u", "kamailio", "-g", "kamailio",
                                    "-m", "64", "-M", "8"])
