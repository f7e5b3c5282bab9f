#!/usr/bin/env bash
# Set up (scripts/setup.sh) and start on the bundled demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
MODEL="${1:-resources/models/demo.h5}"
exec "${MWB_BUILD_DIR:-build}"/app/mwb predict "$MODEL" --prompt "The Eiffel Tower is located in the city of" --top 5
