"""A webhook receiver for crates/server/tests/webhooks.rs that fails, times out and recovers.

It verifies every request with the Standard Webhooks reference library (`standardwebhooks`,
pinned in tests/python/requirements.txt): signature, timestamp tolerance (replays), and logs one
JSON line per request to stdout: {"n", "id", "type", "verified", "error"?, "answered"}.

argv: SECRET SCRIPT, where SCRIPT is comma-separated answers for the 1st, 2nd, … request
(`500`, `timeout`, `200`); after the script, every request gets 200. It prints `listening PORT`
first.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

SECRET = sys.argv[1]
SCRIPT = [s for s in sys.argv[2].split(",") if s]
lock = threading.Lock()
count = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        with lock:
            count += 1
            n = count
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        record = {"n": n, "id": self.headers.get("webhook-id")}
        try:
            payload = Webhook(SECRET).verify(body, dict(self.headers))
            record["verified"] = True
            record["type"] = payload["type"]
        except Exception as e:  # recorded: the test asserts every request verified
            record["verified"] = False
            record["error"] = f"{type(e).__name__}: {e}"
        answer = SCRIPT[n - 1] if n <= len(SCRIPT) else "200"
        record["answered"] = answer
        with lock:  # one whole line per request, even from concurrent threads
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()
        if answer == "timeout":
            time.sleep(3)
            answer = "200"
        try:
            self.send_response(int(answer))
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
