#!/usr/bin/env bash
# find_package(drover) works for an embedding program: install the build into a scratch prefix,
# build examples/embed against it, and run it through the fake agent.
#   find_package_test.sh BUILD_DIR SOURCE_DIR FAKE_AGENT
set -euo pipefail
build=$1 source=$2 agent=$3
prefix=$(mktemp -d "${TMPDIR:-/tmp}/drover-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$source/examples/embed" -B "$prefix/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/build" >/dev/null
cat > "$prefix/drover.json" <<JSON
{"providers":{"fake":{"accounts":[{"id":"a","transport":{"kind":"cli","command":"$agent",
 "cli":{"argsTemplate":["--mode","jsonl","--prompt","{prompt}"],
        "parser":{"kind":"jsonl","text":{"path":"text","wherePath":"type","whereEquals":"delta"}}}},
 "models":["m"]}]}}}
JSON
out=$("$prefix/build/embed" "$prefix/drover.json" "embedded hello" 2>"$prefix/stderr")
grep -q "^echo: embedded hello$" <<<"$out" || { echo "unexpected output: $out"; exit 1; }
grep -q "^\[delta\]" "$prefix/stderr" || { echo "no delta events"; cat "$prefix/stderr"; exit 1; }
echo "find_package(drover) example built and ran: $(head -1 <<<"$out")"
