#!/usr/bin/env bash
# The REAL ACP agents (claude-agent-acp, codex-acp, `opencode acp`, pi-acp) driven through drover's
# ACP presets, offline, against drover's mock gateway:
#
#   tests/harness_suite/acp.sh PATH/TO/drover [ROUTE...]
#
# ROUTEs (default: all): claude-code-acp codex-acp opencode-acp pi-acp. For each route: installs
# the agent if needed (scripts/install-harnesses.sh names claude-acp, codex-acp, opencode, pi-acp;
# cached outside the repo), starts `drover mock-gateway --verbose` with acp-gateway-script.json
# inside a fresh network namespace (`unshare -n`; plain loopback when that does not work, said
# so), gives the agent a throwaway HOME configured for the gateway like scripts/record-acp.py
# (`henv_configure` from scripts/harness-env.sh), puts the agent's bin dir first on PATH and runs
# every `drover run` with `--model M --transcript FILE` (M: claude-code-acp sonnet, an alias the
# agent advertises; codex-acp gpt-5.5; opencode-acp and pi-acp mock/mock-model):
#
#   run --output json "Say the word: W1"      exit 0, text "MOCK: …", error null, model == M,
#                                             sessionId, no warning about the model
#                                             and the agent's request for it (the one with tools)
#                                             reached the gateway with M (claude: the alias maps
#                                             to a full id, which a NOTE names)
#   run --output jsonl "Stream the word: W2"  the same; delta events join to the result's text
#   models --json                             lists the agent's models, M among them, `current`
#                                             one of them
#   run --approve-all / --approve-reads / --deny-all --output json "Create the marker file: Wn"
#                                             the gateway makes the model run `touch marker.txt`:
#                                             approve-all: the marker exists, the answer comes
#                                             and (agents that ask: claude) permissions has an
#                                             allowed decision; approve-reads and deny-all (an
#                                             execute call): no marker, exit 5, permission_denied.
#                                             Agents that never ask get a NOTE instead
#   run --output jsonl "Answer slowly, please: W3"
#                                             the gateway streams 60 deltas 250 ms apart; SIGINT
#                                             1.5 s after the start (and at least 0.5 s after the
#                                             first delta): drover exits within 2 s with 130 and
#                                             error aborted, stopReason cancelled when the agent
#                                             answered the cancel (else a NOTE), and the partial
#                                             answer is in the jsonl output and the result
#   run --resume SESSION-OF-W1 --output json "Say the word: W7"
#                                             the answer, model == M, and the resumed request
#                                             carries W1; a NOTE names session/resume or load
#   after each run no process of it is left   (check.py procs)
#   every --transcript file                   NDJSON {dir: in|out, msg}, no "sk-dummy" in it nor
#                                             in drover's output (the agent echoing it: a NOTE)
#
# Prints one PASS/FAIL line per check (NOTE lines are observations, SKIP lines routes that could
# not run), then `N passed, M failed`. Exit 0 all passed, 1 a check failed, 2 bad arguments,
# 77 skipped: the npm registry is unreachable and no agent is cached.
# Environment: DROVER_CACHE_DIR (see install-harnesses.sh), DROVER_HARNESS_TIMEOUT (seconds per
# drover run, default 60), DROVER_HARNESS_NO_NETNS=1 (plain loopback), DROVER_HARNESS_KEEP=1
# (keep the work directory), DROVER_HARNESS_PRESETS=DIR (DIR/*.json become user presets in each
# run's HOME, replacing built-ins of the same name).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/harness-env.sh
. "$repo/scripts/harness-env.sh"

all_routes=(claude-code-acp codex-acp opencode-acp pi-acp)
secret=sk-dummy  # the only key henv_configure hands out

# route -> install-harnesses.sh name
route_harness() {
  case "$1" in
    claude-code-acp) echo claude-acp ;;
    codex-acp) echo codex-acp ;;
    opencode-acp) echo opencode ;;
    pi-acp) echo pi-acp ;;
    *) return 1 ;;
  esac
}

# route -> henv_configure name
route_henv() {
  case "$1" in
    claude-code-acp) echo claude-acp ;;
    *) echo "$1" ;;
  esac
}

# route -> the --model it runs with
route_model() {
  case "$1" in
    claude-code-acp) echo sonnet ;;
    codex-acp) echo gpt-5.5 ;;
    opencode-acp|pi-acp) echo mock/mock-model ;;
  esac
}

