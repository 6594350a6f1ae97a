#!/usr/bin/env bash
# Installs the real coding-agent harnesses (pinned versions) from npm into a cache outside the
# repository, one npm prefix per harness, and prints where their binaries are:
#
#   scripts/install-harnesses.sh [--quiet] [claude] [codex] [opencode] [pi]
#
#   ${DROVER_CACHE_DIR:-$HOME/.cache/drover}/harnesses/<name>/node_modules/.bin/<bin>
#
# Idempotent: a harness whose pinned version is already installed is skipped. stdout gets one
# `<name>=<absolute bin path>` line per requested harness (nothing else), progress goes to stderr.
# Override a version with DROVER_<NAME>_VERSION (e.g. DROVER_CODEX_VERSION=0.169.0).
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
)

usage() {
  echo "usage: $0 [--quiet] [claude|codex|opencode|pi]...  (none: all four)" >&2
}

quiet=0
requested=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    -q|--quiet) quiet=1 ;;
    claude|codex|opencode|pi) requested+=("$arg") ;;
    *) echo "install-harnesses: unknown harness or option: $arg" >&2; usage; exit 2 ;;
  esac
done
[ ${#requested[@]} -gt 0 ] || requested=(claude codex opencode pi)

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

status=0
for name in "${requested[@]}"; do
  for row in "${harness_table[@]}"; do
    IFS='|' read -r h_name h_pkg h_version h_bin <<<"$row"
    [ "$h_name" = "$name" ] || continue
    prefix="$cache_root/$h_name"
    bin="$prefix/node_modules/.bin/$h_bin"
    have=$(installed_version "$prefix" "$h_pkg")
    if [ "$have" = "$h_version" ] && [ -x "$bin" ]; then
      log "$h_name: $h_pkg@$h_version already installed in $prefix"
    else
      check_registry
      [ -z "$have" ] || log "$h_name: replacing $h_pkg@$have"
      log "$h_name: installing $h_pkg@$h_version into $prefix"
      mkdir -p "$prefix"
      start=$(date +%s)
      npm_log="$prefix/npm-install.log"
      if ! npm install --no-audit --no-fund --prefix "$prefix" "$h_pkg@$h_version" >"$npm_log" 2>&1; then
        # A registry that went away mid-install is still "unreachable", not a broken package.
        if grep -Eq 'ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET|network' "$npm_log" &&
           ! npm ping --fetch-retries=0 --fetch-timeout=15000 >/dev/null 2>&1; then
          cat "$npm_log" >&2
          echo "install-harnesses: the npm registry is unreachable; cannot install $h_pkg" >&2
          exit 77
        fi
        cat "$npm_log" >&2
        echo "install-harnesses: $h_name: npm install $h_pkg@$h_version failed (log: $npm_log)" >&2
        status=1
        continue
      fi
      have=$(installed_version "$prefix" "$h_pkg")
      if [ "$have" != "$h_version" ] || [ ! -x "$bin" ]; then
        echo "install-harnesses: $h_name: installed, but found version '$have' and bin $bin" >&2
        status=1
        continue
      fi
      log "$h_name: $h_pkg@$h_version installed in $(( $(date +%s) - start )) s ($(du -sh "$prefix" | cut -f1))"
    fi
    echo "$h_name=$(cd "$(dirname "$bin")" && pwd)/$h_bin"
  done
done
exit "$status"
