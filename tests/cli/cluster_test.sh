#!/usr/bin/env bash
# The batch jobs under MPI: each writes the same files with 2 ranks as with 1 (and 3
# for the statistics), a rank that fails ends the job with one sentence and no output
# file, a killed job resumes from its checkpoint.
# Usage: cluster_test.sh CHECK path/to/mwb path/to/source path/to/mpiexec
#   CHECK: stats | trace | eval | eval-knowledge | failure | resume
# Exits 77 (ctest SKIP) when the build has no MPI (an empty mpiexec).
set -u
CHECK="$1"; MWB=$(realpath "$2"); SRC=$(realpath "$3"); MPIEXEC="${4:-}"
[ -n "$MPIEXEC" ] || { echo "this build has no MPI: skipped"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# One thread per rank: two ranks share this machine's cores, and a result is the
# same bit for bit only for the same thread count.
export OMP_NUM_THREADS=1
DATA="$SRC/resources/data"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run NP DIR command...: mwb with NP ranks (1: without mpirun, as a plain run);
# stdout to DIR/stdout, stderr to DIR/stderr, exit code to DIR/rc. Each run gets its
# own copy of the demo model, so that statistics cached by one are not read by another.
run() {
  local np="$1" dir="$2"; shift 2
  mkdir -p "$dir"; cp "$SRC/resources/models/demo.h5" "$dir/demo.h5"
  if [ "$np" = 1 ]; then
    (cd "$dir" && "$MWB" "$@" >stdout 2>stderr; echo $? >rc)
  else
    (cd "$dir" && "$MPIEXEC" -q --allow-run-as-root --oversubscribe -np "$np" "$MWB" "$@" >stdout 2>stderr; echo $? >rc)
  fi
  [ "$(cat "$dir/rc")" = 0 ] || [ -n "${EXPECT_FAILURE:-}" ] || fail "$np rank(s): mwb $* -> $(cat "$dir/stderr")"
}
# same A B file...: every file is identical in both folders.
same() {
  local a="$1" b="$2"; shift 2
  for f in "$@"; do
    cmp -s "$a/$f" "$b/$f" || fail "$f differs between $(basename "$a") and $(basename "$b")"
  done
}

case "$CHECK" in
stats)
  # The second moments are summed in fixed token shards, in shard order: bit-identical
  # for any number of ranks (docs/cluster.md).
  for np in 1 2 3; do run "$np" "$TMP/r$np" stats demo.h5 --tokens 3000 --shard-tokens 512 --layers 1,4; done
  files=$(cd "$TMP/r1" && ls demo.h5.mwbstats/*.bin)
  [ "$(echo "$files" | wc -w)" = 2 ] || fail "expected two cached layers, got: $files"
  same "$TMP/r1" "$TMP/r2" stdout $files
  same "$TMP/r1" "$TMP/r3" stdout $files
  ;;
trace)
  for np in 1 2; do run "$np" "$TMP/r$np" trace demo.h5 --facts "$DATA/facts.json" --limit 10 --samples 3 --out aie.json; done
  same "$TMP/r1" "$TMP/r2" stdout aie.json
  ;;
eval)
  for np in 1 2; do
    run "$np" "$TMP/r$np" eval demo.h5 --cases "$DATA/counterfact.json" --limit 3 --no-fluency --layer 3 \
      --stats-tokens 1000 --guard-tokens 0 --steps 3 --out eval.json
  done
  same "$TMP/r1" "$TMP/r2" stdout eval.json
  grep -q '"case_id"' "$TMP/r1/eval.json" || fail "eval.json has no per-case metrics"
  ;;
eval-knowledge)
  for np in 1 2; do run "$np" "$TMP/r$np" eval-knowledge demo.h5 --facts "$DATA/facts.json" --limit 150 --out k.json; done
  same "$TMP/r1" "$TMP/r2" stdout k.json
  ;;
failure)
  # A rank that fails at a shard: one sentence from rank 0 naming it, no output file.
  export EXPECT_FAILURE=1
  MWB_FAIL_SHARD=1:1 run 2 "$TMP/f" eval-knowledge demo.h5 --facts "$DATA/facts.json" --limit 150 --out k.json
  # Progress lines (a stage's "name...", then every ten seconds "name: done/total ...
  # elapsed, ETA ...", which a loaded machine reaches) are not the error.
  err=$(grep -v -e '\.\.\.$' -e ' s elapsed, ETA ' "$TMP/f/stderr")
  [ "$(cat "$TMP/f/rc")" != 0 ] || fail "the failing job exited 0"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && grep -q '^mwb: rank 1 of 2 failed: .*shard 1' <<<"$err" \
    || fail "expected one sentence naming rank 1, got: $err"
  [ ! -e "$TMP/f/k.json" ] || fail "the failed job left k.json"
  [ -z "$(ls -A "$TMP/f" | grep -v -e demo.h5 -e stdout -e stderr -e rc)" ] || fail "the failed job left $(ls -A "$TMP/f")"
  # Bad input on every rank alike: said once, by rank 0.
  run 2 "$TMP/b" trace demo.h5 --facts "$TMP/missing.json" --out aie.json
  err=$(grep -v -e '\.\.\.$' -e ' s elapsed, ETA ' "$TMP/b/stderr")
  [ "$err" = "mwb: $TMP/missing.json: cannot open the file" ] || fail "bad input under MPI: $err"
  ;;
resume)
  # Rank 1 is killed (SIGKILL, as a lost node) at shard 3 of 6; the job run again
  # with the same checkpoint redoes only the shards that were not kept.
  EXPECT_FAILURE=1 MWB_FAIL_SHARD=1:3:kill run 2 "$TMP/k" trace demo.h5 --facts "$DATA/facts.json" \
    --limit 24 --samples 2 --checkpoint ck --out aie.json
  [ "$(cat "$TMP/k/rc")" != 0 ] || fail "the killed job exited 0"
  [ ! -e "$TMP/k/aie.json" ] || fail "the killed job left aie.json"
  kept=$(ls "$TMP/k/ck" | grep -c '^shard-')
  [ "$kept" -ge 1 ] && [ "$kept" -lt 6 ] || fail "expected some of the 6 shards kept, got $kept"
  (cd "$TMP/k" && "$MPIEXEC" -q --allow-run-as-root --oversubscribe -np 2 "$MWB" trace demo.h5 \
     --facts "$DATA/facts.json" --limit 24 --samples 2 --checkpoint ck --out aie.json >stdout 2>stderr) \
    || fail "the resumed job failed: $(cat "$TMP/k/stderr")"
  grep -q "resuming from ck: $kept of 6 shards already finished" "$TMP/k/stderr" \
    || fail "the resumed job did not resume: $(cat "$TMP/k/stderr")"
  run 1 "$TMP/whole" trace demo.h5 --facts "$DATA/facts.json" --limit 24 --samples 2 --out aie.json
  same "$TMP/k" "$TMP/whole" aie.json
  # A checkpoint of another job (other options) is refused in one sentence.
  (cd "$TMP/k" && "$MWB" trace demo.h5 --facts "$DATA/facts.json" --limit 24 --samples 3 --checkpoint ck \
     --out other.json >/dev/null 2>err) && fail "another job's checkpoint was accepted"
  grep -q "^mwb: the checkpoint ck belongs to another job (its /params/samples differs)" "$TMP/k/err" \
    || fail "refusal: $(cat "$TMP/k/err")"
  ;;
*) echo "unknown check $CHECK"; exit 2 ;;
esac

if [ "$fails" -gt 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "cluster $CHECK: ok"
