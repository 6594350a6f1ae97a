# shellcheck shell=bash disable=SC2034  # sourced: the HENV_* variables are for the caller
# Shared setup for running the REAL harnesses offline against drover's mock gateway. Sourced (not
# run) by scripts/record-harnesses.sh and tests/harness_suite/run.sh; the setup is documented in
# /work/shared/reference/HARNESSES.md (sections 3 and 6).
#
#   henv_netns_works                  true when `unshare -n` (with loopback up) works here
#   henv_start_gateway DIR SCRIPT CMD...
#                                     starts the gateway CMD... --port 0 --script SCRIPT --log DIR/gateway.log
#                                     (stdout DIR/gateway.out, stderr DIR/gateway.err) in the background;
#                                     sets HENV_GW_PID, HENV_PORT and HENV_GATEWAY_URL; 1 if it did not start
#   henv_stop_gateway                 stops it (SIGTERM, then waits)
#   henv_base_path                    prints a PATH with node's directory and /usr/local/bin:/usr/bin:/bin
#   henv_configure HARNESS HOME URL   HARNESS is claude, codex, opencode, pi or gemini: writes the config files
#                                     into the throwaway HOME (with write_config, which appends each file
#                                     to the config_files array) and sets HENV_ENV to the VAR=value words
#                                     the harness needs besides PATH/HOME/TMPDIR (HENV_ENV_ERRORS: extra
#                                     words for error cases, e.g. no retries)
#                                     The ACP agents (scripts/record-acp.py) are claude-acp, codex-acp,
#                                     opencode-acp, pi-acp and gemini-acp: the same files and words as the harness
#                                     they drive, plus what the adapter needs on top (see each case)
#
# Nothing here changes shell options; callers use `set -euo pipefail`.

henv_netns_works() {
  unshare -n sh -c 'ip link set lo up' 2>/dev/null
}

HENV_GW_PID=""
HENV_PORT=""
HENV_GATEWAY_URL=""

henv_start_gateway() {
  local dir=$1 script=$2
  shift 2
  "$@" --port 0 --script "$script" --log "$dir/gateway.log" \
    >"$dir/gateway.out" 2>"$dir/gateway.err" </dev/null &
  HENV_GW_PID=$!
  HENV_PORT=""
  local _
  for _ in $(seq 100); do
    HENV_PORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9]*\)$#\1#p' "$dir/gateway.out")
    [ -z "$HENV_PORT" ] || break
    kill -0 "$HENV_GW_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$HENV_PORT" ]; then
    HENV_GATEWAY_URL=""
    return 1
  fi
  HENV_GATEWAY_URL="http://127.0.0.1:$HENV_PORT"
}

henv_stop_gateway() {
  [ -n "$HENV_GW_PID" ] || return 0
  kill "$HENV_GW_PID" 2>/dev/null || true
  wait "$HENV_GW_PID" 2>/dev/null || true
  HENV_GW_PID=""
}

# The preset routes these scripts drive, as one table:
#   henv_route_install R   scripts/install-harnesses.sh name of what R runs (fails for unknown R)
#   henv_route_config R    henv_configure name for R
#   henv_route_model R     the model R runs with against the mock gateway ("" = the harness's own)
henv_route_install() {
  case "$1" in
    claude-cli) echo claude ;;
    codex-cli) echo codex ;;
    opencode-cli|opencode-acp) echo opencode ;;
    pi-cli|pi-cli-text) echo pi ;;
    claude-code-acp) echo claude-acp ;;
    codex-acp) echo codex-acp ;;
    pi-acp) echo pi-acp ;;
    gemini-cli|gemini-acp) echo gemini ;;
    *) return 1 ;;
  esac
}

henv_route_config() {
  case "$1" in
    claude-code-acp) echo claude-acp ;;
    *-acp) echo "$1" ;;
    *) henv_route_install "$1" ;;
  esac
}

henv_route_model() {
  case "$1" in
    claude-code-acp) echo sonnet ;;
    codex-cli|codex-acp) echo gpt-5.5 ;;
    opencode-cli|opencode-acp|pi-cli|pi-cli-text|pi-acp) echo mock/mock-model ;;
    gemini-cli|gemini-acp) echo gemini-2.5-pro ;;
    *) echo "" ;;
  esac
}

henv_base_path() {
  local node_dir path="/usr/local/bin:/usr/bin:/bin"
  node_dir=$(dirname "$(command -v node)")
  case ":$path:" in *":$node_dir:"*) ;; *) path="$node_dir:$path" ;; esac
  printf '%s' "$path"
}

# Config files written into HOME, in the order written (record-harnesses.sh shows them).
config_files=()
write_config() {
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$2" >"$1"
  config_files+=("$1")
}

HENV_ENV=()
HENV_ENV_ERRORS=()

henv_configure() {
  local harness=$1 home=$2 gateway_url=$3
  HENV_ENV=()
  HENV_ENV_ERRORS=()
  case "$harness" in
    claude)
      # No config file: the base URL (without /v1) and a dummy key are enough.
      HENV_ENV=(ANTHROPIC_BASE_URL="$gateway_url" ANTHROPIC_API_KEY=sk-dummy
                CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1
                DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1)
      # Without CLAUDE_CODE_MAX_RETRIES=0 a 429 is retried 10 times with backoff (about 180 s).
      HENV_ENV_ERRORS=(CLAUDE_CODE_MAX_RETRIES=0)
      ;;
    codex)
      write_config "$home/.codex/config.toml" "model = \"gpt-5.5\"
