"""The gate between Kamailio's list and the nodes' call applications (hotline/services/node_gate.py).

Kamailio and the nodes' applications stand behind two callables here; the cluster tests run the same gate
against the real ones (tests/integration/test_cluster.py). ``BeatWatch`` reads a real database."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotline.adapters.db import open_database
from hotline.adapters.db.cluster import ClusterRepository
from hotline.services.node_gate import BeatWatch, GateNode, NodeGate

A = GateNode("a", "10.22.0.11:5060")
B = GateNode("b", "10.22.0.12:5060")
ROOT = Path(__file__).resolve().parents[2]


class Kamailio:
    """Kamailio's dispatcher list as the gate reads and changes it (``host:port`` -> flags)."""

    def __init__(self, flags: dict[str, str], takes: bool = True) -> None:
        self.flags, self.told, self.takes = flags, [], takes

    def states(self) -> dict[str, str]:
        return dict(self.flags)

    def set_state(self, node: str, state: str) -> bool:
        self.told.append((node, state))
        if self.takes:
            self.flags[node] = {"ap": "AP", "d": "DX"}[state]
        return self.takes


def _gate(kamailio: Kamailio, up: dict[str, bool], announced: list[str] | None = None) -> NodeGate:
    return NodeGate([A, B], lambda n: up[n.name], kamailio.states, kamailio.set_state,
                    on_all_in=(lambda: announced.append("in")) if announced is not None else None)


def test_a_node_is_let_in_when_its_application_is_connected_and_the_banner_comes_once() -> None:
    kamailio = Kamailio({A.sip: "DX", B.sip: "DX"})     # the list as rendered: every node disabled
    up = {"a": True, "b": False}
    announced: list[str] = []
    gate = _gate(kamailio, up, announced)
    look = gate.look()
    assert kamailio.told == [(A.sip, "ap")]
    assert look.nodes == {"a": (True, "DX", "let in"), "b": (False, "DX", "")} and announced == []
    up["b"] = True
    gate.look()
    gate.look()
    assert kamailio.told[1:] == [(B.sip, "ap")] and announced == ["in"]
    assert "node b: application connected, Kamailio DX → let in" in _gate(
        Kamailio({A.sip: "AP", B.sip: "DX"}), up).look().line()


def test_a_node_is_left_out_after_two_looks_without_its_application_then_let_in_again() -> None:
    kamailio = Kamailio({A.sip: "AP", B.sip: "AP"})
    up = {"a": False, "b": True}
    gate = _gate(kamailio, up)
    gate.look()                      # one look away (also the gate's first: a gate restarted) is not enough
    assert kamailio.told == []
    assert gate.look().nodes["a"] == (False, "AP", "left out")
    assert kamailio.told == [(A.sip, "d")]
    gate.look()
    assert kamailio.told == [(A.sip, "d")]        # told once, not at every look
    up["a"] = True
    gate.look()
    assert kamailio.told[-1] == (A.sip, "ap")


def test_every_application_away_at_once_leaves_no_node_out() -> None:
    """The gate's view failing (database away from its machine, a clock stepped) must not empty Kamailio's list:
    every citizen would get 503, where a node without its application still records messages."""
    kamailio = Kamailio({A.sip: "AP", B.sip: "AP"})
    gate = _gate(kamailio, {"a": False, "b": False})
    for _ in range(4):
        look = gate.look()
    assert kamailio.told == [] and look.every_one_away and "every application away: none left out" in look.line()


def test_kamailio_restarted_with_its_list_is_put_right_at_the_next_look() -> None:
    kamailio = Kamailio({A.sip: "AP", B.sip: "AP"})
    gate = _gate(kamailio, {"a": True, "b": True})
    gate.look()
    kamailio.flags = {A.sip: "DX", B.sip: "DX"}     # restarted: its file says disabled
    gate.look()
    assert kamailio.flags == {A.sip: "AP", B.sip: "AP"}


def test_kamailio_silent_changes_nothing_and_says_so() -> None:
    told: list[tuple[str, str]] = []
    gate = NodeGate([A], lambda n: False, lambda: {}, lambda node, state: told.append((node, state)) or True)
    look = gate.look()
    assert not look.kamailio and told == [] and not look.all_in and "Kamailio does not answer" in look.line()


