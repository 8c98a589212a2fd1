"""The two-node cluster as `hotline cluster up` runs it (issue 14): Debian's Kamailio in front of two real
Asterisk nodes in network namespaces of their own, each with its own ARI app, AGI server and monitor, one
PostgreSQL, one Redis, one worker; SIPp callers dial Kamailio's address.

Its own state directory, recordings root, database and Redis; the nodes' network (10.22.0.0/24) is its own,
so it runs beside the test stacks on loopback.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.adapters.db.models import Call
from hotline.context import load_context
from tests.support.cluster import Cluster, running_cluster
from tests.support.stack import ROOT, stack_index, wait_for
from tooling.sipp.runner import CallerProcess, run_load, start_caller
from tooling.sipp.scenario import AwaitHangup, CallerScript, Wait
from tooling.system.netns import NodeNet, host_address, set_link

pytestmark = pytest.mark.asterisk

WEDNESDAY = "2026-11-25T10:00:00+07:00"     # staffed: key 0 puts a caller in the operator queue
SIP_PORT = 5060
OPERATORS = ("op-lan", "op-minh")           # their phones register with Kamailio (no fixed contact)
WEB_OPERATOR = "op-web-hoa"                 # the console's softphone, over Kamailio's WebSocket
BUFFER = 32768                              # bytes of a recording Asterisk holds before writing them


@pytest.fixture(scope="module")
def cluster(postgres_url: str) -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="hotline-cluster-", dir="/var/tmp"))
    artifacts = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "integration-logs" / "cluster"
    try:
        with running_cluster(base, postgres_url.rsplit("/", 1)[0] + f"/hotline_cluster_{stack_index()}",
                             fake_now=WEDNESDAY, operators=OPERATORS, web_operators=(WEB_OPERATOR,),
                             websocket_port=5066, settings_extra="\n[queue]\nwrapup_seconds = 1\n",
                             console_port=8590 + 100 * stack_index(), artifacts=artifacts) as found:
            yield found
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.fixture(autouse=True)
def no_call_left(cluster: Cluster) -> Iterator[None]:
    """Each test leaves the cluster with no call: its stopped callers are hung up and every row closed."""
    yield
    cluster.end_calls()


def test_forty_calls_through_kamailio_land_on_both_nodes(cluster: Cluster, tmp_path: Path) -> None:
    callers = [f"09410000{i:02d}" for i in range(40)]
    load = run_load(host_address(), SIP_PORT, "1022", CallerScript([Wait(3)]), rate_per_s=8, limit_concurrent=40,
                    total_calls=40, callers=callers, timeout=120, workdir=tmp_path)
    assert load.exit_code == 0 and load.stats.successful == 40, (load.stats, load.workdir)

    seen: list[dict[str, Call]] = [{}]

    def all_closed() -> dict[str, Call] | None:
        rows = seen[0] = cluster.rows(callers)
        done = len(rows) == 40 and all(r.ended_at and r.recording_file for r in rows.values())
        return rows if done else None
    try:
        rows = wait_for(all_closed, 60, "the 40 calls to be closed with their recordings")
    except AssertionError:
        raise AssertionError(f"{len(seen[0])} rows; open or without recording: "
                             + str({c: (r.disposition, r.recording_file) for c, r in seen[0].items()
                                    if not (r.ended_at and r.recording_file)})) from None
    per_node = Counter(r.asterisk_node for r in rows.values())
    _record("40 calls: " + ", ".join(f"{n} on node {node}" for node, n in sorted(per_node.items())))
    assert set(per_node) == {"a", "b"} and all(16 <= n <= 24 for n in per_node.values()), per_node
    for row in rows.values():
        wav = Path(row.recording_file or "")
        assert wav.is_file() and wav.stat().st_size > 44 + 8000, (row.call_id, wav)     # over 0.5 s of audio
        assert row.call_id.startswith(f"hotline1-{row.asterisk_node}-"), row.call_id


def _figures(what: str, **seconds: float) -> None:
    """The failover times of a run, for README."""
    _record(f"{what}: " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()))


def _record(line: str) -> None:
    """A figure of this run (test-artifacts/integration-logs/cluster-figures.txt)."""
    folder = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "integration-logs"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "cluster-figures.txt").open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def _gate_once(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    """`hotline cluster gate --once` as on a real Kamailio server: the nodes by name and SIP address, Kamailio by
    its control socket, the applications' beats read in the shared database. A check: it changes nothing."""
    nodes = [arg for i, n in enumerate("ab", 1) for arg in ("--node", f"{n}@{NodeNet(n, i).address}:{SIP_PORT}")]
    return subprocess.run([sys.executable, "-m", "hotline.cli.main", "cluster", "gate", "--once", *nodes, "--ctl",
                           f"unix:{cluster.state / 'kamailio' / 'ctl.sock'}"], cwd=ROOT, env=cluster.env,
                          capture_output=True, text=True, timeout=15)


