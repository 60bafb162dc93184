import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil  # type: ignore[import-untyped]

_SERVERS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from caseflow_devstack.broker import EmbeddedKafka
    from caseflow_devstack.postgres import EmbeddedPostgres

    postgres = EmbeddedPostgres(Path(sys.argv[1]), exit_with_parent=True)
    postgres.start()
    kafka = EmbeddedKafka(exit_with_parent=True)
    kafka.start()
    print(postgres.pid, kafka.pid, flush=True)
    sys.stdin.read()
    """
)


def test_servers_started_for_tests_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _SERVERS, str(tmp_path / "data")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line, "the servers did not start"
    children = [psutil.Process(int(pid)) for pid in line.split()]
    assert all(child.is_running() for child in children)

    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()

    gone, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []
    assert len(gone) == 2
