"""The Vietnamese words for the codes the hotline stores: one table for every page and export.

The database, the JSON API, the logs and the command line keep the codes (``to_queue``); a person
reading the console reads these labels ("Vào hàng đợi"). The console uses them through the Jinja
filter ``vi`` (``{{ call.disposition | vi('disposition') }}``) and hands the whole table to its
scripts (``operator_console/templates/_labels.html``); tests/unit/test_console_labels.py checks
that every code the hotline writes has its label and that no page shows a code.
"""
from __future__ import annotations

from hotline.domain.vocabulary import AccessAction as A
from hotline.domain.vocabulary import CallbackStatus as CB
from hotline.domain.vocabulary import Disposition as D
from hotline.domain.vocabulary import OperatorState as O
from hotline.domain.vocabulary import Role as R
from hotline.domain.vocabulary import TicketStatus as T
from hotline.domain.vocabulary import VoicemailStatus as V

#: Call.disposition: how the call ended (README: Dispositions).
DISPOSITION = {
    D.IN_PROGRESS: "Đang gọi", D.ABANDONED_IVR: "Bỏ máy khi nghe hướng dẫn", D.TO_QUEUE: "Vào hàng đợi",
    D.ANSWERED: "Tổng đài viên đã trả lời", D.ABANDONED_QUEUE: "Bỏ máy khi chờ",
    D.TRANSFERRED: "Đã chuyển đầu mối", D.TRANSFER_FAILED: "Chuyển đầu mối không được",
    D.VOICEMAIL: "Để lại lời nhắn", D.CLOSED_HOURS: "Ngoài giờ, không để lại lời nhắn",
    D.APP_FALLBACK: "Ứng dụng tạm ngừng, tổng đài nhận lời nhắn",
    D.TURNED_AWAY: "Từ chối do tất cả các đường dây đều bận",
    D.NODE_LOST: "Máy chủ tổng đài ngừng hoạt động, cuộc gọi bị ngắt",
    D.CALLBACK: "Đăng ký gọi lại, giữ lượt chờ",
    D.OUT_ANSWERED: "Gọi ra: công dân đã nghe máy", D.OUT_NO_ANSWER: "Gọi ra: không nghe máy",
    D.OUT_BUSY: "Gọi ra: máy bận", D.OUT_FAILED: "Gọi ra: không gọi được",
    D.OUT_CANCELLED: "Gọi ra: tổng đài viên dừng trước khi nghe máy", D.OUT_REFUSED: "Gọi ra: số không được phép gọi",
}
#: Call.direction (not in LABELS: "in" is also a Vietnamese word of the pages).
DIRECTION = {"in": "Gọi đến", "out": "Gọi ra"}
#: CallbackRequest.status: where a call-back a waiting caller asked for (key 2) stands.
CALLBACK_STATUS = {
    CB.WAITING: "Đang giữ lượt chờ gọi lại", CB.CALLING: "Đang gọi lại cho công dân", CB.COMPLETED: "Đã gọi lại được",
    CB.NO_ANSWER: "Gọi lại không được, đã tạo phiếu", CB.NO_OPERATOR: "Không còn tổng đài viên gọi lại, đã tạo phiếu",
    CB.FAILED: "Không giữ được lượt gọi lại",
}
#: What came of a call to a citizen about a ticket (CallOutcome).
CALL_OUTCOME = {"relayed": "Đã thông báo kết quả", "no_answer": "Không nghe máy", "wrong_number": "Sai số"}
#: Ticket.status.
TICKET_STATUS = {
    T.NEW: "Mới tiếp nhận", T.ASSIGNED: "Đã chuyển cơ quan có thẩm quyền", T.IN_PROGRESS: "Đang xử lý",
    T.ANSWERED: "Đã có kết quả trả lời", T.CLOSED: "Đã kết thúc", T.OUT_OF_SCOPE: "Không thuộc phạm vi tiếp nhận",
    T.DUPLICATE: "Trùng với phản ánh khác",
}
#: Ticket.channel: how the request came in.
CHANNEL = {"phone": "Điện thoại", "voicemail": "Hộp thư thoại", "web": "Cổng thông tin", "email": "Thư điện tử",
           "sms": "Tin nhắn SMS", "zalo": "Zalo", "facebook": "Facebook", "open311": "Hệ thống khác (Open311)",
           "other": "Kênh khác"}
