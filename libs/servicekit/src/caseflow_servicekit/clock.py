"""Time as an input: code asks a Clock for `now`; tests hand it a fixed or moving one.

Services started as processes by an end-to-end test cannot be handed a clock object, so they
share one through a file: with `CASEFLOW_CLOCK_FILE` set, a service reads `now` from a
`ShiftedClock`, the machine's time plus the offset in that file, and the test moves time for
every service at once with `move_clock` or `shift_clock`. It is for tests only; a service
that runs on it says so in a warning at start-up.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog

if TYPE_CHECKING:
    from caseflow_servicekit.settings import ServiceSettings

log = structlog.get_logger(__name__)

_MICROSECONDS = Decimal(1_000_000)
# An offset beyond is a typo; far enough, it would take `now()` past the year 9999.
_FARTHEST = timedelta(days=100 * 366)


class Clock(Protocol):
    """Tells the current moment, timezone-aware."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """The machine's clock in UTC, shifted by the offset written in a file.

    The file holds the offset in seconds as a decimal number (`3600`, `90.5`); a missing or
    empty file is an offset of 0. The file is read again whenever its inode, size or
    modification time change (one `os.stat` per `now`). A file that does not read as an
    offset is refused here, at start-up; one that turns bad later is logged and the last good
    offset is kept, so that a running service never fails for it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._version, self._offset = _stat(path), _read_offset(path)

    @property
    def offset(self) -> timedelta:
        """How far this clock is ahead of the machine's (negative: behind)."""
        self._refresh()
        return self._offset

    def now(self) -> datetime:
        self._refresh()
        return datetime.now(UTC) + self._offset

    def _refresh(self) -> None:
        version = _stat(self.path)
        if version == self._version:
            return
        # Remembered even when the new content is bad: it is reported once, not on every call.
        self._version = version
        try:
            self._offset = _read_offset(self.path)
        except (OSError, ValueError) as exc:
            log.warning(
                "clock.file_unreadable",
                path=str(self.path),
                error=str(exc),
                offset_kept=self._offset.total_seconds(),
            )


def move_clock(path: Path, to: datetime) -> datetime:
    """Move the shifted clock of `path` forward to `to`; the moment it now reads.

    Raises ValueError for a naive `to` and for a `to` before the clock's present moment: time
    in a running stack only goes forward.
    """
    if to.utcoffset() is None:
        msg = f"the clock can only be moved to a timezone-aware moment, not {to!r}"
        raise ValueError(msg)
    machine = datetime.now(UTC)
    current = machine + _read_offset(path)
    if to < current:
        msg = (
            f"the clock in {path} reads {current.isoformat()}: it cannot be moved back to "
            f"{to.isoformat()}"
        )
        raise ValueError(msg)
    _write_offset(path, to - machine)
    return to.astimezone(UTC)


def shift_clock(path: Path, by: timedelta) -> datetime:
    """Move the shifted clock of `path` forward by `by`; the moment it now reads.

    Raises ValueError for a negative `by`: time in a running stack only goes forward.
    """
    if by < timedelta(0):
        msg = f"the clock can only be moved forward, not by {by}"
        raise ValueError(msg)
    offset = _read_offset(path) + by
    _write_offset(path, offset)
    return datetime.now(UTC) + offset


def clock_from(settings: ServiceSettings) -> Clock:
    """The clock a service runs on: shifted by `CASEFLOW_CLOCK_FILE` when set, else the
    machine's."""
    if settings.clock_file is None:
        return SystemClock()
    clock = ShiftedClock(settings.clock_file)
    # Loud on purpose: a service in production must never take its time from a test's file.
    log.warning(
        "clock.shifted",
        path=str(settings.clock_file),
        offset_seconds=clock.offset.total_seconds(),
        environment=settings.environment,
    )
    return clock


def _stat(path: Path) -> tuple[int, ...] | None:
    """What changes when the file is rewritten (None: there is no file)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        # Reading it will fail and say why; as a version, it is reported once, not per call.
        return (-1, exc.errno or 0)
    # The inode: an atomic rewrite is a new file, seen even within the mtime's granularity.
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _read_offset(path: Path) -> timedelta:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace").strip()
    except FileNotFoundError:
        return timedelta(0)
    if not text:
        return timedelta(0)
    try:
        seconds = Decimal(text)
    except InvalidOperation:
        seconds = Decimal("NaN")
    if not seconds.is_finite():
        msg = f"the clock file {path} holds {text[:40]!r}, not an offset in seconds such as 3600"
        raise ValueError(msg)
    if abs(seconds) > Decimal(_FARTHEST.total_seconds()):
        msg = f"the clock file {path} holds {text[:40]} seconds: more than a century"
        raise ValueError(msg)
    return timedelta(microseconds=int(seconds * _MICROSECONDS))


def _write_offset(path: Path, offset: timedelta) -> None:
    # A temporary file in the same directory, then a rename: a reader sees the old offset or
    # the new one, never a file half written. No fsync: only tests read it, not a reboot.
    if abs(offset) > _FARTHEST:
        msg = f"the clock cannot be moved more than a century from the machine's, not by {offset}"
        raise ValueError(msg)
    microseconds = offset // timedelta(microseconds=1)
    text = f"{Decimal(microseconds) / _MICROSECONDS:f}\n"
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
