#!/usr/bin/env python3
"""Assertions for tests/harness_suite/run.sh. Every check prints one line to stdout:

    PASS <route>: <check>
    FAIL <route>: <check>: <why>
    SKIP <route>: <check>: <why the route cannot support it>
    NOTE <route>: <observation>          (not a check)

followed, for failures, by indented `  | ` detail lines. run.sh (and acp.sh, which uses this file
for `session` and `procs`) counts the PASS/FAIL lines. The output helpers, the checks shared with
check_acp.py and the command dispatch are in checks_common.py.

    check.py json    ROUTE RC OUT ERR EXPECTED_TEXT [CAPS]   CAPS: nousage,nosession
    check.py jsonl   ROUTE RC OUT ERR EXPECTED_TEXT
    check.py resume  ROUTE RC OUT ERR EXPECTED_TEXT FIRST_WORD GATEWAY_LOG FIRST_SESSION FIRST_OUT
    check.py resume-unknown ROUTE RC OUT ERR EXPECTED_TEXT
    check.py context ROUTE GATEWAY_LOG MARKER WORKSPACE_WORD CLEAN_WORD CLEAN_OUT CLEAN_ERR HOME TMP
    check.py option-prompt ROUTE RC OUT ERR PROMPT GATEWAY_LOG [OUTPUT [FLAGS]]
                                                 a prompt that looks like an option is answered
                                                 like any other and reaches the model as is
                                                 (OUTPUT json or jsonl; FLAGS: the run's other
                                                 drover flags, for the check's name)
    check.py session OUT                         prints the result's sessionId (or nothing)
    check.py procs   ROUTE HOME CACHE_DIR LEFTOVER_FILE
                                                 processes left over by the run (see procs())
    check.py gateway-notes ROUTE GATEWAY_LOG
                                                 a NOTE: the gateway's requests, counted by
                                                 method, path and status
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks_common import (  # noqa: E402
    emit, skip, note, diag, load_result, json_lines, gateway_entries, note_gateway_requests,
    exit0_json_result, jsonl_result, check_text_and_error, check_deltas, note_usage_growth,
    check_option_prompt, run_command)


def cmd_json(route, rc, out, err, expected, caps=""):
    """caps: comma-separated things the route cannot report: nousage, nosession."""
    caps = set(filter(None, caps.split(",")))
    run = "--output json"
    res = exit0_json_result(route, run, rc, out, err)
    if res is None:
        return
    check_text_and_error(route, run, res, expected, out, err)
    usage = res.get("usage")
    if "nousage" in caps:
        skip(route, f"{run}: usage.outputTokens present: the route's output has no usage "
                    f"(usage is {json.dumps(usage)})")
    else:
        ok = isinstance(usage, dict) and isinstance(usage.get("outputTokens"), (int, float)) \
            and not isinstance(usage.get("outputTokens"), bool)
        emit(ok, route, f"{run}: usage.outputTokens present",
             f"usage is {json.dumps(usage)}", diag(out, err))
    sid = res.get("sessionId")
    if "nosession" in caps:
        skip(route, f"{run}: sessionId non-empty: the route's output has no session id "
                    f"(sessionId is {json.dumps(sid)})")
    else:
        emit(isinstance(sid, str) and sid != "", route, f"{run}: sessionId non-empty",
             f"sessionId is {json.dumps(sid)}", diag(out, err))
    if res.get("warnings"):
        note(route, f"{run}: warnings {json.dumps(res['warnings'])}")


def cmd_jsonl(route, rc, out, err, expected):
    run = "--output jsonl"
    got = jsonl_result(route, run, rc, out, err, lambda events: "last event type "
                       f"{json.dumps(events[-1].get('type')) if events else 'none'}")
    if got is None:
        return
    events, res = got
    check_text_and_error(route, run, res, expected, out, err)
    deltas = check_deltas(route, run, events, res, out, err)
    # Streamed means the first delta came before the harness exited (timings are from drover's
    # own result: timings.firstDeltaMs against process.wallMs).
    first = (res.get("timings") or {}).get("firstDeltaMs")
    wall = (res.get("process") or {}).get("wallMs")
    kinds = sorted({str(e.get("type")) for e in events})
    if isinstance(first, (int, float)) and isinstance(wall, (int, float)):
        # The gateway sent the answer in 6 deltas 150 ms apart (gateway-script.json).
        if len(deltas) > 1 and first < wall:
            how = "streams: the answer came in several deltas while the harness ran"
        elif first < wall:
            how = "does NOT stream token deltas: the whole answer came as one delta, before the harness exited"
        else:
            how = "does NOT stream: the answer came only after the harness exited"
        note(route, f"{run}: {how} ({len(deltas)} delta event(s), first at {first:.0f} ms, "
                    f"harness exit at {wall:.0f} ms; event types {kinds})")
    else:
        note(route, f"{run}: {len(deltas)} delta event(s); no timings to tell whether it streamed; "
                    f"event types {kinds}")


def cmd_resume(route, rc, out, err, expected, first_word, gateway_log, first_session,
               first_out):
    run = "--resume"
    res = exit0_json_result(route, run, rc, out, err)
    if res is None:
        return
    check_text_and_error(route, run, res, expected, out, err)
    # The resumed turn must reach the model with the first turn in its history.
    carried = None
    seen = 0
    try:
        for entry in json_lines(gateway_log, strict=True):
            request = json.dumps(entry.get("request", ""))
            if expected[len("MOCK: "):] in request:
                seen += 1
                if first_word in request:
                    carried = True
                elif carried is None:
                    carried = False
    except OSError as e:
        carried = None
        seen = f"<{e}>"
    emit(carried is True, route, f"{run}: the resumed request carries the first turn",
         f"{seen} gateway request(s) with the new prompt, none containing {first_word!r}",
         [f"gateway log: {gateway_log}"])
    sid = res.get("sessionId")
    if sid != first_session:
        note(route, f"{run}: sessionId changed from {first_session!r} to {sid!r}")
    note_usage_growth(route, run, first_out, res,
                      "the harness seems to report the whole session's total, not this turn's")


def cmd_resume_unknown(route, rc, out, err, expected):
    """--resume with a session id the harness never made must fail, not quietly answer from a
    fresh session (which would hide a preset that drops {session_id})."""
    run = "--resume UNKNOWN-ID"
    try:
        res = load_result(out)
    except (ValueError, OSError):
        res = {}
    answered = res.get("text") == expected
    emit(rc != "0" and not answered and res.get("error") is not None, route,
         f"{run}: fails (is not silently a fresh session)",
         f"exit {rc}, text {json.dumps(res.get('text'))}, error {json.dumps(res.get('error'))}",
         diag(out, err))
    if res.get("error"):
        note(route, f"{run}: error {json.dumps(res['error'])[:300]}")


def procs(route, home, cache_dir, leftover_file):
    """Processes of this run still alive: any whose environment has the run's HOME (only the
    drover runs get that HOME, and harnesses pass it on to what they start). They are appended to
    LEFTOVER_FILE and killed (SIGKILL), so the next run starts clean. Processes whose command line
    contains the harness's cache dir but whose environment is not this run's (another suite or a
    recording at the same time) only get a NOTE."""
    ours, others = [], []
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
            except OSError:
                environ = []
        except OSError:
            continue
        if not cmdline:
            continue  # a zombie or kernel thread
        if any(home.encode() in v for v in environ):
            ours.append((int(pid), cmdline))
        elif cache_dir in cmdline:
            others.append((int(pid), cmdline))
    for pid, cmd in others:
        note(route, f"ignored process {pid} from the cache dir that is not this run's: {cmd[:200]}")
    if ours:
        with open(leftover_file, "a") as f:
            for pid, cmd in ours:
                f.write(f"{pid} {cmd[:300]}\n")
        for pid, _ in ours:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.2)
    return 0


def requests_with(log, word):
    """The logged request bodies (gateway --verbose) of the requests whose prompt has `word`."""
    return [json.dumps(e.get("request")) for e in gateway_entries(log, word)]


def cmd_context(route, log, marker, workspace_word, clean_word, clean_out, clean_err, home, tmp):
    """--context clean: the project file in the workspace (its MARKER) must not reach the model,
    nothing may keep the session (ephemeral), and drover's clean directory must be gone."""
    run = "--context clean"
    try:
        res = load_result(clean_out)
    except (ValueError, OSError):
        res = {}
    check_text_and_error(route, run, res, f"MOCK: Say the word: {clean_word}", clean_out, clean_err)
    workspace = requests_with(log, workspace_word)
    clean = requests_with(log, clean_word)
    if any(marker in b for b in workspace):
        note(route, "workspace context: the harness sent the project file (AGENTS.md/CLAUDE.md) "
                    "to the model, so the clean check below is meaningful")
    else:
        note(route, "workspace context: the harness did not send the project file to the model "
                    f"({len(workspace)} request(s) seen): the clean check cannot tell much")
    emit(bool(clean) and not any(marker in b for b in clean), route,
         f"{run}: the workspace's project file does not reach the model",
         f"{len(clean)} request(s) for the run, marker present in "
         f"{sum(marker in b for b in clean)}", diag(clean_out, clean_err))
    emit(res.get("sessionId") is None, route, f"{run}: ephemeral: the result has no sessionId",
         f"sessionId is {json.dumps(res.get('sessionId'))}", diag(clean_out, clean_err))
    kept = []
    for root, _dirs, files in os.walk(home):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    if clean_word.encode() in f.read():
                        kept.append(os.path.relpath(path, home))
            except OSError:
                pass
    if route == "opencode-cli":
        note(route, f"{run}: opencode has no switch to keep a run off disk; files with the "
                    f"prompt: {kept or 'none'}")
    else:
        emit(not kept, route, f"{run}: ephemeral: no file under HOME keeps the prompt",
             f"found in {kept}")
    left = [n for n in os.listdir(tmp) if n.startswith("drover-")]
    emit(not left, route, f"{run}: drover's clean directory is removed", f"left in TMPDIR: {left}")


def print_session(out):
    try:
        sid = load_result(out).get("sessionId")
    except (ValueError, OSError, AttributeError):
        sid = None
    if isinstance(sid, str):
        print(sid)


COMMANDS = {
    "json": lambda a: cmd_json(*a[:6]),
    "jsonl": lambda a: cmd_jsonl(*a[:5]),
    "resume": lambda a: cmd_resume(*a[:9]),
    "resume-unknown": lambda a: cmd_resume_unknown(*a[:5]),
    "context": lambda a: cmd_context(*a[:9]),
    "option-prompt": lambda a: check_option_prompt(*a[:8]),
    "session": lambda a: print_session(a[0]),
    "procs": lambda a: procs(*a[:4]),
    "gateway-notes": lambda a: note_gateway_requests(*a[:2]),
}

if __name__ == "__main__":
    sys.exit(run_command("check.py", COMMANDS, sys.argv))