# route -> the model the gateway must see ("" = any: claude's alias maps to an id of its own)
route_gateway_model() {
  case "$1" in
    codex-acp) echo gpt-5.5 ;;
    opencode-acp|pi-acp) echo mock-model ;;
    *) echo "" ;;
  esac
}

# route -> 1 when the agent asks for permission before a shell command (with its default mode)
route_asks() {
  case "$1" in
    claude-code-acp) echo 1 ;;
    *) echo 0 ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Inner part: one route, possibly inside a fresh network namespace. stdout: the check lines.
# ---------------------------------------------------------------------------------------------
if [ "${1:-}" = "--inner" ]; then
  route=$2
  harness=$(route_harness "$route")
  case "$HS_NETNS" in unshare*) ip link set lo up ;; esac

  bin=$(printf '%s\n' "$HS_BINS" | sed -n "s/^$harness=//p")
  bin_dir=$(dirname "$bin")
  cache_dir="$HS_CACHE/harnesses/$harness"
  model=$(route_model "$route")
  script="$here/acp-gateway-script.json"
  check=(python3 "$here/check.py")
  acheck=(python3 "$here/check_acp.py")

  root="$HS_ROOT/$route"
  home="$root/home"
  work="$root/work"
  tmp="$root/tmp"
  rm -rf "$root"
  mkdir -p "$home" "$work" "$tmp"

  trap henv_stop_gateway EXIT
  if ! henv_start_gateway "$root" "$script" "$HS_DROVER" mock-gateway --verbose; then
    echo "FAIL $route: the mock gateway starts: it did not print its address"
    sed 's/^/  | /' "$root/gateway.err"
    exit 0
  fi
  henv_configure "$(route_henv "$route")" "$home" "$HENV_GATEWAY_URL" >/dev/null
  if [ -n "${DROVER_HARNESS_PRESETS:-}" ]; then
    mkdir -p "$home/.config/drover/presets"
    cp "$DROVER_HARNESS_PRESETS"/*.json "$home/.config/drover/presets/"
    echo "NOTE $route: user presets from $DROVER_HARNESS_PRESETS: $(cd "$DROVER_HARNESS_PRESETS" && echo *.json)"
  fi

  # Lower-case letters only: nothing a script rule or the noise filter reacts to.
  word() { printf 'w%s' "$(tr -dc 'a-z' </dev/urandom | head -c 10)"; }

  leftovers="$root/leftovers.txt"
  : >"$leftovers"
  transcripts=()
  envcmd=(env -i PATH="$bin_dir:$(henv_base_path)" HOME="$home" TMPDIR="$tmp" LANG=C.UTF-8
          "${HENV_ENV[@]}")
  after_run() {
    # Anything of this run still alive right after drover exited is a leftover; kill it so the
    # next run starts clean.
    "${check[@]}" procs "$route" "$home" "$cache_dir" "$leftovers"
  }
  # run_cmd NAME ARGS...: drover ARGS with the agent's environment in $work; sets rc.
  run_cmd() {
    local name=$1
    shift
    local cmd=("${envcmd[@]}" "$HS_DROVER" "$@")
    printf '%q ' "${cmd[@]}" >"$root/$name.cmd.txt"
    rc=0
    (cd "$work" && timeout -k 5 "$HS_TIMEOUT" "${cmd[@]}" </dev/null \
       >"$root/$name.out" 2>"$root/$name.err") || rc=$?
    [ "$rc" -ne 124 ] || echo "NOTE $route: the $name run timed out after $HS_TIMEOUT s (DROVER_HARNESS_TIMEOUT)"
    after_run
  }
  # run_drover NAME ARGS...: drover run --route R --model M --transcript NAME.transcript.ndjson ARGS
  run_drover() {
    local name=$1
    shift
    transcripts+=("$root/$name.transcript.ndjson")
    run_cmd "$name" run --route "$route" --model "$model" \
      --transcript "$root/$name.transcript.ndjson" "$@"
  }

  # 1, 2: the answer, the model in the result and at the gateway.
  w1=$(word)
  run_drover json --output json "Say the word: $w1"
  "${acheck[@]}" answer "$route" json "$rc" "$root/json.out" "$root/json.err" \
    "MOCK: Say the word: $w1" "$model"
  "${acheck[@]}" gateway-model "$route" "$root/gateway.log" "$w1" "$(route_gateway_model "$route")" \
    "$root/json.transcript.ndjson"
  session=$("${check[@]}" session "$root/json.out")

  # 3: streaming (the gateway sends this answer in 6 deltas 150 ms apart).
  w2=$(word)
  run_drover jsonl --output jsonl "Stream the word: $w2"
  "${acheck[@]}" stream "$route" "$rc" "$root/jsonl.out" "$root/jsonl.err" \
    "MOCK: Stream the word: $w2" "$model"

  # 6: the models the agent advertises.
  run_cmd models models --route "$route" --json
  "${acheck[@]}" models "$route" "$rc" "$root/models.out" "$root/models.err" "$model"

  # 5: a shell tool call (touch marker.txt in the cwd) under each permission policy.
  for policy in --approve-all --approve-reads --deny-all; do
    wt=$(word)
    name="tool${policy#-}"
    rm -f "$work/marker.txt"
    run_drover "$name" "$policy" --output json "Create the marker file: $wt"
    "${acheck[@]}" tool "$route" "$policy" "$rc" "$root/$name.out" "$root/$name.err" \
      "$work/marker.txt" "MOCK: Create the marker file: $wt" "$(route_asks "$route")"
  done
  rm -f "$work/marker.txt"

  # 4: Ctrl-C mid-answer (the gateway streams this one over ~15 s).
  w3=$(word)
  transcripts+=("$root/cancel.transcript.ndjson")
  (cd "$work" && "${acheck[@]}" cancel "$route" "$root" "$script" "$HS_TIMEOUT" -- \
     "${envcmd[@]}" "$HS_DROVER" run --route "$route" --model "$model" \
     --transcript "$root/cancel.transcript.ndjson" --output jsonl "Answer slowly, please: $w3")
  after_run

  # 7: resume the first session.
  if [ -z "$session" ]; then
    echo "FAIL $route: --resume: no session id from the json run to resume"
  else
    w7=$(word)
    run_drover resume --output json --resume "$session" "Say the word: $w7"
    "${acheck[@]}" resume "$route" "$rc" "$root/resume.out" "$root/resume.err" \
      "MOCK: Say the word: $w7" "$model" "$w1" "$root/gateway.log" "$session" \
      "$root/resume.transcript.ndjson" "$root/json.out"
  fi

  # 9: the transcripts of every run.
  "${acheck[@]}" transcripts "$route" "$secret" "${transcripts[@]}"

  # Notes about the gateway traffic: which endpoints and models the agent used, and how the
  # cancelled stream ended (logged once the gateway noticed, so only now).
  python3 - "$route" "$root/gateway.log" "$w3" <<'PY'
import json, sys, collections
route, log, word = sys.argv[1:4]
seen = collections.Counter()
for line in open(log, errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    seen[f"{e.get('method')} {e.get('path')} {e.get('model')} {e.get('status')}"] += 1
    if word in (e.get("lastUserText") or "") and e.get("ruleName") == "a slow answer (cancel)":
        how = [k for k in ("clientClosed", "dropped", "interrupted") if e.get(k)]
        print(f"NOTE {route}: cancel: the gateway's slow stream ended after {e.get('chunks')} "
              f"event(s) ({', '.join(how) or 'completed'})")
print(f"NOTE {route}: gateway requests: " + ", ".join(f"{k} x{v}" for k, v in sorted(seen.items())))
PY

  henv_stop_gateway
  # 8: no process of any run left behind.
  if [ -s "$leftovers" ]; then
    echo "FAIL $route: no process of the run is left after drover exits: found these (then killed them)"
    sed 's/^/  | /' "$leftovers"
  else
    echo "PASS $route: no process of the run is left after drover exits"
  fi
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Outer part: arguments, installation, one network namespace per route, the tally.
# ---------------------------------------------------------------------------------------------
drover=${1:-}
if [ -z "$drover" ] || [ ! -x "$drover" ]; then
  echo "usage: $0 PATH/TO/drover [ROUTE...]  (routes: ${all_routes[*]})" >&2
  exit 2
fi
shift
routes=("$@")
[ ${#routes[@]} -gt 0 ] || routes=("${all_routes[@]}")
for r in "${routes[@]}"; do
  route_harness "$r" >/dev/null || { echo "harness_suite: unknown route: $r" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "FAIL: python3 is not installed"; echo "0 passed, 1 failed"; exit 1; }

start=$(date +%s)
export HS_CACHE="${DROVER_CACHE_DIR:-$HOME/.cache/drover}"
export HS_TIMEOUT="${DROVER_HARNESS_TIMEOUT:-60}"

# Install (or find) each agent on its own, so that a registry outage skips only what is not
# cached.
harnesses=()
for r in "${routes[@]}"; do
  h=$(route_harness "$r")
  case " ${harnesses[*]} " in *" $h "*) ;; *) harnesses+=("$h") ;; esac
done
bins=""
unreachable=()
failed_installs=()
for h in "${harnesses[@]}"; do
  set +e
  line=$("$repo/scripts/install-harnesses.sh" --quiet "$h" 2>"${TMPDIR:-/tmp}/harness-suite-install.$$.err")
  irc=$?
  set -e
  case "$irc" in
    0) bins+="$line"$'\n' ;;
    77) unreachable+=("$h") ;;
    *) failed_installs+=("$h")
       sed 's/^/  | /' "${TMPDIR:-/tmp}/harness-suite-install.$$.err" ;;
  esac
  rm -f "${TMPDIR:-/tmp}/harness-suite-install.$$.err"
done
if [ -z "$bins" ] && [ ${#failed_installs[@]} -eq 0 ]; then
  echo "SKIP: the npm registry is unreachable and no ACP agent is cached in $HS_CACHE/harnesses; nothing to run"
  exit 77
fi
export HS_BINS="$bins"

# drover may be rebuilt while the suite runs: use a private copy.
work_root=$(mktemp -d "${TMPDIR:-/tmp}/drover-acp-suite.XXXXXX")
cleanup() {
  if [ "${DROVER_HARNESS_KEEP:-0}" = 1 ]; then echo "kept $work_root"; else rm -rf "$work_root"; fi
}
trap cleanup EXIT
# (`drover mock-gateway` runs the drover-gateway program next to drover.)
cp "$drover" "$work_root/drover"
if [ -x "$(dirname "$drover")/drover-gateway" ]; then
  cp "$(dirname "$drover")/drover-gateway" "$work_root/drover-gateway"
fi
export HS_DROVER="$work_root/drover" HS_ROOT="$work_root"

if [ "${DROVER_HARNESS_NO_NETNS:-0}" != 1 ] && henv_netns_works; then
  export HS_NETNS="unshare -n (a fresh network namespace per route, loopback only)"
  launcher=(unshare -n "$BASH" "$0" --inner)
else
  export HS_NETNS="none (host network, gateway on loopback)"
  launcher=("$BASH" "$0" --inner)
  echo "NOTE: unshare -n does not work here (or DROVER_HARNESS_NO_NETNS=1): the gateway runs on the host's loopback"
fi
echo "network: $HS_NETNS; drover: $drover; agents from $HS_CACHE/harnesses"

results="$work_root/results.txt"
: >"$results"
for r in "${routes[@]}"; do
  h=$(route_harness "$r")
  case " ${unreachable[*]} " in
    *" $h "*) echo "SKIP $r: $h is not cached and the npm registry is unreachable" | tee -a "$results"
              continue ;;
  esac
  case " ${failed_installs[*]} " in
    *" $h "*) echo "FAIL $r: install $h (scripts/install-harnesses.sh $h failed)" | tee -a "$results"
              continue ;;
  esac
  hbin=$(printf '%s\n' "$bins" | sed -n "s/^$h=//p")
  echo "--- $r ($hbin)"
  route_start=$(date +%s%N)
  set +e
  "${launcher[@]}" "$r" 2>"$work_root/$r.inner.err" | tee -a "$results"
  irc=${PIPESTATUS[0]}
  set -e
  if [ "$irc" -ne 0 ]; then
    echo "FAIL $r: the route's checks ran to the end: exit $irc" | tee -a "$results"
    sed 's/^/  | /' "$work_root/$r.inner.err" | tail -40
  fi
  echo "--- $r: $(( ($(date +%s%N) - route_start) / 1000000 )) ms"
done

passed=$(grep -c '^PASS ' "$results" || true)
failed=$(grep -c '^FAIL ' "$results" || true)
skipped=$(grep -c '^SKIP ' "$results" || true)
[ "$skipped" -eq 0 ] || echo "$skipped route(s) skipped"
echo "runtime: $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
