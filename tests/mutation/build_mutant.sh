#!/bin/bash
# Builds a copy of cnn_tests with mutated copies of some library sources, without touching the source tree (others
# build it at the same time): each mutated file is compiled from a copy with its compile_commands.json command, the
# objects replace theirs in a copy of libcnn.a, and the test binary is linked to OUT.
#   build_mutant.sh BUILD_DIR OUT SRC=MUTATED [SRC=MUTATED ...]     (SRC relative to the repository, e.g. src/loss.cpp)
# BUILD_DIR must have an up-to-date cnn_tests; prints nothing on success, the compiler's errors otherwise.
set -euo pipefail
build=$(cd "$1" && pwd) out=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$build/libcnn.a" "$work/libcnn.a"
for pair in "$@"; do
  src=${pair%%=*} mutated=${pair#*=}
  cmd=$(python3 -c 'import json,sys
for e in json.load(open(sys.argv[1])):
    if e["file"].endswith("/" + sys.argv[2]) and "cnn_objects.dir" in e["command"]: print(e["command"]); break' \
    "$build/compile_commands.json" "$src")
  [ -n "$cmd" ] || { echo "no compile command for $src" >&2; exit 2; }
  obj=$work/$(basename "$src").o  # the archive's member names are the objects' base names (all distinct)
  # the same command, reading the mutated copy (its quoted includes resolve through -I, as the original's do)
  (cd "$build" && eval "${cmd/ -o * -c */ -o $obj -c $(realpath "$mutated")}")
  ar r "$work/libcnn.a" "$obj"  # replaces the member of that name
done
link=$(cd "$build" && ninja -t commands tests/cnn_tests | tail -1)
link=${link/ libcnn.a / $work/libcnn.a }
link=${link/-o tests\/cnn_tests/-o $(realpath -m "$out")}
(cd "$build" && eval "$link")
