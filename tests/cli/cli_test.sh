#!/usr/bin/env bash
# End-to-end checks of the mwb command line: every bad input gives one sentence on
# stderr and a non-zero exit (never a crash), and the main commands produce the
# documented JSON. Usage: cli_test.sh path/to/mwb path/to/source
set -u
MWB="$1"
SRC="$2"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The test writes only into $TMP: commands that cache statistics beside their model
# get a copy of the fixture, and the check at the end looks for anything new in $SRC.
touch "$TMP/start"
cp "$SRC/tests/fixtures/golden_gpt2_untied.h5" "$TMP/fixture.h5"
FIX="$TMP/fixture.h5"
CORPUS="$SRC/resources/data/heldout.txt"
fails=0

# expect_error EXIT_CODE PATTERN -- command...
expect_error() {
  local code="$1" pattern="$2"; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$pattern" <<<"$err" || [ "$(wc -l <<<"$err")" -gt 3 ]; then
    echo "FAIL: $* -> exit $rc, stderr: $err (expected exit $code and /$pattern/)"; fails=$((fails+1))
  fi
}
# expect_sentence EXIT_CODE PATTERN -- command...: stderr is exactly one line, "mwb: ...",
# besides the progress stages ("statistics...") a long command logs.
expect_sentence() {
  local code="$1" pattern="$2"; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  err=$(grep -v -e '^[a-z][^:]*\.\.\.$' -e '^[a-z][^:]*: [0-9]*/[0-9]* (.*s elapsed, ETA ' <<<"$err")
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$pattern" <<<"$err" || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] \
     || [ "${err#mwb: }" = "$err" ] || [ "${#err}" -gt 400 ]; then
    echo "FAIL: $* -> exit $rc, stderr: $(head -c 600 <<<"$err") (expected exit $code and one line /$pattern/)"; fails=$((fails+1))
  fi
}
expect_ok() {
  if ! "$@" >"$TMP/out" 2>"$TMP/err"; then echo "FAIL: $* -> $(cat "$TMP/err")"; fails=$((fails+1)); fi
}

expect_error 1 "cannot\|not found\|No such\|does not exist" -- "$MWB" info "$TMP/missing.h5"
echo "not hdf5" > "$TMP/bad.h5"
expect_error 1 "bad.h5" -- "$MWB" info "$TMP/bad.h5"
head -c 20000 "$FIX" > "$TMP/trunc.h5"
expect_error 1 "trunc.h5" -- "$MWB" info "$TMP/trunc.h5"
expect_error 1 "empty" -- "$MWB" predict "$FIX" --prompt ""
expect_error 1 "context" -- "$MWB" predict "$FIX" --prompt "this prompt is certainly longer than twenty-four bytes"
expect_error 1 "out of range" -- "$MWB" predict "$FIX" --ids 1,2,999
expect_error 1 "not a token id" -- "$MWB" predict "$FIX" --ids 1,x
expect_error 109 "not expected\|xtrac" -- "$MWB" predict "$FIX" --prompt hi --bogus
expect_error 1 "not in the prompt" -- "$MWB" trace "$FIX" --prompt "a cat sat" --subject dog
expect_error 1 "noise level" -- "$MWB" trace "$FIX" --prompt "a cat sat" --subject cat --noise nan
expect_error 1 "noise level" -- "$MWB" trace "$FIX" --prompt "a cat sat" --subject cat --noise -1
expect_error 1 "no {}" -- "$MWB" edit "$FIX" --prompt "cat is" --subject cat --target x --out "$TMP/e.h5" --layer 0 --corpus "$CORPUS"
expect_error 1 "layer 9 is outside" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --layer 9 --corpus "$CORPUS"
expect_error 1 "target" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target "" --out "$TMP/e.h5" --layer 0 --corpus "$CORPUS"
expect_sentence 1 "stop rule.*loss or target" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --layer 0 --corpus "$CORPUS" --stop-on nll
expect_sentence 1 "clamp factor must be positive" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --layer 0 --corpus "$CORPUS" --clamp -1
expect_sentence 1 "must not be negative" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --method memit --layers 0 --corpus "$CORPUS" --moment-weight -5
expect_error 1 "passes must be at least 1" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --method memit --layers 0 --corpus "$CORPUS" --passes 0
expect_error 1 "passes is for MEMIT" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --layer 0 --corpus "$CORPUS" --passes 2
expect_error 1 "null-space-threshold must be positive" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --method memit --layers 0 --corpus "$CORPUS" --null-space --null-space-threshold -1
expect_error 1 "null-space-absolute is for --null-space" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --method memit --layers 0 --corpus "$CORPUS" --null-space-absolute
expect_error 1 "null-space-l2 must be positive" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --method memit --layers 0 --corpus "$CORPUS" --null-space --null-space-l2 0
expect_error 1 "stats-of must be unedited or current" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --layer 0 --corpus "$CORPUS" --stats-of edited
expect_error 1 "unknown shape" -- "$MWB" init --shape gpt9 --out "$TMP/x.h5"
# A template without a relation is refused, in one sentence, before any work.
expect_error 1 "no text besides {}" -- "$MWB" edit "$FIX" --prompt "{}" --subject cat --target x --out "$TMP/e.h5" --layer 0 --corpus "$CORPUS"
expect_error 1 "window must be at least 1" -- "$MWB" trace "$FIX" --prompt "a cat sat" --subject cat --window -2

# Arguments are checked before any work, one sentence each: a layer the model lacks is
# refused before the edit guard's perplexity pass (whose progress would be on stderr).
expect_sentence 1 "--layer 99 is outside the model's layers 0 .. 1" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --layer 99 --corpus "$CORPUS"
expect_sentence 1 "--layers 5 is outside" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --out "$TMP/e.h5" --method memit --layers 0,5 --corpus "$CORPUS"
expect_sentence 1 "--layers 4 is outside" -- "$MWB" stats "$FIX" --layers 0,4 --corpus "$CORPUS"
expect_sentence 1 "\"x\" in --layers is not a layer number" -- "$MWB" stats "$FIX" --layers x --corpus "$CORPUS"
expect_sentence 1 "--head 9 is outside" -- "$MWB" attention "$FIX" --prompt "a cat" --layer 0 --head 9
# User text is quoted short: a 100 KB subject is not echoed whole.
big=$(head -c 100000 /dev/zero | tr '\0' q)
expect_sentence 1 "the subject \"qqqq.*(100000 bytes) is not in the prompt" -- "$MWB" trace "$FIX" --prompt "a cat sat" --subject "$big"
printf '[{"known_id": 0, "subject": "%s", "attribute": "x", "template": "{} is", "prompt": "dog is", "relation_id": "P1"}]' \
  "$(head -c 10000000 /dev/zero | tr '\0' q)" > "$TMP/big.json"
expect_sentence 1 "(10000000 bytes) is not in the prompt" -- "$MWB" eval-knowledge "$FIX" --facts "$TMP/big.json"
rm -f "$TMP/big.json"
# Command-line mistakes are one sentence too (CLI11's exit codes kept).
expect_sentence 109 "bogus" -- "$MWB" predict "$FIX" --prompt hi --bogus
expect_sentence 106 "prompt" -- "$MWB" attention "$FIX"
expect_sentence 104 "Could not convert: --top = qqq.*(100027 bytes)" -- "$MWB" predict "$FIX" --prompt hi --top "$big"

# A model file that cannot change silently: checksums checked on load and by mwb verify.
"$MWB" init --shape gpt2-tiny --seed 3 --out "$TMP/v.h5" 2>/dev/null
expect_ok "$MWB" verify "$TMP/v.h5"
grep -q "v.h5: 36 tensor(s) match their checksums" "$TMP/out" || { echo "FAIL: verify: $(cat "$TMP/out")"; fails=$((fails+1)); }
expect_ok "$MWB" info "$TMP/v.h5"
grep -q "checksums     every tensor checked on load" "$TMP/out" || { echo "FAIL: info checksums: $(cat "$TMP/out")"; fails=$((fails+1)); }
expect_ok "$MWB" verify "$FIX"  # a file written before checksums: readable, with a note
grep -q "carry no checksum" "$TMP/err" || { echo "FAIL: verify of a file without checksums: $(cat "$TMP/err")"; fails=$((fails+1)); }
expect_ok "$MWB" info "$FIX"
grep -q "without a checksum" "$TMP/out" || { echo "FAIL: info of a file without checksums: $(cat "$TMP/out")"; fails=$((fails+1)); }
# One bit flipped in the middle of the file (in /blocks/0/mlp/up/weight for this shape and seed).
size=$(stat -c %s "$TMP/v.h5")
printf "$(printf '\\x%02x' $(( $(od -An -tu1 -j $((size / 2)) -N1 "$TMP/v.h5") ^ 1 )))" \
  | dd of="$TMP/v.h5" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_sentence 1 "v.h5: /blocks/0/mlp/up/weight is damaged" -- "$MWB" predict "$TMP/v.h5" --ids 1,2
expect_sentence 3 "v.h5: /blocks/0/mlp/up/weight is damaged" -- "$MWB" verify "$TMP/v.h5"
"$MWB" verify "$TMP/v.h5" --json > "$TMP/out" 2>/dev/null
grep -q '"checked":35' "$TMP/out" && grep -q '"ok":false' "$TMP/out" || { echo "FAIL: verify --json: $(cat "$TMP/out")"; fails=$((fails+1)); }

# A write that fails half-way (a full disk, injected by MWB_FAIL_WRITES where no small file
# system can be mounted) is one sentence, exit 1, and leaves no file and no folder.
no_leftovers() {  # no_leftovers DIR NAME...
  local d="$1"; shift
  for n in "$@"; do
    if [ -e "$d/$n" ] || ls -a "$d" | grep -q "^\.$n\.tmp"; then echo "FAIL: a failed write left $d/$n"; fails=$((fails+1)); fi
  done
}
MWB_FAIL_WRITES=i.h5 expect_sentence 1 "no space left on .* while writing $TMP/i.h5" -- "$MWB" init --shape gpt2-tiny --out "$TMP/i.h5"
MWB_FAIL_WRITES=e2.h5 expect_sentence 1 "no space left on .* while writing $TMP/e2.h5" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --layer 0 --corpus "$CORPUS" --stats-tokens 200 --guard-tokens 0 --out "$TMP/e2.h5" --json
MWB_FAIL_WRITES=model.safetensors expect_sentence 1 "no space left on .* while writing $TMP/hf2/model.safetensors" -- "$MWB" export hf "$FIX" "$TMP/hf2"
no_leftovers "$TMP" i.h5 e2.h5 hf2
# The real thing where a small tmpfs can be mounted (as root): HDF5's own write fails.
mkdir -p "$TMP/small"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=128k tmpfs "$TMP/small" 2>/dev/null; then
  expect_sentence 1 "no space left on $TMP/small while writing $TMP/small/full.h5" -- "$MWB" init --shape gpt2-tiny --out "$TMP/small/full.h5"
  expect_sentence 1 "no space left on $TMP/small while writing $TMP/small/e3.h5" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --layer 0 --corpus "$CORPUS" --stats-tokens 200 --guard-tokens 0 --out "$TMP/small/e3.h5"
  "$MWB" init --shape gpt2-tiny --out "$TMP/v2.h5" 2>/dev/null
  expect_sentence 1 "no space left on $TMP/small while writing $TMP/small/hf/model.safetensors" -- "$MWB" export hf "$TMP/v2.h5" "$TMP/small/hf"
  [ -z "$(ls -A "$TMP/small")" ] || { echo "FAIL: a full disk kept: $(ls -A "$TMP/small")"; fails=$((fails+1)); }
  umount "$TMP/small"
else
  echo "note: no small tmpfs could be mounted; the full-disk checks ran with an injected failure only"
fi

expect_ok "$MWB" predict "$FIX" --prompt "a cat" --top 3 --json
grep -q '"top":\[{"id":' "$TMP/out" || { echo "FAIL: predict --json format: $(cat "$TMP/out")"; fails=$((fails+1)); }
expect_ok "$MWB" tokenize "$FIX" --text "a cat" --json
grep -q '"offsets":\[\[0,1\]' "$TMP/out" || { echo "FAIL: tokenize --json format: $(cat "$TMP/out")"; fails=$((fails+1)); }
expect_ok "$MWB" trace "$FIX" --prompt "a cat sat" --subject cat --samples 2 --json
grep -q '"subject_range":\[2,5\]' "$TMP/out" || { echo "FAIL: trace --json: $(head -c 300 "$TMP/out")"; fails=$((fails+1)); }
# The default window follows the depth (as the workbench's): round(layers x 10 / 48), at least 1.
layers=$("$MWB" info "$FIX" --json | grep -o '"n_layer[s]*":[0-9]*' | head -n 1 | grep -o '[0-9]*$')
window=$(( (layers * 10 + 24) / 48 )); [ "$window" -ge 1 ] || window=1
grep -q "\"window\":$window[,}]" "$TMP/out" || { echo "FAIL: trace default window for $layers layers is not $window: $(grep -o '"window":[0-9]*' "$TMP/out")"; fails=$((fails+1)); }
# The fixture recalls nothing: the trace warns, on stderr and in the JSON.
grep -q "^warning: .*the map means little" "$TMP/err" || { echo "FAIL: trace of a non-fact did not warn: $(cat "$TMP/err")"; fails=$((fails+1)); }
grep -q '"warning":"' "$TMP/out" || { echo "FAIL: trace --json has no warning"; fails=$((fails+1)); }

# Knowledge per template: two templates of one fact each.
cat > "$TMP/known.json" <<'EOF'
[{"known_id": 0, "subject": "cat", "attribute": "x", "template": "a {} sat", "prompt": "a cat sat", "relation_id": "P1"},
 {"known_id": 1, "subject": "dog", "attribute": "y", "template": "{} is", "prompt": "dog is", "relation_id": "P2"}]
EOF
expect_ok "$MWB" eval-knowledge "$FIX" --facts "$TMP/known.json" --by-template --json
grep -q '"mean_first_token_accuracy"' "$TMP/out" && grep -q '"template":"a {} sat"' "$TMP/out" \
  && grep -q '"template":"{} is"' "$TMP/out" \
  || { echo "FAIL: eval-knowledge --by-template: $(head -c 300 "$TMP/out")"; fails=$((fails+1)); }

# A batch evaluation leaves out the neighbourhood prompts about subjects the batch itself edits.
cat > "$TMP/two.json" <<'EOF'
[{"case_id": 0, "requested_rewrite": {"prompt": "{} is in", "relation_id": "P1", "subject": "cat", "target_new": {"str": "x"}, "target_true": {"str": "y"}},
  "paraphrase_prompts": ["a cat is in"], "neighborhood_prompts": ["dog is in", "cow is in"], "attribute_prompts": [], "generation_prompts": ["cat"]},
 {"case_id": 1, "requested_rewrite": {"prompt": "{} is in", "relation_id": "P1", "subject": "dog", "target_new": {"str": "z"}, "target_true": {"str": "y"}},
  "paraphrase_prompts": ["a dog is in"], "neighborhood_prompts": ["cat is in", "cow is in"], "attribute_prompts": [], "generation_prompts": ["dog"]}]
EOF
for keep in "" --keep-edited-neighbours; do
  expect_ok "$MWB" eval "$FIX" --cases "$TMP/two.json" --batch 2 --no-fluency --corpus "$CORPUS" --stats-tokens 500 --guard-tokens 0 --json $keep
  if [ -n "$keep" ]; then left=0; dogs=4; else left=2; dogs=2; fi
  # Each kept prompt appears twice per case (unedited and edited); "dog is in" is also case 1's rewrite prompt.
  grep -q "\"neighborhood_prompts_left_out\":$left" "$TMP/out" \
    && [ "$(grep -o '"prompt":"cow is in"' "$TMP/out" | wc -l)" -eq 4 ] \
    && [ "$(grep -o '"prompt":"dog is in"' "$TMP/out" | wc -l)" -eq "$dogs" ] \
    || { echo "FAIL: eval --batch ${keep:-(default)}: $(head -c 300 "$TMP/out")"; fails=$((fails+1)); }
done

expect_sentence 1 "--layer 7 is outside" -- "$MWB" eval "$FIX" --cases "$TMP/two.json" --layer 7 --corpus "$CORPUS"

# An edit writes a new file, never the source, and diff finds exactly one rank-one change.
# (The demo model: its context fits ROME's generated context templates.)
cp "$SRC/resources/models/demo.h5" "$TMP/src.h5"
before=$(md5sum < "$TMP/src.h5")
expect_ok "$MWB" edit "$TMP/src.h5" --prompt "{} is located in the city of" --subject "Eiffel Tower" --target Rome --layer 2 --stats-tokens 2000 --out "$TMP/edited.h5" --json
[ "$(md5sum < "$TMP/src.h5")" = "$before" ] || { echo "FAIL: the source model changed"; fails=$((fails+1)); }
# An existing --out is refused before the edit's work: no value optimisation on stderr.
expect_error 1 "already exists.*--force" -- "$MWB" edit "$TMP/src.h5" --prompt "{} is located in the city of" --subject "Eiffel Tower" --target Rome --layer 2 --stats-tokens 2000 --out "$TMP/edited.h5"
"$MWB" edit "$TMP/src.h5" --prompt "{} is located in the city of" --subject "Eiffel Tower" --target Rome --layer 2 --stats-tokens 2000 --out "$TMP/edited.h5" 2>&1 | grep -q "optimis" \
  && { echo "FAIL: edit did its work before refusing an existing --out"; fails=$((fails+1)); }
expect_error 1 "folder" -- "$MWB" undo "$TMP/edited.h5" --out "$TMP/nowhere/undone.h5"
"$MWB" diff "$TMP/src.h5" "$TMP/edited.h5" --json > "$TMP/diff" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 3 ] && grep -q '"rank":1' "$TMP/diff" && grep -q '"unexplained":\[\]' "$TMP/diff" \
  || { echo "FAIL: diff of an edit: exit $rc $(head -c 400 "$TMP/diff")"; fails=$((fails+1)); }
