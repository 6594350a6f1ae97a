#!/usr/bin/env bash
# The REAL harnesses (Claude Code, Codex, opencode, pi, Gemini CLI) driven through drover's
# built-in presets, offline, against drover's mock gateway:
#
#   tests/harness_suite/run.sh PATH/TO/drover [ROUTE...]
#
# ROUTEs (default: all): claude-cli codex-cli opencode-cli pi-cli pi-cli-text gemini-cli. For each
# route: installs the harness if needed (scripts/install-harnesses.sh, cached outside the repo),
# starts `drover mock-gateway` inside a fresh network namespace (`unshare -n`; plain loopback when that
# does not work, said so), gives the harness a throwaway HOME (XDG dirs, CODEX_HOME,
# PI_CODING_AGENT_DIR) configured for the gateway exactly like scripts/record-harnesses.sh (both
# use scripts/harness-env.sh), puts the harness's bin dir first on PATH and checks:
#
#   drover run --route R --output json  [--model M] "Say the word: W1"   exit 0, text "MOCK: ...",
#                                                   usage.outputTokens, sessionId, error null
#   drover run --route R --output jsonl [--model M] "Stream the word: W2"
#                                                   deltas join to the text; the gateway streams
#                                                   this answer in 6 deltas 150 ms apart, and a
#                                                   NOTE says whether drover's deltas followed
#   drover run --route R --output json --resume SESSION "Say the word: W3"
#                                                   exit 0, the answer, and the gateway saw W1 in
#                                                   the resumed request (the history came along)
#   drover run --route R --output json --resume UNKNOWN "Say the word: W4"
#                                                   fails (a dropped {session_id} would answer)
#   drover run --route R --output json -- PROMPT    for PROMPT --version, -p,
#                                                   --dangerously-skip-permissions and a Markdown
#                                                   list: exit 0, text "MOCK: PROMPT", error null,
#                                                   and a gateway request with PROMPT as its last
#                                                   user text (no prompt is a harness option);
#                                                   also --output jsonl -- --version (the streaming
#                                                   variant) and --resume SESSION -- -p
#   with AGENTS.md, CLAUDE.md and GEMINI.md naming a marker in the workspace:
#   drover run --route R --output json "Say the word: W5"                  (the control: a NOTE
#                                                   says whether the marker reached the model)
#   drover run --route R --output json --context clean "Say the word: W6"
#                                                   the answer; the marker is in no request of
#                                                   the run; sessionId null; no file under HOME
#                                                   has W6 (opencode, gemini: a NOTE, they
#                                                   cannot); no
#                                                   drover-* directory left in TMPDIR
#   drover run --route R --deny-all / --approve-reads / --approve-all --output json
#     "Create the marker file: Wn"                  the gateway makes the model run `touch
#                                                   marker.txt` (suite-common.sh hs_policy_runs):
#                                                   deny-all and approve-reads never create the
#                                                   marker, approve-all does; the result's policy
#                                                   says how the preset enforced it
#   drover run --route R --output json --file F... "Attachment check: W7"
#                                                   with a text file and a PNG (codex: the PNG
#                                                   only): exit 0, the answer, the result's
#                                                   attachments (category, size, delivery args,
#                                                   claude: prompt), the text file's content and
#                                                   the image's exact bytes in the model's request,
#                                                   the gateway's log records the image (type, MIME,
#                                                   bytes), no staged copy left in TMPDIR
#   drover run --route R --output json --context clean --file F "Attachment check: W8"
#                                                   the same for the first of those files, staged
#                                                   into the fresh directory (claude-cli goes
#                                                   without --bare then, which opens no @ mentions)
#   drover run --route R --output json --file F "Attachment check: W9"
#                                                   F of a category the route does not take (codex:
#                                                   text, pi: PDF, others: binary): refused with
#                                                   unsupported_capability, no harness started
#   after each run no process of it is left         (any process whose environment has the
#                                                   run's HOME; processes from the harness's cache
#                                                   dir that are not the run's only get a NOTE)
#
# pi-cli-text's plain-text output has no usage and no session id: those checks are SKIPped, and
# the id to resume is read from the session file pi wrote.
#
# Prints one PASS/FAIL line per check (NOTE lines are observations, SKIP lines checks a route
# cannot support), then `N passed, M failed`. Exit 0 all passed, 1 a check failed, 2 bad
# arguments, 77 skipped: the npm registry is unreachable and no harness is cached.
# Environment: DROVER_CACHE_DIR (see install-harnesses.sh), DROVER_HARNESS_TIMEOUT (seconds per
# drover run, default 60), DROVER_HARNESS_NO_NETNS=1 (plain loopback), DROVER_HARNESS_KEEP=1
# (keep the work directory), DROVER_HARNESS_PRESETS=DIR (copy DIR/*.json into each run's
# $HOME/.config/drover/presets: user presets replace built-ins of the same name, so a preset
# change can be tried without rebuilding drover).
set -euo pipefail

