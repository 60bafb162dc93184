"""The shifted clock: the machine's time plus the offset a test writes to a file."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from caseflow_servicekit import (
    ServiceSettings,
    ShiftedClock,
    SystemClock,
    clock_from,
    move_clock,
    shift_clock,
)


def _reads_ahead_by(clock: ShiftedClock, offset: timedelta) -> bool:
    before = datetime.now(UTC)
    reading = clock.now()
    after = datetime.now(UTC)
    return before + offset <= reading <= after + offset


def test_without_a_file_the_shifted_clock_reads_the_machines_time(tmp_path: Path) -> None:
    clock = ShiftedClock(tmp_path / "clock")
    assert clock.offset == timedelta(0)
    assert _reads_ahead_by(clock, timedelta(0))
    assert clock.now().tzinfo is UTC


@pytest.mark.parametrize(
    ("content", "offset"),
    [
        ("", timedelta(0)),
        ("  \n", timedelta(0)),
        ("3600", timedelta(hours=1)),
        ("90.5\n", timedelta(seconds=90, milliseconds=500)),
        (" -30 ", timedelta(seconds=-30)),
        ("0.000001", timedelta(microseconds=1)),
    ],
)
def test_the_clock_file_holds_seconds_as_a_decimal_number(
    tmp_path: Path, content: str, offset: timedelta
) -> None:
    path = tmp_path / "clock"
    path.write_text(content)
    clock = ShiftedClock(path)
    assert clock.offset == offset
    assert _reads_ahead_by(clock, offset)


def test_the_shifted_clock_follows_the_file_as_it_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = ShiftedClock(path)
    expected = timedelta(0)
    # Rewrites faster than the file system's timestamps tick, some of the same size: each
    # one is seen all the same.
    for hours in (1, 1, 2, 3, 5):
        shift_clock(path, timedelta(hours=hours))
        expected += timedelta(hours=hours)
        assert clock.offset == expected
        assert _reads_ahead_by(clock, expected)
    # Written by other means than the kit's writer, too.
    path.write_text("36000.25")
    assert clock.offset == timedelta(hours=10, milliseconds=250)


def test_a_removed_clock_file_is_an_offset_of_zero(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    shift_clock(path, timedelta(minutes=5))
    clock = ShiftedClock(path)
    path.unlink()
    assert clock.offset == timedelta(0)


@pytest.mark.parametrize("content", ["soon", "1h", "nan", "inf", "1e20", "3600 s"])
def test_a_clock_file_that_holds_no_offset_is_refused_at_start(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "clock"
    path.write_text(content)
    with pytest.raises(ValueError, match="clock file"):
        ShiftedClock(path)


def test_a_bad_write_later_keeps_the_last_good_offset_and_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("60")
    clock = ShiftedClock(path)
    with capture_logs() as logs:
        path.write_text("sixty-one")
        assert clock.offset == timedelta(seconds=60)
        assert _reads_ahead_by(clock, timedelta(seconds=60))
    assert [entry["event"] for entry in logs] == ["clock.file_unreadable"]
    assert logs[0]["log_level"] == "warning"
    assert logs[0]["path"] == str(path)
    assert logs[0]["offset_kept"] == 60.0

    path.write_text("120")
    assert clock.offset == timedelta(seconds=120)


def test_the_clock_is_moved_to_a_moment(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    to = datetime.now(UTC) + timedelta(days=3)
    assert move_clock(path, to) == to
    clock = ShiftedClock(path)
    assert to <= clock.now() < to + timedelta(seconds=5)
    later = datetime(2100, 1, 1, 9, tzinfo=UTC)
    move_clock(path, later)
    assert later <= clock.now() < later + timedelta(seconds=5)


def test_shifting_adds_to_the_offset_and_says_what_the_clock_reads(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    first = shift_clock(path, timedelta(hours=1))
    second = shift_clock(path, timedelta(minutes=30))
    assert ShiftedClock(path).offset == timedelta(hours=1, minutes=30)
    assert second - first >= timedelta(minutes=30)


def test_the_clock_is_never_moved_back(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    shift_clock(path, timedelta(hours=2))
    written = path.read_text()
    with pytest.raises(ValueError, match="cannot be moved back"):
        move_clock(path, datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(ValueError, match="only be moved forward"):
        shift_clock(path, timedelta(seconds=-1))
    with pytest.raises(ValueError, match="timezone-aware"):
        move_clock(path, datetime(2100, 1, 1))
    with pytest.raises(ValueError, match="more than a century"):
        move_clock(path, datetime(9000, 1, 1, tzinfo=UTC))
    assert path.read_text() == written


def test_the_clock_is_not_moved_from_a_file_that_holds_no_offset(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("soon")
    with pytest.raises(ValueError, match="clock file"):
        shift_clock(path, timedelta(hours=1))
    assert path.read_text() == "soon"


def test_the_clock_file_is_replaced_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clock"
    path.write_text("60")
    replaced: list[tuple[Path, str]] = []
    real_replace = os.replace

    def replace(source: str, destination: Path) -> None:
        # What a reader could see: the old file until the rename, then the whole new one.
        assert path.read_text() == "60"
        replaced.append((Path(source), Path(source).read_text()))
        real_replace(source, destination)

    monkeypatch.setattr("caseflow_servicekit.clock.os.replace", replace)
    shift_clock(path, timedelta(seconds=30))
    [(temporary, content)] = replaced
    assert temporary.parent == tmp_path
    assert content == "90\n"
    assert path.read_text() == "90\n"
    assert sorted(tmp_path.iterdir()) == [path]


def test_a_failed_write_leaves_the_clock_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clock"
    path.write_text("60")

    def replace(source: str, destination: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("caseflow_servicekit.clock.os.replace", replace)
    with pytest.raises(OSError, match="disk full"):
        shift_clock(path, timedelta(seconds=30))
    assert path.read_text() == "60"
    assert sorted(tmp_path.iterdir()) == [path]


def test_clock_from_settings_is_the_machines_clock_unless_a_clock_file_is_set(
    tmp_path: Path,
) -> None:
    plain = ServiceSettings(database_url="postgresql://x/y")
    assert plain.clock_file is None
    assert isinstance(clock_from(plain), SystemClock)

    path = tmp_path / "clock"
    path.write_text("3600")
    shifted = ServiceSettings(database_url="postgresql://x/y", clock_file=path)
    with capture_logs() as logs:
        clock = clock_from(shifted)
    assert isinstance(clock, ShiftedClock)
    assert clock.path == path
    assert [(entry["event"], entry["log_level"], entry["path"]) for entry in logs] == [
        ("clock.shifted", "warning", str(path))
    ]


def test_the_clock_file_setting_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEFLOW_CLOCK_FILE", str(tmp_path / "clock"))
    assert ServiceSettings(database_url="postgresql://x/y").clock_file == tmp_path / "clock"
    monkeypatch.setenv("CASEFLOW_CLOCK_FILE", "")
    assert ServiceSettings(database_url="postgresql://x/y").clock_file is None


def test_a_bad_clock_file_stops_a_service_at_start(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("yesterday")
    with pytest.raises(ValueError, match="clock file"):
        clock_from(ServiceSettings(database_url="postgresql://x/y", clock_file=path))
