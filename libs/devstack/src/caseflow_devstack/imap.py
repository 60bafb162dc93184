"""An IMAP server for tests and the development stack: pymap, run as a child process.

pymap's `maildir` backend keeps each user's mail in a Maildir folder under `home` and reads
its users from files in the same directory, which this module writes before the server
starts. The mail therefore survives a restart on the same `home`, which is what tests of
reconnection need. Maildir keeps lines ending in LF alone, so a message appended with CRLF
line ends is fetched back with LF ones.

Without a certificate the server offers no STARTTLS; with one it does, and wants it before
LOGIN from other hosts (pymap lets a client on the same host log in without it).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import secrets
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from caseflow_devstack.children import ChildServer
from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.ports import LOCALHOST, free_port

# Each LOGIN costs one derivation; a test server needs no more than this.
_HASH_ROUNDS = 10_000
_USERS_FILE = "pymap-etc-passwd"
_PASSWORDS_FILE = "pymap-etc-shadow"
_GREETING = b"* OK"


def _password_hash(password: str) -> str:
    """`password` as a PBKDF2-SHA256 digest in the notation pymap verifies it in.

    pymap checks passwords with passlib when passlib is installed (its "adapted base64":
    no padding, "." for "+") and with pysasl's own PBKDF2 otherwise (standard base64).
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _HASH_ROUNDS)

    def encode(raw: bytes) -> str:
        text = base64.b64encode(raw).decode("ascii")
        if importlib.util.find_spec("passlib") is not None:
            return text.rstrip("=").replace("+", ".")
        return text

    return f"$pbkdf2-sha256${_HASH_ROUNDS}${encode(salt)}${encode(digest)}"


def _pymap_command() -> list[str]:
    """How to run pymap with this interpreter (the package has no `__main__`)."""
    return [sys.executable, "-c", "from pymap.main import main; main()"]


class EmbeddedImap(ChildServer):
    """A pymap IMAP server on 127.0.0.1:`port` (a free port when None) with the users
    `user` and `other_users`, their mail kept under `home`.

    With `cert_file` and `key_file` (PEM) the server offers STARTTLS. With
    `exit_with_parent`, a server started from the main thread ends when this process dies
    without stopping it.
    """

    def __init__(
        self,
        home: Path,
        *,
        user: str,
        password: str,
        other_users: Mapping[str, str] | None = None,
        port: int | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        log_file: Path | None = None,
        startup_timeout: float = 30.0,
        exit_with_parent: bool = False,
    ) -> None:
        super().__init__(exit_with_parent=exit_with_parent)
        self.home = home.absolute()
        self.users: dict[str, str] = {user: password, **(other_users or {})}
        for name in self.users:
            if not name or ":" in name or "/" in name or name.startswith("."):
                raise ValueError(f"not a usable IMAP user name: {name!r}")
        if (cert_file is None) != (key_file is None):
            raise ValueError("STARTTLS needs both cert_file and key_file")
        self.cert_file = cert_file.absolute() if cert_file else None
        self.key_file = key_file.absolute() if key_file else None
        self.log_file = (log_file or self.home / "pymap.log").absolute()
        self.startup_timeout = startup_timeout
        self._port = port

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return LOCALHOST

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known once started, or when given)."""
        if self._port is None:
            raise InfrastructureError("the IMAP server has no port yet: start() it first")
        return self._port

    @property
    def starttls(self) -> bool:
        """Whether the server offers STARTTLS."""
        return self.cert_file is not None

    @property
    def mail_dir(self) -> Path:
        """The directory holding the users' files and one Maildir per user."""
        return self.home / "mail"

    def start(self) -> None:
        """Write the users, start the server and wait until it greets a client."""
        if self.running:
            return
        if self._port is None:
            self._port = free_port()
        self._write_users()
        command = _pymap_command()
        command += ["--host", LOCALHOST, "--port", str(self._port)]
        # Only the IMAP service: the others need extras and would listen on ports of their own.
        for service in ("admin", "managesieve", "swim"):
            command += ["--no-service", service]
        if self.cert_file is not None and self.key_file is not None:
            command += ["--cert", str(self.cert_file), "--key", str(self.key_file)]
        else:
            command += ["--no-tls"]
        command += ["maildir", str(self.mail_dir)]
        # The greeting names the host; a fixed name spares a DNS lookup on every connection.
        env = {**os.environ, "FQDN": "localhost"}
        self._launch(
            command, log_file=self.log_file, ready=self._wait_for_greeting, cwd=self.home, env=env
        )

    def restart(self, timeout: float = 5.0) -> None:
        """Stop the server and start it again on the same port, with the same mail."""
        self.stop(timeout)
        self.start()

    def _write_users(self) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        # The files follow passwd(5) and shadow(5); each user's Maildir is named after them.
        users = "".join(f"{name}:x::::{name}:\r\n" for name in self.users)
        passwords = "".join(
            f"{name}:{_password_hash(password)}:::::::\r\n" for name, password in self.users.items()
        )
        (self.mail_dir / _USERS_FILE).write_text(users, encoding="utf-8")
        shadow = self.mail_dir / _PASSWORDS_FILE
        shadow.write_text(passwords, encoding="utf-8")
        shadow.chmod(0o600)

    def _wait_for_greeting(self) -> None:
        self._wait_until(
            self._greets,
            within=self.startup_timeout,
            errors=(OSError,),
            exited=f"the IMAP server on port {self._port} exited",
            late=f"the IMAP server on port {self._port} did not greet",
        )
        if not self.running:
            # Something else answered on the port and our server failed to bind it.
            raise InfrastructureError(
                f"the IMAP server exited right after starting on {self._port}"
            )

    def _greets(self) -> str | None:
        with socket.create_connection((LOCALHOST, self.port), timeout=1.0) as sock:
            greeting = sock.recv(1024)
        return None if greeting.startswith(_GREETING) else f"unexpected greeting {greeting!r}"

    def __repr__(self) -> str:
        return f"EmbeddedImap(home={str(self.home)!r}, port={self._port})"
