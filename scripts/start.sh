#!/usr/bin/env bash
# Set up (scripts/setup.sh) and open the workbench on the bundled demo model (or the
# model given as the first argument). Without a display, print the demo model's
# prediction with the command line instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD="${MWB_BUILD_DIR:-build}"
MODEL="${1:-resources/models/demo.h5}"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$BUILD/app/gui/workbench" ]; then
  exec "$BUILD/app/gui/workbench" "$MODEL"
fi
echo "no display: showing the model's prediction on the command line (the GUI needs a display)" >&2
exec "$BUILD/app/mwb" predict "$MODEL" --prompt "The Eiffel Tower is located in the city of" --top 5
