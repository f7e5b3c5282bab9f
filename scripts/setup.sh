#!/usr/bin/env bash
# Installs the Debian packages the workbench needs (only what is missing), then
# configures and builds it in ./build. Safe to run again. Works as root or via sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config
  libeigen3-dev libhdf5-dev libopenblas-dev
  nlohmann-json3-dev libcli11-dev libpcre2-dev libicu-dev libxxhash-dev
  libgtest-dev libbenchmark-dev
  qt6-base-dev libqcustomplot-dev libgl-dev
  libopenmpi-dev openmpi-bin
  xvfb xauth
  jq
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

BUILD_DIR="${MWB_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "built into $BUILD_DIR" >&2
