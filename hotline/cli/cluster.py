"""``hotline cluster up``: the two-node cluster on one machine, Kamailio in front (README: Scaling out)."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from hotline.adapters.kamailio_config import Edge, dispatcher_states, set_state
from hotline.cli.errors import as_click_error
from hotline.cli.system import (
    _load_settings,
    _operators,
    _restore_logins,
    echo,
    prepare,
    run_until_stopped,
)
from tooling.system import netns, production
from tooling.system.assembly import asterisk_process, process_specs, render_asterisk_config, switched_on
from tooling.system.asterisk import AsteriskProcess
from tooling.system.cluster import (
    NODES,
    SHARED_PROCESSES,
    ClusterNode,
    edge,
    edge_of,
    kamailio_spec,
    node_specs,
    nodes,
)
from tooling.system.services import ensure_postgres, is_postgres_url
from tooling.system.shell import Progress, SetupError
from tooling.system.supervisor import ProcessSpec, Supervisor
from tooling.system.watchdog import Watchdog, WatchedAsterisk

log = logging.getLogger("hotline.cluster")


@click.group("cluster")
def cluster_group() -> None:
    """The hotline on two Asterisk nodes behind Kamailio, on this machine (demos and tests)."""


@cluster_group.command("up")
@click.option("--fake-now", metavar="ISO", default=None,
              help="Run the hotline's clock from this time, e.g. 2027-02-06T10:00:00+07:00.")
def up_command(fake_now: str | None) -> None:
    """Set up, then run Kamailio, two Asterisk nodes and the hotline's processes until Ctrl-C."""
    run_until_stopped(cluster_up, fake_now)


@cluster_group.command("gate")
@click.option("--node", "node_specs_", multiple=True, required=True, metavar="NAME@HOST:PORT",
              help="A node: its [cluster] node name and its SIP address as Kamailio's list has it, e.g. "
                   "a@10.0.0.11:5060; once per node.")
@click.option("--ctl", default=None, metavar="SOCKET",
              help="Kamailio's control socket (default: unix:<state dir>/kamailio/ctl.sock, where the hotline's "
                   "Kamailio configuration puts it).")
@click.option("--once", is_flag=True,
              help="A check: look once, change nothing, print what was found; exit 0 only when every node's "
                   "application is connected and every node is active in Kamailio's list.")
def gate_command(node_specs_: tuple[str, ...], ctl: str | None, once: bool) -> None:
    """Let a node into Kamailio's list while its call application is connected, leave it out when it is away.

    For real servers, on the machine Kamailio runs on (`hotline cluster up` runs the same gate itself). A node's
    application is connected while its beats in the shared database ([database] url; the gate reads the
    cluster_nodes table only) are fresh."""
    from hotline.adapters.db.cluster import ClusterRepository
    from hotline.services.node_gate import BeatWatch, NodeGate

    with as_click_error():
        settings = _load_settings()
        gate_nodes = _gate_nodes(node_specs_)
        socket = ctl or f"unix:{Path(settings.paths.state_dir) / 'kamailio' / 'ctl.sock'}"
        watch = BeatWatch(ClusterRepository(_gate_database(str(settings.database.url))), settings.cluster.beat_seconds)
        try:
            known = watch.names()
        except Exception as exc:
            raise SetupError(f"The gate cannot read the nodes' beats (cluster_nodes) in the database: {exc}. Check "
                             "[database] url (HOTLINE_DATABASE_URL) and that this machine may reach it.") from exc
        unknown = [n.name for n in gate_nodes if n.name not in known]
        if unknown:
            raise SetupError(f"No node named {', '.join(unknown)} has ever beaten in the database (known: "
                             f"{', '.join(known) or 'none yet'}): give each node by its [cluster] node name "
                             "(HOTLINE_NODE; the host's short name by default), once its call application has run.")
        gate = NodeGate(gate_nodes, watch, lambda: dispatcher_states(socket),
                        lambda node, state: set_state(socket, node, state))
        if once:
            found = gate.look(change=False)
            echo(found.line())
            if not found.all_in:
                sys.exit(1)
            return
        echo(f"[gate] watching {', '.join(f'node {n.name} ({n.sip})' for n in gate_nodes)} for Kamailio at "
             f"{socket}; Ctrl-C to stop")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            gate.run(stop, report=lambda found: echo(f"[gate] {found.line()}"))
        except KeyboardInterrupt:
            pass