def _long_calls(cluster: Cluster, prefix: str, count: int, tmp_path: Path) -> dict[str, CallerProcess]:
    """``count`` callers who stay on the line (60 s unless hung up); returns caller -> its SIPp process."""
    calls: dict[str, CallerProcess] = {}
    for i in range(count):
        caller = f"{prefix}{i:02d}"
        calls[caller] = start_caller(host_address(), SIP_PORT, "1022", CallerScript([AwaitHangup(60)]),
                                     caller=caller, workdir=tmp_path / caller)
    wait_for(lambda: len([r for r in cluster.rows(list(calls)).values() if r.answered_at]) == count, 30,
             f"the {count} long calls to be answered")
    return calls


def test_node_a_killed_new_calls_go_to_b_and_a_rejoins(cluster: Cluster, tmp_path: Path) -> None:
    calls = _long_calls(cluster, "094200000", 6, tmp_path)
    before = cluster.rows(list(calls))
    on_b = {c for c, r in before.items() if r.asterisk_node == "b"}
    assert on_b and len(on_b) < 6, {c: r.asterisk_node for c, r in before.items()}
    address = NodeNet("a", 1).address
    killed = time.monotonic()
    pid = cluster.asterisk_pid("a")
    os.kill(pid, signal.SIGKILL)

    app = load_context(env=cluster.env).settings.asterisk.ari_app

    def out_or_back() -> str | None:
        """Left out of Kamailio's list, or already back in service: the watchdog can restart Asterisk and the app
        reconnect before the gate's second look (1.79 s after the kill, seen once), and then the node rightly
        stays in."""
        flags = cluster.dispatcher().get(address)
        if flags is not None and flags != "AP":
            return "left_out"
        found = cluster.asterisk_pids("a")
        if flags == "AP" and found and found[0] != pid and app in cluster.node_rx("a", "ari show apps").split():
            return "back_at_once"
        return None
    how = wait_for(out_or_back, 5, "Kamailio to stop sending node a calls, or node a to be back in service")
    left_out = time.monotonic() - killed
    # a new call right after the kill is answered (by b, or by a once its watchdog restarted it)
    script = CallerScript([Wait(2)])
    result = start_caller(host_address(), SIP_PORT, "1022", script, caller="0942000099",
                          workdir=tmp_path / "after").result()
    assert result.ok, result.problems
    # b's calls went on untouched while a was down
    now = cluster.rows(list(on_b))
    assert all(r.ended_at is None for r in now.values()), {c: r.disposition for c, r in now.items()}
    # a rejoins: Kamailio sees its app connected again and it takes calls again
    wait_for(lambda: cluster.dispatcher().get(address) == "AP", 30, "node a to rejoin")
    rejoined = time.monotonic() - killed
    # a's callers, cut off with their Asterisk, are closed by a's own app once back (its reconciler)
    on_a = [c for c in calls if c not in on_b]
    wait_for(lambda: all(r.ended_at and r.disposition != "in_progress" for r in cluster.rows(on_a).values()), 30,
             "node a's lost calls to be closed")
    _figures("sigkill", **{how: left_out}, rejoined=rejoined)
    assert left_out < 5.0, left_out
    callers = [f"09430000{i:02d}" for i in range(6)]
    load = run_load(host_address(), SIP_PORT, "1022", CallerScript([Wait(1)]), rate_per_s=4, limit_concurrent=6,
                    total_calls=6, callers=callers, timeout=60, workdir=tmp_path / "rejoin")
    assert load.exit_code == 0, load.stats
    assert {r.asterisk_node for r in cluster.rows(callers).values()} == {"a", "b"}
    for process in calls.values():
        process.terminate()


