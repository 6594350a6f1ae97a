#!/usr/bin/env bash
# The whole test suite: a Debug build with AddressSanitizer + UndefinedBehaviorSanitizer, warnings
# as errors, then ctest. Extra arguments go to ctest (e.g. -L parsers, -R Process).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDROVER_SANITIZE=ON -DDROVER_WERROR=ON \
  -DDROVER_UNITY_BUILD=ON
cmake --build build-asan
ctest --test-dir build-asan --output-on-failure -j2 --timeout 300 "$@"
