"""The mail sink of the development stack: every outbound message of Caseflow, kept and shown.

An SMTP server accepts any message for any recipient and stores the bytes it received,
unchanged, as one file of a Maildir; an HTTP server shows that Maildir:

    GET /                      an HTML page listing the messages, newest first
    GET /messages              JSON `{"messages": [summary, ...]}`, newest first; the query
                               `to=` keeps the messages with a To or Cc address containing
                               it, `subject=` those whose subject contains it (both ignore case)
    GET /messages/{id}         JSON: the summary, `headers`, `text` and `attachments`
    GET /messages/{id}/raw     the message as received (`message/rfc822`)
    GET /health                200 while the sink runs

Run it with `python -m caseflow_devstack.mailsink --maildir DIR`; `MailSink` runs it inside
this process (tests) and `MailSinkProcess` as a child process (`make up`). The Maildir and
the views of its messages live in `caseflow_devstack.mailsink_store`, the HTTP pages in
`caseflow_devstack.mailsink_http`; their public names are importable from here too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session

from caseflow_devstack.children import ChildServer
from caseflow_devstack.mailsink_http import SinkHttpServer
from caseflow_devstack.mailsink_store import SinkMaildir, html_to_text
from caseflow_devstack.ports import LOCALHOST

__all__ = [
    "DATA_SIZE_LIMIT",
    "DEFAULT_HTTP_PORT",
    "DEFAULT_SMTP_PORT",
    "MailSink",
    "MailSinkProcess",
    "SinkMaildir",
    "html_to_text",
    "main",
    "serve",
]

DEFAULT_SMTP_PORT = 1025
DEFAULT_HTTP_PORT = 8025
# Larger than any message Caseflow sends: attachments up to 25 MB grow by a third in base64.
DATA_SIZE_LIMIT = 100 * 1024 * 1024

logger = logging.getLogger("caseflow_devstack.mailsink")


# --- the servers -------------------------------------------------------------------------------


class _Delivery:
    """The aiosmtpd handler: every message, whoever it is for, goes into the Maildir."""

    def __init__(self, maildir: SinkMaildir) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else b""
        # Off the event loop: writing a large message must not hold up other connections.
        key = await asyncio.to_thread(self.maildir.deliver, raw)
        logger.info(
            "received id=%s mail_from=%s rcpt_to=%s size=%d",
            key,
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
            len(raw),
        )
        return "250 OK: kept by the Caseflow mail sink"


class MailSink:
    """The SMTP server and the HTTP view of one Maildir, served by this process.

    The SMTP server runs on the event loop `start` is awaited on, the HTTP server in a thread.
    Port 0 takes a free port; `smtp_port` and `http_port` say which once started.
    """

    def __init__(
        self,
        maildir: Path,
        *,
        smtp_host: str = LOCALHOST,
        smtp_port: int = 0,
        http_host: str = LOCALHOST,
        http_port: int = 0,
    ) -> None:
        self.maildir = SinkMaildir(maildir)
        self.smtp_host = smtp_host
        self.http_host = http_host
        self._smtp_port = smtp_port
        self._http_port = http_port
        self._smtp: asyncio.Server | None = None
        self._http: SinkHttpServer | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def smtp_port(self) -> int:
        """The port the SMTP server listens on."""
        return self._smtp_port

    @property
    def http_port(self) -> int:
        """The port the HTTP server listens on."""
        return self._http_port

    @property
    def url(self) -> str:
        """The base URL of the HTTP view."""
        return f"http://{self.http_host}:{self.http_port}"

    async def start(self) -> None:
        """Listen for SMTP on the running event loop and for HTTP in a thread."""
        loop = asyncio.get_running_loop()
        delivery = _Delivery(self.maildir)
        self._smtp = await loop.create_server(
            lambda: SMTP(
                delivery,
                data_size_limit=DATA_SIZE_LIMIT,
                enable_SMTPUTF8=True,
                # A fixed name: the default looks the machine's name up on every connection.
                hostname="caseflow-mailsink",
                loop=loop,
            ),
            host=self.smtp_host,
            port=self._smtp_port,
        )
        self._smtp_port = self._smtp.sockets[0].getsockname()[1]
        try:
            self._http = SinkHttpServer((self.http_host, self._http_port), self.maildir)
        except BaseException:
            await self.stop()
            raise
        self._http_port = self._http.server_address[1]
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="caseflow-mailsink-http", daemon=True
        )
        self._http_thread.start()
        logger.info(
            "listening smtp=%s:%d http=%s maildir=%s",
            self.smtp_host,
            self.smtp_port,
            self.url,
            self.maildir.path,
        )

    async def stop(self) -> None:
        """Stop both servers; the Maildir keeps what arrived."""
        http, self._http = self._http, None
        thread, self._http_thread = self._http_thread, None
        if http is not None:
            # `shutdown` waits for the serving loop to end: not on the event loop.
            await asyncio.to_thread(http.shutdown)
            http.server_close()
        if thread is not None:
            await asyncio.to_thread(thread.join)
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()
            await smtp.wait_closed()

    async def __aenter__(self) -> MailSink:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


# --- the sink as a child process ---------------------------------------------------------------


class MailSinkProcess(ChildServer):
    """The mail sink run as `python -m caseflow_devstack.mailsink`, its Maildir at `maildir`.

    With `exit_with_parent`, a sink started from the main thread ends when this process dies
    without stopping it.
    """

    def __init__(
        self,
        maildir: Path,
        *,
        smtp_port: int = DEFAULT_SMTP_PORT,
        http_port: int = DEFAULT_HTTP_PORT,
        log_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        startup_timeout: float = 30.0,
        exit_with_parent: bool = False,
    ) -> None:
        super().__init__(exit_with_parent=exit_with_parent)
        self.maildir = maildir.absolute()
        self.smtp_port = smtp_port
        self.http_port = http_port
        self.log_file = log_file.absolute() if log_file else None
        self.env = dict(os.environ if env is None else env)
        self.python = python
        self.startup_timeout = startup_timeout

    @property
    def url(self) -> str:
        """The base URL of the sink's HTTP view."""
        return f"http://{LOCALHOST}:{self.http_port}"

    def start(self) -> None:
        """Start the sink and wait until its `/health` answers."""
        if self.running:
            return
        command = [self.python, "-m", "caseflow_devstack.mailsink", "--maildir", str(self.maildir)]
        command += ["--smtp-host", LOCALHOST, "--smtp-port", str(self.smtp_port)]
        command += ["--http-host", LOCALHOST, "--http-port", str(self.http_port)]
        env = {**self.env, "PYTHONUNBUFFERED": "1"}
        self._launch(command, log_file=self.log_file, ready=self._wait_healthy, env=env)

    def _wait_healthy(self) -> None:
        url = f"{self.url}/health"
        with httpx.Client(timeout=1.0) as client:

            def healthy() -> str | None:
                answer = client.get(url)
                # The pid tells our sink from another server already on the port.
                if answer.status_code == 200 and answer.json().get("pid") == self.pid:
                    return None
                return f"{url} answered {answer.status_code}"

            self._wait_until(
                healthy,
                within=self.startup_timeout,
                errors=(httpx.HTTPError, ValueError),
                exited=(
                    f"the mail sink exited while starting (SMTP port {self.smtp_port}, "
                    f"HTTP port {self.http_port})"
                ),
                late=f"the mail sink at {url} did not answer",
            )

    def __repr__(self) -> str:
        return f"MailSinkProcess(smtp_port={self.smtp_port}, http_port={self.http_port})"


# --- the command --------------------------------------------------------------------------------


async def serve(sink: MailSink) -> None:
    """Run `sink` until SIGINT or SIGTERM, then stop it."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop_requested.set)
    try:
        await sink.start()
        await stop_requested.wait()
        logger.info("stopping")
    finally:
        await sink.stop()
        for signum in signals:
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m caseflow_devstack.mailsink`: run the sink in the foreground."""
    parser = argparse.ArgumentParser(
        prog="python -m caseflow_devstack.mailsink",
        description="Keep every message sent to it in a Maildir and show them over HTTP.",
    )
    parser.add_argument("--maildir", type=Path, required=True, help="where messages are kept")
    parser.add_argument("--smtp-host", default=LOCALHOST)
    parser.add_argument("--smtp-port", type=int, default=DEFAULT_SMTP_PORT)
    parser.add_argument("--http-host", default=LOCALHOST)
    parser.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # aiosmtpd logs every command of every session at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = MailSink(
        args.maildir,
        smtp_host=args.smtp_host,
        smtp_port=args.smtp_port,
        http_host=args.http_host,
        http_port=args.http_port,
    )
    asyncio.run(serve(sink))


if __name__ == "__main__":
    main()
