"""Generate each service's AsyncAPI document into services/<name>/asyncapi.json.

`python tools/asyncapi_docs.py --write` regenerates them; without `--write` it checks that the
committed documents match what the code declares and exits 1 naming the ones that drifted.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from caseflow_servicekit import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("intake", "cases", "routing", "sla", "scheduling", "knowledge")


def document(service: str) -> dict[str, Any]:
    """The AsyncAPI document the service's code declares."""
    bootstrap = importlib.import_module(f"{service}.bootstrap")
    module = importlib.import_module(f"{service}.settings")
    [settings_class] = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    # Building the app connects to nothing; the URL is never used.
    settings = settings_class(database_url="postgresql://docs@localhost/docs")
    app = bootstrap.build(settings, configure_process=False)
    doc: dict[str, Any] = app.kit.asyncapi()
    return doc


def render(service: str) -> str:
    """The document as committed: sorted keys, two-space indent, final newline."""
    return json.dumps(document(service), indent=2, sort_keys=True) + "\n"


def path_of(service: str) -> Path:
    return ROOT / "services" / service / "asyncapi.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    drifted = []
    for service in SERVICES:
        text = render(service)
        path = path_of(service)
        if args.write:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        elif not path.exists() or path.read_text() != text:
            drifted.append(service)
    if drifted:
        print(
            f"AsyncAPI documents out of date: {', '.join(drifted)}; run `make asyncapi`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