expect_ok "$MWB" undo "$TMP/edited.h5" --out "$TMP/undone.h5"
"$MWB" diff "$TMP/src.h5" "$TMP/undone.h5" > /dev/null 2>&1; rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: undo did not restore the model (diff exit $rc)"; fails=$((fails+1)); }

# Hugging Face export then import gives back the same model; a folder in use is refused;
# a file that is not a llama2.c checkpoint gives one sentence naming it.
expect_ok "$MWB" export hf "$FIX" "$TMP/hf"
expect_ok "$MWB" import hf "$TMP/hf" --out "$TMP/imported.h5"
"$MWB" diff "$FIX" "$TMP/imported.h5" > "$TMP/diff" 2>&1; rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: export/import round trip changed the model (diff exit $rc): $(head -c 400 "$TMP/diff")"; fails=$((fails+1)); }
expect_error 1 "not empty" -- "$MWB" export hf "$FIX" "$TMP/hf"
expect_error 1 "dtype" -- "$MWB" import hf "$TMP/hf" --out "$TMP/x16.h5" --dtype float8
echo "not a llama2.c checkpoint" > "$TMP/bad.bin"
expect_error 1 "bad.bin" -- "$MWB" import llama2c "$TMP/bad.bin" --out "$TMP/l2c.h5"
[ ! -e "$TMP/l2c.h5" ] || { echo "FAIL: a failed import left $TMP/l2c.h5"; fails=$((fails+1)); }

