#!/usr/bin/env bash
# The REAL harnesses (Claude Code, Codex, opencode, pi) driven through drover's built-in presets,
# offline, against drover's mock gateway:
#
#   tests/harness_suite/run.sh PATH/TO/drover [ROUTE...]
#
# ROUTEs (default: all): claude-cli codex-cli opencode-cli pi-cli pi-cli-text. For each route:
# installs the harness if needed (scripts/install-harnesses.sh, cached outside the repo), starts
# `drover mock-gateway` inside a fresh network namespace (`unshare -n`; plain loopback when that
# does not work, said so), gives the harness a throwaway HOME (XDG dirs, CODEX_HOME,
# PI_CODING_AGENT_DIR) configured for the gateway exactly like scripts/record-harnesses.sh (both
# use scripts/harness-env.sh), puts the harness's bin dir first on PATH and checks:
#
#   drover run --route R --output json  [--model M] "Say the word: W1"   exit 0, text "MOCK: ...",
#                                                   usage.outputTokens, sessionId, error null
#   drover run --route R --output jsonl [--model M] "Stream the word: W2"
#                                                   deltas join to the text; the gateway streams
#                                                   this answer in 6 deltas 150 ms apart, and a
#                                                   NOTE says whether drover's deltas followed
#   drover run --route R --output json --resume SESSION "Say the word: W3"
#                                                   exit 0, the answer, and the gateway saw W1 in
#                                                   the resumed request (the history came along)
#   drover run --route R --output json --resume UNKNOWN "Say the word: W4"
#                                                   fails (a dropped {session_id} would answer)
#   with AGENTS.md and CLAUDE.md naming a marker in the workspace:
#   drover run --route R --output json "Say the word: W5"                  (the control: a NOTE
#                                                   says whether the marker reached the model)
#   drover run --route R --output json --context clean "Say the word: W6"
#                                                   the answer; the marker is in no request of
#                                                   the run; sessionId null; no file under HOME
#                                                   has W6 (opencode: a NOTE, it cannot); no
#                                                   drover-* directory left in TMPDIR
#   after each run no process of it is left         (any process whose environment has the
#                                                   run's HOME; processes from the harness's cache
#                                                   dir that are not the run's only get a NOTE)
#
# pi-cli-text's plain-text output has no usage and no session id: those checks are SKIPped, and
# the id to resume is read from the session file pi wrote.
#
# Prints one PASS/FAIL line per check (NOTE lines are observations, SKIP lines checks a route
# cannot support), then `N passed, M failed`. Exit 0 all passed, 1 a check failed, 2 bad
# arguments, 77 skipped: the npm registry is unreachable and no harness is cached.
# Environment: DROVER_CACHE_DIR (see install-harnesses.sh), DROVER_HARNESS_TIMEOUT (seconds per
# drover run, default 60), DROVER_HARNESS_NO_NETNS=1 (plain loopback), DROVER_HARNESS_KEEP=1
# (keep the work directory), DROVER_HARNESS_PRESETS=DIR (copy DIR/*.json into each run's
# $HOME/.config/drover/presets: user presets replace built-ins of the same name, so a preset
# change can be tried without rebuilding drover).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/harness-env.sh
. "$repo/scripts/harness-env.sh"

all_routes=(claude-cli codex-cli opencode-cli pi-cli pi-cli-text)

# route -> harness (install-harnesses.sh name)
route_harness() {
  case "$1" in
    claude-cli) echo claude ;;
    codex-cli) echo codex ;;
    opencode-cli) echo opencode ;;
    pi-cli|pi-cli-text) echo pi ;;
    *) return 1 ;;
  esac
}

