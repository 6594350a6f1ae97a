#!/usr/bin/env bash
# Whole-process overhead of drover on the REAL harnesses: `drover run --route R --output json`
# versus running the harness command directly with the same argv, environment, stdin and working
# directory, offline against drover's mock gateway. One row per route:
#
#   bench/harness_overhead.sh PATH/TO/drover [--runs N] [ROUTE...]
#
# ROUTEs (default: all): claude-cli codex-cli opencode-cli pi-cli. N (default 15) measured runs of
# each side per route, after DROVER_BENCH_WARMUP (default 2) warm-up runs of each side that are
# discarded. About 3 minutes for all four routes at the default N on an idle 2-core machine
# (opencode, about 2.5 s a run, takes half of it).
#
# Per route: the harness is found (or installed) with scripts/install-harnesses.sh; the mock
# gateway (`drover mock-gateway`) starts inside a fresh network namespace (`unshare -n`, loopback
# only; the host's loopback when that does not work, said so); a throwaway HOME is configured for
# the gateway with scripts/harness-env.sh, as in tests/harness_suite/run.sh. These steps, the
# argument parsing and the table printing are shared with bench/acp_vs_acpx.sh in
# bench/bench-common.sh and bench/bench_stats.py.
#
# The exact command comes from drover itself: drover has no dry-run and logs no argv, so one
# capture run is made with a recording shim first on PATH. drover resolves the preset's command to
# the shim, which writes the argv, the environment (/proc/self/environ), the working directory and
# stdin it was given, then execs the real harness. The direct side replays exactly that, with
# the shim's directory taken off PATH, argv[0] the preset's command name and the file drover would
# have resolved. Paths inside a directory drover created for the run and removed afterwards
# (codex's `-o <tmp>/answer.txt`, a clean-context cwd) get a fresh directory per direct run, made
# and removed inside the timed window like drover does. Like drover, the direct side runs the
# harness in a new session, reads stdout and stderr until EOF, writes the prompt and closes stdin
# for stdin-input presets (codex, opencode, pi) and gives /dev/null otherwise, and kills whatever
# the harness left in its process group afterwards (outside the timed window). One difference is
# kept on purpose: under drover the harness's stdio are Unix socket pairs (libuv's UV_CREATE_PIPE), run
# directly they are pipes, as from a shell; DROVER_BENCH_DIRECT_STDIO=socket gives the direct side
# socket pairs too, to tell that effect apart from drover's own cost.
#
# Runs alternate drover/direct, the order swapped every pair. Both sides use the prompt
# "Say the word: bench"; every run must exit 0 with the mock's answer or the route fails.
#
# Reported per route (ms): median, min and p90 wall time of each side; added = median(drover) -
# median(direct) and the ratio of the medians; in-run added = median over drover runs of (drover's
# wall time - the harness's wallMs in drover's result), the same quantity without the
# run-to-run spread of the harness; drover's own CPU time = the run's RUSAGE_CHILDREN delta
# (drover plus every descendant drover reaped) minus the harness's cpuUserMs + cpuSystemMs from the
# result (the kernel's rusage of the harness and its reaped descendants); the harness's CPU time
# run directly (RUSAGE_CHILDREN delta) and under drover.
#
# Output: progress on stderr; on stdout one `{"route": …}` JSON line per route as it finishes,
# then a markdown table. Exit 0 when every route was measured, 1 when one failed, 2 bad arguments.
# Environment: DROVER_CACHE_DIR (see install-harnesses.sh), DROVER_BENCH_WARMUP (default 2),
# DROVER_BENCH_TIMEOUT (seconds per run, default 60), DROVER_BENCH_NO_NETNS=1 (host loopback),
# DROVER_BENCH_DIRECT_STDIO=pipe|socket (default pipe, see above), DROVER_BENCH_KEEP=1 (keep the
# work directory).
set -euo pipefail