# GGUF import: the llama fixture and its Hugging Face twin give the same tensors, the
# vocabulary gives the fixture script's reference ids, and a truncated file is named.
GG="$SRC/tests/fixtures/gguf"
expect_ok "$MWB" import gguf "$GG/tiny_llama.gguf" --out "$TMP/gguf.h5" --json
grep -q '"architecture":"llama"' "$TMP/out" || { echo "FAIL: import gguf --json: $(cat "$TMP/out")"; fails=$((fails+1)); }
expect_ok "$MWB" import hf "$GG/tiny_llama_hf" --out "$TMP/gguf_twin.h5"
"$MWB" diff "$TMP/gguf.h5" "$TMP/gguf_twin.h5" > "$TMP/diff" 2>&1
grep -q ": 0 tensors differ" "$TMP/diff" || { echo "FAIL: GGUF and Hugging Face imports differ: $(head -c 400 "$TMP/diff")"; fails=$((fails+1)); }
expect_ok "$MWB" tokenize "$TMP/gguf.h5" --text "the hello world" --json
grep -q '"ids":\[1,277,259,275,276,264,289\]' "$TMP/out" || { echo "FAIL: tokenize after import gguf: $(cat "$TMP/out")"; fails=$((fails+1)); }
expect_ok "$MWB" import gguf "$SRC/tests/fixtures/gguf/tiny_gpt2.gguf" --out "$TMP/gguf16.h5" --dtype float16
head -c 5000 "$GG/tiny_llama.gguf" > "$TMP/cut.gguf"
expect_error 1 "cut.gguf" -- "$MWB" import gguf "$TMP/cut.gguf" --out "$TMP/cut.h5"
[ ! -e "$TMP/cut.h5" ] || { echo "FAIL: a failed import left $TMP/cut.h5"; fails=$((fails+1)); }

