# shellcheck shell=bash disable=SC2034,SC2154  # sourced: variables set here and by the suite
# What run.sh and acp.sh share. Sourced (not run) by both, after `set -euo pipefail`; sources
# scripts/harness-env.sh and sets `here` (this directory), `repo` and `check` (check.py).
#
# The suite defines, before calling hs_main "$@":
#   all_routes           its routes, in order (the default when none is named)
#   route_harness R      prints R's scripts/install-harnesses.sh name; fails for an unknown route
#   hs_inner R           the inner part: one route's runs and checks (stdout: the check lines);
#                        hs_main runs it as `SCRIPT --inner R`, in a fresh network namespace
#                        when `unshare -n` works
#   hs_workdir           the work directory's name in TMPDIR (mktemp adds .XXXXXX)
#   hs_agent, hs_agents  what it installs, in the SKIP line ("no $hs_agent is cached") and in
#                        the header line ("$hs_agents from …")
#   hs_skipped           what a SKIP line counts, in the tally ("N $hs_skipped skipped")
#
# For the inner part:
#   hs_inner_begin ROUTE GATEWAY_SCRIPT HENV_NAME
#                        sets route, harness, bin_dir, cache_dir, root, home, work, tmp,
#                        leftovers and hs_env (env -i … with the harness's environment); starts
#                        `drover mock-gateway --verbose` with GATEWAY_SCRIPT (if it does not
#                        start: a FAIL line and the route ends), configures HOME for it with
#                        `henv_configure HENV_NAME` and copies DROVER_HARNESS_PRESETS in
#   word                 prints a fresh random word (w + 10 lower-case letters)
#   hs_run_cmd NAME ARGS...
#                        drover ARGS with hs_env in $work (stdin /dev/null, stdout
#                        $root/NAME.out, stderr $root/NAME.err, the command in
#                        $root/NAME.cmd.txt) within DROVER_HARNESS_TIMEOUT; sets rc; then
#                        hs_after_run
#   hs_after_run         kills what is left of the run, listing it in $leftovers (check.py procs)
#   hs_option_prompts RUN [SESSION]
#                        each prompt a harness could take for options of its own (--version, -p,
#                        --dangerously-skip-permissions, a Markdown list) through
#                        `RUN option-promptN --output json -- PROMPT` (RUN: the suite's runner,
#                        which ends in hs_run_cmd); then one through --output jsonl (a preset's
#                        streaming variant) and, given SESSION, one with --resume SESSION; each
#                        checked with check.py option-prompt
#   hs_inner_end         stops the gateway; the check that no run left a process

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/harness-env.sh
. "$repo/scripts/harness-env.sh"
check=(python3 "$here/check.py")

# SCRIPT --inner ROUTE: one route (hs_inner); otherwise the whole suite (hs_outer).
hs_main() {
  if [ "${1:-}" = "--inner" ]; then
    hs_inner "$2"
    exit 0
  fi
  hs_outer "$@"
}

