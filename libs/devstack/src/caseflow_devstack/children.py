"""Tying the life of a child process to ours, so a killed test run leaves no server behind."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Callable

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