model_provider = \"mock\"
approval_policy = \"never\"
sandbox_mode = \"read-only\"

[model_providers.mock]
name = \"Mock\"
base_url = \"$gateway_url/v1\"
env_key = \"MOCK_API_KEY\"
wire_api = \"responses\"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[otel]
exporter = \"none\""
      HENV_ENV=(CODEX_HOME="$home/.codex" MOCK_API_KEY=sk-dummy)
      ;;
    opencode)
      # The model declares image and PDF input: opencode sends attachments (--file) of those
      # kinds only to models that do ("this model does not support image input" otherwise).
      write_config "$home/.config/opencode/opencode.json" "{
  \"\$schema\": \"https://opencode.ai/config.json\",
  \"autoupdate\": false,
  \"share\": \"disabled\",
  \"model\": \"mock/mock-model\",
  \"provider\": {
    \"mock\": {
      \"npm\": \"@ai-sdk/openai-compatible\",
      \"name\": \"Mock\",
      \"options\": { \"baseURL\": \"$gateway_url/v1\", \"apiKey\": \"sk-dummy\" },
      \"models\": { \"mock-model\": { \"name\": \"Mock Model\",
                                      \"modalities\": { \"input\": [\"text\", \"image\", \"pdf\"], \"output\": [\"text\"] } } }
    }
  }
}"
      HENV_ENV=(XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share"
                XDG_CACHE_HOME="$home/.cache" XDG_STATE_HOME="$home/.local/state"
                OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_SHARE=1)
      ;;
    pi)
      # The models declare image input: pi replaces images (@file) for other models with
      # "(image omitted: model does not support images)".
      write_config "$home/.pi/agent/models.json" "{
  \"providers\": {
    \"mock\": {
      \"baseUrl\": \"$gateway_url/v1\",
      \"api\": \"openai-completions\",
      \"apiKey\": \"sk-dummy\",
      \"compat\": { \"supportsDeveloperRole\": false, \"supportsReasoningEffort\": false },
      \"models\": [ { \"id\": \"mock-model\", \"name\": \"Mock Model\", \"contextWindow\": 128000, \"maxTokens\": 4096, \"input\": [\"text\", \"image\"] } ]
    },
    \"mock-anthropic\": {
      \"baseUrl\": \"$gateway_url\",
      \"api\": \"anthropic-messages\",
      \"apiKey\": \"sk-dummy\",
      \"models\": [ { \"id\": \"mock-claude\", \"name\": \"Mock Claude\", \"contextWindow\": 200000, \"maxTokens\": 4096, \"input\": [\"text\", \"image\"] } ]
    }
  }
}"
      write_config "$home/.pi/agent/settings.json" '{ "quietStartup": true }'
      HENV_ENV=(PI_CODING_AGENT_DIR="$home/.pi/agent" PI_OFFLINE=1 PI_TELEMETRY=0)
      ;;
    gemini)
      # With GOOGLE_GEMINI_BASE_URL set, gemini picks the auth type "gateway", which headless
      # runs reject ("Invalid auth method selected.", exit 41): settings.json selects the API key.
      # Usage statistics and update checks off. maxAttempts 1: a 429 fails at once (gemini makes
      # 10 attempts with backoff otherwise, minutes against a scripted 429). GEMINI_CLI_NO_RELAUNCH:
      # no second node process (it re-launches itself to raise its heap limit: 600-750 ms a run).
      write_config "$home/.gemini/settings.json" '{
  "security": { "auth": { "selectedType": "gemini-api-key" } },
  "privacy": { "usageStatisticsEnabled": false },
  "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false, "maxAttempts": 1 }
}'
      HENV_ENV=(GEMINI_API_KEY=sk-dummy GOOGLE_GEMINI_BASE_URL="$gateway_url" GEMINI_CLI_NO_RELAUNCH=1)
      ;;
    claude-acp)
      # As root, Claude Code refuses permission bypass unless IS_SANDBOX=1: claude-agent-acp 0.100
      # then rejects the advertised mode bypassPermissions (-32602 "Invalid value for config option
      # mode"), and older adapters (0.23) fail session/new with -32603 "Query closed before response
      # received". The default mode works either way.
      henv_configure claude "$home" "$gateway_url" || return
      HENV_ENV+=(IS_SANDBOX=1)
      ;;
    codex-acp|opencode-acp|pi-acp|gemini-acp)
      # gemini-acp is `gemini --acp` with gemini's settings and words (ACP mode would take the
      # "gateway" auth type too, but the same settings do no harm). codex-acp reads $CODEX_HOME/config.toml; `opencode acp` opencode's config; pi-acp runs pi,
      # whose settings.json already has the quietStartup it needs (else a banner leads the answer).
      henv_configure "${harness%-acp}" "$home" "$gateway_url" || return
      ;;
    *)
      echo "harness-env: unknown harness: $harness" >&2
      return 2
      ;;
  esac
}
