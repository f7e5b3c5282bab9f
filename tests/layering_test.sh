#!/usr/bin/env bash
# The libraries include only downward. For every source file of a library folder,
# each project #include must name a folder that library may use (the order of the
# top-level CMakeLists.txt). Also: Qt only in app/, the HDF5 API only in io/, and
# training/ only in `mwb train` and its own tests. Prints every violation; exit 1 if any.
set -uo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

# --self-test: the check must reject a tree in which model/ includes io/ and one in
# which analysis/ includes editing/, and accept the same trees without those lines.
if [ "${1:-}" = --self-test ]; then
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  for lib in tensor cluster tokenizer data model io metrics training analysis editing; do mkdir -p "$tmp/$lib"; done
  echo '#include "tensor/tensor.h"' > "$tmp/model/a.h"
  echo '#include "model/a.h"' > "$tmp/analysis/b.h"
  "$self" "$tmp" >/dev/null 2>&1 || { echo "self-test: a clean tree was rejected" >&2; exit 1; }
  echo '#include "io/x.h"' >> "$tmp/model/a.h"
  "$self" "$tmp" >/dev/null 2>&1 && { echo "self-test: model/ including io/ was accepted" >&2; exit 1; }
  echo '#include "tensor/tensor.h"' > "$tmp/model/a.h"
  echo '#include "editing/y.h"' >> "$tmp/analysis/b.h"
  "$self" "$tmp" >/dev/null 2>&1 && { echo "self-test: analysis/ including editing/ was accepted" >&2; exit 1; }
  echo "self-test: violations are detected"
  exit 0
fi

root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root" || exit 2

declare -A allowed=(
  [tensor]="tensor"
  [cluster]="tensor cluster"
  [tokenizer]="tensor tokenizer"
  [data]="tensor data"
  [model]="tensor tokenizer model"
  [io]="tensor tokenizer model io"
  [metrics]="tensor tokenizer model metrics"
  [training]="tensor tokenizer data model io training"
  [analysis]="tensor tokenizer data model io metrics cluster analysis"
  [editing]="tensor tokenizer data model io metrics cluster editing"
)

failures=0
fail() { echo "layering: $1" >&2; failures=$((failures + 1)); }

for lib in "${!allowed[@]}"; do
  [ -d "$lib" ] || { fail "library folder $lib/ is missing"; continue; }
  while IFS= read -r file; do
    while IFS= read -r line; do
      inc="${line#*\"}"; inc="${inc%%\"*}"
      top="${inc%%/*}"
      [ "$top" = "$inc" ] && { fail "$file includes \"$inc\" without its folder"; continue; }
      case " ${allowed[$lib]} " in
        *" $top "*) ;;
        *) fail "$file ($lib/) includes $inc: $lib/ may include only ${allowed[$lib]}" ;;
      esac
    done < <(grep -E '^\s*#\s*include\s+"' "$file")
    grep -Eq '^\s*#\s*include\s+<Q[A-Za-z]*>' "$file" && fail "$file includes Qt outside app/"
    if [ "$lib" != io ] && grep -Eq '^\s*#\s*include\s+[<"](H5Cpp|hdf5)' "$file"; then
      fail "$file uses the HDF5 API outside io/"
    fi
    if [ "$lib" != cluster ] && grep -Eq '^\s*#\s*include\s+[<"]mpi' "$file"; then
      fail "$file uses MPI outside cluster/"
    fi
  done < <(find "$lib" -name '*.cpp' -o -name '*.h')
done

# MPI stays inside cluster/: app/ calls the cluster API, never MPI itself.
while IFS= read -r file; do
  fail "$file uses MPI outside cluster/"
done < <(grep -rlE '^\s*#\s*include\s+[<"]mpi' --include='*.cpp' --include='*.h' app 2>/dev/null)

# training/ is a leaf: only the train command and the training tests include it.
while IFS= read -r file; do
  case "$file" in
    training/*|tests/training/*|app/cli/cmd_train.cpp) ;;
    *) fail "$file includes training/ (only mwb train and its tests may)" ;;
  esac
done < <(grep -rlE '^\s*#\s*include\s+"training/' --include='*.cpp' --include='*.h' . | sed 's#^\./##')

if [ "$failures" -gt 0 ]; then
  echo "layering: $failures violation(s)" >&2
  exit 1
fi
echo "layering: every library includes only downward"