@cluster_group.command("kamailio")
@click.option("--listen", required=True, metavar="HOST:PORT",
              help="Kamailio's address on this server: the hotline's SIP address, e.g. 10.0.0.5:5060.")
@click.option("--node", "node_specs_", multiple=True, required=True, metavar="NAME@HOST:PORT",
              help="A node: its [cluster] node name and its SIP address, e.g. a@10.0.0.11:5060; once per node.")
def kamailio_command(listen: str, node_specs_: tuple[str, ...]) -> None:
    """Write Kamailio's configuration for real servers, and its registrar's accounts in the shared database.

    On the server Kamailio runs on, with the province's settings (the same province.toml and secrets.toml as the
    nodes): kamailio.cfg and dispatcher.list go to <state dir>/kamailio (root's, 0600), every desk's and
    operator's SIP account is written as a digest hash to the registrar's tables, and the commands that run
    Kamailio and the gate are printed. `hotline cluster up` writes the same files for one machine."""
    import re
    import shlex

    from hotline.adapters.kamailio_config import render
    from tooling.system.cluster import kamailio_spec

    with as_click_error():
        settings = _load_settings()
        match = re.fullmatch(r"([0-9.]+):(\d{1,5})", listen.strip())
        if match is None:
            raise SetupError(f"--listen {listen!r} is not HOST:PORT: give the address Kamailio listens on, e.g. "
                             "--listen 10.0.0.5:5060")
        if not is_postgres_url(str(settings.database.url)):
            raise SetupError("Kamailio's registrar keeps its tables in the nodes' shared PostgreSQL: set [database] "
                             "url (HOTLINE_DATABASE_URL) to it.")
        gate_nodes = _gate_nodes(node_specs_)
        ensure_postgres(str(settings.database.url), echo)      # the operators' list, read for their accounts
        address, port = match.group(1), int(match.group(2))
        the_edge = replace(edge_of(settings, address, port, [n.sip for n in gate_nodes], settings.cluster.trusted),
                           db_url=_registrar_database(settings, _phone_accounts(settings), echo))
        config = render(the_edge)
        echo(f"[cluster] Kamailio's configuration: {config} (nodes {', '.join(n.sip for n in gate_nodes)}; "
             f"SIP at {address}:{port}"
             + (f", the softphones' WebSocket at {the_edge.websocket_url} for {', '.join(the_edge.origins)}"
                if the_edge.ws_port else "") + ")")
        echo("[cluster] Run Kamailio (as root; it drops to the user kamailio): "
             + shlex.join(list(kamailio_spec(config).argv)))
        echo("[cluster] and beside it the gate, which lets each node in while its application runs: hotline cluster "
             "gate " + " ".join(f"--node {n.name}@{n.sip}" for n in gate_nodes))


def _gate_database(url: str) -> Any:
    """The database for the gate, each read with a deadline (a look must not hang on a silent network): on
    PostgreSQL 3 s to connect and 2 s per statement."""
    from sqlalchemy.engine import make_url

    from hotline.adapters.db import open_database
    if is_postgres_url(url):
        url = make_url(url).update_query_dict({"connect_timeout": "3", "options": "-c statement_timeout=2000"}
                                              ).render_as_string(hide_password=False)
    return open_database(url, migrate=False)


def _gate_nodes(specs: tuple[str, ...]) -> list[Any]:
    """``NAME@HOST:PORT`` read (the same form as ``[cluster] peers``); a wrong one is refused with the form."""
    import re

    from hotline.services.node_gate import GateNode
    found = []
    for spec in specs:
        match = re.fullmatch(r"([A-Za-z0-9_-]{1,64})@([0-9.]+):(\d{1,5})", spec.strip())
        if match is None:
            raise SetupError(f"--node {spec!r} is not NAME@HOST:PORT: give each node as Kamailio's list has it, "
                             "e.g. --node a@10.0.0.11:5060")
        name, host, port = match.groups()
        found.append(GateNode(name, f"{host}:{port}"))
    return found


class _Node:
    """One node while the cluster runs: its settings, Asterisk and watchdog."""

    def __init__(self, member: ClusterNode, settings: Any, env: dict[str, str], asterisk: AsteriskProcess,
                 operators: Any) -> None:
        self.member, self.settings, self.env = member, settings, env
        self.asterisk, self.operators = asterisk, operators


def _node_settings(member: ClusterNode, shared: Any, members: list[ClusterNode]) -> tuple[Any, dict[str, str]]:
    from hotline.config.settings import load_settings
    env = member.env(shared, members)
    return load_settings(env={**os.environ, **env}), env


