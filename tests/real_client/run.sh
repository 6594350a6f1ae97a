#!/usr/bin/env bash
# The official OpenAI, Anthropic and Google Gen AI SDKs (from npm) against `drover mock-gateway`:
# a streamed and a non-streamed call with each, plus model listings, tool calls and a scripted 429.
#
#   tests/real_client/run.sh PATH/TO/drover
#
# The SDKs are installed once into ${DROVER_CACHE_DIR:-$HOME/.cache/drover}/real-client (outside
# the repo) and reused. Exit 77 (skipped) ONLY when the npm registry cannot be reached; any other
# problem is a failure.
set -euo pipefail

DROVER=${1:?usage: run.sh PATH/TO/drover}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${DROVER_CACHE_DIR:-${HOME:-/tmp}/.cache/drover}/real-client
SKIP=77

command -v node >/dev/null || { echo "FAIL: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "FAIL: npm is not installed" >&2; exit 1; }

# The newest SDK majors need Node 22; Node 20 gets the last majors that support it.
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
if [ "$NODE_MAJOR" -ge 22 ]; then
  OPENAI_RANGE="^7" ANTHROPIC_RANGE="^1" GENAI_RANGE="^3"
else
  OPENAI_RANGE="^6" ANTHROPIC_RANGE="^1" GENAI_RANGE="^2"
fi

mkdir -p "$CACHE"
PACKAGE_JSON=$(cat <<JSON
{
  "name": "drover-real-client",
  "private": true,
  "description": "Official model SDKs for drover's real-client test (written by tests/real_client/run.sh)",
  "type": "module",
  "dependencies": {
    "openai": "$OPENAI_RANGE",
    "@anthropic-ai/sdk": "$ANTHROPIC_RANGE",
    "@google/genai": "$GENAI_RANGE"
  }
}
JSON
)
installed() {
  [ -f "$CACHE/package.json" ] && [ "$(cat "$CACHE/package.json")" = "$PACKAGE_JSON" ] &&
    [ -f "$CACHE/node_modules/openai/package.json" ] &&
    [ -f "$CACHE/node_modules/@anthropic-ai/sdk/package.json" ] &&
    [ -f "$CACHE/node_modules/@google/genai/package.json" ]
}

if ! installed; then
  if ! (cd "$CACHE" && timeout 60 npm ping >/dev/null 2>&1); then
    echo "SKIP: the npm registry cannot be reached (npm ping failed); cannot install the SDKs"
    exit $SKIP
  fi
  printf '%s\n' "$PACKAGE_JSON" > "$CACHE/package.json"
  printf 'package-lock=false\n' > "$CACHE/.npmrc"  # lockfile-free: always the newest in range
  rm -rf "$CACHE/node_modules"
  echo "installing the SDKs into $CACHE"
  if ! (cd "$CACHE" && timeout 540 npm install --no-audit --no-fund) >"$CACHE/install.log" 2>&1; then
    cat "$CACHE/install.log" >&2
    rm -rf "$CACHE/node_modules"
    if grep -Eq 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|socket hang up' \
        "$CACHE/install.log"; then
      echo "SKIP: npm install failed with a network error"
      exit $SKIP
    fi
    echo "FAIL: npm install failed" >&2
    exit 1
  fi
  installed || { echo "FAIL: npm install did not install the three SDKs" >&2; exit 1; }
fi

# `drover mock-gateway`, or the gateway program next to drover until that subcommand exists.
if "$DROVER" mock-gateway --help >/dev/null 2>&1; then
  GATEWAY=("$DROVER" mock-gateway)
else
  GATEWAY=("$(dirname "$DROVER")/drover-gateway")
  echo "note: '$DROVER mock-gateway' is not available; using ${GATEWAY[0]}"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-real-client-XXXXXX")
GATEWAY_PID=
cleanup() {
  if [ -n "$GATEWAY_PID" ]; then
    kill -TERM "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cp "$HERE/script.json" "$WORK/script.json"
"${GATEWAY[@]}" --port 0 --script "$WORK/script.json" --log "$WORK/gateway.log" \
  >"$WORK/gateway.out" 2>"$WORK/gateway.err" &
GATEWAY_PID=$!
URL=
for _ in $(seq 1 100); do
  URL=$(sed -n 's/^listening on //p' "$WORK/gateway.out")
  [ -n "$URL" ] && break
  kill -0 "$GATEWAY_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$URL" ]; then
  echo "FAIL: the gateway did not start" >&2
  cat "$WORK/gateway.err" >&2
  exit 1
fi
echo "gateway at $URL"

# ESM resolves packages from the script's own directory: run the client from the cache.
cp "$HERE/sdk_clients.mjs" "$CACHE/sdk_clients.mjs"
status=0
node "$CACHE/sdk_clients.mjs" "$URL" "$WORK/gateway.log" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- gateway log" >&2
  cat "$WORK/gateway.log" >&2 || true
  echo "--- gateway stderr" >&2
  cat "$WORK/gateway.err" >&2 || true
  exit 1
fi
