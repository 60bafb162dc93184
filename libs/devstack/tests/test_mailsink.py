import asyncio
import mailbox
import os
import signal
import smtplib
import sys
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.mailsink import MailSink, MailSinkProcess
from caseflow_devstack.ports import free_port
from caseflow_devstack.processes import ServiceSpec
from caseflow_devstack.pytest_plugin import PgServer
from caseflow_devstack.stack import Stack, stack_from_environ

pytestmark = pytest.mark.service

TESTS = Path(__file__).parent
NON_ASCII_SUBJECT = "Ärger mit der Rechnung – 50 €"


def _message(
    subject: str,
    to: str,
    text: str,
    *,
    cc: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Caseflow Service Desk <support@caseflow.local>"
    message["To"] = to
    if cc is not None:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash(subject))}@caseflow.local>"
    message.set_content(text)
    if attachment is not None:
        name, content = attachment
        message.add_attachment(content, maintype="application", subtype="pdf", filename=name)
    return message


async def _send(port: int, message: EmailMessage) -> bytes:
    """Send `message` with the standard library's client; the bytes that went over the wire."""
    raw = message.as_bytes(policy=policy.SMTP)

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("support@caseflow.local", ["rcpt@example.com"], raw)

    await asyncio.to_thread(send)
    return raw


def _path(message_id: str) -> str:
    return "/messages/" + quote(message_id, safe="")


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    mail_sink = MailSink(tmp_path / "mail", smtp_port=free_port(), http_port=free_port())
    async with mail_sink:
        yield mail_sink


@pytest.fixture
async def http(sink: MailSink) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sink.url, timeout=10) as client:
        yield client


async def _two_messages(sink: MailSink) -> tuple[bytes, bytes]:
    first = await _send(
        sink.smtp_port,
        _message("Your request C-1 was received", "Jane Doe <jane@example.com>", "Hello Jane"),
    )
    second = await _send(
        sink.smtp_port,
        _message(
            NON_ASCII_SUBJECT,
            "joe@example.org",
            "Die Rechnung liegt bei.",
            cc="Jürgen <juergen@example.org>",
            attachment=("Rechnung März.pdf", b"%PDF-1.4 fake"),
        ),
    )
    return first, second