def test_a_refusal_by_kamailio_is_said_and_a_node_it_does_not_list_is_never_told() -> None:
    refusing = Kamailio({A.sip: "DX", B.sip: "DX"}, takes=False)
    look = _gate(refusing, {"a": True, "b": True}).look()
    assert look.nodes["a"] == (True, "DX", "refused by Kamailio") and not look.all_in
    kamailio = Kamailio({A.sip: "AP"})
    gate = _gate(kamailio, {"a": True, "b": False})
    for _ in range(3):
        look = gate.look()
    assert kamailio.told == [] and "node b: application away, Kamailio has no such node" in look.line()


def test_a_check_changes_nothing_and_is_all_in_only_when_every_node_is_active() -> None:
    kamailio = Kamailio({A.sip: "AP", B.sip: "IP"})
    gate = _gate(kamailio, {"a": True, "b": True})
    look = gate.look(change=False)
    assert kamailio.told == [] and not look.all_in       # b's application is connected but Kamailio probes it out
    kamailio.flags[B.sip] = "AP"
    assert gate.look(change=False).all_in


def test_an_unreadable_application_state_leaves_kamailios_list_as_it_is() -> None:
    kamailio = Kamailio({A.sip: "AP", B.sip: "DX"})

    def unreadable(node: GateNode) -> bool:
        raise OSError("could not connect to server")
    gate = NodeGate([A, B], unreadable, kamailio.states, kamailio.set_state)
    for _ in range(3):
        look = gate.look()
    assert kamailio.told == [] and look.nodes["a"] == (None, "AP", "")
    assert "node a: application not known, Kamailio AP" in look.line()


class Clocks:
    """This machine's real time and steady clock, moved by hand."""

    def __init__(self) -> None:
        self.real, self.steady = datetime(2026, 12, 6, 3, 0, tzinfo=UTC), 1000.0

    def move(self, seconds: float) -> None:
        self.real += timedelta(seconds=seconds)
        self.steady += seconds


def test_beats_are_judged_on_this_machines_steady_clock_once_watched(database_url: str) -> None:
    cluster = ClusterRepository(open_database(database_url))
    clocks = Clocks()
    behind = clocks.real - timedelta(seconds=60)     # the nodes' clocks a minute behind this machine's
    cluster.beat("a", behind)
    cluster.beat("b", behind)
    watch = BeatWatch(cluster, 5.0, clock=lambda: clocks.real, steady=lambda: clocks.steady)
    assert watch.names() == ["a", "b"]
    assert not watch(A)                  # first looks: only the clocks can say, and they say a minute old
    for second in range(1, 20):
        clocks.move(1)
        if second % 5 == 0:
            cluster.beat("a", behind + timedelta(seconds=second))       # a beats; b stopped
        watch(A), watch(B)
    assert watch(A) and not watch(B)     # a's beats change, b's do not, whatever the clocks say
    assert not watch(GateNode("c", "10.22.0.13:5060"))
    assert cluster.claim_dead("b", behind + timedelta(seconds=60), dead_after=5) == ["a"]
    clocks.move(1)
    assert not watch(A)                  # declared dead: away, whatever its beats


def _gate_command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin",
           "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/hotline.db"}
    return subprocess.run([sys.executable, "-m", "hotline.cli.main", "cluster", "gate", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_gate_command_refuses_what_it_cannot_use_with_what_to_do(tmp_path: Path) -> None:
    done = _gate_command(tmp_path, "--node", "a-10.0.0.11", "--once")
    assert done.returncode != 0 and "NAME@HOST:PORT" in done.stderr and "a@10.0.0.11:5060" in done.stderr
    done = _gate_command(tmp_path, "--node", "a@10.0.0.11:5060", "--once")     # no database there
    assert done.returncode != 0 and "cannot read the nodes' beats" in done.stderr, done.stderr
    cluster = ClusterRepository(open_database(f"sqlite:///{tmp_path}/hotline.db"))
    cluster.beat("hotline-a", datetime.now(UTC))
    done = _gate_command(tmp_path, "--node", "a@10.0.0.11:5060", "--once")     # README's example name, copied
    assert done.returncode != 0 and "No node named a has ever beaten" in done.stderr, done.stderr
    assert "known: hotline-a" in done.stderr
    done = _gate_command(tmp_path, "--node", "hotline-a@10.0.0.11:5060", "--once", "--ctl",
                         f"unix:{tmp_path}/none.sock")
    assert done.returncode == 1 and "Kamailio does not answer on its control socket" in done.stdout, done
