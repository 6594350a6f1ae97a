#!/usr/bin/env bash
# Throughput of `drover batch`, each figure against a baseline measured in the same run:
#
#   bench/batch_throughput.sh BUILD_DIR [--runs N] [--no-acp] [--only cli|api|acp]
#
# BUILD_DIR holds drover, drover-gateway, fixtures/fake_agent and bench/drover_api_bench (a
# Release build measures what users get). Three parts:
#
#   cli  1,000 documents through a fake CLI route that sleeps 20 ms per document (fake_agent
#        --mode slow-start --ms 20, the document's text as the prompt), concurrency 8: drover
#        batch's wall time against the ideal (1000 x 20 ms / 8 = 2.5 s) and against `xargs -P 8`
#        running the same fake directly with the same prompts (the floor of spawning 1,000
#        processes 8 at a time); drover's peak RSS from /usr/bin/time -v. N runs of each
#        (default 3), interleaved; medians.
#   api  10,000 documents through an API route on the mock gateway (drover mock-gateway on
#        loopback), concurrency 64: documents/s of drover batch against the API transport alone
#        (bench/drover_api_bench, one Client with 64 requests in flight on the same number of
#        requests, with the prompts the batch renders: the 400-request benchmark's method), both
#        on the same gateway, interleaved, N runs of each; medians.
#   acp  only when the real codex-acp is installed (scripts/install-harnesses.sh codex-acp; never
#        installed by this script) and not --no-acp: 100 documents at concurrency 4 through codex-acp
#        against the mock gateway (tests/harness_suite/acp-gateway-script.json, a throwaway HOME
#        from scripts/harness-env.sh): drover batch (its warm pool: an agent start per worker)
#        against one `drover run` per document, 4 at a time (xargs -P 4; an agent start per
#        document). One run of each.
#
# Output: progress on stderr; one JSON line per part on stdout, then a markdown table. Every run
# must succeed for every document (the output file is checked); exit 1 otherwise, 2 bad arguments.
# Environment: DROVER_CACHE_DIR (where the harnesses are cached), DROVER_BENCH_KEEP=1 (keep the
# work directory).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/harness-env.sh
. "$repo/scripts/harness-env.sh"

usage() {
  echo "usage: $0 BUILD_DIR [--runs N] [--no-acp] [--only cli|api|acp]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
build=$(cd "$1" 2>/dev/null && pwd) || usage
shift
runs=3 acp=1 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --no-acp) acp=0; shift ;;
    --only) [ $# -ge 2 ] || usage; only=$2; shift 2
            case "$only" in cli|api|acp) ;; *) usage ;; esac ;;
    *) usage ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) echo "batch_throughput: --runs takes a positive integer" >&2; usage ;; esac
for f in drover drover-gateway fixtures/fake_agent bench/drover_api_bench; do
  [ -x "$build/$f" ] || { echo "batch_throughput: $build/$f is missing (build it)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "batch_throughput: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "batch_throughput: python3 is not installed" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/drover-batch-bench.XXXXXX")
cleanup() {
  henv_stop_gateway
  if [ "${DROVER_BENCH_KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
# drover may be rebuilt while this runs: private copies.
mkdir "$work/bin"
cp "$build/drover" "$build/drover-gateway" "$build/fixtures/fake_agent" "$build/bench/drover_api_bench" "$work/bin/"
drover="$work/bin/drover" agent="$work/bin/fake_agent"
results="$work/results.jsonl"
: >"$results"
start=$(date +%s)
echo "batch_throughput: drover $("$drover" --version 2>/dev/null | head -1); $(nproc) CPUs;" \
     "load $(cut -d' ' -f1-3 /proc/loadavg); $runs runs per side" >&2

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# make_docs DIR N: N small text documents, each naming itself.
make_docs() {
  mkdir -p "$1"
  python3 - "$1" "$2" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, "doc-%05d.txt" % i), "w") as f:
        f.write("Document %d: the quick brown fox jumps over the lazy dog.\n" % i)
PY
}

# check_out FILE N: FILE has N records, every one without an error.
check_out() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
recs = {}
for line in open(path, encoding="utf-8"):
    r = json.loads(line)
    recs[r["id"]] = r
bad = [i for i, r in recs.items() if r.get("error") is not None]
if len(recs) != n or bad:
    print("batch_throughput: %s: %d records of %d, %d failed%s" % (
        path, len(recs), n, len(bad), (": " + json.dumps(recs[bad[0]]["error"])) if bad else ""),
        file=sys.stderr)
    sys.exit(1)
PY
}