def _start_node(member: ClusterNode, members: list[ClusterNode], shared: Any, install: Any,
                progress: Progress) -> _Node:
    from hotline.config.secrets import load_or_create_secrets
    from hotline.domain.clock import clock_from_env
    from hotline.domain.directory import load_directory
    netns.ensure_node(member.net)
    member.prepare_state()
    settings, env = _node_settings(member, shared, members)
    secrets = load_or_create_secrets(member.state_dir)
    clock = clock_from_env(settings.tz)
    directory = load_directory(settings.paths.directory)
    operators = _operators(settings, secrets, clock, directory)
    conf = render_asterisk_config(settings, secrets, directory, member.state_dir, clock.offset_seconds(),
                                  operators.endpoints())
    asterisk = asterisk_process(install, conf, member.state_dir, Path(settings.paths.recordings_root),
                                settings.call_log_spool, netns=member.net.exec_prefix(),
                                shared_state=member.shared_state)
    progress(f"[cluster] Starting node {member.name}: Asterisk at {member.net.address} (namespace {member.net.netns})")
    asterisk.start()
    _restore_logins(operators, progress)
    return _Node(member, settings, env, asterisk, operators)


def _gate(nodes: list[_Node], the_edge: Edge, app: str, banner: str, progress: Progress) -> Callable[[], None]:
    """The supervisor's check: the gate (hotline/services/node_gate.py) over this machine's nodes, looking once
    a second, each node's application read on its Asterisk's console; the answering line is printed once every
    node is in."""
    from hotline.services.node_gate import GateNode, NodeGate
    by_name = {node.member.name: node for node in nodes}

    def connected(gate_node: GateNode) -> bool:
        try:
            return app in by_name[gate_node.name].asterisk.rx("ari show apps", timeout=2).split()
        except SetupError:
            return False
    gate = NodeGate([GateNode(n.member.name, f"{n.member.net.address}:{the_edge.port}") for n in nodes], connected,
                    lambda: dispatcher_states(the_edge.ctl), lambda node, state: set_state(the_edge.ctl, node, state),
                    on_all_in=lambda: progress(banner))
    return gate.maybe_look


def _watchdog(node: _Node, the_edge: Edge, progress: Progress) -> Watchdog:
    """The node's Asterisk watched and restarted; Kamailio leaves the node out as soon as its Asterisk is found
    dead or silent, and the gate lets it in again once its application is connected: a restarted Asterisk
    answers SIP (and Kamailio's probing would take it back) before its application has reconnected, and a
    caller sent there in between heard the dialplan's apology instead of the menu (seen in the cluster test)."""
    a = node.settings.asterisk
    from hotline.config.secrets import load_or_create_secrets
    secrets = load_or_create_secrets(node.member.state_dir)
    watched = WatchedAsterisk(node.asterisk, f"http://{a.http_bind}:{a.http_port}", a.ari_user, secrets.ari_password)
    sip = f"{node.member.net.address}:{the_edge.port}"

    def leave_out() -> None:
        if set_state(the_edge.ctl, sip, "d"):
            log.info("node %s left out while its Asterisk restarts", node.member.name)
        else:
            log.error("node %s: Kamailio refused to leave it out while its Asterisk restarts", node.member.name)
    return Watchdog(watched, after_restart=lambda: _restore_logins(node.operators, progress), before_restart=leave_out)


