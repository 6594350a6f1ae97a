#!/usr/bin/env bash
# Runs examples/warm-pool on the fake ACP agent: 12 prompts on at most 3 agent processes, each
# answered in a session of its own.
set -euo pipefail
example=$1 agent=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/drover.json" <<JSON
{"providers": {"fake": {"accounts": [{"id": "a", "transport": {"kind": "acp", "command": "$agent",
  "acp": {"args": ["--record", "$dir/record.jsonl", "--state-dir", "$dir", "--chunk-delay-ms", "5"]}}}]}}}
JSON
prompts=()
for i in $(seq 1 12); do prompts+=("document $i"); done
out=$(cd "$dir" && DROVER_CONFIG="$dir/drover.json" "$example" fake - 3 "${prompts[@]}")
echo "$out"
[ "$(wc -l <<<"$out")" -eq 12 ]
for i in $(seq 1 12); do
  grep -q "\"prompt\":\"document $i\",.*\"text\":\"FAKE(fake-small): document $i\"" <<<"$out"
done
[ "$(grep -c '"error":""' <<<"$out")" -eq 12 ]
[ "$(grep -o '"sessionId":"[^"]*"' <<<"$out" | sort -u | wc -l)" -eq 12 ]
starts=$(grep -c '"event":"start"' "$dir/record.jsonl")
echo "agent processes: $starts"
[ "$starts" -ge 1 ] && [ "$starts" -le 3 ]
