#!/usr/bin/env bash
# Installs drover's build and test dependencies from Debian's packages (only what is missing).
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libuv1-dev nlohmann-json3-dev libspdlog-dev libboost-dev libboost-filesystem-dev
  libcurl4-openssl-dev libcli11-dev libcpp-httplib-dev libmagic-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libvalijson-dev json-schema-test-suite  # batch --json-schema; the official schema test cases
  slurmctld slurmd slurm-client munge     # the sharding test's single-node Slurm (label slurm)
  time  # /usr/bin/time -v: peak RSS in bench/output_memory.sh
)
# Node.js and npm run the official SDKs of the real-client test (any Node >= 18 will do).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