# ---------------------------------------------------------------------------------------------
# Inner part: one route, possibly inside a fresh network namespace. stdout: the check lines.
# ---------------------------------------------------------------------------------------------
hs_inner_begin() {
  route=$1
  local gateway_script=$2 henv_name=$3
  harness=$(route_harness "$route")
  case "$HS_NETNS" in unshare*) ip link set lo up ;; esac

  local bin
  bin=$(printf '%s\n' "$HS_BINS" | sed -n "s/^$harness=//p")
  bin_dir=$(dirname "$bin")
  cache_dir="$HS_CACHE/harnesses/$harness"

  root="$HS_ROOT/$route"
  home="$root/home"
  work="$root/work"
  tmp="$root/tmp"
  rm -rf "$root"
  mkdir -p "$home" "$work" "$tmp"

  trap henv_stop_gateway EXIT
  if ! henv_start_gateway "$root" "$gateway_script" "$HS_DROVER" mock-gateway --verbose; then
    echo "FAIL $route: the mock gateway starts: it did not print its address"
    sed 's/^/  | /' "$root/gateway.err"
    exit 0
  fi
  henv_configure "$henv_name" "$home" "$HENV_GATEWAY_URL" >/dev/null
  if [ -n "${DROVER_HARNESS_PRESETS:-}" ]; then
    # User presets (same name replaces the built-in) to try a preset change without a rebuild.
    mkdir -p "$home/.config/drover/presets"
    cp "$DROVER_HARNESS_PRESETS"/*.json "$home/.config/drover/presets/"
    echo "NOTE $route: user presets from $DROVER_HARNESS_PRESETS: $(cd "$DROVER_HARNESS_PRESETS" && echo *.json)"
  fi

  leftovers="$root/leftovers.txt"
  : >"$leftovers"
  hs_env=(env -i PATH="$bin_dir:$(henv_base_path)" HOME="$home" TMPDIR="$tmp" LANG=C.UTF-8
          "${HENV_ENV[@]}")
}

# Lower-case letters only: nothing a script rule or the noise filter reacts to.
word() { printf 'w%s' "$(tr -dc 'a-z' </dev/urandom | head -c 10)"; }

hs_after_run() {
  # Anything of this run still alive right after drover exited is a leftover; kill it so the
  # next run starts clean.
  "${check[@]}" procs "$route" "$home" "$cache_dir" "$leftovers"
}

hs_run_cmd() {
  local name=$1
  shift
  local cmd=("${hs_env[@]}" "$HS_DROVER" "$@")
  printf '%q ' "${cmd[@]}" >"$root/$name.cmd.txt"
  rc=0
  (cd "$work" && timeout -k 5 "$HS_TIMEOUT" "${cmd[@]}" </dev/null \
     >"$root/$name.out" 2>"$root/$name.err") || rc=$?
  [ "$rc" -ne 124 ] || echo "NOTE $route: the $name run timed out after $HS_TIMEOUT s (DROVER_HARNESS_TIMEOUT)"
  hs_after_run
}

# Prompts that look like options: a preset that put them among the harness's own options would
# print a version, switch on a flag or fail with "unknown option" instead of answering them.
hs_option_prompt_list=(--version -p --dangerously-skip-permissions $'- first item\n- second item')

hs_option_prompts() {
  local run=$1 session=${2:-} n=0 prompt
  for prompt in "${hs_option_prompt_list[@]}"; do
    n=$((n + 1))
    hs_option_prompt "$run" "option-prompt$n" json "$prompt"
  done
  hs_option_prompt "$run" option-prompt-jsonl jsonl --version
  [ -z "$session" ] || hs_option_prompt "$run" option-prompt-resume json -p --resume "$session"
}

# hs_option_prompt RUN NAME OUTPUT PROMPT [DROVER_ARGS...]: one run and its checks.
hs_option_prompt() {
  local run=$1 name=$2 output=$3 prompt=$4
  shift 4
  "$run" "$name" --output "$output" "$@" -- "$prompt"
  "${check[@]}" option-prompt "$route" "$rc" "$root/$name.out" "$root/$name.err" "$prompt" \
    "$root/gateway.log" "$output" "$*"
}

hs_inner_end() {
  henv_stop_gateway
  if [ -s "$leftovers" ]; then
    echo "FAIL $route: no process of the run is left after drover exits: found these (then killed them)"
    sed 's/^/  | /' "$leftovers"
  else
    echo "PASS $route: no process of the run is left after drover exits"
  fi
}

# ---------------------------------------------------------------------------------------------
# Outer part: arguments, installation, one network namespace per route, the tally.
# ---------------------------------------------------------------------------------------------
hs_outer() {
  local drover=${1:-}
  if [ -z "$drover" ] || [ ! -x "$drover" ]; then
    echo "usage: $0 PATH/TO/drover [ROUTE...]  (routes: ${all_routes[*]})" >&2
    exit 2
  fi
  shift
  local routes=("$@") r h
  [ ${#routes[@]} -gt 0 ] || routes=("${all_routes[@]}")
  for r in "${routes[@]}"; do
    route_harness "$r" >/dev/null || { echo "harness_suite: unknown route: $r" >&2; exit 2; }
  done
  command -v python3 >/dev/null || { echo "FAIL: python3 is not installed"; echo "0 passed, 1 failed"; exit 1; }

  local start
  start=$(date +%s)
  export HS_CACHE="${DROVER_CACHE_DIR:-$HOME/.cache/drover}"
  export HS_TIMEOUT="${DROVER_HARNESS_TIMEOUT:-60}"

  # Install (or find) each harness on its own, so that a registry outage skips only what is not
  # cached.
  local harnesses=() bins="" unreachable=() failed_installs=() line irc
  local install_err="${TMPDIR:-/tmp}/harness-suite-install.$$.err"
  for r in "${routes[@]}"; do
    h=$(route_harness "$r")
    case " ${harnesses[*]} " in *" $h "*) ;; *) harnesses+=("$h") ;; esac
  done
  for h in "${harnesses[@]}"; do
    set +e
    line=$("$repo/scripts/install-harnesses.sh" --quiet "$h" 2>"$install_err")
    irc=$?
    set -e
    case "$irc" in
      0) bins+="$line"$'\n' ;;
      77) unreachable+=("$h") ;;
      *) failed_installs+=("$h")
         sed 's/^/  | /' "$install_err" ;;
    esac
    rm -f "$install_err"
  done
  if [ -z "$bins" ] && [ ${#failed_installs[@]} -eq 0 ]; then
    echo "SKIP: the npm registry is unreachable and no $hs_agent is cached in $HS_CACHE/harnesses; nothing to run"
    exit 77
  fi
  export HS_BINS="$bins"

  # drover may be rebuilt while the suite runs: use a private copy. (A global: the EXIT trap
  # removes it.)
  hs_work_root=$(mktemp -d "${TMPDIR:-/tmp}/$hs_workdir.XXXXXX")
  trap hs_cleanup EXIT
  # (`drover mock-gateway` runs the drover-gateway program next to drover.)
  cp "$drover" "$hs_work_root/drover"
  if [ -x "$(dirname "$drover")/drover-gateway" ]; then
    cp "$(dirname "$drover")/drover-gateway" "$hs_work_root/drover-gateway"
  fi
  export HS_DROVER="$hs_work_root/drover" HS_ROOT="$hs_work_root"

  local launcher
  if [ "${DROVER_HARNESS_NO_NETNS:-0}" != 1 ] && henv_netns_works; then
    export HS_NETNS="unshare -n (a fresh network namespace per route, loopback only)"
    launcher=(unshare -n "$BASH" "$0" --inner)
  else
    export HS_NETNS="none (host network, gateway on loopback)"
    launcher=("$BASH" "$0" --inner)
    echo "NOTE: unshare -n does not work here (or DROVER_HARNESS_NO_NETNS=1): the gateway runs on the host's loopback"
  fi
  echo "network: $HS_NETNS; drover: $drover; $hs_agents from $HS_CACHE/harnesses"

  local results="$hs_work_root/results.txt" hbin route_start
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
    "${launcher[@]}" "$r" 2>"$hs_work_root/$r.inner.err" | tee -a "$results"
    irc=${PIPESTATUS[0]}
    set -e
    if [ "$irc" -ne 0 ]; then
      echo "FAIL $r: the route's checks ran to the end: exit $irc" | tee -a "$results"
      sed 's/^/  | /' "$hs_work_root/$r.inner.err" | tail -40
    fi
    echo "--- $r: $(( ($(date +%s%N) - route_start) / 1000000 )) ms"
  done

  local passed failed skipped
  passed=$(grep -c '^PASS ' "$results" || true)
  failed=$(grep -c '^FAIL ' "$results" || true)
  skipped=$(grep -c '^SKIP ' "$results" || true)
  [ "$skipped" -eq 0 ] || echo "$skipped $hs_skipped skipped"
  echo "runtime: $(( $(date +%s) - start )) s"
  echo "$passed passed, $failed failed"
  if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then exit 0; fi
  exit 1
}

hs_cleanup() {
  if [ "${DROVER_HARNESS_KEEP:-0}" = 1 ]; then echo "kept $hs_work_root"; else rm -rf "$hs_work_root"; fi
}