# Hugging Face folders written by an independent PyTorch reference (tests/fixtures/zoo, no
# tokenizer): they import, and predict --ids gives the reference's ten most likely tokens
# and logits.
for case in gemma2 gpt_neox_parallel olmo2; do
  zoo="$SRC/tests/fixtures/zoo/$case"
  expect_ok "$MWB" import hf "$zoo" --out "$TMP/$case.h5"
  ids=$(jq -r '.ids | map(tostring) | join(",")' "$zoo/expected.json")
  "$MWB" predict "$TMP/$case.h5" --ids "$ids" --top 10 --json > "$TMP/pred" 2>"$TMP/err" \
    && [ "$(jq -c '[.top[].id] | sort' "$TMP/pred")" = "$(jq -c '.top10_last | sort' "$zoo/expected.json")" ] \
    || { echo "FAIL: $case: predict --top 10 differs from the reference: $(head -c 300 "$TMP/pred") $(cat "$TMP/err")"; fails=$((fails+1)); }
done

# Mixture-of-experts folders from the same kind of reference (tests/fixtures/moe): predict
# gives its ten most likely tokens, and routing --json its experts in the same order at
# every sparse layer and token, with weights within 1e-4.
for case in mixtral_packed olmoe qwen2_moe; do
  moe="$SRC/tests/fixtures/moe/$case"
  expect_ok "$MWB" import hf "$moe" --out "$TMP/$case.h5"
  ids=$(jq -r '.ids | map(tostring) | join(",")' "$moe/expected.json")
  "$MWB" predict "$TMP/$case.h5" --ids "$ids" --top 10 --json > "$TMP/pred" 2>"$TMP/err" \
    && [ "$(jq -c '[.top[].id] | sort' "$TMP/pred")" = "$(jq -c '.top10_last | sort' "$moe/expected.json")" ] \
    || { echo "FAIL: $case: predict --top 10 differs from the reference: $(head -c 300 "$TMP/pred") $(cat "$TMP/err")"; fails=$((fails+1)); }
  "$MWB" routing "$TMP/$case.h5" --ids "$ids" --json > "$TMP/routing" 2>"$TMP/err" \
    && [ "$(jq -c '[.layers[] | [.layer, [.tokens[].experts]]]' "$TMP/routing")" \
         = "$(jq -c '[.routing.layers[] | [.layer, [.tokens[].experts]]]' "$moe/expected.json")" ] \
    && jq -e --slurpfile want "$moe/expected.json" \
         '[.layers as $g | range($g | length) as $l | range($g[$l].tokens | length) as $t
           | range($g[$l].tokens[$t].weights | length) as $j
           | ($g[$l].tokens[$t].weights[$j] - $want[0].routing.layers[$l].tokens[$t].weights[$j]) | fabs]
          | max < 1e-4' "$TMP/routing" >/dev/null \
    || { echo "FAIL: $case: routing differs from the reference: $(head -c 300 "$TMP/routing") $(cat "$TMP/err")"; fails=$((fails+1)); }
