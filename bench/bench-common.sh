# shellcheck shell=bash disable=SC2034,SC2154  # sourced: variables set here and by the script
# Shared by bench/harness_overhead.sh and bench/acp_vs_acpx.sh, which source it; not run on its own.
#
# Both scripts work in two parts. The outer part parses the arguments, installs what it measures
# with scripts/install-harnesses.sh, copies drover and runs the script again as the inner part
# (`--inner NAME`) once per route or agent, in a fresh network namespace when `unshare -n` works;
# the inner part starts the mock gateway, configures a throwaway HOME with scripts/harness-env.sh,
# measures, and prints one JSON line, which the outer part collects for its markdown table. The
# steps both take the same way are here; the measuring and the table's columns stay in each script.
# The statistics and the table printing are in bench/bench_stats.py (run Python with bench_py).
#
# The script sets, before calling the functions below:
#   bench_name          the prefix of its messages (harness_overhead, acp_vs_acpx)
#   bench_noun          what one row is (route, agent)
#   bench_workdir       the name prefix of its work directory under $TMPDIR
#   usage               prints the usage on stderr and exits 2
#   bench_install_name NAME   prints NAME's scripts/install-harnesses.sh name ("" for none), fails
#                       for an unknown NAME
# and where it needs them:
#   bench_option ARG...       takes an option of its own: sets bench_shift to the words it took,
#                             fails when ARG is not one
#   bench_check_env           checks an environment variable of its own (called by bench_start)
#   bench_no_install NAME     checks a NAME that has no install-harnesses.sh name
#
# The outer part hands the inner part BENCH_CACHE, BENCH_RUNS, BENCH_WARMUP, BENCH_TIMEOUT,
# BENCH_BINS (install-harnesses.sh's `<name>=<bin>` lines), BENCH_DROVER (the private copy of
# drover), BENCH_ROOT (the work directory) and BENCH_NETNS in the environment.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/harness-env.sh
. "$repo/scripts/harness-env.sh"

# python3 with bench_stats.py importable (and no __pycache__ written next to it).
bench_py() {
  PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 python3 "$@"
}

# ---------------------------------------------------------------------------------------------
# Outer part
# ---------------------------------------------------------------------------------------------

# bench_parse_args DEFAULT_RUNS PATH/TO/drover [--runs N] [OPTION...] [NAME...]: sets drover, runs
# and names (empty: the script's default); usage on a bad argument. Also checks for python3.
bench_parse_args() {
  runs=$1
  shift
  drover=${1:-}
  { [ -n "$drover" ] && [ -x "$drover" ] && [ ! -d "$drover" ]; } || usage
  shift
  names=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
      --runs=*) runs=${1#--runs=}; shift ;;
      -h|--help) usage ;;
      -*) bench_shift=0
          if declare -F bench_option >/dev/null && bench_option "$@"; then
            shift "$bench_shift"
          else
            echo "$bench_name: unknown option: $1" >&2; usage
          fi ;;
      *) bench_install_name "$1" >/dev/null || { echo "$bench_name: unknown $bench_noun: $1" >&2; usage; }
         names+=("$1"); shift ;;
    esac
  done
  case "$runs" in ''|*[!0-9]*|0) echo "$bench_name: --runs takes a positive integer" >&2; usage ;; esac
  command -v python3 >/dev/null || { echo "$bench_name: python3 is not installed" >&2; exit 1; }
}

# Starts the clock and exports what the inner part reads from DROVER_CACHE_DIR and DROVER_BENCH_*.
bench_start() {
  start=$(date +%s)
  export BENCH_CACHE="${DROVER_CACHE_DIR:-$HOME/.cache/drover}"
  export BENCH_RUNS="$runs" BENCH_WARMUP="${DROVER_BENCH_WARMUP:-2}" BENCH_TIMEOUT="${DROVER_BENCH_TIMEOUT:-60}"
  if declare -F bench_check_env >/dev/null; then bench_check_env; fi
  case "$BENCH_WARMUP" in ''|*[!0-9]*) echo "$bench_name: DROVER_BENCH_WARMUP takes an integer" >&2; usage ;; esac
}

# Installs (or finds) each name's harness once with scripts/install-harnesses.sh; BENCH_BINS gets
# the `<name>=<bin>` lines of those it has. One that cannot be installed is said and skipped later.
bench_install() {
  local n inst line tried=" "
  BENCH_BINS=""
  for n in "${names[@]}"; do
    inst=$(bench_install_name "$n")
    if [ -z "$inst" ]; then
      if declare -F bench_no_install >/dev/null; then bench_no_install "$n"; fi
      continue
    fi
    case "$tried" in *" $inst "*) continue ;; esac
    tried+="$inst "
    if line=$("$repo/scripts/install-harnesses.sh" --quiet "$inst"); then
      BENCH_BINS+="$line"$'\n'
    else
      echo "$bench_name: $inst is not installed and could not be (scripts/install-harnesses.sh $inst)" >&2
    fi
  done
  export BENCH_BINS
}

