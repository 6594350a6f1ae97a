#!/usr/bin/env python3
"""Assertions for tests/harness_suite/acp.sh (the ACP agents). Same output as check.py, through
the helpers both import from checks_common.py: one `PASS`/`FAIL <route>: <check>` line per check,
`NOTE` observations, `  | ` detail lines under failures.

    check_acp.py answer  ROUTE NAME RC OUT ERR EXPECTED_TEXT MODEL
                         a --output json run: exit 0, the text, error null, the model, a
                         sessionId, no warning about the model
    check_acp.py stream  ROUTE RC OUT ERR EXPECTED_TEXT MODEL
                         a --output jsonl run: the same, and the deltas join to the text
    check_acp.py gateway-model ROUTE GATEWAY_LOG WORD GATEWAY_MODEL [TRANSCRIPT]
                         the agent's main request for WORD's prompt (the one with tools) reached
                         the gateway with GATEWAY_MODEL ("" = any model: NOTE which); a NOTE
                         says how drover selected the model (from the run's transcript)
    check_acp.py cancel  ROUTE DIR GATEWAY_SCRIPT TIMEOUT -- CMD...
                         runs CMD (drover run --output jsonl … "Answer slowly …") in the current
                         directory, SIGINT 1.5 s after the start (at least 0.5 s after the first
                         delta), and checks the exit (within 2 s, 130, error aborted), stopReason
                         and the partial text. Writes DIR/cancel.{out,err,cmd.txt}
    check_acp.py tool    ROUTE POLICY RC OUT ERR MARKER EXPECTED_TEXT MUST_ASK
                         a tool run under --approve-all / --approve-reads / --deny-all; MUST_ASK
                         1: the agent asks for permission before running a shell command
    check_acp.py models  ROUTE RC OUT ERR MODEL
                         drover models --route R --json
    check_acp.py resume  ROUTE RC OUT ERR EXPECTED_TEXT MODEL FIRST_WORD GATEWAY_LOG
                         FIRST_SESSION TRANSCRIPT [FIRST_OUT]
    check_acp.py transcripts ROUTE SECRET FILE...
                         every --transcript FILE is NDJSON with dir in/out and has no SECRET;
                         the runs' stdout/stderr (FILE.out / FILE.err next to it) neither
    check_acp.py make-png FILE
                         writes a 16x16 PNG to FILE (the image attachment)
    check_acp.py image-input ROUTE HOME
                         declares the mock model image-capable in HOME's config where the agent
                         needs that (opencode: modalities, pi: input), so it sends images on
    check_acp.py image   ROUTE RC OUT ERR WORD PNG GATEWAY_LOG TRANSCRIPT TMPDIR
                         a --file PNG --output json run: nothing staged is left in TMPDIR (the
                         run's $TMPDIR, where drover stages), the answer; when the agent advertises
                         promptCapabilities.image (the transcript's initialize answer) the result
                         reports the attachment delivered as `image`, the session/prompt drover
                         sent holds an image block with its MIME type and bytes, and the agent's
                         model request for WORD at the gateway carries the image (MIME, bytes:
                         the log's `attachments` where the gateway records them, else the body);
                         otherwise delivery `link` and a NOTE
    check_acp.py gateway-notes ROUTE GATEWAY_LOG CANCEL_WORD
                         NOTEs: how the cancelled run's slow stream ended at the gateway, and
                         the gateway's requests by endpoint and model
"""
import base64
import json
import os
import signal
import subprocess
import sys
import struct
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks_common import (  # noqa: E402
    emit, note, diag, json_lines, load_jsonl, gateway_entries, note_gateway_requests, check_exit0,
    json_result, exit0_json_result, jsonl_result, check_text_and_error, check_deltas,
    note_usage_growth, check_policy, run_command, inline_images)


def model_warnings(res):
    return [w for w in (res.get("warnings") or []) if "model" in str(w).lower()]


