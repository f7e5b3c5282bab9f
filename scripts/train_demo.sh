#!/usr/bin/env bash
# Trains resources/models/demo.h5 from scratch in two stages (docs/demo-model.md):
#   1. resources/train/demo_stage1.json: from random weights on resources/data/corpus.txt,
#      every subject of several tokens routed through its last token, stopped at step
#      5,500 of an 8,000-step schedule;
#   2. resources/train/demo.json: fine-tunes that for 1,000 steps with half the subjects
#      routed, on a corpus that also states the facts in 12 more templates per relation
#      (made here by tools/make_data.py --extra-templates; the held-out templates and
#      every data set stay those of resources/data).
# About 2.5 h on 2 cores with a -DMWB_NATIVE=ON build. Each stage checkpoints; run the
# script again with --resume after an interruption.
# With --moe the same two stages train the mixture-of-experts demo model
# resources/models/moe-demo.h5 instead (moe_stage1.json, moe.json; docs/mixture-of-experts.md).
#   scripts/train_demo.sh [--moe] [--resume] [MWB]
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
RESUME=0
FIRST=demo_stage1 SECOND=demo
if [ "${1:-}" = "--moe" ]; then FIRST=moe_stage1 SECOND=moe; shift; fi
if [ "${1:-}" = "--resume" ]; then RESUME=1; shift; fi
MWB="${1:-$SRC/build/app/mwb}"

stage() {  # stage NAME: train resources/train/NAME.json, resuming from its checkpoint if asked
  local config="$SRC/resources/train/$1.json"
  local ckpt
  ckpt="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkpoint"])' "$config")"
  if [ "$RESUME" = 1 ] && [ -f "$SRC/resources/train/$ckpt.state" ]; then
    "$MWB" train --config "$config" --resume
  else
    "$MWB" train --config "$config"
  fi
}

python3 "$SRC/tools/make_data.py" --extra-templates --out "$SRC/resources/train/extra-templates"
stage "$FIRST"
stage "$SECOND"