# shellcheck source=bench/bench-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"

all_routes=(claude-cli codex-cli opencode-cli pi-cli)
prompt="Say the word: bench"
bench_name=harness_overhead
bench_noun=route
bench_workdir="drover-harness-overhead"

# route -> harness (install-harnesses.sh name, also the preset's command) and the --model it
# needs (none for claude): the tables of scripts/harness-env.sh.
route_harness() {
  case "$1" in
    claude-cli|codex-cli|opencode-cli|pi-cli) henv_route_install "$1" ;;
    *) return 1 ;;
  esac
}
bench_install_name() { route_harness "$1"; }
route_model() { henv_route_model "$1"; }

# harness -> npm package (for the version in the report)
harness_package() {
  case "$1" in
    claude) echo @anthropic-ai/claude-code ;;
    codex) echo @openai/codex ;;
    opencode) echo opencode-ai ;;
    pi) echo @mariozechner/pi-coding-agent ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Inner part: one route, possibly inside a fresh network namespace. stdout: the route's JSON line.
# ---------------------------------------------------------------------------------------------
if [ "${1:-}" = "--inner" ]; then
  route=$2
  harness=$(route_harness "$route")
  bench_inner_setup "$route"
  bin=$(bench_bin "$harness")
  bin_dir=$(dirname "$bin")
  model=$(route_model "$route")
  version=$(bench_package_version "$harness" "$(harness_package "$harness")")
  capture="$root/capture"
  shim_dir="$root/shim"
  mkdir -p "$capture" "$shim_dir"

  bench_start_gateway "$repo/tests/harness_suite/gateway-script.json"
  henv_configure "$harness" "$home" "$HENV_GATEWAY_URL" >/dev/null

  # The environment both sides start from (drover passes its own on, minus clearEnv, plus env).
  bench_base_env "$bin_dir"
  printf '%s\0' "${bench_env[@]}" >"$root/base.env"
  drover_cmd=("$BENCH_DROVER" run --route "$route")
  [ -z "$model" ] || drover_cmd+=(--model "$model")
  drover_cmd+=(--output json "$prompt")

  # The recording shim: named like the preset's command, first on PATH for the capture run only.
  q() { printf '%q' "$1"; }
  cat >"$shim_dir/$harness" <<EOF
#!/bin/sh
cap=$(q "$capture")
cat /proc/\$\$/environ >"\$cap/environ"
printf '%s\0' "\$@" >"\$cap/argv"
readlink /proc/\$\$/cwd >"\$cap/cwd"
readlink /proc/\$\$/fd/0 >"\$cap/stdin_kind"
printf '%s\n' "\$(readlink /proc/\$\$/fd/1)" "\$(readlink /proc/\$\$/fd/2)" >"\$cap/stdio_kind"
cat >"\$cap/stdin"
exec $(q "$bin") "\$@" <"\$cap/stdin"
EOF
  chmod 755 "$shim_dir/$harness"
  bench_base_env "$shim_dir:$bin_dir"
  rc=0
  (cd "$work" && timeout -k 5 "$BENCH_TIMEOUT" env -i "${bench_env[@]}" "${drover_cmd[@]}" </dev/null \
     >"$root/capture.out" 2>"$root/capture.err") || rc=$?
  if [ ! -s "$capture/argv" ]; then
    echo "harness_overhead: $route: the capture run (exit $rc) did not run the shim $shim_dir/$harness" >&2
    sed 's/^/  | /' "$root/capture.out" "$root/capture.err" | tail -20 >&2
    exit 1
  fi
  if [ "$rc" -ne 0 ] || ! grep -q "MOCK: $prompt" "$root/capture.out"; then
    echo "harness_overhead: $route: the capture run failed (exit $rc)" >&2
    sed 's/^/  | /' "$root/capture.out" "$root/capture.err" | tail -20 >&2
    exit 1
  fi

  bench_py - "$route" "$harness" "$version" "$bin" "$shim_dir" "$capture" "$root/base.env" "$work" \
    "$BENCH_RUNS" "$BENCH_WARMUP" "$BENCH_TIMEOUT" "$prompt" "$BENCH_NETNS" "${drover_cmd[@]}" <<'PY'
