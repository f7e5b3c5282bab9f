#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${MWB_BUILD_DIR:-build}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
ctest --output-on-failure -j1 --timeout 900
