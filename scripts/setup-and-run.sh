#!/usr/bin/env bash
# Fresh Debian machine -> build/drover, then one real run: a prompt through the example route.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDROVER_BUILD_TESTS=ON
cmake --build build --target drover fake_agent
build/drover run --config examples/drover.json "Say hello to drover"
