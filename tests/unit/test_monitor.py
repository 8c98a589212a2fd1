"""The monitor: AMI events (as panoramisk delivers them) to the live picture, the call log and Redis."""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from panoramisk.message import Message

from hotline.adapters.db import open_database
from hotline.adapters.db.repository import CallRepository
from hotline.domain.vocabulary import OperatorState
from monitor.facts import call_update
from monitor.publish import LivePublisher
from monitor.service import MonitorService
from monitor.state import LivePicture
from monitor.store import CallFactsStore, StoreWorker

T0 = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)   # 09:00 in Đồng Tháp
CALLER = "hotline1-1795445926.12"
OP_LEG = "hotline1-1795445940.15"


def ami(text: str) -> Message:
    """An AMI event parsed by panoramisk itself, from the lines Asterisk sends."""
    message = Message.from_line(text.strip().replace("\n", "\r\n"))
    assert message is not None
    return message


def caller_headers(uniqueid: str = CALLER, number: str = "0912345678") -> str:
    return (f"Channel: PJSIP/anonymous-00000003\nChannelState: 6\nChannelStateDesc: Up\n"
            f"CallerIDNum: {number}\nCallerIDName: <unknown>\nConnectedLineNum: <unknown>\n"
            f"ConnectedLineName: <unknown>\nLanguage: vi\nAccountCode: \nContext: hotline-queue\nExten: s\n"
            f"Priority: 4\nUniqueid: {uniqueid}\nLinkedid: {uniqueid}\n")


def member_headers(name: str = "op-lan", status: int = 1, paused: int = 0, reason: str = "",
                   in_call: int = 0) -> str:
    return (f"Queue: hotline\nMemberName: {name}\nInterface: PJSIP/{name}\nStateInterface: PJSIP/{name}\n"
            f"Membership: dynamic\nPenalty: 0\nCallsTaken: 0\nLastCall: 0\nLastPause: 0\n"
            f"LoginTime: 1795445000\nInCall: {in_call}\nStatus: {status}\nPaused: {paused}\n"
            f"PausedReason: {reason}\nRinginuse: 0\nWrapuptime: 10\n")


def dest_headers(name: str = "op-lan") -> str:
    return (f"DestChannel: PJSIP/{name}-00000004\nDestChannelState: 6\nDestChannelStateDesc: Up\n"
            f"DestCallerIDNum: {name}\nDestUniqueid: {OP_LEG}\nDestLinkedid: {CALLER}\n"
            f"Queue: hotline\nMemberName: {name}\nInterface: PJSIP/{name}\n")


JOIN = ami("Event: QueueCallerJoin\nPrivilege: agent,all\n" + caller_headers()
           + "Queue: hotline\nPosition: 1\nCount: 1")
MEMBER = ami("Event: QueueMemberAdded\nPrivilege: agent,all\n" + member_headers())
CALLED = ami("Event: AgentCalled\nPrivilege: agent,all\n" + caller_headers() + dest_headers())
CONNECT = ami("Event: AgentConnect\nPrivilege: agent,all\n" + caller_headers() + dest_headers()
              + "HoldTime: 12\nRingTime: 3")
LEAVE = ami("Event: QueueCallerLeave\nPrivilege: agent,all\n" + caller_headers()
            + "Queue: hotline\nCount: 0\nPosition: 1")
COMPLETE = ami("Event: AgentComplete\nPrivilege: agent,all\n" + caller_headers() + dest_headers()
               + "HoldTime: 12\nTalkTime: 95\nReason: agent")
ABANDON = ami("Event: QueueCallerAbandon\nPrivilege: agent,all\n" + caller_headers()
              + "Queue: hotline\nPosition: 1\nOriginalPosition: 2\nHoldTime: 4")


