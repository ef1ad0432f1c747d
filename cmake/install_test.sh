#!/usr/bin/env bash
# The install test (ctest: install_and_use): installs the build into a temporary prefix, checks what is there (the
# shared library's SONAME, the static library, only public headers, the CMake package, the pkg-config file, the
# tool and the presets), then builds examples/ as an outside project against that prefix, once with CMake's
# find_package(cnn 0.2) and once with pkg-config, and runs the programs.
#   install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR LIBDIR (the build's CMAKE_INSTALL_LIBDIR, e.g. lib/x86_64-linux-gnu)
set -euo pipefail
build=$1 src=$2 work=$3 want_libdir=$4
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
fail() { echo "install test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
lib=$(find "$prefix" -name 'libcnn.so.*.*.*' | head -1)
[ -n "$lib" ] || fail "no versioned libcnn.so.X.Y.Z installed"
libdir=$(dirname "$lib")
[ "$libdir" = "$prefix/$want_libdir" ] || fail "$lib: expected in $prefix/$want_libdir (CMAKE_INSTALL_LIBDIR)"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libcnn.so.0 ] || fail "$lib: SONAME is '$soname', expected libcnn.so.0"
[ -L "$libdir/libcnn.so.0" ] && [ -L "$libdir/libcnn.so" ] || fail "libcnn.so.0 / libcnn.so links missing in $libdir"
[ -f "$libdir/libcnn.a" ] || fail "no static library libcnn.a in $libdir"
[ -f "$libdir/cmake/cnn/cnnConfig.cmake" ] && [ -f "$libdir/cmake/cnn/cnnConfigVersion.cmake" ] ||
  fail "no CMake package in $libdir/cmake/cnn"
[ -f "$libdir/pkgconfig/cnn.pc" ] || fail "no pkg-config file $libdir/pkgconfig/cnn.pc"
[ -x "$prefix/bin/cnn" ] || fail "no tool $prefix/bin/cnn"
for f in "$src"/nets/*.json; do
  cmp -s "$f" "$prefix/share/cnn/nets/$(basename "$f")" || fail "preset $(basename "$f") not installed"
done
"$prefix/bin/cnn" info --net seed5 >/dev/null || fail "the installed tool does not run"

# Public headers only: exactly include/cnn/ (and the generated version.h), and every one of them compiles with
# nothing but the installed include folder, so none reaches for a private header of src/.
(cd "$src/include" && find cnn -name '*.h' | sort) >"$work/headers.want"
echo cnn/version.h >>"$work/headers.want"
(cd "$prefix/include" && find . -type f | sed 's|^\./||' | sort) >"$work/headers.got"
sort -o "$work/headers.want" "$work/headers.want"
diff "$work/headers.want" "$work/headers.got" >&2 || fail "installed headers differ from include/cnn (above)"
sed 's|.*|#include <&>|' "$work/headers.got" >"$work/all_headers.cpp"
c++ -std=c++20 -fsyntax-only -I"$prefix/include" "$work/all_headers.cpp" ||
  fail "the installed headers do not compile on their own"

# An outside CMake project: find_package(cnn 0.2 REQUIRED), cnn::cnn (shared) and cnn::cnn_static.
cmake -S "$src/examples" -B "$work/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCNN_EXAMPLES_STATIC=ON >"$work/cmake.log" || { cat "$work/cmake.log" >&2; fail "configuring examples/ failed"; }
cmake --build "$work/cmake" -j 2 >"$work/build.log" || { cat "$work/build.log" >&2; fail "building examples/ failed"; }
# (ldd's output in a variable: grep -q closing the pipe early would fail the pipeline under pipefail)
loads=$(ldd "$work/cmake/fit_arrays")
grep -q "libcnn.so.0 => $libdir/libcnn.so.0 " <<<"$loads" || fail "fit_arrays does not load $libdir/libcnn.so.0"
loads=$(ldd "$work/cmake/fit_arrays_static")
! grep -q libcnn <<<"$loads" || fail "fit_arrays_static is linked with libcnn.so"
cd "$work"
./cmake/build_net
./cmake/fit_arrays bars.cnn
./cmake/fit_arrays_static bars_static.cnn
cmp bars.cnn bars_static.cnn || fail "the shared and the static library trained different models"
./cmake/predict_batch bars.cnn
./cmake/save_load bars.cnn
./cmake/export_onnx bars.cnn bars.onnx
[ -s bars.onnx ] || fail "no ONNX file"

# The installed page: the installed `cnn serve`, told nothing, serves share/cnn/web beside its bin/ (marked here so
# that the source tree's copy cannot pass for it), and uPlot as it is in web/.
web=$prefix/share/cnn/web
cmp "$web/public/index.html" "$src/web/public/index.html" || fail "share/cnn/web/public/index.html is not web/'s"
echo '<!-- the installed copy -->' >>"$web/public/index.html"
env -u CNN_WEB_DIR "$prefix/bin/cnn" serve --model bars.cnn --port 0 >serve.log 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'http://' serve.log && break; sleep 0.1; done
url=$(grep -o 'http://[^/]*/' serve.log) || { cat serve.log >&2; fail "the installed cnn serve did not start"; }
curl -sf "$url" -o index.html && cmp index.html "$web/public/index.html" ||
  fail "$url does not serve the installed share/cnn/web/public/index.html"
curl -sf "${url}vendor/uplot/uPlot.iife.min.js" -o uplot.js &&
  cmp uplot.js "$src/web/node_modules/uplot/dist/uPlot.iife.min.js" || fail "${url}vendor/uplot: not uPlot"
kill $serve

# pkg-config: the flags alone build and link a program (the run finds libcnn.so.0 by LD_LIBRARY_PATH).
export PKG_CONFIG_PATH=$libdir/pkgconfig
header_version=$(sed -n 's/.*CNN_VERSION_STRING "\(.*\)"/\1/p' "$prefix/include/cnn/version.h")
[ "$(pkg-config --modversion cnn)" = "$header_version" ] ||
  fail "pkg-config's version differs from cnn/version.h"
# shellcheck disable=SC2046
c++ -O1 -o predict_pc "$src/examples/predict_batch.cpp" $(pkg-config --cflags --libs cnn) ||
  fail "building with pkg-config's flags failed"
LD_LIBRARY_PATH=$libdir ./predict_pc bars.cnn >/dev/null || fail "the pkg-config build does not run"
echo "install test: ok ($prefix)"
