from pathlib import Path

import pytest

from caseflow_contracts import EVENT_TYPES
from caseflow_contracts.schemas import (
    REGENERATE_COMMAND,
    SCHEMA_DIR,
    find_drift,
    main,
    render_schema,
    write_schemas,
)

pytestmark = pytest.mark.unit


def test_committed_schemas_match_the_contracts() -> None:
    drift = find_drift(SCHEMA_DIR)
    assert not drift, (
        "event contracts changed; within a major version only additive changes are allowed.\n"
        + "\n".join(drift)
        + f"\nIf the change is intended, regenerate the snapshots with: {REGENERATE_COMMAND}"
    )


def test_the_snapshot_directory_is_the_one_in_the_source_tree() -> None:
    assert Path(__file__).resolve().parents[1] / "schemas" == SCHEMA_DIR


def test_write_then_check_finds_no_drift(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    assert len(written) == len(EVENT_TYPES)
    assert find_drift(tmp_path) == []
    assert write_schemas(tmp_path) == []
    assert (tmp_path / "case.opened.json").read_text() == render_schema("case.opened")


def test_drift_is_reported_for_changed_missing_and_stale_snapshots(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    (tmp_path / "case.opened.json").write_text("{}\n")
    (tmp_path / "kpi.breached.json").unlink()
    (tmp_path / "case.teleported.json").write_text("{}\n")
    drift = find_drift(tmp_path)
    assert len(drift) == 3
    assert any(line.startswith("case.opened: schema differs") for line in drift)
    assert any(line.startswith("kpi.breached: no snapshot") for line in drift)
    assert any(line.startswith("case.teleported.json") for line in drift)


def test_command_exits_non_zero_on_drift_and_says_how_to_fix_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(tmp_path)]) == 1
    assert REGENERATE_COMMAND in capsys.readouterr().err
    (tmp_path / "case.teleported.json").write_text("{}\n")
    assert main(["--write", "--dir", str(tmp_path)]) == 0
    assert not (tmp_path / "case.teleported.json").exists()
    assert main(["--dir", str(tmp_path)]) == 0
