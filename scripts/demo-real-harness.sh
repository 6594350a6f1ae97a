#!/usr/bin/env bash
# The README's first command, last step: a real harness driven by drover. Installs Claude Code
# from npm into the cache (~/.cache/drover/harnesses, reused), starts `drover mock-gateway` on
# loopback as its model endpoint (no account, no network beyond the registry), and runs
# `drover run --route claude-cli` through it. Falls back to the example config (the fake agent)
# when the npm registry cannot be reached.
#   scripts/demo-real-harness.sh [PROMPT]
set -euo pipefail
cd "$(dirname "$0")/.."
prompt=${1:-"Say hello to drover"}
drover=$PWD/build/drover

if ! bin_line=$(scripts/install-harnesses.sh claude 2>/dev/null | grep '^claude='); then
  echo "demo: cannot install Claude Code from npm; running the example config instead" >&2
  exec "$drover" run --config examples/drover.json "$prompt"
fi
claude_dir=$(dirname "${bin_line#claude=}")

# shellcheck source=scripts/harness-env.sh
source scripts/harness-env.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/drover-demo-XXXXXX")
trap 'henv_stop_gateway; rm -rf "$work"' EXIT
mkdir -p "$work/home"
echo '{"rules": []}' >"$work/script.json"  # no rules: every answer is the default MOCK: <prompt>
henv_start_gateway "$work" "$work/script.json" "$drover" mock-gateway || {
  echo "demo: the mock gateway did not start" >&2
  exit 1
}
henv_configure claude "$work/home" "$HENV_GATEWAY_URL"
echo "demo: claude ($claude_dir) -> drover mock-gateway at $HENV_GATEWAY_URL" >&2
env -i PATH="$claude_dir:$(henv_base_path)" HOME="$work/home" TMPDIR="$work" "${HENV_ENV[@]}" \
  "$drover" run --route claude-cli "$prompt"