def test_node_a_cut_off_is_skipped_and_its_calls_closed_by_b(cluster: Cluster, tmp_path: Path) -> None:
    calls = _long_calls(cluster, "094400000", 6, tmp_path)
    rows = cluster.rows(list(calls))
    on_a = {c for c, r in rows.items() if r.asterisk_node == "a"}
    on_b = set(calls) - on_a
    assert on_a and on_b, {c: r.asterisk_node for c, r in rows.items()}
    net = NodeNet("a", 1)
    cut = time.monotonic()
    set_link(net, up=False)
    try:
        wait_for(lambda: cluster.dispatcher().get(net.address, "").startswith("I"), 10,
                 "Kamailio to take node a out")
        taken_out = time.monotonic() - cut
        _figures("link down", taken_out=taken_out)
        assert taken_out < 5.0, taken_out
        # the gate of real servers: node a's beats stop (its app lost its Asterisk), so it is away; the command
        # says not every node is in
        away = wait_for(lambda: (d := _gate_once(cluster)).returncode == 1 and "node a: application away" in d.stdout
                        and d, 20, "hotline cluster gate --once to see node a away")
        assert "node b: application connected, Kamailio AP" in away.stdout, away.stdout
        callers = [f"09450000{i:02d}" for i in range(4)]
        load = run_load(host_address(), SIP_PORT, "1022", CallerScript([Wait(1)]), rate_per_s=4,
                        limit_concurrent=4, total_calls=4, callers=callers, timeout=60, workdir=tmp_path / "during")
        assert load.exit_code == 0 and load.stats.successful == 4, load.stats
        assert {r.asterisk_node for r in cluster.rows(callers).values()} == {"b"}
        # a's calls: untouched until a is declared dead (10 s unseen), then closed by b as node_lost
        assert all(r.ended_at is None for r in cluster.rows(list(on_a)).values())
        def a_closed() -> dict[str, Call] | None:
            found = cluster.rows(list(on_a))
            return found if all(r.ended_at for r in found.values()) else None
        closed = wait_for(a_closed, 60, "node b to close node a's calls")
        _figures("link down", closed_by_b=time.monotonic() - cut)
        assert time.monotonic() - cut >= 10, "closed before node a was declared dead"
        # closed as far as each call had got (README: Scaling out), never left in progress
        assert "in_progress" not in {r.disposition for r in closed.values()}, closed
        assert all(r.ended_at is None for r in cluster.rows(list(on_b)).values())
    finally:
        set_link(net, up=True)
    wait_for(lambda: cluster.dispatcher().get(net.address) == "AP", 30, "node a to rejoin after its link is back")
    for process in calls.values():
        process.terminate()