done
"$MWB" routing "$TMP/qwen2_moe.h5" --ids 1,2,3 > "$TMP/out" 2>"$TMP/err" && grep -q "^layer 3" "$TMP/out" \
  || { echo "FAIL: routing (text): $(head -c 300 "$TMP/out") $(cat "$TMP/err")"; fails=$((fails+1)); }
expect_sentence 1 "no mixture-of-experts layers" -- "$MWB" routing "$FIX" --ids 1,2,3
expect_sentence 1 "prompt" -- "$MWB" routing "$TMP/olmoe.h5"
"$MWB" routing "$TMP/olmoe.h5" --text "$SRC/resources/data/heldout.txt" --max-tokens 200 --json > "$TMP/out" 2>"$TMP/err" \
  && jq -e '.tokens > 0 and ([.layers[].share | add] | map(. - 1 | fabs) | max) < 1e-9' "$TMP/out" >/dev/null \
  || { echo "FAIL: routing --text (load): $(head -c 300 "$TMP/out") $(cat "$TMP/err")"; fails=$((fails+1)); }
expect_sentence 1 "no mixture-of-experts layers" -- "$MWB" routing "$FIX" --text "$SRC/resources/data/heldout.txt"
expect_sentence 1 "does not yet support a mixture-of-experts model" -- "$MWB" superweights "$TMP/olmoe.h5" --prompt hi

