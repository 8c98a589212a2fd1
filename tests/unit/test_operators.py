"""The operator service's database side (SQLite and PostgreSQL), its queue view, and its rendered endpoints.

The queue here is a recording stand-in: the real app_queue over AMI is exercised by
tests/integration/test_operators.py.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.adapters.ami import QueueMember
from hotline.adapters.asterisk_config import render
from hotline.adapters.db import open_database
from hotline.adapters.db.models import OperatorEvent
from hotline.adapters.queue_sounds import REQUIRED, REQUIRED_DIGITS, load_queue_sounds
from hotline.config.secrets import load_or_create_secrets
from hotline.context import load_context
from hotline.domain.vocabulary import OperatorState
from hotline.services.operators import OperatorEndpoint, OperatorError, OperatorService


class FixedClock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def offset_seconds(self) -> float:
        return 0.0


class RecordingQueue:
    """Keeps members like app_queue would; ``live=False`` plays Asterisk being down."""

    def __init__(self) -> None:
        self.members_: dict[str, QueueMember] = {}
        self.calls: list[tuple[str, ...]] = []
        self.live = True

    def add(self, name: str, paused: bool = False, reason: str | None = None) -> None:
        self.calls.append(("add", name, str(paused)))
        self.members_[name] = _member(name, paused=paused, reason=reason or "")

    def remove(self, name: str) -> None:
        self.calls.append(("remove", name))
        self.members_.pop(name, None)

    def pause(self, name: str, paused: bool, reason: str | None = None) -> None:
        self.calls.append(("pause", name, str(paused)))
        self.members_[name] = _member(name, paused=paused, reason=reason or "")

    def members(self) -> list[QueueMember] | None:
        return list(self.members_.values()) if self.live else None


def _member(name: str, paused: bool = False, reason: str = "", status: str = "not_in_use", in_call: bool = False,
            last_call: int = 0) -> QueueMember:
    return QueueMember(name, f"PJSIP/{name}", f"PJSIP/{name}", status, paused, reason, in_call, 0, last_call, 0)


@pytest.fixture()
def service(database_url: str, tmp_path: Path) -> OperatorService:
    sessions = open_database(database_url)
    return OperatorService(sessions, load_or_create_secrets(tmp_path), FixedClock(), RecordingQueue(),
                           wrapup_seconds=15, reserved={"desk-d01"})


def test_add_list_remove_with_generated_password(service: OperatorService) -> None:
    endpoint, password = service.add("op-lan", "Nguyễn Thị Lan")
    assert endpoint == OperatorEndpoint("op-lan", "Nguyễn Thị Lan", None)
    assert len(password) >= 20 and password == service.secrets.endpoint_password("op-lan")
    service.add("op-binh", "Trần Văn Bình", contact="sip:op-binh@127.0.0.1:15081")
    assert [e.name for e in service.endpoints()] == ["op-binh", "op-lan"]
    with pytest.raises(OperatorError, match="already exists"):
        service.add("op-lan", "Lan")
    service.remove("op-lan")
    assert [e.name for e in service.endpoints()] == ["op-binh"]
    again, again_pw = service.add("op-lan", "Nguyễn Thị Lan (ca tối)")   # re-activated, same account
    assert again.display_name.endswith("(ca tối)") and again_pw == password


@pytest.mark.parametrize("name", ["Op Lan", "x", "desk-d01", "anonymous", "op/lan"])
def test_bad_names_are_refused(service: OperatorService, name: str) -> None:
    with pytest.raises(OperatorError):
        service.add(name, "Lan")


def test_bad_contact_is_refused(service: OperatorService) -> None:
    with pytest.raises(OperatorError, match="not a SIP address"):
        service.add("op-lan", "Lan", contact="127.0.0.1:5060")


def test_every_state_change_is_an_event_and_reaches_the_queue(service: OperatorService) -> None:
    queue = service.queue
    assert isinstance(queue, RecordingQueue)
    service.add("op-lan", "Nguyễn Thị Lan")
    with pytest.raises(OperatorError, match="not logged in"):
        service.pause("op-lan", "break")
    service.login("op-lan")
    with pytest.raises(OperatorError, match="already logged in"):
        service.login("op-lan")
    with pytest.raises(OperatorError, match="not a pause reason"):
        service.pause("op-lan", "lunch")
    service.pause("op-lan", "training")
    assert [(s.state, s.reason) for s in service.states()] == [(OperatorState.PAUSED, "training")]
    service.resume("op-lan")
    service.logout("op-lan")
    assert queue.calls == [("add", "op-lan", "False"), ("pause", "op-lan", "True"), ("pause", "op-lan", "False"),
                           ("remove", "op-lan")]
    with service.sessions() as s:
        events = [(e.state, e.reason) for e in s.scalars(select(OperatorEvent).order_by(OperatorEvent.id))]
    assert events == [("available", None), ("paused", "training"), ("available", None), ("logged_out", None)]
    assert service.states()[0].state == OperatorState.LOGGED_OUT


def test_states_merge_the_queue_view(service: OperatorService) -> None:
    queue = service.queue
    assert isinstance(queue, RecordingQueue)
    for name in ("op-a", "op-b", "op-c", "op-d"):
        service.add(name, name.upper())
    for name in ("op-a", "op-b", "op-c"):
        service.login(name)
    queue.members_["op-b"] = _member("op-b", status="in_use", in_call=True)
    queue.members_["op-c"] = _member("op-c", last_call=int(time.time()) - 3)
    states = {s.name: s for s in service.states()}
    assert {n: s.state for n, s in states.items()} == {"op-a": "available", "op-b": "on_call", "op-c": "wrap_up",
                                                       "op-d": "logged_out"}
    assert states["op-a"].in_queue is True and states["op-d"].in_queue is False
    queue.live = False          # Asterisk down: the database's word, marked unknown
    states = {s.name: s for s in service.states()}
    assert states["op-a"].state == "available" and states["op-a"].in_queue is None
    assert states["op-a"].to_json()["since"].startswith("2026-11-25T03:00")


def test_restore_logins_puts_logged_in_operators_back(service: OperatorService) -> None:
    queue = service.queue
    assert isinstance(queue, RecordingQueue)
    for name in ("op-a", "op-b", "op-c"):
        service.add(name, name)
    service.login("op-a")
    service.login("op-b")
    service.pause("op-b", "meeting")
    queue.members_.clear()       # Asterisk restarted: its queue is empty
    queue.calls.clear()
    assert service.restore_logins() == ["op-a", "op-b"]
    assert queue.calls == [("add", "op-a", "False"), ("add", "op-b", "True")]
    assert queue.members_["op-b"].paused and queue.members_["op-b"].paused_reason == "meeting"


def test_operators_are_endpoints_and_the_queue_is_configured(tmp_path: Path) -> None:
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec")}
    ctx = load_context(env=env)
    ops = [OperatorEndpoint("op-lan", 'Nguyễn "Lan"', None),
           OperatorEndpoint("op-binh", "Trần Văn Bình", "sip:op-binh@127.0.0.1:15081")]
    conf_dir = render(ctx.settings, ctx.secrets, ctx.directory, tmp_path / "conf", operators=ops).parent
    pjsip = (conf_dir / "pjsip.conf").read_text()
    assert "[op-lan](operator-common)" in pjsip and "callerid = \"Nguyễn 'Lan'\" <op-lan>" in pjsip
    assert f"password = {ctx.secrets.endpoint_password('op-lan')}" in pjsip
    assert "contact = sip:op-binh@127.0.0.1:15081" in pjsip
    assert "allow = opus" in pjsip and "webrtc = yes" in pjsip     # WebRTC: where it goes, commented
    queues = (conf_dir / "queues.conf").read_text()
    for line in ("[hotline]", "strategy = leastrecent", "timeout = 15", "retry = 2", "wrapuptime = 15",
                 "ringinuse = no", "autopause = no", "announce-frequency = 30", "announce-position = yes",
                 "announce-holdtime = yes", "context = hotline-queue-keys", "musicclass = default",
                 "persistentmembers = no", "shared_lastcall = yes", "joinempty = paused,invalid,unavailable",
                 "leavewhenempty = paused,invalid,unavailable", "setinterfacevar = yes"):
        assert f"\n{line}" in queues, line
    data = Path(ctx.settings.paths.state_dir) / "asterisk-data"
    assert f"astdatadir => {data}" in (conf_dir / "asterisk.conf").read_text()
    assert (data / "sounds" / "vi").resolve() == (Path(ctx.settings.paths.state_dir) / "sounds" / "vi").resolve()
    assert str((data / "moh").readlink()) == "/usr/share/asterisk/moh"


def test_queue_sounds_cover_what_app_queue_plays() -> None:
    sounds, digits = load_queue_sounds()
    assert set(REQUIRED) <= set(sounds) and set(REQUIRED_DIGITS) <= set(digits)
    assert sounds["queue-thereare"] == "Quý vị đang ở vị trí số"
    assert "nhấn phím 1" in sounds["queue-periodic-announce"]
    assert digits["5a"] == "lăm" and digits["1a"] == "mốt"


class DownQueue(RecordingQueue):
    """A node whose Asterisk does not answer."""

    def add(self, name: str, paused: bool = False, reason: str | None = None) -> None:
        from hotline.adapters.ami import AmiUnavailable
        raise AmiUnavailable("node b: connection refused")

    pause = remove = add     # type: ignore[assignment]

    def members(self) -> list[QueueMember] | None:
        return None


def test_on_a_cluster_every_node_s_queue_gets_the_operator(database_url: str, tmp_path: Path) -> None:
    from hotline.services.operators import ClusterQueueMembers
    own, peer, down = RecordingQueue(), RecordingQueue(), DownQueue()
    queue = ClusterQueueMembers(own, [down, peer])
    service = OperatorService(open_database(database_url), load_or_create_secrets(tmp_path), FixedClock(), queue,
                              wrapup_seconds=15)
    service.add("op-lan", "Lan")
    service.login("op-lan")
    service.pause("op-lan", "break")
    service.resume("op-lan")
    service.logout("op-lan")
    assert own.calls == peer.calls and [c[0] for c in peer.calls] == ["add", "pause", "pause", "remove"]
    assert queue.members() == own.members()
    service.login("op-lan")
    own.live = False
    # this node's Asterisk down (restarting): the console still shows the operators, from another node's queue
    assert [m.name for m in queue.members() or []] == ["op-lan"]
    peer.live = False
    assert queue.members() is None      # no node answers


def test_on_a_cluster_this_node_down_still_tells_the_others_and_fails_only_when_none_took_it() -> None:
    """The console runs beside node a: with node a's Asterisk down, an operator's login must still reach node b's
    queue (it used to stop at node a's error)."""
    from hotline.adapters.ami import AmiUnavailable
    from hotline.services.operators import ClusterQueueMembers
    peer = RecordingQueue()
    ClusterQueueMembers(DownQueue(), [peer]).add("op-lan")
    ClusterQueueMembers(DownQueue(), [peer]).pause("op-lan", True, "break")
    assert [c[0] for c in peer.calls] == ["add", "pause"]
    with pytest.raises(AmiUnavailable):
        ClusterQueueMembers(DownQueue(), [DownQueue()]).add("op-lan")


def test_on_a_cluster_a_transfer_is_made_on_the_node_the_call_is_on() -> None:
    """The console runs beside node a: a call on node b is transferred by node b's Asterisk (node a has no
    channel of it); a call of no known node, by this node's."""
    from hotline.config.settings import load_settings
    from hotline.domain.directory import load_directory
    from hotline.services.transfers import TransferRequest, TransferService

    asked: list[str] = []

    def runner(node: str) -> object:
        def run(work: object) -> str:
            asked.append(node)
            return f"PJSIP/op-lan-{node}"
        return run
    directory = load_directory(load_settings(env={}).paths.directory)
    service = TransferService(directory, runner("a"), {"a": runner("a"), "b": runner("b")},
                              {"call-on-b": "b", "call-on-a": "a"}.get)
    assert service.transfer(TransferRequest("call-on-b", "department", "02", "op-lan")) == "PJSIP/op-lan-b"
    service.transfer(TransferRequest("call-on-a", "department", "02", "op-lan"))
    service.back_to_caller("call-on-b", "op-lan")
    service.transfer(TransferRequest("call-of-no-row", "department", "02", "op-lan"))
    assert asked == ["b", "a", "b", "a"]


def test_on_a_cluster_the_supervisor_listens_on_the_node_the_operator_talks_on() -> None:
    """The wallboard's ChanSpy is placed on the node that has the operator's channel; a node that does not answer
    is passed over; no node with one: None (the console's own node then)."""
    from hotline.adapters.ami import AmiUnavailable, endpoint_channel_on

    def node_with_channel(amis: dict[str, Node], endpoint: str) -> str | None:
        found = endpoint_channel_on(amis, endpoint)
        return found[0] if found else None

    class Node:
        def __init__(self, *channels: str, up: bool = True) -> None:
            self.channels, self.up = list(channels), up

        def run(self, work: object) -> list[str]:
            if not self.up:
                raise AmiUnavailable("connection refused")
            return self.channels
    amis = {"a": Node("PJSIP/anonymous-00000001", "PJSIP/op-lan-00000002"), "b": Node("PJSIP/op-minh-0000000a"),
            "c": Node(up=False), "d": Node("PJSIP/op-hoa-2-0000000b")}
    assert node_with_channel(amis, "op-minh") == "b"
    assert node_with_channel(amis, "op-lan") == "a"
    assert node_with_channel({"c": Node(up=False), **amis}, "op-minh") == "b"
    assert node_with_channel(amis, "op-hoa") is None        # op-hoa-2's channel is not op-hoa's
    assert node_with_channel(amis, "op-hoa-2") == "d"
    assert endpoint_channel_on(amis, "op-minh") == ("b", "PJSIP/op-minh-0000000a")     # ChanSpy's exact target
