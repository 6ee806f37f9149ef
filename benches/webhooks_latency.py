#!/usr/bin/env python3
"""Webhook delivery latency: a receiver on 127.0.0.1 records arrival times; the script serves a
fresh SQLite store with a webhook to it, makes N label moves through the REST API (50 ms apart)
and reports the audit entry's time → arrival (p50 / p99 / max).

    python3 benches/webhooks_latency.py target/release/prompt-manager 100
"""
import json, subprocess, sys, threading, time, urllib.request, os, tempfile, statistics
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIN = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv) > 2 else 100
arrivals = {}
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        arrivals[body["id"]] = (time.time(), body)
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
work = tempfile.mkdtemp()
env = dict(os.environ, PROMPT_MANAGER_STORE=f"sqlite://{work}/pm.db")
subprocess.run([BIN, "create", "--id", "greet", "--template", "Hi {{ name }}"], env=env, check=True, capture_output=True)
subprocess.run([BIN, "update", "--id", "greet", "--template", "Hello {{ name }}", "--bump", "minor", "-m", "x"], env=env, check=True, capture_output=True)
subprocess.run([BIN, "webhooks", "add", f"http://127.0.0.1:{srv.server_address[1]}/h", "--allow-private", "--events", "label.moved", "--webhooks-file", f"{work}/wh.json"], env=env, check=True, capture_output=True)
p = subprocess.Popen([BIN, "serve", "--port", "0", "--quiet", "--no-seed", "--keys-file", f"{work}/keys.json", "--webhooks-file", f"{work}/wh.json", "--webhooks-allow-private"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
url = p.stdout.readline().strip()
sent = []
for i in range(N):
    v = "1.0.0" if i % 2 else "1.1.0"
    req = urllib.request.Request(f"{url}/v1/prompts/greet/labels/staging", data=json.dumps({"version": v}).encode(), method="PUT", headers={"content-type": "application/json"})
    urllib.request.urlopen(req).read()
    time.sleep(0.05)
deadline = time.time() + 30
while len(arrivals) < N and time.time() < deadline:
    time.sleep(0.1)
lat = []
for _, (t, body) in arrivals.items():
    at = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).timestamp()
    lat.append((t - at) * 1000)
lat.sort()
p.terminate(); p.wait()
print(f"{len(arrivals)}/{N} delivered; change→receiver ms: p50 {statistics.median(lat):.0f}, p99 {lat[int(len(lat)*0.99)-1]:.0f}, max {lat[-1]:.0f}")
