#!/usr/bin/env bash
# The REAL ACP agents (claude-agent-acp, codex-acp, `opencode acp`, pi-acp, `gemini --acp`) driven
# through drover's ACP presets, offline, against drover's mock gateway:
#
#   tests/harness_suite/acp.sh PATH/TO/drover [ROUTE...]
#
# ROUTEs (default: all): claude-code-acp codex-acp opencode-acp pi-acp gemini-acp. For each route:
# installs the agent if needed (scripts/install-harnesses.sh names claude-acp, codex-acp, opencode,
# pi-acp, gemini; cached outside the repo), starts `drover mock-gateway --verbose` with acp-gateway-script.json
# inside a fresh network namespace (`unshare -n`; plain loopback when that does not work, said
# so), gives the agent a throwaway HOME configured for the gateway like scripts/record-acp.py
# (`henv_configure` from scripts/harness-env.sh), puts the agent's bin dir first on PATH and runs
# every `drover run` with `--model M --transcript FILE` (M: claude-code-acp sonnet, an alias the
# agent advertises; codex-acp gpt-5.5; opencode-acp and pi-acp mock/mock-model; gemini-acp
# gemini-2.5-pro):
#
#   run --output json "Say the word: W1"      exit 0, text "MOCK: …", error null, model == M,
#                                             sessionId, no warning about the model
#                                             and the agent's request for it (the one with tools)
#                                             reached the gateway with M (claude: the alias maps
#                                             to a full id, which a NOTE names)
#   run --output jsonl "Stream the word: W2"  the same; delta events join to the result's text
#   models --json                             lists the agent's models, M among them, `current`
#                                             one of them
#   run --deny-all / --approve-reads / --approve-all --output json "Create the marker file: Wn"
#                                             the gateway makes the model run `touch marker.txt`
#                                             (suite-common.sh hs_policy_runs): deny-all and
#                                             approve-reads never create the marker (the route
#                                             is refused, or the agent was held back or asked and
#                                             was denied), approve-all does; the result's policy
#                                             says how it was enforced. The other runs of a
#                                             route that can enforce no policy (pi-acp) pass
#                                             --approve-all
#   run --output jsonl "Answer slowly, please: W3"
#                                             the gateway streams 60 deltas 250 ms apart; SIGINT
#                                             1.5 s after the start (and at least 0.5 s after the
#                                             first delta): drover exits within 2 s with 130 and
#                                             error aborted, stopReason cancelled when the agent
#                                             answered the cancel (else a NOTE), and the partial
#                                             answer is in the jsonl output and the result
#   run --resume SESSION-OF-W1 --output json "Say the word: W7"
#                                             the answer, model == M, and the resumed request
#                                             carries W1; a NOTE names session/resume or load
#   run --file pixel.png --output json "Describe the image: W8"
#                                             a 16x16 PNG attached: nothing staged left in the
#                                             run's TMPDIR, the answer, the result's
#                                             attachments (delivery image when the agent
#                                             advertises promptCapabilities.image, else link),
#                                             the image block drover sent (MIME, bytes), and the
#                                             image in the model request at the gateway (its MIME
#                                             and byte count); the mock models of opencode and
#                                             pi are declared image-capable for this run
#   after each run no process of it is left   (check.py procs)
#   every --transcript file                   NDJSON {dir: in|out, msg}, no "sk-dummy" in it nor
#                                             in drover's output (the agent echoing it: a NOTE)
#
# Prints one PASS/FAIL line per check (NOTE lines are observations, SKIP lines routes that could
# not run), then `N passed, M failed`. Exit 0 all passed, 1 a check failed, 2 bad arguments,
# 77 skipped: the npm registry is unreachable and no agent is cached.
# Environment: DROVER_CACHE_DIR (see install-harnesses.sh), DROVER_HARNESS_TIMEOUT (seconds per
# drover run, default 60), DROVER_HARNESS_NO_NETNS=1 (plain loopback), DROVER_HARNESS_KEEP=1
# (keep the work directory), DROVER_HARNESS_PRESETS=DIR (DIR/*.json become user presets in each
# run's HOME, replacing built-ins of the same name).
set -euo pipefail

# The outer part (arguments, installation, a private drover copy, one network namespace per
# route, the tally) and the inner part's setup and runner are in suite-common.sh.
# shellcheck source=tests/harness_suite/suite-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/suite-common.sh"

all_routes=(claude-code-acp codex-acp opencode-acp pi-acp gemini-acp)
hs_workdir="drover-acp-suite"
hs_agent="ACP agent"
hs_agents=agents
hs_skipped="route(s)"
secret=sk-dummy  # the only key henv_configure hands out

# The route tables are scripts/harness-env.sh's.
route_harness() { henv_route_install "$1"; }
route_henv() { henv_route_config "$1"; }
route_model() { henv_route_model "$1"; }

# route -> the model the gateway must see ("" = any: claude's alias maps to an id of its own)
route_gateway_model() {
  case "$1" in
    codex-acp) echo gpt-5.5 ;;
    opencode-acp|pi-acp) echo mock-model ;;
    gemini-acp) echo gemini-2.5-pro ;;
    *) echo "" ;;
  esac
}