def test_a_caller_waits_is_answered_and_the_operator_goes_through_wrap_up() -> None:
    picture = LivePicture()
    [added] = picture.apply(MEMBER, T0)
    assert added["state"] == OperatorState.AVAILABLE and added["operator"] == "op-lan"
    [joined] = picture.apply(JOIN, T0)
    assert joined == {"type": "caller_joined", "call_id": CALLER, "queue": "hotline", "caller": "*******678",
                      "position": 1, "count": 1, "callback": False, "at": T0.isoformat(),
                      "event": "QueueCallerJoin"}
    snap = picture.snapshot(T0 + timedelta(seconds=9))
    assert snap["waiting"][0]["wait"] == 9 and snap["waiting"][0]["since"] == T0.isoformat()
    [ringing] = picture.apply(CALLED, T0 + timedelta(seconds=9))
    assert ringing["state"] == OperatorState.RINGING and ringing["call_id"] == CALLER
    [connected] = picture.apply(CONNECT, T0 + timedelta(seconds=12))
    assert connected["state"] == OperatorState.ON_CALL
    assert connected["hold_time"] == 12 and connected["call_id"] == CALLER
    [left] = picture.apply(LEAVE, T0 + timedelta(seconds=12))
    assert left["type"] == "caller_left" and left["wait"] == 12
    assert picture.snapshot(T0)["waiting"] == []
    [done] = picture.apply(COMPLETE, T0 + timedelta(seconds=107))
    assert done["state"] == OperatorState.WRAP_UP and done["talk_time"] == 95 and done["reason_ended"] == "agent"
    assert picture.snapshot(T0 + timedelta(seconds=110))["by_state"] == {OperatorState.WRAP_UP: ["op-lan"]}
    assert picture.expire(T0 + timedelta(seconds=110)) == []
    [back] = picture.expire(T0 + timedelta(seconds=117))
    assert back["state"] == OperatorState.AVAILABLE and back["event"] == "WrapUpEnd"


def test_pause_with_reason_and_status_changes_only_when_something_changed() -> None:
    picture = LivePicture()
    picture.apply(MEMBER, T0)
    [paused] = picture.apply(ami("Event: QueueMemberPause\n" + member_headers(paused=1, reason="break")), T0)
    assert paused["state"] == OperatorState.PAUSED and paused["reason"] == "break"
    assert picture.apply(ami("Event: QueueMemberStatus\n" + member_headers(paused=1, reason="break")), T0) == []
    [resumed] = picture.apply(ami("Event: QueueMemberPause\n" + member_headers()), T0)
    assert resumed["state"] == OperatorState.AVAILABLE and resumed["reason"] is None
    [gone] = picture.apply(ami("Event: QueueMemberStatus\n" + member_headers(status=5)), T0)
    assert gone["state"] == "unavailable"
    [out] = picture.apply(ami("Event: QueueMemberRemoved\n" + member_headers(status=5)), T0)
    assert out["state"] == "logged_out"


def test_positions_move_up_when_a_caller_abandons() -> None:
    picture = LivePicture()
    second = ami("Event: QueueCallerJoin\n" + caller_headers("c2", "0988000111")
                 + "Queue: hotline\nPosition: 2\nCount: 2")
    picture.apply(JOIN, T0)
    picture.apply(second, T0 + timedelta(seconds=1))
    [gone] = picture.apply(ABANDON, T0 + timedelta(seconds=4))
    assert gone == {"type": "caller_abandoned", "call_id": CALLER, "queue": "hotline", "position": 1,
                    "original_position": 2, "wait": 4, "at": (T0 + timedelta(seconds=4)).isoformat(),
                    "event": "QueueCallerAbandon"}
    assert [(w["call_id"], w["position"]) for w in picture.snapshot(T0)["waiting"]] == [("c2", 1)]


