"""What check.py (run.sh) and check_acp.py (acp.sh) share: the output lines (their format is in
check.py's docstring), the checks on a drover result that both suites make and the command
dispatch.
"""
import base64
import collections
import json
import os
import re
import sys


def emit(ok, route, what, why="", details=()):
    if ok:
        print(f"PASS {route}: {what}")
    else:
        print(f"FAIL {route}: {what}: {why}")
        for d in details:
            for line in str(d).splitlines()[:40]:
                print(f"  | {line}")
    sys.stdout.flush()
    return ok


def skip(route, text):
    print(f"SKIP {route}: {text}")
    sys.stdout.flush()


def note(route, text):
    print(f"NOTE {route}: {text}")
    sys.stdout.flush()


def read(path, limit=4000):
    try:
        with open(path, "r", errors="replace") as f:
            data = f.read()
    except OSError as e:
        return f"<{e}>"
    if len(data) > limit:
        data = data[:limit] + f"... ({len(data)} bytes)"
    return data


def diag(out, err):
    return [f"stdout: {read(out)}", f"stderr: {read(err)}"]


def load_result(out):
    """The JSON document that is the whole of `out` (drover's --output json stdout)."""
    with open(out, "r", errors="replace") as f:
        data = f.read()
    return json.loads(data)


def json_lines(path, strict=False):
    """The lines of `path` that are JSON (a gateway log, a transcript), parsed; the others are
    passed over. A file that cannot be read (or no path) counts as empty, unless `strict`: then
    the OSError is raised."""
    entries = []
    if not path:
        return entries
    try:
        with open(path, "r", errors="replace") as f:
            for line in f:
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        if strict:
            raise
    return entries


def gateway_entries(log, word=None):
    """The gateway's log entries (`--verbose`), only those whose prompt has `word` if given."""
    return [e for e in json_lines(log) if word is None or word in (e.get("lastUserText") or "")]


def note_gateway_requests(route, log, fields=("method", "path", "status")):
    """A NOTE counting the gateway's requests by `fields` of their log entries."""
    seen = collections.Counter(" ".join(str(e.get(k)) for k in fields) for e in json_lines(log))
    note(route, "gateway requests: " + ", ".join(f"{k} x{v}" for k, v in sorted(seen.items())))