def test_a_dead_nodes_message_becomes_a_ticket_through_the_survivor(cluster: Cluster, tmp_path: Path) -> None:
    """Two callers leave a message (key 0, no operator: voicemail), one on each node. Node a's link is cut while
    its caller is still on the line after speaking: node b, once it declared a dead, closes the call as a message
    and the message, in the shared recordings root, becomes one ticket, transcribed in Vietnamese. Node b's
    caller is untouched meanwhile; its message is a ticket when the line is hung up."""
    from hotline.adapters.prompts import prompt_duration
    from tests.support.speech_vi import joined_message, samples, score
    from tooling.sipp.scenario import Keys, Speak

    prompts = cluster.state / "prompts"

    def seconds(*names: str) -> float:
        return sum(prompt_duration(prompts / f"{name}.wav") for name in names)
    sentences = samples()[2:4]
    # Asterisk writes a recording through a 32 KiB buffer (2.05 s of audio): until the file is closed, that much
    # of the end is not on the shared storage, and is lost with a node that dies. The caller stays silent for
    # 2.5 s after speaking (RTP silence, which is recorded), so what is lost is silence.
    message = joined_message(tmp_path / "vi.wav", sentences, pause=2.5)
    speech = prompt_duration(message)
    script = CallerScript([Wait(seconds("welcome", "recording_notice") + 1.0), Keys("0"),
                           Wait(seconds("to_operator", "operators_busy", "leave_message") + 3.0), Speak(message),
                           AwaitHangup(180)])
    callers = ["0948000000", "0948000001"]       # one after the other: round robin puts one on each node
    calls = {c: start_caller(host_address(), SIP_PORT, "1022", script, caller=c, workdir=tmp_path / c)
             for c in callers}
    ctx = load_context(env=cluster.env)
    sessions = ctx.sessions()
    tickets = ctx.tickets(sessions)

    def spoken() -> dict[str, Call] | None:
        """Each caller's message holds the speech on disk (8 kHz 16-bit: 16,000 bytes a second, less the
        buffer)."""
        rows = cluster.rows(callers)
        if len(rows) < 2:
            return None
        for row in rows.values():
            found = list((cluster.base / "recordings").rglob(f"{row.call_id}.voicemail.wav"))
            if not found or found[0].stat().st_size < 44 + 16000 * speech - BUFFER:
                return None
        return rows
    try:
        rows = wait_for(spoken, 120, "both callers to have spoken their message")
        on = {r.asterisk_node: r for r in rows.values()}
        assert set(on) == {"a", "b"}, {c: r.asterisk_node for c, r in rows.items()}
        net = NodeNet("a", 1)
        cut = time.monotonic()
        set_link(net, up=False)
        try:
            closed = wait_for(lambda: (r := cluster.rows([on["a"].caller])[on["a"].caller]).ended_at and r, 60,
                              "node b to close node a's call")
            assert time.monotonic() - cut >= 10, "closed before node a was declared dead"
            assert closed.disposition == "voicemail", closed.disposition
            assert cluster.rows([on["b"].caller])[on["b"].caller].ended_at is None, "node b's caller was cut off"
        finally:
            set_link(net, up=True)
        wait_for(lambda: cluster.dispatcher().get(net.address) == "AP", 30, "node a to rejoin")

        def heard(call_id: str) -> dict | None:
            ticket = next((t for t in tickets.list(limit=500) if t["call_id"] == call_id), None)
            vm = (ticket or {}).get("voicemail") or {}
            return ticket if vm.get("status") in ("transcribed", "no_speech", "failed") else None
        ticket = wait_for(lambda: heard(on["a"].call_id), 120, "node a's message to be a transcribed ticket")
        vm = ticket["voicemail"]
        assert speech - BUFFER / 16000 <= vm["duration"] <= speech + 6.0, (vm["duration"], speech)
        got = score([s.text for s in sentences], vm["transcript"])
        assert vm["status"] == "transcribed" and got.wer <= 0.3 and not got.missing, (got, vm["transcript"])
    finally:
        for process in calls.values():
            process.terminate()
    cluster.end_calls()
    # node b's caller, hung up while recording: its message is a ticket too; node a's, back, is not made twice
    assert wait_for(lambda: heard(on["b"].call_id), 120, "node b's message to be a ticket")["voicemail"]["duration"] \
        >= speech - 0.5
    assert [t["call_id"] for t in tickets.list(limit=500)].count(on["a"].call_id) == 1
    assert cluster.rows([on["a"].caller])[on["a"].caller].disposition == "voicemail"


def _phone_ports(used: set[int]) -> tuple[int, int]:
    """A phone's SIP port and media port (SIPp binds media to media + 3) apart from the ports in ``used`` (the
    other phone's: a free-port check on loopback does not see a port bound on 10.22.0.1)."""
    from tooling.sipp.process import free_media_port, free_udp_port
    while True:
        port, media = free_udp_port(), free_media_port()
        taken = {port, *range(media, media + 4)}
        if len(taken) == 5 and not taken & used:
            used |= taken
            return port, media


def _last_ends(cluster: Cluster) -> dict[tuple[str, str], float]:
    """When each operator's last queue call ended: per node (``(node, operator)``) and on any (``("*", op)``)."""
    from sqlalchemy import func, select
    ctx = load_context(env=cluster.env)
    with ctx.sessions()() as s:
        rows = s.execute(select(Call.asterisk_node, Call.operator, func.max(Call.ended_at))
                         .where(Call.operator.in_(OPERATORS), Call.ended_at.is_not(None))
                         .group_by(Call.asterisk_node, Call.operator)).all()
    ends: dict[tuple[str, str], float] = {}
    for node, op, ended in rows:
        ends[(node or "", op)] = ended.timestamp()
        ends[("*", op)] = max(ends.get(("*", op), 0.0), ended.timestamp())
    return ends


def _closed_row(cluster: Cluster, caller: str) -> Call:
    def closed() -> Call | None:
        row = cluster.rows([caller]).get(caller)
        return row if row is not None and row.ended_at else None
    return wait_for(closed, 20, f"the call of {caller} to be closed")