want() { [ -z "$only" ] || [ "$only" = "$1" ]; }

# ---- cli: 1,000 documents, a fake CLI sleeping 20 ms, concurrency 8 -------------------------------
cli_docs=1000 cli_ms=20 cli_conc=8
if want cli; then
make_docs "$work/cli-docs" "$cli_docs"
cat >"$work/cli.json" <<JSON
{"providers": {"fake": {"accounts": [{"id": "slow", "models": ["m"], "transport": {"kind": "cli",
  "command": "$agent",
  "cli": {"argsTemplate": ["--mode", "slow-start", "--ms", "$cli_ms", "--prompt", "{prompt}"],
          "input": "arg", "parser": {"kind": "text"}}}}]}}}
JSON
# xargs gets the very prompts drover renders: each document's text, one per line.
for f in "$work"/cli-docs/*; do head -c -1 "$f"; printf '\n'; done >"$work/cli-prompts.txt"
cli_drover=() cli_xargs=() cli_rss=()
echo "--- cli: $cli_docs documents, fake CLI sleeping $cli_ms ms, concurrency $cli_conc" >&2
for r in $(seq "$runs"); do
  rm -f "$work/cli-out.jsonl"
  t0=$(now_ms)
  /usr/bin/time -v -o "$work/cli-time.txt" "$drover" batch --config "$work/cli.json" --route fake \
    --deliver inline --prompt '{document.text}' --concurrency "$cli_conc" --quiet \
    --out "$work/cli-out.jsonl" "$work/cli-docs" >/dev/null 2>"$work/cli.err" ||
    { echo "batch_throughput: drover batch failed:" >&2; tail -5 "$work/cli.err" >&2
      check_out "$work/cli-out.jsonl" "$cli_docs"; exit 1; }
  t1=$(now_ms)
  check_out "$work/cli-out.jsonl" "$cli_docs"
  cli_drover+=($((t1 - t0)))
  cli_rss+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/cli-time.txt")")
  t0=$(now_ms)
  xargs -d '\n' -P "$cli_conc" -n 1 "$agent" --mode slow-start --ms "$cli_ms" --prompt \
    <"$work/cli-prompts.txt" >/dev/null
  t1=$(now_ms)
  cli_xargs+=($((t1 - t0)))
  echo "run $r: drover ${cli_drover[-1]} ms (peak RSS ${cli_rss[-1]} KiB), xargs ${cli_xargs[-1]} ms" >&2
done
python3 - "$results" "$cli_docs" "$cli_ms" "$cli_conc" "${cli_drover[*]}" "${cli_xargs[*]}" "${cli_rss[*]}" <<'PY'
import json, statistics, sys
out, n, ms, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d, x, rss = ([float(v) for v in a.split()] for a in sys.argv[5:8])
ideal = n * ms / conc
dm, xm = statistics.median(d), statistics.median(x)
row = {"part": "cli", "documents": n, "concurrency": conc, "sleep_ms": ms,
       "drover_ms": dm, "xargs_ms": xm, "ideal_ms": ideal,
       "drover_vs_xargs": round(dm / xm, 3), "drover_vs_ideal": round(dm / ideal, 3),
       "peak_rss_mib": round(max(rss) / 1024, 1), "runs": len(d)}
print(json.dumps(row))
open(out, "a").write(json.dumps(row) + "\n")
PY
fi

# ---- api: 10,000 documents on the mock gateway, concurrency 64 ------------------------------------
api_docs=10000 api_conc=64
if want api; then
make_docs "$work/api-docs" "$api_docs"
echo '{"rules": []}' >"$work/no-rules.json"  # every answer the default `MOCK: <prompt>`
henv_start_gateway "$work" "$work/no-rules.json" "$drover" mock-gateway ||
  { echo "batch_throughput: the mock gateway did not start:" >&2; cat "$work/gateway.err" >&2; exit 1; }
# The same account as bench/drover_api_bench's.
cat >"$work/api.json" <<JSON
{"routing": {"fallback": {"on": {}}},
 "providers": {"openai": {"accounts": [{"id": "main", "models": ["gpt-4.1"],
   "transport": {"kind": "api", "api": {"baseUrl": "$HENV_GATEWAY_URL/v1", "apiKeyEnv": "DROVER_BENCH_KEY"}}}]}}}
JSON
export DROVER_BENCH_KEY=sk-bench
# The transport alone sends the very prompts the batch renders (the gateway echoes them back).
api_prompt=$'Document {n}: the quick brown fox jumps over the lazy dog.\n'
api_drover=() api_alone=()
echo "--- api: $api_docs documents, mock gateway, concurrency $api_conc" >&2
for r in $(seq "$runs"); do
  rm -f "$work/api-out.jsonl"
  t0=$(now_ms)
  "$drover" batch --config "$work/api.json" --route openai --deliver inline \
    --prompt '{document.text}' --concurrency "$api_conc" --quiet \
    --out "$work/api-out.jsonl" "$work/api-docs" >/dev/null 2>"$work/api.err" ||
    { echo "batch_throughput: drover batch failed:" >&2; tail -5 "$work/api.err" >&2
      check_out "$work/api-out.jsonl" "$api_docs"; exit 1; }
  t1=$(now_ms)
  check_out "$work/api-out.jsonl" "$api_docs"
  api_drover+=("$(python3 -c "print(round($api_docs / (($t1 - $t0) / 1000), 1))")")
  line=$("$work/bin/drover_api_bench" --requests "$api_docs" --concurrency "$api_conc" \
           --base-url "$HENV_GATEWAY_URL" --no-curl --prompt "$api_prompt" | grep '^drover (Clients)')
  api_alone+=("$(sed -n 's/^[^:]*: *\([0-9.]*\) req\/s.*/\1/p' <<<"$line")")
  echo "run $r: drover batch ${api_drover[-1]} documents/s, API transport alone ${api_alone[-1]} requests/s" >&2
