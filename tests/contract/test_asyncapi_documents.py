"""Each service's committed AsyncAPI document matches what its code declares."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("asyncapi_docs", ROOT / "tools" / "asyncapi_docs.py")
assert spec is not None and spec.loader is not None
asyncapi_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(asyncapi_docs)


@pytest.mark.parametrize("service", asyncapi_docs.SERVICES)
def test_committed_asyncapi_document_is_current(service: str) -> None:
    path = asyncapi_docs.path_of(service)
    assert path.exists(), f"{path} is missing: run `make asyncapi`"
    assert path.read_text() == asyncapi_docs.render(service), (
        f"{path.relative_to(ROOT)} drifted from the code: run `make asyncapi` and commit it"
    )


@pytest.mark.parametrize("service", asyncapi_docs.SERVICES)
def test_every_documented_payload_names_contract_events(service: str) -> None:
    doc = json.loads(asyncapi_docs.path_of(service).read_text())
    assert doc["asyncapi"].startswith("3.")
    for name, channel in doc.get("channels", {}).items():
        assert channel["address"].endswith((".v1", ".v2")), name
