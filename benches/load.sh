#!/usr/bin/env bash
# Load test of `prompt-manager serve` on loopback with wrk (Debian package `wrk`).
#
#   benches/load.sh                      # 15 s per run
#   LOAD_DURATION=5s benches/load.sh     # quicker
#
# Serves a fresh SQLite store (release build, no API keys), creates the simple workload prompt
# (benches/workload/simple.j2) and measures, at 32 and 256 connections:
#   - GET of an exact version (`/v1/prompts/bench%2Fsimple@1.0.0`, immutable, ETag),
#   - POST render of it with the workload's variables (benches/workload/data.json → simple),
# and the resident memory (RSS) of the idle server, after start and after the load.
# Traffic goes to 127.0.0.1 only; every run is bounded by LOAD_DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${LOAD_DURATION:-15s}"
THREADS="${LOAD_THREADS:-2}"
CONNECTIONS="${LOAD_CONNECTIONS:-32 256}"

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is not installed: apt-get install -y wrk" >&2
    exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is needed to build the request bodies" >&2
    exit 1
fi

if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --quiet --release -p prompt-manager-cli
fi
bin="${CARGO_TARGET_DIR:-target}/release/prompt-manager"

# shellcheck source=../crates/server/tests/serve_fresh.sh
source crates/server/tests/serve_fresh.sh
serve_fresh "$bin" --no-seed

rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }

sleep 1
idle_start="$(rss_mib)"

python3 - "$work" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
template = pathlib.Path("benches/workload/simple.j2").read_text().rstrip("\n")
variables = json.loads(pathlib.Path("benches/workload/data.json").read_text())["simple"]
(work / "create.json").write_text(json.dumps({"prompt": {"id": "bench/simple", "template": template}}))
(work / "render.json").write_text(json.dumps({"variables": variables}))
PY
curl -sf -X POST "$url/v1/prompts" -H 'content-type: application/json' --data @"$work/create.json" >/dev/null
curl -sf -X POST "$url/v1/prompts/bench%2Fsimple@1.0.0/render" -H 'content-type: application/json' \
    --data @"$work/render.json" >"$work/rendered.json"

body="$(cat "$work/render.json")"
cat >"$work/render.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = [[$body]]
LUA

summary=()
run() {
    local name="$1" connections="$2"; shift 2
    local out
    out="$(wrk -t"$THREADS" -c"$connections" -d"$DURATION" --latency "$@")"
    echo "$out" | sed 's/^/    /'
    local rps p99 errors
    rps="$(echo "$out" | awk '/Requests\/sec/ { print $2 }')"
    p99="$(echo "$out" | awk '$1 == "99%" { print $2 }')"
    errors="$(echo "$out" | awk '/Non-2xx|Socket errors/ { print }' | tr '\n' ' ')"
    summary+=("$(printf '%-26s %4s conns  %10s req/s  p99 %8s  %s' "$name" "$connections" "$rps" "$p99" "$errors")")
}

for c in $CONNECTIONS; do
    echo "== GET exact version, $c connections, $DURATION"
    run "GET exact version" "$c" "$url/v1/prompts/bench%2Fsimple@1.0.0"
    echo "== POST render (simple), $c connections, $DURATION"
    run "POST render simple" "$c" -s "$work/render.lua" "$url/v1/prompts/bench%2Fsimple@1.0.0/render"
done

sleep 2
idle_after="$(rss_mib)"

kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""

echo
echo "== summary ($(nproc) cores, wrk -t$THREADS, server and wrk on the same machine)"
printf '%s\n' "${summary[@]}"
echo "idle RSS of serve: ${idle_start} MiB after start, ${idle_after} MiB after the load"
echo "rendered: $(head -c 120 "$work/rendered.json")…"
echo "serve exited with $status after SIGTERM"