def test_kamailio_restarted_takes_calls_again_and_keeps_registrations(cluster: Cluster, tmp_path: Path) -> None:
    """Kamailio's list starts with the nodes disabled: after Kamailio itself is killed and restarted by the
    supervisor, the gate must enable them again; the registrations, written through to PostgreSQL, stay."""
    from hotline.config.secrets import load_or_create_secrets
    from tests.support.sip_register import register
    from tooling.sipp.process import free_udp_port
    secrets = load_or_create_secrets(cluster.state)
    port = free_udp_port()
    assert register("desk-d01", secrets.endpoint_password("desk-d01"), (host_address(), port),
                    (host_address(), SIP_PORT)) == 200
    pid = int((cluster.state / "pids" / "kamailio.pid").read_text())
    killed = time.monotonic()
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: int((cluster.state / "pids" / "kamailio.pid").read_text()) != pid
             and set(cluster.dispatcher().values()) == {"AP"} and len(cluster.dispatcher()) == 2, 30,
             "Kamailio restarted with both nodes taking calls")
    _figures("kamailio killed", back=time.monotonic() - killed)
    result = start_caller(host_address(), SIP_PORT, "1022", CallerScript([Wait(2)]), caller="0947000001",
                          workdir=tmp_path / "after").result()
    assert result.ok, result.problems
    found = subprocess.run(["kamcmd", "-s", f"unix:{cluster.state / 'kamailio' / 'ctl.sock'}", "ul.lookup",
                            "location", "desk-d01"], capture_output=True, text=True, timeout=10).stdout
    assert f"sip:desk-d01@{host_address()}:{port}" in found, found
    # the gate of real servers (`hotline cluster gate`) reads the same: both applications connected, both in
    done = _gate_once(cluster)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ("node a: application connected, Kamailio AP; "
                                   "node b: application connected, Kamailio AP"), done.stdout


def _wallboard_shows_both_nodes(cluster: Cluster) -> None:
    """The floor as the console's wallboard reads it (``read_floor``: every node's monitor snapshot, summed)."""
    import redis

    from operator_console.wallboard import read_floor
    ctx = load_context(env=cluster.env)
    client = redis.Redis.from_url(ctx.redis_url, socket_timeout=2)

    def both() -> dict | None:
        floor = read_floor(client, ctx.settings.redis.live_channel, ctx.settings.cluster.dead_after)
        nodes = {n["node"]: n for n in (floor or {}).get("nodes", [])}
        ready = (set(nodes) == {"a", "b"} and all(not n["stale"] and n["operators"] == 2 for n in nodes.values())
                 and floor is not None and {(o["operator"], o["node"]) for o in floor["operators"]}
                 == {(op, node) for op in OPERATORS for node in "ab"})
        return floor if ready else None
    try:
        wait_for(both, 15, "the wallboard to show both operators on both nodes")
    finally:
        client.close()


def _node_env(cluster: Cluster, node: str) -> dict[str, str]:
    """The environment of node ``node``'s processes, as `hotline cluster up` gives it (for the CLI)."""
    from tooling.system.cluster import nodes
    shared = load_context(env=cluster.env).settings
    members = nodes(cluster.state)
    member = next(m for m in members if m.name == node)
    return {**cluster.env, **member.env(shared, members)}


