"""What a province's year leaves behind: recordings and messages on disk, rows in PostgreSQL."""
from __future__ import annotations

from dataclasses import dataclass

from .assumptions import Assumptions
from .traffic import Demand

WAV_HEADER_BYTES = 44
#: each table of hotline/adapters/db/models.py that grows with calls → the assumption holding its bytes/row
TABLE_BYTES = {"calls": "bytes_call", "recordings": "bytes_recording", "voicemails": "bytes_voicemail",
               "transfers": "bytes_transfer", "tickets": "bytes_ticket", "ticket_events": "bytes_event",
               "access_log": "bytes_access", "operator_events": "bytes_operator_event"}


@dataclass(frozen=True)
class Storage:
    """One year's growth of a province's (or a sum of provinces') data."""

    recording_hours: float
    recordings_bytes: float
    messages_bytes: float
    rows: dict[str, float]
    database_bytes: float

    @property
    def audio_bytes(self) -> float:
        return self.recordings_bytes + self.messages_bytes

    def __add__(self, other: Storage) -> Storage:
        rows = {table: self.rows.get(table, 0.0) + other.rows.get(table, 0.0)
                for table in self.rows.keys() | other.rows.keys()}
        return Storage(self.recording_hours + other.recording_hours,
                       self.recordings_bytes + other.recordings_bytes,
                       self.messages_bytes + other.messages_bytes, rows,
                       self.database_bytes + other.database_bytes)


EMPTY = Storage(0.0, 0.0, 0.0, {}, 0.0)


def audio_bytes(seconds: float, files: float, kbps: float) -> float:
    """Bytes of ``files`` WAV files holding ``seconds`` of audio in all at ``kbps`` kbit/s."""
    return seconds * kbps * 1000 / 8 + files * WAV_HEADER_BYTES


def yearly_rows(demand: Demand, assumptions: Assumptions) -> dict[str, float]:
    """Rows each growing table gains in a year."""
    a = assumptions
    operator_calls = demand.staffed_calls_per_year * a.queue_share
    tickets = (operator_calls + demand.messages_per_year) * (1 + a.other_channels_share)
    return {"calls": demand.calls_per_year, "recordings": demand.calls_per_year,
            "voicemails": demand.messages_per_year, "transfers": demand.staffed_calls_per_year * a.desk_share,
            "tickets": tickets, "ticket_events": tickets * a.events_per_ticket,
            "access_log": tickets * a.access_per_ticket,
            "operator_events": operator_calls * a.operator_events_per_call}


def yearly_storage(demand: Demand, staffed_call_seconds: float, assumptions: Assumptions) -> Storage:
    """A year of recordings (every call, answer to hangup: MixMonitor), messages (their own files) and rows.

    ``staffed_call_seconds`` is a staffed call's mean time from answer to hangup.
    """
    a = assumptions
    closed_call_seconds = a.closed_seconds + a.closed_message_share * a.message_seconds
    seconds = (demand.staffed_calls_per_year * staffed_call_seconds
               + demand.closed_calls_per_year * closed_call_seconds)
    rows = yearly_rows(demand, a)
    database = sum(count * getattr(a, TABLE_BYTES[table]) for table, count in rows.items())
    return Storage(recording_hours=seconds / 3600,
                   recordings_bytes=audio_bytes(seconds, demand.calls_per_year, a.recording_kbps),
                   messages_bytes=audio_bytes(demand.messages_per_year * a.message_seconds,
                                              demand.messages_per_year, a.recording_kbps),
                   rows=rows, database_bytes=database)
