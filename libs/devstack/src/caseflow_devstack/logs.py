"""Reading the log files the development stack writes."""

from __future__ import annotations

from collections import deque
from pathlib import Path


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of the log at `path`, or a note when there is none."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as log:
            return "".join(deque(log, maxlen=lines)).rstrip("\n") or f"({path} is empty)"
    except FileNotFoundError:
        return f"({path} does not exist)"