# route -> the --model it needs (none for claude: the preset has no default and claude picks one)
route_model() {
  case "$1" in
    codex-cli) echo gpt-5.5 ;;
    opencode-cli|pi-cli|pi-cli-text) echo mock/mock-model ;;
    *) echo "" ;;
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
  check=(python3 "$here/check.py")

  root="$HS_ROOT/$route"
  home="$root/home"
  work="$root/work"
  tmp="$root/tmp"
  rm -rf "$root"
  mkdir -p "$home" "$work" "$tmp"

  trap henv_stop_gateway EXIT
  if ! henv_start_gateway "$root" "$here/gateway-script.json" "$HS_DROVER" mock-gateway --verbose; then
    echo "FAIL $route: the mock gateway starts: it did not print its address"
    sed 's/^/  | /' "$root/gateway.err"
    exit 0
  fi
  henv_configure "$harness" "$home" "$HENV_GATEWAY_URL" >/dev/null
  if [ -n "${DROVER_HARNESS_PRESETS:-}" ]; then
    # User presets (same name replaces the built-in) to try a preset change without a rebuild.
    mkdir -p "$home/.config/drover/presets"
    cp "$DROVER_HARNESS_PRESETS"/*.json "$home/.config/drover/presets/"
    echo "NOTE $route: user presets from $DROVER_HARNESS_PRESETS: $(cd "$DROVER_HARNESS_PRESETS" && echo *.json)"
  fi

  # Lower-case letters only: nothing a script rule or the noise filter reacts to.
  word() { printf 'w%s' "$(tr -dc 'a-z' </dev/urandom | head -c 10)"; }

  leftovers="$root/leftovers.txt"
  : >"$leftovers"
  # run_drover NAME ARGS...: runs drover with the harness's environment in $work; sets rc.
  run_drover() {
    local name=$1
    shift
    local cmd=(env -i PATH="$bin_dir:$(henv_base_path)" HOME="$home" TMPDIR="$tmp" LANG=C.UTF-8
               "${HENV_ENV[@]}" "$HS_DROVER" run --route "$route")
    [ -z "$model" ] || cmd+=(--model "$model")
    cmd+=("$@")
    printf '%q ' "${cmd[@]}" >"$root/$name.cmd.txt"
    rc=0
    (cd "$work" && timeout -k 5 "$HS_TIMEOUT" "${cmd[@]}" </dev/null \
       >"$root/$name.out" 2>"$root/$name.err") || rc=$?
    [ "$rc" -ne 124 ] || echo "NOTE $route: the $name run timed out after $HS_TIMEOUT s (DROVER_HARNESS_TIMEOUT)"
    # Anything of this run still alive right after drover exited is a leftover; kill it so the
    # next run starts clean.
    "${check[@]}" procs "$route" "$home" "$cache_dir" "$leftovers"
  }

  w1=$(word); w2=$(word); w3=$(word); w4=$(word)
  # pi's plain-text output carries neither usage nor a session id.
  caps=""
  [ "$route" != pi-cli-text ] || caps="nousage,nosession"

  run_drover json --output json "Say the word: $w1"
  "${check[@]}" json "$route" "$rc" "$root/json.out" "$root/json.err" "MOCK: Say the word: $w1" "$caps"
  session=$("${check[@]}" session "$root/json.out")
  if [ "$route" = pi-cli-text ]; then
    # The id is in the session file pi wrote for the json run (first line: {"type":"session","id":…}).
    session=$(grep -l -r -F "$w1" "$home/.pi/agent/sessions" 2>/dev/null | head -1 |
              xargs -r head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin).get("id",""))' 2>/dev/null || true)
    echo "NOTE $route: the session id to resume comes from pi's session file: ${session:-none found}"
  fi

  # The gateway sends this answer in 6 deltas 150 ms apart (gateway-script.json).
  run_drover jsonl --output jsonl "Stream the word: $w2"
  "${check[@]}" jsonl "$route" "$rc" "$root/jsonl.out" "$root/jsonl.err" "MOCK: Stream the word: $w2"

  if [ -z "$session" ]; then
    echo "FAIL $route: --resume: no session id from the json run to resume"
  else
    run_drover resume --output json --resume "$session" "Say the word: $w3"
    "${check[@]}" resume "$route" "$rc" "$root/resume.out" "$root/resume.err" \
      "MOCK: Say the word: $w3" "$w1" "$root/gateway.log" "$session" "$root/json.out"
  fi

  # A session id no harness made: the run must fail, not answer from a fresh session.
  unknown=$(python3 -c 'import uuid; print(uuid.uuid4())')
  [ "$route" != opencode-cli ] || unknown="ses_${unknown//-/}"
  run_drover resume-unknown --output json --resume "$unknown" "Say the word: $w4"
  "${check[@]}" resume-unknown "$route" "$rc" "$root/resume-unknown.out" "$root/resume-unknown.err" \
    "MOCK: Say the word: $w4"

  # Context: a project file in the workspace names a marker. A workspace run may send it to the
  # model (the control); a clean run must not, must keep no session and must leave no directory.
  marker="M$(word)"
  for f in AGENTS.md CLAUDE.md; do
    printf 'Project notes. The project codename is %s.\n' "$marker" >"$work/$f"
  done
  w5=$(word); w6=$(word)
  run_drover workspace-context --output json "Say the word: $w5"
  run_drover clean-context --output json --context clean "Say the word: $w6"
  "${check[@]}" context "$route" "$root/gateway.log" "$marker" "$w5" "$w6" \
    "$root/clean-context.out" "$root/clean-context.err" "$home" "$tmp"
  rm -f "$work/AGENTS.md" "$work/CLAUDE.md"

  # Notes about the gateway traffic: which endpoints the harness used.
  python3 - "$route" "$root/gateway.log" <<'PY'
import json, sys, collections
route, log = sys.argv[1], sys.argv[2]
seen = collections.Counter()
for line in open(log, errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    seen[f"{e.get('method')} {e.get('path')} {e.get('status')}"] += 1
print(f"NOTE {route}: gateway requests: " + ", ".join(f"{k} x{v}" for k, v in sorted(seen.items())))
PY

  henv_stop_gateway
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

# Install (or find) each harness on its own, so that a registry outage skips only what is not
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
  echo "SKIP: the npm registry is unreachable and no harness is cached in $HS_CACHE/harnesses; nothing to run"
  exit 77
fi
export HS_BINS="$bins"

# drover may be rebuilt by others while the suite runs: use a private copy.
work_root=$(mktemp -d "${TMPDIR:-/tmp}/drover-harness-suite.XXXXXX")
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
echo "network: $HS_NETNS; drover: $drover; harnesses from $HS_CACHE/harnesses"

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
[ "$skipped" -eq 0 ] || echo "$skipped check(s) skipped"
echo "runtime: $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
