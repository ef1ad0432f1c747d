#!/bin/bash
# Builds a copy of cnn_tests with mutated copies of some library sources, without touching the source tree (others
# build it at the same time): each mutated file is compiled from a copy with its compile_commands.json command, the
# library archives (libcnn.a, libcnn_reference.a) are remade in a temporary folder with those objects in place of
# theirs, and the test binary is linked to OUT.
#   build_mutant.sh BUILD_DIR OUT SRC=MUTATED [SRC=MUTATED ...]     (SRC relative to the repository, e.g. src/loss.cpp)
# SRC may also be a test source (tests/test_*.cpp), to try a new test against a mutant before building it.
#   build_mutant.sh --object BUILD_DIR OBJ SRC=MUTATED               (only compiles the copy, to OBJ)
# MUTATED may be an object already compiled with --object. BUILD_DIR must have an up-to-date cnn_tests; prints
# nothing on success, the compiler's errors otherwise.
set -euo pipefail
object_only=0
if [ "$1" = --object ]; then object_only=1; shift; fi
build=$(cd "$1" && pwd) out=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# compile SRC's copy MUTATED to OBJ with the build's command for SRC; prints the object's path in the build
compile() {
  local src=$1 mutated=$2 obj=$3 found
  found=$(python3 -c 'import json,sys
for e in json.load(open(sys.argv[1])):
    c = e["command"]
    if e["file"].endswith("/" + sys.argv[2]) and any(t + ".dir/" in c for t in ("cnn_objects", "cnn_reference",
                                                                                    "cnn_tests")):
        print(c.split(" -o ")[1].split()[0]); print(c); break' "$build/compile_commands.json" "$src")
  [ -n "$found" ] || { echo "no compile command for $src" >&2; exit 2; }
  local cmd=${found#*$'\n'} copy original
  copy=$(realpath "$mutated") original=$(cd "$build" && realpath "$(echo "$cmd" | sed 's/.* -c //' | cut -d' ' -f1)")
  # the same command, reading the mutated copy (its quoted includes resolve through -I, as the original's do); with
  # the copy's folder named as the original's in the object, an unchanged copy gives the build's object byte for byte
  local map=-ffile-prefix-map=$(dirname "$copy")=$(dirname "$original")
  (cd "$build" && eval "${cmd/ -o * -c */ $map -o $obj -c $copy}") >&2
  echo "${found%%$'\n'*}"
}

if [ $object_only = 1 ]; then
  src=${1%%=*} mutated=${1#*=}
  compile "$src" "$mutated" "$(realpath -m "$out")" >/dev/null
  exit 0
fi

declare -A replace  # object path in the build → mutated object
n=0
for pair in "$@"; do
  src=${pair%%=*} mutated=${pair#*=}
  n=$((n + 1))
  obj=$work/$n-$(basename "$src").o
  if [[ $mutated == *.o ]]; then
    cp "$mutated" "$obj"
    built=$(python3 -c 'import json,sys
for e in json.load(open(sys.argv[1])):
    c = e["command"]
    if e["file"].endswith("/" + sys.argv[2]) and any(t + ".dir/" in c for t in ("cnn_objects", "cnn_reference",
                                                                                    "cnn_tests")):
        print(c.split(" -o ")[1].split()[0]); break' "$build/compile_commands.json" "$src")
  else
    built=$(compile "$src" "$mutated" "$obj")
  fi
  replace[$built]=$obj
done
# Remake each archive from its objects (two members may share a base name, e.g. kernels/conv_rows.cpp and
# kernels/avx2/conv_rows.cpp, so members are not replaced by name).
link=$(cd "$build" && ninja -t commands tests/cnn_tests | tail -1)
for lib in libcnn.a libcnn_reference.a; do
  objs=$(cd "$build" && ninja -t commands $lib | tail -1 | tr ' ' '\n' | grep '\.o$')
  list=()
  for o in $objs; do list+=("${replace[$o]:-$build/$o}"); done
  ar qcs "$work/$lib" "${list[@]}"
  link=${link// $lib / $work/$lib }
done
for o in "${!replace[@]}"; do link=${link/ $o / ${replace[$o]} }; done  # test sources (tests/test_*.cpp)
link=${link/-o tests\/cnn_tests/-o $(realpath -m "$out")}
(cd "$build" && eval "$link")
