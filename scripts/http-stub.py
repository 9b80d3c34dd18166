#!/usr/bin/env python3
"""A scriptable HTTP/1.1 server on 127.0.0.1 for HworkerSESTests.

usage: http-stub.py

Binds a free port, prints it on the first line of stdout, and serves until
killed. Every request outside /_stub/ is recorded and answered with the next
canned response; the last canned response repeats. Control endpoints:

  POST /_stub/respond   body: JSON list of {"status", "headers": [[n, v]],
                        "body", "delay_ms"}; replaces the canned responses
  GET  /_stub/requests  JSON list of recorded requests: method, path,
                        headers ([[n, v]] in order), body (base64), client port

Connections are kept alive (HTTP/1.1 with Content-Length), so a client that
reuses its connection shows the same client port on consecutive requests.
It answers like SES would, which moto cannot (throttling, pauses, faults).
"""

import base64
import http.server
import json
import sys
import threading
import time

lock = threading.Lock()
recorded = []
responses = [{"status": 200, "headers": [["Content-Type", "application/json"]],
              "body": '{"MessageId": "stub-message-id"}'}]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, headers, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/_stub/respond":
            global responses
            with lock:
                responses = json.loads(body)
            return self.reply(204, [], b"")
        if self.path == "/_stub/requests":
            with lock:
                data = json.dumps(recorded)
            return self.reply(200, [["Content-Type", "application/json"]], data)

        with lock:
            recorded.append({
                "method": self.command,
                "path": self.path,
                "headers": [[n, v] for n, v in self.headers.items()],
                "body": base64.b64encode(body).decode(),
                "client_port": self.client_address[1],
            })
            response = responses[0] if len(responses) == 1 else responses.pop(0)
        time.sleep(response.get("delay_ms", 0) / 1000)
        self.reply(response["status"], response.get("headers", []), response.get("body", ""))

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