import json, os, resource, selectors, shlex, shutil, signal, socket, subprocess, sys, tempfile, time
from bench_stats import quantile, stats

(route, harness, version, real_bin, shim_dir, capture, base_env_file, work, runs, warmup,
 timeout, prompt, netns) = sys.argv[1:14]
drover_cmd = sys.argv[14:]
runs, warmup, timeout = int(runs), int(warmup), float(timeout)
expected = "MOCK: " + prompt

def log(msg):
    print(f"  {route}: {msg}", file=sys.stderr, flush=True)

def read_env(path):
    env = {}
    for entry in open(path, "rb").read().split(b"\0"):
        if entry:
            k, _, v = entry.decode().partition("=")
            env[k] = v
    return env

# What drover gave the harness in the capture run.
argv = [a.decode() for a in open(os.path.join(capture, "argv"), "rb").read().split(b"\0")[:-1]]
direct_env = read_env(os.path.join(capture, "environ"))
direct_env["PATH"] = ":".join(p for p in direct_env.get("PATH", "").split(":") if p != shim_dir)
cwd = open(os.path.join(capture, "cwd")).read().strip()
stdin_kind = open(os.path.join(capture, "stdin_kind")).read().strip()
stdin_data = open(os.path.join(capture, "stdin"), "rb").read()
stdin_is_pipe = stdin_kind != "/dev/null"
# drover's children get Unix socket pairs for stdout/stderr (libuv); the direct side gets pipes
# unless DROVER_BENCH_DIRECT_STDIO=socket.
stdio_kind = open(os.path.join(capture, "stdio_kind")).read().split()
drover_stdio = "socket" if stdio_kind and all(k.startswith("socket:") for k in stdio_kind) else "pipe"
direct_stdio = os.environ.get("HB_DIRECT_STDIO", "pipe")
drover_env = read_env(base_env_file)
# The file drover resolves the command to with the real PATH (the shim's directory taken off).
executable = shutil.which(harness, path=direct_env["PATH"]) or real_bin

# Paths in directories drover made for the run and removed (codex's {output_file}, a clean cwd):
# a fresh directory per direct run, in the same parent.
def run_dir_parent(path):
    d = os.path.dirname(path)
    if os.path.isabs(path) and not os.path.exists(d) and os.path.isdir(os.path.dirname(d)):
        return os.path.dirname(d), os.path.basename(d)
    return None
temp_args = {i: run_dir_parent(a) for i, a in enumerate(argv) if run_dir_parent(a)}
fresh_cwd = None if os.path.isdir(cwd) else os.path.dirname(cwd)

def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000.0