def result_checks(route, run, res, expected, model, out, err, session=True):
    check_text_and_error(route, run, res, expected, out, err)
    emit(res.get("model") == model, route, f"{run}: model == {json.dumps(model)}",
         f"model is {json.dumps(res.get('model'))}", diag(out, err))
    warned = model_warnings(res)
    emit(not warned, route, f"{run}: no warning about the model",
         f"warnings {json.dumps(warned)}", diag(out, err))
    if session:
        sid = res.get("sessionId")
        emit(isinstance(sid, str) and sid != "", route, f"{run}: sessionId non-empty",
             f"sessionId is {json.dumps(sid)}", diag(out, err))
    other = [w for w in (res.get("warnings") or []) if w not in warned]
    if other:
        note(route, f"{run}: warnings {json.dumps(other)[:400]}")
    note(route, f"{run}: stopReason {json.dumps(res.get('stopReason'))}, "
                f"usage {json.dumps(res.get('usage'))[:200]}")


def cmd_answer(route, name, rc, out, err, expected, model):
    run = f"{name} (--output json)"
    res = exit0_json_result(route, run, rc, out, err)
    if res is not None:
        result_checks(route, run, res, expected, model, out, err)


def cmd_stream(route, rc, out, err, expected, model):
    run = "--output jsonl"
    got = jsonl_result(route, run, rc, out, err, lambda events:
                       f"last event {json.dumps(events[-1] if events else None)[:200]}")
    if got is None:
        return
    events, res = got
    result_checks(route, run, res, expected, model, out, err, session=False)
    deltas = check_deltas(route, run, events, res, out, err)
    first = (res.get("timings") or {}).get("firstDeltaMs")
    wall = (res.get("timings") or {}).get("wallMs")
    kinds = sorted({str(e.get("type")) for e in events})
    note(route, f"{run}: {len(deltas)} delta event(s) (the gateway sent 6, 150 ms apart), first "
                f"at {first} ms of {wall} ms; event types {kinds}")


def has_tools(entry):
    req = entry.get("request")
    return isinstance(req, dict) and bool(req.get("tools"))


def model_selection(transcript):
    """How drover chose the model in a run, from its transcript: the method and value sent, and
    the agent's current model before that."""
    msgs = json_lines(transcript)
    before = None
    for m in msgs:
        msg = m.get("msg")
        if not isinstance(msg, dict):
            continue
        result = msg.get("result")
        if m.get("dir") == "in" and isinstance(result, dict) and before is None:
            for o in result.get("configOptions") or []:
                if isinstance(o, dict) and (o.get("id") == "model" or o.get("category") == "model"):
                    before = o.get("currentValue")
        if m.get("dir") == "out" and msg.get("method") in ("session/set_config_option",
                                                          "session/set_model"):
            p = msg.get("params") or {}
            return f"{msg['method']} {json.dumps(p.get('value', p.get('modelId')))} " \
                   f"(the agent's current model was {json.dumps(before)})"
    return f"no session/set_config_option or session/set_model sent (current {json.dumps(before)})"


def cmd_gateway_model(route, log, word, gateway_model, transcript=""):
    what = "model selection: the prompt's request reached the gateway"
    entries = gateway_entries(log, word)
    main = [e for e in entries if has_tools(e)]
    models = sorted({str(e.get("model")) for e in main})
    others = sorted({str(e.get("model")) for e in entries if not has_tools(e)})
    if gateway_model:
        emit(bool(main) and models == [gateway_model], route,
             f"{what} with model {gateway_model}",
             f"{len(main)} request(s) with tools for the prompt, models {models}",
             [f"gateway log: {log}"])
    else:
        emit(bool(main), route, what, f"no request with tools for the prompt ({len(entries)} in all)",
             [f"gateway log: {log}"])
        note(route, f"model selection: the gateway saw model(s) {models} for the prompt")
    if transcript:
        note(route, f"model selection: drover sent {model_selection(transcript)}")
    if others:
        note(route, f"model selection: requests without tools for the prompt used {others}")


