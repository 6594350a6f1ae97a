#!/usr/bin/env bash
# Peak memory of drover on large harness output: maxOutputBytes must bound what the parsers and the
# process capture hold, whatever the harness prints. Runs `drover run --output json` on the fake
# agent (big-text: 64-byte lines, or one line with no newline) and reads the peak RSS from
# /usr/bin/time -v (Debian package `time`):
#
#   bench/output_memory.sh BUILD_DIR [MB]
#
# BUILD_DIR holds drover and fixtures/fake_agent (a Release build measures what users get; a Debug
# build works too). MB (default 200) is how much the agent prints. One row per case: the parser,
# maxOutputBytes, the shape of the output, the peak RSS, the budget (maxOutputBytes x 3 + 16 MiB)
# and the length of the answer in the result.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR [MB]" >&2; exit 2; }
build=$(cd "$1" && pwd)
mb=${2:-200}
drover="$build/drover"
agent="$build/fixtures/fake_agent"
[[ -x $drover && -x $agent ]] || { echo "output_memory: $drover or $agent missing" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "output_memory: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/drover-output-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT

bytes=$((mb * 1048576))
printf '| parser | maxOutputBytes | output | peak RSS (MiB) | budget (MiB) | answer bytes |\n'
printf '|---|---|---|---|---|---|\n'
for parser in text jsonl json; do
  for cap in 1048576 16777216; do
    for shape in lines oneline; do
      [[ $parser != text && $shape == oneline ]] && continue
      parser_json="{\"kind\": \"$parser\"}"
      [[ $parser == text ]] || parser_json="{\"kind\": \"$parser\", \"textPath\": \"text\"}"
      cat >"$work/drover.json" <<JSON
{"providers": {"t": {"accounts": [{"id": "a", "models": ["m"], "transport": {"kind": "cli",
  "command": "$agent", "cli": {
    "argsTemplate": ["--mode", "big-text", "--bytes", "$bytes", "--text", "$shape", "--prompt", "{prompt}"],
    "parser": $parser_json, "maxOutputBytes": $cap}}}]}}}
JSON
      /usr/bin/time -v -o "$work/time.txt" "$drover" run -c "$work/drover.json" -o json x \
        >"$work/out.json" 2>/dev/null || true
      rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
      answer=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("text") or ""))' \
        "$work/out.json" 2>/dev/null || echo "?")
      printf '| %s | %s | %s MB, %s | %s | %s | %s |\n' "$parser" "$cap" "$mb" "$shape" \
        "$((rss_kb / 1024))" "$((cap * 3 / 1048576 + 16))" "$answer"
    done
  done
done