# The outer part (arguments, installation, a private drover copy, one network namespace per
# route, the tally) and the inner part's setup and runner are in suite-common.sh.
# shellcheck source=tests/harness_suite/suite-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/suite-common.sh"

all_routes=(claude-cli codex-cli opencode-cli pi-cli pi-cli-text gemini-cli)
hs_workdir="drover-harness-suite"
hs_agent=harness
hs_agents=harnesses
hs_skipped="check(s)"

# The route tables are scripts/harness-env.sh's (for these routes the install name is also
# henv_configure's).
route_harness() { henv_route_install "$1"; }

# route -> the --model it needs (none for claude: the preset has no default and claude picks one)
route_model() { henv_route_model "$1"; }

# ---------------------------------------------------------------------------------------------
# Inner part: one route, possibly inside a fresh network namespace. stdout: the check lines.
# ---------------------------------------------------------------------------------------------
# run_drover NAME ARGS...: drover run --route R [--model M] ARGS with the harness's environment in
# $work (hs_run_cmd); sets rc.
run_drover() {
  local name=$1
  shift
  local args=(run --route "$route")
  [ -z "$model" ] || args+=(--model "$model")
  hs_run_cmd "$name" "${args[@]}" "$@"
}

# The files a route is given (FILE:CATEGORY, made by `check.py attachment-files` in the
# workspace), how the preset passes them, and a file of a category it refuses.
attachment_runs() {
  local files=("release notes.txt:text" pixel.png:image) refused=blob.bin:other delivery=args
  local args=() f w
  case "$route" in
    codex-cli) files=(pixel.png:image) refused="release notes.txt:text" ;;
    claude-cli|gemini-cli) delivery=prompt ;;
    pi-cli|pi-cli-text) refused=page.pdf:document ;;
  esac
  "${check[@]}" attachment-files "$work" "$(word)"
  for f in "${files[@]}"; do args+=(--file "${f%:*}"); done
  w=$(word)
  run_drover attachments --output json "${args[@]}" "Attachment check: $w"
  "${check[@]}" attachments "$route" --file "$rc" "$root/attachments.out" "$root/attachments.err" \
    "$root/gateway.log" "$w" "$delivery" "$tmp" "$work" "${files[@]}"
  # Clean context: staged into the run's fresh directory (the harness's cwd) instead (claude-cli
  # then goes without --bare, which would leave the @ mentions unopened).
  w=$(word)
  run_drover attachments-clean --output json --context clean --file "${files[0]%:*}" \
    "Attachment check: $w"
  "${check[@]}" attachments "$route" "--context clean --file" "$rc" "$root/attachments-clean.out" \
    "$root/attachments-clean.err" "$root/gateway.log" "$w" "$delivery" "$tmp" "$work" "${files[0]}"
  w=$(word)
  run_drover attachment-refused --output json --file "${refused%:*}" "Attachment check: $w"
  "${check[@]}" attachment-refused "$route" "$rc" "$root/attachment-refused.out" \
    "$root/attachment-refused.err" "$root/gateway.log" "$w" "${refused##*:}"
  rm -f "$work/release notes.txt" "$work/pixel.png" "$work/page.pdf" "$work/blob.bin"
}

