#!/usr/bin/env bash
# The demo-model figures of docs/demo-model.md and docs/editing.md, measured again on
# MODEL: knowledge (training, held-out and unseen templates), the subject check, ROME
# over 200 CounterFact cases and MEMIT with 100 facts at once. Each command's output is
# kept in OUTDIR; the last lines are a summary. Takes about 20 minutes on 2 cores.
#   scripts/measure_model.sh MODEL.h5 OUTDIR [MWB]
set -euo pipefail
MODEL="$1"
OUT="$2"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
MWB="${3:-$SRC/build/app/mwb}"
DATA="$SRC/resources/data"
FACT_SETS="facts paraphrase_facts unseen_phrasing_facts"
mkdir -p "$OUT"

run() {  # run NAME command...: stdout to OUT/NAME, progress dropped
  local name="$1"; shift
  echo "== $name" >&2
  "$@" > "$OUT/$name" 2> "$OUT/$name.err"
}

for set in $FACT_SETS; do
  run "knowledge_$set.txt" "$MWB" eval-knowledge "$MODEL" --facts "$DATA/$set.json"
done
run subject_check.txt "$MWB" subject-check "$MODEL" --facts "$DATA/facts.json" --layers 0,1,2
run subject_check_whole.txt "$MWB" subject-check "$MODEL" --facts "$DATA/facts.json" --layers 1 --whole-subject
run memit_100.json "$MWB" eval "$MODEL" --cases "$DATA/counterfact.json" --limit 100 --batch 100 \
  --method memit --no-fluency --json
run rome_200.json "$MWB" eval "$MODEL" --cases "$DATA/counterfact.json" --limit 200 --json

summary() {  # efficacy / paraphrase / neighbourhood of an eval JSON, edited and unedited
  jq -r 'def r: (. * 10 | round) / 10; "\(.edited.efficacy | r) / \(.edited.paraphrase | r) / \(.edited.neighborhood | r) % (unedited neighbourhood \(.unedited.neighborhood | r) %)"' "$1"
}
{
  echo "model: $MODEL"
  for set in $FACT_SETS; do
    echo "knowledge, $set: $(cat "$OUT/knowledge_$set.txt")"
  done
  grep "^layer .*sigma" "$OUT/subject_check.txt" | sed 's/^/subject check, last token: /'
  grep "^layer .*sigma" "$OUT/subject_check_whole.txt" | sed 's/^/subject check, whole subject: /'
  echo "ROME, 200 cases (eff / para / nbr): $(summary "$OUT/rome_200.json")"
  echo "MEMIT, 100 facts (eff / para / nbr): $(summary "$OUT/memit_100.json")"
} | tee "$OUT/summary.txt"