def spawn(cmd, env, run_cwd, stdin_bytes, exe=None, sockets=False):
    """Runs cmd to exit and EOF on stdout and stderr; returns (wall ms, rc, stdout, stderr, cpu ms).
    stdin_bytes None: /dev/null; else written to stdin, which is then closed. sockets: stdio
    through Unix socket pairs (what libuv gives drover's children) instead of pipes."""
    def channel():
        if sockets:
            a, b = socket.socketpair()
            return a.detach(), b.detach()
        return os.pipe()
    cpu0 = cpu_children()
    t0 = time.perf_counter()
    deadline = t0 + timeout
    out_r, out_w = channel()
    err_r, err_w = channel()
    in_r = in_w = None
    if stdin_bytes is not None:
        in_r, in_w = channel()   # a pipe is (read, write); a socket pair is symmetric
    p = subprocess.Popen(cmd, executable=exe, env=env, cwd=run_cwd,
                         stdin=in_r if in_r is not None else subprocess.DEVNULL,
                         stdout=out_w, stderr=err_w, start_new_session=True)
    for fd in (out_w, err_w, in_r):
        if fd is not None:
            os.close(fd)
    if in_w is not None:
        try:
            os.write(in_w, stdin_bytes)   # a short prompt: fits the buffer
        except BrokenPipeError:
            pass
        os.close(in_w)
    bufs = {out_r: [], err_r: []}
    sel = selectors.DefaultSelector()
    for fd in bufs:
        sel.register(fd, selectors.EVENT_READ)
    timed_out = False
    while sel.get_map():
        left = deadline - time.perf_counter()
        if left <= 0:
            timed_out = True
            break
        for key, _ in sel.select(left):
            data = os.read(key.fd, 65536)
            if data:
                bufs[key.fd].append(data)
            else:
                sel.unregister(key.fd)
    if not timed_out:
        try:
            p.wait(max(deadline - time.perf_counter(), 0.001))
        except subprocess.TimeoutExpired:
            timed_out = True
    wall = (time.perf_counter() - t0) * 1000.0
    if timed_out:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    cpu = cpu_children() - cpu0
    sel.close()
    os.close(out_r)
    os.close(err_r)
    try:
        os.killpg(p.pid, signal.SIGKILL)   # what the harness left in its group (drover does this too)
    except (ProcessLookupError, PermissionError):
        pass
    out, err = b"".join(bufs[out_r]), b"".join(bufs[err_r])
    return (None if timed_out else wall), p.returncode, out, err, cpu

def fail(side, i, rc, out, err):
    log(f"{side} run {i} failed (exit {rc}, timeout {timeout:g} s)")
    for line in (out.decode(errors="replace").splitlines() + err.decode(errors="replace").splitlines())[-20:]:
        print("  | " + line, file=sys.stderr)
    sys.exit(1)

def run_drover(i):
    wall, rc, out, err, cpu = spawn(drover_cmd, drover_env, work, None)
    try:
        res = json.loads(out)
    except ValueError:
        res = {}
    if wall is None or rc != 0 or res.get("error") is not None or expected not in (res.get("text") or ""):
        fail("drover", i, rc, out, err)
    proc = res.get("process") or {}
    harness_cpu = (proc.get("cpuUserMs") or 0.0) + (proc.get("cpuSystemMs") or 0.0)
    return {"wall": wall, "harnessWall": proc.get("wallMs"), "cpu": cpu, "harnessCpu": harness_cpu}

def run_direct(i):
    t0 = time.perf_counter()
    made = []
    args = list(argv)
    for idx, (parent, name) in temp_args.items():
        d = tempfile.mkdtemp(prefix="drover-", dir=parent)
        made.append(d)
        args[idx] = os.path.join(d, os.path.basename(argv[idx]))
    run_cwd = cwd
    if fresh_cwd:
        run_cwd = tempfile.mkdtemp(prefix="drover-", dir=fresh_cwd)
        made.append(run_cwd)
    setup = (time.perf_counter() - t0) * 1000.0
    wall, rc, out, err, cpu = spawn([harness] + args, direct_env, run_cwd,
                                    stdin_data if stdin_is_pipe else None, exe=executable,
                                    sockets=direct_stdio == "socket")
    t1 = time.perf_counter()
    for d in made:
        shutil.rmtree(d, ignore_errors=True)
    teardown = (time.perf_counter() - t1) * 1000.0
    if wall is None or rc != 0 or expected.encode() not in out:
        fail("direct", i, rc, out, err)
    return {"wall": wall + setup + teardown, "cpu": cpu}

log(f"{harness} {version}: {shlex.join([executable] + argv)}"
    + (f" <<< {stdin_data.decode(errors='replace')!r}" if stdin_is_pipe else " </dev/null")
    + f"  (cwd {'fresh per run' if fresh_cwd else cwd}; stdio under drover: {drover_stdio},"
    + f" direct: {direct_stdio})")