done
henv_stop_gateway
python3 - "$results" "$api_docs" "$api_conc" "${api_drover[*]}" "${api_alone[*]}" <<'PY'
import json, statistics, sys
out, n, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d, a = ([float(v) for v in s.split()] for s in sys.argv[4:6])
dm, am = statistics.median(d), statistics.median(a)
row = {"part": "api", "documents": n, "concurrency": conc, "drover_docs_per_s": dm,
       "transport_req_per_s": am, "drover_vs_transport": round(dm / am, 3), "runs": len(d)}
print(json.dumps(row))
open(out, "a").write(json.dumps(row) + "\n")
PY
fi

# ---- acp: 100 documents through the real codex-acp, concurrency 4 ---------------------------------
acp_docs=100 acp_conc=4
cache=${DROVER_CACHE_DIR:-$HOME/.cache/drover}
acp_bin=""
if [ "$acp" = 1 ] && want acp; then
  # Where scripts/install-harnesses.sh puts it.
  acp_bin="$cache/harnesses/codex-acp/node_modules/.bin/codex-acp"
  [ -x "$acp_bin" ] || acp_bin=""
  [ -n "$acp_bin" ] || echo "batch_throughput: acp: skipped, codex-acp is not installed in $cache/harnesses" >&2
fi
if [ -n "$acp_bin" ]; then
  echo "--- acp: $acp_docs documents, codex-acp, concurrency $acp_conc" >&2
  home="$work/home" tmp="$work/tmp"
  mkdir -p "$home" "$tmp" "$work/acp-cwd"
  make_docs "$work/acp-docs" "$acp_docs"
  for f in "$work"/acp-docs/*; do head -c -1 "$f"; printf '\n'; done >"$work/acp-prompts.txt"
  henv_start_gateway "$work" "$repo/tests/harness_suite/acp-gateway-script.json" "$drover" mock-gateway ||
    { echo "batch_throughput: the mock gateway did not start:" >&2; cat "$work/gateway.err" >&2; exit 1; }
  henv_configure codex-acp "$home" "$HENV_GATEWAY_URL" >/dev/null
  acp_env=(env -i PATH="$(dirname "$acp_bin"):$(henv_base_path)" HOME="$home" TMPDIR="$tmp"
           LANG=C.UTF-8 "${HENV_ENV[@]}")
  acp_args=(--route codex-acp)  # the preset's model and permission policy on both sides
  # One prompt first, untimed: codex creates its state database in the fresh HOME (several codex
  # processes doing that at once can fail to), and both sides then start from the same warm HOME.
  (cd "$work/acp-cwd" && "${acp_env[@]}" "$drover" run "${acp_args[@]}" "warm up" >/dev/null 2>"$work/acp-warm.err") ||
    { echo "batch_throughput: drover run on codex-acp failed:" >&2; tail -5 "$work/acp-warm.err" >&2; exit 1; }
  t0=$(now_ms)
  (cd "$work/acp-cwd" && "${acp_env[@]}" "$drover" batch "${acp_args[@]}" --deliver inline \
     --prompt '{document.text}' --concurrency "$acp_conc" --quiet --out "$work/acp-out.jsonl" \
     "$work/acp-docs" >/dev/null 2>"$work/acp.err") ||
    { echo "batch_throughput: drover batch on codex-acp failed:" >&2; tail -5 "$work/acp.err" >&2
      check_out "$work/acp-out.jsonl" "$acp_docs"; exit 1; }
  t1=$(now_ms)
  check_out "$work/acp-out.jsonl" "$acp_docs"
  acp_batch=$((t1 - t0))
  t0=$(now_ms)
  (cd "$work/acp-cwd" && "${acp_env[@]}" xargs -d '\n' -P "$acp_conc" -n 1 "$drover" run \
     "${acp_args[@]}" <"$work/acp-prompts.txt" >/dev/null 2>"$work/acp-run.err") ||
    { echo "batch_throughput: drover run on codex-acp failed:" >&2; tail -5 "$work/acp-run.err" >&2; exit 1; }
  t1=$(now_ms)
  acp_runs=$((t1 - t0))
  henv_stop_gateway
  echo "drover batch $acp_batch ms, drover run per document $acp_runs ms" >&2
  python3 - "$results" "$acp_docs" "$acp_conc" "$acp_batch" "$acp_runs" <<'PY'
import json, sys
out, n, conc, b, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
row = {"part": "acp", "documents": n, "concurrency": conc, "batch_ms": b, "runs_ms": r,
       "batch_docs_per_s": round(n / b * 1000, 2), "runs_docs_per_s": round(n / r * 1000, 2),
       "batch_vs_runs": round(r / b, 2)}
print(json.dumps(row))
open(out, "a").write(json.dumps(row) + "\n")
PY
fi

python3 - "$results" <<'PY'
import json, sys
rows = {r["part"]: r for r in map(json.loads, open(sys.argv[1]))}
print()
print("| part | drover batch | baseline | ratio |")
print("|---|---|---|---|")
if "cli" in rows:
  c = rows["cli"]
  print("| %d docs, fake CLI %d ms, concurrency %d | %.0f ms, peak RSS %.1f MiB | xargs -P %d: %.0f ms; ideal %.0f ms | %.3f x xargs, %.3f x ideal |" % (
    c["documents"], c["sleep_ms"], c["concurrency"], c["drover_ms"], c["peak_rss_mib"],
    c["concurrency"], c["xargs_ms"], c["ideal_ms"], c["drover_vs_xargs"], c["drover_vs_ideal"]))
if "api" in rows:
  a = rows["api"]
  print("| %d docs, API on the mock gateway, concurrency %d | %.0f docs/s | API transport alone: %.0f req/s | %.3f |" % (
    a["documents"], a["concurrency"], a["drover_docs_per_s"], a["transport_req_per_s"], a["drover_vs_transport"]))
if "acp" in rows:
  p = rows["acp"]
  print("| %d docs, codex-acp, concurrency %d | %.2f docs/s (warm pool) | drover run per doc: %.2f docs/s | %.2f x |" % (
        p["documents"], p["concurrency"], p["batch_docs_per_s"], p["runs_docs_per_s"], p["batch_vs_runs"]))
PY
echo "batch_throughput: runtime $(( $(date +%s) - start )) s" >&2
