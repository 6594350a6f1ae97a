#!/usr/bin/env bash
# `drover batch` as a Slurm array job on a real single-node cluster (scripts/slurm-cluster.sh):
# 200 documents, a 4-task array whose tasks take their shard from SLURM_ARRAY_TASK_ID/COUNT (no
# --shard), `drover batch merge` of the four outputs, and a check that the merge equals a
# single-process run of the same batch (same ids, same texts) and that every document is in
# exactly one shard. The cluster is torn down on every exit path; nothing it or the jobs started
# may be left running.
#
#   tests/slurm/run.sh PATH/TO/drover PATH/TO/fake_agent
#
# Exit 77 (skipped) only when Slurm cannot start here (not root, packages missing, ports in use);
# the reason is the last line printed.
set -euo pipefail

DROVER=${1:?usage: run.sh PATH/TO/drover PATH/TO/fake_agent}
AGENT=${2:?usage: run.sh PATH/TO/drover PATH/TO/fake_agent}
HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER="$HERE/../../scripts/slurm-cluster.sh"
SKIP=77
DOCS=200
TASKS=4
for f in "$DROVER" "$AGENT"; do
  { [ -x "$f" ] && [ ! -d "$f" ]; } || { echo "FAIL: $f is not an executable" >&2; exit 1; }
done
DROVER=$(cd "$(dirname "$DROVER")" && pwd)/$(basename "$DROVER")
AGENT=$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")
command -v python3 >/dev/null || { echo "FAIL: python3 is not installed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/drover-slurm.XXXXXX")
chmod 0755 "$work"
cluster_up=0

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Processes still running with the work directory in their command line (drover, fake_agent).
leftovers() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != "$$" ] || continue
    if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF "$work"; then echo "${p#/proc/}"; fi
  done
}

cleanup() {
  local rc=$? left
  trap - EXIT INT TERM
  if [ "$cluster_up" = 1 ]; then
    "$CLUSTER" down "$work/cluster" || { echo "FAIL: the cluster did not stop cleanly" >&2; rc=1; }
  fi
  left=$(leftovers | tr '\n' ' ')
  if [ -n "$left" ]; then
    echo "FAIL: still running after teardown: $left" >&2
    ps -o pid,ppid,args -p "${left// /,}0" >&2 || true
    # shellcheck disable=SC2086  # one word per pid
    kill -KILL $left 2>/dev/null || true
    rc=1
  fi
  if [ "$rc" != 0 ] && [ "$rc" != "$SKIP" ] && [ -d "$work" ]; then
    for f in "$work"/job-*.log "$work"/merge.err "$work"/single.err; do
      [ -s "$f" ] || continue
      echo "--- $f" >&2
      tail -n 20 "$f" | sed 's/^/  | /' >&2
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The documents: each one's answer names it, so results from different processes compare.
mkdir "$work/docs"
for i in $(seq -w 0 $((DOCS - 1))); do
  printf 'Document %s. The quick brown fox %s jumps over the lazy dog.\n' "$i" "$i" >"$work/docs/doc-$i.txt"
done

# A fake CLI route (fixtures/fake_agent answers "echo: <prompt>" as Claude Code's JSON would).
cat >"$work/drover.json" <<JSON
{
  "defaultRoute": "local:cli:fake:fake-model",
  "providers": {"local": {"accounts": [{
    "id": "fake",
    "transport": {"kind": "cli", "command": "$AGENT",
      "cli": {"argsTemplate": ["--mode", "json", "--prompt", "{prompt}", ["--model", "{model}"]],
              "input": "arg",
              "parser": {"kind": "json", "textPath": "result", "usagePath": "",
                         "modelPath": "model"}}},
    "models": ["fake-model"]}]}}
}
JSON
batch_args=(batch --config "$work/drover.json" --route local:cli:fake:fake-model
            --deliver inline --prompt 'Summarize: {document.text}' --concurrency 4 --quiet)

# Each array task: its shard from the environment Slurm gives it, its own output file.
cat >"$work/job.sh" <<JOB
#!/usr/bin/env bash
set -euo pipefail
cd "$work"
exec $(printf '%q ' "$DROVER" "${batch_args[@]}") --out "shard-\$SLURM_ARRAY_TASK_ID.jsonl" docs
JOB
chmod +x "$work/job.sh"

set +e
"$CLUSTER" up "$work/cluster"
rc=$?
set -e
if [ "$rc" = "$SKIP" ]; then exit "$SKIP"; fi
[ "$rc" = 0 ] || fail "the cluster did not come up (exit $rc)"
cluster_up=1
export SLURM_CONF="$work/cluster/slurm.conf"

job=$(cd "$work" && sbatch --parsable --array=0-$((TASKS - 1)) -o "$work/job-%a.log" "$work/job.sh")
job=${job%%;*}
case "$job" in ''|*[!0-9]*) fail "sbatch printed no job id: '$job'" ;; esac
echo "submitted array job $job ($TASKS tasks, $DOCS documents)"

