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
# the gateway with scripts/harness-env.sh, as in tests/harness_suite/run.sh.
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
# for stdin-input presets (opencode) and gives /dev/null otherwise, and kills whatever the harness
# left in its process group afterwards (outside the timed window). One difference is kept on
# purpose: under drover the harness's stdio are Unix socket pairs (libuv's UV_CREATE_PIPE), run
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

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/harness-env.sh
. "$repo/scripts/harness-env.sh"

all_routes=(claude-cli codex-cli opencode-cli pi-cli)
prompt="Say the word: bench"

# route -> harness (install-harnesses.sh name, also the preset's command)
route_harness() {
  case "$1" in
    claude-cli) echo claude ;;
    codex-cli) echo codex ;;
    opencode-cli) echo opencode ;;
    pi-cli) echo pi ;;
    *) return 1 ;;
  esac
}

# route -> the --model it needs (as tests/harness_suite/run.sh; none for claude)
route_model() {
  case "$1" in
    codex-cli) echo gpt-5.5 ;;
    opencode-cli|pi-cli) echo mock/mock-model ;;
    *) echo "" ;;
  esac
}

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
  case "$HB_NETNS" in unshare*) ip link set lo up ;; esac

  bin=$(printf '%s\n' "$HB_BINS" | sed -n "s/^$harness=//p")
  bin_dir=$(dirname "$bin")
  model=$(route_model "$route")
  version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("version",""))' \
              "$HB_CACHE/harnesses/$harness/node_modules/$(harness_package "$harness")/package.json" \
              2>/dev/null || true)

  root="$HB_ROOT/$route"
  home="$root/home"
  work="$root/work"
  tmp="$root/tmp"
  capture="$root/capture"
  shim_dir="$root/shim"
  rm -rf "$root"
  mkdir -p "$home" "$work" "$tmp" "$capture" "$shim_dir"

  trap henv_stop_gateway EXIT
  if ! henv_start_gateway "$root" "$repo/tests/harness_suite/gateway-script.json" "$HB_DROVER" mock-gateway; then
    echo "harness_overhead: $route: the mock gateway did not start:" >&2
    sed 's/^/  | /' "$root/gateway.err" >&2
    exit 1
  fi
  henv_configure "$harness" "$home" "$HENV_GATEWAY_URL" >/dev/null

  # The environment both sides start from (drover passes its own on, minus clearEnv, plus env).
  base_env=(PATH="$bin_dir:$(henv_base_path)" HOME="$home" TMPDIR="$tmp" LANG=C.UTF-8 "${HENV_ENV[@]}")
  printf '%s\0' "${base_env[@]}" >"$root/base.env"
  drover_cmd=("$HB_DROVER" run --route "$route")
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
  capture_env=(PATH="$shim_dir:$bin_dir:$(henv_base_path)" HOME="$home" TMPDIR="$tmp" LANG=C.UTF-8 "${HENV_ENV[@]}")
  rc=0
  (cd "$work" && timeout -k 5 "$HB_TIMEOUT" env -i "${capture_env[@]}" "${drover_cmd[@]}" </dev/null \
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

  python3 - "$route" "$harness" "$version" "$bin" "$shim_dir" "$capture" "$root/base.env" "$work" \
    "$HB_RUNS" "$HB_WARMUP" "$HB_TIMEOUT" "$prompt" "$HB_NETNS" "${drover_cmd[@]}" <<'PY'
import json, os, resource, selectors, shlex, shutil, signal, socket, subprocess, sys, tempfile, time

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

def quantile(v, q):
    v = sorted(v)
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)

def stats(v):
    return {"median": round(quantile(v, 0.5), 1), "min": round(min(v), 1),
            "p90": round(quantile(v, 0.9), 1)}

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
drover=${1:-}
{ [ -n "$drover" ] && [ -x "$drover" ] && [ ! -d "$drover" ]; } || usage
shift
runs=15
routes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --runs=*) runs=${1#--runs=}; shift ;;
    -h|--help) usage ;;
    -*) echo "harness_overhead: unknown option: $1" >&2; usage ;;
    *) route_harness "$1" >/dev/null || { echo "harness_overhead: unknown route: $1" >&2; usage; }
       routes+=("$1"); shift ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) echo "harness_overhead: --runs takes a positive integer" >&2; usage ;; esac
