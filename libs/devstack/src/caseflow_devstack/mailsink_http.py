"""The HTTP view of the mail sink: the pages and JSON of one `SinkMaildir`.

The routes are listed in `caseflow_devstack.mailsink`, which serves them.
"""

from __future__ import annotations

import html
import json
import logging
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from caseflow_devstack.mailsink_store import SinkMaildir

# The sink's one logger, whichever module of it logs.
logger = logging.getLogger("caseflow_devstack.mailsink")


class SinkHttpServer(ThreadingHTTPServer):
    """Serves the HTTP view of `maildir`, a thread per request."""

    def __init__(self, address: tuple[str, int], maildir: SinkMaildir) -> None:
        self.maildir = maildir
        super().__init__(address, _Requests)


class _Requests(BaseHTTPRequestHandler):
    server_version = "CaseflowMailSink/1"

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, SinkHttpServer)
        url = urlsplit(self.path)
        parts = (
            [unquote(part) for part in url.path.strip("/").split("/")] if url.path != "/" else []
        )
        if parts == []:
            self._send(200, "text/html; charset=utf-8", _index_page(server.maildir).encode())
        elif parts == ["health"]:
            self._json(200, {"status": "ok", "pid": os.getpid()})
        elif parts == ["messages"]:
            query = parse_qs(url.query)
            messages = server.maildir.summaries(
                to=query.get("to", [""])[0], subject=query.get("subject", [""])[0]
            )
            self._json(200, {"messages": messages})
        elif len(parts) == 2 and parts[0] == "messages":
            detail = server.maildir.detail(parts[1])
            if detail is None:
                self._json(404, {"error": f"no message {parts[1]}"})
            else:
                self._json(200, detail)
        elif len(parts) == 3 and parts[0] == "messages" and parts[2] == "raw":
            raw = server.maildir.raw(parts[1])
            if raw is None:
                self._json(404, {"error": f"no message {parts[1]}"})
            else:
                self._send(200, "message/rfc822", raw)
        else:
            self._json(404, {"error": f"no such page {url.path}"})

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self._send(status, "application/json; charset=utf-8", data)

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The page reloads itself and the stack polls /health: per-request lines are noise.
        logger.debug(format, *args)


def _index_page(maildir: SinkMaildir) -> str:
    rows = []
    for message in maildir.summaries():
        link = "/messages/" + quote(message["id"], safe="")
        rows.append(
            "<tr>"
            f"<td>{html.escape(message['received_at'])}</td>"
            f"<td>{html.escape(message['from'])}</td>"
            f"<td>{html.escape(', '.join(message['to'] + message['cc']))}</td>"
            f'<td><a href="{html.escape(link)}">{html.escape(message["subject"] or "(none)")}</a>'
            f' <a href="{html.escape(link)}/raw">raw</a></td>'
            "</tr>"
        )
    table = "\n".join(rows) or '<tr><td colspan="4">No mail yet.</td></tr>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<title>Caseflow mail sink</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ text-align: left; padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; }}
</style>
</head>
<body>
<h1>Caseflow mail sink</h1>
<p>Every message Caseflow sends ends here, newest first (the page reloads itself).</p>
<table>
<tr><th>Received</th><th>From</th><th>To</th><th>Subject</th></tr>
{table}
</table>
</body>
</html>
"""