hs_inner() {
  hs_inner_begin "$1" "$here/gateway-script.json" "$(route_harness "$1")"
  model=$(route_model "$route")

  w1=$(word); w2=$(word); w3=$(word); w4=$(word)
  # pi's plain-text output carries neither usage nor a session id.
  caps=""
  [ "$route" != pi-cli-text ] || caps="nousage,nosession"

  run_drover json --output json "Say the word: $w1"
  "${check[@]}" json "$route" "$rc" "$root/json.out" "$root/json.err" "MOCK: Say the word: $w1" "$caps"
  session=$("${check[@]}" session "$root/json.out")
  if [ "$route" = pi-cli-text ]; then
    # The id is in the session file pi wrote for the json run (first line: {"type":"session","id":…}).
    session=$(grep -l -r -F "$w1" "$home/.pi/agent/sessions" 2>/dev/null | head -1 |
              xargs -r head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin).get("id",""))' 2>/dev/null || true)
    echo "NOTE $route: the session id to resume comes from pi's session file: ${session:-none found}"
  fi

  # The gateway sends this answer in 6 deltas 150 ms apart (gateway-script.json).
  run_drover jsonl --output jsonl "Stream the word: $w2"
  "${check[@]}" jsonl "$route" "$rc" "$root/jsonl.out" "$root/jsonl.err" "MOCK: Stream the word: $w2"

  if [ -z "$session" ]; then
    echo "FAIL $route: --resume: no session id from the json run to resume"
  else
    run_drover resume --output json --resume "$session" "Say the word: $w3"
    "${check[@]}" resume "$route" "$rc" "$root/resume.out" "$root/resume.err" \
      "MOCK: Say the word: $w3" "$w1" "$root/gateway.log" "$session" "$root/json.out"
  fi

  # A session id no harness made: the run must fail, not answer from a fresh session.
  unknown=$(python3 -c 'import uuid; print(uuid.uuid4())')
  [ "$route" != opencode-cli ] || unknown="ses_${unknown//-/}"
  run_drover resume-unknown --output json --resume "$unknown" "Say the word: $w4"
  "${check[@]}" resume-unknown "$route" "$rc" "$root/resume-unknown.out" "$root/resume-unknown.err" \
    "MOCK: Say the word: $w4"

  # Prompts that look like the harness's own options are answered like any other prompt.
  hs_option_prompts run_drover "$session"

  # Context: a project file in the workspace names a marker. A workspace run may send it to the
  # model (the control); a clean run must not, must keep no session and must leave no directory.
  marker="M$(word)"
  for f in AGENTS.md CLAUDE.md GEMINI.md; do
    printf 'Project notes. The project codename is %s.\n' "$marker" >"$work/$f"
  done
  w5=$(word); w6=$(word)
  run_drover workspace-context --output json "Say the word: $w5"
  run_drover clean-context --output json --context clean "Say the word: $w6"
  "${check[@]}" context "$route" "$root/gateway.log" "$marker" "$w5" "$w6" \
    "$root/clean-context.out" "$root/clean-context.err" "$home" "$tmp"
  rm -f "$work/AGENTS.md" "$work/CLAUDE.md" "$work/GEMINI.md"

  # A shell tool call (touch marker.txt in the cwd) under each permission policy.
  hs_policy_runs run_drover "${check[@]}"

  # Attachments (--file), and one of a category the route does not take.
  attachment_runs

  # Notes about the gateway traffic: which endpoints the harness used.
  "${check[@]}" gateway-notes "$route" "$root/gateway.log"

  hs_inner_end
}

hs_main "$@"
