#!/usr/bin/env bash
# Three `prompt-manager serve` instances on one PostgreSQL, proven together: writes through random
# instances (stale reads right after each acknowledgement, lost updates, propagation to every
# instance and to remote-store clients), renders per second per instance, and faults (an instance
# killed and restarted; with --kill-postgres, PostgreSQL stopped and started; with --redis, a
# shared Redis cache and bus in front of PostgreSQL, killed and restarted).
#
#   benches/scale.sh                                  # release build, 300 writes, 5 s of load
#   benches/scale.sh --writes 1000 --kill-postgres    # more, and PostgreSQL stopped meanwhile
#   benches/scale.sh --redis --kill-postgres          # the same with a Redis of its own (redis-server)
#
# PostgreSQL: $PROMPT_MANAGER_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test);
# the run uses a schema of its own and drops it. Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --quiet --release -p prompt-manager-cli
fi
bin="${CARGO_TARGET_DIR:-target}/release/prompt-manager"
exec cargo run --quiet --release -p prompt-manager-benches --example scale -- --bin "$bin" "$@"