async def test_every_message_is_kept_in_the_maildir_and_listed_newest_first(
    sink: MailSink, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _two_messages(sink)

    assert len(mailbox.Maildir(tmp_path / "mail", create=False)) == 2
    listing = (await http.get("/messages")).json()["messages"]
    assert [m["subject"] for m in listing] == [NON_ASCII_SUBJECT, "Your request C-1 was received"]
    newest, oldest = listing
    assert newest["from"] == "Caseflow Service Desk <support@caseflow.local>"
    assert newest["to"] == ["joe@example.org"]
    assert newest["cc"] == ["Jürgen <juergen@example.org>"]
    assert oldest["to"] == ["Jane Doe <jane@example.com>"]
    assert oldest["message_id"].endswith("@caseflow.local>")
    assert oldest["in_reply_to"] is None
    assert oldest["references"] == []
    assert newest["received_at"] >= oldest["received_at"]
    assert newest["size"] > oldest["size"] > 0


async def test_the_listing_filters_by_recipient_and_subject_ignoring_case(
    sink: MailSink, http: httpx.AsyncClient
) -> None:
    await _two_messages(sink)

    async def subjects(**query: str) -> list[str]:
        response = await http.get("/messages", params=query)
        return [m["subject"] for m in response.json()["messages"]]

    assert await subjects(to="JANE@example.com") == ["Your request C-1 was received"]
    assert await subjects(to="juergen@") == [NON_ASCII_SUBJECT]  # a Cc counts
    assert await subjects(subject="ärger") == [NON_ASCII_SUBJECT]
    assert await subjects(to="example", subject="c-1") == ["Your request C-1 was received"]
    assert await subjects(to="nobody@example.com") == []


async def test_a_message_shows_its_headers_text_and_attachments(
    sink: MailSink, http: httpx.AsyncClient
) -> None:
    await _two_messages(sink)
    newest = (await http.get("/messages")).json()["messages"][0]

    detail = (await http.get(_path(newest["id"]))).json()

    assert {key: detail[key] for key in newest} == newest
    assert ["Subject", NON_ASCII_SUBJECT] in detail["headers"]
    assert detail["text"] == "Die Rechnung liegt bei.\n"
    assert detail["attachments"] == [
        {"filename": "Rechnung März.pdf", "content_type": "application/pdf", "size": 13}
    ]


async def test_an_html_only_message_is_shown_as_text(
    sink: MailSink, http: httpx.AsyncClient
) -> None:
    message = _message("HTML only", "jane@example.com", "placeholder")
    message.set_content(
        "<html><head><style>p { color: red }</style></head><body>"
        "<p>Hello &amp; welcome,</p><p>your case is <b>C-7</b>.</p><script>x()</script>"
        "</body></html>",
        subtype="html",
    )
    await _send(sink.smtp_port, message)
    listed = (await http.get("/messages")).json()["messages"][0]

    detail = (await http.get(_path(listed["id"]))).json()

    assert detail["text"] == "Hello & welcome,\n\nyour case is C-7."
    assert detail["attachments"] == []


async def test_raw_gives_back_the_exact_bytes_received(
    sink: MailSink, http: httpx.AsyncClient
) -> None:
    first, second = await _two_messages(sink)
    newest, oldest = (await http.get("/messages")).json()["messages"]

    raw = await http.get(_path(newest["id"]) + "/raw")

    assert raw.status_code == 200
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.content == second
    assert (await http.get(_path(oldest["id"]) + "/raw")).content == first


async def test_unknown_messages_and_pages_answer_404_and_health_200(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/health")).status_code == 200
    for path in ("/messages/1234.nope", "/messages/1234.nope/raw", "/messages/../../etc"):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert "error" in response.json()
    assert (await http.get("/elsewhere")).status_code == 404


async def test_the_page_lists_the_messages_escaped(sink: MailSink, http: httpx.AsyncClient) -> None:
    assert "No mail yet." in (await http.get("/")).text
    await _send(sink.smtp_port, _message("<script>alert(1)</script>", "a@example.com", "x"))
    await _send(sink.smtp_port, _message("Second", "b@example.com", "y"))

    page = (await http.get("/")).text

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page
    assert page.index("Second") < page.index("alert(1)")
    newest = (await http.get("/messages")).json()["messages"][0]
    assert f'href="{_path(newest["id"])}"' in page


async def test_the_command_serves_until_sigterm_and_exits_0(tmp_path: Path) -> None:
    smtp_port, http_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "caseflow_devstack.mailsink"),
        *("--maildir", str(tmp_path / "mail"), "--smtp-host", "127.0.0.1"),
        *("--smtp-port", str(smtp_port), "--http-host", "127.0.0.1"),
        *("--http-port", str(http_port)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as client:
            async with asyncio.timeout(30):
                while True:
                    try:
                        health = await client.get("/health")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
            assert health.status_code == 200
            assert health.json()["pid"] == process.pid
            await _send(smtp_port, _message("Through the command", "a@example.com", "x"))
            listing = (await client.get("/messages")).json()["messages"]
            assert [m["subject"] for m in listing] == ["Through the command"]
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    assert "received id=" in output.decode()


async def test_the_process_handle_starts_and_stops_the_sink(tmp_path: Path) -> None:
    sink = MailSinkProcess(
        tmp_path / "mail",
        smtp_port=free_port(),
        http_port=free_port(),
        log_file=tmp_path / "mailsink.log",
    )
    await asyncio.to_thread(sink.start)
    try:
        assert sink.running
        await _send(sink.smtp_port, _message("Via the handle", "a@example.com", "x"))
        async with httpx.AsyncClient(base_url=sink.url) as client:
            listing = (await client.get("/messages")).json()["messages"]
        assert [m["subject"] for m in listing] == ["Via the handle"]
    finally:
        await asyncio.to_thread(sink.stop)
    assert not sink.running
    assert "received id=" in (tmp_path / "mailsink.log").read_text()


async def test_the_process_handle_fails_when_its_port_is_taken(
    sink: MailSink, tmp_path: Path
) -> None:
    # The in-process sink already answers /health on this port: that must not pass for ours.
    clash = MailSinkProcess(
        tmp_path / "other",
        smtp_port=free_port(),
        http_port=sink.http_port,
        log_file=tmp_path / "other.log",
        startup_timeout=10,
    )
    with pytest.raises(InfrastructureError, match="exited while starting"):
        await asyncio.to_thread(clash.start)
    assert not clash.running


# --- the stack's mail settings ----------------------------------------------------------------


def _stack(tmp_path: Path, **environ: str) -> Stack:
    return Stack(
        home=tmp_path,
        services=[ServiceSpec("intake", free_port())],
        environ={"KAFKA_BOOTSTRAP_SERVERS": "k:9", "CASEFLOW_DATABASE_URL": "postgresql://db/x"}
        | environ,
    )


def test_the_stack_gives_intake_its_smtp_ports_the_sink_and_a_blob_dir(tmp_path: Path) -> None:
    stack = _stack(tmp_path)

    assert stack.smtp_port == 2525
    assert stack.mailsink_smtp_port == 1025
    assert stack.mailsink_url == "http://127.0.0.1:8025"
    assert stack.intake_environ() == {
        "INTAKE_SMTP_HOST": "127.0.0.1",
        "INTAKE_SMTP_PORT": "2525",
        "INTAKE_RELAY_HOST": "127.0.0.1",
        "INTAKE_RELAY_PORT": "1025",
        "INTAKE_BLOB_DIR": str(tmp_path / "blobs"),
    }
    summary = stack.summary()
    assert (
        "  SMTP (send requests here)  smtp://127.0.0.1:2525"
        "  (support address: support@caseflow.local)"
    ) in summary
    assert "  Mail sink (outbound mail)  http://127.0.0.1:8025" in summary


def test_the_stack_takes_its_mail_ports_from_arguments_then_the_environment(
    tmp_path: Path,
) -> None:
    from_environ = _stack(
        tmp_path,
        CASEFLOW_SMTP_PORT="2626",
        CASEFLOW_MAILSINK_SMTP_PORT="1126",
        CASEFLOW_MAILSINK_HTTP_PORT="8126",
        INTAKE_SUPPORT_ADDRESSES="Help <help@example.com>, help@example.com",
    )
    assert (from_environ.smtp_port, from_environ.mailsink_smtp_port) == (2626, 1126)
    assert from_environ.mailsink_url == "http://127.0.0.1:8126"
    assert "(support address: Help <help@example.com>)" in from_environ.summary()

    given = Stack(
        home=tmp_path,
        services=[],
        environ={"CASEFLOW_SMTP_PORT": "2626"},
        smtp_port=3000,
        mailsink_smtp_port=3001,
        mailsink_http_port=3002,
    )
    assert (given.smtp_port, given.mailsink_smtp_port) == (3000, 3001)
    assert given.mailsink_url == "http://127.0.0.1:3002"

    made_up = stack_from_environ({}, home=tmp_path)
    assert (made_up.smtp_port, made_up.mailsink_smtp_port) == (2525, 1025)


def test_settings_in_the_environment_are_kept_and_a_real_relay_means_no_sink(
    tmp_path: Path,
) -> None:
    kept = _stack(tmp_path, INTAKE_SMTP_PORT="2700", INTAKE_BLOB_DIR="/srv/blobs")
    assert kept.smtp_port == 2700
    assert set(kept.intake_environ()) == {
        "INTAKE_SMTP_HOST",
        "INTAKE_RELAY_HOST",
        "INTAKE_RELAY_PORT",
    }

    relay = _stack(tmp_path, INTAKE_RELAY_HOST="smtp.example.com")
    switched_off = _stack(tmp_path, CASEFLOW_MAILSINK="0")
    for stack in (relay, switched_off):
        assert stack.mailsink is None
        assert stack.mailsink_url is None
        assert stack.mailsink_smtp_port is None
        assert "INTAKE_RELAY_HOST" not in stack.intake_environ()
        assert "INTAKE_RELAY_PORT" not in stack.intake_environ()
        assert "Mail sink" not in stack.summary()


async def test_the_stack_runs_the_sink_and_hands_its_settings_to_every_service(
    tmp_path: Path, pg_server: PgServer, kafka_bootstrap: str
) -> None:
    environ = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(TESTS),
        "CASEFLOW_DATABASE_URL": pg_server.url("postgres"),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
    }
    stack = Stack(
        home=tmp_path,
        services=[ServiceSpec("fake", free_port(), module="fake_service")],
        environ=environ,
        topics=[],
        smtp_port=free_port(),
        mailsink_smtp_port=free_port(),
        mailsink_http_port=free_port(),
    )
    async with stack:
        env = stack.service("fake").env
        assert env["INTAKE_SMTP_PORT"] == str(stack.smtp_port)
        assert env["INTAKE_SMTP_HOST"] == env["INTAKE_RELAY_HOST"] == "127.0.0.1"
        assert env["INTAKE_RELAY_PORT"] == str(stack.mailsink_smtp_port)
        assert env["INTAKE_BLOB_DIR"] == str(tmp_path / "blobs")
        assert stack.mailsink_smtp_port is not None
        await _send(stack.mailsink_smtp_port, _message("Acknowledged", "a@example.com", "x"))
        async with httpx.AsyncClient(base_url=str(stack.mailsink_url)) as client:
            assert (await client.get("/health")).status_code == 200
            listing = (await client.get("/messages")).json()["messages"]
        assert [m["subject"] for m in listing] == ["Acknowledged"]
    assert stack.mailsink is not None
    assert not stack.mailsink.running
    assert len(mailbox.Maildir(tmp_path / "mail", create=False)) == 1
    assert (tmp_path / "logs" / "mailsink.log").exists()
