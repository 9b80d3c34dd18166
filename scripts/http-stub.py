#!/usr/bin/env python3
"""A scriptable HTTP/1.1 server on 127.0.0.1 for HworkerSESTests.

usage: http-stub.py [--tls CERT KEY]

Binds a free port, prints it on the first line of stdout, and serves until
killed; with --tls, over TLS with that certificate chain and key (PEM).
Every request outside /_stub/ is recorded and answered with the next
canned response; the last canned response repeats. Control endpoints:

  POST /_stub/respond   body: JSON list of {"status", "headers": [[n, v]],
                        "body", "delay_ms"}, or {"raw": text} to write text
                        as it is (status line included) and close the
                        connection, or {"drop": true} to close it without
                        an answer; replaces the canned responses
  GET  /_stub/requests  JSON list of recorded requests: method, path,
                        headers ([[n, v]] in order), body (base64), client port

Connections are kept alive (HTTP/1.1 with Content-Length), so a client that
reuses its connection shows the same client port on consecutive requests.
It answers like SES would, which moto cannot (throttling, pauses, faults).
"""

import argparse
import base64
import http.server
import json
import ssl
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
        if response.get("drop"):
            self.close_connection = True
            return
        if "raw" in response:
            self.wfile.write(response["raw"].encode())
            self.close_connection = True
            return
        self.reply(response["status"], response.get("headers", []), response.get("body", ""))

    do_GET = do_POST = do_PUT = do_DELETE = do_CONNECT = handle_any


def main():
    parser = argparse.ArgumentParser(description="scriptable HTTP/1.1 stub on 127.0.0.1")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                             do_handshake_on_connect=False)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
