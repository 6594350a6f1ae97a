#!/usr/bin/env bash
# Records what the REAL harnesses print in print mode, run offline against drover's mock gateway,
# into fixtures/harness/<harness>/ (see fixtures/harness/README.md):
#
#   scripts/record-harnesses.sh [--out DIR] [--no-netns] [--keep] [claude] [codex] [opencode] [pi]
#                               [gemini]
#
# For each harness: installs it if needed (scripts/install-harnesses.sh, cached outside the repo),
# starts the mock gateway (fixtures/harness/gateway-script.json) on a free port, gives the harness a
# throwaway HOME (and XDG dirs / CODEX_HOME / PI_CODING_AGENT_DIR / ~/.gemini) configured for the
# gateway, and runs each case with `env -i` in an empty work directory. Per case it writes, byte-exact:
#   <case>.<json|jsonl|txt>   stdout
#   <case>.stderr.txt         stderr
#   <case>.cmd.txt            the env and argv used, exit status, config files (the random port is
#                             written PORT and temp paths <HOME>, <WORK>, <TMP>, <CACHE>; nothing
#                             else is rewritten, and the recordings themselves never are)
# plus gateway.log.jsonl, the gateway's request log for the whole harness.
#
# By default everything runs in a fresh network namespace (`unshare -n`, loopback up), so a run
# proves the harnesses need no network beyond the gateway; --no-netns (or a host where unshare
# fails) uses plain loopback. Environment: DROVER_GATEWAY (default build/drover-gateway),
# DROVER_CACHE_DIR (see install-harnesses.sh), DROVER_RECORD_TIMEOUT (seconds per case, 120).
#
# Exit codes: 0 done, 1 a harness could not be recorded, 2 bad arguments, 77 harnesses not
# installable (npm registry unreachable).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/.." && pwd)
# The harness setup (gateway, configs, environment) shared with tests/harness_suite/run.sh.
# shellcheck source=scripts/harness-env.sh
. "$script_dir/harness-env.sh"

# ---------------------------------------------------------------------------------------------
# Outer part: arguments, installation, network namespace.
# ---------------------------------------------------------------------------------------------
if [ "${1:-}" != "--inner" ]; then
  out="$repo/fixtures/harness"
  netns=1
  keep=0
  harnesses=()
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      --out) out=$2; shift ;;
      --out=*) out=${1#--out=} ;;
      --no-netns) netns=0 ;;
      --keep) keep=1 ;;
      claude|codex|opencode|pi|gemini) harnesses+=("$1") ;;
      *) echo "record-harnesses: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
  done
  [ ${#harnesses[@]} -gt 0 ] || harnesses=(claude codex opencode pi gemini)

  gateway=${DROVER_GATEWAY:-$repo/build/drover-gateway}
  if [ ! -x "$gateway" ]; then
    echo "record-harnesses: no gateway binary at $gateway (cmake --build build --target drover-gateway)" >&2
    exit 1
  fi

  set +e
  bins=$("$script_dir/install-harnesses.sh" --quiet "${harnesses[@]}")
  rc=$?
  set -e
  [ "$rc" -eq 0 ] || { echo "record-harnesses: install-harnesses.sh failed ($rc)" >&2; exit "$rc"; }

  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  # The gateway may be rebuilt by others while we record: use a private copy.
  work_root=$(mktemp -d "${TMPDIR:-/tmp}/drover-record.XXXXXX")
  cp "$gateway" "$work_root/drover-gateway"

  export REC_OUT="$out" REC_ROOT="$work_root" REC_GATEWAY="$work_root/drover-gateway"
  export REC_SCRIPT="$repo/fixtures/harness/gateway-script.json" REC_BINS="$bins"
  export REC_CACHE="${DROVER_CACHE_DIR:-$HOME/.cache/drover}" REC_REPO="$repo"
  export REC_TIMEOUT="${DROVER_RECORD_TIMEOUT:-120}"

  if [ "$netns" -eq 1 ] && henv_netns_works; then
    export REC_NETNS="unshare -n (fresh network namespace, loopback only)"
    launcher=(unshare -n "$BASH" "$0" --inner)
  else
    [ "$netns" -eq 0 ] || echo "record-harnesses: unshare -n does not work here; using plain loopback" >&2
    export REC_NETNS="none (host network, gateway on loopback)"
    launcher=("$BASH" "$0" --inner)
  fi

  status=0
  for h in "${harnesses[@]}"; do
    echo "record-harnesses: $h" >&2
    "${launcher[@]}" "$h" || status=1
  done
  if [ "$keep" -eq 1 ]; then echo "record-harnesses: kept $work_root" >&2; else rm -rf "$work_root"; fi
  exit "$status"
fi

# ---------------------------------------------------------------------------------------------
# Inner part: one harness, possibly inside the network namespace.
# ---------------------------------------------------------------------------------------------
harness=$2
case "$REC_NETNS" in unshare*) ip link set lo up ;; esac

bin=$(printf '%s\n' "$REC_BINS" | sed -n "s/^$harness=//p")
[ -n "$bin" ] || { echo "record-harnesses: no binary for $harness" >&2; exit 1; }
node_dir=$(dirname "$(command -v node)")

root="$REC_ROOT/$harness"
home="$root/home"
work="$root/work"
tmp="$root/tmp"
stage="$root/out"
rm -rf "$root"
mkdir -p "$home" "$work" "$tmp" "$stage"

trap henv_stop_gateway EXIT

henv_start_gateway "$root" "$REC_SCRIPT" "$REC_GATEWAY" ||
  { echo "record-harnesses: gateway did not start:" >&2; cat "$root/gateway.err" >&2; exit 1; }
port=$HENV_PORT

# pi prints its version on stderr, the others on stdout (codex may add a warning on stderr).
version_cmd=(env -i PATH="$node_dir:/usr/bin:/bin" HOME="$home" TMPDIR="$tmp" "$bin" --version)
version=$("${version_cmd[@]}" </dev/null 2>/dev/null | head -1 || true)
[ -n "$version" ] || version=$("${version_cmd[@]}" </dev/null 2>&1 >/dev/null | head -1 || true)

# Shell-quotes one word for the .cmd.txt files.
q() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then printf '%s' "$1"; else
    local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; fi
}