# Expert removal and the super-expert search: the JSON names what was removed and the
# random control; bad experts, mixed options and dense models get one sentence.
"$MWB" ablate "$TMP/olmoe.h5" --expert 1:0,0:2 --prompt "The cat" --json > "$TMP/out" 2>"$TMP/err" \
  && jq -e '.removed_experts == [{"layer":1,"expert":0},{"layer":0,"expert":2}] and .kl >= 0 and (.changes | length) == 0' "$TMP/out" >/dev/null \
  || { echo "FAIL: ablate --expert: $(head -c 300 "$TMP/out") $(cat "$TMP/err")"; fails=$((fails+1)); }
expect_sentence 1 "outside" -- "$MWB" ablate "$TMP/olmoe.h5" --expert 0:99 --prompt hi
expect_sentence 1 "layer:expert" -- "$MWB" ablate "$TMP/olmoe.h5" --expert 0-1 --prompt hi
expect_sentence 1 "does not combine" -- "$MWB" ablate "$TMP/olmoe.h5" --expert 0:1 --zero 0:1:2 --prompt hi
expect_sentence 1 "has no experts" -- "$MWB" ablate "$FIX" --expert 0:0 --prompt hi
"$MWB" superexperts "$TMP/olmoe.h5" --text "$SRC/resources/data/heldout.txt" --max-tokens 64 --remove-top 1 --json \
  > "$TMP/out" 2>"$TMP/err" \
  && jq -e '.tokens > 0 and (.experts | length) > 0 and (.super_experts | type) == "array"
            and (.removed.removed_experts | length) == 1 and (.random.removed_experts | length) == 1
            and .removed.removed_experts != .random.removed_experts' "$TMP/out" >/dev/null \
  || { echo "FAIL: superexperts --json: $(head -c 300 "$TMP/out") $(cat "$TMP/err")"; fails=$((fails+1)); }