def test_queue_status_rebuilds_the_picture_after_a_reconnect() -> None:
    picture = LivePicture()
    picture.apply(JOIN, T0)   # left while the monitor was away: must disappear
    status = [
        ami("Event: QueueParams\nQueue: hotline\nMax: 0\nStrategy: leastrecent\nCalls: 1\nHoldtime: 0\n"
            "TalkTime: 0\nCompleted: 0\nAbandoned: 0\nServiceLevel: 20\nServicelevelPerf: 0.0\nWeight: 0"),
        ami("Event: QueueMember\nQueue: hotline\nName: op-lan\nLocation: PJSIP/op-lan\nStateInterface: PJSIP/op-lan\n"
            "Membership: dynamic\nPenalty: 0\nCallsTaken: 3\nLastCall: 0\nLastPause: 0\nLoginTime: 0\nInCall: 1\n"
            "Status: 2\nPaused: 0\nPausedReason: \nWrapuptime: 10"),
        ami("Event: QueueMember\nQueue: hotline\nName: op-hoa\nLocation: PJSIP/op-hoa\nStateInterface: PJSIP/op-hoa\n"
            "Membership: dynamic\nPenalty: 0\nCallsTaken: 0\nLastCall: 0\nLastPause: 0\nLoginTime: 0\nInCall: 0\n"
            "Status: 1\nPaused: 1\nPausedReason: training\nWrapuptime: 10"),
        ami("Event: QueueEntry\nQueue: hotline\nPosition: 1\nChannel: PJSIP/anonymous-00000009\nUniqueid: c9\n"
            "CallerIDNum: 0977000999\nCallerIDName: <unknown>\nConnectedLineNum: <unknown>\n"
            "ConnectedLineName: <unknown>\nWait: 30\nPriority: 0"),
        ami("Event: QueueStatusComplete\nEventList: Complete\nListItems: 4"),
    ]
    summary = picture.rebuild(status, T0)
    assert summary["waiting"] == 1 and summary["operators"] == 2
    snap = picture.snapshot(T0)
    assert snap["waiting"] == [{"call_id": "c9", "queue": "hotline", "channel": "PJSIP/anonymous-00000009",
                                "caller": "*******999", "position": 1,
                                "since": (T0 - timedelta(seconds=30)).isoformat(), "wait": 30, "callback": False}]
    assert snap["by_state"] == {OperatorState.ON_CALL: ["op-lan"], OperatorState.PAUSED: ["op-hoa"]}
    assert snap["longest_wait"] == 30
    backfill = call_update(status[3], T0)
    assert backfill is not None and backfill.first == {"queued_at": T0 - timedelta(seconds=30)}


def _place_headers(uniqueid: str = "hotline1-1795445926.12-cb;2") -> str:
    """A call-back's placeholder as app_queue reports it: the second half of the Local channel the ARI app
    originates into [hotline-callback-place], named "Gọi lại" with the citizen's number."""
    return (f"Channel: Local/s@hotline-callback-place-0000001a;2\nChannelState: 6\nChannelStateDesc: Up\n"
            f"CallerIDNum: 0912345678\nCallerIDName: Gọi lại\nConnectedLineNum: <unknown>\n"
            f"ConnectedLineName: <unknown>\nLanguage: vi\nAccountCode: \nContext: hotline-callback-place\nExten: s\n"
            f"Priority: 3\nUniqueid: {uniqueid}\nLinkedid: {uniqueid}\n")


def test_a_waiting_call_back_is_a_waiting_caller_counted_apart() -> None:
    """Key 2: the caller's place is held by a Local channel; the wallboard counts it as waiting, and apart."""
    picture = LivePicture()
    picture.apply(JOIN, T0)
    [joined] = picture.apply(ami("Event: QueueCallerJoin\nPrivilege: agent,all\n" + _place_headers()
                                 + "Queue: hotline\nPosition: 1\nCount: 2"), T0 + timedelta(seconds=5))
    assert joined["callback"] is True and joined["caller"] == "*******678" and joined["position"] == 1
    snap = picture.snapshot(T0 + timedelta(seconds=10))
    assert [(w["position"], w["callback"]) for w in snap["waiting"]] == [(1, True), (2, False)]
    assert len(snap["waiting"]) == 2 and snap["callbacks_waiting"] == 1
    picture.apply(ami("Event: QueueCallerLeave\nPrivilege: agent,all\n" + _place_headers()
                      + "Queue: hotline\nCount: 1\nPosition: 1"), T0 + timedelta(seconds=20))
    assert picture.snapshot(T0)["callbacks_waiting"] == 0 and len(picture.snapshot(T0)["waiting"]) == 1
    # after a reconnect QueueStatus tells it by its channel alone (a QueueEntry has no context)
    picture.rebuild([ami("Event: QueueEntry\nQueue: hotline\nPosition: 1\n"
                         "Channel: Local/s@hotline-callback-place-0000001b;2\nUniqueid: cb7\nCallerIDNum: 0912345678\n"
                         "CallerIDName: Gọi lại\nConnectedLineNum: <unknown>\nConnectedLineName: <unknown>\n"
                         "Wait: 30\nPriority: 0")], T0)
    assert picture.snapshot(T0)["callbacks_waiting"] == 1


