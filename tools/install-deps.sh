#!/usr/bin/env bash
# Installs everything lockstep needs on a fresh Debian 12 (bookworm) machine. Idempotent; run as root.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git clang-14 clang-format-14 libclang-rt-14-dev lld-14
  afl++ googletest libgtest-dev librapidcheck-dev libz3-dev libbenchmark-dev libcli11-dev
  nlohmann-json3-dev libfmt-dev libspdlog-dev dpdk-dev libdpdk-dev qemu-system-x86 qemu-utils python3 procps
  libc++-14-dev libc++abi-14-dev llvm-14 zip unzip python3-yaml python3-jsonschema
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
