"""The words the hotline's processes share with Asterisk, Redis and each other: defined once, here.

Dialplan contexts (``asterisk_conf/extensions.conf.j2``) and the operator queue's name
(``queues.conf.j2``), how a call ended (``Call.disposition``), where a ticket stands (``Ticket.status``),
an operator's state (the wallboard, ``OperatorEvent.state``), app_queue's view of an operator's phone, where a
message's transcription stands (``Voicemail.status``), a console user's role, what an AccessLog row records,
and the Redis names of the monitor and the console.
Pure constants: no I/O, no Asterisk library.
"""
from __future__ import annotations


class Context:
    """Dialplan contexts of ``extensions.conf.j2`` (tests/unit/test_vocabulary.py checks each is there)."""

    FROM_CITIZENS = "from-citizens"             # every citizen call enters here
    FROM_DESKS = "from-desks"                   # desks calling the hotline
    FROM_OPERATORS = "from-operators"           # operators' phones: the hotline, and calls out to citizens
    HOTLINE = "hotline"                         # answer, recording, then the ARI app's IVR
    BUSY = "hotline-busy"                       # past [capacity] max_calls: "all lines are busy"
    QUEUE = "hotline-queue"                     # the operator queue (app_queue)
    OPERATOR_LEG = "hotline-operator-leg"       # the operator's leg of a queue call
    SUPERVISE = "hotline-supervise"             # a supervisor's ChanSpy (AMI Originate from the console)
    QUEUE_KEYS = "hotline-queue-keys"           # the keys a waiting caller may press
    TICKET_STATUS = "hotline-ticket-status"     # ticket status read back by the AGI server
    DESK_TRANSFER = "hotline-desk-transfer"     # an operator's transfer to a desk (AMI transfers)
    DESK_ANSWERED = "hotline-desk-answered"     # the desk's channel when it answers a transfer
    FALLBACK = "fallback"                       # the plain path when the ARI app is down
    NODE_PEERS = "hotline-node-peers"           # a cluster's other nodes: device states only, no call
    CALLBACK_PLACE = "hotline-callback-place"   # a call-back's placeholder waiting in the caller's place
    CALLBACK_CONNECT = "hotline-callback-connect"   # the operator took the call-back: the citizen is called
    OUTBOUND = "hotline-outbound"               # the numbers an operator may call out to (and the refusal)
    OUTBOUND_CALL = "hotline-outbound-call"     # a call out: the row, the hotline's number, Dial
    OUTBOUND_ANSWERED = "hotline-outbound-answered"   # the citizen answered: the recording starts

    ALL = (FROM_CITIZENS, FROM_DESKS, FROM_OPERATORS, HOTLINE, BUSY, QUEUE, OPERATOR_LEG, SUPERVISE, QUEUE_KEYS,
           TICKET_STATUS, DESK_TRANSFER, DESK_ANSWERED, FALLBACK, NODE_PEERS, CALLBACK_PLACE, CALLBACK_CONNECT,
           OUTBOUND, OUTBOUND_CALL, OUTBOUND_ANSWERED)


QUEUE_NAME = "hotline"      # the app_queue queue of the operators (queues.conf, AMI QueueAdd)


