"""The province settings' schema: ``province.toml``'s tables as typed, validated pydantic models.

Each validator explains a mistake with what to write instead (``hotline.config.files`` turns that
into a ``ConfigError`` with the file and the line).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hotline.domain.vocabulary import LIVE_CHANNEL, live_node_channel, live_snapshot_key

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ASTERISK_ROOT = Path("/var/cache/hotline-1022/asterisk-root")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]


def _bad(message: str, hint: str, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    return PydanticCustomError("hotline", "{message}", {"message": message, "hint": hint, "at": at})


def _parse_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str) and (m := re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())):
        if int(m[1]) < 24 and int(m[2]) < 60:
            return dt.time(int(m[1]), int(m[2]))
    raise _bad(f"{value!r} is not a time", 'write HH:MM, e.g. "07:00"')


def _parse_days(value: Any) -> list[int]:
    hint = 'write days as ["mon", "tue", "wed", "thu", "fri"] (mon tue wed thu fri sat sun)'
    if not isinstance(value, list) or not value:
        raise _bad("must be a non-empty list of days", hint)
    days: set[int] = set()
    for i, item in enumerate(value):
        if isinstance(item, str) and item.strip().lower() in WEEKDAY_NAMES:
            days.add(WEEKDAY_NAMES.index(item.strip().lower()))
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 6:
            days.add(item)
        else:
            raise _bad(f"{item!r} is not a day of the week", hint, (i,))
    return sorted(days)


def _check_bind(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        hint = 'write an address such as "127.0.0.1" or "0.0.0.0"'
        raise _bad(f"{value!r} is not an IP address", hint) from None


def _resolve_path(value: Any, info: ValidationInfo) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise _bad(f"{value!r} is not a path", 'write a path in quotes, e.g. "var" or "/srv/hotline/var"')
    path = Path(value).expanduser()
    base = Path((info.context or {}).get("base") or Path.cwd())
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProvinceSettings(_Section):
    name: str
    area_code: str
    hotline_numbers: list[str] = Field(default_factory=list)
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _bad("the province name is empty", 'write it with diacritics, e.g. name = "Đồng Tháp"')
        return value.strip()

    @field_validator("area_code", mode="before")
    @classmethod
    def _area_code(cls, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"0\d{2,3}", value.strip()):
            hint = 'write the digits in quotes with the leading 0, e.g. area_code = "0277"'
            raise _bad(f"{value!r} is not an area code", hint)
        return value.strip()

    @field_validator("hotline_numbers", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> list[str]:
        hint = 'write the dialled numbers in quotes, e.g. ["1022", "02771022"]'
        if not isinstance(value, list) or not value:
            raise _bad("must be a non-empty list of numbers", hint)
        for i, number in enumerate(value):
            if not isinstance(number, str) or not re.fullmatch(r"\d{3,15}", number):
                raise _bad(f"{number!r} is not a phone number (digits only)", hint, (i,))
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, KeyError, OSError):
            hint = 'write an IANA name, e.g. "Asia/Ho_Chi_Minh"'
            raise _bad(f"{value!r} is not a known time zone", hint) from None
        return value

    @model_validator(mode="after")
    def _default_numbers(self) -> ProvinceSettings:
        if "hotline_numbers" not in self.model_fields_set:
            self.hotline_numbers = ["1022", f"{self.area_code}1022"]
        return self


class StaffedHours(_Section):
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    open: dt.time = dt.time(7, 0)
    close: dt.time = dt.time(23, 0)

    _days = field_validator("days", mode="before")(_parse_days)
    _times = field_validator("open", "close", mode="before")(_parse_time)

    @model_validator(mode="after")
    def _ordered(self) -> StaffedHours:
        if self.close <= self.open:
            raise _bad(f"close {self.close:%H:%M} is not after open {self.open:%H:%M}",
                       'hours cannot run past midnight; e.g. open = "07:00", close = "23:00"', ("close",))
        return self


class AgencyHours(_Section):
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    periods: list[tuple[dt.time, dt.time]] = Field(
        default_factory=lambda: [(dt.time(7, 0), dt.time(11, 30)), (dt.time(13, 30), dt.time(17, 0))])

    _days = field_validator("days", mode="before")(_parse_days)

    @field_validator("periods", mode="before")
    @classmethod
    def _periods(cls, value: Any) -> list[tuple[dt.time, dt.time]]:
        hint = 'write periods = [["07:00", "11:30"], ["13:30", "17:00"]] — in order, not overlapping'
        if not isinstance(value, list) or not value:
            raise _bad("must be a non-empty list of [start, end] pairs", hint)
        periods: list[tuple[dt.time, dt.time]] = []
        for i, pair in enumerate(value):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise _bad(f"period {pair!r} is not a [start, end] pair", hint, (i,))
            start, end = _parse_time(pair[0]), _parse_time(pair[1])
            if end <= start:
                raise _bad(f"period {i + 1} ends before it starts", hint, (i,))
            if periods and start < periods[-1][1]:
                raise _bad(f"period {i + 1} starts before period {i} ends", hint, (i,))
            periods.append((start, end))
        return periods


class HolidayEntry(_Section):
    date: dt.date
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise _bad("the name is empty", 'name the day in Vietnamese, e.g. name = "Nghỉ Tết Nguyên Đán"')
        return value.strip()


class HolidaySettings(_Section):
    computed: bool = True
    extra: list[HolidayEntry] = Field(default_factory=list)
    working_days: list[HolidayEntry] = Field(default_factory=list)
    removed: list[dt.date] = Field(default_factory=list)


class SipSettings(_Section):
    bind: str = "127.0.0.1"
    port: Port = 5060

    _bind = field_validator("bind", mode="before")(_check_bind)


class AsteriskSettings(_Section):
    system_name: str = Field(default="hotline1", pattern=r"^[A-Za-z0-9_-]+$")
    http_bind: str = "127.0.0.1"
    http_port: Port = 8088
    ami_bind: str = "127.0.0.1"
    ami_port: Port = 5038
    # The addresses AMI accepts its clients from: the hotline's processes (a cluster's node: also the other
    # nodes', whose operators' logins reach its queue; README: Scaling out)
    ami_permit: list[str] = Field(default_factory=lambda: ["127.0.0.1"])   # env HOTLINE_AMI_PERMIT, comma-separated
    ari_app: str = Field(default="hotline", pattern=r"^[A-Za-z0-9_-]+$")
    ari_user: str = Field(default="hotline", pattern=r"^[A-Za-z0-9_-]+$")
    ami_user: str = Field(default="hotline", pattern=r"^[A-Za-z0-9_-]+$")
    rtp_start: Port = 10000
    rtp_end: Port = 20000
    root: Path = DEFAULT_ASTERISK_ROOT
    min_version: int = Field(default=22, ge=1)
    reconcile_seconds: float = Field(default=30.0, ge=5, le=3600)

    _binds = field_validator("http_bind", "ami_bind", mode="before")(_check_bind)

    @field_validator("ami_permit", mode="before")
    @classmethod
    def _permits(cls, value: Any) -> Any:
        items = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else value
        return [_check_bind(item) for item in items] if isinstance(items, list) else items
    _root = field_validator("root", mode="before")(_resolve_path)

    @model_validator(mode="after")
    def _rtp(self) -> AsteriskSettings:
        if self.rtp_end <= self.rtp_start:
            raise _bad(f"rtp_end {self.rtp_end} is not above rtp_start {self.rtp_start}",
                       "e.g. rtp_start = 10000, rtp_end = 20000", ("rtp_end",))
        return self


class AgiSettings(_Section):
    bind: str = "127.0.0.1"
    port: Port = 4573

    _bind = field_validator("bind", mode="before")(_check_bind)


class PathSettings(_Section):
    state_dir: Path = REPO_ROOT / "var"
    recordings_root: Path = REPO_ROOT / "recordings"
    flow: Path = REPO_ROOT / "ivr_flows" / "hotline_1022.yaml"
    directory: Path = REPO_ROOT / "transfer_directory"
    prompts_dir: Path = REPO_ROOT / "ivr_flows" / "prompts"
    categories: Path = REPO_ROOT / "ticket_categories.yaml"

    _paths = field_validator("*", mode="before")(_resolve_path)

    @property
    def attachments(self) -> Path:
        """Where citizens' photos and attachments are kept (hotline.intake.files), by their SHA-256."""
        return self.state_dir / "attachments"

    @property
    def models(self) -> Path:
        """Where the ticket suggestions' model is kept (hotline.services.suggest)."""
        return self.state_dir / "models"


