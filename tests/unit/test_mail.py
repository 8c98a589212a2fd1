"""E-mail to agencies (issue 13, item 6), through a real SMTP server (aiosmtpd): STARTTLS verifies the
server's certificate and host name (a certificate of an unknown CA, or for another host, and nothing is
sent), a province's own CA is trusted through ``[notifications] ca_file``; a forwarded ticket's e-mail
links to the ticket's page in the console and carries no recording, and is in the AccessLog."""
from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from hotline.adapters.db.models import AccessLog
from hotline.adapters.mail import Mail, Mailer
from hotline.config.schema import NotificationSettings
from hotline.worker import jobs
from tests.support.redis_server import free_port

from .test_worker_paths import NOW, SmtpSink, make_runtime, recorded_call


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA of the province's own, a server certificate it signed for 127.0.0.1, one for another host."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=So TTTT test CA",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name, san in (("right", "IP:127.0.0.1,DNS:localhost"), ("wrong", "DNS:mail.other.example")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(d / f"{name}.key"),
                "-out", str(d / f"{name}.csr"))
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem"))
    return d


def tls_server(pki: Path, cert: str) -> Iterator[tuple[SmtpSink, int]]:
    handler = SmtpSink(refusing=False)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / f"{cert}.pem", pki / f"{cert}.key")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture()
def right(pki: Path) -> Iterator[tuple[SmtpSink, int]]:
    yield from tls_server(pki, "right")


@pytest.fixture()
def wrong(pki: Path) -> Iterator[tuple[SmtpSink, int]]:
    yield from tls_server(pki, "wrong")


MAIL = Mail(("daumoi@sxd.example.gov.vn",), "[1022] Phản ánh", "Nội dung riêng tư của công dân")


def mailer(port: int, ca_file: Path | None) -> Mailer:
    mine = {"ca_file": ca_file} if ca_file else {}
    return Mailer(NotificationSettings(smtp_host="127.0.0.1", smtp_port=port, starttls=True,
                                       sender="tongdai1022@dongthap.example.gov.vn", **mine))


def test_starttls_trusts_the_provinces_ca_file_and_sends(pki: Path, right: tuple[SmtpSink, int]) -> None:
    sink, port = right
    assert mailer(port, pki / "ca.pem").send(MAIL)
    [got] = sink.received
    assert got.rcpt_tos == ["daumoi@sxd.example.gov.vn"]


def test_starttls_refuses_a_certificate_of_an_unknown_ca(right: tuple[SmtpSink, int]) -> None:
    sink, port = right
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        mailer(port, None).send(MAIL)             # the system's CAs never signed it
    assert sink.received == []


def test_starttls_refuses_a_certificate_for_another_host(pki: Path, wrong: tuple[SmtpSink, int]) -> None:
    sink, port = wrong
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch|hostname"):
        mailer(port, pki / "ca.pem").send(MAIL)   # the province's CA signed it, for mail.other.example
    assert sink.received == []


def test_a_forwarded_tickets_e_mail_links_to_its_page_and_attaches_nothing(
        tmp_path: Path, database_url: str) -> None:
    handler = SmtpSink(refusing=False)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rt = make_runtime(tmp_path, "redis://127.0.0.1:1/0", database_url=database_url, smtp_port=port)
        rt.ctx.settings.notifications.console_url = "https://1022.dongthap.example.gov.vn/"
        recorded_call(rt, "hotline1-200", NOW - timedelta(hours=1))
        ticket = rt.tickets.create(channel="phone", caller="0912345678", content="Đèn đường hẻm 12 không sáng",
                                   actor="lan", call_id="hotline1-200")
        ticket = rt.tickets.assign(ticket["code"], "department:03", actor="lan")
        assert jobs.notify_assigned(ticket["id"], runtime=rt) == "sent"
    finally:
        controller.stop()
    [got] = handler.received
    message = got.message
    assert not message.is_multipart() and list(message.iter_attachments()) == []
    body = message.get_content()   # type: ignore[attr-defined]
    assert f"https://1022.dongthap.example.gov.vn/tickets/{ticket['code']}" in body
    assert "Đèn đường hẻm 12 không sáng" in body and "gửi kèm" not in body
    with rt.sessions() as s:
        [row] = s.scalars(select(AccessLog))
    assert (row.username, row.action, row.resource, row.call_id) == (
        "worker", "email", f"ticket:{ticket['code']}", "hotline1-200")
    assert sorted(row.detail["to"]) == sorted(got.rcpt_tos) and got.rcpt_tos