def test_one_pool_of_operators_serves_both_nodes_longest_idle_first(cluster: Cluster, tmp_path: Path) -> None:
    from hotline.adapters.prompts import prompt_duration
    from hotline.config.secrets import load_or_create_secrets
    from tests.support.sip_register import register
    from tooling.sipp.process import free_udp_port
    from tooling.sipp.runner import start_uas
    from tooling.sipp.scenario import Keys

    secrets = load_or_create_secrets(cluster.state)
    phones = {}
    used: set[int] = set()
    for name in OPERATORS:
        port, media = _phone_ports(used)
        earlier = free_udp_port()
        # a phone that registered before from another port (restarted, or a NAT's new mapping) is replaced
        assert register(name, secrets.endpoint_password(name), (host_address(), earlier),
                        (host_address(), SIP_PORT)) == 200
        assert register(name, "not-the-password", (host_address(), port), (host_address(), SIP_PORT)) == 401
        status = register(name, secrets.endpoint_password(name), (host_address(), port), (host_address(), SIP_PORT))
        assert status == 200, f"{name}'s phone could not register with Kamailio: {status}"
        phones[name] = start_uas(port, ring_seconds=0.5, talk_seconds=4, hangup="local", local_ip=host_address(),
                                 media_port=media, workdir=tmp_path / name)
    env = _node_env(cluster, "a")
    try:
        for name in OPERATORS:
            done = subprocess.run([sys.executable, "-m", "hotline.cli.main", "operators", "login", name], cwd=ROOT,
                                  env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-2000:]
        _wallboard_shows_both_nodes(cluster)
        prompts = cluster.state / "prompts"       # the menu starts after these; the next caller's wrap-up (1 s) is over
        ivr = sum(prompt_duration(prompts / f"{name}.wav") for name in ("welcome", "recording_notice")) + 1.0
        served: list[tuple[str, str, str]] = []      # (node, operator, the longest idle by the cluster's order)
        telling = []     # calls where the node's own order (only the calls it put through) names another operator
        for i in range(4):
            caller = f"09460000{i:02d}"
            # the truth from the call log: every call an operator took, on either node, by any test before
            ends = _last_ends(cluster)
            expected = min(OPERATORS, key=lambda n: (ends.get(("*", n), 0.0), n))
            result = start_caller(host_address(), SIP_PORT, "1022", CallerScript([Wait(ivr), Keys("0"),
                                  AwaitHangup(40)]), caller=caller, workdir=tmp_path / caller).result()
            assert result.ok, result.problems
            row = _closed_row(cluster, caller)
            assert row.operator in OPERATORS, (caller, row.disposition, row.operator)
            node = row.asterisk_node or ""
            served.append((node, row.operator or "", expected))
            own = {op: ends.get((node, op), 0.0) for op in OPERATORS}
            if len(set(own.values())) > 1 and min(own, key=lambda o: own[o]) != expected:
                telling.append(caller)
        assert [op for _n, op, _e in served] == [e for _n, _op, e in served], served
        # a,b,a,b (round robin): the third caller's node put op-lan's call through, not op-minh's, and would ring
        # op-minh by its own order; the cluster's order says op-lan (test fails without monitor/pool.py)
        assert telling, f"no call told the cluster's order from each node's own: {served}"
        assert {n for n, _op, _e in served} == {"a", "b"}, served
    finally:
        for name in OPERATORS:
            subprocess.run([sys.executable, "-m", "hotline.cli.main", "operators", "logout", name], cwd=ROOT, env=env,
                           capture_output=True)
        for phone in phones.values():
            phone.terminate()
    for phone in phones.values():
        assert phone.invites == phone.answered, "a phone was rung while it was in a call"


def _ivr_seconds(cluster: Cluster) -> float:
    """How long a caller hears the menu's opening before key 0 is taken."""
    from hotline.adapters.prompts import prompt_duration
    prompts = cluster.state / "prompts"
    return sum(prompt_duration(prompts / f"{name}.wav") for name in ("welcome", "recording_notice")) + 1.0


def _browser_answers(cluster: Cluster, page: object, caller: str, speech: Path, tmp_path: Path, *, at: str,
                     desk: object = None) -> Call:
    """A caller presses 0 at ``at`` (an address) and speaks (about 30 s); the browser rings with their number,
    the operator answers, audio flows both ways on the node's WebRTC channel, then the operator hangs up, or
    sends the caller on to ``desk`` (department 02's SIPp phone, which hangs up after a few seconds). Returns
    the closed row."""
    from tests.integration.test_console_softphone import channel_rtp
    from tooling.sipp.scenario import Keys, Speak
    process = start_caller(at, SIP_PORT, "1022", CallerScript([Wait(_ivr_seconds(cluster)), Keys("0"),
                           Speak(speech), Speak(speech), Speak(speech), AwaitHangup(60)]), caller=caller,
                           workdir=tmp_path / caller)
    try:
        page.wait_for_selector('#call-card[data-state="ringing"]', timeout=60_000)      # type: ignore[attr-defined]
        assert page.text_content("#caller") == caller                                   # type: ignore[attr-defined]
        node = wait_for(lambda: cluster.rows([caller]).get(caller), 10, "the call's row").asterisk_node or ""
        page.click("#btn-answer")                                                        # type: ignore[attr-defined]
        page.wait_for_selector('#call-card[data-state="talking"]')                       # type: ignore[attr-defined]
        stats = [""]

        def both_ways() -> bool:
            stats[0] = cluster.node_rx(node, "pjsip show channelstats")
            received, sent = channel_rtp(stats[0], WEB_OPERATOR)
            return received > 50 and sent > 50
        try:
            wait_for(both_ways, 20, f"RTP both ways between the browser and node {node}")
        except AssertionError:
            raise AssertionError(f"no RTP both ways between the browser and node {node}: {stats[0]}") from None
        if desk is None:
            page.click("#btn-hangup")                                                    # type: ignore[attr-defined]
        else:       # the console beside node a makes the transfer on the call's own node
            page.fill("#xfer-search", "department:02")                                   # type: ignore[attr-defined]
            page.click("#btn-blind")                                                     # type: ignore[attr-defined]
            wait_for(lambda: desk.answered == 1, 30, "the desk to answer the transfer")   # type: ignore[attr-defined]
        page.wait_for_selector('#call-card[data-state="ended"]')                         # type: ignore[attr-defined]
        result = process.result(90)
        assert result.ok and result.ended_by_remote, result.problems
    finally:
        process.terminate()
    row = _closed_row(cluster, caller)
    assert row.operator == WEB_OPERATOR and row.queue_answered_at and row.disposition == "answered", \
        (row.operator, row.disposition)
    return row