# route -> the policy flag of its runs other than the policy runs: routes whose preset enforces
# no policy are refused under the default (approve-reads)
route_run_policy() {
  case "$1" in
    pi-acp) echo --approve-all ;;
    *) echo "" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Inner part: one route, possibly inside a fresh network namespace. stdout: the check lines.
# ---------------------------------------------------------------------------------------------
# run_drover NAME ARGS...: drover run --route R --model M --transcript NAME.transcript.ndjson ARGS
# with the agent's environment in $work (hs_run_cmd); sets rc.
run_drover() {
  local name=$1
  shift
  transcripts+=("$root/$name.transcript.ndjson")
  local policy
  policy=$(route_run_policy "$route")
  case " $* " in *" --approve-all "*|*" --approve-reads "*|*" --deny-all "*) policy="" ;; esac
  hs_run_cmd "$name" run --route "$route" --model "$model" ${policy:+"$policy"} \
    --transcript "$root/$name.transcript.ndjson" "$@"
}

hs_inner() {
  script="$here/acp-gateway-script.json"
  hs_inner_begin "$1" "$script" "$(route_henv "$1")"
  model=$(route_model "$route")
  acheck=(python3 "$here/check_acp.py")
  transcripts=()

  # 1, 2: the answer, the model in the result and at the gateway.
  w1=$(word)
  run_drover json --output json "Say the word: $w1"
  json_end=$(date +%s)
  "${acheck[@]}" answer "$route" json "$rc" "$root/json.out" "$root/json.err" \
    "MOCK: Say the word: $w1" "$model"
  "${acheck[@]}" gateway-model "$route" "$root/gateway.log" "$w1" "$(route_gateway_model "$route")" \
    "$root/json.transcript.ndjson"
  session=$("${check[@]}" session "$root/json.out")

  # 3: streaming (the gateway sends this answer in 6 deltas 150 ms apart).
  w2=$(word)
  run_drover jsonl --output jsonl "Stream the word: $w2"
  "${acheck[@]}" stream "$route" "$rc" "$root/jsonl.out" "$root/jsonl.err" \
    "MOCK: Stream the word: $w2" "$model"

  # 6: the models the agent advertises.
  hs_run_cmd models models --route "$route" --json
  "${acheck[@]}" models "$route" "$rc" "$root/models.out" "$root/models.err" "$model"

  # 5: a shell tool call (touch marker.txt in the cwd) under each permission policy.
  hs_policy_runs run_drover "${acheck[@]}"
  # A refused run (the route cannot enforce the policy) starts no agent: it writes no transcript.
  local kept=() t
  for t in "${transcripts[@]}"; do
    case "$t" in */policy-*) [ -e "$t" ] || continue ;; esac
    kept+=("$t")
  done
  transcripts=("${kept[@]}")

  # 4: Ctrl-C mid-answer (the gateway streams this one over ~15 s).
  w3=$(word)
  transcripts+=("$root/cancel.transcript.ndjson")
  (cd "$work" && "${acheck[@]}" cancel "$route" "$root" "$script" "$HS_TIMEOUT" -- \
     "${hs_env[@]}" "$HS_DROVER" run --route "$route" --model "$model" $(route_run_policy "$route") \
     --transcript "$root/cancel.transcript.ndjson" --output jsonl "Answer slowly, please: $w3")
  hs_after_run

  # 7: resume the first session.
  if [ -z "$session" ]; then
    echo "FAIL $route: --resume: no session id from the json run to resume"
  else
    w7=$(word)
    if [ "$route" = gemini-acp ] && [ $(( $(date +%s) / 60 )) -eq $(( json_end / 60 )) ]; then
      # gemini names its session files after the minute of their creation, and a session/load
      # in that minute writes over the file, then fails. Not a drover matter: wait for the next.
      local wait=$(( (json_end / 60 + 1) * 60 - $(date +%s) + 1 ))
      echo "NOTE $route: --resume: waiting ${wait} s for a later clock minute (gemini cannot load a session in the minute it was made)"
      sleep "$wait"
    fi
    run_drover resume --output json --resume "$session" "Say the word: $w7"
    "${acheck[@]}" resume "$route" "$rc" "$root/resume.out" "$root/resume.err" \
      "MOCK: Say the word: $w7" "$model" "$w1" "$root/gateway.log" "$session" \
      "$root/resume.transcript.ndjson" "$root/json.out"
  fi

  # 10: an image attachment, as the agent's promptCapabilities allow.
  w8=$(word)
  "${acheck[@]}" make-png "$root/pixel.png"
  "${acheck[@]}" image-input "$route" "$home"
  run_drover image --output json --file "$root/pixel.png" "Describe the image: $w8"
  "${acheck[@]}" image "$route" "$rc" "$root/image.out" "$root/image.err" "$w8" "$root/pixel.png" \
    "$root/gateway.log" "$root/image.transcript.ndjson" "$tmp"

  # 9: the transcripts of every run.
  "${acheck[@]}" transcripts "$route" "$secret" "${transcripts[@]}"

  # Notes about the gateway traffic: which endpoints and models the agent used, and how the
  # cancelled stream ended (logged once the gateway noticed, so only now).
  "${acheck[@]}" gateway-notes "$route" "$root/gateway.log" "$w3"

  # 8: no process of any run left behind.
  hs_inner_end
}

hs_main "$@"
