"""A stand-in Caseflow service for the stack runner's tests: `python -m fake_service CMD`.

`migrate` records that it ran and exits with `FAKE_MIGRATE_EXIT` (0 by default).
`serve` answers on HTTP_PORT: `/health/ready` (200, or 503 when FAKE_NEVER_READY is set)
and `/env` (its pid and the settings it was started with, as JSON). On SIGTERM it prints a
line and exits 0, unless FAKE_IGNORE_SIGTERM is set. With FAKE_CRASH_ON_SERVE it exits at
once with code 3.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

SETTINGS = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "FAKE_DATABASE_URL",
    "HTTP_PORT",
    "CASEFLOW_AUTH_SECRET",
    "CASEFLOW_ENV",
    "CASEFLOW_CLOCK_FILE",
)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health/ready":
            status = 503 if os.environ.get("FAKE_NEVER_READY") else 200
            self._reply(status, {"ready": status == 200})
        elif self.path == "/env":
            self._reply(
                200, {"pid": os.getpid()} | {name: os.environ.get(name) for name in SETTINGS}
            )
        else:
            self._reply(404, {"error": "not found"})

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve() -> int:
    if os.environ.get("FAKE_CRASH_ON_SERVE"):
        print("fake: failing on purpose before serving", flush=True)
        return 3
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["HTTP_PORT"])), Handler)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if os.environ.get("FAKE_IGNORE_SIGTERM"):
            print("fake: ignoring SIGTERM", flush=True)
            return
        print("fake: stopping on SIGTERM", flush=True)
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"fake: serving on {server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()
    return 0


def migrate() -> int:
    print(f"fake: migrated {os.environ.get('FAKE_DATABASE_URL')}", flush=True)
    return int(os.environ.get("FAKE_MIGRATE_EXIT", "0"))


if __name__ == "__main__":
    command = sys.argv[1]
    sys.exit(serve() if command == "serve" else migrate())
