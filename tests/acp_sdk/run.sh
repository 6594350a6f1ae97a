#!/usr/bin/env bash
# drover's ACP client against an agent built on the official TypeScript ACP SDK
# (@agentclientprotocol/sdk, pinned; its npm package ships no example agent, so tests/acp_sdk/
# agent.mjs is a minimal one on the SDK's agent() app): a prompt answered, authentication on
# auth_required, session/close at the end of the run, session/list and session/delete through
# `drover sessions`.
#
#   tests/acp_sdk/run.sh PATH/TO/drover
#
# The SDK is installed once into ${DROVER_CACHE_DIR:-$HOME/.cache/drover}/acp-sdk (outside the
# repo) and reused. Exit 77 (skipped) ONLY when the npm registry cannot be reached; any other
# problem is a failure.
set -euo pipefail

DROVER=${1:?usage: run.sh PATH/TO/drover}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${DROVER_CACHE_DIR:-${HOME:-/tmp}/.cache/drover}/acp-sdk
SKIP=77
SDK_VERSION=${DROVER_ACP_SDK_VERSION:-2.4.0}
ZOD_VERSION=${DROVER_ACP_SDK_ZOD_VERSION:-4.6.7}  # the SDK's peer dependency

command -v node >/dev/null || { echo "FAIL: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "FAIL: npm is not installed" >&2; exit 1; }

mkdir -p "$CACHE"
PACKAGE_JSON=$(cat <<JSON
{
  "name": "drover-acp-sdk-test",
  "private": true,
  "description": "The official ACP SDK for drover's tests/acp_sdk (written by tests/acp_sdk/run.sh)",
  "type": "module",
  "dependencies": {
    "@agentclientprotocol/sdk": "$SDK_VERSION",
    "zod": "$ZOD_VERSION"
  }
}
JSON
)
installed() {
  [ -f "$CACHE/package.json" ] && [ "$(cat "$CACHE/package.json")" = "$PACKAGE_JSON" ] &&
    [ -f "$CACHE/node_modules/@agentclientprotocol/sdk/package.json" ] &&
    [ -f "$CACHE/node_modules/zod/package.json" ]
}

if ! installed; then
  if ! (cd "$CACHE" && timeout 60 npm ping >/dev/null 2>&1); then
    echo "SKIP: the npm registry cannot be reached (npm ping failed); cannot install the ACP SDK"
    exit $SKIP
  fi
  printf '%s\n' "$PACKAGE_JSON" > "$CACHE/package.json"
  printf 'package-lock=false\n' > "$CACHE/.npmrc"
  rm -rf "$CACHE/node_modules"
  echo "installing @agentclientprotocol/sdk@$SDK_VERSION into $CACHE"
  if ! (cd "$CACHE" && timeout 300 npm install --no-audit --no-fund) >"$CACHE/install.log" 2>&1; then
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
  installed || { echo "FAIL: npm install did not install the ACP SDK" >&2; exit 1; }
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-acp-sdk-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# ESM resolves packages from the script's own directory: the agent runs from the cache.
cp "$HERE/agent.mjs" "$CACHE/agent.mjs"
STATE="$WORK/state.json"
LOG="$WORK/calls.jsonl"
mkdir -p "$WORK/project"
cat > "$WORK/drover.json" <<JSON
{
  "providers": {
    "sdk": {
      "accounts": [{
        "id": "a",
        "transport": {
          "kind": "acp", "command": "node",
          "permissions": "agent-asks",
          "acp": { "args": ["$CACHE/agent.mjs", "$STATE", "$LOG"], "authMethod": "auto" }
        }
      }]
    }
  }
}
JSON

fail() {
  echo "FAIL: $*" >&2
  echo "--- agent calls" >&2
  cat "$LOG" >&2 2>/dev/null || true
  exit 1
}
calls() { grep -c "\"method\":\"$1\"" "$LOG" 2>/dev/null || true; }

# 1. A prompt, answered in chunks; session/new is refused until authenticate ("auto": the one
#    method the agent offers), then retried once; the run ends with session/close.
"$DROVER" run -c "$WORK/drover.json" --cwd "$WORK/project" -o json "hello there" \
  >"$WORK/run.json" 2>"$WORK/run.err" || fail "drover run exited $? ($(cat "$WORK/run.err"))"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const problems = [];
  if (r.text !== "SDK: hello there") problems.push("text " + JSON.stringify(r.text));
  if (r.sessionId !== "sdk-session-1") problems.push("sessionId " + JSON.stringify(r.sessionId));
  if (r.error) problems.push("error " + JSON.stringify(r.error));
  if ((r.warnings || []).length) problems.push("warnings " + JSON.stringify(r.warnings));
  if (problems.length) { console.error(problems.join("; ")); process.exit(1); }
' "$WORK/run.json" || fail "the run's result: $(cat "$WORK/run.json")"
[ "$(calls authenticate)" = 1 ] || fail "expected one authenticate"
[ "$(calls session/new)" = 2 ] || fail "expected session/new refused once, then retried once"
[ "$(calls session/close)" = 1 ] || fail "expected the run to close its session"
grep -q '"method":"session/close","sessionId":"sdk-session-1"' "$LOG" || fail "session/close for the wrong session"
echo "ok: prompt answered (auth_required, authenticate, retry), session closed"

# 2. drover sessions: the table and --json.
"$DROVER" sessions -c "$WORK/drover.json" >"$WORK/table.txt" 2>"$WORK/table.err" ||
  fail "drover sessions exited $? ($(cat "$WORK/table.err"))"
grep -q '^ID ' "$WORK/table.txt" || fail "no table header: $(cat "$WORK/table.txt")"
grep -q 'sdk-session-1 .*SDK: hello there .*2026-02-03T04:05:06Z' "$WORK/table.txt" ||
  fail "the session is not in the table: $(cat "$WORK/table.txt")"
"$DROVER" sessions -c "$WORK/drover.json" --json >"$WORK/list.json" || fail "drover sessions --json exited $?"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const s = r.sessions || [];
  if (s.length !== 1 || s[0].sessionId !== "sdk-session-1" || s[0].title !== "SDK: hello there" ||
      !s[0].cwd.endsWith("/project") || r.error !== null) { console.error(JSON.stringify(r)); process.exit(1); }
' "$WORK/list.json" || fail "drover sessions --json: $(cat "$WORK/list.json")"
echo "ok: drover sessions lists it"

# 3. drover sessions delete, then the list is empty; an unknown id fails naming it.
"$DROVER" sessions delete -c "$WORK/drover.json" sdk-session-1 >"$WORK/delete.txt" ||
  fail "drover sessions delete exited $?"
[ "$(cat "$WORK/delete.txt")" = "deleted sdk-session-1" ] || fail "delete printed: $(cat "$WORK/delete.txt")"
"$DROVER" sessions -c "$WORK/drover.json" --json >"$WORK/empty.json" || fail "drover sessions exited $?"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (r.sessions.length !== 0) process.exit(1);
' "$WORK/empty.json" || fail "the session is still listed: $(cat "$WORK/empty.json")"
status=0
"$DROVER" sessions delete -c "$WORK/drover.json" sdk-session-9 >/dev/null 2>"$WORK/unknown.err" || status=$?
[ "$status" = 1 ] || fail "deleting an unknown session exited $status"
grep -q 'sdk-session-9' "$WORK/unknown.err" || fail "the error does not name the id: $(cat "$WORK/unknown.err")"
echo "ok: drover sessions delete"
echo "PASS"
