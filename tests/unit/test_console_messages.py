"""What operators and supervisors read when the console refuses something: Vietnamese, never the
English meant for IT staff's logs and command line.

Every error a console view can meet from the services it calls (transfers, operators' states, AMI,
tickets) carries its Vietnamese wording; the console shows that and logs the English.
"""
from __future__ import annotations

import ast
import socket
from pathlib import Path
from typing import Any

import pytest

from hotline.domain.errors import GENERAL_VI, HotlineError, for_people
from tests.unit.test_console import csrf_of, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

ROOT = Path(__file__).resolve().parents[2]
#: Modules whose errors reach the console's pages, and the functions of theirs the console never calls.
CONSOLE_FACING = {"hotline/services/transfers.py": set(), "hotline/adapters/ami/client.py": set(),
                  "hotline/services/tickets.py": set(), "hotline/services/operators.py": {"add"}}
ERRORS = {"TransferError", "AmiError", "AmiUnavailable", "TicketError", "OperatorError"}
ENGLISH = ("call ", "operator ", "ticket ", "not ", "cannot", "failed", "AMI ")


def _raises_without_vi(path: Path, skip: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) or func.name in skip:
            continue
        for node in ast.walk(func):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name) and node.exc.func.id in ERRORS
                    and not any(k.arg == "vi" for k in node.exc.keywords)):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} ({func.name})")
    return missing


def test_every_error_the_console_can_meet_has_vietnamese_wording() -> None:
    missing = [m for rel, skip in CONSOLE_FACING.items() for m in _raises_without_vi(ROOT / rel, skip)]
    assert not missing, "raise these with vi=\"…\" (what an operator reads):\n" + "\n".join(sorted(set(missing)))


def test_for_people_prefers_the_vietnamese_and_keeps_the_detail_otherwise() -> None:
    assert for_people(HotlineError("call x is not in progress", vi="Cuộc gọi này đã kết thúc.")) == \
        "Cuộc gọi này đã kết thúc."
    general = for_people(RuntimeError("disk full"))
    assert general.startswith(GENERAL_VI) and "disk full" in general


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])          # closed again when this returns: nothing listens there


def _operator_client(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    svc = world["svc"]
    svc.users.add("hoa", "Trần Thị Hoa", "operator", "mật-khẩu-đủ-dài", operator="op-hoa")
    monkeypatch.setattr(svc.ctx.settings.asterisk, "ami_port", _closed_port())
    return sign_in(world["app"], "hoa")


def _refusal(client: Any, url: str, body: dict[str, Any]) -> str:
    got = client.post(url, json=body, headers={"X-CSRFToken": csrf_of(client, "/phone/")})
    assert got.status_code == 409, got.get_data(as_text=True)
    message = str(got.get_json()["message"])
    assert not any(word in message for word in ENGLISH), message
    return message


def test_the_softphone_refusals_are_in_vietnamese(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    op = _operator_client(world, monkeypatch)
    unknown = _refusal(op, "/phone/transfer", {"call_id": "hotline1-1", "target": "department:99"})
    assert unknown == "Không có đầu mối department:99 trong danh bạ chuyển cuộc gọi."
    down = _refusal(op, "/phone/transfer", {"call_id": "hotline1-1", "target": "department:02"})
    assert down.startswith("Không liên lạc được với tổng đài (Asterisk)")
    assert _refusal(op, "/phone/state", {"state": "paused", "reason": "nap"}).startswith("Hãy chọn lý do tạm nghỉ")
    assert _refusal(op, "/phone/ticket", {"caller": "0912345678", "content": "  "}) == \
        "Phiếu cần có nội dung phản ánh, kiến nghị."
    missing_call = _refusal(op, "/phone/ticket", {"call_id": "no-such-call", "caller": "0912345678",
                                                  "content": "Hỏi lịch tiếp công dân"})
    assert missing_call.startswith("Không tìm thấy cuộc gọi này")


def test_a_refused_ticket_action_says_why_in_vietnamese(world: dict[str, Any]) -> None:
    sup = sign_in(world["app"], "binh")
    token = csrf_of(sup)
    code = world["other"]
    early = sup.post(f"/tickets/{code}/close", data={"status": "closed", "csrf_token": token},
                     follow_redirects=True).get_data(as_text=True)
    assert (f"Không thực hiện được: Phiếu {code} đang «Mới tiếp nhận»; chỉ chuyển được sang "
            "«Đã chuyển cơ quan có thẩm quyền», «Đang xử lý»") in early
    sup.post(f"/tickets/{code}/close", data={"status": "out_of_scope", "csrf_token": token})
    late = sup.post(f"/tickets/{code}/close", data={"status": "closed", "csrf_token": token},
                    follow_redirects=True).get_data(as_text=True)
    assert (f"Phiếu {code} đang «Không thuộc phạm vi tiếp nhận»; chỉ chuyển được sang không gì nữa "
            "(đã kết thúc).") in late
    odd = sup.post(f"/tickets/{world['mine']}/close", data={"status": "archived", "csrf_token": token},
                   follow_redirects=True).get_data(as_text=True)
    assert "Chỉ đóng phiếu là: «Đã kết thúc», «Không thuộc phạm vi tiếp nhận», «Trùng với phản ánh khác»." in odd
