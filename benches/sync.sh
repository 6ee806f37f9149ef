#!/usr/bin/env bash
# `sync plan` / `sync apply` timings on 300 prompts with 3 versions each (900 versions, 300
# labels) in a fresh SQLite store: the first pull into a folder, a plan in sync, a plan and a push
# of 30 new version files.
#
#   benches/sync.sh target/release/prompt-manager
set -euo pipefail
BIN="$1"; work=$(mktemp -d); cd "$work"
python3 - <<'PY'
lines = ["prompts:"]
for i in range(300):
    for v, t in [("1.0.0", "Hello {{ name }}"), ("1.1.0", "Hello {{ name }}, welcome"), ("2.0.0", "Hi {{ name }} from {{ city }}")]:
        lines += [f"  - id: team{i % 10}/prompt-{i:03d}", f"    version: \"{v}\"", f"    template: \"{t} #{i}\""]
        if v == "1.1.0":
            lines += ["    labels: [production]"]
open("lib.yaml", "w").write("\n".join(lines) + "\n")
PY
export PROMPT_MANAGER_STORE="sqlite://$work/server.db"
"$BIN" import lib.yaml > /dev/null
t() { local s=$(date +%s.%N); "$@" > /tmp/sync-out.txt; local e=$(date +%s.%N); printf '%s: %.2f s\n' "$*" "$(echo "$e - $s" | bc)"; tail -1 /tmp/sync-out.txt; }
t "$BIN" sync apply repo --direction pull
t "$BIN" sync plan repo
# 30 new versions in the folder (a pull request), then plan and push.
for i in $(seq 0 29); do
  id=$(printf 'team%d/prompt-%03d' $((i % 10)) $i)
  sed -e 's/^version: "2.0.0"/version: "2.1.0"/' -e '/^content_hash/d' -e "s/#$i\$/#$i (edited)/" "repo/$id/2.0.0.yaml" > "repo/$id/2.1.0.yaml"
done
t "$BIN" sync plan repo
t "$BIN" sync apply repo
t "$BIN" sync plan repo
rm -rf "$work"
