"""Servers run as child processes of ours: started, waited for, stopped, and tied to our life
so that a killed test run leaves no server behind."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from caseflow_devstack.errors import InfrastructureError
from caseflow_devstack.logs import tail

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def exit_with_parent(signum: int) -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to send `signum` to the child once we are gone.

    None where that cannot be promised: off Linux, and off the main thread (Linux sends the
    signal when the *thread* that started the child ends, and worker threads come and go).
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # we died before the request was in place
            os.kill(os.getpid(), signum)

    return arm


class ChildServer(ABC):
    """A server run as a child process, at most one at a time: its output appended to a log
    file, in a session of its own, stopped with SIGTERM and then SIGKILL.

    A subclass builds the command and says when the server is ready, in its `start`. With
    `exit_with_parent`, a server started from the main thread ends when this process dies
    without stopping it.
    """

    def __init__(self, *, exit_with_parent: bool) -> None:
        self.exit_with_parent = exit_with_parent
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the server process started by this object is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id of the server, while it runs."""
        return self._process.pid if self.running and self._process else None

    @abstractmethod
    def start(self) -> None:
        """Start the server and wait until it is ready."""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after `timeout` seconds."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _launch(
        self,
        command: Sequence[str],
        *,
        log_file: Path | None,
        ready: Callable[[], None],
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Start `command` with its output in `log_file` (discarded when None), then call
        `ready`, which waits until the server is ready.

        When `ready` fails (`InfrastructureError`), the server is stopped and the error
        raised again with the end of the log.
        """
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
        with (log_file or Path(os.devnull)).open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C meant for the runner must not reach the server
                # before the services that use it have stopped.
                start_new_session=True,
                # Gone with us if we die without stopping it (a test run killed by a timeout).
                preexec_fn=exit_with_parent(signal.SIGKILL) if self.exit_with_parent else None,
            )
        try:
            ready()
        except InfrastructureError as error:
            self.stop()
            log_text = f"; log {log_file}:\n{tail(log_file)}" if log_file else ""
            raise InfrastructureError(f"{error}{log_text}") from error

    def _wait_until(
        self,
        probe: Callable[[], str | None],
        *,
        within: float,
        errors: tuple[type[Exception], ...],
        exited: str,
        late: str,
    ) -> None:
        """Call `probe` until it returns None, meaning ready, rather than why the server is
        not ready yet; an exception of a type in `errors` is such a reason too.

        Fails with the message `exited` as soon as the process has ended, and with `late`
        and the last reason after `within` seconds.
        """
        deadline = time.monotonic() + within
        while True:
            if not self.running:
                raise InfrastructureError(exited)
            try:
                reason = probe()
            except errors as error:
                reason = repr(error)
            if reason is None:
                return
            if time.monotonic() > deadline:
                raise InfrastructureError(f"{late} within {within:g} s: {reason}")
            time.sleep(0.05)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