class Disposition:
    """How a call ended (Call.disposition)."""

    IN_PROGRESS = "in_progress"
    ABANDONED_IVR = "abandoned_ivr"        # caller hung up in the IVR
    TO_QUEUE = "to_queue"                  # handed to the operator queue
    TRANSFERRED = "transferred"            # connected to a one-stop desk
    TRANSFER_FAILED = "transfer_failed"    # desk busy / no answer and the caller left
    VOICEMAIL = "voicemail"                # left a message
    CLOSED_HOURS = "closed_hours"          # out of hours, hung up before leaving a message
    APP_FALLBACK = "app_fallback"          # the ARI app was down: plain-dialplan path
    ANSWERED = "answered"                  # an operator answered from the queue (AMI events, or on return)
    ABANDONED_QUEUE = "abandoned_queue"    # caller hung up while waiting in the operator queue
    TURNED_AWAY = "turned_away"            # past [capacity] max_calls: heard "all lines are busy", refused
    NODE_LOST = "node_lost"                # its Asterisk node died; closed by a surviving node
    CALLBACK = "callback"                  # left the queue to be called back, keeping their place (a CallbackRequest)
    # calls out (Call.direction "out"): an operator calling a citizen (back)
    OUT_ANSWERED = "out_answered"          # the citizen answered
    OUT_NO_ANSWER = "out_no_answer"        # rang [callback] ring_seconds unanswered
    OUT_BUSY = "out_busy"                  # the citizen's line was busy
    OUT_FAILED = "out_failed"              # the route could not reach the number (congestion, unavailable)
    OUT_CANCELLED = "out_cancelled"        # the operator hung up before the citizen answered
    OUT_REFUSED = "out_refused"            # a number the hotline never calls (international, premium…)

    FROM_QUEUE = (ANSWERED, ABANDONED_QUEUE)   # what the queue's events tell; finer than TO_QUEUE
    ALL = (IN_PROGRESS, ABANDONED_IVR, TO_QUEUE, TRANSFERRED, TRANSFER_FAILED, VOICEMAIL,
           CLOSED_HOURS, APP_FALLBACK, ANSWERED, ABANDONED_QUEUE, TURNED_AWAY, NODE_LOST, CALLBACK,
           OUT_ANSWERED, OUT_NO_ANSWER, OUT_BUSY, OUT_FAILED, OUT_CANCELLED, OUT_REFUSED)
    OUT = (OUT_ANSWERED, OUT_NO_ANSWER, OUT_BUSY, OUT_FAILED, OUT_CANCELLED, OUT_REFUSED)


class CallbackStatus:
    """Where a call-back stands (CallbackRequest.status)."""

    WAITING = "waiting"        # its placeholder waits in the queue, in the caller's place
    CALLING = "calling"        # an operator took it: the citizen's phone is being called
    COMPLETED = "completed"    # the citizen answered
    NO_ANSWER = "no_answer"    # the citizen's line did not answer (busy, no answer, unreachable): a ticket
    NO_OPERATOR = "no_operator"   # its placeholder left the queue unanswered (no operator left, full): a ticket
    FAILED = "failed"          # could not be kept or placed (no placeholder, no outbound route)
    OPEN = (WAITING, CALLING)
    ENDED = (COMPLETED, NO_ANSWER, NO_OPERATOR, FAILED)


class Direction:
    """Who placed the call (Call.direction): a citizen calling the hotline, or the hotline calling out."""

    IN = "in"
    OUT = "out"


class CallOutcome:
    """What the operator says came of a call to a citizen about a ticket (the ticket's ``call_outcome`` event)."""

    RELAYED = "relayed"              # the answer was given: the ticket is closed
    NO_ANSWER = "no_answer"          # nobody answered: the ticket stays as it is
    WRONG_NUMBER = "wrong_number"    # not the citizen's number: the ticket stays as it is

    ALL = (RELAYED, NO_ANSWER, WRONG_NUMBER)


class TicketStatus:
    """Where a request stands (Ticket.status); see hotline/services/tickets.py for the moves."""

    NEW = "new"
    ASSIGNED = "assigned"          # forwarded to the competent agency
    IN_PROGRESS = "in_progress"    # the agency is working on it
    ANSWERED = "answered"          # the agency's answer is in, to be relayed to the citizen
    CLOSED = "closed"
    OUT_OF_SCOPE = "out_of_scope"
    DUPLICATE = "duplicate"

    OPEN = (NEW, ASSIGNED, IN_PROGRESS)
    FINAL = (CLOSED, OUT_OF_SCOPE, DUPLICATE)   # what closing a ticket may make it
    ALL = (NEW, ASSIGNED, IN_PROGRESS, ANSWERED, CLOSED, OUT_OF_SCOPE, DUPLICATE)