drover_runs, direct_runs = [], []
start = time.perf_counter()
for i in range(warmup + runs):
    order = (("drover", run_drover), ("direct", run_direct))
    if i % 2:
        order = order[::-1]
    for side, fn in order:
        r = fn(i)
        if i >= warmup:
            (drover_runs if side == "drover" else direct_runs).append(r)
log(f"{runs} + {warmup} warm-up runs of each side in {time.perf_counter() - start:.0f} s")

d_wall = [r["wall"] for r in drover_runs]
x_wall = [r["wall"] for r in direct_runs]
in_run = [r["wall"] - r["harnessWall"] for r in drover_runs if r["harnessWall"] is not None]
own_cpu = [r["cpu"] - r["harnessCpu"] for r in drover_runs]
med_d, med_x = quantile(d_wall, 0.5), quantile(x_wall, 0.5)
result = {
    "route": route, "harness": harness, "version": version, "runs": runs, "warmup": warmup,
    "network": "netns" if netns.startswith("unshare") else "host-loopback",
    "prompt": prompt, "argv": [harness] + argv, "executable": executable,
    "stdin": "prompt" if stdin_is_pipe else "/dev/null",
    "stdio": {"drover": drover_stdio, "direct": direct_stdio},
    "perRunTempArgs": sorted(temp_args), "freshCwd": bool(fresh_cwd),
    "droverMs": stats(d_wall), "directMs": stats(x_wall),
    "addedMs": round(med_d - med_x, 1), "ratio": round(med_d / med_x, 3),
    "inRunAddedMs": stats(in_run) if in_run else None,
    "droverCpuMs": stats(own_cpu),
    "harnessCpuMs": {"direct": stats([r["cpu"] for r in direct_runs]),
                     "underDrover": stats([r["harnessCpu"] for r in drover_runs])},
}
print(json.dumps(result), flush=True)
PY
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Outer part: arguments, harnesses, one network namespace per route, the table.
# ---------------------------------------------------------------------------------------------
usage() {
  echo "usage: $0 PATH/TO/drover [--runs N] [ROUTE...]  (routes: ${all_routes[*]}; N default 15)" >&2
  exit 2
}
bench_check_env() {
  export HB_DIRECT_STDIO="${DROVER_BENCH_DIRECT_STDIO:-pipe}"
  case "$HB_DIRECT_STDIO" in pipe|socket) ;; *) echo "harness_overhead: DROVER_BENCH_DIRECT_STDIO is pipe or socket" >&2; usage ;; esac
}
bench_parse_args 15 "$@"
[ ${#names[@]} -gt 0 ] || names=("${all_routes[@]}")
bench_start
bench_install
bench_setup_run side
bench_run_all

bench_py - "$results" <<'PY'
import sys
from bench_stats import cell, print_table
print_table(
    sys.argv[1],
    lambda r0: (f"Medians of {r0['runs']} interleaved runs per side after {r0['warmup']} warm-up runs "
                f"(min–p90 in brackets), ms; prompt \"{r0['prompt']}\", mock gateway on loopback "
                f"({r0['network']}); harness stdout/stderr: {r0['stdio']['drover']} under drover, "
                f"{r0['stdio']['direct']} direct."),
    ["route", "harness", "direct", "`drover run`", "added", "ratio", "in-run added", "drover CPU",
     "harness CPU direct / under drover"],
    lambda r: [r["route"], f"{r['harness']} {r['version']}", cell(r["directMs"]), cell(r["droverMs"]),
               f"**{r['addedMs']:+.1f}**", f"{r['ratio']:.3f}×", cell(r["inRunAddedMs"]),
               cell(r["droverCpuMs"]),
               f"{r['harnessCpuMs']['direct']['median']:.0f} / {r['harnessCpuMs']['underDrover']['median']:.0f}"])
PY
bench_finish