#: TicketEvent.action: a line of a ticket's timeline.
TICKET_EVENT = {
    "created": "Tạo phiếu", "transcribed": "Chuyển lời nói thành chữ", "no_speech": "Lời nhắn không có tiếng nói",
    "transcribe_again": "Chuyển lại lời nói thành chữ", "transcription_failed": "Không chuyển được lời nói thành chữ",
    T.ASSIGNED: "Chuyển cơ quan", T.IN_PROGRESS: "Nhận xử lý",
    T.ANSWERED: "Trả lời", T.CLOSED: "Đóng phiếu", T.OUT_OF_SCOPE: "Không thuộc phạm vi",
    T.DUPLICATE: "Trùng lặp", "deadline": "Đổi hạn", "category": "Đổi lĩnh vực", "notified": "Gửi thư cho cơ quan",
    "remind_50": "Nhắc hạn 50 %", "remind_80": "Nhắc hạn 80 %", "escalate": "Báo giám sát: quá hạn",
    "message": "Người dân gửi thêm", "answer_sent": "Gửi trả lời cho người dân",
    "code_sent": "Nhắn mã phiếu cho người gọi", "suggestion_confirmed": "Xác nhận gợi ý phân loại",
    "published": "Duyệt công bố câu trả lời", "unpublished": "Gỡ câu trả lời khỏi trang công khai",
    "duplicate_flagged": "Có thể trùng với phiếu khác", "merged": "Gộp phiếu trùng vào phiếu này",
    "call_placed": "Gọi cho công dân", "call_outcome": "Kết quả cuộc gọi cho công dân",
}
#: Ticket.duplicate_reason: why a ticket is flagged as a probable duplicate.
DUPLICATE_REASON = {"caller": "cùng người gửi", "text_place": "nội dung giống nhau, cùng địa điểm"}
#: TicketEvent.actor when no person did it (a person's actor is their user name, shown as it is).
ACTOR = {"system": "Hệ thống", "worker": "Hệ thống (tự động)", "cli": "Quản trị (dòng lệnh)",
         # a written request's own door made its ticket (hotline.intake): the citizen, through it
         **{c: f"Người dân qua {CHANNEL[c]}" for c in ("web", "email", "sms", "zalo", "facebook")},
         "open311": CHANNEL["open311"]}
#: The transfer directory's kinds (hotline/domain/directory.py).
AGENCY_KIND = {
    "department": "Sở, ngành", "district": "Huyện, thị xã, thành phố", "commune": "Xã, phường, đặc khu",
    "provincial_office": "Văn phòng UBND tỉnh", "postal_service": "Bưu chính công ích",
}
#: Transfer.kind.
TRANSFER_KIND = {"ivr": "Người gọi tự chọn", "blind": "Chuyển ngay", "attended": "Hỏi trước rồi chuyển"}
#: Transfer.outcome and Call.transfer_outcome.
TRANSFER_OUTCOME = {
    "answered": "Đầu mối đã nghe máy", "busy": "Máy bận", "noanswer": "Không nghe máy", "rejected": "Từ chối",
    "failed": "Không gọi được", "abandoned": "Người gọi gác máy khi đang chuyển",
    "returned": "Tổng đài viên quay lại người gọi", "completed": "Đã chuyển xong",
}
#: Call.queue_outcome: how the caller left the operator queue.
QUEUE_OUTCOME = {
    "answered": "Tổng đài viên đã trả lời", "abandoned": "Bỏ máy khi chờ",
    "timeout": "Chờ quá lâu, chuyển sang để lại lời nhắn", "empty": "Không có tổng đài viên trong ca",
    "message": "Người gọi chọn để lại lời nhắn", "full": "Hàng đợi đã đầy, chuyển sang để lại lời nhắn",
}
#: An operator's state (OperatorEvent.state, the softphone, the wallboard).
OPERATOR_STATE = {
    O.LOGGED_OUT: "Chưa vào ca", O.AVAILABLE: "Sẵn sàng", O.RINGING: "Đang đổ chuông", O.ON_CALL: "Đang nghe máy",
    O.WRAP_UP: "Hoàn tất cuộc gọi", O.PAUSED: "Tạm nghỉ", O.UNAVAILABLE: "Mất kết nối máy",
}
#: Why an operator pauses (hotline.services.operators.PAUSE_REASONS).
PAUSE_REASON = {"break": "Nghỉ giải lao", "training": "Tập huấn", "meeting": "Họp", "other": "Việc khác"}
#: User.role.
ROLE = {R.OPERATOR: "Tổng đài viên", R.SUPERVISOR: "Giám sát viên", R.ADMIN: "Quản trị",
        R.AGENCY: "Đầu mối cơ quan"}
