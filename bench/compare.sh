#!/usr/bin/env bash
# mwb's inference speed against baselines measured in the same run, on the same
# weights: PyTorch CPU (the GPT-2 forward pass built from the model file's tensors,
# its logits checked against mwb's) and OpenBLAS sgemm through numpy; and the exact
# causal trace against its reference algorithm (`mwb trace --naive`).
#
#   bench/compare.sh build/app/cli/mwb [TOKENS...]     (default: 64 512)
#
# Environment: OMP_NUM_THREADS (default: every core) is the thread count of every
# part; REPEAT (default 5) the runs per figure, of which the median is reported.
# PyTorch is an optional, benchmark-only dependency (apt install python3-torch
# python3-h5py): without it that part is skipped with a message. The figures are in
# docs/performance.md.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: bench/compare.sh path/to/mwb [prefill token counts...]" >&2
  exit 2
fi
MWB="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
TOKENS=("$@")
[ ${#TOKENS[@]} -gt 0 ] || TOKENS=(64 512)
SRC="$(cd "$(dirname "$0")/.." && pwd)"
HELPER="$SRC/bench/compare_torch.py"
# The system Python: the one first on PATH (pyenv) has neither torch nor h5py.
PY=/usr/bin/python3
THREADS="${OMP_NUM_THREADS:-$(nproc)}"
REPEAT="${REPEAT:-5}"
export OMP_NUM_THREADS="$THREADS"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
MODEL="$OUT/gpt2-small.h5"

echo "== model: mwb init --shape gpt2-small --seed 1 (random weights), $THREADS threads" >&2
"$MWB" init --shape gpt2-small --seed 1 --out "$MODEL" >/dev/null

echo "== mwb bench: prefill ${TOKENS[*]} tokens; decoding 128 tokens after 64" >&2
for n in "${TOKENS[@]}"; do
  "$MWB" bench "$MODEL" --prompt-tokens "$n" --decode-tokens 0 --repeat "$REPEAT" --json \
    >"$OUT/mwb-prefill-$n.json"
done
"$MWB" bench "$MODEL" --prompt-tokens 64 --decode-tokens 128 --repeat "$REPEAT" --json >"$OUT/mwb-decode.json"

echo "== PyTorch CPU on the same weights" >&2
if "$PY" -c 'import torch, h5py' 2>/dev/null; then
  # Debian's torch runs its products on OpenBLAS's own threads while its OpenMP
  # threads spin-wait for work; on 2 cores the two fight (64 tokens: 1.99 s against
  # 0.34 s with the spinning off), so torch gets its better setting.
  OMP_WAIT_POLICY=PASSIVE "$PY" "$HELPER" torch --model "$MODEL" --mwb "$MWB" --tokens "${TOKENS[@]}" --threads "$THREADS" \
    --repeat "$REPEAT" --out "$OUT/torch.json"
else
  echo "PyTorch or h5py is missing for $PY (apt install python3-torch python3-h5py): the PyTorch comparison is skipped" >&2
fi

echo "== OpenBLAS sgemm through numpy" >&2
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are set on these machines for old OpenBLAS
# builds; for this measurement OpenBLAS chooses its kernel itself.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" \
  "$PY" "$HELPER" sgemm --rows "${TOKENS[@]}" --threads "$THREADS" --out "$OUT/sgemm.json"

echo "== causal trace, hidden, 10 samples, demo model: fast vs --naive" >&2
DEMO="$OUT/demo.h5"  # a copy, so that nothing is written beside the repository's file
cp "$SRC/resources/models/demo.h5" "$DEMO"
trace_seconds() {  # the median wall time of REPEAT runs of `mwb trace` with extra flags "$@"
  local times=()
  for _ in $(seq "$REPEAT"); do
    local start end
    start=$(date +%s.%N)
    "$MWB" trace "$DEMO" --prompt "The Eiffel Tower is located in the city of" --subject "The Eiffel Tower" \
      --kind hidden --samples 10 --json "$@" >/dev/null
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
fast=$(trace_seconds)
naive=$(trace_seconds --naive)
printf '{"fast_seconds": %s, "naive_seconds": %s}\n' "$fast" "$naive" >"$OUT/trace.json"

echo >&2
"$PY" "$HELPER" report --dir "$OUT"