class VoicemailSettings(_Section):
    max_seconds: Seconds = 180.0
    min_seconds: float = Field(default=2.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> VoicemailSettings:
        if self.min_seconds >= self.max_seconds:
            raise _bad("min_seconds is not below max_seconds", "e.g. min_seconds = 2.0, max_seconds = 180",
                       ("min_seconds",))
        return self


class IvrSettings(_Section):
    digit_timeout: Seconds = 5.0
    transfer_ring_seconds: Seconds = 30.0


class QueueSettings(_Section):
    """The operators' queue (app_queue): ring time, after-call work, announcements, longest wait."""

    ring_seconds: Seconds = 15.0        # an operator's phone rings this long before the next is tried
    wrapup_seconds: float = Field(default=15.0, ge=0)   # after-call work before the next call
    announce_seconds: Seconds = 30.0    # position and estimated wait are announced this often
    max_wait: Seconds = 120.0           # then the caller is offered voicemail
    # Callers waiting at once (app_queue maxlen); one more is offered voicemail at once, as after
    # max_wait (QUEUESTATUS FULL). 0: no limit.
    max_waiting: int = Field(default=50, ge=0)


class CapacitySettings(_Section):
    """Admission control: how many citizen calls this server takes at once (bench/ivr_load sizes it).

    Past ``max_calls`` the dialplan plays the next caller a short "all lines are busy" before any
    answer and refuses the call (486), logged with the disposition ``turned_away``; admitted callers
    keep their IVR as fast as ever. Asterisk's own ``maxcalls`` is the hard ceiling above it, over
    every channel that runs dialplan (callers, the busy message's, transfers' local channels):
    refused there, a caller hears nothing (503).
    """

    max_calls: int = Field(default=120, ge=0)          # citizen calls at once; 0: no limit
    asterisk_max_calls: int = Field(default=0, ge=0)   # 0: twice max_calls (none if max_calls is 0)

    @model_validator(mode="after")
    def _ceiling(self) -> CapacitySettings:
        if "asterisk_max_calls" not in self.model_fields_set or not self.asterisk_max_calls:
            self.asterisk_max_calls = 2 * self.max_calls
        elif self.max_calls and self.asterisk_max_calls <= self.max_calls:
            raise _bad(f"asterisk_max_calls {self.asterisk_max_calls} is not above max_calls {self.max_calls}",
                       "leave it out (twice max_calls), or leave room for the busy message's calls, e.g. "
                       f"asterisk_max_calls = {2 * self.max_calls}", ("asterisk_max_calls",))
        return self


class TicketSettings(_Section):
    """Tickets: the digits of a code a caller keys (the last one is a check digit); probable duplicates (an open
    ticket of the same citizen, or of a like text at the same place, received within ``duplicate_days``; like
    texts: a cosine of at least ``similar_text``; one place: map points within ``near_metres``); hotspots (at
    least ``hotspot_min`` tickets of one category at one place within ``hotspot_days``)."""

    code_digits: int = Field(default=7, ge=5, le=10)
    duplicate_days: int = Field(default=14, ge=0, le=365)    # 0: no ticket is flagged
    similar_text: float = Field(default=0.45, gt=0, le=1)
    near_metres: float = Field(default=150, gt=0, le=5000)
    hotspot_min: int = Field(default=3, ge=2, le=1000)
    hotspot_days: int = Field(default=7, ge=1, le=90)


class CallbackSettings(_Section):
    """Calls the hotline places to citizens (an operator calling a citizen back with the answer).

    ``dial``: Asterisk's dial string of the outbound route with ``{number}`` where the citizen's number goes
    (national form, e.g. ``PJSIP/{number}@trunk-telco``); empty: no call goes out. ``caller_id``: the number the
    citizen sees (default the hotline's number with the area code). ``ring_seconds``: how long the citizen's phone
    rings before the call counts as not answered. Toll-fraud limits (a stolen softphone password): at most
    ``max_out_per_operator`` calls out at once from one operator, and ``max_out`` from this node; one more is
    refused as busy by the dialplan (0: no limit).
    rings before the call counts as not answered. ``attempts``: how many times a call-back (key 2 in the queue) calls
    a citizen who does not answer (no answer, busy, unreachable) before it becomes a ticket; ``retry_minutes``: how
    long after a try the next one is offered to an operator (fractions allowed).
    """

    dial: str = ""
    caller_id: str = ""
    ring_seconds: Seconds = 40.0
    max_out_per_operator: int = Field(default=1, ge=0, le=100)
    max_out: int = Field(default=10, ge=0, le=10000)
    attempts: int = Field(default=3, ge=1, le=10)
    retry_minutes: float = Field(default=10.0, gt=0, le=24 * 60)

    @field_validator("dial")
    @classmethod
    def _dial(cls, value: str) -> str:
        value = value.strip()
        hint = 'write a dial string with {number}, e.g. dial = "PJSIP/{number}@trunk-telco"'
        if value and (value.count("{number}") != 1 or not re.fullmatch(r"[A-Za-z]+/[^,&|\s${}]*\{number\}[^,&|\s${}]*",
                                                                       value)):
            raise _bad(f"{value!r} is not one dial string with {{number}} (no commas, & or variables)", hint)
        return value

    @field_validator("caller_id")
    @classmethod
    def _caller_id(cls, value: str) -> str:
        if value and not re.fullmatch(r"\d{3,15}", value.strip()):
            raise _bad(f"{value!r} is not a phone number (digits only)", 'e.g. caller_id = "02771022"')
        return value.strip()


class SuggestSettings(_Section):
    """Suggested category and agency of a ticket (hotline.services.suggest): shown to the operator only at or
    above ``min_confidence`` (0 to 1); the worker trains the model again each night after ``retrain_hour``."""

    enabled: bool = True
    min_confidence: float = Field(default=0.3, ge=0.0, le=1.0)
    retrain_hour: int = Field(default=2, ge=0, le=23)


class IntakeSettings(_Section):
    """Requests in writing (hotline.intake): the web form, e-mail, SMS, Zalo, Facebook and Open311 (README:
    Channels)."""

    max_chars: int = Field(default=5000, ge=200, le=100_000)    # a request's text at the most
    max_files: int = Field(default=3, ge=0, le=20)              # photos or attachments of one request
    max_file_mb: float = Field(default=10.0, gt=0, le=100)      # ... each, as received
    photo_max_side: int = Field(default=2560, ge=320, le=10_000)   # a photo is re-encoded at most this wide
    # Where citizens open the public site (the status page); in every receipt. Empty: no link is sent.
    public_url: str = ""


class PublicSettings(_Section):
    """The public site (public_site/): the citizens' web form, the status page, Open311 and the channels'
    webhooks. No sign-in; behind the province's TLS reverse proxy like the console, never beside it."""

    enabled: bool = True
    bind: str = "127.0.0.1"
    port: Port = 8095
    proxy_hops: int = Field(default=0, ge=0, le=5)     # as [console] proxy_hops
    form_per_hour: int = Field(default=5, ge=1, le=1000)    # web form requests one address may send an hour
    lookups_per_minute: int = Field(default=20, ge=1, le=1000)   # status-page look-ups of one address
    messages_per_hour: int = Field(default=20, ge=1, le=1000)    # SMS, Zalo, Facebook messages of one sender
    open311_per_minute: int = Field(default=60, ge=1, le=10000)   # Open311 POSTs of one API key (or address)


class SmsSettings(_Section):
    """The province's SMS gateway: it calls /sms/inbound on the public site with each text to the hotline's
    number (credential: secrets.toml [channels] sms_token), and the hotline sends through its API."""

    enabled: bool = False
    send_url: str = ""          # POST JSON {"to", "text", "sender"}, bearer secrets.toml [channels] sms_send_token
    sender: str = "1022"
    voicemail_code: bool = False     # text a voicemail caller with a mobile number their ticket's code, once
    answered_notice: bool = True     # text a citizen with a mobile number when their ticket is answered


class ZaloSettings(_Section):
    """The province's Zalo Official Account: its webhook is /zalo/webhook on the public site (signature key:
    secrets.toml [channels] zalo_secret_key), replies through the OA message API (zalo_access_token)."""

    enabled: bool = False
    app_id: str = ""
    api_url: str = Field(default="https://openapi.zalo.me/v3.0/oa/message/cs", pattern=r"^https?://")


class FacebookSettings(_Section):
    """The province's Facebook Page: Messenger's webhook is /facebook/webhook on the public site (secrets.toml
    [channels] facebook_app_secret, facebook_verify_token), replies through the Send API (facebook_page_token)."""

    enabled: bool = False
    api_url: str = Field(default="https://graph.facebook.com/v21.0/me/messages", pattern=r"^https?://")


class MailboxSettings(_Section):
    """The hotline's mailbox, read over IMAP (password: secrets.toml [channels] mailbox_password); its
    receipts and answers leave through [notifications]' SMTP server from ``address``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 993
    tls: bool = True              # IMAPS; false only for a server on this machine
    user: str = ""
    folder: str = "INBOX"
    address: str = ""              # the hotline's public address (From: of the receipts and answers)
    poll_seconds: Seconds = 30.0   # between looks when the server has no IDLE

    @model_validator(mode="after")
    def _password_never_in_clear(self) -> MailboxSettings:
        if not self.tls and self.host not in ("127.0.0.1", "::1", "localhost"):
            raise _bad(f"tls = false would send the mailbox's password to {self.host} in clear",
                       "keep tls = true (IMAPS, port 993); plain IMAP only for a server on this machine", ("tls",))
        return self


class TranscriptionSettings(_Section):
    """Voicemail transcription by the RQ worker: viet-asr (built in) or Vosk (a model a province installs)."""

    engine: Literal["viet-asr", "vosk"] = "viet-asr"
    model_dir: Path = Path("/var/lib/hotline-1022/vosk-model-small-vn-0.4")
    queue: str = "hotline"          # the RQ queue of the worker's jobs
    sweep_seconds: Seconds = 10.0   # how often the worker looks for work Redis lost or never got
    lease_seconds: Seconds = 15.0   # a job that stops renewing its claim this long is run again
    max_attempts: int = Field(default=5, ge=1)

    _paths = field_validator("model_dir", mode="before")(_resolve_path)


class NotificationSettings(_Section):
    """E-mail to agencies' focal points and to supervisors (reminders, escalations, forwarded tickets)."""

    enabled: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: Port = 25
    smtp_user: str = ""
    smtp_password: str = ""
    starttls: bool = False
    # STARTTLS verifies the server's certificate and host name: against the system's CAs, or only this
    # file's (PEM) when the province's mail server has a certificate of its own CA.
    ca_file: Path | None = None
    sender: str = "tongdai1022@localhost"
    supervisors: list[str] = Field(default_factory=list)   # escalations go here
    # The console's address as agencies reach it: a forwarded ticket's e-mail links to its page there.
    console_url: str = Field(default="http://127.0.0.1:8090", pattern=r"^https?://")

    _paths = field_validator("ca_file", mode="before")(_resolve_path)


class RecordingsSettings(_Section):
    """How long call recordings are kept (messages: [retention] messages_days)."""

    retention_days: int = Field(default=365, ge=0)   # 0: keep every recording; else deleted after this many days
    # Below this much free space under the recordings root no message is offered (the caller is told),
    # `hotline status` fails and the supervisors are alerted.
    min_free_mb: int = Field(default=500, ge=0)


class RetentionSettings(_Section):
    """How long each kind of a citizen's personal data is kept (Law 91/2025/QH15); the worker removes each
    at its limit, hourly. 0: kept for ever. Recordings: [recordings] retention_days. Open tickets' data is
    held until they are answered or closed."""

    messages_days: int = Field(default=365, ge=0)          # voice messages' audio files
    transcripts_days: int = Field(default=365, ge=0)       # messages' transcripts and word timings
    ticket_content_days: int = Field(default=1825, ge=0)   # a ticket's content, answer, notes and number
    caller_numbers_days: int = Field(default=365, ge=0)    # the caller's number in call rows
    asterisk_logs_days: int = Field(default=30, ge=0)      # Asterisk's messages.log, rotated daily
    access_log_days: int = Field(default=1825, ge=0)       # AccessLog rows: who read which personal data


class AlertSettings(_Section):
    """Alerts to the supervisors (``[notifications] supervisors``, by e-mail) and the wallboard's banner.

    ``hotline watch`` checks every ``check_seconds``; a component down for more than ``after_seconds``
    is alerted once, and its recovery once. Low disk and a message that could not be saved are alerted
    at once.
    """

    after_seconds: float = Field(default=60.0, ge=0)   # a component down this long is alerted (once)
    check_seconds: Seconds = 5.0                        # how often `hotline watch` checks everything


class SecuritySettings(_Section):
    """The SIP edge: fail2ban bans a source that fails SIP authentication ``max_failures`` times within
    ``find_seconds`` for ``ban_minutes``; nftables drops a source's INVITEs above ``invites_per_second``."""

    ban_minutes: int = Field(default=60, ge=1)           # how long a password-guessing source is banned
    max_failures: int = Field(default=5, ge=1)           # failed authentications that ban a source ...
    find_seconds: int = Field(default=60, ge=1)          # ... within this many seconds
    invites_per_second: int = Field(default=20, ge=0)    # per source (0: no limit); one SBC carries every call
    sip_guard: bool = True                               # false: no fail2ban jail, no firewall rules


class ConsoleSettings(_Section):
    """The operators' and supervisors' browser console (operator_console/, Flask)."""

    bind: str = "127.0.0.1"        # put a TLS reverse proxy in front for other machines
    port: Port = 8090
    page_size: int = Field(default=50, ge=10, le=500)   # tickets, calls, recordings per page
    secure_cookies: bool = False   # true behind HTTPS: the session cookie is sent over TLS only
    session_hours: float = Field(default=12.0, gt=0)    # a signed-in session lasts this long at most
    session_idle_minutes: float = Field(default=60.0, gt=0)   # ... and ends after this long unused
    # Where browsers reach Asterisk's SIP WebSocket; empty: ws://<asterisk http_bind>:<http_port>/ws
    # (behind the TLS proxy: wss://console.example.gov.vn/ws).
    sip_websocket_url: str = ""
    ice_timeout_ms: int = Field(default=1500, ge=200, le=10000)   # a closed network must not stall a call
    # Reverse proxies in front that the client's address is taken from (X-Forwarded-For): 0 none, 1 the
    # documented nginx/Caddy. Never more than there are: a client could then choose its own address.
    proxy_hops: int = Field(default=0, ge=0, le=5)
    signin_failures: int = Field(default=5, ge=1, le=100)      # wrong passwords before an account is locked
    signin_lock_minutes: float = Field(default=15.0, gt=0)     # ... for this long (the window they are counted in)
    signin_per_address: int = Field(default=20, ge=1)          # wrong passwords from one address in that window
    hashing_slots: int = Field(default=2, ge=1, le=16)         # argon2 checks at once (64 MiB each); more: 503
    token_days: float = Field(default=90.0, gt=0)              # an API token expires this long after it is issued
    max_streams: int = Field(default=32, ge=1, le=500)         # wallboard live streams at once, every user's
    streams_per_user: int = Field(default=3, ge=1, le=50)      # ... and one user's (tabs, screens)
    idle_seconds: int = Field(default=60, ge=5, le=3600)       # an idle connection is closed after this long


class DatabaseSettings(_Section):
    url: str = ""   # empty: SQLite in paths.state_dir
    # The ARI app's call-log writes the database cannot take (down, locked, slower than
    # write_deadline) wait in an fsynced spool here and are replayed in order once it is back.
    spool_dir: Path | None = None       # empty: <paths.state_dir>/spool/calllog
    write_deadline: Seconds = 3.0       # a write slower than this goes to the spool, and the ones after it
    retry_max_seconds: Seconds = 5.0    # the longest wait between two tries of the spool's oldest write

    _paths = field_validator("spool_dir", mode="before")(_resolve_path)


class RedisSettings(_Section):
    # Empty: the hotline's own Redis, which `hotline up` starts on 127.0.0.1:<port> with the password it
    # generated into secrets.toml (hotline.config.redis_url). Else a province's own Redis, its password in the
    # URL ("redis://:PASSWORD@10.0.0.5:6379/0"); `hotline up` never starts that one.
    url: str = ""
    port: Port = 6380
    # The wallboard's live channels: each node's monitor publishes on "<live_channel>:node:<[cluster] node>" and
    # keeps its snapshot at "<that channel>:snapshot" (hotline.domain.vocabulary).
    live_channel: str = Field(default=LIVE_CHANNEL, pattern=r"^[A-Za-z0-9:_.-]+$")

    @field_validator("url")
    @classmethod
    def _a_redis_url(cls, url: str) -> str:
        if url and not re.match(r"(rediss?|unix)://", url):
            raise _bad("not a Redis URL", 'leave url out for the hotline\'s own Redis, or write '
                       '"redis://:PASSWORD@10.0.0.5:6379/0"')
        return url


def default_database(state_dir: Path) -> Path:
    """The SQLite database when ``[database] url`` is empty: ``<state_dir>/db/hotline.db``, in a folder of its
    own that the hotline's user may write (SQLite writes beside the file; the state directory stays root's).
    A database an earlier version kept at ``<state_dir>/hotline.db`` is used where it is until the set-up moves
    it (tooling/system/production.py, move_old_database)."""
    old = old_default_database(state_dir)
    return old if old.exists() else Path(state_dir) / "db" / "hotline.db"


def old_default_database(state_dir: Path) -> Path:
    """Where the default SQLite database was before it had a folder of its own."""
    return Path(state_dir) / "hotline.db"


def default_node() -> str:
    """This host's short name (``socket.gethostname()`` up to its first dot): ``[cluster] node``'s default."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])
    return name or "hotline"


@dataclass(frozen=True)
class Peer:
    """Another node of the cluster: its ``[cluster] node`` name, address and SIP port."""

    name: str
    host: str
    port: int


class ClusterSettings(_Section):
    """The Asterisk node this host is, among the nodes that share one database (README: Scaling out).

    Every call row records ``node``; a node's ARI app reconciles only its own calls, and writes every
    ``beat_seconds`` that it is alive; a node not seen for ``dead_after`` seconds is declared dead by a
    surviving node, which then closes that node's open calls (once).
    """

    node: str = Field(default_factory=default_node, pattern=r"^[A-Za-z0-9_-]{1,64}$")   # env HOTLINE_NODE
    beat_seconds: float = Field(default=5.0, ge=1, le=60)      # how often the ARI app says it is alive
    dead_after: float = Field(default=30.0, ge=10, le=3600)     # unseen this long: declared dead
    # Kamailio's address ("10.22.0.1:5060") where the desks' and operators' phones register: this node rings
    # a phone without a fixed contact through it. Empty: the phones register with this Asterisk.
    registrar: str = Field(default="", pattern=r"^$|^[A-Za-z0-9.\[\]:-]+:\d{1,5}$")    # env HOTLINE_REGISTRAR
    # The other nodes, "<node>@<address>:<sip port>" (env HOTLINE_CLUSTER_PEERS, comma-separated): this node's
    # Asterisk exchanges the phones' device states with theirs (a phone in a call on one is busy on all), and
    # an operator's login, pause and logout reach their queues too (README: Scaling out).
    peers: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}@[0-9.]+:\d{1,5}$")]] = Field(
        default_factory=list)
    # Kamailio's trusted sources (the telco trunk's addresses): never counted by pike. Any other source
    # sending over [security] invites_per_second requests is dropped while it floods.
    trusted: list[str] = Field(default_factory=list)
    # Kamailio's WebSocket for the console's softphones (0, the default: none; they then register with node a's
    # Asterisk and get its callers only), on Kamailio's address: keep it behind the TLS proxy or a firewall (README:
    # Known limits); and the console's addresses as operators' browsers open it: a browser's WebSocket from any
    # other page is refused. Empty: http://<[console] bind>:<[console] port>; behind the TLS proxy:
    # ["https://console.example.gov.vn"].
    websocket_port: int = Field(default=0, ge=0, le=65535)
    softphone_origins: list[Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.:\[\]-]+$")]] = Field(
        default_factory=list)

    @field_validator("trusted", mode="before")
    @classmethod
    def _trusted(cls, value: Any) -> Any:
        items = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else value
        return [_check_bind(item) for item in items] if isinstance(items, list) else items

    @field_validator("peers", mode="before")
    @classmethod
    def _peers_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def softphones_at_registrar(self) -> bool:
        """Whether the console's softphones register with Kamailio (a node with a registrar and its WebSocket)."""
        return bool(self.registrar and self.websocket_port)

    @property
    def entity_id(self) -> str:
        """Asterisk's entity id for this node (``entityid``, a MAC-like value): one per node name, locally
        administered, so that the device states the nodes exchange are told apart."""
        digest = hashlib.sha1(self.node.encode(), usedforsecurity=False).digest()
        return ":".join(f"{b:02x}" for b in (0x02, 0x48, 0x4C, *digest[:3]))

    @property
    def peer_nodes(self) -> list[Peer]:
        """``peers`` read: each other node's name, address and SIP port."""
        found = []
        for peer in self.peers:
            name, _, where = peer.partition("@")
            host, _, port = where.rpartition(":")
            found.append(Peer(name, host, int(port)))
        return found

    @model_validator(mode="after")
    def _beats_before_death(self) -> ClusterSettings:
        if self.dead_after < 2 * self.beat_seconds:
            raise _bad(f"dead_after {self.dead_after:g} is under two beats ({self.beat_seconds:g} s each)",
                       "e.g. beat_seconds = 5, dead_after = 30", ("dead_after",))
        return self


class Settings(_Section):
    """Everything a province configures; see the sample province.toml."""

    province: ProvinceSettings
    staffed_hours: StaffedHours = Field(default_factory=StaffedHours)
    agency_hours: AgencyHours = Field(default_factory=AgencyHours)
    holidays: HolidaySettings = Field(default_factory=HolidaySettings)
    sip: SipSettings = Field(default_factory=SipSettings)
    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings)
    agi: AgiSettings = Field(default_factory=AgiSettings)
    paths: PathSettings = Field(default_factory=PathSettings)
    voicemail: VoicemailSettings = Field(default_factory=VoicemailSettings)
    ivr: IvrSettings = Field(default_factory=IvrSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    capacity: CapacitySettings = Field(default_factory=CapacitySettings)
    tickets: TicketSettings = Field(default_factory=TicketSettings)
    callback: CallbackSettings = Field(default_factory=CallbackSettings)
    suggest: SuggestSettings = Field(default_factory=SuggestSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    public: PublicSettings = Field(default_factory=PublicSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    zalo: ZaloSettings = Field(default_factory=ZaloSettings)
    facebook: FacebookSettings = Field(default_factory=FacebookSettings)
    mailbox: MailboxSettings = Field(default_factory=MailboxSettings)
    transcription: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    recordings: RecordingsSettings = Field(default_factory=RecordingsSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

    _source: Path = PrivateAttr(default=REPO_ROOT / "province.toml")
    _repo_root: Path = PrivateAttr(default=REPO_ROOT)

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database.url:
            self.database.url = f"sqlite:///{default_database(self.paths.state_dir)}"
        return self

    @property
    def callback_caller_id(self) -> str:
        """The number a citizen called back sees: ``[callback] caller_id``, or the hotline's last number."""
        return self.callback.caller_id or self.province.hotline_numbers[-1]

    @property
    def live_node_channel(self) -> str:
        """This node's monitor's pub/sub channel (``[redis] live_channel`` and ``[cluster] node``)."""
        return live_node_channel(self.redis.live_channel, self.cluster.node)

    @property
    def live_snapshot_key(self) -> str:
        """Where this node's monitor keeps its snapshot for the wallboard."""
        return live_snapshot_key(self.live_node_channel)

    @property
    def call_log_spool(self) -> Path:
        """Where the ARI app's call-log writes wait for the database: [database] spool_dir."""
        return self.database.spool_dir or self.paths.state_dir / "spool" / "calllog"

    @property
    def source(self) -> Path:
        """The settings file these values were loaded from."""
        return self._source

    @property
    def repo_root(self) -> Path:
        return self._repo_root

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.province.timezone)
