#!/bin/sh
# Screenshots of every workbench tab for docs/workbench.md: starts the workbench under
# xvfb-run, lets it run each tab's action (--screenshot-tour) and saves PNGs.
#
#   scripts/screenshots.sh [MODEL.h5] [OUT_DIR]
#
# MODEL defaults to the demo model (resources/models/demo.h5), OUT_DIR to
# docs/screenshots. WORKBENCH may name the executable (default: build*/app/gui/workbench).
# SIZES lists window sizes (default "1600x1000 1024x700"): the first goes into OUT_DIR,
# every other into OUT_DIR/WxH.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/resources/models/demo.h5}
out=${2:-$root/docs/screenshots}
prompt=${PROMPT:-The Eiffel Tower is located in the city of}
subject=${SUBJECT:-Eiffel Tower}

if [ -z "${WORKBENCH:-}" ]; then
    WORKBENCH=$(ls -t "$root"/build*/app/gui/workbench 2>/dev/null | head -n 1 || true)
fi
if [ -z "$WORKBENCH" ] || [ ! -x "$WORKBENCH" ]; then
    echo "screenshots.sh: build the workbench first (cmake --build build --target workbench)" >&2
    exit 1
fi
if [ ! -f "$model" ]; then
    echo "screenshots.sh: no model at $model" >&2
    exit 1
fi
command -v xvfb-run >/dev/null || { echo "screenshots.sh: xvfb-run is missing (apt install xvfb)" >&2; exit 1; }

mkdir -p "$out"
# Settings (recent files) of the tour stay out of the user's own.
export XDG_CONFIG_HOME=$(mktemp -d)
trap 'rm -rf "$XDG_CONFIG_HOME"' EXIT
first=1
for size in ${SIZES:-1600x1000 1024x700}; do
    dir=$out
    [ "$first" = 1 ] || dir=$out/$size
    first=0
    mkdir -p "$dir"
    xvfb-run -a -s "-screen 0 ${size}x24" \
        "$WORKBENCH" "$model" --prompt "$prompt" --subject "$subject" --size "$size" --screenshot-tour "$dir"
done