# bench_setup_run UNIT [NOTE]: the work directory (removed on exit unless DROVER_BENCH_KEEP=1) with
# a private copy of drover, the inner part's launcher, and the first line on stderr (NOTE goes
# after drover's version; UNIT is what the warm-up runs are counted per).
bench_setup_run() {
  # drover may be rebuilt while this runs: use a private copy (and the gateway program next to it).
  work_root=$(mktemp -d "${TMPDIR:-/tmp}/$bench_workdir.XXXXXX")
  trap bench_cleanup EXIT
  cp "$drover" "$work_root/drover"
  [ ! -x "$(dirname "$drover")/drover-gateway" ] || cp "$(dirname "$drover")/drover-gateway" "$work_root/drover-gateway"
  export BENCH_DROVER="$work_root/drover" BENCH_ROOT="$work_root"

  if [ "${DROVER_BENCH_NO_NETNS:-0}" != 1 ] && henv_netns_works; then
    export BENCH_NETNS="unshare -n (a fresh network namespace per $bench_noun, loopback only)"
    launcher=(unshare -n "$BASH" "$0" --inner)
  else
    export BENCH_NETNS="none (host network, gateway on loopback)"
    launcher=("$BASH" "$0" --inner)
  fi
  echo "$bench_name: drover $("$drover" --version 2>/dev/null | head -1); ${2:+$2; }network: $BENCH_NETNS;" \
       "$runs runs + $BENCH_WARMUP warm-up per $1; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}

bench_cleanup() {
  if [ "${DROVER_BENCH_KEEP:-0}" = 1 ]; then echo "kept $work_root" >&2; else rm -rf "$work_root"; fi
}

# Runs the inner part for each name, its JSON line to stdout and to $results; status 1 when one
# was skipped or failed.
bench_run_all() {
  local n inst irc
  results="$work_root/results.jsonl"
  : >"$results"
  status=0
  for n in "${names[@]}"; do
    inst=$(bench_install_name "$n")
    if [ -n "$inst" ] && ! printf '%s\n' "$BENCH_BINS" | grep -q "^$inst="; then
      echo "$bench_name: $n: skipped, $inst is not installed" >&2
      status=1
      continue
    fi
    echo "--- $n" >&2
    set +e
    "${launcher[@]}" "$n" | tee -a "$results"
    irc=${PIPESTATUS[0]}
    set -e
    [ "$irc" -eq 0 ] || { echo "$bench_name: $n: FAILED (exit $irc)" >&2; status=1; }
  done
}

bench_finish() {
  echo "$bench_name: runtime $(( $(date +%s) - start )) s" >&2
  exit "$status"
}

# ---------------------------------------------------------------------------------------------
# Inner part
# ---------------------------------------------------------------------------------------------

# bench_inner_setup NAME: loopback up in the namespace; a fresh $root (BENCH_ROOT/NAME) with the
# empty $home, $work and $tmp.
bench_inner_setup() {
  case "$BENCH_NETNS" in unshare*) ip link set lo up ;; esac
  bench_item=$1
  root="$BENCH_ROOT/$1"
  home="$root/home"
  work="$root/work"
  tmp="$root/tmp"
  rm -rf "$root"
  mkdir -p "$home" "$work" "$tmp"
}

# bench_bin INSTALL_NAME: the harness's binary as install-harnesses.sh printed it.
bench_bin() {
  printf '%s\n' "$BENCH_BINS" | sed -n "s/^$1=//p"
}

# bench_package_version INSTALL_NAME NPM_PACKAGE: the installed version ("" when unknown).
bench_package_version() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("version",""))' \
    "$BENCH_CACHE/harnesses/$1/node_modules/$2/package.json" 2>/dev/null || true
}

# bench_start_gateway SCRIPT: `drover mock-gateway --script SCRIPT` in $root, stopped on exit
# (HENV_GATEWAY_URL); exits 1 when it does not start.
bench_start_gateway() {
  trap henv_stop_gateway EXIT
  if ! henv_start_gateway "$root" "$1" "$BENCH_DROVER" mock-gateway; then
    echo "$bench_name: $bench_item: the mock gateway did not start:" >&2
    sed 's/^/  | /' "$root/gateway.err" >&2
    exit 1
  fi
}

# bench_base_env DIRS: bench_env = the environment the measured clients start from: PATH (DIRS
# first), HOME, TMPDIR, LANG=C.UTF-8 and henv_configure's HENV_ENV.
bench_base_env() {
  bench_env=(PATH="$1:$(henv_base_path)" HOME="$home" TMPDIR="$tmp" LANG=C.UTF-8 "${HENV_ENV[@]}")
}