def cluster_up(fake_now: str | None, progress: Progress) -> int:
    """Everything ``hotline cluster up`` runs, until a signal."""
    from hotline.adapters.kamailio_config import render as render_kamailio
    from hotline.context import setup_logging
    setup_logging("cluster")
    shared = _load_settings()
    if not is_postgres_url(str(shared.database.url)):
        raise SetupError("The cluster's nodes share one database, PostgreSQL: set HOTLINE_DATABASE_URL, e.g. "
                         "HOTLINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hotline_cluster hotline cluster up")
    env, owner, user, result = prepare(shared, fake_now, progress)
    members = nodes(Path(shared.paths.state_dir), NODES)
    accounts = _phone_accounts(shared)      # before the nodes copy secrets.toml: one password per phone
    running: list[_Node] = []
    dogs: list[Watchdog] = []
    try:
        specs = [s for s in process_specs(env, result.redis_url, shared.transcription.queue, user=user)
                 if s.name in SHARED_PROCESSES and switched_on(s.name, shared)]
        for member in members:
            node = _start_node(member, members, shared, result.install, progress)
            running.append(node)
            specs += node_specs(process_specs(env, result.redis_url, shared.transcription.queue, user=user),
                                member, node.env)
        the_edge = replace(edge(shared, members, shared.cluster.trusted),
                           db_url=_registrar_database(shared, accounts, progress))
        specs = [_console_on(spec, running[0], the_edge.websocket_url) for spec in specs]
        specs.append(kamailio_spec(render_kamailio(the_edge)))
        if owner:
            for node in running:
                production.give_folders(node.settings, owner, result.install.user_ids()[1], progress)
            production.give_folders(shared, owner, result.install.user_ids()[1], progress)
        dogs = [_watchdog(node, the_edge, progress) for node in running]
        for dog in dogs:
            dog.start()
        supervisor = Supervisor(Path(shared.paths.state_dir))
        numbers = ", ".join(f"sip:{n}@{the_edge.address}:{the_edge.port}" for n in shared.province.hotline_numbers)
        progress(f"[cluster] Kamailio at {the_edge.address}:{the_edge.port} in front of "
                 + ", ".join(f"node {m.name} ({m.net.address})" for m in members)
                 + f"; logs in {supervisor.log_dir}")
        banner = f"Tổng đài {shared.province.hotline_numbers[0]} đang trả lời qua Kamailio: {numbers} (UDP)"
        return supervisor.run(specs, check=_gate(running, the_edge, shared.asterisk.ari_app, banner, progress))
    finally:
        for dog in dogs:
            dog.stop()
        for node in running:     # all at once: a node stopping alone waits for its peers' answers (PUBLISH)
            progress(f"[cluster] Stopping node {node.member.name}")
            with contextlib.suppress(SetupError):
                node.asterisk.rx("core stop now", timeout=5)
        for node in running:
            node.asterisk.stop()


def _phone_accounts(shared: Any) -> list[tuple[str, str]]:
    """Every desk's and operator's SIP account (name, password), each password made now if it is new (and every
    AMI account's): the nodes then copy one secrets.toml. An operator added while the cluster runs needs its
    restart."""
    from hotline.adapters.ami.accounts import ACCOUNTS
    from hotline.config.secrets import load_or_create_secrets
    from hotline.domain.clock import clock_from_env
    from hotline.domain.directory import load_directory
    secrets = load_or_create_secrets(Path(shared.paths.state_dir))
    # every AMI account's password too: a process of one node logs in to the others' (the console's operator
    # logins reach every node's queue); each node making its own would refuse the others' processes
    for account in ACCOUNTS:
        secrets.ami_password_of(account.name)
    directory = load_directory(shared.paths.directory)
    operators = _operators(shared, secrets, clock_from_env(shared.tz), directory)
    names = [op.name for op in operators.endpoints()] + [a.desk.endpoint for a in directory.entries if a.desk.endpoint]
    return [(name, secrets.endpoint_password(name)) for name in names]


def _registrar_database(shared: Any, accounts: list[tuple[str, str]], progress: Progress) -> str:
    """Kamailio's registrar tables ready, with ``accounts`` (kept as HA1); returns the database as Kamailio's
    db_postgres reads it, through Kamailio's own role (those tables only)."""
    from hotline.adapters.kamailio_db import (
        db_postgres_url,
        ensure_role,
        ensure_schema,
        kamailio_database_url,
        write_subscribers,
    )
    from hotline.config.secrets import load_or_create_secrets
    url = kamailio_database_url(str(shared.database.url))
    ensure_postgres(url, progress)
    if ensure_schema(url):
        progress("[cluster] Kamailio's registrar tables made (location, subscriber)")
    count = write_subscribers(url, accounts)
    progress(f"[cluster] Kamailio is the registrar of {count} desk and operator phones")
    own = ensure_role(url, load_or_create_secrets(Path(shared.paths.state_dir)).kamailio_db_password)
    return db_postgres_url(own)


def _console_on(spec: ProcessSpec, node: _Node, websocket_url: str) -> ProcessSpec:
    """The console works with the first node's Asterisk (its operators' queue: every node's when it changes, see
    ClusterQueueMembers); its softphones register with Kamailio's WebSocket (``websocket_url``), or with that
    node's own when Kamailio has none (``[cluster] websocket_port = 0``)."""
    if spec.name != "console":
        return spec
    extra = {"HOTLINE_SIP_WEBSOCKET_URL": websocket_url} if websocket_url else {}
    return replace(spec, env={**spec.env, **node.env, **extra})