class Channel:
    """How a request came in (Ticket.channel, IntakeMessage.channel); labels in hotline/domain/labels.py."""

    PHONE = "phone"               # an operator's ticket of a call
    VOICEMAIL = "voicemail"
    WEB = "web"                   # the public site's form
    EMAIL = "email"               # the hotline's mailbox
    SMS = "sms"
    ZALO = "zalo"
    FACEBOOK = "facebook"
    OPEN311 = "open311"           # another system, through /open311/v2
    OTHER = "other"

    WRITTEN = (WEB, EMAIL, SMS, ZALO, FACEBOOK, OPEN311)      # hotline.intake's doors
    REPLIES = (EMAIL, SMS, ZALO, FACEBOOK)                   # the hotline can write back through these
    ALL = (PHONE, VOICEMAIL, *WRITTEN, OTHER)


class OperatorState:
    """An operator's state: on the wallboard, in OperatorEvent.state and OperatorStatus.state."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"     # logged in, but the phone is not registered

    ALL = (LOGGED_OUT, AVAILABLE, RINGING, ON_CALL, WRAP_UP, PAUSED, UNAVAILABLE)


class DeviceState:
    """app_queue's view of an operator's phone (AST_DEVICE_*), as words; ``ami.device_state`` decodes."""

    UNKNOWN = "unknown"
    NOT_IN_USE = "not_in_use"
    IN_USE = "in_use"
    BUSY = "busy"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"
    RINGING = "ringing"
    RING_IN_USE = "ring_in_use"
    ON_HOLD = "on_hold"

    ON_CALL = frozenset({IN_USE, BUSY, RING_IN_USE, ON_HOLD})
    OFFLINE = frozenset({INVALID, UNAVAILABLE})        # the phone is not registered
    IDLE = frozenset({UNKNOWN, NOT_IN_USE})            # what app_queue counts as available


class VoicemailStatus:
    """Where a voice message's transcription stands (Voicemail.status)."""

    PENDING = "pending"            # waiting for transcription (worker, Redis or model not there yet)
    TRANSCRIBING = "transcribing"  # a worker holds it until lease_until
    TRANSCRIBED = "transcribed"    # transcript, words and confidence stored
    NO_SPEECH = "no_speech"        # the recognizer heard no words (silence, noise)
    FAILED = "failed"              # the audio could not be read, after every retry; the file is kept
    TOO_SHORT = "too_short"        # under settings.voicemail.min_seconds of audio; kept anyway

    WAITING = (PENDING, TRANSCRIBING)


class Role:
    """What a console user may do (operator_console/permissions.py holds the table)."""

    OPERATOR = "operator"          # tổng đài viên: takes calls, writes tickets
    SUPERVISOR = "supervisor"      # giám sát viên: the floor, recordings, reports
    ADMIN = "admin"                # quản trị: users and settings, and everything a supervisor does
    AGENCY = "agency"              # đầu mối của cơ quan: only their agency's tickets

    ALL = (OPERATOR, SUPERVISOR, ADMIN, AGENCY)


