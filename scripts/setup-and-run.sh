#!/usr/bin/env bash
# Fresh Debian machine -> build/drover, then one real run: Claude Code (installed from npm into
# ~/.cache/drover) answering a prompt through drover, offline against drover's mock gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDROVER_BUILD_TESTS=ON
cmake --build build --target drover drover-gateway fake_agent
scripts/demo-real-harness.sh "Say hello to drover"