def _desk_phone(cluster: Cluster, endpoint: str, tmp_path: Path) -> Any:
    """A desk's SIPp phone registered with Kamailio: it rings 1 s, talks 4 s and hangs up."""
    from hotline.config.secrets import load_or_create_secrets
    from tests.support.sip_register import register
    from tooling.sipp.runner import start_uas
    port, media = _phone_ports(set())
    status = register(endpoint, load_or_create_secrets(cluster.state).endpoint_password(endpoint),
                      (host_address(), port), (host_address(), SIP_PORT))
    assert status == 200, f"{endpoint} could not register with Kamailio: {status}"
    return start_uas(port, ring_seconds=1, talk_seconds=4, hangup="local", local_ip=host_address(), media_port=media,
                     workdir=tmp_path / endpoint)


def _transfers(cluster: Cluster, row: Call) -> list[Any]:
    from sqlalchemy import select

    from hotline.adapters.db.models import Transfer
    with load_context(env=cluster.env).sessions()() as s:
        found = list(s.scalars(select(Transfer).where(Transfer.call_id == row.id)))
        s.expunge_all()
    return found


def _handshake(cluster: Cluster, origin: str) -> str:
    """The status line Kamailio's WebSocket answers a handshake from a page of ``origin`` with."""
    import socket
    port = load_context(env=cluster.env).settings.cluster.websocket_port
    with socket.create_connection((host_address(), port), timeout=5) as conn:
        conn.sendall(f"GET / HTTP/1.1\r\nHost: {host_address()}:{port}\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\nOrigin: {origin}\r\n\r\n"
                     .encode())
        return conn.recv(200).decode(errors="replace").split("\r\n", 1)[0]