def cmd_cancel(route, directory, script, timeout, cmd):
    """Runs drover, interrupts it mid-answer with SIGINT and checks how it ended."""
    timeout = float(timeout)
    out_path = os.path.join(directory, "cancel.out")
    err_path = os.path.join(directory, "cancel.err")
    with open(os.path.join(directory, "cancel.cmd.txt"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    full = ""
    try:
        with open(script) as f:
            for rule in json.load(f).get("rules", []):
                if "slowly" in json.dumps(rule.get("match", {})):
                    full = rule["respond"]["text"]
    except (OSError, ValueError, KeyError):
        pass

    first_delta = threading.Event()
    stamps = {}
    start = time.monotonic()
    err_file = open(err_path, "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def reader():
        with open(out_path, "wb") as out:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                if not first_delta.is_set() and b'"type":"delta"' in line.replace(b" ", b""):
                    stamps["first_delta"] = time.monotonic() - start
                    first_delta.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    # Wait for the answer to start streaming (or for drover to end on its own).
    deadline = start + min(timeout, 60)
    while not first_delta.is_set() and proc.poll() is None and time.monotonic() < deadline:
        first_delta.wait(0.05)
    early_exit = proc.poll()
    sigint_at = None
    exit_after = None
    if early_exit is None:
        at = start + 1.5
        if "first_delta" in stamps:
            at = max(at, start + stamps["first_delta"] + 0.5)
        time.sleep(max(0.0, at - time.monotonic()))
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            sigint_at = time.monotonic() - start
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()  # the drover process this runner started
                proc.wait()
            exit_after = time.monotonic() - start - sigint_at
    else:
        proc.wait()
    t.join(5)
    err_file.close()
    rc = proc.returncode

    run = "cancel (SIGINT mid-answer)"
    if sigint_at is None:
        emit(False, route, f"{run}: drover is still answering when interrupted",
             f"drover exited with {rc} before the SIGINT "
             f"(first delta {'at %.2f s' % stamps['first_delta'] if 'first_delta' in stamps else 'never'})",
             diag(out_path, err_path))
        return
    note(route, f"{run}: first delta at {stamps.get('first_delta', float('nan')):.2f} s, SIGINT at "
                f"{sigint_at:.2f} s, drover exited {exit_after:.2f} s later with {rc}")
    emit(exit_after <= 2.0, route, f"{run}: drover exits within 2 s of the SIGINT",
         f"it took {exit_after:.2f} s", diag(out_path, err_path))
    emit(rc == 130, route, f"{run}: exit code 130", f"exit {rc}", diag(out_path, err_path))
    events, bad = load_jsonl(out_path)
    res = events[-1] if events and events[-1].get("type") == "result" else None
    if not emit(res is not None and not bad, route, f"{run}: the jsonl output ends with a result",
                "; ".join(bad) or "no result event", diag(out_path, err_path)):
        return
    code = (res.get("error") or {}).get("code")
    emit(code == "aborted", route, f"{run}: error code aborted",
         f"error is {json.dumps(res.get('error'))}", diag(out_path, err_path))
    # Did the agent answer the cancel? (the transcript: session/prompt's response)
    transcript = None
    for i, a in enumerate(cmd):
        if a == "--transcript" and i + 1 < len(cmd):
            transcript = cmd[i + 1]
    agent_reason = prompt_stop_reason(transcript)
    reason = res.get("stopReason")
    if agent_reason == "cancelled":
        emit(reason == "cancelled", route,
             f"{run}: stopReason cancelled (the agent answered the cancel)",
             f"stopReason is {json.dumps(reason)} although the agent answered session/prompt with "
             f"stopReason cancelled", diag(out_path, err_path))
    else:
        note(route, f"{run}: the agent did not answer the cancel with stopReason cancelled before "
                    f"drover stopped it (session/prompt answered: {json.dumps(agent_reason)}); "
                    f"the result's stopReason is {json.dumps(reason)}")
    deltas = "".join(str(e.get("text", "")) for e in events if e.get("type") == "delta")
    emit(deltas != "" and (not full or full.startswith(deltas)) and deltas != full, route,
         f"{run}: the partial answer streamed so far is in the jsonl output",
         f"deltas join to {json.dumps(deltas)} (the whole answer: {json.dumps(full)})",
         diag(out_path, err_path))
    emit(res.get("text") == deltas, route, f"{run}: the result's text is the partial answer",
         f"text {json.dumps(res.get('text'))}, deltas {json.dumps(deltas)}",
         diag(out_path, err_path))


def prompt_stop_reason(path):
    """The stopReason of the agent's answer to session/prompt in a transcript, or None."""
    msgs = json_lines(path)
    ids = {json.dumps(m["msg"].get("id")) for m in msgs
           if m.get("dir") == "out" and isinstance(m.get("msg"), dict)
           and m["msg"].get("method") == "session/prompt"}
    for m in msgs:
        msg = m.get("msg")
        if m.get("dir") == "in" and isinstance(msg, dict) and "method" not in msg \
                and json.dumps(msg.get("id")) in ids:
            result = msg.get("result")
            if isinstance(result, dict):
                return result.get("stopReason")
            return f"error {json.dumps(msg.get('error'))[:200]}"
    return None


def cmd_models(route, rc, out, err, model):
    run = "drover models --json"
    check_exit0(route, run, rc, out, err)
    rep = json_result(route, run, out, err, "stdout is JSON")
    if rep is None:
        return
    ids = [m.get("id") for m in rep.get("models") or [] if isinstance(m, dict)]
    emit(rep.get("error") is None and bool(ids), route, f"{run}: lists the agent's models",
         f"{len(ids)} model(s), error {json.dumps(rep.get('error'))}", diag(out, err))
    emit(model in ids, route, f"{run}: includes {model}", f"models {ids}", diag(out, err))
    current = rep.get("current")
    emit(isinstance(current, str) and current in ids, route,
         f"{run}: marks the current model", f"current is {json.dumps(current)}, models {ids}",
         diag(out, err))
    note(route, f"{run}: {len(ids)} model(s), current {json.dumps(current)}, source "
                f"{json.dumps(rep.get('source'))}: {', '.join(map(str, ids))[:300]}")
    if rep.get("warnings"):
        note(route, f"{run}: warnings {json.dumps(rep['warnings'])[:300]}")


def cmd_resume(route, rc, out, err, expected, model, first_word, log, first_session, transcript,
               first_out=""):
    run = "--resume"
    res = exit0_json_result(route, run, rc, out, err)
    if res is None:
        return
    result_checks(route, run, res, expected, model, out, err, session=False)
    word = expected.split()[-1]
    bodies = [json.dumps(e.get("request")) for e in gateway_entries(log, word) if has_tools(e)]
    emit(any(first_word in b for b in bodies), route,
         f"{run}: the resumed request carries the first turn",
         f"{len(bodies)} request(s) with tools for the new prompt, none containing {first_word!r}",
         [f"gateway log: {log}"])
    if res.get("sessionId") != first_session:
        note(route, f"{run}: sessionId changed from {first_session!r} to {res.get('sessionId')!r}")
    note_usage_growth(route, run, first_out, res,
                      "the result carries the session's cumulative figure, not this turn's")
    methods = [m["msg"].get("method") for m in json_lines(transcript)
               if m.get("dir") == "out" and isinstance(m.get("msg"), dict)
               and m["msg"].get("method") in ("session/resume", "session/load", "session/new")]
    note(route, f"{run}: the session was opened with {', '.join(methods) or 'nothing seen'} "
                f"(from the transcript)")


def find_secret(value, secret, path="$"):
    """JSON paths in `value` whose string contains `secret`."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            found += find_secret(v, secret, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += find_secret(v, secret, f"{path}[{i}]")
    elif isinstance(value, str) and secret in value:
        found.append(path)
    return found


def cmd_transcripts(route, secret, files):
    what = "--transcript: every run's file is NDJSON {dir: in|out, msg}"
    problems = []
    echoed = []
    for path in files:
        name = os.path.basename(path)
        if not os.path.exists(path):
            problems.append(f"{name}: not written")
            continue
        dirs = set()
        with open(path, "r", errors="replace") as f:
            lines = f.read().splitlines()
        if not lines:
            problems.append(f"{name}: empty")
        for n, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except ValueError as e:
                problems.append(f"{name}:{n}: not JSON: {e}")
                continue
            if not isinstance(entry, dict) or entry.get("dir") not in ("in", "out") or \
                    not ("msg" in entry or "raw" in entry):
                problems.append(f"{name}:{n}: no dir in/out with msg or raw: {line[:200]}")
                continue
            dirs.add(entry["dir"])
            if secret in line:
                paths = find_secret(entry, secret)
                if entry["dir"] == "in":
                    echoed.append(f"{name}:{n}: {', '.join(paths)[:300]}")
                else:
                    problems.append(f"{name}:{n}: drover wrote {secret!r} to the agent and the "
                                    f"transcript kept it at {', '.join(paths)[:300]}")
        if lines and dirs != {"in", "out"}:
            problems.append(f"{name}: directions seen: {sorted(dirs)}")
    shape = [p for p in problems if secret not in p]
    emit(not shape, route, what, f"{len(shape)} problem(s)", shape)
    leaked = [p for p in problems if secret in p]
    for base in files:
        stem = base[: -len(".transcript.ndjson")] if base.endswith(".transcript.ndjson") else base
        for suffix in (".out", ".err"):
            p = stem + suffix
            try:
                with open(p, "r", errors="replace") as f:
                    if secret in f.read():
                        leaked.append(f"{os.path.basename(p)} contains {secret!r}")
            except OSError:
                pass
    emit(not leaked, route, f"--transcript and drover's output never contain {secret!r}",
         f"{len(leaked)} place(s)", leaked)
    if echoed:
        note(route, f"--transcript: the agent itself sent {secret!r} (it echoes its environment "
                    f"or configuration): " + "; ".join(echoed)[:600])


def cmd_make_png(path):
    width = height = 16
    rows = b"".join(b"\x00" + b"".join(bytes((x * 16, y * 16, 128)) for x in range(width))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def cmd_image_input(route, home):
    """The mock model's config says it takes images (opencode and pi drop images for a model that
    does not say so; claude's and codex's models take them already)."""
    if route == "opencode-acp":
        path = os.path.join(home, ".config/opencode/opencode.json")
        with open(path) as f:
            config = json.load(f)
        model = config["provider"]["mock"]["models"]["mock-model"]
        model["attachment"] = True
        model["modalities"] = {"input": ["text", "image"], "output": ["text"]}
    elif route == "pi-acp":
        path = os.path.join(home, ".pi/agent/models.json")
        with open(path) as f:
            config = json.load(f)
        for model in config["providers"]["mock"]["models"]:
            model["input"] = ["text", "image"]
    else:
        return
    with open(path, "w") as f:
        json.dump(config, f, indent=2)


def gateway_images(entry):
    """(source, [(mime, bytes)]): the gateway's own record of a request's attachments when it
    keeps one, else the images found in the logged body."""
    listed = entry.get("attachments")
    if isinstance(listed, list):
        return "the gateway's attachments log", [
            (a.get("mimeType") or a.get("mime"), a.get("bytes")) for a in listed if isinstance(a, dict)]
    return "the logged request body", [(mime, len(data)) for mime, data in inline_images(entry.get("request"))]


def sent_image_blocks(transcript):
    """(mime, bytes) of the image blocks of the session/prompt requests drover sent."""
    found = []
    for m in json_lines(transcript):
        msg = m.get("msg")
        if m.get("dir") != "out" or not isinstance(msg, dict) or msg.get("method") != "session/prompt":
            continue
        for block in (msg.get("params") or {}).get("prompt") or []:
            if isinstance(block, dict) and block.get("type") == "image":
                try:
                    found.append((block.get("mimeType"), len(base64.b64decode(block.get("data") or ""))))
                except ValueError:
                    found.append((block.get("mimeType"), None))
    return found


def advertised_prompt_caps(transcript):
    for m in json_lines(transcript):
        msg = m.get("msg")
        if m.get("dir") == "in" and isinstance(msg, dict) and isinstance(msg.get("result"), dict):
            caps = msg["result"].get("agentCapabilities")
            if isinstance(caps, dict):
                return caps.get("promptCapabilities") or {}
    return None


def cmd_image(route, rc, out, err, word, png, log, transcript, tmp):
    run = "--file pixel.png"
    left = sorted(n for n in os.listdir(tmp) if n.startswith("drover-att-"))
    emit(not left, route, f"{run}: no staged copy is left in $TMPDIR after the run",
         f"left: {left}", [f"TMPDIR: {tmp}"])
    res = exit0_json_result(route, run, rc, out, err)
    if res is None:
        return
    emit(res.get("error") is None and word in str(res.get("text")), route,
         f"{run}: answered (the text has the prompt's word)",
         f"text {json.dumps(res.get('text'))[:200]}, error {json.dumps(res.get('error'))}",
         diag(out, err))
    size = os.path.getsize(png)
    caps = advertised_prompt_caps(transcript)
    note(route, f"{run}: the agent advertises promptCapabilities {json.dumps(caps)}")
    reports = res.get("attachments") or []
    report = reports[0] if len(reports) == 1 and isinstance(reports[0], dict) else {}
    want = "image" if (caps or {}).get("image") else "link"
    emit(report.get("name") == "pixel.png" and report.get("mimeType") == "image/png" and
         report.get("bytes") == size and report.get("delivery") == want, route,
         f"{run}: the result reports pixel.png (image/png, {size} bytes) delivered as {want}",
         f"attachments {json.dumps(reports)[:300]}", diag(out, err))
    if want != "image":
        note(route, f"{run}: no image capability: the agent got a resource_link to the staged copy")
        return
    sent = sent_image_blocks(transcript)
    emit(sent == [("image/png", size)], route,
         f"{run}: drover sent one image block (image/png, {size} bytes)",
         f"image blocks sent {sent}", [f"transcript: {transcript}"])
    main = [e for e in gateway_entries(log, word) if has_tools(e)]
    seen = [(src, imgs) for src, imgs in (gateway_images(e) for e in main)]
    arrived = [img for _, imgs in seen for img in imgs]
    emit(("image/png", size) in arrived, route,
         f"{run}: the image reached the model request at the gateway (image/png, {size} bytes)",
         f"{len(main)} request(s) with tools for the prompt; images seen {arrived[:5]}",
         [f"gateway log: {log}"])
    if seen:
        note(route, f"{run}: image found through {seen[0][0]}")


def cmd_gateway_notes(route, log, cancel_word):
    """NOTEs: how the gateway's slow stream for the cancelled run ended (logged once the gateway
    noticed), and its requests counted by endpoint and model."""
    for e in gateway_entries(log, cancel_word):
        if e.get("ruleName") == "a slow answer (cancel)":
            how = [k for k in ("clientClosed", "dropped", "interrupted") if e.get(k)]
            note(route, f"cancel: the gateway's slow stream ended after {e.get('chunks')} "
                        f"event(s) ({', '.join(how) or 'completed'})")
    note_gateway_requests(route, log, ("method", "path", "model", "status"))


COMMANDS = {
    "answer": lambda a: cmd_answer(*a[:7]),
    "stream": lambda a: cmd_stream(*a[:6]),
    "gateway-model": lambda a: cmd_gateway_model(*a[:5]),
    "cancel": lambda a: cmd_cancel(*a[:4], a[a.index("--") + 1:]),
    "models": lambda a: cmd_models(*a[:5]),
    "resume": lambda a: cmd_resume(*a[:11]),
    "transcripts": lambda a: cmd_transcripts(a[0], a[1], a[2:]),
    "gateway-notes": lambda a: cmd_gateway_notes(*a[:3]),
    "make-png": lambda a: cmd_make_png(a[0]),
    "image-input": lambda a: cmd_image_input(*a[:2]),
    "image": lambda a: cmd_image(*a[:9]),
    "policy": lambda a: check_policy(*a[:7]),
}

if __name__ == "__main__":
    sys.exit(run_command("check_acp.py", COMMANDS, sys.argv))