expect_sentence 1 "has no experts" -- "$MWB" superexperts "$FIX" --text "$SRC/resources/data/heldout.txt"

# Editing experts (layer 0: the tiny model's last layer cannot carry a fact from the
# subject to the prompt's end): ROME on a sparse layer edits the expert the subject's token goes to
# first, the JSON and the record name it with the routing report, and diff explains that
# expert's down projection by the record; MEMIT writes one entry per edited expert; bad
# experts get one sentence.
"$MWB" edit "$TMP/olmoe.h5" --prompt "{} sat on the" --subject "The cat" --target " mat" --layer 0 --steps 3 \
  --stats-tokens 3000 --guard-tokens 0 --out "$TMP/olmoe_edit.h5" --json > "$TMP/out" 2>"$TMP/err" \
  && jq -e '(.experts | length) == 1 and .edit.expert == .experts[0] and .edit.mixing_weight > 0
            and .edit.routed_experts[0] == .experts[0] and .routing_change.places > 0' "$TMP/out" >/dev/null \
  || { echo "FAIL: edit of an expert: $(head -c 300 "$TMP/out") $(cat "$TMP/err")"; fails=$((fails+1)); }
expert=$(jq -r '.experts[0]' "$TMP/out")
"$MWB" diff "$TMP/olmoe.h5" "$TMP/olmoe_edit.h5" --json > "$TMP/out" 2>"$TMP/err"
[ $? -eq 3 ] && jq -e --arg p "/blocks/0/moe/experts/$expert/down/weight" \
  '(.tensors | length) == 1 and .tensors[0].path == $p and .tensors[0].explained' "$TMP/out" >/dev/null \
  || { echo "FAIL: diff of an expert edit: $(head -c 300 "$TMP/out") $(cat "$TMP/err")"; fails=$((fails+1)); }
"$MWB" edit "$TMP/olmoe.h5" --method memit --layers 0,1 --prompt "{} sat on the" --subject "The cat" --target " mat" \
  --steps 3 --stats-tokens 3000 --guard-tokens 0 --out "$TMP/olmoe_memit.h5" --json > "$TMP/out" 2>"$TMP/err" \
  && jq -e '.layers == [0, 1] and (.experts | length) == 2' "$TMP/out" >/dev/null \
  || { echo "FAIL: memit of experts: $(head -c 300 "$TMP/out") $(cat "$TMP/err")"; fails=$((fails+1)); }
# mwb stats of one expert: its keys over the tokens routed to it (this random model
# sends every token of layer 0 to experts 2 and 3, so each of them gets all 300).
"$MWB" stats "$TMP/olmoe.h5" --layers 0 --expert 2 --tokens 300 --json > "$TMP/out" 2>"$TMP/err" \
  && jq -e '. == [.[0]] and .[0].expert == 2 and .[0].layer == 0 and .[0].tokens == 300' "$TMP/out" >/dev/null \
  || { echo "FAIL: stats --expert: $(head -c 300 "$TMP/out") $(cat "$TMP/err")"; fails=$((fails+1)); }
expect_sentence 1 "received none of the" -- "$MWB" stats "$TMP/olmoe.h5" --layers 0 --expert 0 --tokens 300
expect_sentence 1 "has experts 0 to" -- "$MWB" edit "$TMP/olmoe.h5" --prompt "{} is" --subject cat --target x --layer 1 --expert 99 --out "$TMP/x.h5"
expect_sentence 1 "for a model with experts" -- "$MWB" edit "$FIX" --prompt "{} is" --subject cat --target x --layer 0 --expert 1 --out "$TMP/x.h5"
expect_sentence 1 "is for ROME" -- "$MWB" edit "$TMP/olmoe.h5" --method memit --prompt "{} is" --subject cat --target x --expert 1 --out "$TMP/x.h5"

# mwb bench: every documented key, the measured figures positive; bad sizes refused.
expect_ok "$MWB" bench "$FIX" --prompt-tokens 8 --decode-tokens 4 --repeat 2 --json
for key in prefill_seconds prefill_gflops decode_tokens_per_second threads; do
  grep -Eq "\"$key\":(0\.0*[1-9]|[1-9])" "$TMP/out" || { echo "FAIL: bench --json $key not positive: $(cat "$TMP/out")"; fails=$((fails+1)); }