#: Voicemail.status.
VOICEMAIL_STATUS = {
    V.PENDING: "Chờ chuyển thành chữ", V.TRANSCRIBING: "Đang chuyển thành chữ", V.TRANSCRIBED: "Đã chuyển thành chữ",
    V.NO_SPEECH: "Không có tiếng nói", V.FAILED: "Không đọc được tệp", V.TOO_SHORT: "Quá ngắn",
}
#: AccessLog.action: what someone did with a citizen's personal data, on the admins' page /access-log/ and its
#: CSV (not in LABELS: "play", "listen" or "erase" are also plain words of other pages, such as the command
#: ``hotline privacy erase``; tests/unit/test_console_access_log.py checks that page shows no code).
ACCESS_ACTION = {
    A.PLAY: "Nghe ghi âm", A.DOWNLOAD: "Tải ghi âm về", A.LISTEN: "Nghe cuộc gọi đang diễn ra",
    A.WHISPER: "Nhắc tổng đài viên trong cuộc gọi", A.BARGE: "Tham gia cuộc gọi",
    A.DELETE: "Xoá tệp khi hết thời hạn lưu trữ", A.RETENTION: "Xoá dữ liệu hết thời hạn lưu trữ",
    A.EMAIL: "Gửi thư có dữ liệu cá nhân", A.EXPORT: "Trích xuất dữ liệu cho công dân",
    A.ERASE: "Xoá dữ liệu theo yêu cầu của công dân", A.TICKET_VIEW: "Xem phiếu",
    A.TICKET_LIST: "Xem danh sách phiếu", A.TRANSCRIPT_VIEW: "Xem văn bản lời nhắn",
    A.FILE_VIEW: "Xem tệp người dân gửi kèm", A.RECORDING_LIST: "Tìm ghi âm",
    A.CALLER_HISTORY: "Xem lịch sử của số gọi", A.REPORT_EXPORT: "Tải báo cáo về",
    A.WALLBOARD_OPEN: "Mở màn hình giám sát trực tuyến", A.LOG_EXPORT: "Tải nhật ký truy cập về",
    A.API_TICKET_VIEW: "Xem phiếu qua API", A.API_TICKET_LIST: "Xem danh sách phiếu qua API",
    A.API_CALL_LIST: "Xem danh sách cuộc gọi qua API", A.API_RECORDINGS: "Tìm ghi âm qua API",
    A.CLI_TICKET_VIEW: "Xem phiếu bằng dòng lệnh", A.CLI_TICKET_LIST: "Xem danh sách phiếu bằng dòng lệnh",
    A.CLI_CALL_LIST: "Xem danh sách cuộc gọi bằng dòng lệnh", A.CALL_OUT: "Gọi cho công dân",
}
#: A part of the hotline, in the supervisors' alerts and the wallboard's banner (not in LABELS: pages never show
#: these codes, and words such as "disk" are no codes in a page's text).
COMPONENT = {
    "asterisk": "Tổng đài (Asterisk)", "ari_app": "Ứng dụng trả lời cuộc gọi (ARI)",
    "agi": "Máy chủ AGI (tra cứu phản ánh qua điện thoại)", "monitor": "Bộ theo dõi hàng đợi (màn hình giám sát)",
    "worker": "Tiến trình xử lý nền (chuyển lời nhắn thành chữ, gửi thư)", "redis": "Redis (hàng đợi công việc)",
    "database": "Cơ sở dữ liệu", "spool": "Hàng chờ ghi nhật ký cuộc gọi", "disk": "Dung lượng ổ đĩa lưu ghi âm",
    "transcription": "Chuyển lời nhắn thành chữ", "lost_messages": "Lời nhắn không lưu được",
    "mailbox": "Hộp thư điện tử tiếp nhận phản ánh",
    "public": "Trang công khai (gửi phản ánh, tra cứu, SMS, Zalo, Facebook, Open311)",
    "outbox": "Tin trả lời gửi người dân",
}

#: Every table by the name templates and scripts use: ``labels.disposition``, ``vi('ticket_status')``.
LABELS: dict[str, dict[str, str]] = {
    "disposition": DISPOSITION, "ticket_status": TICKET_STATUS, "channel": CHANNEL, "ticket_event": TICKET_EVENT,
    "actor": ACTOR, "transfer_kind": TRANSFER_KIND, "transfer_outcome": TRANSFER_OUTCOME,
    "queue_outcome": QUEUE_OUTCOME, "operator_state": OPERATOR_STATE, "pause_reason": PAUSE_REASON, "role": ROLE,
    "voicemail_status": VOICEMAIL_STATUS, "agency_kind": AGENCY_KIND, "call_outcome": CALL_OUTCOME,
    "duplicate_reason": DUPLICATE_REASON, "callback_status": CALLBACK_STATUS,
}


def label(kind: str, code: str | None) -> str:
    """The Vietnamese label of ``code`` in the table ``kind``; "—" for none; a code the table lacks as it is."""
    if not code:
        return "—"
    return LABELS[kind].get(code, code)
