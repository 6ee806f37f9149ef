#!/usr/bin/env bash
# Property-based API tests with schemathesis (PyPI) against the server's own /openapi.json, with
# every check schemathesis has (`--checks all`): no 5xx, every status, content type, header and
# body as documented, schema-valid requests accepted and invalid ones refused, 405 with `Allow`
# for undocumented methods, resources gone after a delete, and the stateful links.
#
#   crates/server/tests/schemathesis.sh            # from the repository root
#   SCHEMATHESIS_MAX_EXAMPLES=200 crates/server/tests/schemathesis.sh
#
# Builds `prompt-manager`, serves a fresh SQLite store on a free loopback port (no API keys, so
# every route is reachable), runs schemathesis with a bounded number of examples per operation
# and a fixed seed, then stops the server with SIGTERM and checks that it exited cleanly.
set -euo pipefail
cd "$(dirname "$0")/../../.."

SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
SEED="${SCHEMATHESIS_SEED:-20261124}"

# Python 3.11 can crash inside Hypothesis while it describes a strategy ("AST constructor
# recursion depth mismatch", a CPython bug fixed in 3.12): prefer a newer interpreter, in a venv
# of our own that later runs reuse.
pick_python() {
    if [[ -n "${SCHEMATHESIS_PYTHON:-}" ]]; then echo "$SCHEMATHESIS_PYTHON"; return; fi
    for candidate in python3.13 python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c '' 2>/dev/null; then
            command -v "$candidate"; return
        fi
    done
    for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13* "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*; do
        if [[ -x "$dir/bin/python3" ]]; then echo "$dir/bin/python3"; return; fi
    done
    command -v python3
}
python="$(pick_python)"
venv="${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/prompt-manager/schemathesis-$SCHEMATHESIS_VERSION}"
if [[ ! -x "$venv/bin/schemathesis" ]]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION with $("$python" --version) into $venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
schemathesis="$venv/bin/schemathesis"

# --all-features: the same build as `cargo test --workspace --all-features`, so CI reuses it.
cargo build --quiet -p prompt-manager-cli --all-features
target_dir="${CARGO_TARGET_DIR:-target}"
bin="$target_dir/debug/prompt-manager"

# The API as documented needs keys: serve with an admin key, which schemathesis sends on every
# request (its auth checks send none, or a bad one, and expect 401).
serve_fresh_setup() {
    api_key="$("$1" --output json keys create schemathesis --scope admin --keys-file "$work/keys.json" |
        "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["key"])')"
    # Schema-valid requests must be accepted, except for what no schema can say: a render's
    # variables depend on the stored prompt, a template's syntax and a chat template's messages on
    # its text, a rollback on the label's history (422 by design, docs/server.md, Errors), and an
    # `If-Match` that names another version (412, as RFC 9110 asks). 5xx stays a failure of
    # `not_a_server_error`.
    cat >"$work/schemathesis.toml" <<'TOML'
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]

# `Location` of a created version is its exact reference, `/v1/prompts/{id}@{version}` (the
# `{id}` of GET is a reference), so links inferred from it would feed `id@1.0.0` to routes that
# take a plain id. The dependency analysis of the schema still links the operations.
[phases.stateful.inference]
algorithms = ["dependency-analysis"]
TOML
}

# shellcheck source=serve_fresh.sh
source crates/server/tests/serve_fresh.sh
serve_fresh "$bin"
echo "schemathesis $("$schemathesis" --version | awk '{print $NF}') ($("$venv/bin/python" --version)) against $url (max $MAX_EXAMPLES examples per operation, seed $SEED)"

status=0
# From the scratch folder: schemathesis and Hypothesis leave their caches in the current one.
# `GET /v1/changes` is a stream that ends only when the server stops: schemathesis would wait for
# its end on every case. Its own tests read it through a socket (crates/server/tests/changes.rs).
cd "$work"
"$schemathesis" --config-file "$work/schemathesis.toml" run "$url/openapi.json" \
    --header "Authorization: Bearer $api_key" \
    --exclude-path /v1/changes \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --generation-database none \
    --phases examples,coverage,fuzzing,stateful \
    --max-failures 20 \
    --no-color \
    --workers 2 || status=$?

kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=""
if [[ "$server_status" != 0 ]]; then
    cat "$work/stderr"
    echo "the server exited with $server_status after SIGTERM"
    exit 1
fi
exit "$status"