def test_events_become_call_updates_keyed_by_the_caller_channel() -> None:
    connect = call_update(CONNECT, T0)
    assert connect is not None and connect.call_id == CALLER   # never the operator leg (DestUniqueid)
    assert connect.first == {"queue_answered_at": T0, "operator": "op-lan"}
    assert connect.values == {"queue_outcome": "answered"} and connect.disposition == "answered"
    complete = call_update(COMPLETE, T0)
    assert complete is not None and complete.values == {"talk_seconds": 95.0, "hangup_by": "operator"}
    by_caller = call_update(ami(COMPLETE_TEXT.replace("Reason: agent", "Reason: caller")), T0)
    assert by_caller is not None and by_caller.values["hangup_by"] == "caller"
    transfer = call_update(ami(COMPLETE_TEXT.replace("Reason: agent", "Reason: transfer")), T0)
    assert transfer is not None and "hangup_by" not in transfer.values
    assert call_update(CALLED, T0) is None and call_update(MEMBER, T0) is None


COMPLETE_TEXT = ("Event: AgentComplete\n" + caller_headers() + dest_headers() + "HoldTime: 12\nTalkTime: 95\n"
                 "Reason: agent")


def _new_call(repo: CallRepository, call_id: str, disposition: str = "to_queue") -> None:
    repo.start_call(call_id, channel_id=call_id, caller="0912345678", dialled="1022", started_at=T0,
                    answered_at=T0, disposition=disposition)


def test_queue_facts_are_written_once_and_only_over_a_waiting_disposition(database_url: str) -> None:
    sessions = open_database(database_url)
    repo = CallRepository(sessions)
    _new_call(repo, CALLER)
    _new_call(repo, "c2", disposition="in_progress")
    _new_call(repo, "c3", disposition="voicemail")
    store = CallFactsStore(sessions)
    t = T0
    for event, at in [(JOIN, t), (JOIN, t + timedelta(seconds=5)), (CONNECT, t + timedelta(seconds=12)),
                      (CONNECT, t + timedelta(seconds=30)), (LEAVE, t + timedelta(seconds=12)),
                      (COMPLETE, t + timedelta(seconds=107)), (COMPLETE, t + timedelta(seconds=107))]:
        update = call_update(event, at)
        assert update is not None and store.apply(update)
    for call_id in ("c2", "c3"):
        text = ABANDON_TEXT.replace(CALLER, call_id)
        for event in ("QueueCallerJoin", "QueueCallerAbandon"):
            update = call_update(ami(text.replace("QueueCallerAbandon", event)), t + timedelta(seconds=3))
            assert update is not None and store.apply(update)
    missing = call_update(ami(ABANDON_TEXT.replace(CALLER, "nobody")), t)
    assert missing is not None and not store.apply(missing)

    from hotline.adapters.db.models import Call
    with sessions() as s:
        rows = {c.call_id: c for c in s.query(Call)}
    c1 = rows[CALLER]
    assert (c1.queued_at, c1.queue_answered_at, c1.queue_left_at) == (t, t + timedelta(seconds=12),
                                                                       t + timedelta(seconds=12))
    assert (c1.operator, c1.queue_outcome, c1.disposition) == ("op-lan", "answered", "answered")
    assert (c1.talk_seconds, c1.hangup_by) == (95.0, "operator")
    c2 = rows["c2"]
    assert (c2.queue_outcome, c2.disposition, c2.queue_left_at) == ("abandoned", "abandoned_queue",
                                                                     t + timedelta(seconds=3))
    assert rows["c3"].disposition == "voicemail" and rows["c3"].queue_outcome == "abandoned"


