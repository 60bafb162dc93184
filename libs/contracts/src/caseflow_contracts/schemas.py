"""JSON Schema snapshots of every event contract, to catch unintended contract changes.

Within a major version a contract may only grow. The committed snapshots in
``libs/contracts/schemas/<event.type>.json`` make every change to a schema visible in review;
after a deliberate (additive) change, regenerate them with::

    uv run python -m caseflow_contracts.schemas --write

and without ``--write`` the command reports drift and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from caseflow_contracts.registry import EVENT_TYPES, model_of

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
"""Where the snapshots live in a source checkout: ``libs/contracts/schemas``."""

REGENERATE_COMMAND = "uv run python -m caseflow_contracts.schemas --write"
_SUFFIX = ".json"


def render_schema(event_type: str) -> str:
    """The JSON Schema of an event type as it is committed: sorted keys, two-space indent."""
    schema = model_of(event_type).model_json_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def find_drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """What differs between the committed snapshots and the current contracts."""
    problems: list[str] = []
    for event_type in sorted(EVENT_TYPES):
        path = directory / f"{event_type}{_SUFFIX}"
        if not path.is_file():
            problems.append(f"{event_type}: no snapshot at {path}")
        elif path.read_text(encoding="utf-8") != render_schema(event_type):
            problems.append(f"{event_type}: schema differs from {path}")
    if directory.is_dir():
        for path in sorted(directory.glob(f"*{_SUFFIX}")):
            if path.name.removesuffix(_SUFFIX) not in EVENT_TYPES:
                problems.append(f"{path.name}: snapshot of an event type that no longer exists")
    return problems


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Rewrite the snapshots from the current contracts; return the files that changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for event_type in sorted(EVENT_TYPES):
        path = directory / f"{event_type}{_SUFFIX}"
        text = render_schema(event_type)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in sorted(directory.glob(f"*{_SUFFIX}")):
        if path.name.removesuffix(_SUFFIX) not in EVENT_TYPES:
            path.unlink()
            changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Check the snapshots (exit 1 on drift), or rewrite them with ``--write``."""
    parser = argparse.ArgumentParser(
        prog="python -m caseflow_contracts.schemas",
        description="Check or regenerate the JSON Schema snapshots of the event contracts.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the snapshots")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="snapshot directory")
    args = parser.parse_args(argv)
    directory: Path = args.dir
    if args.write:
        changed = write_schemas(directory)
        for path in changed:
            print(f"updated {path}")
        print(f"{len(EVENT_TYPES)} schemas in {directory}, {len(changed)} changed")
        return 0
    problems = find_drift(directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"regenerate with: {REGENERATE_COMMAND}", file=sys.stderr)
        return 1
    print(f"{len(EVENT_TYPES)} schemas match {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
