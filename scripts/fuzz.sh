#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz/fuzz_*.cpp), in a clang build of their own: build-fuzz/ (or $CNN_FUZZ_BUILD),
# every source compiled with -fsanitize=fuzzer-no-link,address,undefined, so a crash, a leak, an out-of-bounds
# access or undefined behaviour stops the run with the input that caused it.
#   scripts/fuzz.sh build                      configure and build the targets (build-fuzz/fuzz/fuzz_<name>)
#   scripts/fuzz.sh run SECONDS [TARGET...]    each target (default: all) for SECONDS, one after the other, from
#                                              its seed corpus tests/fuzz/corpus/<name>/ (copied: the checked-in
#                                              corpus never grows); fails at the first crash, which is saved as
#                                              build-fuzz/artifacts/<name>/crash-…
# A target's name is the file's without fuzz_: idx, cifar10, picture, model, netfile, onnx, api.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${CNN_FUZZ_BUILD:-$here/build-fuzz}
jobs=${CNN_FUZZ_JOBS:-2}

configure_and_build() {
  local flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  if [ ! -f "$build/build.ninja" ]; then
    # -O1 -g: the sanitizers' reports keep their line numbers; Release only so the top-level file sets no other.
    # The same objects serve scripts/test_sanitizers.sh's ASan + UBSan tests (CNN_ASAN_TESTS).
    cmake -S "$here" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" -DCNN_FUZZ=ON -DCNN_ASAN_TESTS=ON \
      -DCNN_WERROR=OFF >/dev/null
  fi
  local targets
  targets=$(cd "$here/tests/fuzz" && ls fuzz_*.cpp | sed 's/\.cpp$//')
  # shellcheck disable=SC2086
  cmake --build "$build" -j "$jobs" --target $targets
}

run_targets() {
  local seconds=$1
  shift
  local names=("$@")
  if [ ${#names[@]} -eq 0 ]; then
    mapfile -t names < <(cd "$here/tests/fuzz" && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')
  fi
  local work="$build/work"
  for name in "${names[@]}"; do
    local corpus="$work/corpus/$name" artifacts="$build/artifacts/$name"
    rm -rf "$corpus" && mkdir -p "$corpus" "$artifacts"
    cp "$here/tests/fuzz/corpus/$name"/* "$corpus/"
    local log="$build/logs/$name.log"
    mkdir -p "$(dirname "$log")"
    echo "fuzz: $name for ${seconds}s from $(ls "$corpus" | wc -l) seeds"
    # -rss_limit_mb: a parser that allocates gigabytes on a small input is a finding; -timeout: so is one that hangs
    if ! TMPDIR="$work" "$build/fuzz/fuzz_$name" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -timeout=10 -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
      echo "fuzz: $name FAILED; the input is in $artifacts/, the report:" >&2
      grep -E "ERROR|SUMMARY|runtime error|Test unit written|deadly signal|#[0-9]+" "$log" | tail -20 >&2
      return 1
    fi
    grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$log" | tr '\n' ' '
    echo
  done
}

case "${1:-}" in
  build) configure_and_build ;;
  run)
    [ $# -ge 2 ] || { echo "usage: $0 run SECONDS [TARGET...]" >&2; exit 2; }
    seconds=$2
    shift 2
    run_targets "$seconds" "$@"
    ;;
  *) echo "usage: $0 build | run SECONDS [TARGET...]" >&2; exit 2 ;;
esac