ABANDON_TEXT = ("Event: QueueCallerAbandon\n" + caller_headers() + "Queue: hotline\nPosition: 1\n"
                "OriginalPosition: 2\nHoldTime: 4")

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_db() -> Any:
    import redis
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("no Redis on 127.0.0.1:6379: scripts/bootstrap (hotline setup) starts one")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


async def live_messages(service: MonitorService, redis_url: str, channel: str, events: list[Message]
                        ) -> list[dict[str, Any]]:
    """What a subscriber to ``channel`` receives once ``service`` has taken ``events``: one message each."""
    import redis.asyncio as aioredis

    listener = aioredis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=1.0)   # the subscribe confirmation
    for event in events:
        service.on_event(event)
    await asyncio.wait_for(service.drain(), 10)
    received = []
    while len(received) < len(events):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
        assert message is not None, "no live message within 5 s"
        received.append(json.loads(message["data"]))
    await pubsub.aclose()
    await listener.aclose()
    return received


def test_a_change_reaches_a_subscriber_and_the_snapshot_is_stored(redis_db: Any, database_url: str) -> None:
    import redis.asyncio as aioredis

    sessions = open_database(database_url)
    _new_call(CallRepository(sessions), CALLER)

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        client = aioredis.from_url(REDIS_URL)
        publisher = LivePublisher(client, "test:live", "node-a")
        store = StoreWorker(CallFactsStore(sessions))
        service = MonitorService(LivePicture(), store, publisher, now=lambda: T0)
        tasks = [asyncio.create_task(service.run_publisher()), asyncio.create_task(store.run())]
        received = await live_messages(service, REDIS_URL, "test:live:node:node-a", [MEMBER, JOIN])
        snapshot = json.loads(await client.get("test:live:node:node-a:snapshot"))
        for task in tasks:
            task.cancel()
        await publisher.close()
        return received, snapshot

    received, snapshot = asyncio.run(scenario())
    assert [m["type"] for m in received] == ["operator", "caller_joined"]
    assert received[1]["call_id"] == CALLER and received[1]["position"] == 1
    assert snapshot["waiting"][0]["call_id"] == CALLER and snapshot["by_state"] == {"available": ["op-lan"]}
    assert CallRepository(sessions).get(CALLER) is not None
    from hotline.adapters.db.models import Call
    with sessions() as s:
        assert s.query(Call).filter_by(call_id=CALLER).one().queued_at == T0


def test_redis_down_is_logged_once_and_the_monitor_keeps_going(caplog: pytest.LogCaptureFixture) -> None:
    import redis.asyncio as aioredis

    async def scenario() -> list[bool]:
        client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        publisher = LivePublisher(client, "test:live:down", "node-a")
        results = [await publisher.publish([{"type": "x"}], {}) for _ in range(3)]
        await publisher.close()
        return results

    with caplog.at_level("WARNING", logger="monitor.publish"):
        assert asyncio.run(scenario()) == [False, False, False]
    assert sum("Redis unreachable" in r.message for r in caplog.records) == 1


def test_members_added_over_ami_take_the_queue_wrap_up() -> None:
    """QueueAdd gives a member no wrap-up of its own (Wrapuptime: 0): the queue's one applies."""
    picture = LivePicture(default_wrapup_seconds=15)
    picture.apply(ami(MEMBER_TEXT_NO_WRAPUP), T0)
    picture.apply(CONNECT, T0 + timedelta(seconds=1))
    [done] = picture.apply(COMPLETE, T0 + timedelta(seconds=20))
    assert done["state"] == OperatorState.WRAP_UP
    assert picture.expire(T0 + timedelta(seconds=34)) == []
    [back] = picture.expire(T0 + timedelta(seconds=35))
    assert back["state"] == OperatorState.AVAILABLE


MEMBER_TEXT_NO_WRAPUP = ("Event: QueueMemberAdded\nPrivilege: agent,all\n"
                         + member_headers().replace("Wrapuptime: 10", "Wrapuptime: 0"))
