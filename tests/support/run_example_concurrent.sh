#!/usr/bin/env bash
# Runs examples/concurrent on a config whose one route is the fake agent: the first two prompts
# are answered, the third is cancelled.
set -euo pipefail
example=$1 agent=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/drover.json" <<JSON
{"providers": {"fake": {"accounts": [{"id": "a", "transport": {"kind": "cli", "command": "$agent",
  "cli": {"argsTemplate": ["--mode", "json", "--prompt", "{prompt}"], "parser": {"kind": "json",
  "textPath": "result"}}}}]}}}
JSON
out=$(cd "$dir" && DROVER_CONFIG="$dir/drover.json" "$example")
echo "$out"
grep -qx 'Name a prime -> .*Name a prime.*' <<<"$out"
grep -qx 'Name a colour -> .*Name a colour.*' <<<"$out"
grep -qx 'Write a long poem -> aborted' <<<"$out"
[ "$(wc -l <<<"$out")" -eq 3 ]