def test_the_browser_softphone_answers_both_nodes_and_outlives_node_a(cluster: Cluster, speech: Path,
                                                                     tmp_path: Path) -> None:
    """The console's softphone registers once, with Kamailio over its WebSocket: a caller who reached node b is
    answered in the browser; node a's Asterisk is killed; the next caller is still answered in the browser (the
    registration was never node a's). A page from another origin cannot open the WebSocket."""
    from tests.support.browser import MEDIA_ARGS, chromium_page, shot, sign_in
    user, password = "hoa.web", "mật-khẩu-thử-nghiệm"
    added = subprocess.run([sys.executable, "-m", "hotline.cli.main", "users", "add", user, "--name",
                            "Trần Thị Hoa", "--role", "operator", "--operator", WEB_OPERATOR, "--password", password],
                           cwd=ROOT, env=cluster.env, capture_output=True, text=True)
    assert added.returncode == 0, added.stderr[-2000:]
    ctl = f"unix:{cluster.state / 'kamailio' / 'ctl.sock'}"
    # the WebSocket, opened from a page that is not the console's, is refused before any SIP
    assert _handshake(cluster, "http://attacker.example").startswith("HTTP/1.1 403")
    assert _handshake(cluster, cluster.console).startswith("HTTP/1.1 101")
    desk = _desk_phone(cluster, "desk-d02", tmp_path)
    with desk, chromium_page("cluster-softphone", *MEDIA_ARGS, permissions=("microphone",)) as page:
        sign_in(page, cluster.console, user, password)
        page.goto(cluster.console + "/phone/")
        page.wait_for_selector('#reg-state[data-state="registered"]')
        found = subprocess.run(["kamcmd", "-s", ctl, "ul.lookup", "location", WEB_OPERATOR], capture_output=True,
                               text=True, timeout=10).stdout
        assert "transport=ws" in found, found        # registered with Kamailio, over the browser's WebSocket
        page.click("#btn-available")
        page.wait_for_selector('#op-state[data-state="available"]')
        try:
            # a caller who reached node b straight (as one whose call Kamailio gave b), sent on to department 02's
            # desk, whose phone registered with Kamailio
            row = _browser_answers(cluster, page, "0949000001", speech, tmp_path, at=NodeNet("b", 2).address,
                                   desk=desk)
            assert row.asterisk_node == "b"
            [transfer] = _transfers(cluster, row)
            assert (transfer.kind, transfer.target, transfer.requested_by, transfer.outcome) == \
                ("blind", "department:02", WEB_OPERATOR, "answered")
            shot(page, "cluster-softphone-after-node-b")
            killed = time.monotonic()
            pid = cluster.asterisk_pid("a")
            os.kill(pid, signal.SIGKILL)
            address = NodeNet("a", 1).address

            def next_call_can_come() -> bool:
                """Node a left out by Kamailio (its watchdog does so before restarting it, the gate lets it in again
                once its application is connected), or back with its application and the operator in its queue
                again (its restart puts the logins back): either way the next caller has a way to the browser."""
                if cluster.dispatcher().get(address, "AP") != "AP":
                    return True
                found = cluster.asterisk_pids("a")
                return bool(found and found[0] != pid and WEB_OPERATOR in cluster.node_rx("a", "queue show")
                            and "hotline" in cluster.node_rx("a", "ari show apps").split())
            wait_for(next_call_can_come, 10, "node a left out, or back with the operator")
            ready = time.monotonic() - killed
            # through Kamailio, as a citizen calls: still answered in the same page, which never re-registered
            row = _browser_answers(cluster, page, "0949000002", speech, tmp_path, at=host_address())
            _record(f"browser softphone: next caller through Kamailio answered in the same page on node "
                    f"{row.asterisk_node} (node a out or back {ready:.2f} s after its SIGKILL)")
            assert page.get_attribute("#reg-state", "data-state") == "registered"
        finally:
            subprocess.run([sys.executable, "-m", "hotline.cli.main", "operators", "logout", WEB_OPERATOR], cwd=ROOT,
                           env=_node_env(cluster, "a"), capture_output=True)
    # the tab closed: its WebSocket gone, Kamailio forgets the registration (a node rings nobody)
    wait_for(lambda: "transport=ws" not in subprocess.run(["kamcmd", "-s", ctl, "ul.lookup", "location",
                                                           WEB_OPERATOR], capture_output=True, text=True,
                                                          timeout=10).stdout, 40, "the browser's registration to end")
    wait_for(lambda: cluster.dispatcher().get(NodeNet("a", 1).address) == "AP", 30, "node a to rejoin")


def test_kamailio_relays_nothing_inside_a_call_that_no_node_is_in(cluster: Cluster) -> None:
    """A forged request "inside a call" (a To tag and Kamailio's Route, both easy to write) toward an address of the
    sender's choice is refused (403) and never reaches it: straight, or through a WebSocket contact's alias."""
    import secrets
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as target, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        target.bind((host_address(), 0))
        sender.bind((host_address(), 0))
        target.settimeout(2)
        sender.settimeout(5)
        port, source = target.getsockname()[1], sender.getsockname()[1]
        for uri in (f"sip:victim@{host_address()}:{port}",
                    f"sip:victim@somewhere.invalid;alias={host_address()}~{port}~1"):
            request = (f"BYE {uri} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP {host_address()}:{source};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
                       f"Route: <sip:{host_address()}:{SIP_PORT};lr>\r\nMax-Forwards: 70\r\n"
                       f"From: <sip:a@{host_address()}>;tag={secrets.token_hex(4)}\r\n"
                       f"To: <sip:victim@{host_address()}>;tag={secrets.token_hex(4)}\r\n"
                       f"Call-ID: {secrets.token_hex(12)}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n")
            sender.sendto(request.encode(), (host_address(), SIP_PORT))
            answer = sender.recv(65535).decode(errors="replace")
            assert answer.startswith("SIP/2.0 403"), (uri, answer[:200])
            with pytest.raises(TimeoutError):
                target.recv(65535)          # nothing was relayed to the sender's chosen address
