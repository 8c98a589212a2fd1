"""A ticket's page with its audio: an agency's focal point plays the call's recording and the voicemail
of its own tickets (seeking with HTTP ranges, every play in the AccessLog with the ticket), never another
agency's, and never the recordings search; operators play none; supervisors and admins play all and
download. The permission table, the ticket page and the file routes say the same.

On SQLite and PostgreSQL (``database_url``), through Flask's test client.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hotline.adapters.db.models import AccessLog, Role
from operator_console.permissions import PERMISSIONS
from tests.unit.test_console import PASSWORD, REC, VM, add_voicemail, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)


def voicemail_ticket(world: dict[str, Any], agency: str) -> str:
    """A voicemail's ticket (its own call, a 2 s message), forwarded to ``agency``."""
    svc = world["svc"]
    ticket = svc.tickets.for_voicemail(add_voicemail(world))
    assert ticket is not None
    svc.tickets.assign(ticket["code"], agency, actor="lan")
    return str(ticket["code"])


def plays(world: dict[str, Any]) -> list[tuple[str, str, str, str | None, dict[str, Any]]]:
    """The AccessLog's plays and downloads (the pages read are rows too: tests/unit/test_console_access_log.py)."""
    with world["svc"].sessions() as s:
        return [(a.username, a.action, a.resource, a.call_id, a.detail or {})
                for a in s.scalars(select(AccessLog).where(AccessLog.action.in_(("play", "download")))
                                   .order_by(AccessLog.id))]


def test_the_permission_table_says_who_plays_a_tickets_audio() -> None:
    assert PERMISSIONS["tickets.audio"] == {Role.SUPERVISOR, Role.ADMIN, Role.AGENCY}
    assert PERMISSIONS["recordings.play"] == {Role.SUPERVISOR, Role.ADMIN}      # the search, any file, downloads


def test_an_agency_plays_its_own_tickets_audio_and_each_play_is_logged(world: dict[str, Any]) -> None:
    mine = world["mine"]                      # department 03's ticket, from call hotline1-1 (recorded, 3 s)
    message = voicemail_ticket(world, "department:03")
    agency = sign_in(world["app"], "xd")
    page = agency.get(f"/tickets/{mine}").get_data(as_text=True)
    assert f'src="/tickets/{mine}/audio/recording"' in page and f"/tickets/{mine}/waveform" in page
    assert "/recordings/" not in page and "Tải về" not in page        # plays from the ticket; no download link
    whole = agency.get(f"/tickets/{mine}/audio/recording")
    size = 44 + 2 * 8000 * 3
    assert whole.status_code == 200 and int(whole.headers["Content-Length"]) == size
    assert whole.mimetype == "audio/wav" and whole.headers["Accept-Ranges"] == "bytes"
    seek = agency.get(f"/tickets/{mine}/audio/recording", headers={"Range": "bytes=16044-"})
    assert seek.status_code == 206 and seek.headers["Content-Range"] == f"bytes 16044-{size - 1}/{size}"
    wave = agency.get(f"/tickets/{mine}/waveform")
    assert wave.status_code == 200 and wave.mimetype == "image/svg+xml"
    page = agency.get(f"/tickets/{message}").get_data(as_text=True)
    assert f'id="vm-audio" controls preload="metadata" src="/tickets/{message}/audio/voicemail"' in page
    assert agency.get(f"/tickets/{message}/audio/voicemail").status_code == 200
    assert plays(world) == [
        ("xd", "play", REC, "hotline1-1", {"ticket": mine}),
        ("xd", "play", REC, "hotline1-1", {"range": "bytes=16044-", "ticket": mine}),
        ("xd", "play", VM, "hotline1-2", {"ticket": message})]       # the waveform is no play


def test_another_agencys_tickets_audio_is_refused_and_so_is_the_recordings_search(world: dict[str, Any]) -> None:
    svc = world["svc"]
    svc.users.add("tp", "Đầu mối Sở Tư pháp", Role.AGENCY, PASSWORD, agency="department:01")
    message = voicemail_ticket(world, "department:03")
    other = sign_in(world["app"], "tp")
    for url in (f"/tickets/{world['mine']}/audio/recording", f"/tickets/{world['mine']}/waveform",
                f"/tickets/{message}/audio/voicemail"):
        assert other.get(url).status_code == 403, url
    assert other.get(f"/tickets/{world['mine']}").status_code == 404        # nor its page (as before)
    agency = sign_in(world["app"], "xd")
    assert agency.get(f"/tickets/{world['other']}/audio/recording").status_code == 403   # not forwarded to them
    for url in ("/recordings/", f"/recordings/?ticket={world['mine']}", f"/recordings/file/{REC}",
                f"/recordings/file/{VM}", f"/recordings/waveform/{REC}"):
        assert agency.get(url).status_code == 403, url
    assert agency.get(f"/tickets/{world['mine']}/audio/voicemail").status_code == 404   # a call, no message
    assert agency.get(f"/tickets/{world['mine']}/audio/..%2Fsecret.txt").status_code == 404
    assert plays(world) == []


def test_operators_play_none_supervisors_play_and_download(world: dict[str, Any]) -> None:
    mine = world["mine"]
    op = sign_in(world["app"], "lan")
    assert "<audio" not in op.get(f"/tickets/{mine}").get_data(as_text=True)
    assert op.get(f"/tickets/{mine}/audio/recording").status_code == 403
    sup = sign_in(world["app"], "binh")
    page = sup.get(f"/tickets/{mine}").get_data(as_text=True)
    assert f'src="/tickets/{mine}/audio/recording"' in page and f"/recordings/file/{REC}?download=1" in page
    assert sup.get(f"/tickets/{mine}/audio/recording", headers={"Range": "bytes=0-99"}).status_code == 206
    assert plays(world) == [("binh", "play", REC, "hotline1-1", {"range": "bytes=0-99", "ticket": mine})]