# Replaces the random port and the temp paths with placeholders (for .cmd.txt files only).
placeholders() {
  local s=$1
  s=${s//"$home"/<HOME>}
  s=${s//"$work"/<WORK>}
  s=${s//"$root"/<TMP>}
  s=${s//"$REC_CACHE"/<CACHE>}
  s=${s//"$REC_REPO"/<REPO>}
  s=${s//"127.0.0.1:$port"/127.0.0.1:PORT}
  printf '%s' "$s"
}

# Config files written into HOME before the runs (write_config, harness-env.sh) are shown in
# every .cmd.txt.
path=$(henv_base_path)
base_env=(PATH="$path" HOME="$home" TMPDIR="$tmp" LANG=C.UTF-8)
case_stdin=/dev/null
case_stdin_desc=/dev/null

# run_case NAME EXT [VAR=value...] -- ARGV...
# Runs the harness with `env -i base_env VAR=value... BIN ARGV` in $work, stdin from
# $case_stdin, and keeps stdout, stderr and the command.
run_case() {
  local name=$1 ext=$2
  shift 2
  local extra=()
  while [ "$1" != "--" ]; do extra+=("$1"); shift; done
  shift
  local cmd=(env -i "${base_env[@]}" "${extra[@]}" "$bin" "$@")
  local start end rc=0
  start=$(date +%s%N)
  (cd "$work" && timeout -k 5 "$REC_TIMEOUT" "${cmd[@]}" <"$case_stdin" \
     >"$stage/$name.$ext" 2>"$stage/$name.stderr.txt") || rc=$?
  end=$(date +%s%N)
  local text word f
  text="# $harness $version, case $name: stdout in $name.$ext, stderr in $name.stderr.txt"$'\n'
  text+="# exit status: $rc$( [ "$rc" -ne 124 ] || printf ' (timed out after %s s)' "$REC_TIMEOUT" ), wall time: $(( (end - start) / 1000000 )) ms"$'\n'
  text+="# cwd: $work (an empty throwaway directory); stdin: $case_stdin_desc"$'\n'
  text+="# network: $REC_NETNS; mock gateway: drover-gateway --port 0 --script fixtures/harness/gateway-script.json"$'\n'
  for word in "${cmd[@]}"; do
    case "$word" in
      env) text+="env" ;;
      -i) text+=" -i" ;;
      *) text+=$' \\\n  '"$(q "$word")" ;;
    esac
  done
  text+=$'\n'
  for f in "${config_files[@]}"; do
    text+=$'\n'"# file $f:"$'\n'"$(cat "$f")"$'\n'
  done
  placeholders "$text" >"$stage/$name.cmd.txt"
  printf 'record-harnesses: %s/%s: exit %s, %s ms, %s bytes of stdout\n' "$harness" "$name" "$rc" \
    $(( (end - start) / 1000000 )) "$(wc -c <"$stage/$name.$ext")" >&2
}

gateway_url="http://127.0.0.1:$port"

case "$harness" in
  claude)
    henv_configure claude "$home" "$gateway_url"
    claude_env=("${HENV_ENV[@]}")
    run_case json json "${claude_env[@]}" -- -p "Say the word: tangerine" --output-format json
    session=$(jq -r '.session_id // empty' "$stage/json.json" 2>/dev/null || true)
    run_case stream-json jsonl "${claude_env[@]}" -- \
      -p "Say the word: papaya" --output-format stream-json --verbose
    run_case stream-json-partial jsonl "${claude_env[@]}" -- \
      -p "Say the word: kumquat" --output-format stream-json --verbose --include-partial-messages
    run_case text txt "${claude_env[@]}" -- -p "Say the word: apricot" --output-format text
    if [ -n "$session" ]; then
      run_case resume-json json "${claude_env[@]}" -- \
        -p "Say the word: nectarine" --output-format json --resume "$session"
    else
      echo "record-harnesses: claude: no session_id in json.json; resume skipped" >&2
    fi
    # Without CLAUDE_CODE_MAX_RETRIES=0 a 429 is retried 10 times with backoff (about 180 s).
    run_case error-rate-limit json "${claude_env[@]}" "${HENV_ENV_ERRORS[@]}" -- \
      -p "Say the word: ratelimit" --output-format json
    run_case error-overloaded json "${claude_env[@]}" "${HENV_ENV_ERRORS[@]}" -- \
      -p "Say the word: overloaded" --output-format json
    run_case error-overloaded-stream jsonl "${claude_env[@]}" "${HENV_ENV_ERRORS[@]}" -- \
      -p "Say the word: overloaded" --output-format stream-json --verbose
    run_case tool-denied json "${claude_env[@]}" -- -p "Create a marker file" --output-format json
    run_case tool-denied-stream jsonl "${claude_env[@]}" -- \
      -p "Create a marker file" --output-format stream-json --verbose
    ;;

  codex)
    henv_configure codex "$home" "$gateway_url"
    codex_env=("${HENV_ENV[@]}")
    run_case exec-json jsonl "${codex_env[@]}" -- exec --json --skip-git-repo-check --color never \
      -o "$tmp/exec-json.last-message.txt" "Say the word: tangerine"
    cp "$tmp/exec-json.last-message.txt" "$stage/exec-json.last-message.txt" 2>/dev/null || true
    thread=$(jq -r 'select(.type == "thread.started") | .thread_id' "$stage/exec-json.jsonl" 2>/dev/null | head -1 || true)
    run_case exec-text txt "${codex_env[@]}" -- exec --skip-git-repo-check --color never \
      "Say the word: apricot"
    if [ -n "$thread" ]; then
      run_case exec-resume-json jsonl "${codex_env[@]}" -- exec resume --json --skip-git-repo-check \
        -o "$tmp/exec-resume-json.last-message.txt" "$thread" "Say the word: nectarine"
      cp "$tmp/exec-resume-json.last-message.txt" "$stage/exec-resume-json.last-message.txt" 2>/dev/null || true
    else
      echo "record-harnesses: codex: no thread_id in exec-json.jsonl; resume skipped" >&2
    fi
    run_case error-rate-limit jsonl "${codex_env[@]}" -- exec --json --skip-git-repo-check \
      --color never -o "$tmp/error-rate-limit.last-message.txt" "Say the word: ratelimit"
    cp "$tmp/error-rate-limit.last-message.txt" "$stage/" 2>/dev/null || true
    run_case tool-read-only jsonl "${codex_env[@]}" -- exec --json --skip-git-repo-check \
      --color never -o "$tmp/tool-read-only.last-message.txt" "Create a marker file"
    cp "$tmp/tool-read-only.last-message.txt" "$stage/" 2>/dev/null || true
    ;;

  opencode)
    henv_configure opencode "$home" "$gateway_url"
    opencode_env=("${HENV_ENV[@]}")
    # The prompt goes on stdin: as one argv element with spaces it reaches the model quoted.
    prompt_case() {
      printf '%s' "$1" >"$tmp/prompt.txt"
      case_stdin="$tmp/prompt.txt"
      case_stdin_desc="the prompt $(q "$1") (no trailing newline)"
    }
    prompt_case "Say the word: tangerine"
    run_case run-json jsonl "${opencode_env[@]}" -- run --format json
    prompt_case "Say the word: apricot"
    run_case run-default txt "${opencode_env[@]}" -- run
    prompt_case "Say the word: ratelimit"
    run_case error-rate-limit jsonl "${opencode_env[@]}" -- run --format json
    prompt_case "Create a marker file"
    run_case tool-json jsonl "${opencode_env[@]}" -- run --format json
    ;;

  pi)
    henv_configure pi "$home" "$gateway_url"
    pi_env=("${HENV_ENV[@]}")
    run_case mode-json jsonl "${pi_env[@]}" -- -p --mode json --model mock/mock-model \
      "Say the word: tangerine"
    run_case print-text txt "${pi_env[@]}" -- -p --model mock/mock-model "Say the word: apricot"
    run_case anthropic-mode-json jsonl "${pi_env[@]}" -- -p --mode json \
      --model mock-anthropic/mock-claude "Say the word: papaya"
    run_case anthropic-print-text txt "${pi_env[@]}" -- -p --model mock-anthropic/mock-claude \
      "Say the word: kumquat"
    run_case error-rate-limit jsonl "${pi_env[@]}" -- -p --mode json --model mock/mock-model \
      "Say the word: ratelimit"
    run_case tool-json jsonl "${pi_env[@]}" -- -p --mode json --model mock/mock-model \
      "Create a marker file"
    ;;

  gemini)
    henv_configure gemini "$home" "$gateway_url"
    gemini_env=("${HENV_ENV[@]}")
    # The prompt goes on stdin, as the gemini-cli preset sends it (headless: stdin is no terminal).
    prompt_case() {
      printf '%s' "$1" >"$tmp/prompt.txt"
      case_stdin="$tmp/prompt.txt"
      case_stdin_desc="the prompt $(q "$1") (no trailing newline)"
    }
    gemini_args=(--skip-trust -m gemini-2.5-pro)
    prompt_case "Say the word: tangerine"
    run_case stream-json jsonl "${gemini_env[@]}" -- --output-format stream-json "${gemini_args[@]}"
    session=$(jq -r 'select(.type == "init") | .session_id' "$stage/stream-json.jsonl" 2>/dev/null | head -1 || true)
    prompt_case "Say the word: apricot"
    run_case json json "${gemini_env[@]}" -- --output-format json "${gemini_args[@]}"
    prompt_case "--version"
    run_case dash-prompt jsonl "${gemini_env[@]}" -- --output-format stream-json "${gemini_args[@]}"
    if [ -n "$session" ]; then
      prompt_case "Say the word: nectarine"
      run_case resume-stream-json jsonl "${gemini_env[@]}" -- --output-format stream-json \
        "${gemini_args[@]}" --resume "$session"
    else
      echo "record-harnesses: gemini: no session_id in stream-json.jsonl; resume skipped" >&2
    fi
    prompt_case "Say the word: ratelimit"
    run_case error-rate-limit jsonl "${gemini_env[@]}" -- --output-format stream-json "${gemini_args[@]}"
    prompt_case "Create a marker file"
    run_case tool-default jsonl "${gemini_env[@]}" -- --output-format stream-json "${gemini_args[@]}" \
      --approval-mode default
    rm -f "$work/marker.txt"
    run_case tool-yolo jsonl "${gemini_env[@]}" -- --output-format stream-json "${gemini_args[@]}" \
      --approval-mode yolo
    [ -f "$work/marker.txt" ] || echo "record-harnesses: gemini: tool-yolo made no marker.txt" >&2
    ;;
esac

henv_stop_gateway
cp "$root/gateway.log" "$stage/gateway.log.jsonl"

dest="$REC_OUT/$harness"
rm -rf "$dest"
mkdir -p "$dest"
cp -p "$stage"/* "$dest"/
echo "record-harnesses: $harness ($version): $(find "$dest" -type f | wc -l) files in $dest" >&2
