#!/usr/bin/env bash
# `drover batch` with a JSON schema on REAL harnesses: 20 documents through codex-acp (warm
# agents) and codex-cli, offline, against drover's mock gateway:
#
#   tests/harness_suite/batch.sh PATH/TO/drover [ROUTE...]
#
# ROUTEs (default: codex-acp codex-cli). Set up as run.sh and acp.sh do (suite-common.sh). Each
# document holds {"word": "W"}; the prompt puts it inline, the gateway answers "MOCK: <prompt>",
# and the batch must find the JSON in that answer and validate it against a schema requiring a
# string "word". Checks: exit 0, 20 lines, every line without error and with json.word == W, no
# process of the run left. Prints PASS/FAIL lines and `N passed, M failed`; exit 0, 1, 2 (bad
# arguments) or 77 (skipped: the npm registry is unreachable and nothing is cached).
set -euo pipefail

# shellcheck source=tests/harness_suite/suite-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/suite-common.sh"

all_routes=(codex-acp codex-cli)
hs_workdir="drover-batch-suite"
hs_agent="harness"
hs_agents=harnesses
hs_skipped="route(s)"
documents=20

route_harness() { henv_route_install "$1"; }

hs_inner() {
  local script="$here/gateway-script.json"
  case "$1" in *-acp) script="$here/acp-gateway-script.json" ;; esac
  hs_inner_begin "$1" "$script" "$(henv_route_config "$1")"
  local docs="$work/docs" i
  mkdir -p "$docs"
  for i in $(seq -w 1 "$documents"); do printf '{"word": "%s"}' "$(word)" >"$docs/doc-$i.txt"; done
  printf '%s' '{"type": "object", "required": ["word"], "properties": {"word": {"type": "string"}}}' \
    >"$root/schema.json"
  local cmd=("${hs_env[@]}" "$HS_DROVER" batch --route "$route" --deliver inline --quiet
             --prompt 'Reply with this JSON: {document.text}' --json-schema "$root/schema.json"
             --concurrency 4 --out "$root/out.jsonl" docs)
  printf '%q ' "${cmd[@]}" >"$root/batch.cmd.txt"
  rc=0
  (cd "$work" && timeout -k 5 $((HS_TIMEOUT * 3)) "${cmd[@]}" </dev/null \
     >"$root/batch.out" 2>"$root/batch.err") || rc=$?
  hs_after_run
  python3 - "$route" "$rc" "$root/out.jsonl" "$root/batch.err" "$docs" <<'PY'
import json, os, sys
route, rc, out, err, docs = sys.argv[1:]
want = {f"docs/{n}": json.load(open(os.path.join(docs, n)))["word"] for n in os.listdir(docs)}
lines = [json.loads(l) for l in open(out)] if os.path.exists(out) else []
got = {l["id"]: l for l in lines}
bad = [i for i in want if i not in got or got[i]["error"] is not None or
       not isinstance(got[i]["json"], dict) or got[i]["json"].get("word") != want[i]]
ok = rc == "0" and not bad and len(lines) == len(want)
detail = f"exit {rc}, {len(lines)} lines"
if bad:
    detail += f"; first bad: {bad[0]} -> {got.get(bad[0])}"
if not ok:
    detail += "; stderr: " + open(err, errors="replace").read()[-1500:]
print(f"{'PASS' if ok else 'FAIL'} {route}: {len(want)} documents through drover batch with a JSON "
      f"schema, each answer's JSON validated ({detail})")
PY
  hs_inner_end
}

hs_main "$@"
