"""The gate between Kamailio's list and the nodes' call applications (hotline/services/node_gate.py).

Kamailio and the nodes' applications stand behind two callables here; the cluster tests run the same gate
against the real ones (tests/integration/test_cluster.py). ``beating`` reads a real database."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotline.adapters.db import open_database
from hotline.adapters.db.cluster import ClusterRepository
from hotline.services.node_gate import GateNode, NodeGate, beating

A = GateNode("a", "10.22.0.11:5060")
B = GateNode("b", "10.22.0.12:5060")
ROOT = Path(__file__).resolve().parents[2]


class Kamailio:
    """Kamailio's dispatcher list as the gate reads and changes it."""

    def __init__(self, flags: dict[str, str]) -> None:
        self.flags, self.told = flags, []

    def states(self) -> dict[str, str]:
        return dict(self.flags)

    def set_state(self, node: str, state: str) -> bool:
        self.told.append((node, state))
        self.flags[node.rpartition(":")[0]] = {"ap": "AP", "d": "DX"}[state]
        return True


def _gate(kamailio: Kamailio, up: dict[str, bool], announced: list[str] | None = None) -> NodeGate:
    return NodeGate([A, B], lambda n: up[n.name], kamailio.states, kamailio.set_state,
                    on_all_in=(lambda: announced.append("in")) if announced is not None else None)


def test_a_node_is_let_in_when_its_application_is_connected_and_the_banner_comes_once() -> None:
    kamailio = Kamailio({"10.22.0.11": "DX", "10.22.0.12": "DX"})     # the list as rendered: every node disabled
    up = {"a": True, "b": False}
    announced: list[str] = []
    gate = _gate(kamailio, up, announced)
    look = gate.look()
    assert kamailio.told == [("10.22.0.11:5060", "ap")]
    assert look.nodes == {"a": (True, "DX", "let in"), "b": (False, "DX", "")} and announced == []
    up["b"] = True
    gate.look()
    gate.look()
    assert kamailio.told[1:] == [("10.22.0.12:5060", "ap")] and announced == ["in"]
    assert "node b: application connected, Kamailio DX → let in" in _gate(
        Kamailio({"10.22.0.11": "AP", "10.22.0.12": "DX"}), up).look().line()


def test_a_node_is_left_out_after_two_looks_without_its_application_then_let_in_again() -> None:
    kamailio = Kamailio({"10.22.0.11": "AP", "10.22.0.12": "AP"})
    up = {"a": True, "b": True}
    gate = _gate(kamailio, up)
    gate.look()
    up["a"] = False
    gate.look()                      # one slow answer is not enough
    assert kamailio.told == []
    assert gate.look().nodes["a"] == (False, "AP", "left out")
    assert kamailio.told == [("10.22.0.11:5060", "d")]
    gate.look()
    assert kamailio.told == [("10.22.0.11:5060", "d")]        # told once, not at every look
    up["a"] = True
    gate.look()
    assert kamailio.told[-1] == ("10.22.0.11:5060", "ap")


def test_kamailio_restarted_with_its_list_is_put_right_at_the_next_look() -> None:
    kamailio = Kamailio({"10.22.0.11": "AP", "10.22.0.12": "AP"})
    up = {"a": True, "b": True}
    gate = _gate(kamailio, up)
    gate.look()
    kamailio.flags = {"10.22.0.11": "DX", "10.22.0.12": "DX"}     # restarted: its file says disabled
    gate.look()
    assert kamailio.flags == {"10.22.0.11": "AP", "10.22.0.12": "AP"}


def test_kamailio_silent_changes_nothing_and_says_so() -> None:
    told: list[tuple[str, str]] = []
    gate = NodeGate([A], lambda n: False, lambda: {}, lambda node, state: told.append((node, state)) or True)
    look = gate.look()
    assert not look.kamailio and told == [] and "Kamailio does not answer" in look.line()


def test_a_node_kamailio_does_not_list_is_never_told() -> None:
    kamailio = Kamailio({"10.22.0.11": "AP"})
    gate = _gate(kamailio, {"a": True, "b": False})
    for _ in range(3):
        gate.look()
    assert kamailio.told == []


def test_a_node_is_connected_while_its_beats_are_fresh_and_it_is_not_declared_dead(database_url: str) -> None:
    cluster = ClusterRepository(open_database(database_url))
    now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    cluster.beat("a", now - timedelta(seconds=10))          # two beats of 5 s and a second: still fresh
    cluster.beat("b", now - timedelta(seconds=11.5))        # over: away
    connected = beating(cluster, 5.0, clock=lambda: now)
    assert connected(A) and not connected(B) and not connected(GateNode("c", "10.22.0.13:5060"))
    assert cluster.claim_dead("b", now, dead_after=5) == ["a"]      # declared dead by b: away, whatever its time
    assert not connected(A)
    cluster.beat("a", now)                                  # beats again: alive, connected
    assert connected(A)


def _gate_command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin",
           "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path}/hotline.db"}
    return subprocess.run([sys.executable, "-m", "hotline.cli.main", "cluster", "gate", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_gate_command_refuses_a_wrong_node_and_says_when_kamailio_is_silent(tmp_path: Path) -> None:
    done = _gate_command(tmp_path, "--node", "a-10.0.0.11", "--once")
    assert done.returncode != 0 and "NAME@HOST:PORT" in done.stderr and "a@10.0.0.11:5060" in done.stderr
    done = _gate_command(tmp_path, "--node", "a@10.0.0.11:5060", "--once", "--ctl", f"unix:{tmp_path}/none.sock")
    assert done.returncode == 1 and "Kamailio does not answer on its control socket" in done.stdout, done


def test_an_unreadable_application_state_leaves_kamailios_list_as_it_is() -> None:
    """The database away from the gate's machine must not take every node out: nothing is known, nothing
    changes, and the look says so."""
    kamailio = Kamailio({"10.22.0.11": "AP", "10.22.0.12": "DX"})

    def unreadable(node: GateNode) -> bool:
        raise OSError("could not connect to server")
    gate = NodeGate([A, B], unreadable, kamailio.states, kamailio.set_state)
    for _ in range(3):
        look = gate.look()
    assert kamailio.told == [] and look.nodes["a"] == (None, "AP", "")
    assert "node a: application not known, Kamailio AP" in look.line()
