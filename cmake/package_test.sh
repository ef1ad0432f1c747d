#!/usr/bin/env bash
# The package test (ctest: debian_packages): builds the four Debian packages with CPack from the build, checks
# their names, dependencies and contents, unpacks them into a throw-away root and runs the tool and the Python
# module from the unpacked files.
#   package_test.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
fail() { echo "package test: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack failed"; }
version=$(sed -n 's/^CPACK_PACKAGE_VERSION:.*=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || version=$(dpkg-deb -f "$work"/libcnn0_*.deb Version)
contents() { dpkg-deb -c "$work/$1_${version}_amd64.deb" | awk '{print $6}'; }
has() {  # has PACKAGE PATH...: each path is in the package
  local list; list=$(contents "$1") || fail "no package $1_${version}_amd64.deb"
  shift
  for p in "$@"; do grep -qx "./$p" <<<"$list" || fail "$p is not in the package"; done
}
# Debian's multiarch library folder (/usr/lib/x86_64-linux-gnu on amd64), where its linker, ld.so, CMake and
# pkg-config look: asked of dpkg, not of the build
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=usr/lib/$multiarch
has libcnn0 "$lib/libcnn.so.0" "$lib/libcnn.so.$version"
has libcnn-dev "$lib/libcnn.so" "$lib/libcnn.a" usr/include/cnn/api.h usr/include/cnn/version.h \
  "$lib/cmake/cnn/cnnConfig.cmake" "$lib/pkgconfig/cnn.pc"
has cnn usr/bin/cnn usr/share/cnn/nets/seed5.json usr/share/cnn/web/public/index.html \
  usr/share/cnn/web/node_modules/uplot/dist/uPlot.iife.min.js
has python3-cnn "$(contents python3-cnn | grep -o 'usr/lib/python3/dist-packages/cnn\.cpython-.*\.so')"
! contents libcnn0 | grep -q 'usr/include' || fail "libcnn0 holds headers"
! contents libcnn-dev | grep -q 'src/' || fail "libcnn-dev holds private sources"
dpkg-deb -f "$work/libcnn-dev_${version}_amd64.deb" Depends | grep -q "libcnn0 (= $version)" ||
  fail "libcnn-dev does not depend on libcnn0 $version"
dpkg-deb -f "$work/python3-cnn_${version}_amd64.deb" Depends | grep -q python3-numpy ||
  fail "python3-cnn does not depend on python3-numpy"

root=$work/root
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$root"; done
"$root/usr/bin/cnn" --version
"$root/usr/bin/cnn" info --net seed5 >/dev/null
PYTHONPATH=$root/usr/lib/python3/dist-packages /usr/bin/python3 -c '
import cnn, numpy as np
assert cnn.__file__.startswith("'"$root"'"), cnn.__file__
net = cnn.Network.preset("seed5")
assert net.predict(np.zeros((2, 28, 28), np.uint8)).shape == (2, 10)
print("python3-cnn", cnn.__version__, "from", cnn.__file__)'
echo "package test: ok ($work)"
