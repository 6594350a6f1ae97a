#!/usr/bin/env bash
# Warm ACP agent pools on a REAL agent: 20 documents through codex-acp with 3 warm agents
# (examples/warm-pool, Client::keep_agents_warm), offline, against drover's mock gateway:
#
#   tests/harness_suite/acp_pool.sh PATH/TO/drover PATH/TO/example_warm_pool [ROUTE...]
#
# ROUTEs (default: codex-acp). Set up as acp.sh does (suite-common.sh: the agent installed or
# cached, the gateway in a fresh network namespace, a throwaway HOME configured for it). A wrapper
# first on PATH logs each agent process started. Checks:
#   every document answered "MOCK: Say the word: W", no error, in a session of its own
#   at most 3 agent processes started for the 20 documents (the warm pool)
#   no process of the run is left after the program exits (check.py procs)
# Prints PASS/FAIL lines and `N passed, M failed`; exit 0, 1 (a check failed), 2 (bad arguments)
# or 77 (skipped: the npm registry is unreachable and nothing is cached). Quick (one route, one
# run of about 20 prompts) and RUN_SERIAL like the other real-harness suites.
set -euo pipefail

if [ "${1:-}" != "--inner" ]; then
  example=${2:-}
  if [ -z "$example" ] || [ ! -x "$example" ]; then
    echo "usage: $0 PATH/TO/drover PATH/TO/example_warm_pool [ROUTE...]" >&2
    exit 2
  fi
  export HS_POOL_EXAMPLE
  HS_POOL_EXAMPLE=$(cd "$(dirname "$example")" && pwd)/$(basename "$example")
  set -- "$1" "${@:3}"
fi

# shellcheck source=tests/harness_suite/suite-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/suite-common.sh"

all_routes=(codex-acp)
hs_workdir="drover-acp-pool-suite"
hs_agent="ACP agent"
hs_agents=agents
hs_skipped="route(s)"
documents=20
agents=3

route_harness() { henv_route_install "$1"; }

hs_inner() {
  hs_inner_begin "$1" "$here/acp-gateway-script.json" "$(henv_route_config "$1")"
  local model command
  model=$(henv_route_model "$route")
  # The agent's command: the installed binary's name (what the preset runs from PATH).
  command=$(basename "$(printf '%s\n' "$HS_BINS" | sed -n "s/^$harness=//p")")
  # Each agent process the pool starts appends its pid here, then becomes the real agent.
  local wrap="$root/wrap" starts="$root/starts.log"
  mkdir -p "$wrap"
  : >"$starts"
  printf '#!/bin/sh\necho $$ >>%q\nexec %q "$@"\n' "$starts" "$bin_dir/$command" >"$wrap/$command"
  chmod +x "$wrap/$command"

  local words=() i
  for i in $(seq 1 "$documents"); do words+=("Say the word: $(word)"); done
  local env_cmd=() e
  for e in "${hs_env[@]}"; do
    case "$e" in PATH=*) env_cmd+=("PATH=$wrap:${e#PATH=}") ;; *) env_cmd+=("$e") ;; esac
  done
  rc=0
  (cd "$work" && timeout -k 5 $((HS_TIMEOUT * 3)) "${env_cmd[@]}" "$HS_POOL_EXAMPLE" "$route" \
     "${model:--}" "$agents" "${words[@]}" </dev/null >"$root/pool.out" 2>"$root/pool.err") || rc=$?
  hs_after_run
  python3 - "$route" "$rc" "$root/pool.out" "$root/pool.err" "$starts" "$agents" "${words[@]}" <<'PY'
import json, sys
route, rc, out, err, starts, agents, *prompts = sys.argv[1:]
lines = [json.loads(l) for l in open(out) if l.strip()]
by_prompt = {l["prompt"]: l for l in lines}
bad = [p for p in prompts if p not in by_prompt or by_prompt[p]["error"] or
       by_prompt[p]["text"].strip() != "MOCK: " + p]
sessions = {l["sessionId"] for l in lines if l["sessionId"]}
ok = rc == "0" and not bad and len(lines) == len(prompts) and len(sessions) == len(prompts)
detail = f"exit {rc}, {len(lines)} lines, {len(sessions)} sessions"
if bad:
    p = bad[0]
    detail += f"; first bad: {p!r} -> {by_prompt.get(p)}"
if not ok:
    detail += "; stderr: " + open(err, errors="replace").read()[-1500:]
print(f"{'PASS' if ok else 'FAIL'} {route}: {len(prompts)} documents answered, each in its own session ({detail})")
n = len([l for l in open(starts) if l.strip()])
print(f"{'PASS' if 1 <= n <= int(agents) else 'FAIL'} {route}: at most {agents} agent processes for "
      f"{len(prompts)} documents (started: {n})")
PY
  hs_inner_end
}

hs_main "$@"
