# Sourced by crates/server/tests/schemathesis.sh and benches/load.sh: starts `prompt-manager
# serve` on a fresh SQLite store in a scratch folder, on a free loopback port, with the keys file
# `$work/keys.json` (none: no API keys, unless the caller defines `serve_fresh_setup BIN`, which
# runs in the new scratch folder's time before the server starts).
#
#   serve_fresh BIN [EXTRA SERVE ARGS…]
#
# Sets `work` (the scratch folder), `server_pid` and `url`, and installs an EXIT trap that stops
# the server (SIGTERM) and removes the folder. Exits the script when the server does not start.

serve_fresh() {
    local bin="$1"
    shift
    work="$(mktemp -d)"
    server_pid=""
    trap serve_fresh_cleanup EXIT
    # A caller may prepare the scratch folder (create API keys, say) before the server starts.
    if declare -F serve_fresh_setup >/dev/null; then
        serve_fresh_setup "$bin"
    fi
    # Started directly (not in a subshell) so that $! is the server itself.
    "$bin" --store "sqlite://$work/pm.db" serve --port 0 --quiet --keys-file "$work/keys.json" \
        --webhooks-file "$work/webhooks.json" "$@" \
        >"$work/stdout" 2>"$work/stderr" &
    server_pid=$!
    url=""
    for _ in $(seq 1 100); do
        url="$(head -n 1 "$work/stdout" 2>/dev/null || true)"
        [[ "$url" == http://* ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr"; echo "the server did not start" >&2; exit 1; }
        sleep 0.1
    done
    cat "$work/stderr"
    echo "the server printed no URL" >&2
    exit 1
}

serve_fresh_cleanup() {
    if [[ -n "${server_pid:-}" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