done
grep -q '"prompt_tokens":8' "$TMP/out" && grep -q '"decode_tokens":4' "$TMP/out" && grep -q '"repeat":2' "$TMP/out" \
  && grep -Eq '"isa":"(sse2|avx2|avx512)"' "$TMP/out" \
  || { echo "FAIL: bench --json: $(cat "$TMP/out")"; fails=$((fails+1)); }
expect_error 1 "context" -- "$MWB" bench "$FIX" --prompt-tokens 20 --decode-tokens 20
expect_error 1 "prompt-tokens must be at least 1" -- "$MWB" bench "$FIX" --prompt-tokens 0 --decode-tokens 1
expect_error 1 "repeat must be at least 1" -- "$MWB" bench "$FIX" --prompt-tokens 4 --decode-tokens 1 --repeat 0

# The scale sweep over a range: factors start..stop in steps, KL 0 at factor 1, a figure.
expect_ok "$MWB" ablate "$FIX" --scale-sweep 0:1:2=0:2:0.5 --prompt "The cat" --json --png "$TMP/sweep.png"
python3 - "$TMP/out" <<'PY' || { echo "FAIL: ablate --scale-sweep: $(cat "$TMP/out")"; fails=$((fails+1)); }
import json, sys
s = json.load(open(sys.argv[1]))
f = [p["factor"] for p in s["points"]]
assert f == [0, 0.5, 1, 1.5, 2], f
kl = {p["factor"]: p["kl"] for p in s["points"]}
assert kl[1] == 0 and kl[0] > 0, kl
PY
[ -s "$TMP/sweep.png" ] || { echo "FAIL: ablate --scale-sweep --png wrote no figure"; fails=$((fails+1)); }
expect_error 1 "start <= stop" -- "$MWB" ablate "$FIX" --scale-sweep 0:1:2=2:0:0.5 --prompt "The cat"
expect_error 1 "one range" -- "$MWB" ablate "$FIX" --scale-sweep 0:1:2=0:2:0.5 --scale-sweep 0:1:3=0:1:0.5 --prompt "The cat"
expect_error 1 "start:stop:step" -- "$MWB" ablate "$FIX" --scale-sweep 0:1:2=0:2 --prompt "The cat"
expect_error 1 "sweep" -- "$MWB" ablate "$FIX" --zero 0:1:2 --png "$TMP/x.png" --prompt "The cat"

# The blind audit: the clean demo model is not flagged; --reverse writes a copy that
# records what it removed (nothing here) and leaves the source alone.
cp "$SRC/resources/models/demo.h5" "$TMP/audit.h5"
expect_ok "$MWB" audit "$TMP/audit.h5" --json --tokens 2048
python3 - "$TMP/out" <<'PY' || { echo "FAIL: audit --json: $(head -c 400 "$TMP/out")"; fails=$((fails+1)); }
import json, sys
a = json.load(open(sys.argv[1]))
assert a["edited"] is False and a["score"] < 3.5, a["score"]
assert len(a["findings"]) == 8 and all({"layer", "tensor", "score", "flagged"} <= set(f) for f in a["findings"])
assert a["findings"] == sorted(a["findings"], key=lambda f: -f["score"])
assert len(a["suspected_targets"]) == 20 and a["edit_records"]["count"] == 0
PY
expect_sentence 1 "needs --out" -- "$MWB" audit "$TMP/audit.h5" --reverse
expect_sentence 1 "is for --reverse" -- "$MWB" audit "$TMP/audit.h5" --out "$TMP/x.h5"
expect_sentence 1 "tokens" -- "$MWB" audit "$TMP/audit.h5" --tokens 0
expect_ok "$MWB" audit "$TMP/audit.h5" --reverse --out "$TMP/reversed.h5" --tokens 2048
grep -q "0 layer(s) reversed" "$TMP/out" || { echo "FAIL: audit --reverse: $(cat "$TMP/out")"; fails=$((fails+1)); }
cmp -s "$TMP/audit.h5" "$SRC/resources/models/demo.h5" || { echo "FAIL: audit changed its source"; fails=$((fails+1)); }

new=$(find "$SRC" \( -path "$SRC/build*" -o -path "$SRC/.git" \) -prune -o -newer "$TMP/start" \( -name '*.mwbstats' -o -name '*.h5' -o -name '*.tmp*' -o -name '*.json' \) -print | head -5)
[ -z "$new" ] || { echo "FAIL: the test wrote into the source tree: $new"; fails=$((fails+1)); }

if [ "$fails" -ne 0 ]; then echo "$fails CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
