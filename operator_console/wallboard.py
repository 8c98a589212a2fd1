"""The supervisors' wallboard: the floor live, by Server-Sent Events from the monitor's Redis channel.

The stream sends the floor (``hotline.domain.live.floor``: every node's monitor snapshot,
``<[redis] live_channel>:node:<node>:snapshot``, added up — who waits since when, operators by state — and
each node apart, a node silent for ``[cluster] dead_after`` seconds shown stale and left out of the sum) at
once, again on every message of any node's channel (``hotline:live:node:*``) and whenever it changed
(read every ``FLOOR_EVERY`` seconds); ``GET /wallboard/live`` returns the same floor as JSON. Today's
figures (service level, abandoned calls, overdue tickets, calls out going on now — rows of calls out not yet
ended, from every node —, the hotspots of the last days) every
``FIGURES_EVERY`` seconds, and the alerts' banner (``hotline watch``'s open alerts) whenever it changes.
While Redis is away it says so and tries again; the page shows the last picture greyed out.

Each stream holds one of the server's threads for as long as it is open, so they are capped in this process
(``StreamSlots``): ``[console] streams_per_user`` (3) for one user, refused with 429, and ``max_streams`` (32)
in all, refused with 503; both in Vietnamese, answered at once, so sign-in and every other page keep their
threads (``operator_console.serving`` gives waitress enough). Every ``CHECK_EVERY`` seconds a stream checks
that its console session is still live (not logged out, expired, ended by a password change, a new role or
a disabled account) and that its user may still see the wallboard; otherwise it says why (event ``end``)
and ends. A stream keeps its session from going idle: a wall screen is in use.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request, stream_with_context
from flask_login import current_user
from redis.exceptions import RedisError

from hotline.adapters.ami import endpoint_channel_on, node_amis
from hotline.domain.errors import HotlineError, for_people
from hotline.domain.live import NodePicture, floor
from hotline.domain.reports import CallSums
from hotline.domain.vocabulary import (
    AccessAction,
    Context,
    live_node_channel,
    live_node_pattern,
    live_nodes_key,
    live_snapshot_key,
)
from hotline.services.operators import NAME_RE
from hotline.services.report_callbacks import calls_out_now
from hotline.services.report_queries import day_sums, overdue_open_tickets

from .auth import requires
from .permissions import allowed
from .services import services

bp = Blueprint("wallboard", __name__, url_prefix="/wallboard")
log = logging.getLogger("hotline.console.wallboard")
FIGURES_EVERY = 15.0
ALERTS_EVERY = 2.0       # the banner is read this often (a small file) and sent when it changes
HEARTBEAT_EVERY = 15.0
FLOOR_EVERY = 5.0        # the nodes' snapshots are read again this often (a node silent too long goes stale)
CHECK_EVERY = 5.0        # a stream re-checks its session and its user's role this often
PER_USER_VI = ("Bạn đã mở {n} màn hình giám sát trực tuyến, tối đa cho một người. Hãy đóng bớt một màn hình "
               "rồi tải lại trang này.")
TOTAL_VI = ("Máy chủ đang phục vụ tối đa {n} màn hình giám sát trực tuyến. Hãy thử lại sau ít phút, "
            "hoặc đóng các màn hình không dùng đến.")
ENDED_VI = "Phiên đăng nhập đã kết thúc (đăng xuất, đổi mật khẩu, hết hạn hoặc tài khoản bị khoá). Hãy đăng nhập lại."
NOT_ALLOWED_VI = "Vai trò của bạn không còn được xem màn hình giám sát."


class StreamSlots:
    """The live streams open in this process: at most ``total``, and ``per_user`` of one user."""

    def __init__(self, total: int, per_user: int) -> None:
        self.total, self.per_user = total, per_user
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}

    def take(self, user_id: int) -> str | None:
        """Take a slot for ``user_id``; None when taken, else what is full: ``"user"`` or ``"total"``."""
        with self._lock:
            if self._open.get(user_id, 0) >= self.per_user:
                return "user"
            if sum(self._open.values()) >= self.total:
                return "total"
            self._open[user_id] = self._open.get(user_id, 0) + 1
            return None

    def give_back(self, user_id: int) -> None:
        with self._lock:
            left = self._open.get(user_id, 0) - 1
            if left > 0:
                self._open[user_id] = left
            else:
                self._open.pop(user_id, None)

    def open_count(self) -> int:
        with self._lock:
            return sum(self._open.values())


def init_app(app: Flask, *, total: int, per_user: int) -> None:
    app.extensions["hotline.streams"] = StreamSlots(total, per_user)


def stream_slots() -> StreamSlots:
    found: StreamSlots = current_app.extensions["hotline.streams"]
    return found


def today_figures() -> dict[str, Any]:
    svc = services()
    tz = svc.ctx.settings.tz
    now = svc.ctx.clock.now()
    today = now.astimezone(tz).date()
    total = sum(day_sums(svc.sessions, today, today, tz).values(), CallSums()).figures(
        float(svc.ctx.settings.queue.wrapup_seconds))
    overdue = overdue_open_tickets(svc.sessions, now)
    return {"day": today.isoformat(), "offered": total["offered"], "answered": total["answered"],
            "abandoned": total["abandoned"], "service_level": total["service_level"], "overdue_tickets": overdue,
            "calls_out": calls_out_now(svc.sessions, now),
            "hotspots": svc.tickets.hotspot_rows(now), "at": now.isoformat()}


def read_floor(client: redis.Redis, live_channel: str, stale_after: float, now: float | None = None
               ) -> dict[str, Any] | None:
    """The floor from every node's snapshot beside ``live_channel`` (None: no monitor has written one yet)."""
    beats = {_text(k): float(v) for k, v in client.hgetall(live_nodes_key(live_channel)).items()}
    if not beats:
        return None
    names = sorted(beats)
    raws = client.mget([live_snapshot_key(live_node_channel(live_channel, n)) for n in names])
    pictures = [NodePicture(n, json.loads(raw) if raw else None, beats[n]) for n, raw in zip(names, raws, strict=True)]
    return floor(pictures, time.time() if now is None else now, stale_after)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _event(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def stream_events(client: redis.Redis, live_channel: str, *, stale_after: float = 30.0,
                  clock: Any = time.monotonic, max_seconds: float | None = None,
                  alerts: Callable[[], list[dict[str, str]]] | None = None,
                  check: Callable[[], str | None] | None = None, check_every: float = CHECK_EVERY,
                  gone: Callable[[], bool] | None = None) -> Iterator[str]:
    """The SSE stream of every node's channel beside ``live_channel``: the floor (event ``snapshot``), live
    messages, figures, heartbeats, and ``alerts()`` when it changes from what the page showed (none);
    ``stale_after``: seconds after which a silent node is left out of the sum; ``max_seconds`` ends it (tests). Every
    ``check_every`` seconds ``check()`` says why the stream must end (event ``end``), or None; it ends
    silently once ``gone()`` (the client closed the connection, as waitress tells)."""
    started = clock()
    next_figures = next_alerts = 0.0
    next_check = started + check_every
    shown: list[dict[str, str]] = []
    shown_floor: dict[str, Any] | None = None
    next_floor = 0.0
    last_beat = started
    pubsub = None
    yield "retry: 2000\n\n"
    try:
        while max_seconds is None or clock() - started < max_seconds:
            if gone is not None and gone():
                return
            if check is not None and clock() >= next_check:
                next_check = clock() + check_every
                if (why := check()) is not None:
                    yield _event("end", {"message": why})
                    return
            if clock() >= next_figures:
                yield _event("figures", today_figures())
                next_figures = clock() + FIGURES_EVERY
            if alerts is not None and clock() >= next_alerts:
                next_alerts = clock() + ALERTS_EVERY
                if (now_shown := alerts()) != shown:
                    shown = now_shown
                    yield _event("alerts", {"alerts": shown})
            try:
                if pubsub is None:
                    pubsub = client.pubsub(ignore_subscribe_messages=True)
                    pubsub.psubscribe(live_node_pattern(live_channel))
                    shown_floor, next_floor = None, 0.0
                    yield _event("status", {"redis": "up"})
                message = pubsub.get_message(timeout=1.0) if next_floor else None
                if message is not None:
                    yield _event("live", json.loads(message["data"]))
                if message is not None or clock() >= next_floor:
                    picture = read_floor(client, live_channel, stale_after)
                    next_floor = clock() + FLOOR_EVERY
                    if picture is not None and (message is not None or picture != shown_floor):
                        shown_floor = picture
                        yield _event("snapshot", picture)
            except (RedisError, OSError) as exc:
                if pubsub is not None:
                    _close(pubsub)
                pubsub = None
                yield _event("status", {"redis": "down", "message": str(exc)[:200]})
                time.sleep(2.0)
            if clock() - last_beat >= HEARTBEAT_EVERY:
                last_beat = clock()
                yield ": heartbeat\n\n"
    finally:
        if pubsub is not None:
            _close(pubsub)


def _close(pubsub: Any) -> None:
    try:
        pubsub.close()
    except (RedisError, OSError):
        pass


@bp.route("/")
@requires("wallboard.view")
def page() -> Any:
    t = services().ctx.settings.tickets
    return render_template("wallboard.html", figures=today_figures(), alerts=services().alerts_banner(),
                           hotspot_days=t.hotspot_days, hotspot_min=t.hotspot_min)


@bp.route("/stream")
@requires("wallboard.view")
def stream() -> Response:
    svc, slots = services(), stream_slots()
    user, session_id = current_user.user, current_user.session_id
    full = slots.take(user.id)
    if full is not None:
        log.warning("wallboard stream refused (%s full): user=%s open=%d", full, user.username, slots.open_count())
        if full == "user":
            return _refused("too_many_streams", PER_USER_VI.format(n=slots.per_user), 429)
        return _refused("busy", TOTAL_VI.format(n=slots.total), 503)

    def still_allowed() -> str | None:
        found = svc.console_sessions.live(session_id) if session_id else None
        if found is None:
            return ENDED_VI
        return None if allowed(found.user.role, "wallboard.view") else NOT_ALLOWED_VI
    live = svc.ctx.settings.redis
    gone = request.environ.get("waitress.client_disconnected")
    try:    # until the response owns the slot, a failure (the AccessLog write) gives it back
        svc.access(current_user.name, AccessAction.WALLBOARD_OPEN, "wallboard", remote_addr=request.remote_addr)
        response = Response(stream_with_context(stream_events(svc.live, live.live_channel,
                                                              stale_after=svc.ctx.settings.cluster.dead_after,
                                                              alerts=svc.alerts_banner, check=still_allowed,
                                                              gone=gone)),
                            mimetype="text/event-stream",
                            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    except BaseException:
        slots.give_back(user.id)
        raise
    response.call_on_close(lambda: slots.give_back(user.id))      # however the stream ends
    return response


@bp.route("/live")
@requires("wallboard.view")
def live_floor() -> Any:
    """The floor now as JSON: the sum of the nodes (``waiting``, ``operators``, ``by_state``…) and ``nodes``."""
    svc = services()
    s = svc.ctx.settings
    try:
        picture = read_floor(svc.live, s.redis.live_channel, s.cluster.dead_after)
    except (RedisError, OSError):
        return jsonify(error="redis_down", message="Không đọc được dữ liệu trực tuyến: Redis không trả lời."), 503
    svc.access(current_user.name, AccessAction.WALLBOARD_OPEN, "wallboard:live", remote_addr=request.remote_addr)
    return jsonify(picture or floor([], time.time(), s.cluster.dead_after))


def _refused(error: str, message: str, status: int) -> Response:
    response = jsonify(error=error, message=message)
    response.status_code = status
    response.headers["Retry-After"] = "30"
    return response


SPY_MODES = {"listen": "nghe", "whisper": "nhắc", "barge": "tham gia"}


@bp.route("/spy", methods=["POST"])
@requires("calls.supervise")
def spy() -> Any:
    """{operator, mode: listen|whisper|barge}: ring the supervisor's own phone, then ChanSpy the call."""
    svc = services()
    body = request.get_json(silent=True) or {}
    operator, mode = str(body.get("operator", "")), str(body.get("mode", ""))
    own = current_user.user.operator
    if mode not in SPY_MODES or not NAME_RE.match(operator):
        return jsonify(error="refused", message="Chọn tổng đài viên và cách giám sát: listen, whisper hoặc barge."), 400
    if not own:
        return jsonify(error="refused", message="Tài khoản giám sát chưa gắn với máy điện thoại nào "
                       "(hotline users add … --operator TÊN_MÁY)."), 409

    # the operator's own channel, exactly (op-hoa is not op-hoa-2), on the node it is on (the console runs beside
    # node a); not in a call yet: ChanSpy waits for a channel of theirs
    amis = node_amis(svc.ctx.settings, svc.ctx.secrets)
    found = endpoint_channel_on(amis, operator)
    target = found[1] if found else f"PJSIP/{operator}-"

    async def work(client: Any) -> None:
        await client.originate(f"PJSIP/{own}", Context.SUPERVISE, exten=mode,
                               variables={"SPY_TARGET": target},
                               caller_id=f'"Giám sát {operator}" <1022>')
    try:
        (amis[found[0]] if found else svc.ami).run(work)
    except HotlineError as exc:
        return jsonify(error="refused", message=f"Không gọi được máy của bạn: {for_people(exc)}"), 409
    svc.access(current_user.name, mode, f"PJSIP/{operator}", remote_addr=request.remote_addr, phone=own)
    return jsonify(started=True, mode=mode, operator=operator, phone=own)
