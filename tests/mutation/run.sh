#!/bin/bash
# Mutation testing of the numeric code (not in CI: a few hundred mutants take an hour or more on two cores).
# Generates mechanical mutants of src/layers/, src/kernels/, src/loss.cpp, src/optimizer.cpp and src/reference/,
# builds each into a temporary test binary with build_mutant.sh (the tree is never touched), runs the suites that
# exercise the file under a time limit and reports killed / survived / did not compile and the kill rate.
#   tests/mutation/run.sh --build build-mut [--files GLOB,GLOB] [--per-file N] [--seed S] [--max M]
#                         [--timeout SECONDS] [--jobs J] [--report FILE] [--list]
# BUILD_DIR must hold an up-to-date cnn_tests (cmake --build BUILD_DIR --target cnn_tests) and the test data.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
[ -x "$python" ] || python=python3
exec "$python" "$here/mutate.py" "$@"
