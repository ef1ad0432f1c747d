#!/usr/bin/env bash
# Tests under the sanitizers, and the fuzzers' bounded run; scripts/test.sh calls this after the ordinary run. Two
# more builds of the same sources, each with clang 14 at -O1 -g:
#   build-fuzz/  -fsanitize=fuzzer-no-link,address,undefined (scripts/fuzz.sh build):
#                - the seven fuzz targets, each run for CNN_FUZZ_SECONDS (default 5) from its seed corpus;
#                - cnn_asan_tests (tests/sanitizers.cmake: the tests of every reader, the server, the damaged-input,
#                  crash and fuzz-regression tests, 13 test files) with the tool they run, under AddressSanitizer +
#                  UndefinedBehaviorSanitizer. CNN_ASAN_FULL=1 runs the whole of cnn_tests instead (all 40 files,
#                  but for CNN_ASAN_SKIP: the long training, parity and allocation-counting tests).
#   build-tsan/  -fsanitize=thread: cnn_tsan_tests (the thread pool and every layer on 1–4 threads, the trainer,
#                `cnn serve` and `cnn train --serve`) with the tool, under ThreadSanitizer; the tests of CNN_TSAN_RUN
#                (CNN_ASAN_FULL=1: all of them).
# Any report fails the run: halt_on_error and -fno-sanitize-recover, and every report, also those of the tool's own
# processes that the tests start, is written to a file under build-*/sanitizer-logs/, any one of which fails it.
#   CNN_SANITIZERS=fuzz,asan,tsan   what to run (default all three)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
jobs=${CNN_SANITIZER_JOBS:-2}
what=${CNN_SANITIZERS:-fuzz,asan,tsan}
full=${CNN_ASAN_FULL:-0}
fuzz_seconds=${CNN_FUZZ_SECONDS:-5}
# minutes each under ASan, and FastNetwork's allocation count measures ASan's allocator, not the library's
default_skip=Catalogue.*:Parity*.*:*Parity.*:OptimizerParity.*:OneCycleSchedule.*:OnnxTorch.*:FastNetwork.Steady*
skip=${CNN_ASAN_SKIP-$default_skip}
tsan_run=${CNN_TSAN_RUN-ThreadBits.*:WholeRunSchedule.*:Catalogue.Book6x6LearnsTheDigitPatterns:Serve*.*:TrainServe.*}
digits="$here/build/data/mnist-digits"   # made by scripts/test.sh

# Runs test binary $2 of build dir $1 with gtest filter $3 under the sanitizers' options; fails on any report.
run_suite() {
  local dir=$1 binary=$2 filter=$3 logs="$1/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs" "$dir/data"
  [ -e "$dir/data/mnist-digits" ] || ln -s "$digits" "$dir/data/mnist-digits"
  [ -e "$dir/npm" ] || ln -s "$here/build/npm" "$dir/npm"  # onnxruntime-node, also made by scripts/test.sh
  local t0=$SECONDS rc=0
  local tsan="halt_on_error=1:second_deadlock_stack=1:suppressions=$here/tests/tsan.supp:log_path=$logs/tsan"
  ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$logs/asan:${ASAN_OPTIONS:-}" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan:${UBSAN_OPTIONS:-}" \
  TSAN_OPTIONS="$tsan:${TSAN_OPTIONS:-}" \
    "$dir/tests/$binary" --gtest_filter="$filter" --gtest_brief=1 >"$logs/gtest.log" 2>&1 || rc=$?
  if [ -n "$(ls "$logs" | grep -v gtest.log)" ]; then
    echo "sanitizers: $binary: reports in $logs:" >&2
    cat "$logs"/*san* >&2
    return 1
  fi
  if [ $rc -ne 0 ]; then
    echo "sanitizers: $binary failed (status $rc):" >&2
    tail -50 "$logs/gtest.log" >&2
    return 1
  fi
  echo "sanitizers: $binary: $(grep -E '^\[  PASSED  \]' "$logs/gtest.log" | head -1) in $((SECONDS - t0)) s, no report"
}

asan_binary=cnn_asan_tests asan_filter="*"
if [ "$full" = 1 ]; then
  asan_binary=cnn_tests asan_filter="*${skip:+-$skip}" tsan_run="*"
fi

if [[ $what == *fuzz* || $what == *asan* ]]; then
  t0=$SECONDS
  # the builds' output only when they fail (ninja writes a compiler's errors to stdout)
  mkdir -p "$here/build-fuzz"
  quiet() {
    local log="$here/build-fuzz/build-output.log"
    "$@" >"$log" 2>&1 || { tail -40 "$log" >&2; return 1; }
  }
  quiet env CNN_FUZZ_JOBS="$jobs" bash "$here/scripts/fuzz.sh" build
  if [[ $what == *asan* ]]; then
    quiet cmake --build "$here/build-fuzz" -j "$jobs" --target $asan_binary cnn_tool
  fi
  echo "sanitizers: build-fuzz (clang, fuzzer-no-link + ASan + UBSan) built in $((SECONDS - t0)) s"
fi
if [[ $what == *fuzz* ]]; then
  t0=$SECONDS
  bash "$here/scripts/fuzz.sh" run "$fuzz_seconds"
  echo "sanitizers: 7 fuzz targets ran ${fuzz_seconds} s each, no crash, in $((SECONDS - t0)) s"
fi
if [[ $what == *asan* ]]; then
  run_suite "$here/build-fuzz" $asan_binary "$asan_filter"
fi
if [[ $what == *tsan* ]]; then
  t0=$SECONDS
  tsan="$here/build-tsan"
  if [ ! -f "$tsan/build.ninja" ]; then
    cmake -S "$here" -B "$tsan" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" \
      -DCNN_TSAN_TESTS=ON -DCNN_WERROR=OFF >/dev/null
  fi
  cmake --build "$tsan" -j "$jobs" --target cnn_tsan_tests cnn_tool >"$here/build-tsan/build-output.log" 2>&1 ||
    { tail -40 "$here/build-tsan/build-output.log" >&2; exit 1; }
  echo "sanitizers: build-tsan (clang, TSan) built in $((SECONDS - t0)) s"
  run_suite "$tsan" cnn_tsan_tests "$tsan_run"
fi