def load_jsonl(out):
    """(events, problems): every line parsed; the result is the last event."""
    events, bad = [], []
    try:
        with open(out, "r", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    events.append(json.loads(line))
                except ValueError as e:
                    bad.append(f"line {n}: {e}: {line[:200]}")
    except OSError as e:
        bad.append(str(e))
    return events, bad


def check_exit0(route, run, rc, out, err):
    return emit(rc == "0", route, f"{run}: exit 0", f"exit {rc}", diag(out, err))


def json_result(route, run, out, err, what="stdout is one JSON result"):
    """The JSON object on `out`, or None after a FAIL `what` line."""
    try:
        res = load_result(out)
        if not isinstance(res, dict):
            raise ValueError("not an object")
    except (ValueError, OSError) as e:
        emit(False, route, f"{run}: {what}", str(e), diag(out, err))
        return None
    return res


def exit0_json_result(route, run, rc, out, err):
    """A --output json run: exit 0, then the result object (or None, see json_result)."""
    check_exit0(route, run, rc, out, err)
    return json_result(route, run, out, err)


def jsonl_result(route, run, rc, out, err, last_event):
    """A --output jsonl run: exit 0 and every line JSON, the last a result event. Returns
    (events, result), or None after a FAIL whose reason, when the lines parsed, is
    last_event(events)."""
    check_exit0(route, run, rc, out, err)
    events, bad = load_jsonl(out)
    if not emit(not bad and events and events[-1].get("type") == "result", route,
                f"{run}: every line is JSON, the last a result event",
                "; ".join(bad) or last_event(events), diag(out, err)):
        return None
    return events, events[-1]


def check_text_and_error(route, run, res, expected, out, err):
    """The checks every answered run makes on its result object: the text and error null."""
    text = res.get("text")
    emit(text == expected, route, f"{run}: text == {json.dumps(expected)}",
         f"text is {json.dumps(text)}", diag(out, err))
    emit("error" in res and res["error"] is None, route, f"{run}: error is null",
         f"error is {json.dumps(res.get('error', '<missing>'))}", diag(out, err))


def check_deltas(route, run, events, res, out, err):
    """The delta events join to the result's text. Returns the delta events."""
    deltas = [e for e in events if e.get("type") == "delta"]
    joined = "".join(str(e.get("text", "")) for e in deltas)
    emit(bool(deltas) and joined == res.get("text"), route,
         f"{run}: delta events concatenate to the result's text",
         f"{len(deltas)} delta events joining to {json.dumps(joined)}, "
         f"result text {json.dumps(res.get('text'))}", diag(out, err))
    return deltas


def check_option_prompt(route, rc, out, err, prompt, gateway_log, output="json", flags=""):
    """A prompt that looks like one of the harness's options (`--version`, `-p`, a Markdown
    list): the run (`--output OUTPUT FLAGS`) answers it like any prompt (exit 0,
    `MOCK: <prompt>`, error null), and the model got exactly that text (a request in the
    gateway's log whose last user text it is)."""
    run = " ".join(filter(None, [f"--output {output}", flags, f"prompt {json.dumps(prompt)}"]))
    if output == "jsonl":
        got = jsonl_result(route, run, rc, out, err,
                           lambda events: f"{len(events)} event(s), none a result")
        res = got[1] if got else None
    else:
        res = exit0_json_result(route, run, rc, out, err)
    if res is not None:
        check_text_and_error(route, run, res, f"MOCK: {prompt}", out, err)
    seen = [e.get("lastUserText") for e in json_lines(gateway_log)]
    emit(prompt in seen, route, f"{run}: the model receives the prompt text",
         "no gateway request has it as its last user text",
         [f"last user texts seen: {json.dumps(seen[-6:])}"] + diag(out, err))


def note_usage_growth(route, run, first_out, res, meaning):
    """Both turns' answers are 5 words ("MOCK: Say the word: w…"), so per-turn usage must match:
    a NOTE, ending in `meaning`, for each figure far above the first turn's."""
    try:
        first_usage = load_result(first_out).get("usage") or {}
    except (ValueError, OSError, AttributeError):
        first_usage = {}
    usage = res.get("usage") or {}
    for key in ("outputTokens", "costUsd"):
        a, b = first_usage.get(key), usage.get(key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > a * 1.5:
            note(route, f"{run}: usage.{key} is {b} against {a} for the same-sized first turn: "
                        f"{meaning}")


def check_policy(route, policy, rc, out, err, marker, expected):
    """A shell tool call that creates `marker` under `policy` (deny-all, approve-reads,
    approve-all). deny-all and approve-reads: the marker never appears, whether the route was
    refused before it started (unsupported_capability, the result's policy says enforcement
    none) or the harness was held back. approve-all: the marker appears and the answer comes.
    The result's `policy` names the requested policy and how it was enforced."""
    run = f"tool call with --{policy}"
    made = os.path.exists(marker)
    res = json_result(route, run, out, err)
    if res is None:
        return
    pol = res.get("policy") or {}
    emit(pol.get("requested") == policy and pol.get("enforcement") in ("agent-asks", "mapped", "none"),
         route, f"{run}: the result says how the policy was enforced",
         f"policy {json.dumps(pol)}", diag(out, err))
    code = (res.get("error") or {}).get("code")
    note(route, f"{run}: enforcement {pol.get('enforcement')} ({pol.get('mechanism')}), exit {rc}, "
                f"error {code}, marker {'created' if made else 'not created'}")
    decisions = [p.get("decision") for p in res.get("permissions") or []]
    if decisions:
        note(route, f"{run}: the agent asked, decisions {decisions}")
    if policy == "approve-all":
        if pol.get("enforcement") == "agent-asks":
            emit("allowed" in decisions, route, f"{run}: the agent asked and was allowed",
                 f"decisions {decisions}", diag(out, err))
        emit(made, route, f"{run}: the marker file was created", f"{marker} is missing (exit {rc}, "
             f"error {json.dumps(res.get('error'))})", diag(out, err))
        emit(rc == "0" and expected in (res.get("text") or ""), route,
             f"{run}: exit 0 and the answer after the tool",
             f"exit {rc}, text {json.dumps(res.get('text'))}", diag(out, err))
        return
    emit(not made, route, f"{run}: the marker file was not created", f"{marker} exists",
         diag(out, err))
    if decisions:
        emit(all(d == "denied" for d in decisions) and rc == "5" and code == "permission_denied",
             route, f"{run}: every request denied, exit 5 with permission_denied",
             f"decisions {decisions}, exit {rc}, error {code}", diag(out, err))
    if code == "unsupported_capability":
        emit(pol.get("enforcement") == "none" and res.get("process") is None, route,
             f"{run}: refused before the harness started",
             f"policy {json.dumps(pol)}, process {json.dumps(res.get('process'))}", diag(out, err))


def run_command(prog, commands, argv):
    """Runs commands[argv[1]] with the arguments after it; 2 (and a message) for an unknown
    command, else what the command returned (None: 0)."""
    cmd = argv[1]
    if cmd not in commands:
        print(f"{prog}: unknown command {cmd}", file=sys.stderr)
        return 2
    return commands[cmd](argv[2:]) or 0


def inline_images(value):
    """(mime, bytes) of every base64 image in a request body: data: URLs (Chat image_url,
    Responses input_image), Anthropic image blocks and Gemini inlineData parts."""
    found = []
    if isinstance(value, dict):
        source = value.get("source")
        if value.get("type") == "image" and isinstance(source, dict) and source.get("type") == "base64":
            try:
                found.append((source.get("media_type"), base64.b64decode(source.get("data", ""))))
            except ValueError:
                pass
        inline = value.get("inlineData", value.get("inline_data"))
        if isinstance(inline, dict):
            mime = inline.get("mimeType", inline.get("mime_type")) or ""
            if mime.startswith("image/"):
                try:
                    found.append((mime, base64.b64decode(inline.get("data", ""))))
                except ValueError:
                    pass
        for v in value.values():
            found += inline_images(v)
    elif isinstance(value, list):
        for v in value:
            found += inline_images(v)
    elif isinstance(value, str):
        m = re.match(r"data:([^;,]+);base64,(.*)$", value, re.S)
        if m and m.group(1).startswith("image/"):
            try:
                found.append((m.group(1), base64.b64decode(m.group(2))))
            except ValueError:
                pass
    return found