class AccessAction:
    """What an AccessLog row says someone did with a citizen's personal data (``AccessLog.action``, at most
    16 characters); each has its Vietnamese label in hotline/domain/labels.py. Reads through the JSON API
    and the command line have their own codes, so the console's page tells the doors apart."""

    PLAY = "play"                          # a recording or a message played in the console
    DOWNLOAD = "download"                  # ... or downloaded
    LISTEN = "listen"                      # a supervisor listening to a live call (ChanSpy)
    WHISPER = "whisper"                    # ... speaking to the operator only
    BARGE = "barge"                        # ... joining the call
    DELETE = "delete"                      # a file deleted by the retention pass
    RETENTION = "retention"                # a retention pass over rows (transcripts, numbers, the AccessLog)
    EMAIL = "email"                        # an e-mail carrying a citizen's request (to an agency)
    EXPORT = "export"                      # a citizen's data given to them (hotline privacy export)
    ERASE = "erase"                        # a citizen's data erased
    TICKET_VIEW = "ticket_view"            # a ticket's page
    TICKET_LIST = "ticket_list"            # the inbox: a page of tickets (and the rows it gets live)
    TRANSCRIPT_VIEW = "transcript_view"    # a message's transcript shown (the ticket's page, the API)
    FILE_VIEW = "file_view"                # a file a citizen sent with a request (a photo), on its ticket's page
    RECORDING_LIST = "recording_list"      # the recordings search (callers' numbers)
    CALLER_HISTORY = "caller_history"      # a number's earlier calls and tickets (the softphone's call card)
    REPORT_EXPORT = "report_export"        # a report downloaded (CSV, XLSX: operators' names and figures)
    WALLBOARD_OPEN = "wallboard_open"      # the wallboard's live stream opened (waiting callers, masked)
    LOG_EXPORT = "log_export"              # the AccessLog itself downloaded (CSV)
    API_TICKET_VIEW = "api_ticket_view"    # GET /api/tickets/<code>
    API_TICKET_LIST = "api_ticket_list"    # GET /api/tickets
    API_CALL_LIST = "api_call_list"        # GET /api/calls
    API_RECORDINGS = "api_recordings"      # GET /api/recordings
    CLI_TICKET_VIEW = "cli_ticket_view"    # hotline tickets show
    CLI_TICKET_LIST = "cli_ticket_list"    # hotline tickets list
    CLI_CALL_LIST = "cli_call_list"        # hotline calls
    CALL_OUT = "call_out"                  # an operator called a citizen's number from the console

    ALL = (PLAY, DOWNLOAD, LISTEN, WHISPER, BARGE, DELETE, RETENTION, EMAIL, EXPORT, ERASE, TICKET_VIEW,
           TICKET_LIST, TRANSCRIPT_VIEW, FILE_VIEW, RECORDING_LIST, CALLER_HISTORY, REPORT_EXPORT, WALLBOARD_OPEN,
           LOG_EXPORT, API_TICKET_VIEW, API_TICKET_LIST, API_CALL_LIST, API_RECORDINGS, CLI_TICKET_VIEW,
           CLI_TICKET_LIST, CLI_CALL_LIST, CALL_OUT)
    SPY = (LISTEN, WHISPER, BARGE)


PUBLIC_REFUSALS_KEY = "hotline:public:refused"   # a hash: why the public site refused a request -> how many
LIVE_CHANNEL = "hotline:live"   # the default of [redis] live_channel: the monitor's pub/sub channel
#: operator -> the epoch second their last queue call ended, on any node (monitor/pool.py: one idle order)
LAST_CALL_KEY = "hotline:operators:last_call"
#: the prefix of the console's sign-in limiter's counts in Redis (operator_console/signin.py, Flask-Limiter)
SIGNIN_KEY_PREFIX = "hotline:console:signin"


def live_snapshot_key(channel: str) -> str:
    """The Redis key of the monitor's snapshot beside its pub/sub ``channel``."""
    return f"{channel}:snapshot"


def live_node_channel(channel: str, node: str) -> str:
    """One node's monitor's pub/sub channel beside ``[redis] live_channel``: ``<channel>:node:<node>``; its
    snapshot and beat are ``live_snapshot_key`` and ``live_beat_key`` of it."""
    return f"{channel}:node:{node}"


def live_node_pattern(channel: str) -> str:
    """The pub/sub pattern of every node's channel (the wallboard subscribes to all)."""
    return f"{channel}:node:*"


def live_nodes_key(channel: str) -> str:
    """The Redis hash of the nodes whose monitors publish: node -> real time (Unix seconds) of its last snapshot."""
    return f"{channel}:nodes"


def live_beat_key(channel: str) -> str:
    """The Redis key where the monitor writes the real time (Unix seconds) of its last snapshot: its proof of
    life for ``hotline status`` (the snapshot's own ``at`` is on the hotline clock, which tests move)."""
    return f"{channel}:beat"