[ ${#routes[@]} -gt 0 ] || routes=("${all_routes[@]}")
command -v python3 >/dev/null || { echo "harness_overhead: python3 is not installed" >&2; exit 1; }

start=$(date +%s)
export HB_CACHE="${DROVER_CACHE_DIR:-$HOME/.cache/drover}"
export HB_RUNS="$runs" HB_WARMUP="${DROVER_BENCH_WARMUP:-2}" HB_TIMEOUT="${DROVER_BENCH_TIMEOUT:-60}"
export HB_DIRECT_STDIO="${DROVER_BENCH_DIRECT_STDIO:-pipe}"
case "$HB_DIRECT_STDIO" in pipe|socket) ;; *) echo "harness_overhead: DROVER_BENCH_DIRECT_STDIO is pipe or socket" >&2; usage ;; esac
case "$HB_WARMUP" in ''|*[!0-9]*) echo "harness_overhead: DROVER_BENCH_WARMUP takes an integer" >&2; usage ;; esac

harnesses=()
for r in "${routes[@]}"; do
  h=$(route_harness "$r")
  case " ${harnesses[*]} " in *" $h "*) ;; *) harnesses+=("$h") ;; esac
done
bins=""
for h in "${harnesses[@]}"; do
  if line=$("$repo/scripts/install-harnesses.sh" --quiet "$h"); then
    bins+="$line"$'\n'
  else
    echo "harness_overhead: $h is not installed and could not be (scripts/install-harnesses.sh $h)" >&2
  fi
done
export HB_BINS="$bins"

# drover may be rebuilt while this runs: use a private copy (and the gateway program next to it).
work_root=$(mktemp -d "${TMPDIR:-/tmp}/drover-harness-overhead.XXXXXX")
cleanup() {
  if [ "${DROVER_BENCH_KEEP:-0}" = 1 ]; then echo "kept $work_root" >&2; else rm -rf "$work_root"; fi
}
trap cleanup EXIT
cp "$drover" "$work_root/drover"
[ ! -x "$(dirname "$drover")/drover-gateway" ] || cp "$(dirname "$drover")/drover-gateway" "$work_root/drover-gateway"
export HB_DROVER="$work_root/drover" HB_ROOT="$work_root"

if [ "${DROVER_BENCH_NO_NETNS:-0}" != 1 ] && henv_netns_works; then
  export HB_NETNS="unshare -n (a fresh network namespace per route, loopback only)"
  launcher=(unshare -n "$BASH" "$0" --inner)
else
  export HB_NETNS="none (host network, gateway on loopback)"
  launcher=("$BASH" "$0" --inner)
fi
echo "harness_overhead: drover $("$drover" --version 2>/dev/null | head -1); network: $HB_NETNS;" \
     "$runs runs + $HB_WARMUP warm-up per side; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

results="$work_root/results.jsonl"
: >"$results"
status=0
for r in "${routes[@]}"; do
  h=$(route_harness "$r")
  if ! printf '%s\n' "$bins" | grep -q "^$h="; then
    echo "harness_overhead: $r: skipped, $h is not installed" >&2
    status=1
    continue
  fi
  echo "--- $r" >&2
  set +e
  "${launcher[@]}" "$r" | tee -a "$results"
  irc=${PIPESTATUS[0]}
  set -e
  [ "$irc" -eq 0 ] || { echo "harness_overhead: $r: FAILED (exit $irc)" >&2; status=1; }
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if not rows:
    sys.exit(0)
print()
r0 = rows[0]
print(f"Medians of {r0['runs']} interleaved runs per side after {r0['warmup']} warm-up runs "
      f"(min–p90 in brackets), ms; prompt \"{r0['prompt']}\", mock gateway on loopback "
      f"({r0['network']}); harness stdout/stderr: {r0['stdio']['drover']} under drover, "
      f"{r0['stdio']['direct']} direct.")
print()
print("| route | harness | direct | `drover run` | added | ratio | in-run added | drover CPU | harness CPU direct / under drover |")
print("|---|---|---|---|---|---|---|---|---|")
f = lambda s: f"{s['median']:.1f} ({s['min']:.1f}–{s['p90']:.1f})"
for r in rows:
    inrun = f(r["inRunAddedMs"]) if r["inRunAddedMs"] else "–"
    print(f"| {r['route']} | {r['harness']} {r['version']} | {f(r['directMs'])} | {f(r['droverMs'])} | "
          f"**{r['addedMs']:+.1f}** | {r['ratio']:.3f}× | {inrun} | {f(r['droverCpuMs'])} | "
          f"{r['harnessCpuMs']['direct']['median']:.0f} / {r['harnessCpuMs']['underDrover']['median']:.0f} |")
PY
echo "harness_overhead: runtime $(( $(date +%s) - start )) s" >&2
exit "$status"