# `sbatch --wait` polls at 2, 10, 42 s; squeue answers as soon as the array is done.
deadline=$(( $(date +%s) + 180 ))
while [ -n "$(squeue -h -j "$job" 2>/dev/null)" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { squeue -j "$job" >&2 || true; fail "the array did not finish within 180 s"; }
  sleep 0.2
done
# Every task's own exit code (no accounting: scontrol keeps finished jobs for MinJobAge).
codes=$(scontrol -o show job "$job" | grep -o 'ExitCode=[0-9:]*' | sort | uniq -c)
echo "task exit codes: $(echo "$codes" | tr -s ' \n' ' ')"
[ "$(scontrol -o show job "$job" | grep -c 'ExitCode=0:0')" = "$TASKS" ] ||
  fail "not every task exited 0: $codes"

shards=()
for t in $(seq 0 $((TASKS - 1))); do
  [ -f "$work/shard-$t.jsonl" ] || fail "task $t wrote no shard-$t.jsonl"
  shards+=("$work/shard-$t.jsonl")
done
"$DROVER" batch merge "$work/merged.jsonl" "${shards[@]}" >"$work/merge.out" 2>"$work/merge.err" ||
  fail "drover batch merge exited $?"

# The same batch in one process, outside any array job.
(cd "$work" && env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u JOB_COMPLETION_INDEX \
   "$DROVER" "${batch_args[@]}" --out single.jsonl docs >"$work/single.out" 2>"$work/single.err") ||
  fail "the single-process drover batch exited $?"

python3 - "$work" "$DOCS" "${shards[@]}" <<'PY'
import json, sys

work, ndocs, shards = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def records(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            out[r["id"]] = r  # the last line of an id counts
    return out

def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

single = records(work + "/single.jsonl")
merged = records(work + "/merged.jsonl")
expected = {"docs/doc-%03d.txt" % i for i in range(ndocs)}
if set(single) != expected:
    fail("the single run has %d ids, not the %d documents (e.g. %s)"
         % (len(single), ndocs, sorted(set(single) ^ expected)[:3]))
for id_, r in single.items():
    if r.get("error") is not None:
        fail("%s failed in the single run: %s" % (id_, r["error"]))
    number = id_[len("docs/doc-"):-len(".txt")]
    if "Document %s." % number not in r.get("text", ""):
        fail("%s: the answer does not name its document: %r" % (id_, r.get("text")))

seen = {}
for path in shards:
    ids = records(path)
    if not ids:
        fail("%s is empty: the task did not take its shard, or got none" % path)
    for id_ in ids:
        if id_ in seen:
            fail("%s is in %s and in %s" % (id_, seen[id_], path))
        seen[id_] = path
missing = expected - set(seen)
if missing:
    fail("%d documents are in no shard (e.g. %s)" % (len(missing), sorted(missing)[:3]))

if set(merged) != set(single):
    fail("the merge has ids the single run has not, or lacks some: %s"
         % sorted(set(merged) ^ set(single))[:5])
for id_ in sorted(single):
    a, b = merged[id_], single[id_]
    for field in ("input", "text", "error", "route", "model"):
        if a.get(field) != b.get(field):
            fail("%s: %s differs: merged %r, single %r" % (id_, field, a.get(field), b.get(field)))
sizes = ", ".join("%d" % sum(1 for p in seen.values() if p == s) for s in shards)
print("ok: %d documents, shards of %s, merge equals the single run" % (len(single), sizes))
PY
