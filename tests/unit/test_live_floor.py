"""hotline.domain.live.floor: the wallboard's sum of every node's monitor snapshot, and each node."""
from __future__ import annotations

from hotline.domain.live import NodePicture, floor

NOW = 1_800_000_000.0
AT = "2026-11-25T02:00:00+00:00"


def _snapshot(waits: list[int], operators: dict[str, str], at: str = AT) -> dict[str, object]:
    return {"at": at, "longest_wait": max(waits, default=0),
            "waiting": [{"call_id": f"c{i}", "caller": "*******678", "wait": w} for i, w in enumerate(waits)],
            "operators": [{"operator": o, "state": s} for o, s in operators.items()], "by_state": {}}


def test_one_node_shows_as_before_plus_its_name() -> None:
    shown = floor([NodePicture("hotline-a", _snapshot([30, 5], {"op-lan": "available"}), NOW - 2)], NOW, 30)
    assert [w["wait"] for w in shown["waiting"]] == [30, 5] and shown["longest_wait"] == 30 and shown["at"] == AT
    assert shown["by_state"] == {"available": ["op-lan"]}
    assert shown["nodes"] == [{"node": "hotline-a", "stale": False, "at": AT, "age": 2.0, "waiting": 2,
                               "callbacks_waiting": 0, "longest_wait": 30, "operators": 1,
                               "by_state": {"available": 1}}]


def test_two_nodes_are_added_up_and_a_silent_one_is_left_out() -> None:
    later = "2026-11-25T02:00:04+00:00"
    shown = floor([NodePicture("b", _snapshot([12], {"op-binh": "on_call"}, later), NOW - 1),
                   NodePicture("a", _snapshot([40, 3], {"op-lan": "available"}), NOW - 4),
                   NodePicture("c", _snapshot([99], {"op-an": "available"}), NOW - 31),
                   NodePicture("d", None, None)], NOW, 30)
    assert [(w["node"], w["wait"]) for w in shown["waiting"]] == [("a", 40), ("a", 3), ("b", 12)]
    assert shown["longest_wait"] == 40 and shown["at"] == later
    assert shown["by_state"] == {"available": ["op-lan"], "on_call": ["op-binh"]}
    assert [(n["node"], n["stale"], n["waiting"]) for n in shown["nodes"]] == [
        ("a", False, 2), ("b", False, 1), ("c", True, 1), ("d", True, 0)]


def test_call_backs_waiting_are_added_up_over_the_nodes_heard_from() -> None:
    def snap(callbacks: list[bool]) -> dict[str, object]:
        return {"at": AT, "longest_wait": 9, "operators": [], "by_state": {},
                "waiting": [{"call_id": f"c{i}", "wait": 9, "callback": c} for i, c in enumerate(callbacks)]}
    shown = floor([NodePicture("a", snap([True, False]), NOW), NodePicture("b", snap([True, True]), NOW),
                   NodePicture("c", snap([True]), NOW - 99)], NOW, 30)
    assert len(shown["waiting"]) == 4 and shown["callbacks_waiting"] == 3       # the silent node's is left out
    assert [n["callbacks_waiting"] for n in shown["nodes"]] == [1, 2, 1]
