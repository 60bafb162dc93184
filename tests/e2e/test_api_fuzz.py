"""The API fuzz tier: schemathesis against every service's OpenAPI document, over real HTTP, on
the running stack (real PostgreSQL, real broker).

Per operation and stateful (chaining operations through the documents' links), with the
checks: no server error, the response conforms to its schema, its status code is documented,
its content type is documented. Derandomised and bounded, so a run is repeatable and short.
Operations come from the documents, so whatever a service adds later is fuzzed too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from caseflow_devstack.stack import SERVICE_NAMES

from .conftest import Suite

pytestmark = pytest.mark.e2e

CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
)
# Per operation; `CASEFLOW_FUZZ_EXAMPLES` raises it for a longer run by hand.
EXAMPLES = int(os.environ.get("CASEFLOW_FUZZ_EXAMPLES", "25"))


def _schemathesis() -> str:
    beside = Path(sys.executable).with_name("st")
    found = str(beside) if beside.exists() else shutil.which("st")
    assert found, "schemathesis (`st`) is not installed: run `uv sync`"
    return found


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_no_input_breaks_the_api_or_its_contract(
    suite: Suite, service: str, tmp_path: Path
) -> None:
    command = [
        _schemathesis(),
        "run",
        f"{suite.stack.base_url(service)}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES),
        # Derandomised, and so with no example database either.
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        # A stream an agent's console keeps open never ends: nothing to wait for there.
        "--exclude-path",
        "/screen-pops/stream",
        "--no-color",
        "--header",
        f"Authorization: Bearer {suite.token}",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    report = output.decode(errors="replace")
    assert process.returncode == 0, f"schemathesis found problems in {service}:\n{report}"
    assert "API Operations" in report and "Tested:" in report, report
