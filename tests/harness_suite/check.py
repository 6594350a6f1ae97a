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
    check.py attachment-files DIR WORD           writes the files the attachment runs attach into
                                                 DIR: `release notes.txt` (naming the codeword
                                                 WORD), pixel.png, page.pdf, blob.bin
    check.py attachments ROUTE RUN RC OUT ERR GATEWAY_LOG PROMPT_WORD DELIVERY TMP DIR FILE:CATEGORY...
                                                 a run (RUN: its flags, for the checks' names)
                                                 with `--file FILE...` (in DIR): the result
                                                 reports each staged file, the model got the text
                                                 file's content and each image's bytes, the
                                                 gateway's log records the images, and nothing
                                                 staged is left in TMP
    check.py attachment-refused ROUTE RC OUT ERR GATEWAY_LOG PROMPT_WORD CATEGORY
                                                 a file of a category the route does not take is
                                                 refused before the harness starts
    check.py session OUT                         prints the result's sessionId (or nothing)
    check.py procs   ROUTE HOME CACHE_DIR LEFTOVER_FILE
                                                 processes left over by the run (see procs())
    check.py gateway-notes ROUTE GATEWAY_LOG
                                                 a NOTE: the gateway's requests, counted by
                                                 method, path and status
"""
import json
import os
import random
import re
import signal
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks_common import (  # noqa: E402
    emit, skip, note, diag, load_result, json_lines, gateway_entries, note_gateway_requests,
    exit0_json_result, json_result, jsonl_result, check_text_and_error, check_deltas,
    note_usage_growth, check_option_prompt, check_policy, run_command, inline_images)


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
        note(route, "workspace context: the harness sent the project file (AGENTS.md/CLAUDE.md/GEMINI.md) "
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
    if route in ("opencode-cli", "gemini-cli"):
        note(route, f"{run}: {route.split('-')[0]} has no switch to keep a run off disk; files "
                    f"with the prompt: {kept or 'none'}")
    else:
        emit(not kept, route, f"{run}: ephemeral: no file under HOME keeps the prompt",
             f"found in {kept}")
    left = [n for n in os.listdir(tmp) if n.startswith("drover-")]
    emit(not left, route, f"{run}: drover's clean directory is removed", f"left in TMPDIR: {left}")


def png_bytes(width, height, rgb):
    """A valid RGB PNG of one colour (harnesses decode images before sending them)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pdf_bytes(text):
    """A one-page PDF showing `text`."""
    stream = b"BT /F1 12 Tf 10 50 Td (" + text.encode() + b") Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


# The text attachment names its codeword so: the model must receive the file's content, not only
# its name or path.
CODEWORD = re.compile(r"The codeword is (\w+)\.")


def attachment_files(directory, word):
    with open(os.path.join(directory, "release notes.txt"), "w") as f:
        f.write(f"Release notes.\nThe codeword is {word}.\n")
    rgb = tuple(random.randrange(256) for _ in range(3))
    with open(os.path.join(directory, "pixel.png"), "wb") as f:
        f.write(png_bytes(8, 8, rgb))
    with open(os.path.join(directory, "page.pdf"), "wb") as f:
        f.write(pdf_bytes(word))
    with open(os.path.join(directory, "blob.bin"), "wb") as f:
        f.write(b"\x00\x01\x02\xff" + os.urandom(2048))


def run_entries(log, word):
    """The gateway's log entries of one run: those whose request body has the run's word (a
    harness's title request among them)."""
    return [e for e in json_lines(log) if word in json.dumps(e.get("request", ""))]


def cmd_attachments(route, run, rc, out, err, log, word, delivery, tmp, directory, *files):
    """A run (RUN: its flags, for the checks' names) with `--file` for each FILE:CATEGORY (paths
    relative to DIRECTORY, the workspace): the answer; the result's attachments (one per file:
    category, size, delivery); the text file's codeword in a request of the run (its content
    reached the model); each image's exact bytes in one (decoded from the request body) and in
    the gateway's record of the request's attachments (type image, MIME, byte count); no staged
    copy left in TMP."""
    res = exit0_json_result(route, run, rc, out, err)
    if res is None:
        return
    check_text_and_error(route, run, res, "MOCK: attachments received", out, err)
    expected = []
    for spec in files:
        name, category = spec.rsplit(":", 1)
        with open(os.path.join(directory, name), "rb") as f:
            expected.append((name, category, f.read()))
    reports = res.get("attachments") or []
    want = [{"source": n, "category": c, "bytes": len(b), "delivery": delivery}
            for n, c, b in expected]
    got = [{k: r.get(k) for k in ("source", "category", "bytes", "delivery")} for r in reports]
    emit(got == want, route, f"{run}: the result reports each file (category, size, delivery "
                             f"{delivery})", f"attachments {json.dumps(reports)}, expected {json.dumps(want)}",
         diag(out, err))
    names = [r.get("name") for r in reports]
    emit(all(isinstance(n, str) and n and "/" not in n and " " not in n for n in names), route,
         f"{run}: the staged names are sanitized", f"names {json.dumps(names)}")
    entries = run_entries(log, word)
    bodies = [json.dumps(e.get("request")) for e in entries]
    for name, category, data in expected:
        if category == "text":
            codeword = CODEWORD.search(data.decode()).group(1)
            emit(any(codeword in b for b in bodies), route,
                 f"{run}: the model receives the content of the text file {name!r}",
                 f"the codeword {codeword} is in none of the run's {len(entries)} request(s)",
                 [f"gateway log: {log}"] + diag(out, err))
        elif category == "image":
            images = [i for e in entries for i in inline_images(e.get("request"))]
            emit(("image/png", data) in images, route,
                 f"{run}: the model receives the image {name!r} (image/png, {len(data)} bytes)",
                 f"the run's {len(entries)} request(s) carry the images "
                 f"{[(m, len(b)) for m, b in images]}", [f"gateway log: {log}"] + diag(out, err))
            records = [a for e in entries for a in e.get("attachments") or []]
            emit(any(a.get("type") == "image" and a.get("mime") == "image/png"
                     and a.get("bytes") == len(data) for a in records), route,
                 f"{run}: the gateway's log records the image {name!r} (image/png, "
                 f"{len(data)} bytes)", f"recorded {json.dumps(records)}", [f"gateway log: {log}"])
    kinds = sorted({f"{a.get('part')} {a.get('mime')}" for e in entries for a in e.get("attachments") or []})
    note(route, f"{run}: {len(entries)} request(s) of the run; attachment parts {kinds or 'none recorded'}")
    left = [n for n in os.listdir(tmp) if n.startswith("drover-")]
    emit(not left, route, f"{run}: no staged copy is left", f"left in TMPDIR: {left}")


def cmd_attachment_refused(route, rc, out, err, log, word, category):
    """A file of a category the route does not take: refused with unsupported_capability (naming
    the category) before the harness starts, so no request reaches the model."""
    run = f"--file (category {category})"
    res = json_result(route, run, out, err)
    if res is None:
        return
    error = res.get("error") or {}
    emit(rc != "0" and error.get("code") == "unsupported_capability"
         and category in (error.get("message") or ""), route,
         f"{run}: refused with unsupported_capability naming the category",
         f"exit {rc}, error {json.dumps(error)}", diag(out, err))
    emit(res.get("process") is None and not run_entries(log, word), route,
         f"{run}: refused before the harness started", f"process {json.dumps(res.get('process'))}, "
         f"{len(run_entries(log, word))} request(s) reached the gateway", diag(out, err))


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
    "attachment-files": lambda a: attachment_files(*a[:2]),
    "attachments": lambda a: cmd_attachments(*a),
    "attachment-refused": lambda a: cmd_attachment_refused(*a[:7]),
    "session": lambda a: print_session(a[0]),
    "procs": lambda a: procs(*a[:4]),
    "gateway-notes": lambda a: note_gateway_requests(*a[:2]),
    "policy": lambda a: check_policy(*a[:7]),
}

if __name__ == "__main__":
    sys.exit(run_command("check.py", COMMANDS, sys.argv))
