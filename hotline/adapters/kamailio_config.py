"""Render kamailio_conf/kamailio.cfg.j2 and the dispatcher's list of Asterisk nodes (README: Scaling out)."""
from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from hotline.adapters.kamailio_db import REALM

TEMPLATES = Path(__file__).resolve().parents[2] / "kamailio_conf"
BANNER = ("Rendered by `hotline cluster up` or `hotline cluster kamailio` from kamailio_conf/kamailio.cfg.j2 — do not "
          "edit; edit the template.")
#: Unanswered OPTIONS (one a second) before a node is taken out: with the 1 s ping interval and the
#: response time-out below, a dead node gets no new call within about 4 s.
PROBE_FAILURES = 2
RESPONSE_MS = 1500


@dataclass(frozen=True)
class Edge:
    """What Kamailio is told: where it listens, the nodes' SIP addresses (``host:port``), the sources never
    counted as floods, pike's limit in requests per second per source (``invites_per_second``), and the
    WebSocket port of the console's softphones with the console's origins (``ws_port`` 0: no WebSocket)."""

    address: str
    port: int
    nodes: Sequence[str]
    trusted: Sequence[str]
    per_second: int
    state_dir: Path
    db_url: str = "postgres://postgres@127.0.0.1:5432/hotline_kamailio"    # db_postgres's form (kamailio_db.py)
    ws_port: int = 0
    origins: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.ws_port and not self.origins:
            raise ValueError("a WebSocket for the softphones needs the console's origins (none would let any page in)")
        for origin in self.origins:
            if not re.fullmatch(r"https?://[A-Za-z0-9.:\[\]-]+", origin):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")

    @property
    def websocket_url(self) -> str:
        """Where the console's softphones reach Kamailio's WebSocket (empty without one)."""
        return f"ws://{self.address}:{self.ws_port}" if self.ws_port else ""

    @property
    def config_path(self) -> Path:
        return self.state_dir / "kamailio" / "kamailio.cfg"

    @property
    def list_path(self) -> Path:
        return self.state_dir / "kamailio" / "dispatcher.list"

    @property
    def ctl_socket(self) -> Path:
        return self.state_dir / "kamailio" / "ctl.sock"

    @property
    def ctl(self) -> str:
        """The control socket as kamcmd names it."""
        return f"unix:{self.ctl_socket}"


#: A node's flags in the list: disabled (4), so Kamailio neither sends it calls nor probes it until `hotline
#: cluster up` or `hotline cluster gate` sees its call application connected (hotline/services/node_gate.py).
DISABLED = 4


def dispatcher_list(nodes: Sequence[str]) -> str:
    """Set 1, one line per node: ``1 sip:10.22.0.11:5060 4 0 duid=<n>`` (disabled until its app is ready)."""
    lines = ["# set destination flags priority attributes (rendered by `hotline cluster up` or `hotline cluster "
             "kamailio`)"]
    lines += [f"1 sip:{node} {DISABLED} 0 duid=node{i}" for i, node in enumerate(nodes, 1)]
    return "\n".join(lines) + "\n"


def _kamcmd(ctl: str, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["kamcmd", "-s", ctl, *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None


def set_state(ctl: str, node: str, state: str) -> bool:
    """Tell the Kamailio listening on control socket ``ctl`` (``unix:/path``) a node's state (``ap``: active and
    probed, ``d``: disabled) by its ``host:port``; True if it took it."""
    done = _kamcmd(ctl, "dispatcher.set_state", state, "1", f"sip:{node}")
    return done is not None and done.returncode == 0 and "error" not in done.stdout.lower()


def dispatcher_states(ctl: str) -> dict[str, str]:
    """The view of the Kamailio on control socket ``ctl``: each node's ``host:port`` -> flags (``AP`` active and
    probed, ``IP`` inactive, ``DX`` disabled...); {} when Kamailio does not answer."""
    done = _kamcmd(ctl, "dispatcher.list")
    if done is None or done.returncode != 0:
        return {}
    return dict(re.findall(r"URI: sip:([\d.]+:\d+)\s+FLAGS: (\w+)", done.stdout))


def render(edge: Edge, *, debug: int = 2, children: int = 4) -> Path:
    """Write Kamailio's configuration and its dispatcher list; return the configuration's path."""
    edge.config_path.parent.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)
    unit = 2     # pike's sampling unit, seconds
    text = env.get_template("kamailio.cfg.j2").render(
        banner=BANNER, debug=debug, children=children, address=edge.address, port=edge.port,
        ctl_socket=str(edge.ctl_socket), list_file=str(edge.list_path), response_ms=RESPONSE_MS,
        probe_failures=PROBE_FAILURES, probe_seconds=PROBE_FAILURES + 2, trusted=list(edge.trusted),
        pike_unit=unit, pike_per_unit=max(1, edge.per_second) * unit, db_url=edge.db_url, realm=REALM,
        node_addresses=[node.rsplit(":", 1)[0] for node in edge.nodes], ws_port=edge.ws_port,
        origins=list(edge.origins))
    for path, content in ((edge.list_path, dispatcher_list(edge.nodes)), (edge.config_path, text)):
        path.write_text(content, encoding="utf-8")
        os.chmod(path, 0o600)      # the database password: Kamailio reads both as root, before it drops to its user
    return edge.config_path
